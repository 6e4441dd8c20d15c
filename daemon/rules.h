/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rules.h - a consumer's rule table: exact flow rules (flowtab.h) and
 * PF_RING-style wildcard rules (wildcard.h) with a default action,
 * evaluated by vcapd's capture thread before a packet is copied into the
 * consumer's ring (semantics in include/vcap.h).
 *
 * A struct rules belongs to one capture thread; the control thread changes
 * it only through the mailbox, so nothing here locks.
 */
#ifndef VCAP_DAEMON_RULES_H
#define VCAP_DAEMON_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"
#include "vcap.h"

struct rules;

struct rules_limits {
	uint32_t max_rules; /* wildcard rules */
	uint32_t max_flows; /* exact flow rules */
};

struct rules *rules_new(const struct rules_limits *limits);
void rules_free(struct rules *r);

/* Wildcard rules: what is refused, in wildcard_add() (wildcard.h). */
int rules_add(struct rules *r, const struct vcap_rule *rule, char *err, size_t err_len);
int rules_remove(struct rules *r, uint32_t id);                    /* 0 or -ENOENT */
int rules_set_default(struct rules *r, uint32_t action);           /* 0 or -EINVAL */
int rules_hits(const struct rules *r, uint32_t id, uint64_t *hits); /* 0 or -ENOENT */

/*
 * Flow rules: how a flow is named, when one replaces another and what an
 * add costs, in flowtab_add() and flowtab_remove() (flowtab.h).
 */
int rules_flow_add(struct rules *r, const struct vcap_flow *f, uint32_t action,
		   uint32_t idle_timeout_ms, uint64_t now_ns, char *err, size_t err_len);
int rules_flow_remove(struct rules *r, const struct vcap_flow *f, uint64_t *hits);
/* Hits of a live flow rule; a page of them for a listing: flowtab_hits(), flowtab_list(). */
int rules_flow_hits(struct rules *r, const struct vcap_flow *f, uint64_t now_ns, uint64_t *hits);
uint32_t rules_flow_list(const struct rules *r, uint64_t cursor, uint64_t now_ns,
			 struct vcap_flow_stat *out, uint32_t max, uint64_t *next);

/*
 * The verdict for one packet: true to deliver it.  First matching flow
 * rule, else first matching wildcard rule by id, else the default action;
 * counts a hit on the rule that decided and refreshes a flow rule's idle
 * timer.  A flow rule found idle past its timeout is removed, not applied.
 */
bool rules_pass(struct rules *r, const struct vcap_parsed *p, uint64_t now_ns);

/* True if rules_pass() would pass every packet (no rules, default pass). */
bool rules_trivial(const struct rules *r);

/*
 * Remove flow rules idle past their timeout, a bounded amount of work per
 * call: call it once per capture loop (flowtab_expire() in flowtab.h).
 */
void rules_expire(struct rules *r, uint64_t now_ns);

/*
 * Upgrade (upgrade.c): the wildcard rules as compiled (bytes this build
 * reads back, len of them) and the default action; and back in the new
 * process (into rules without any), flow rules one by one as a listing
 * gave them.  @return 0 or -errno (with err for a flow rule).
 */
const void *rules_wild_export(const struct rules *r, size_t *len);
bool rules_default_pass(const struct rules *r);
int rules_wild_import(struct rules *r, const void *bytes, size_t len, bool default_pass);
int rules_flow_restore(struct rules *r, const struct vcap_flow_stat *st, uint64_t now_ns,
		       char *err, size_t err_len);

uint32_t rules_count(const struct rules *r);
uint32_t rules_flow_count(const struct rules *r);

/*
 * For a filter that runs before vcapd (xdp:, daemon/want.c): r's compiled
 * wildcard rules, and the key of each of its flow rules.
 */
struct wildcard;
struct flow_key;
const struct wildcard *rules_wildcard(const struct rules *r);
void rules_each_flow(const struct rules *r, void (*fn)(void *arg, const struct flow_key *k),
		     void *arg);

#endif /* VCAP_DAEMON_RULES_H */
