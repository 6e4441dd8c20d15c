/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtab.h - the exact flow table: one action per conversation (both
 * directions of a 5-tuple) in an open-addressing hash table, one cache line
 * per entry, that grows and expires idle flows a little at a time so that
 * no call stalls capture (how, in flowtab.c).
 *
 * The per-packet verdict is here, inline, because rules_pass() runs it on
 * every packet of a consumer that has flows: so the split from rules.c
 * added no call.  The probe itself (flowtab_find) and the rest are in
 * flowtab.c.  A struct flowtab belongs to one capture thread; nothing here
 * locks.
 */
#ifndef VCAP_DAEMON_FLOWTAB_H
#define VCAP_DAEMON_FLOWTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "parse.h"
#include "rule_common.h"
#include "vcap.h"

#define FLOW_NS_PER_MS 1000000ull

/*
 * A flow in canonical order: endpoint (a, port_a) is the smaller of the
 * two, so both directions of a conversation make the same key.  The
 * order only has to be the same every time, not meaningful: addresses are
 * compared as native 64-bit words.
 */
struct flow_key {
	uint64_t a[2], b[2]; /* addresses, as read from network-order bytes */
	uint64_t meta;       /* port_a | port_b << 16 | family << 32 | proto << 40 */
};

/* One bucket, one cache line.  meta == 0 (family 0): empty. */
struct flow {
	struct flow_key key;
	uint64_t last_ns; /* last packet, or the add */
	uint64_t hits;
	uint32_t idle_ms; /* 0: never expires */
	uint8_t action;
	uint8_t swapped;  /* added as (b, a): how to give the flow back as it was named */
	uint8_t pad[2];
};
_Static_assert(sizeof(struct flow) == 64, "a flow bucket is one cache line");

/* Open addressing, linear probing, a power of two of buckets, at most half full. */
struct flow_buckets {
	struct flow *b;
	uint32_t mask; /* buckets - 1 */
};

/* Embedded in its owner (struct rules): init and free do not allocate it. */
struct flowtab {
	uint32_t max_flows;

	struct flow_buckets cur; /* b NULL while there are no flows */
	uint32_t n_flows;        /* in both tables */
	uint32_t n_idle;         /* flows with an idle timeout: 0 lets flowtab_expire() rest */
	uint32_t cursor;         /* flowtab_expire()'s next bucket of cur */
	uint64_t expire_ns;      /* flowtab_expire()'s previous call */

	/* growing: old's entries move into cur (migrate()) */
	struct flow_buckets old; /* b NULL when not growing */
	uint32_t mig_start;      /* the empty bucket of old where the walk began */
	uint32_t mig_pos;        /* the walk's next bucket */
	uint32_t mig_walked;     /* buckets walked */
	uint32_t mig_released;   /* of those, how many release_walked() gave back */
	size_t page;             /* bytes per page, for releasing */

	/*
	 * The latest clock any call has brought, for flowtab_remove(),
	 * which gets none: a flow already idle past its timeout is gone.
	 */
	uint64_t now_ns;
};

/* @return 0, or -EINVAL if max_flows is over 2^30 (the buckets are counted in 32 bits). */
int flowtab_init(struct flowtab *ft, uint32_t max_flows);
void flowtab_free(struct flowtab *ft);

/*
 * A protocol without ports (anything but TCP, UDP and SCTP) is named with
 * port_a = port_b = 0; its rule then judges all its packets between the two
 * addresses, fragments included.  TCP/UDP/SCTP fragments carry no ports and
 * never meet a flow rule.  A rule of the same flow that is idle past its
 * timeout at now_ns is replaced, not -EEXIST.
 * The table doubles as it fills (up to 2 * max_flows buckets of 64 bytes,
 * 128 MiB for a million flows) and moves its entries to the new one a few
 * at a time over the following adds and flowtab_expire() calls, so no call
 * rehashes it whole: on a 1M-flow fill the slowest add took 0.6 ms (the
 * old table's unmapping), the average 0.5 us.
 * @return 0, -EEXIST (the flow has a rule), -EINVAL, -ENOSPC or -ENOMEM, with
 * err.
 */
int flowtab_add(struct flowtab *ft, const struct vcap_flow *f, uint32_t action,
		uint32_t idle_timeout_ms, uint64_t now_ns, char *err, size_t err_len);
/*
 * Either direction of the flow names it.  A rule idle past its timeout by
 * the latest clock any call brought is removed too, but reported -ENOENT.
 * @return 0 or -ENOENT.
 */
int flowtab_remove(struct flowtab *ft, const struct vcap_flow *f, uint64_t *hits);

/*
 * The hits of the live rule for f (either direction names it).
 * @return 0, or -ENOENT if there is none or it is idle past its timeout at now_ns.
 */
int flowtab_hits(struct flowtab *ft, const struct vcap_flow *f, uint64_t now_ns, uint64_t *hits);

