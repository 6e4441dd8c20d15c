/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rules.c - a consumer's rules: exact flow rules in a hash table, then
 * wildcard rules by increasing id, then the default action.
 *
 * Wildcard rules are compiled into a ternary match over the parsed packet
 * (what a TCAM does): struct vcap_parsed, padded to 64 bytes, is read as
 * KEY_VECS 16-byte vectors and a rule matches when (key & mask) == value
 * for each of them, plus two port ranges.  A rule costs the same dozen
 * vector instructions, without branches, whichever fields it names, and the
 * conditions a field implies (an address needs its family, a port needs a
 * transport header, TCP flags need TCP) are just more bytes under the mask.
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
#include "rules.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NS_PER_MS 1000000ull

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_SCTP_ 132

#define VCAP_RULE_ALL                                                                       \
	(VCAP_RULE_SMAC | VCAP_RULE_DMAC | VCAP_RULE_VLAN | VCAP_RULE_ETHERTYPE |           \
	 VCAP_RULE_PROTO | VCAP_RULE_SADDR | VCAP_RULE_DADDR | VCAP_RULE_SPORT |            \
	 VCAP_RULE_DPORT | VCAP_RULE_TCP_FLAGS)

#define VLAN_ID_MAX 4095

/*
 * The ternary key: struct vcap_parsed in four 16-byte vectors (GCC vector
 * extensions: SSE2 on x86-64, NEON on arm64, plain words elsewhere).  The
 * ports are in the key but never under a mask: ranges are checked apart.
 */
typedef uint64_t v2u64 __attribute__((vector_size(16)));
#define KEY_VECS 4
#define KEY_BYTES (KEY_VECS * sizeof(v2u64))
_Static_assert(sizeof(struct vcap_parsed) <= KEY_BYTES, "struct vcap_parsed outgrew the key");

/* Table sizes stay powers of two so a bucket index is a mask away. */
#define FLOW_CAP_MIN 16u
#define FLOWS_MAX (1u << 30) /* keeps 2 * max_flows rounded up within 32 bits */

/*
 * rules_expire() scans buckets from a cursor.  It aims to cover the whole
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
 * then it costs nothing but its bucket: rules_pass() does not apply it and
 * rules_flow_add() replaces it.
 */
#define EXPIRE_SWEEP_NS 1000000000ull
#define EXPIRE_MIN 64u
#define EXPIRE_MAX 16384u

/*
 * Buckets of the old table each rules_flow_add() moves while the table
 * grows.  The new table has twice the buckets and holds the old one's
 * entries plus the adds since, so it needs growing again only after
 * (buckets of the old) / 2 adds: moving more than 2 per add ends every
 * migration in time.  rules_expire() helps with its own budget.
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

/* A compiled wildcard rule. */
struct wild {
	v2u64 mask[KEY_VECS];
	v2u64 value[KEY_VECS]; /* already masked */
	/* ports: (uint16_t)(port - lo) <= span; 0 and 0xffff when not named */
	uint16_t sport_lo, sport_span;
	uint16_t dport_lo, dport_span;
	uint32_t id;
	bool pass;
	uint64_t hits;
};

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
	uint8_t pad[3];
};
_Static_assert(sizeof(struct flow) == 64, "a flow bucket is one cache line");

/* Open addressing, linear probing, a power of two of buckets, at most half full. */
struct flow_table {
	struct flow *b;
	uint32_t mask; /* buckets - 1 */
};

struct rules {
	struct rules_limits lim;
	bool default_pass;

	struct wild *wild; /* sorted by id */
	uint32_t n_wild, cap_wild;

	struct flow_table cur; /* b NULL while there are no flows */
	uint32_t n_flows;      /* in both tables */
	uint32_t n_idle;       /* flows with an idle timeout: 0 lets rules_expire() rest */
	uint32_t cursor;       /* rules_expire()'s next bucket of cur */
	uint64_t expire_ns;    /* rules_expire()'s previous call */

