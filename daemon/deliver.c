/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * deliver.c - the per-packet work of a capture thread: for one batch, parse
 * and hash each packet once (only if some consumer needs it), pick each
 * cluster's member, then for every consumer judge its packets (policy,
 * filter, rules) and copy the ones that pass into its ring.
 *
 * A packet nobody wants is never copied; a full ring costs its own
 * consumer a drop and nobody else anything.
 *
 * What each ring costs the thread every tenant shares is measured here, per
 * batch (consumer.h: filter_ns), so an operator sees who is expensive.
 */
#include "capture.h"

#include <pcap/dlt.h>

#include "flowhash.h"
#include "consumer.h"
#include "filter.h"
#include "source.h"
#include "util.h"

static const int cluster_tuple[] = {
	[VCAP_CLUSTER_5TUPLE] = VCAP_HASH_5TUPLE,
	[VCAP_CLUSTER_4TUPLE] = VCAP_HASH_4TUPLE,
	[VCAP_CLUSTER_2TUPLE] = VCAP_HASH_2TUPLE,
};

/* Which member of cl gets each packet of lane's batch. */
static void pick_members(struct cluster *cl, unsigned lane, const struct vcap_parsed *parsed,
			 bool ethernet, const struct vcap_pkt_meta *meta, unsigned n)
{
	uint16_t *pick = cl->pick[lane];

	if (cl->mode == VCAP_CLUSTER_ROUND_ROBIN || !ethernet) {
		/* without headers to hash, balance packet by packet (each lane on its own) */
		for (unsigned i = 0; i < n; i++)
			pick[i] = (uint16_t)(cl->rr[lane]++ % cl->n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t h = cl->mode == VCAP_CLUSTER_5TUPLE && meta[i].hash
				     ? meta[i].hash
				     : vcap_flow_hash_parsed(&parsed[i], cluster_tuple[cl->mode]);

		pick[i] = (uint16_t)(h % cl->n);
	}
}

/* What became of a packet for one consumer, and so which counter it goes to. */
enum verdict {
	TAKE,     /* into the ring */
	REJECT,   /* the policy or the BPF filter said no: filtered */
	SHUNT,    /* a rule (or the rules' default action) dropped it: filtered and shunted */
};

/* Does consumer c want this packet?  Policy first: rules cannot undo it. */
static enum verdict wanted(struct consumer *c, const struct vcap_pkt_meta *m, const uint8_t *data,
			   const struct vcap_parsed *p, uint64_t now)
{
	if (c->policy && !filter_match(c->policy, m, data))
		return REJECT;
	if (c->filter && !filter_match(c->filter, m, data))
		return REJECT;
	return c->rules_trivial || rules_pass(c->rules, p, now) ? TAKE : SHUNT;
}

static void deliver_one(struct consumer *c, const uint16_t *pick, const struct vcap_pkt_meta *meta,
			const uint8_t **data, const struct vcap_parsed *parsed, unsigned n,
			uint64_t now)
{
	struct vcap_ring_writer *w = &c->w;
	uint16_t me = c->member;
	unsigned offered = 0;

	if (!pick && !c->policy && !c->filter && c->rules_trivial) {
		/* the common case: everything, no questions */
		for (unsigned i = 0; i < n; i++)
			vcap_ring_writer_put(w, &meta[i], data[i]);
		vcap_ring_writer_offer(w, n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		if (pick && pick[i] != me)
			continue; /* another member's */
		offered++;
		switch (wanted(c, &meta[i], data[i], &parsed[i], now)) {
		case TAKE:
			vcap_ring_writer_put(w, &meta[i], data[i]);
			break;
		case REJECT:
			vcap_ring_writer_filtered(w, 1);
			break;
		case SHUNT:
			vcap_ring_writer_shunted(w, 1);
			break;
		}
	}
	vcap_ring_writer_offer(w, offered);
}

/* What a ring with records meta carries of a parse (vcap_ring.h). */
static void rec_meta(const struct vcap_parsed *p, struct vcap_rec_meta *rm)
{
	*rm = (struct vcap_rec_meta){
		.l3_off = p->l3_off,
		.l4_off = p->l4_off,
		.ethertype = p->ethertype,
		.vlan = p->vlan == VCAP_PARSED_NO_VLAN ? 0 : p->vlan,
		.ip_version = p->family,
		.proto = p->proto,
		.tcp_flags = p->tcp_flags,
		.flags = (uint8_t)(VCAP_RMETA_PARSED |
				   (p->vlan != VCAP_PARSED_NO_VLAN ? VCAP_RMETA_VLAN : 0) |
				   (p->fragment ? VCAP_RMETA_FRAGMENT : 0) |
				   (p->has_ports ? VCAP_RMETA_PORTS : 0)),
	};
}

/*
 * Each owner's credit grows by its budget for every packet offered, up to
 * a few batches' worth, so a ring that was idle cannot save up for a long
 * expensive burst.  Lanes share it: an add, and a clamp that may lose to
 * another lane's add by one batch, which a budget can afford.
 */
static void refill_buckets(struct source *s, unsigned n)
{
	for (unsigned i = 0; i < s->n_buckets; i++) {
		struct cost_bucket *b = s->buckets[i];
		int64_t cap = (int64_t)(b->budget_ns * BATCH * 4 * s->n_lanes);

		if (atomic_fetch_add_explicit(&b->credit, (int64_t)(b->budget_ns * n),
					      memory_order_relaxed) +
			    (int64_t)(b->budget_ns * n) >
		    cap)
			atomic_store_explicit(&b->credit, cap, memory_order_relaxed);
	}
}

/*
 * The most a ring's share of a batch can really cost: copying, every
 * instruction of its filters, every wildcard rule, generously priced (a
 * cBPF program has no loops: its length bounds what it executes).  The
 * clock also counts the time the thread was preempted in; charging no
 * more than this keeps a cheap ring from being held to a budget it cannot
 * exceed because the host was busy, while an expensive ring, whose bound
 * is far above what it costs, is charged what it costs.
 */
#define COPY_NS 250u /* a 1500-byte packet into a ring, and its record */
#define INSN_NS 4u   /* one BPF instruction, interpreted */
#define RULE_NS 5u   /* one wildcard rule */

static uint64_t charge(const struct consumer *c, uint64_t measured_ns, unsigned n)
{
	uint64_t bound = COPY_NS + (uint64_t)(filter_insns(c->policy) + filter_insns(c->filter)) *
					   INSN_NS +
			 (uint64_t)atomic_load_explicit(&c->rule_count, memory_order_relaxed) * RULE_NS;

	bound *= n;
	return measured_ns < bound ? measured_ns : bound;
}

/* The owner spent its budget: its ring's share of the batch is dropped unseen. */
static void skip_one(struct consumer *c, const uint16_t *pick, unsigned n)
{
	unsigned offered = n;

	if (pick) {
		offered = 0;
		for (unsigned i = 0; i < n; i++)
			offered += pick[i] == c->member;
	}
	vcap_ring_writer_dropped(&c->w, offered);
	vcap_ring_writer_offer(&c->w, offered);
	if (!atomic_load_explicit(&c->over_budget, memory_order_relaxed))
		vlog(LOG_NOTICE,
		     "ring %u: its account's rings cost more than its budget of %llu ns a packet "
		     "(limit tenant-cost-ns): it drops its share of batches until they cost less",
		     c->id, (unsigned long long)c->bucket->budget_ns);
	/* one writer at a time (this lane, or wlock's holder): a relaxed load and store */
	atomic_store_explicit(&c->over_budget,
			      atomic_load_explicit(&c->over_budget, memory_order_relaxed) + offered,
			      memory_order_relaxed);
}

void deliver(struct source *s, unsigned lane, struct vcap_pkt_meta *meta, const uint8_t **data,
	     unsigned n, uint64_t now)
{
	static _Thread_local struct vcap_parsed parsed[BATCH];
	static _Thread_local struct vcap_rec_meta rmeta[BATCH];
	bool ethernet = s->linktype == DLT_EN10MB;

	if (ethernet && (s->n_want_hash || s->n_with_rules || s->n_clusters || s->n_want_meta)) {
		for (unsigned i = 0; i < n; i++)
			vcap_parse(data[i], meta[i].caplen, &parsed[i]);
		if (s->n_want_hash)
			for (unsigned i = 0; i < n; i++)
				meta[i].hash = vcap_flow_hash_parsed(&parsed[i], VCAP_HASH_5TUPLE);
		if (s->n_want_meta)
			for (unsigned i = 0; i < n; i++) {
				rec_meta(&parsed[i], &rmeta[i]);
				meta[i].parsed = &rmeta[i];
			}
	} else if (s->n_want_meta) {
		/* not Ethernet: the records carry their numbers, no parse */
		for (unsigned i = 0; i < n; i++)
			meta[i].parsed = NULL;
	}
	if (!ethernet && s->n_with_rules) {
		/* rules on a non-Ethernet link see no header fields: not IP, no VLAN */
		for (unsigned i = 0; i < n; i++)
			vcap_parse(NULL, 0, &parsed[i]);
	}
	for (unsigned k = 0; k < s->n_clusters; k++)
		pick_members(s->clusters[k], lane, parsed, ethernet, meta, n);
	/*
	 * Time each consumer's share of the batch: its judging (policy, filter,
	 * rules) and its copies.  The clock reads are chained, one per consumer
	 * plus one per batch (~20 ns each through the vDSO, over up to BATCH
	 * packets), not one pair per packet.  One thread at a time writes
	 * filter_ns (this one, or wlock's holder), so a relaxed load and store
	 * is enough for the control thread to read a whole value (no locked
	 * add on the packet path).  With lanes, the time waiting for wlock is
	 * the ring's too: another lane was busy with it.
	 */
	const bool shared = s->n_lanes > 1;
	uint64_t t0 = mono_ns();

	refill_buckets(s, n);
	for (unsigned k = 0; k < s->n_active; k++) {
		struct consumer *c = s->active[k];
		const uint16_t *pick = c->cluster ? c->cluster->pick[lane] : NULL;
		uint64_t t1;

		if (shared)
			pthread_mutex_lock(&c->wlock);
		if (c->bucket &&
		    atomic_load_explicit(&c->bucket->credit, memory_order_relaxed) < 0) {
			skip_one(c, pick, n);
			if (shared)
				pthread_mutex_unlock(&c->wlock);
			t0 = mono_ns(); /* rare: the next ring's time starts here */
			continue;
		}
		deliver_one(c, pick, meta, data, parsed, n, now);
		t1 = mono_ns();
		if (c->bucket)
			atomic_fetch_sub_explicit(&c->bucket->credit, (int64_t)charge(c, t1 - t0, n),
						  memory_order_relaxed);
		atomic_store_explicit(&c->filter_ns,
				      atomic_load_explicit(&c->filter_ns, memory_order_relaxed) +
					      (t1 - t0),
				      memory_order_relaxed);
		if (shared)
			pthread_mutex_unlock(&c->wlock);
		t0 = t1;
	}
}

void expire_rules(struct source *s, uint64_t now)
{
	const bool shared = s->n_lanes > 1;

	for (unsigned k = 0; k < s->n_active; k++) {
		struct consumer *c = s->active[k];

		if (!atomic_load_explicit(&c->flow_count, memory_order_relaxed))
			continue;
		if (shared)
			pthread_mutex_lock(&c->wlock);
		if (!c->rules_trivial) {
			rules_expire(c->rules, now);
			if (rules_flow_count(c->rules) != atomic_load(&c->flow_count)) {
				bool was = c->rules_trivial;

				roster_rules_changed(c);
				s->n_with_rules += (unsigned)was - (unsigned)c->rules_trivial;
			}
		}
		if (shared)
			pthread_mutex_unlock(&c->wlock);
	}
}

void deliver_unwanted(struct source *s, uint64_t n)
{
	const bool shared = s->n_lanes > 1;

	for (unsigned k = 0; k < s->n_active; k++) {
		struct consumer *c = s->active[k];
		uint64_t share = n;

		if (c->cluster) {
			/* n / members each, and the rest one each from unwanted_next on */
			uint32_t m = c->cluster->n, rest = (uint32_t)(n % m);
			uint32_t pos = (c->member + m - c->cluster->unwanted_next % m) % m;

			share = n / m + (pos < rest);
		}
		if (!share)
			continue;
		if (shared)
			pthread_mutex_lock(&c->wlock);
		vcap_ring_writer_offer(&c->w, (uint32_t)share);
		/*
		 * The rules' default dropped it, as vcapd would have: a shunt.
		 * With a filter or a policy it might have been theirs to
		 * reject first, which nobody can tell now: filtered only.
		 */
		if (!c->policy && !c->filter)
			vcap_ring_writer_shunted(&c->w, (uint32_t)share);
		else
			vcap_ring_writer_filtered(&c->w, (uint32_t)share);
		if (shared)
			pthread_mutex_unlock(&c->wlock);
	}
	for (unsigned i = 0; i < s->n_clusters; i++)
		s->clusters[i]->unwanted_next =
			(uint32_t)((s->clusters[i]->unwanted_next + n) % s->clusters[i]->n);
}
