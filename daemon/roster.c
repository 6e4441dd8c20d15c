/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * roster.c - the consumers a capture thread serves, and everything they
 * filter with: attach, detach, clusters, filters, rules.
 *
 * Each public function runs on the control thread and hands its work to
 * the capture thread as a mailbox letter, so the packet path reads this
 * state without locks.  After every change the roster decides what the
 * kernel may filter for the source (recompute_kernel_filter).
 */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "filter.h"
#include "session.h"
#include "source.h"
#include "util.h"

/* Grow *arr (of *cap pointers) to hold one more.  Aborts on OOM: a few pointers. */
static void *grow(void *arr, unsigned *cap, unsigned n)
{
	unsigned c;
	void *a;

	if (n < *cap)
		return arr;
	c = *cap ? *cap * 2 : 8;
	a = realloc(arr, c * sizeof(void *));
	if (!a)
		abort();
	*cap = c;
	return a;
}

static void remove_ptr(void **arr, unsigned *n, void *p)
{
	for (unsigned i = 0; i < *n; i++) {
		if (arr[i] == p) {
			memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof(void *));
			(*n)--;
			return;
		}
	}
}

/*
 * Cluster ids are scoped by account: a tenant joining "cluster 7" joins its
 * own, never takes a share of another's, and learns nothing of it.
 */
static struct cluster *find_cluster(struct source *s, const struct account *acct, uint32_t id)
{
	for (unsigned i = 0; i < s->n_clusters; i++)
		if (s->clusters[i]->id == id && s->clusters[i]->acct == acct)
			return s->clusters[i];
	return NULL;
}

/*
 * Let the kernel drop what nobody wants: everything when no one listens;
 * the common filter when every consumer has the same one and no rules or
 * clusters need to see more.  Packets the kernel drops never reach vcapd and
 * so count as neither received nor filtered.
 */
static void recompute_kernel_filter(struct source *s)
{
	struct bpf_insn prog[SOURCE_KFILTER_MAX]; /* 32 KiB of the capture thread's stack */
	char want[sizeof(s->kernel_filter)] = "", one[sizeof(s->kernel_filter)];
	bool drop_all = s->n_active == 0;
	int n = 0;

	if (!s->ops->kernel_filter || s->kfilter_frozen)
		return;
	for (unsigned i = 0; i < s->n_active && !drop_all; i++) {
		struct consumer *c = s->active[i];

		filter_and(one, sizeof(one), c->policy_text, c->filter_text);
		if (i == 0) {
			strcpy(want, one);
		} else if (strcmp(want, one)) {
			want[0] = '\0'; /* consumers differ: the kernel passes all */
			break;
		}
	}
	if (drop_all == s->kernel_drop_all && !strcmp(want, s->kernel_filter))
		return;
	if (want[0])
		n = filter_chain(s->active[0]->policy, s->active[0]->filter, prog,
				 SOURCE_KFILTER_MAX);
	if (n < 0) {
		n = 0; /* too long for the kernel, or not chainable: vcapd filters alone */
		want[0] = '\0';
	}
	if (s->ops->kernel_filter(s, prog, (unsigned)n, drop_all) == 0) {
		strcpy(s->kernel_filter, want);
		s->kernel_drop_all = drop_all;
		pthread_mutex_lock(&s->lock);
		snprintf(s->kernel_filter_shown, sizeof(s->kernel_filter_shown), "%s", want);
		s->kernel_drop_all_shown = drop_all;
		pthread_mutex_unlock(&s->lock);
	}
}

/* Tell a backend that filters before vcapd (xdp:) what consumers want now (want.h). */
static void want_changed(struct source *s, const struct vcap_flow *flow)
{
	if (s->ops->want_changed)
		s->ops->want_changed(s, flow);
}

/* ---- attach / detach ----------------------------------------------------- */

struct attach_letter {
	struct consumer *c;
	int rc;
	char *err;
	size_t err_len;
};

/* The owner's cost bucket on s, shared by its rings there.  @return 0 or -ENOMEM. */
static int attach_bucket(struct source *s, struct consumer *c)
{
	struct cost_bucket *b = NULL;

	for (unsigned i = 0; i < s->n_buckets && !b; i++)
		if (s->buckets[i]->key == c->cost_key)
			b = s->buckets[i];
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		b->key = c->cost_key;
		b->credit = (int64_t)(c->cost_budget_ns * BATCH);
		s->buckets = grow(s->buckets, &s->cap_buckets, s->n_buckets);
		s->buckets[s->n_buckets++] = b;
	}
	b->budget_ns = c->cost_budget_ns; /* the newest ring's word: the config may change */
	b->refs++;
	c->bucket = b;
	return 0;
}