	/* growing: old's entries move into cur (migrate()) */
	struct flow_table old; /* b NULL when not growing */
	uint32_t mig_start;    /* the empty bucket of old where the walk began */
	uint32_t mig_pos;      /* the walk's next bucket */
	uint32_t mig_walked;   /* buckets walked */
	uint32_t mig_released; /* of those, how many release_walked() gave back */
	size_t page;           /* bytes per page, for releasing */

	/*
	 * The latest clock any call has brought, for rules_flow_remove(),
	 * which gets none: a flow already idle past its timeout is gone.
	 */
	uint64_t now_ns;
};

static int fail(char *err, size_t err_len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static bool proto_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_ || proto == IPPROTO_SCTP_;
}

struct rules *rules_new(const struct rules_limits *limits)
{
	struct rules *r;

	if (!limits || limits->max_flows > FLOWS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->lim = *limits;
	r->default_pass = true;
	r->page = (size_t)sysconf(_SC_PAGESIZE);
	return r;
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	free(r->wild);
	free(r->cur.b);
	free(r->old.b);
	free(r);
}

bool rules_trivial(const struct rules *r)
{
	return !r->n_wild && !r->n_flows && r->default_pass;
}

uint32_t rules_count(const struct rules *r)
{
	return r->n_wild;
}

uint32_t rules_flow_count(const struct rules *r)
{
	return r->n_flows;
}

int rules_set_default(struct rules *r, uint32_t action)
{
	if (action != VCAP_PASS && action != VCAP_DROP)
		return -EINVAL;
	r->default_pass = action == VCAP_PASS;
	return 0;
}

/* ---- wildcard rules ----------------------------------------------------- */

/* The index of rule id, or where it would go (and *found = false). */
static uint32_t wild_find(const struct rules *r, uint32_t id, bool *found)
{
	uint32_t lo = 0, hi = r->n_wild;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (r->wild[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < r->n_wild && r->wild[lo].id == id;
	return lo;
}

/* Are any bits of addr (bytes) set beyond the first prefix bits? */
static bool bits_past_prefix(const uint8_t *addr, unsigned prefix, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * i : 0;
		uint8_t host = (uint8_t)(0xffu >> keep);

		if (addr[i] & host)
			return true;
	}
	return false;
}

static int check_addr(const char *name, const uint8_t *addr, unsigned prefix, unsigned family,
		      char *err, size_t err_len)
{
	unsigned bits = family == 4 ? 32 : 128;

	if (prefix > bits)
		return fail(err, err_len, -EINVAL, "%s_prefix: %u is over %u for IPv%u", name,
			    prefix, bits, family);
	/* the IPv4 test covers bytes 4..15 too: none of them is in the prefix */
	if (bits_past_prefix(addr, prefix, 16))
		return fail(err, err_len, -EINVAL,
			    "%s: bits are set past the /%u prefix (or past the IPv4 address)",
			    name, prefix);
	return 0;
}

static int check_rule(const struct vcap_rule *w, char *err, size_t err_len)
{
	uint32_t f = w->fields;
	int rc;

	if (f & ~VCAP_RULE_ALL)
		return fail(err, err_len, -EINVAL, "fields: unknown bits 0x%x", f & ~VCAP_RULE_ALL);
	if (w->action != VCAP_PASS && w->action != VCAP_DROP)
		return fail(err, err_len, -EINVAL,
			    "action: %u is neither VCAP_PASS (1) nor VCAP_DROP (2)", w->action);
	if (w->pad[0] || w->pad[1])
		return fail(err, err_len, -EINVAL, "pad: must be zero");
	if ((f & VCAP_RULE_VLAN) && w->vlan > VLAN_ID_MAX)
		return fail(err, err_len, -EINVAL, "vlan: %u is over %u", w->vlan, VLAN_ID_MAX);
	if (f & (VCAP_RULE_SADDR | VCAP_RULE_DADDR)) {
		if (w->family != 4 && w->family != 6)
			return fail(err, err_len, -EINVAL,
				    "family: %u is neither 4 nor 6 (saddr/daddr are set)",
				    w->family);
		rc = f & VCAP_RULE_SADDR ? check_addr("saddr", w->saddr, w->saddr_prefix,
						      w->family, err, err_len)
					 : 0;
		if (rc)
			return rc;
		rc = f & VCAP_RULE_DADDR ? check_addr("daddr", w->daddr, w->daddr_prefix,
						      w->family, err, err_len)
					 : 0;
		if (rc)
			return rc;
	}
	if ((f & VCAP_RULE_SPORT) && w->sport_lo > w->sport_hi)
		return fail(err, err_len, -EINVAL, "sport: range %u..%u has lo > hi", w->sport_lo,
			    w->sport_hi);
	if ((f & VCAP_RULE_DPORT) && w->dport_lo > w->dport_hi)
		return fail(err, err_len, -EINVAL, "dport: range %u..%u has lo > hi", w->dport_lo,
			    w->dport_hi);
	if ((f & (VCAP_RULE_SPORT | VCAP_RULE_DPORT)) && (f & VCAP_RULE_PROTO) &&
	    !proto_has_ports(w->proto))
		return fail(err, err_len, -EINVAL,
			    "sport/dport: proto %u has no ports (only TCP, UDP, SCTP do)",
			    w->proto);
	if (f & VCAP_RULE_TCP_FLAGS) {
		if (w->tcp_flags & ~w->tcp_flags_mask)
			return fail(err, err_len, -EINVAL,
				    "tcp_flags: bits 0x%02x are outside tcp_flags_mask 0x%02x",
				    w->tcp_flags & ~w->tcp_flags_mask, w->tcp_flags_mask);
		if ((f & VCAP_RULE_PROTO) && w->proto != IPPROTO_TCP_)
			return fail(err, err_len, -EINVAL,
				    "tcp_flags: only TCP has them, but proto is %u", w->proto);
	}
	return 0;
}

/* An IPv4 or IPv6 prefix as a byte mask. */
static void prefix_mask(uint8_t *m, unsigned prefix)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * i : 0;

		m[i] = (uint8_t)(0xff00u >> keep);
	}
}

