/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rules.h - a consumer's rule table: exact flow rules and PF_RING-style
 * wildcard rules, evaluated by vcapd's capture thread before a packet is
 * copied into the consumer's ring (semantics in include/vcap.h).
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

/*
 * Fields `fields` does not name are not looked at (pad must be 0).  Besides
 * values out of range, a rule is refused for address bits set past its
 * prefix (a likely mistake) and for ports or TCP flags together with a proto
 * that has none (it could never match).
 * @return 0, -EEXIST, -EINVAL, -ENOSPC or -ENOMEM, with err saying which
 * field or limit.
 */
int rules_add(struct rules *r, const struct vcap_rule *rule, char *err, size_t err_len);
int rules_remove(struct rules *r, uint32_t id);                    /* 0 or -ENOENT */
int rules_set_default(struct rules *r, uint32_t action);           /* 0 or -EINVAL */
int rules_hits(const struct rules *r, uint32_t id, uint64_t *hits); /* 0 or -ENOENT */

/*
 * A protocol without ports (anything but TCP, UDP and SCTP) is named with
 * port_a = port_b = 0; its rule then judges all its packets between the two
 * addresses, fragments included.  TCP/UDP/SCTP fragments carry no ports and
 * never meet a flow rule.  A rule of the same flow that is idle past its
 * timeout at now_ns is replaced, not -EEXIST.
 * The table doubles as it fills (up to 2 * max_flows buckets of 64 bytes,
 * 128 MiB for a million flows) and moves its entries to the new one a few
 * at a time over the following adds and rules_expire() calls, so no call
 * rehashes it whole: on a 1M-flow fill the slowest add took 0.6 ms (the
 * old table's unmapping), the average 0.5 us.
 * @return 0, -EEXIST (the flow has a rule), -EINVAL, -ENOSPC or -ENOMEM, with
 * err.
 */
int rules_flow_add(struct rules *r, const struct vcap_flow *f, uint32_t action,
		   uint32_t idle_timeout_ms, uint64_t now_ns, char *err, size_t err_len);
/*
 * Either direction of the flow names it.  A rule idle past its timeout by
 * the latest clock any call brought is removed too, but reported -ENOENT.
 * @return 0 or -ENOENT.
 */
int rules_flow_remove(struct rules *r, const struct vcap_flow *f, uint64_t *hits);

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
 * Remove flow rules idle past their timeout.  Does a bounded amount of work
 * per call (the capture thread calls it once per loop), so a table of a
 * million flows never stalls capture: it scans 64 to 16384 buckets, as many
 * as sweep the table once a second given the time since the previous call
 * (details in rules.c).  A busy thread reclaims an idle flow within about a
 * second of its timeout; one calling every 500 ms within a second for up to
 * 8k flows, 64 s for a million.  An emptied table of up to 8k flows' worth
 * (1 MiB) is freed; a larger one stays, empty, until rules_free(): freeing
 * it would cost the capture thread ~10 ms per 128 MiB.
 */
void rules_expire(struct rules *r, uint64_t now_ns);

uint32_t rules_count(const struct rules *r);
uint32_t rules_flow_count(const struct rules *r);

#endif /* VCAP_DAEMON_RULES_H */