static void detach_bucket(struct source *s, struct consumer *c)
{
	struct cost_bucket *b = c->bucket;

	c->bucket = NULL;
	if (!b || --b->refs)
		return;
	remove_ptr((void **)s->buckets, &s->n_buckets, b);
	free(b);
}

static void do_attach(struct source *s, void *arg)
{
	struct attach_letter *l = arg;
	struct consumer *c = l->c;

	if (s->finished) {
		/* it ended after do_open() looked: refuse as do_open() would have */
		source_ended_why(s, l->err, l->err_len);
		l->rc = -ENODATA;
		return;
	}
	if (c->cost_budget_ns && attach_bucket(s, c)) {
		snprintf(l->err, l->err_len, "out of memory");
		l->rc = -ENOMEM;
		return;
	}
	if (c->cluster_id) {
		struct cluster *cl = find_cluster(s, c->owner->acct, c->cluster_id);

		if (cl && cl->mode != c->cluster_mode) {
			snprintf(l->err, l->err_len,
				 "cluster %u of %s balances by mode %u, not %u", cl->id, s->name,
				 cl->mode, c->cluster_mode);
			detach_bucket(s, c);
			l->rc = -EINVAL;
			return;
		}
		if (!cl) {
			cl = calloc(1, sizeof(*cl));
			if (!cl) {
				snprintf(l->err, l->err_len, "out of memory");
				detach_bucket(s, c);
				l->rc = -ENOMEM;
				return;
			}
			cl->acct = c->owner->acct;
			cl->id = c->cluster_id;
			cl->mode = c->cluster_mode;
			s->clusters = grow(s->clusters, &s->cap_clusters, s->n_clusters);
			s->clusters[s->n_clusters++] = cl;
		}
		cl->members = grow(cl->members, &cl->cap, cl->n);
		c->cluster = cl;
		c->member = (uint16_t)cl->n;
		cl->members[cl->n++] = c;
	}
	c->kernel_drops_base = atomic_load_explicit(&s->kernel_drops, memory_order_relaxed);
	s->n_want_hash += c->want_hash;
	s->n_want_meta += c->want_meta;
	s->n_with_rules += !c->rules_trivial;
	s->active = grow(s->active, &s->cap_active, s->n_active);
	s->active[s->n_active++] = c;
	recompute_kernel_filter(s);
	want_changed(s, NULL);
	l->rc = 0;
}

int roster_attach(struct consumer *c, char *err, size_t err_len)
{
	struct attach_letter l = { .c = c, .err = err, .err_len = err_len };

	mailbox_call(c->src, do_attach, &l);
	return l.rc;
}

static void do_detach(struct source *s, void *arg)
{
	struct consumer *c = arg;
	struct cluster *cl = c->cluster;

	if (cl) {
		/* the others take over its share: renumber them */
		remove_ptr((void **)cl->members, &cl->n, c);
		for (unsigned i = 0; i < cl->n; i++)
			cl->members[i]->member = (uint16_t)i;
		if (!cl->n) {
			remove_ptr((void **)s->clusters, &s->n_clusters, cl);
			free(cl->members);
			free(cl);
		}
		c->cluster = NULL;
	}
	detach_bucket(s, c);
	s->n_want_hash -= c->want_hash;
	s->n_want_meta -= c->want_meta;
	s->n_with_rules -= !c->rules_trivial;
	remove_ptr((void **)s->active, &s->n_active, c);
	recompute_kernel_filter(s);
	want_changed(s, NULL);
}

void roster_detach(struct consumer *c)
{
	mailbox_call(c->src, do_detach, c);
}

/* ---- filters -------------------------------------------------------------- */

struct refilter_letter {
	struct consumer *c;
	struct filter *f;
};

static void do_refilter(struct source *s, void *arg)
{
	struct refilter_letter *l = arg;
	struct filter *old = l->c->filter;

	l->c->filter = l->f;
	l->f = old;
	recompute_kernel_filter(s);
	want_changed(s, NULL);
}

struct filter *roster_refilter(struct consumer *c, struct filter *f)
{
	struct refilter_letter l = { .c = c, .f = f };

	mailbox_call(c->src, do_refilter, &l);
	return l.f;
}

/* ---- rules ------------------------------------------------------------------ */

enum rule_op { RULE_ADD, RULE_REMOVE, RULE_DEFAULT, RULE_HITS, FLOW_ADD, FLOW_REMOVE, FLOW_HITS };

struct rule_letter {
	enum rule_op op;
	struct consumer *c;
	const struct vcap_rule *rule;
	const struct vcap_flow *flow;
	uint32_t id;     /* RULE_REMOVE, RULE_HITS; action for RULE_DEFAULT, FLOW_ADD */
	uint32_t idle_ms;
	uint64_t out;    /* hits, applied_at */
	char *err;
	size_t err_len;
	int rc;
};

