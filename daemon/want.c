/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * want.c - what the consumers of a source may want (want.h).
 */
#include "want.h"

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "cbpf_xdp.h"
#include "consumer.h"
#include "filter.h"
#include "flowtab.h"
#include "rules.h"
#include "source.h"
#include "wildcard.h"

_Static_assert(sizeof(struct flow_key) == sizeof(struct vcap_xdp_flow), "one flow key layout");
_Static_assert(sizeof(((struct wild *)0)->mask) == sizeof(((struct vcap_xdp_wild *)0)->mask),
	       "one wildcard key layout");

static bool grow(void **arr, unsigned *cap, unsigned n, size_t size)
{
	unsigned c;
	void *a;

	if (n < *cap)
		return true;
	c = *cap ? *cap * 2 : 64;
	a = realloc(*arr, c * size);
	if (!a)
		return false;
	*arr = a;
	*cap = c;
	return true;
}

static void add_wild(struct want *w, const struct wild *r)
{
	struct vcap_xdp_wild x = { .sport_lo = r->sport_lo, .sport_span = r->sport_span,
				   .dport_lo = r->dport_lo, .dport_span = r->dport_span };

	memcpy(x.mask, r->mask, sizeof(x.mask));
	memcpy(x.value, r->value, sizeof(x.value));
	for (unsigned i = 0; i < w->n_wild; i++)
		if (!memcmp(&w->wild[i], &x, sizeof(x)))
			return; /* several consumers, one rule */
	if (w->n_wild >= VCAP_XDP_WILD_MAX) {
		w->all = true; /* more than the program holds: leave nothing out */
		return;
	}
	if (!grow((void **)&w->wild, &w->cap_wild, w->n_wild, sizeof(x))) {
		w->all = true;
		return;
	}
	w->wild[w->n_wild++] = x;
}

static void add_flow(void *arg, const struct flow_key *k)
{
	struct want *w = arg;

	if (w->all)
		return;
	if (w->n_flows >= VCAP_XDP_FLOWS_MAX ||
	    !grow((void **)&w->flows, &w->cap_flows, w->n_flows, sizeof(*w->flows))) {
		w->all = true;
		return;
	}
	memcpy(&w->flows[w->n_flows++], k, sizeof(*k));
}

/* No filter leaves anything out: some consumer has none, or one XDP cannot run. */
static void filters_all(struct want *w)
{
	w->n_progs = 0;
	w->n_insns = 0;
}

/*
 * Add c's policy and filter as one program; @return false when it has
 * neither, or they cannot be chained (then nothing may be left out).
 */
static bool add_filter(struct want *w, const struct consumer *c)
{
	int n;

	if (!c->policy && !c->filter)
		return false;
	while (w->n_insns + SOURCE_KFILTER_MAX > w->cap_insns)
		if (!grow((void **)&w->insns, &w->cap_insns, w->cap_insns, sizeof(*w->insns)))
			return false;
	n = filter_chain(c->policy, c->filter, w->insns + w->n_insns, SOURCE_KFILTER_MAX);
	if (n <= 0)
		return false;
	/*
	 * The same program as another consumer's: once is enough.  The
	 * programs lie in insns one after the other, in order; their pointers
	 * are set once insns has stopped moving (want_compute()).
	 */
	for (unsigned i = 0, off = 0; i < w->n_progs; off += w->progs[i++].len)
		if (w->progs[i].len == (unsigned)n &&
		    !memcmp(w->insns + off, w->insns + w->n_insns, (size_t)n * sizeof(*w->insns)))
			return true;
	if (!grow((void **)&w->progs, &w->cap_progs, w->n_progs, sizeof(*w->progs)))
		return false;
	w->progs[w->n_progs++] = (struct cbpf_prog){ .len = (unsigned)n };
	w->n_insns += (unsigned)n;
	return true;
}

void want_compute(const struct source *s, struct want *w)
{
	bool filters = true;

	w->all = false;
	w->n_wild = 0;
	w->n_flows = 0;
	filters_all(w);
	for (unsigned i = 0; i < s->n_active && filters; i++)
		filters = add_filter(w, s->active[i]);
	if (!filters)
		filters_all(w);
	/* libpcap's struct bpf_insn and the kernel's struct sock_filter agree */
	_Static_assert(sizeof(struct bpf_insn) == 8, "a classic instruction is 8 bytes");
	for (unsigned i = 0, off = 0; i < w->n_progs; off += w->progs[i++].len)
		w->progs[i].insns = (const struct sock_filter *)(const void *)(w->insns + off);
	for (unsigned i = 0; i < s->n_active && !w->all; i++) {
		const struct consumer *c = s->active[i];
		const struct wildcard *ws;

		if (c->rules_trivial || rules_default_pass(c->rules)) {
			w->all = true;
			break;
		}
		ws = rules_wildcard(c->rules);
		for (uint32_t k = 0; k < ws->n && !w->all; k++)
			add_wild(w, &ws->rule[k]);
		rules_each_flow(c->rules, add_flow, w);
	}
}

void want_free(struct want *w)
{
	free(w->progs);
	free(w->insns);
	free(w->wild);
	free(w->flows);
	memset(w, 0, sizeof(*w));
}

void want_flow_key(const struct vcap_flow *f, struct vcap_xdp_flow *out)
{
	struct flow_key k;

	flow_key_make(&k, f->family, f->proto, f->addr_a, f->port_a, f->addr_b, f->port_b);
	memcpy(out, &k, sizeof(k));
}