/*
 * Build the mask and the value as two struct vcap_parsed, field by field,
 * then read both as words: the words line up with the packet's whatever
 * the byte order.
 */
static void compile_rule(const struct vcap_rule *w, struct wild *c)
{
	struct vcap_parsed v, m;
	uint32_t f = w->fields;

	memset(&v, 0, sizeof(v));
	memset(&m, 0, sizeof(m));
	if (f & VCAP_RULE_SMAC) {
		memcpy(v.smac, w->smac, sizeof(v.smac));
		memset(m.smac, 0xff, sizeof(m.smac));
	}
	if (f & VCAP_RULE_DMAC) {
		memcpy(v.dmac, w->dmac, sizeof(v.dmac));
		memset(m.dmac, 0xff, sizeof(m.dmac));
	}
	if (f & VCAP_RULE_VLAN) {
		/* untagged packets carry VCAP_PARSED_NO_VLAN, above every id */
		v.vlan = w->vlan;
		m.vlan = 0xffff;
	}
	if (f & VCAP_RULE_ETHERTYPE) {
		v.ethertype = w->ethertype;
		m.ethertype = 0xffff;
	}
	if (f & VCAP_RULE_PROTO) {
		/*
		 * Any IP packet: family is 0, 4 or 6, and bit 2 is set in
		 * exactly 4 and 6.  Keeps proto 0 from matching non-IP frames.
		 */
		v.family = 4;
		m.family = 4;
		v.proto = w->proto;
		m.proto = 0xff;
	}
	if (f & (VCAP_RULE_SADDR | VCAP_RULE_DADDR)) {
		v.family = w->family;
		m.family = 0xff;
	}
	if (f & VCAP_RULE_SADDR) {
		prefix_mask(m.saddr, w->saddr_prefix);
		memcpy(v.saddr, w->saddr, sizeof(v.saddr));
	}
	if (f & VCAP_RULE_DADDR) {
		prefix_mask(m.daddr, w->daddr_prefix);
		memcpy(v.daddr, w->daddr, sizeof(v.daddr));
	}
	if (f & (VCAP_RULE_SPORT | VCAP_RULE_DPORT | VCAP_RULE_TCP_FLAGS)) {
		v.has_ports = 1;
		m.has_ports = 0xff;
	}
	if (f & VCAP_RULE_TCP_FLAGS) {
		v.family = (uint8_t)(v.family | 4); /* IP, if no address asked for more */
		m.family = (uint8_t)(m.family | 4);
		v.proto = IPPROTO_TCP_;
		m.proto = 0xff;
		v.tcp_flags = w->tcp_flags;
		m.tcp_flags = w->tcp_flags_mask;
	}

	memset(c->mask, 0, sizeof(c->mask));
	memset(c->value, 0, sizeof(c->value));
	memcpy(c->mask, &m, sizeof(m));
	memcpy(c->value, &v, sizeof(v));
	for (int i = 0; i < KEY_VECS; i++)
		c->value[i] &= c->mask[i];
	c->sport_lo = f & VCAP_RULE_SPORT ? w->sport_lo : 0;
	c->sport_span = f & VCAP_RULE_SPORT ? (uint16_t)(w->sport_hi - w->sport_lo) : 0xffff;
	c->dport_lo = f & VCAP_RULE_DPORT ? w->dport_lo : 0;
	c->dport_span = f & VCAP_RULE_DPORT ? (uint16_t)(w->dport_hi - w->dport_lo) : 0xffff;
	c->id = w->id;
	c->pass = w->action == VCAP_PASS;
	c->hits = 0;
}

