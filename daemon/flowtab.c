/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowtab.c - the exact flow table: adding, removing, growing and expiring
 * flow rules; the per-packet lookup is inline in flowtab.h.
 *
 * Flow rules live in an open-addressing table with linear probing, at most
 * half full, with backward-shift deletion: no tombstones, so a table that
 * has seen millions of adds and removes probes as if freshly built.  It
 * grows by doubling from FLOW_CAP_MIN buckets up to what max_flows needs,
 * moving the old table's entries over a little at a time (a rehash of a
 * million flows at once would stall capture for ~100 ms), and is freed when
 * it empties: consumers that never add a flow (nearly all) pay nothing for
 * max_flows.
 *
 * Port-less protocols (ICMP, GRE, ESP...): a flow rule with proto P and both
 * ports 0 names all of P's packets between the two addresses, fragments
 * included.  Rules for TCP, UDP and SCTP need the ports, so their
 * fragments, which have none, never meet a flow rule: they go on to the
 * wildcard rules and the default action.
 */
#include "flowtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Table sizes stay powers of two so a bucket index is a mask away. */
#define FLOW_CAP_MIN 16u
#define FLOWS_MAX (1u << 30) /* keeps 2 * max_flows rounded up within 32 bits */

/*
 * flowtab_expire() scans buckets from a cursor.  It aims to cover the whole
 * table once per EXPIRE_SWEEP_NS: a call scans C * e / EXPIRE_SWEEP_NS
 * buckets (C: buckets, at most 2 * max_flows rounded up to a power of two;
 * e: time since its previous call), but never fewer than EXPIRE_MIN nor
 * more than EXPIRE_MAX; a bucket it empties counts too.  A sweep thus takes
 *   - min(1 s, C / EXPIRE_MIN calls) on a busy capture thread: calls every
 *     25 us (40,000 loops/s) sweep C = 2M (max_flows = 1M) in 0.8 s, at
 *     ~0.1 us per call (~1 us while it removes flows);
 *   - C / EXPIRE_MAX calls when the calls are rarer than EXPIRE_MAX / C
 *     seconds: an idle thread calling every 500 ms sweeps C = 2M in 64 s,
 *     at ~0.1 ms (1 MiB of buckets) per call, and any C up to 16k (8k
 *     flows) in 1 s.
 * An idle flow is reclaimed at most one sweep after its timeout.  Until
 * then it costs nothing but its bucket: flowtab_verdict() does not apply
 * it and flowtab_add() replaces it.
 */
#define EXPIRE_SWEEP_NS 1000000000ull
#define EXPIRE_MIN 64u
#define EXPIRE_MAX 16384u

/*
 * Buckets of the old table each flowtab_add() moves while the table
 * grows.  The new table has twice the buckets and holds the old one's
 * entries plus the adds since, so it needs growing again only after
 * (buckets of the old) / 2 adds: moving more than 2 per add ends every
 * migration in time.  flowtab_expire() helps with its own budget.
 */
#define MIGRATE_PER_ADD 16u

/*
 * Buckets of the old table whose pages migrate() gives back to the kernel
 * at once (256 KiB), as it empties them: freeing a 64 MiB table in one go
 * costs ~4 ms of page freeing, a stall of its own.
 */
#define RELEASE_CHUNK 4096u

/* Largest table (buckets, 1 MiB) given back as soon as it is empty. */
#define FREE_EMPTY_MAX 16384u

/*
 * Home buckets one flowtab_list() call visits at most: it runs on the
 * capture thread, and a large table emptied down to a few flows would
 * otherwise be walked whole (2M buckets, ~0.2 s) for one page.  4096
 * visits cost well under a millisecond.
 */
#define LIST_STEPS 4096u

int flowtab_init(struct flowtab *ft, uint32_t max_flows)
{
	if (max_flows > FLOWS_MAX)
		return -EINVAL;
	memset(ft, 0, sizeof(*ft));
	ft->max_flows = max_flows;
	ft->page = (size_t)sysconf(_SC_PAGESIZE);
	return 0;
}