static void do_rule(struct source *s, void *arg)
{
	struct rule_letter *l = arg;
	struct consumer *c = l->c;
	struct rules *r = c->rules;
	bool was = c->rules_trivial;

	switch (l->op) {
	case RULE_ADD:
		l->rc = rules_add(r, l->rule, l->err, l->err_len);
		break;
	case RULE_REMOVE:
		l->rc = rules_remove(r, l->id);
		break;
	case RULE_DEFAULT:
		l->rc = rules_set_default(r, l->id);
		break;
	case RULE_HITS:
		l->rc = rules_hits(r, l->id, &l->out);
		break;
	case FLOW_ADD:
		l->rc = rules_flow_add(r, l->flow, l->id, l->idle_ms, mono_ns(), l->err, l->err_len);
		/* every packet offered from now on meets the rule */
		l->out = vcap_ring_writer_received(&c->w);
		break;
	case FLOW_REMOVE:
		l->rc = rules_flow_remove(r, l->flow, &l->out);
		break;
	case FLOW_HITS:
		l->rc = rules_flow_hits(r, l->flow, mono_ns(), &l->out);
		break;
	}
	roster_rules_changed(c);
	s->n_with_rules += (unsigned)was - (unsigned)c->rules_trivial;
	/* a change the early filter must know of (hit counts and listings are none) */
	if (!l->rc && l->op != RULE_HITS && l->op != FLOW_HITS)
		want_changed(s, l->op == FLOW_ADD ? l->flow : NULL);
}

void roster_rules_changed(struct consumer *c)
{
	c->rules_trivial = rules_trivial(c->rules);
	atomic_store_explicit(&c->rule_count, rules_count(c->rules), memory_order_relaxed);
	atomic_store_explicit(&c->flow_count, rules_flow_count(c->rules), memory_order_relaxed);
}

static int rule_call(struct rule_letter *l)
{
	mailbox_call(l->c->src, do_rule, l);
	return l->rc;
}

int roster_rule_add(struct consumer *c, const struct vcap_rule *r, char *err, size_t err_len)
{
	return rule_call(&(struct rule_letter){ .op = RULE_ADD, .c = c, .rule = r, .err = err,
						.err_len = err_len });
}

int roster_rule_remove(struct consumer *c, uint32_t id)
{
	return rule_call(&(struct rule_letter){ .op = RULE_REMOVE, .c = c, .id = id });
}

int roster_rule_default(struct consumer *c, uint32_t action)
{
	return rule_call(&(struct rule_letter){ .op = RULE_DEFAULT, .c = c, .id = action });
}

int roster_rule_hits(struct consumer *c, uint32_t id, uint64_t *hits)
{
	struct rule_letter l = { .op = RULE_HITS, .c = c, .id = id };
	int rc = rule_call(&l);

	*hits = l.out;
	return rc;
}

int roster_flow_add(struct consumer *c, const struct vcap_flow *f, uint32_t action,
		    uint32_t idle_ms, uint64_t *applied_at, char *err, size_t err_len)
{
	struct rule_letter l = { .op = FLOW_ADD, .c = c, .flow = f, .id = action,
				 .idle_ms = idle_ms, .err = err, .err_len = err_len };
	int rc = rule_call(&l);

	*applied_at = l.out;
	return rc;
}

int roster_flow_remove(struct consumer *c, const struct vcap_flow *f, uint64_t *hits)
{
	struct rule_letter l = { .op = FLOW_REMOVE, .c = c, .flow = f };
	int rc = rule_call(&l);

	*hits = l.out;
	return rc;
}

int roster_flow_hits(struct consumer *c, const struct vcap_flow *f, uint64_t *hits)
{
	struct rule_letter l = { .op = FLOW_HITS, .c = c, .flow = f };
	int rc = rule_call(&l);

	*hits = l.out;
	return rc;
}

/* A page of the flow table, read on the thread that changes it. */
struct flow_list_letter {
	struct consumer *c;
	uint64_t cursor, next;
	struct vcap_flow_stat *out;
	uint32_t max, n, total;
};

static void do_flow_list(struct source *s, void *arg)
{
	struct flow_list_letter *l = arg;

	(void)s;
	l->total = rules_flow_count(l->c->rules);
	l->n = rules_flow_list(l->c->rules, l->cursor, mono_ns(), l->out, l->max, &l->next);
}

uint32_t roster_flow_list(struct consumer *c, uint64_t cursor, struct vcap_flow_stat *out,
			  uint32_t max, uint64_t *next, uint32_t *total)
{
	struct flow_list_letter l = { .c = c, .cursor = cursor, .out = out, .max = max };

	mailbox_call(c->src, do_flow_list, &l);
	*next = l.next;
	*total = l.total;
	return l.n;
}