int rules_add(struct rules *r, const struct vcap_rule *rule, char *err, size_t err_len)
{
	uint32_t at;
	bool found;
	int rc;

	rc = check_rule(rule, err, err_len);
	if (rc)
		return rc;
	at = wild_find(r, rule->id, &found);
	if (found)
		return fail(err, err_len, -EEXIST, "id: rule %u exists", rule->id);
	if (r->n_wild >= r->lim.max_rules)
		return fail(err, err_len, -ENOSPC, "too many rules: the limit is %u (max_rules)",
			    r->lim.max_rules);
	if (r->n_wild == r->cap_wild) {
		uint32_t cap = r->cap_wild ? 2 * r->cap_wild : 8;
		struct wild *w;

		if (cap > r->lim.max_rules)
			cap = r->lim.max_rules;
		w = realloc(r->wild, cap * sizeof(*w));
		if (!w)
			return fail(err, err_len, -ENOMEM, "rules: out of memory");
		r->wild = w;
		r->cap_wild = cap;
	}
	memmove(&r->wild[at + 1], &r->wild[at], (r->n_wild - at) * sizeof(r->wild[0]));
	compile_rule(rule, &r->wild[at]);
	r->n_wild++;
	return 0;
}

int rules_remove(struct rules *r, uint32_t id)
{
	bool found;
	uint32_t at = wild_find(r, id, &found);

	if (!found)
		return -ENOENT;
	memmove(&r->wild[at], &r->wild[at + 1], (r->n_wild - at - 1) * sizeof(r->wild[0]));
	r->n_wild--;
	return 0;
}

int rules_hits(const struct rules *r, uint32_t id, uint64_t *hits)
{
	bool found;
	uint32_t at = wild_find(r, id, &found);

	if (!found)
		return -ENOENT;
	*hits = r->wild[at].hits;
	return 0;
}