/*
 * A page of the table for a listing: up to max live rules, from cursor
 * (0: the start) on, into out: each flow as it was added, with its hits
 * and how long it has been idle at now_ns.  *next is where the next page
 * starts, 0 once the whole table was walked.
 *
 * The cursor walks home buckets in reverse-binary order (Redis's SCAN), so
 * it stays valid while the table grows, is migrated or shrinks between
 * pages: a rule present for the whole walk is listed at least once (twice
 * at most, if the table shrank), unless more rules than fit in one page
 * share a home bucket (then the page splits them, and a change between
 * pages may shift the split).  Bounded work: a call visits at most 4096
 * home buckets, so on a sparse table it may return 0 with *next not 0.
 * @return the entries filled.
 */
uint32_t flowtab_list(const struct flowtab *ft, uint64_t cursor, uint64_t now_ns,
		      struct vcap_flow_stat *out, uint32_t max, uint64_t *next);

/*
 * Remove flow rules idle past their timeout.  Does a bounded amount of work
 * per call (the capture thread calls it once per loop), so a table of a
 * million flows never stalls capture: it scans 64 to 16384 buckets, as many
 * as sweep the table once a second given the time since the previous call
 * (details in flowtab.c).  A busy thread reclaims an idle flow within about
 * a second of its timeout; one calling every 500 ms within a second for up
 * to 8k flows, 64 s for a million.  An emptied table of up to 8k flows'
 * worth (1 MiB) is freed; a larger one stays, empty, until flowtab_free():
 * freeing it would cost the capture thread ~10 ms per 128 MiB.
 */
void flowtab_expire(struct flowtab *ft, uint64_t now_ns);

/*
 * Upgrade (upgrade.c): add the rule a listing gave (st), with its hits and
 * idle time as they were.  @return as flowtab_add().
 */
int flowtab_restore(struct flowtab *ft, const struct vcap_flow_stat *st, uint64_t now_ns,
		    char *err, size_t err_len);

static inline uint32_t flowtab_count(const struct flowtab *ft)
{
	return ft->n_flows;
}

/* ---- the per-packet verdict ------------------------------------------------- */

/*
 * Canonical key of the conversation between (x, xp) and (y, yp).  Both
 * directions must land on the same key: order the endpoints.
 * @return true if (y, yp) became endpoint a.
 */
static inline bool flow_key_make(struct flow_key *k, uint8_t family, uint8_t proto,
				 const uint8_t *x, uint16_t xp, const uint8_t *y, uint16_t yp)
{
	uint64_t x0, x1, y0, y1;
	bool swap;

	memcpy(&x0, x, 8);
	memcpy(&x1, x + 8, 8);
	memcpy(&y0, y, 8);
	memcpy(&y1, y + 8, 8);
	swap = x0 != y0 ? x0 > y0 : x1 != y1 ? x1 > y1 : xp > yp;
	k->a[0] = swap ? y0 : x0;
	k->a[1] = swap ? y1 : x1;
	k->b[0] = swap ? x0 : y0;
	k->b[1] = swap ? x1 : y1;
	k->meta = (uint64_t)(swap ? yp : xp) | (uint64_t)(swap ? xp : yp) << 16 |
		  (uint64_t)family << 32 | (uint64_t)proto << 40;
	return swap;
}

/* Where a flow rule sits: which table, which bucket. */
struct flow_ref {
	struct flow_buckets *t;
	uint32_t at;
};

/*
 * The flow rule for k, and where it sits, or NULL.  Out of line, as GCC
 * left it when it was static in rules.c: the probe loop serves adds and
 * removes too, and costs more than the call.
 */
struct flow *flowtab_find(struct flowtab *ft, const struct flow_key *k, struct flow_ref *ref);

static inline bool flow_expired(const struct flow *e, uint64_t now_ns)
{
	return e->idle_ms && now_ns > e->last_ns &&
	       now_ns - e->last_ns >= e->idle_ms * FLOW_NS_PER_MS;
}

/*
 * Call fn with the key of every flow rule in ft, live or idle past its
 * timeout but not yet removed (daemon/want.c: a superset is what it needs).
 */
void flowtab_each(const struct flowtab *ft, void (*fn)(void *arg, const struct flow_key *k),
		  void *arg);

/* Remove the flow at ref; flowtab_verdict() calls it only on a flow it finds expired. */
void flowtab_delete(struct flowtab *ft, const struct flow_ref *ref);

/*
 * The flow rule's verdict on p: VCAP_PASS, VCAP_DROP, or 0 when no live
 * rule names p's conversation.  Counts a hit and refreshes the idle timer
 * of the rule that decides; removes one found idle past its timeout.
 */
static inline uint32_t flowtab_verdict(struct flowtab *ft, const struct vcap_parsed *p,
				       uint64_t now_ns)
{
	struct flow_ref ref;
	struct flow_key k;
	struct flow *e;

	if (!ft->n_flows)
		return 0;
	ft->now_ns = now_ns;
	if (!p->family || (!p->has_ports && proto_has_ports(p->proto)))
		return 0;
	flow_key_make(&k, p->family, p->proto, p->saddr, p->sport, p->daddr, p->dport);
	e = flowtab_find(ft, &k, &ref);
	if (!e)
		return 0;
	if (flow_expired(e, now_ns)) {
		flowtab_delete(ft, &ref);
		return 0;
	}
	e->hits++;
	e->last_ns = now_ns;
	return e->action;
}

#endif /* VCAP_DAEMON_FLOWTAB_H */