void flowtab_free(struct flowtab *ft)
{
	free(ft->cur.b);
	free(ft->old.b);
}

static bool key_eq(const struct flow_key *x, const struct flow_key *y)
{
	return !((x->a[0] ^ y->a[0]) | (x->a[1] ^ y->a[1]) | (x->b[0] ^ y->b[0]) |
		 (x->b[1] ^ y->b[1]) | (x->meta ^ y->meta));
}

/*
 * Five independent multiplies (they overlap in the pipeline), then a
 * murmur-style finisher so the low bits used as the index depend on every
 * input bit.  Packets cannot add flows, so the table needs no secret seed
 * against collision attacks: a lookup only ever probes what the consumer put
 * there, at most half full.
 */
static inline uint32_t key_hash(const struct flow_key *k)
{
	uint64_t h = k->a[0] * 0x9e3779b97f4a7c15ull + k->a[1] * 0xc2b2ae3d27d4eb4full +
		     k->b[0] * 0x165667b19e3779f9ull + k->b[1] * 0xd6e8feb86659fd93ull +
		     k->meta * 0xff51afd7ed558ccdull;

	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	return (uint32_t)h;
}

/* The bucket of t holding k, or -1. */
static int64_t buckets_find(const struct flow_buckets *t, const struct flow_key *k)
{
	uint32_t i = key_hash(k) & t->mask;

	/* ends: a table is at most half full */
	for (;; i = (i + 1) & t->mask) {
		const struct flow *e = &t->b[i];

		if (!e->key.meta)
			return -1;
		if (key_eq(&e->key, k))
			return i;
	}
}

/* Find k in the table, then in the one being migrated. */
struct flow *flowtab_find(struct flowtab *ft, const struct flow_key *k, struct flow_ref *ref)
{
	int64_t at;

	if (!ft->cur.b)
		return NULL;
	at = buckets_find(&ft->cur, k);
	ref->t = &ft->cur;
	if (at < 0 && ft->old.b) {
		at = buckets_find(&ft->old, k);
		ref->t = &ft->old;
	}
	if (at < 0)
		return NULL;
	ref->at = (uint32_t)at;
	return &ref->t->b[at];
}

/* Put e into the first free bucket of its probe sequence (it is not in t). */
static void buckets_place(struct flow_buckets *t, const struct flow *e)
{
	uint32_t i = key_hash(&e->key) & t->mask;

	while (t->b[i].key.meta)
		i = (i + 1) & t->mask;
	t->b[i] = *e;
}

/*
 * Backward-shift deletion: walk the cluster after the hole and move back
 * each entry the hole lies on the probe path of (between its home bucket
 * and where it sits), so every remaining entry stays reachable from its
 * home without a tombstone.  Entries only move within their cluster.
 */
static void buckets_delete(struct flow_buckets *t, uint32_t hole)
{
	struct flow *b = t->b;
	uint32_t mask = t->mask;

	for (uint32_t j = (hole + 1) & mask; b[j].key.meta; j = (j + 1) & mask) {
		uint32_t home = key_hash(&b[j].key) & mask;

		if (((j - home) & mask) >= ((j - hole) & mask)) {
			b[hole] = b[j];
			hole = j;
		}
	}
	memset(&b[hole], 0, sizeof(b[hole]));
}

void flowtab_delete(struct flowtab *ft, const struct flow_ref *ref)
{
	if (ref->t->b[ref->at].idle_ms)
		ft->n_idle--;
	buckets_delete(ref->t, ref->at);
	ft->n_flows--;
}

