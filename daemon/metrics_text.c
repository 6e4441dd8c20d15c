/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics_text.c - vcapd's state in Prometheus's text exposition format
 * 0.0.4 (metrics.h; docs/metrics.md lists each metric).
 *
 * Every ring's counters are read once, under their seqlock, into a
 * snapshot before anything is written: each family is printed over all
 * rings in turn, and reading the live mirrors per family would let
 * received = delivered + dropped + filtered fail between two families of
 * one scrape.  Label values come partly from clients (a program's name),
 * so they are escaped and forced into valid UTF-8: one bad byte would
 * make Prometheus reject the whole scrape, every tenant's metrics with it.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "consumer.h"
#include "policy.h"
#include "session.h"
#include "source.h"
#include "util.h"
#include "vcapd.h"

#ifndef VCAPD_VERSION
#define VCAPD_VERSION "unknown"
#endif

const unsigned metrics_codes[6] = { 200, 400, 404, 405, 431, 503 };

/* When vcapd started (wall clock, ns): taken as the program loads. */
static uint64_t start_wall_ns;

__attribute__((constructor)) static void note_start(void)
{
	start_wall_ns = wall_ns();
}

/* ---- the buffer ------------------------------------------------------------- */

static bool mbuf_room(struct mbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 16384;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!mbuf_room(b, 256))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (!mbuf_room(b, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void mbuf_append(struct mbuf *b, const void *p, size_t n)
{
	if (n && mbuf_room(b, n)) {
		memcpy(b->p + b->len, p, n);
		b->len += n;
	}
}

static void mbuf_putc(struct mbuf *b, char c)
{
	if (mbuf_room(b, 1))
		b->p[b->len++] = c;
}

void mbuf_free(struct mbuf *b)
{
	free(b->p);
	*b = (struct mbuf){ 0 };
}

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0:
 * no overlong forms, surrogates or code points past U+10FFFF.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0], need, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, cp = c & 0x07;
	else
		return 0;
	if (n < need + 1)
		return 0;
	for (unsigned i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need + 1;
}

void mbuf_label_value(struct mbuf *b, const char *v, size_t max)
{
	const unsigned char *s = (const unsigned char *)v;
	size_t n = strnlen(v, max);

	for (size_t i = 0; i < n;) {
		size_t k = utf8_len(s + i, n - i);

		if (!k) { /* not UTF-8: U+FFFD, as a decoder would show it */
			mbuf_printf(b, "\xef\xbf\xbd");
			i++;
		} else if (s[i] == '\\' || s[i] == '"') {
			mbuf_putc(b, '\\');
			mbuf_putc(b, (char)s[i++]);
		} else if (s[i] == '\n') {
			mbuf_printf(b, "\\n");
			i++;
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			mbuf_putc(b, '?'); /* other control characters: legal, but unreadable */
			i++;
		} else {
			for (size_t j = 0; j < k; j++)
				mbuf_putc(b, (char)s[i++]);
		}
	}
}

/* "# HELP" and "# TYPE" of a family (help: plain text, no \ or newline). */
static void family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* `name{key="value"} ` up to the value; value "" omits the label set. */
static void sample1(struct mbuf *b, const char *name, const char *key, const char *value)
{
	if (!key) {
		mbuf_printf(b, "%s ", name);
		return;
	}
	mbuf_printf(b, "%s{%s=\"", name, key);
	mbuf_label_value(b, value, 4096);
	mbuf_printf(b, "\"} ");
}

/* ---- snapshots --------------------------------------------------------------- */

struct ring_snap {
	uint32_t id, pid, size, used, rules, flows;
	const char *source, *client, *tenant;
	const struct account *acct;
	struct vcap_ring_counters cnt;
	uint64_t cost_ns, over_budget;
};

static void snap_ring(struct ring_snap *r, const struct consumer *c)
{
	memset(r, 0, sizeof(*r));
	r->id = c->id;
	r->source = c->src->name;
	r->client = c->owner ? c->owner->client : "";
	r->pid = c->owner ? (uint32_t)c->owner->cred.pid : 0;
	r->tenant = c->owner && c->owner->tenant ? c->owner->tenant->name : "";
	r->acct = c->owner ? c->owner->acct : NULL;
	r->size = vcap_ring_writer_size(&c->w);
	r->used = vcap_ring_writer_used(&c->w);
	/* false only if the capture thread died mid-update: the counters are then as read */
	(void)vcap_ring_stats_read(&c->mirror, &r->cnt);
	r->cost_ns = atomic_load_explicit(&c->filter_ns, memory_order_relaxed);
	r->over_budget = atomic_load_explicit(&c->over_budget, memory_order_relaxed);
	r->rules = atomic_load_explicit(&c->rule_count, memory_order_relaxed);
	r->flows = atomic_load_explicit(&c->flow_count, memory_order_relaxed);
}

static void ring_labels(struct mbuf *b, const char *name, const struct ring_snap *r)
{
	mbuf_printf(b, "%s{ring=\"%u\",source=\"", name, r->id);
	mbuf_label_value(b, r->source, VCAP_NAME_MAX + 1);
	mbuf_printf(b, "\",account=\"");
	mbuf_label_value(b, r->acct ? r->acct->name : "", sizeof(r->acct->name));
	if (r->tenant[0]) {
		mbuf_printf(b, "\",tenant=\"");
		mbuf_label_value(b, r->tenant, VCAP_NAME_MAX + 1);
	}
	mbuf_printf(b, "\",client=\"");
	mbuf_label_value(b, r->client, VCAP_NAME_MAX + 1);
	mbuf_printf(b, "\",pid=\"%u\"} ", r->pid);
}

/* A counter or gauge of every ring: its value is read from the snapshot by field. */
enum ring_field {
	RF_RECEIVED, RF_DELIVERED, RF_DROPPED, RF_FILTERED, RF_SHUNTED, RF_OVER_BUDGET,
	RF_SIZE, RF_USED, RF_RULES, RF_FLOWS
};

static const struct {
	const char *name, *type, *help;
	enum ring_field f;
} ring_families[] = {
	{ "vcap_ring_received_packets_total", "counter",
	  "Packets the source offered to the ring (= delivered + dropped + filtered).",
	  RF_RECEIVED },
	{ "vcap_ring_delivered_packets_total", "counter", "Packets written into the ring.",
	  RF_DELIVERED },
	{ "vcap_ring_dropped_packets_total", "counter",
	  "Packets lost for this ring: no room in it, or its account's cost budget was spent.",
	  RF_DROPPED },
	{ "vcap_ring_filtered_packets_total", "counter",
	  "Packets the ring's policy, BPF filter or rules rejected.", RF_FILTERED },
	{ "vcap_ring_shunted_packets_total", "counter",
	  "Of the filtered packets, those the ring's rules (or their default action) dropped.",
	  RF_SHUNTED },
	{ "vcap_ring_over_budget_packets_total", "counter",
	  "Of the dropped packets, those skipped while the account's cost budget was spent.",
	  RF_OVER_BUDGET },
	{ "vcap_ring_size_bytes", "gauge", "Bytes of packet data the ring holds.", RF_SIZE },
	{ "vcap_ring_used_bytes", "gauge", "Bytes of the ring waiting for its consumer.",
	  RF_USED },
	{ "vcap_ring_wildcard_rules", "gauge", "Wildcard rules the ring holds.", RF_RULES },
	{ "vcap_ring_flow_rules", "gauge", "Flow rules the ring holds.", RF_FLOWS },
};

static uint64_t ring_value(const struct ring_snap *r, enum ring_field f)
{
	switch (f) {
	case RF_RECEIVED: return r->cnt.received;
	case RF_DELIVERED: return r->cnt.delivered;
	case RF_DROPPED: return r->cnt.dropped;
	case RF_FILTERED: return r->cnt.filtered;
	case RF_SHUNTED: return r->cnt.shunted;
	case RF_OVER_BUDGET: return r->over_budget;
	case RF_SIZE: return r->size;
	case RF_USED: return r->used;
	case RF_RULES: return r->rules;
	case RF_FLOWS: return r->flows;
	}
	return 0;
}

static void render_rings(struct mbuf *b, const struct ring_snap *rs, size_t n)
{
	for (size_t k = 0; k < sizeof(ring_families) / sizeof(ring_families[0]); k++) {
		family(b, ring_families[k].name, ring_families[k].type, ring_families[k].help);
		for (size_t i = 0; i < n; i++) {
			ring_labels(b, ring_families[k].name, &rs[i]);
			mbuf_printf(b, "%llu\n",
				    (unsigned long long)ring_value(&rs[i], ring_families[k].f));
		}
	}
	/* seconds, Prometheus's unit: rate(cost) / rate(received) is the cost per packet */
	family(b, "vcap_ring_cost_seconds_total", "counter",
	       "Capture-thread time spent judging and copying the ring's packets (STATUS "
	       "filter_ns).");
	for (size_t i = 0; i < n; i++) {
		ring_labels(b, "vcap_ring_cost_seconds_total", &rs[i]);
		mbuf_printf(b, "%llu.%09llu\n", (unsigned long long)(rs[i].cost_ns / 1000000000u),
			    (unsigned long long)(rs[i].cost_ns % 1000000000u));
	}
	family(b, "vcap_ring_packet_cost_seconds", "gauge",
	       "Average capture-thread cost of one packet offered to the ring since it opened, "
	       "whole ns as vcapctl status shows it (no sample before its first packet).");
	for (size_t i = 0; i < n; i++) {
		uint64_t per;

		if (!rs[i].cnt.received)
			continue;
		per = rs[i].cost_ns / rs[i].cnt.received;
		ring_labels(b, "vcap_ring_packet_cost_seconds", &rs[i]);
		mbuf_printf(b, "%llu.%09llu\n", (unsigned long long)(per / 1000000000u),
			    (unsigned long long)(per % 1000000000u));
	}
}

/* ---- sources ------------------------------------------------------------------ */

static const char *const state_names[] = {
	[VCAP_SOURCE_IDLE] = "idle",
	[VCAP_SOURCE_RUNNING] = "running",
	[VCAP_SOURCE_DONE] = "done",
	[VCAP_SOURCE_FAILED] = "failed",
};
#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))

static void render_sources(struct mbuf *b, struct vcapd *d)
{
	family(b, "vcap_source_info", "gauge", "A source vcapd serves: its kind and spec.");
	for (struct source *s = d->sources; s; s = s->next) {
		mbuf_printf(b, "vcap_source_info{source=\"");
		mbuf_label_value(b, s->name, sizeof(s->name));
		mbuf_printf(b, "\",kind=\"%s\",spec=\"", s->ops->kind);
		mbuf_label_value(b, s->spec, sizeof(s->spec));
		mbuf_printf(b, "\"} 1\n");
	}
	family(b, "vcap_source_up", "gauge",
	       "1 unless the source failed (an interface down or gone, retried every second).");
	for (struct source *s = d->sources; s; s = s->next) {
		sample1(b, "vcap_source_up", "source", s->name);
		mbuf_printf(b, "%d\n", atomic_load(&s->state) != VCAP_SOURCE_FAILED);
	}
	family(b, "vcap_source_state", "gauge",
	       "1 for the state the source is in: idle (no consumer), running, done (a finite "
	       "source ended), failed.");
	for (struct source *s = d->sources; s; s = s->next) {
		uint32_t st = atomic_load(&s->state);

		for (uint32_t k = 0; k < N_STATES; k++) {
			mbuf_printf(b, "vcap_source_state{source=\"");
			mbuf_label_value(b, s->name, sizeof(s->name));
			mbuf_printf(b, "\",state=\"%s\"} %d\n", state_names[k], st == k);
		}
	}
	family(b, "vcap_source_received_packets_total", "counter",
	       "Packets the source's capture thread took from its backend.");
	for (struct source *s = d->sources; s; s = s->next) {
		sample1(b, "vcap_source_received_packets_total", "source", s->name);
		mbuf_printf(b, "%llu\n", (unsigned long long)atomic_load(&s->received));
	}
	family(b, "vcap_source_lane_received_packets_total", "counter",
	       "Packets one lane's capture thread took (sources with more than one lane: "
	       "if:IFACE,fanout=N, xdp:); the lanes of a source and what it left out add up "
	       "to its received.");
	for (struct source *s = d->sources; s; s = s->next)
		for (unsigned k = 0; s->n_lanes > 1 && k < s->n_lanes; k++) {
			mbuf_printf(b, "vcap_source_lane_received_packets_total{source=\"");
			mbuf_label_value(b, s->name, sizeof(s->name));
			mbuf_printf(b, "\",lane=\"%u\"} %llu\n", k,
				    (unsigned long long)atomic_load(&s->lanes[k].received));
		}
	family(b, "vcap_source_left_out_packets_total", "counter",
	       "Packets an xdp: source's XDP program left out because no consumer's rules "
	       "name them; counted as received and filtered for every consumer.");
	for (struct source *s = d->sources; s; s = s->next) {
		if (!s->ops->unwanted)
			continue;
		sample1(b, "vcap_source_left_out_packets_total", "source", s->name);
		mbuf_printf(b, "%llu\n", (unsigned long long)atomic_load(&s->left_out));
	}
	family(b, "vcap_source_kernel_drops_total", "counter",
	       "Packets the kernel dropped before vcapd saw them (if: sources).");
	for (struct source *s = d->sources; s; s = s->next) {
		sample1(b, "vcap_source_kernel_drops_total", "source", s->name);
		mbuf_printf(b, "%llu\n", (unsigned long long)atomic_load(&s->kernel_drops));
	}
	family(b, "vcap_source_rings", "gauge", "Rings open on the source.");
	for (struct source *s = d->sources; s; s = s->next) {
		sample1(b, "vcap_source_rings", "source", s->name);
		mbuf_printf(b, "%u\n", s->n_consumers);
	}
}

/* ---- accounts ----------------------------------------------------------------- */

/*
 * Every account there is: the admin's, each tenant's, each uid's, and any
 * other one holding a ring (a VM's own, for a VM without a tenant line:
 * this file may not know carriers, docs/architecture.md).  @return how
 * many, or 0 when out of memory.
 */
static size_t list_accounts(struct vcapd *d, const struct ring_snap *rs, size_t n_rings,
			    const struct account ***out)
{
	size_t n = 0, max = 1 + n_rings;
	const struct account **as;

	for (struct tenant *t = d->tenants; t; t = t->next)
		max++;
	for (struct account *a = d->uid_accounts; a; a = a->next)
		max++;
	as = calloc(max, sizeof(*as));
	if (!as)
		return 0;
	as[n++] = &d->admin;
	for (struct tenant *t = d->tenants; t; t = t->next)
		as[n++] = &t->acct;
	for (struct account *a = d->uid_accounts; a; a = a->next)
		as[n++] = a;
	for (size_t k = 0; k < n_rings; k++) {
		size_t i = 0;

		while (i < n && as[i] != rs[k].acct)
			i++;
		if (i == n && rs[k].acct)
			as[n++] = rs[k].acct;
	}
	*out = as;
	return n;
}

static void acct_sample(struct mbuf *b, const char *name, const struct account *a,
			unsigned long long v)
{
	sample1(b, name, "account", a->name);
	mbuf_printf(b, "%llu\n", v);
}

static void render_accounts(struct mbuf *b, struct vcapd *d, const struct ring_snap *rs,
			    size_t n_rings)
{
	const struct account **as = NULL;
	size_t n = list_accounts(d, rs, n_rings, &as);
	struct vcap_ring_counters *sum = calloc(n ? n : 1, sizeof(*sum));

	if (!as || !sum) {
		b->failed = true;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		sum[i].received = as[i]->closed_received;
		sum[i].delivered = as[i]->closed_delivered;
		sum[i].dropped = as[i]->closed_dropped;
		sum[i].filtered = as[i]->closed_filtered;
		for (size_t k = 0; k < n_rings; k++) {
			if (rs[k].acct != as[i])
				continue;
			sum[i].received += rs[k].cnt.received;
			sum[i].delivered += rs[k].cnt.delivered;
			sum[i].dropped += rs[k].cnt.dropped;
			sum[i].filtered += rs[k].cnt.filtered;
		}
	}
	family(b, "vcap_account_sessions", "gauge", "Sessions charged to the account.");
	for (size_t i = 0; i < n; i++)
		acct_sample(b, "vcap_account_sessions", as[i], as[i]->sessions);
	family(b, "vcap_account_rings", "gauge", "Rings the account holds.");
	for (size_t i = 0; i < n; i++)
		acct_sample(b, "vcap_account_rings", as[i], as[i]->rings);
	family(b, "vcap_account_ring_memory_bytes", "gauge",
	       "Bytes of host memory the account's rings take (a VM's rings live in its region).");
	for (size_t i = 0; i < n; i++)
		acct_sample(b, "vcap_account_ring_memory_bytes", as[i], as[i]->ring_bytes);
	family(b, "vcap_account_received_packets_total", "counter",
	       "Packets offered to the account's rings, closed ones included.");
	for (size_t i = 0; i < n; i++)
		acct_sample(b, "vcap_account_received_packets_total", as[i], sum[i].received);
	family(b, "vcap_account_delivered_packets_total", "counter",
	       "Packets written into the account's rings, closed ones included.");
	for (size_t i = 0; i < n; i++)
		acct_sample(b, "vcap_account_delivered_packets_total", as[i], sum[i].delivered);
	family(b, "vcap_account_dropped_packets_total", "counter",
	       "Packets the account's rings lost, closed ones included.");
	for (size_t i = 0; i < n; i++)
		acct_sample(b, "vcap_account_dropped_packets_total", as[i], sum[i].dropped);
	family(b, "vcap_account_filtered_packets_total", "counter",
	       "Packets the account's rings' policy, filters or rules rejected, closed ones "
	       "included.");
	for (size_t i = 0; i < n; i++)
		acct_sample(b, "vcap_account_filtered_packets_total", as[i], sum[i].filtered);
	family(b, "vcap_account_limit", "gauge",
	       "What the account may hold, by resource (its configuration key); none for the "
	       "admin, who has only vcapd's limits.");
	for (size_t i = 0; i < n; i++) {
		if (as[i]->unlimited)
			continue;
		for (int r = 0; r < ACCT_N; r++) {
			mbuf_printf(b, "vcap_account_limit{account=\"");
			mbuf_label_value(b, as[i]->name, sizeof(as[i]->name));
			/* resource: the limit's key, as in `tenant NAME KEY VALUE` */
			mbuf_printf(b, "\",resource=\"%s\"} %llu\n", account_keys[r],
				    (unsigned long long)as[i]->limit[r]);
		}
	}
out:
	free(as);
	free(sum);
}

/* ---- vcapd itself ------------------------------------------------------------- */

static void gauge(struct mbuf *b, const char *name, const char *help, unsigned long long v)
{
	family(b, name, "gauge", help);
	mbuf_printf(b, "%s %llu\n", name, v);
}

static void render_daemon(struct mbuf *b, struct vcapd *d, size_t n_rings,
			  const struct metrics_self *self)
{
	family(b, "vcapd_build_info", "gauge", "vcapd's version.");
	mbuf_printf(b, "vcapd_build_info{version=\"%s\",protocol=\"%u\"} 1\n", VCAPD_VERSION,
		    (unsigned)VCAP_PROTO_VERSION);
	family(b, "vcapd_start_time_seconds", "gauge", "When vcapd started, in Unix time.");
	mbuf_printf(b, "vcapd_start_time_seconds %llu.%03llu\n",
		    (unsigned long long)(start_wall_ns / 1000000000u),
		    (unsigned long long)(start_wall_ns % 1000000000u / 1000000u));
	gauge(b, "vcapd_sessions", "Client sessions (unix connections and VM guests).",
	      d->n_sessions);
	gauge(b, "vcapd_sessions_limit", "Most sessions vcapd serves at once (limit sessions).",
	      d->limits.max_sessions);
	gauge(b, "vcapd_rings", "Rings open.", n_rings);
	gauge(b, "vcapd_ring_memory_bytes",
	      "Bytes of host memory in rings (VM rings live in their regions).", d->ring_memory);
	gauge(b, "vcapd_ring_memory_limit_bytes", "Most bytes all rings may take (limit ring-memory).",
	      d->limits.ring_memory_max);
	family(b, "vcapd_metrics_responses_total", "counter",
	       "Responses of this endpoint, by HTTP status (503: over the connection cap).");
	for (int k = 0; k < 6; k++)
		mbuf_printf(b, "vcapd_metrics_responses_total{code=\"%u\"} %llu\n", metrics_codes[k],
			    (unsigned long long)self->responses[k]);
	family(b, "vcapd_metrics_timeouts_total", "counter",
	       "Connections to this endpoint closed at their deadline (slow or idle clients).");
	mbuf_printf(b, "vcapd_metrics_timeouts_total %llu\n", (unsigned long long)self->timeouts);
	gauge(b, "vcapd_metrics_connections", "Connections to this endpoint open now.",
	      self->connections);
}

void metrics_render(struct vcapd *d, const struct metrics_self *self, struct mbuf *b)
{
	size_t n = 0, i = 0;
	struct ring_snap *rs;

	for (struct consumer *c = d->consumers; c; c = c->next_global)
		n++;
	rs = calloc(n ? n : 1, sizeof(*rs));
	if (!rs) {
		b->failed = true;
		return;
	}
	for (struct consumer *c = d->consumers; c; c = c->next_global)
		snap_ring(&rs[i++], c);
	render_daemon(b, d, n, self);
	render_sources(b, d);
	render_rings(b, rs, n);
	render_accounts(b, d, rs, n);
	free(rs);
}
