/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wildcard.h - PF_RING-style wildcard rules: a set of rules, each compiled
 * to a mask-and-value match over the parsed packet, tried by increasing id
 * until one matches (semantics in include/vcap.h, compilation in
 * wildcard.c).
 *
 * The match itself is here, inline, because rules_pass() runs it on every
 * packet: a call per packet would cost about as much as a rule.  A struct
 * wildcard belongs to one capture thread; nothing here locks.
 */
#ifndef VCAP_DAEMON_WILDCARD_H
#define VCAP_DAEMON_WILDCARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "parse.h"
#include "vcap.h"

/*
 * The ternary key: struct vcap_parsed in four 16-byte vectors (GCC vector
 * extensions: SSE2 on x86-64, NEON on arm64, plain words elsewhere).  The
 * ports are in the key but never under a mask: ranges are checked apart.
 */
typedef uint64_t v2u64 __attribute__((vector_size(16)));
#define KEY_VECS 4
#define KEY_BYTES (KEY_VECS * sizeof(v2u64))
_Static_assert(sizeof(struct vcap_parsed) <= KEY_BYTES, "struct vcap_parsed outgrew the key");

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

/* Embedded in its owner (struct rules): init and free do not allocate it. */
struct wildcard {
	struct wild *rule; /* sorted by id */
	uint32_t n, cap;
	uint32_t max; /* max_rules */
};

void wildcard_init(struct wildcard *ws, uint32_t max_rules);
void wildcard_free(struct wildcard *ws);

/*
 * Fields `fields` does not name are not looked at (pad must be 0).  Besides
 * values out of range, a rule is refused for address bits set past its
 * prefix (a likely mistake) and for ports or TCP flags together with a proto
 * that has none (it could never match).
 * @return 0, -EEXIST, -EINVAL, -ENOSPC or -ENOMEM, with err saying which
 * field or limit.
 */
int wildcard_add(struct wildcard *ws, const struct vcap_rule *rule, char *err, size_t err_len);
int wildcard_remove(struct wildcard *ws, uint32_t id);                    /* 0 or -ENOENT */
int wildcard_hits(const struct wildcard *ws, uint32_t id, uint64_t *hits); /* 0 or -ENOENT */

/*
 * Upgrade (upgrade.c): the compiled rules as they are (n of them, sorted by
 * id), and back in another process of the same build.  Import checks the
 * order, the limit and the flags.  @return 0, -EINVAL or -ENOMEM.
 */
int wildcard_import(struct wildcard *ws, const struct wild *rules, uint32_t n);

static inline uint32_t wildcard_count(const struct wildcard *ws)
{
	return ws->n;
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

/*
 * The verdict of the first rule by id that matches p, VCAP_PASS or
 * VCAP_DROP, counting a hit on it; 0 when none does.
 */
static inline uint32_t wildcard_verdict(struct wildcard *ws, const struct vcap_parsed *p)
{
	if (ws->n) {
		v2u64 key[KEY_VECS] = { 0 };

		memcpy(key, p, sizeof(*p));
		for (uint32_t i = 0; i < ws->n; i++) {
			struct wild *w = &ws->rule[i];

			if (wild_match(w, key, p->sport, p->dport)) {
				w->hits++;
				return w->pass ? VCAP_PASS : VCAP_DROP;
			}
		}
	}
	return 0;
}

#endif /* VCAP_DAEMON_WILDCARD_H */