static inline bool wild_match(const struct wild *w, const v2u64 *key, uint16_t sport,
			      uint16_t dport)
{
	v2u64 diff = ((key[0] & w->mask[0]) ^ w->value[0]) | ((key[1] & w->mask[1]) ^ w->value[1]) |
		     ((key[2] & w->mask[2]) ^ w->value[2]) | ((key[3] & w->mask[3]) ^ w->value[3]);

	/* one test at the end: a branch per condition would follow the traffic mix */
	uint64_t outside = (uint64_t)((uint16_t)(sport - w->sport_lo) > w->sport_span) |
			   (uint64_t)((uint16_t)(dport - w->dport_lo) > w->dport_span);

	return !(diff[0] | diff[1] | outside);
}

/* ---- flow rules ----------------------------------------------------------- */

/*
 * Canonical key of the conversation between (x, xp) and (y, yp).  Both
 * directions must land on the same key: order the endpoints.
 */
static inline void key_make(struct flow_key *k, uint8_t family, uint8_t proto, const uint8_t *x,
		     uint16_t xp, const uint8_t *y, uint16_t yp)
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
static int64_t table_find(const struct flow_table *t, const struct flow_key *k)
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

/* Put e into the first free bucket of its probe sequence (it is not in t). */
static void table_place(struct flow_table *t, const struct flow *e)
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
static void table_delete(struct flow_table *t, uint32_t hole)
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

/* Where a flow rule sits: which table, which bucket. */
struct flow_ref {
	struct flow_table *t;
	uint32_t at;
};

/* Find k in the table, then in the one being migrated.  @return the flow or NULL. */
static struct flow *flow_find(struct rules *r, const struct flow_key *k, struct flow_ref *ref)
{
	int64_t at;

	if (!r->cur.b)
		return NULL;
	at = table_find(&r->cur, k);
	ref->t = &r->cur;
	if (at < 0 && r->old.b) {
		at = table_find(&r->old, k);
		ref->t = &r->old;
	}
	if (at < 0)
		return NULL;
	ref->at = (uint32_t)at;
	return &ref->t->b[at];
}

static void flow_delete(struct rules *r, const struct flow_ref *ref)
{
	if (ref->t->b[ref->at].idle_ms)
		r->n_idle--;
	table_delete(ref->t, ref->at);
	r->n_flows--;
}