/* Give back the whole pages within buckets [from, from + n) of b. */
static void release_buckets(const struct flowtab *ft, struct flow *b, uint32_t from, uint32_t n)
{
	uintptr_t lo = (uintptr_t)&b[from], hi = (uintptr_t)&b[from + n];

	lo = (lo + ft->page - 1) & ~(uintptr_t)(ft->page - 1);
	hi &= ~(uintptr_t)(ft->page - 1);
	/* they read back as zeroes, which is what an empty bucket is */
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Release walked buckets of the old table, whole chunks only. */
static void release_walked(struct flowtab *ft)
{
	struct flow_buckets *o = &ft->old;

	while (ft->mig_walked - ft->mig_released >= RELEASE_CHUNK) {
		uint32_t from = (ft->mig_start + ft->mig_released) & o->mask;
		uint32_t first = o->mask + 1 - from; /* buckets before the wrap */

		if (first >= RELEASE_CHUNK) {
			release_buckets(ft, o->b, from, RELEASE_CHUNK);
		} else {
			release_buckets(ft, o->b, from, first);
			release_buckets(ft, o->b, 0, RELEASE_CHUNK - first);
		}
		ft->mig_released += RELEASE_CHUNK;
	}
}

/*
 * Move up to about `budget` buckets of the old table into the current one.
 * A cluster (a run of occupied buckets between empty ones) moves whole: the
 * probe paths of the entries left behind never cross it, so they stay
 * reachable in the old table, and deleting one of them (a backward shift
 * within its cluster) never moves it behind the walk.  The walk began at
 * an empty bucket, so no cluster straddles its start and end.
 */
static void migrate(struct flowtab *ft, uint32_t budget)
{
	struct flow_buckets *o = &ft->old;
	uint32_t buckets = o->mask + 1;

	while (o->b && budget) {
		uint32_t i = ft->mig_pos;

		if (!o->b[i].key.meta) {
			i = (i + 1) & o->mask;
			ft->mig_walked++;
			budget--;
		}
		while (o->b[i].key.meta) {
			buckets_place(&ft->cur, &o->b[i]);
			memset(&o->b[i], 0, sizeof(o->b[i]));
			i = (i + 1) & o->mask;
			ft->mig_walked++;
			budget -= budget > 0;
		}
		ft->mig_pos = i;
		if (ft->mig_walked < buckets) {
			release_walked(ft);
		} else {
			free(o->b);
			o->b = NULL;
			o->mask = 0;
		}
	}
}

/*
 * Double the table: allocate the new one now (calloc'd memory is mapped as
 * it is touched) and move the old one's entries over a few clusters at a
 * time (migrate()), so no call rehashes a whole large table at once.
 * @return 0 or -ENOMEM.
 */
static int flow_grow(struct flowtab *ft, uint32_t cap)
{
	struct flow *b = calloc(cap, sizeof(*b));
	uint32_t start = 0;

	if (!b)
		return -ENOMEM;
	/* a migration still running (it never should: see MIGRATE_PER_ADD) ends first */
	migrate(ft, UINT32_MAX);
	if (ft->cur.b) {
		/* at most half full: an empty bucket comes within the longest cluster */
		while (ft->cur.b[start].key.meta)
			start++;
		ft->old = ft->cur;
		ft->mig_start = ft->mig_pos = start;
		ft->mig_walked = ft->mig_released = 0;
	}
	ft->cur.b = b;
	ft->cur.mask = cap - 1;
	ft->cursor = 0;
	return 0;
}

/*
 * An empty table goes back to the allocator, so that consumers which no
 * longer have flows cost nothing for max_flows; but not a large one:
 * giving back the 128 MiB of a table that held a million flows costs the
 * capture thread ~10 ms of page freeing.  Those wait, empty and ready for
 * reuse, for flowtab_free() (on the control thread).
 */
static void flow_free_if_empty(struct flowtab *ft, struct flow_buckets *t)
{
	if (ft->n_flows || !t->b || t->mask >= FREE_EMPTY_MAX)
		return;
	free(t->b);
	t->b = NULL;
	t->mask = 0;
}

static void flow_shrink_if_empty(struct flowtab *ft)
{
	flow_free_if_empty(ft, &ft->old);
	flow_free_if_empty(ft, &ft->cur);
	if (!ft->cur.b)
		ft->cursor = 0;
}

static int check_flow(const struct vcap_flow *f, uint32_t action, char *err, size_t err_len)
{
	static const uint8_t zero[12];

	if (f->family != 4 && f->family != 6)
		return rule_fail(err, err_len, -EINVAL, "family: %u is neither 4 nor 6", f->family);
	if (action != VCAP_PASS && action != VCAP_DROP)
		return rule_fail(err, err_len, -EINVAL,
				 "action: %u is neither VCAP_PASS (1) nor VCAP_DROP (2)", action);
	if (f->pad)
		return rule_fail(err, err_len, -EINVAL, "pad: must be zero");
	if (f->family == 4 && (memcmp(f->addr_a + 4, zero, 12) || memcmp(f->addr_b + 4, zero, 12)))
		return rule_fail(err, err_len, -EINVAL,
				 "addr_a/addr_b: an IPv4 address must have bytes 4..15 zero");
	if (!proto_has_ports(f->proto) && (f->port_a || f->port_b))
		return rule_fail(err, err_len, -EINVAL,
				 "port_a/port_b: proto %u has no ports; name its flows with ports 0",
				 f->proto);
	return 0;
}

int flowtab_add(struct flowtab *ft, const struct vcap_flow *f, uint32_t action,
		uint32_t idle_timeout_ms, uint64_t now_ns, char *err, size_t err_len)
{
	struct flow_ref ref;
	struct flow e, *old;
	uint64_t buckets;
	int rc;

	rc = check_flow(f, action, err, err_len);
	if (rc)
		return rc;
	if (now_ns > ft->now_ns)
		ft->now_ns = now_ns;

	memset(&e, 0, sizeof(e));
	e.swapped = flow_key_make(&e.key, f->family, f->proto, f->addr_a, f->port_a, f->addr_b,
				  f->port_b);
	old = flowtab_find(ft, &e.key, &ref);
	if (old) {
		/* a rule idle past its timeout is gone, even if not yet reclaimed */
		if (!flow_expired(old, now_ns))
			return rule_fail(err, err_len, -EEXIST, "flow: a rule for it exists");
		flowtab_delete(ft, &ref);
	}
	if (ft->n_flows >= ft->max_flows)
		return rule_fail(err, err_len, -ENOSPC,
				 "too many flow rules: the limit is %u (max_flows)", ft->max_flows);
	/* at most half full, so probes stay short and always end */
	buckets = ft->cur.b ? (uint64_t)ft->cur.mask + 1 : 0;
	if (2 * ((uint64_t)ft->n_flows + 1) > buckets) {
		uint32_t cap = buckets ? (uint32_t)(2 * buckets) : FLOW_CAP_MIN;

		if (flow_grow(ft, cap))
			return rule_fail(err, err_len, -ENOMEM,
					 "flow: out of memory for %u buckets", cap);
	}
	migrate(ft, MIGRATE_PER_ADD);
	e.last_ns = now_ns;
	e.idle_ms = idle_timeout_ms;
	e.action = (uint8_t)action;
	buckets_place(&ft->cur, &e);
	ft->n_flows++;
	ft->n_idle += idle_timeout_ms != 0;
	return 0;
}

int flowtab_remove(struct flowtab *ft, const struct vcap_flow *f, uint64_t *hits)
{
	struct flow_ref ref;
	struct flow_key k;
	struct flow *e;
	bool expired;

	if (f->family != 4 && f->family != 6)
		return -ENOENT;
	flow_key_make(&k, f->family, f->proto, f->addr_a, f->port_a, f->addr_b, f->port_b);
	e = flowtab_find(ft, &k, &ref);
	if (!e)
		return -ENOENT;
	expired = flow_expired(e, ft->now_ns);
	if (hits && !expired)
		*hits = e->hits;
	flowtab_delete(ft, &ref);
	flow_shrink_if_empty(ft);
	return expired ? -ENOENT : 0;
}

int flowtab_restore(struct flowtab *ft, const struct vcap_flow_stat *st, uint64_t now_ns,
		    char *err, size_t err_len)
{
	uint64_t idle_ns = st->idle_ms * FLOW_NS_PER_MS;
	struct flow_ref ref;
	struct flow_key k;
	struct flow *e;
	int rc = flowtab_add(ft, &st->flow, st->action, st->idle_timeout_ms, now_ns, err, err_len);

	if (rc)
		return rc;
	flow_key_make(&k, st->flow.family, st->flow.proto, st->flow.addr_a, st->flow.port_a,
		      st->flow.addr_b, st->flow.port_b);
	e = flowtab_find(ft, &k, &ref);
	if (e) {
		e->hits = st->hits;
		e->last_ns = idle_ns < now_ns ? now_ns - idle_ns : 0;
	}
	return 0;
}

int flowtab_hits(struct flowtab *ft, const struct vcap_flow *f, uint64_t now_ns, uint64_t *hits)
{
	struct flow_ref ref;
	struct flow_key k;
	struct flow *e;

	if (f->family != 4 && f->family != 6)
		return -ENOENT;
	flow_key_make(&k, f->family, f->proto, f->addr_a, f->port_a, f->addr_b, f->port_b);
	e = flowtab_find(ft, &k, &ref);
	/* one idle past its timeout is gone, reclaimed or not (flowtab_verdict ignores it) */
	if (!e || flow_expired(e, now_ns))
		return -ENOENT;
	*hits = e->hits;
	return 0;
}

/* ---- listing ----------------------------------------------------------------- */

static uint32_t bit_reverse(uint32_t v)
{
	v = (v >> 1 & 0x55555555u) | (v & 0x55555555u) << 1;
	v = (v >> 2 & 0x33333333u) | (v & 0x33333333u) << 2;
	v = (v >> 4 & 0x0f0f0f0fu) | (v & 0x0f0f0f0fu) << 4;
	v = (v >> 8 & 0x00ff00ffu) | (v & 0x00ff00ffu) << 8;
	return v >> 16 | v << 16;
}

/*
 * The home bucket after v in reverse-binary order under mask: increment
 * the reversed index.  The bits above mask carry out and end up 0, so the
 * cursor means the same under a table twice or half the size.  0: v was
 * the last.
 */
static uint32_t scan_next(uint32_t v, uint32_t mask)
{
	v |= ~mask;
	return bit_reverse(bit_reverse(v) + 1);
}

/* The flow of rule e, as it was added. */
static void flow_as_added(const struct flow *e, struct vcap_flow *f)
{
	const uint64_t *a = e->swapped ? e->key.b : e->key.a, *b = e->swapped ? e->key.a : e->key.b;
	uint16_t pa = (uint16_t)e->key.meta, pb = (uint16_t)(e->key.meta >> 16);

	memset(f, 0, sizeof(*f));
	f->family = (uint8_t)(e->key.meta >> 32);
	f->proto = (uint8_t)(e->key.meta >> 40);
	f->port_a = e->swapped ? pb : pa;
	f->port_b = e->swapped ? pa : pb;
	memcpy(f->addr_a, a, 16); /* the words were read from these bytes */
	memcpy(f->addr_b, b, 16);
}

struct list_page {
	struct vcap_flow_stat *out;
	uint32_t n, max;
	uint64_t now_ns;
	uint32_t skip; /* entries of the current home bucket still to pass over */
};

/*
 * Add the live rules of t whose home under mask is `home`: they lie in the
 * run of occupied buckets that starts at their home under t's own mask.
 * @return false once the page is full (the rest of the bucket left out).
 */
static bool list_home(const struct flow_buckets *t, uint32_t mask, uint32_t home,
		      struct list_page *pg)
{
	for (uint32_t i = home & t->mask; t->b[i].key.meta; i = (i + 1) & t->mask) {
		const struct flow *e = &t->b[i];
		struct vcap_flow_stat *o;

		if ((key_hash(&e->key) & mask) != home || flow_expired(e, pg->now_ns))
			continue;
		if (pg->skip) {
			pg->skip--;
			continue;
		}
		if (pg->n == pg->max)
			return false;
		o = &pg->out[pg->n++];
		memset(o, 0, sizeof(*o));
		flow_as_added(e, &o->flow);
		o->action = e->action;
		o->idle_timeout_ms = e->idle_ms;
		o->hits = e->hits;
		o->idle_ms = pg->now_ns > e->last_ns ? (pg->now_ns - e->last_ns) / FLOW_NS_PER_MS : 0;
	}
	return true;
}

/*
 * The cursor: the home bucket (under the current table's mask) in its low
 * 32 bits, and in the high 32 how many of that bucket's rules earlier
 * pages listed, for a bucket that did not fit in one page.
 */
uint32_t flowtab_list(const struct flowtab *ft, uint64_t cursor, uint64_t now_ns,
		      struct vcap_flow_stat *out, uint32_t max, uint64_t *next)
{
	struct list_page pg = { .out = out, .max = max, .now_ns = now_ns };
	uint32_t mask = ft->cur.mask, v, steps = LIST_STEPS;

	*next = 0;
	if (!ft->cur.b)
		return 0;
	if (!max) {
		*next = cursor;
		return 0;
	}
	v = (uint32_t)cursor & mask;
	pg.skip = (uint32_t)(cursor >> 32);
	do {
		uint32_t before = pg.n, skipped = pg.skip;

		if (!list_home(&ft->cur, mask, v, &pg) ||
		    (ft->old.b && !list_home(&ft->old, mask, v, &pg))) {
			/* full: leave the whole bucket to the next page, unless it alone overflows one */
			if (before) {
				pg.n = before;
				*next = v;
			} else {
				*next = (uint64_t)(skipped + pg.n) << 32 | v;
			}
			return pg.n;
		}
		pg.skip = 0;
		v = scan_next(v, mask);
	} while (v && --steps);
	*next = v;
	return pg.n;
}

void flowtab_expire(struct flowtab *ft, uint64_t now_ns)
{
	uint64_t elapsed = now_ns > ft->expire_ns ? now_ns - ft->expire_ns : 0;
	uint64_t buckets = (uint64_t)ft->cur.mask + 1;
	uint32_t budget;

	ft->expire_ns = now_ns;
	if (now_ns > ft->now_ns)
		ft->now_ns = now_ns;
	/* capacity * elapsed / sweep, without overflow: both factors are bounded */
	if (elapsed >= EXPIRE_SWEEP_NS)
		budget = EXPIRE_MAX;
	else if (buckets * (elapsed >> 10) / (EXPIRE_SWEEP_NS >> 10) > EXPIRE_MAX)
		budget = EXPIRE_MAX;
	else
		budget = (uint32_t)(buckets * (elapsed >> 10) / (EXPIRE_SWEEP_NS >> 10));
	if (budget < EXPIRE_MIN)
		budget = EXPIRE_MIN;

	/* finish a growth first: expiry then sees every flow in one table */
	if (ft->old.b) {
		migrate(ft, budget);
		return;
	}
	if (budget > buckets)
		budget = (uint32_t)buckets;
	while (budget-- && ft->n_idle) {
		struct flow_ref ref = { &ft->cur, ft->cursor };

		/* a deletion shifts the next entry into the cursor's bucket: look again */
		if (ft->cur.b[ft->cursor].key.meta && flow_expired(&ft->cur.b[ft->cursor], now_ns))
			flowtab_delete(ft, &ref);
		else
			ft->cursor = (ft->cursor + 1) & ft->cur.mask;
	}
	flow_shrink_if_empty(ft);
}

void flowtab_each(const struct flowtab *ft, void (*fn)(void *arg, const struct flow_key *k),
		  void *arg)
{
	const struct flow_buckets *t[2] = { &ft->cur, &ft->old };

	for (unsigned i = 0; i < 2; i++)
		for (uint64_t j = 0; t[i]->b && j <= t[i]->mask; j++)
			if (t[i]->b[j].key.meta) /* family 0: empty */
				fn(arg, &t[i]->b[j].key);
}