/* Give back the whole pages within buckets [from, from + n) of b. */
static void release_buckets(const struct rules *r, struct flow *b, uint32_t from, uint32_t n)
{
	uintptr_t lo = (uintptr_t)&b[from], hi = (uintptr_t)&b[from + n];

	lo = (lo + r->page - 1) & ~(uintptr_t)(r->page - 1);
	hi &= ~(uintptr_t)(r->page - 1);
	/* they read back as zeroes, which is what an empty bucket is */
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Release walked buckets of the old table, whole chunks only. */
static void release_walked(struct rules *r)
{
	struct flow_table *o = &r->old;

	while (r->mig_walked - r->mig_released >= RELEASE_CHUNK) {
		uint32_t from = (r->mig_start + r->mig_released) & o->mask;
		uint32_t first = o->mask + 1 - from; /* buckets before the wrap */

		if (first >= RELEASE_CHUNK) {
			release_buckets(r, o->b, from, RELEASE_CHUNK);
		} else {
			release_buckets(r, o->b, from, first);
			release_buckets(r, o->b, 0, RELEASE_CHUNK - first);
		}
		r->mig_released += RELEASE_CHUNK;
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
static void migrate(struct rules *r, uint32_t budget)
{
	struct flow_table *o = &r->old;
	uint32_t buckets = o->mask + 1;

	while (o->b && budget) {
		uint32_t i = r->mig_pos;

		if (!o->b[i].key.meta) {
			i = (i + 1) & o->mask;
			r->mig_walked++;
			budget--;
		}
		while (o->b[i].key.meta) {
			table_place(&r->cur, &o->b[i]);
			memset(&o->b[i], 0, sizeof(o->b[i]));
			i = (i + 1) & o->mask;
			r->mig_walked++;
			budget -= budget > 0;
		}
		r->mig_pos = i;
		if (r->mig_walked < buckets) {
			release_walked(r);
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
static int flow_grow(struct rules *r, uint32_t cap)
{
	struct flow *b = calloc(cap, sizeof(*b));
	uint32_t start = 0;

	if (!b)
		return -ENOMEM;
	/* a migration still running (it never should: see MIGRATE_PER_ADD) ends first */
	migrate(r, UINT32_MAX);
	if (r->cur.b) {
		/* at most half full: an empty bucket comes within the longest cluster */
		while (r->cur.b[start].key.meta)
			start++;
		r->old = r->cur;
		r->mig_start = r->mig_pos = start;
		r->mig_walked = r->mig_released = 0;
	}
	r->cur.b = b;
	r->cur.mask = cap - 1;
	r->cursor = 0;
	return 0;
}

/*
 * An empty table goes back to the allocator, so that consumers which no
 * longer have flows cost nothing for max_flows; but not a large one:
 * giving back the 128 MiB of a table that held a million flows costs the
 * capture thread ~10 ms of page freeing.  Those wait, empty and ready for
 * reuse, for rules_free() (on the control thread).
 */
static void flow_free_if_empty(struct rules *r, struct flow_table *t)
{
	if (r->n_flows || !t->b || t->mask >= FREE_EMPTY_MAX)
		return;
	free(t->b);
	t->b = NULL;
	t->mask = 0;
}

static void flow_shrink_if_empty(struct rules *r)
{
	flow_free_if_empty(r, &r->old);
	flow_free_if_empty(r, &r->cur);
	if (!r->cur.b)
		r->cursor = 0;
}

static bool flow_expired(const struct flow *e, uint64_t now_ns)
{
	return e->idle_ms && now_ns > e->last_ns && now_ns - e->last_ns >= e->idle_ms * NS_PER_MS;
}

static int check_flow(const struct vcap_flow *f, uint32_t action, char *err, size_t err_len)
{
	static const uint8_t zero[12];

	if (f->family != 4 && f->family != 6)
		return fail(err, err_len, -EINVAL, "family: %u is neither 4 nor 6", f->family);
	if (action != VCAP_PASS && action != VCAP_DROP)
		return fail(err, err_len, -EINVAL,
			    "action: %u is neither VCAP_PASS (1) nor VCAP_DROP (2)", action);
	if (f->pad)
		return fail(err, err_len, -EINVAL, "pad: must be zero");
	if (f->family == 4 && (memcmp(f->addr_a + 4, zero, 12) || memcmp(f->addr_b + 4, zero, 12)))
		return fail(err, err_len, -EINVAL,
			    "addr_a/addr_b: an IPv4 address must have bytes 4..15 zero");
	if (!proto_has_ports(f->proto) && (f->port_a || f->port_b))
		return fail(err, err_len, -EINVAL,
			    "port_a/port_b: proto %u has no ports; name its flows with ports 0",
			    f->proto);
	return 0;
}

int rules_flow_add(struct rules *r, const struct vcap_flow *f, uint32_t action,
		   uint32_t idle_timeout_ms, uint64_t now_ns, char *err, size_t err_len)
{
	struct flow_ref ref;
	struct flow e, *old;
	uint64_t buckets;
	int rc;

	rc = check_flow(f, action, err, err_len);
	if (rc)
		return rc;
	if (now_ns > r->now_ns)
		r->now_ns = now_ns;

	memset(&e, 0, sizeof(e));
	key_make(&e.key, f->family, f->proto, f->addr_a, f->port_a, f->addr_b, f->port_b);
	old = flow_find(r, &e.key, &ref);
	if (old) {
		/* a rule idle past its timeout is gone, even if not yet reclaimed */
		if (!flow_expired(old, now_ns))
			return fail(err, err_len, -EEXIST, "flow: a rule for it exists");
		flow_delete(r, &ref);
	}
	if (r->n_flows >= r->lim.max_flows)
		return fail(err, err_len, -ENOSPC,
			    "too many flow rules: the limit is %u (max_flows)", r->lim.max_flows);
	/* at most half full, so probes stay short and always end */
	buckets = r->cur.b ? (uint64_t)r->cur.mask + 1 : 0;
	if (2 * ((uint64_t)r->n_flows + 1) > buckets) {
		uint32_t cap = buckets ? (uint32_t)(2 * buckets) : FLOW_CAP_MIN;

		if (flow_grow(r, cap))
			return fail(err, err_len, -ENOMEM, "flow: out of memory for %u buckets",
				    cap);
	}
	migrate(r, MIGRATE_PER_ADD);
	e.last_ns = now_ns;
	e.idle_ms = idle_timeout_ms;
	e.action = (uint8_t)action;
	table_place(&r->cur, &e);
	r->n_flows++;
	r->n_idle += idle_timeout_ms != 0;
	return 0;
}

int rules_flow_remove(struct rules *r, const struct vcap_flow *f, uint64_t *hits)
{
	struct flow_ref ref;
	struct flow_key k;
	struct flow *e;
	bool expired;

	if (f->family != 4 && f->family != 6)
		return -ENOENT;
	key_make(&k, f->family, f->proto, f->addr_a, f->port_a, f->addr_b, f->port_b);
	e = flow_find(r, &k, &ref);
	if (!e)
		return -ENOENT;
	expired = flow_expired(e, r->now_ns);
	if (hits && !expired)
		*hits = e->hits;
	flow_delete(r, &ref);
	flow_shrink_if_empty(r);
	return expired ? -ENOENT : 0;
}

/*
 * The flow rule's verdict on p: VCAP_PASS, VCAP_DROP, or 0 when no live
 * rule names p's conversation.
 */
static uint32_t flow_verdict(struct rules *r, const struct vcap_parsed *p, uint64_t now_ns)
{
	struct flow_ref ref;
	struct flow_key k;
	struct flow *e;

	if (!p->family || (!p->has_ports && proto_has_ports(p->proto)))
		return 0;
	key_make(&k, p->family, p->proto, p->saddr, p->sport, p->daddr, p->dport);
	e = flow_find(r, &k, &ref);
	if (!e)
		return 0;
	if (flow_expired(e, now_ns)) {
		flow_delete(r, &ref);
		return 0;
	}
	e->hits++;
	e->last_ns = now_ns;
	return e->action;
}

bool rules_pass(struct rules *r, const struct vcap_parsed *p, uint64_t now_ns)
{
	if (r->n_flows) {
		uint32_t v;

		r->now_ns = now_ns;
		v = flow_verdict(r, p, now_ns);
		if (v)
			return v == VCAP_PASS;
	}
	if (r->n_wild) {
		v2u64 key[KEY_VECS] = { 0 };

		memcpy(key, p, sizeof(*p));
		for (uint32_t i = 0; i < r->n_wild; i++) {
			struct wild *w = &r->wild[i];

			if (wild_match(w, key, p->sport, p->dport)) {
				w->hits++;
				return w->pass;
			}
		}
	}
	return r->default_pass;
}

void rules_expire(struct rules *r, uint64_t now_ns)
{
	uint64_t elapsed = now_ns > r->expire_ns ? now_ns - r->expire_ns : 0;
	uint64_t buckets = (uint64_t)r->cur.mask + 1;
	uint32_t budget;

	r->expire_ns = now_ns;
	if (now_ns > r->now_ns)
		r->now_ns = now_ns;
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
	if (r->old.b) {
		migrate(r, budget);
		return;
	}
	if (budget > buckets)
		budget = (uint32_t)buckets;
	while (budget-- && r->n_idle) {
		struct flow_ref ref = { &r->cur, r->cursor };

		/* a deletion shifts the next entry into the cursor's bucket: look again */
		if (r->cur.b[r->cursor].key.meta && flow_expired(&r->cur.b[r->cursor], now_ns))
			flow_delete(r, &ref);
		else
			r->cursor = (r->cursor + 1) & r->cur.mask;
	}
	flow_shrink_if_empty(r);
}
