/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * capture.h - what a capture thread serves and how the control thread
 * changes it.
 *
 *   control thread                         one capture thread per source
 *   --------------                         (capture.c)
 *   creates and frees consumers,           takes batches from its backend,
 *   answers requests                       filters them per consumer
 *            |                             (deliver.c), copies them into
 *            |  mailbox (mailbox.c):       each consumer's ring, publishes,
 *            +--------------------------->  signals sleepers.  Never blocks
 *               attach / detach / refilter  on a consumer.
 *               / rules (roster.c); the
 *               control thread waits until
 *               the capture thread applied it
 */
#ifndef VCAP_DAEMON_CAPTURE_H
#define VCAP_DAEMON_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"
#include "source.h"

struct consumer;
struct filter;

/* ---- mailbox (mailbox.c) --------------------------------------------------- */

/*
 * Control thread: run fn(s, arg) on s's capture thread between two
 * batches, and wait until it has run.
 */
void mailbox_call(struct source *s, void (*fn)(struct source *s, void *arg), void *arg);
/* Capture thread: run all posted letters. */
void mailbox_apply(struct source *s);

/* ---- roster (roster.c): what a capture thread serves, changed by letters -- */

/*
 * Attach c (joining its cluster, if any).  @return 0, -EINVAL (cluster
 * mode differs) or -ENODATA (the source has ended), with err.
 */
int roster_attach(struct consumer *c, char *err, size_t err_len);
/* Detach c; afterwards the capture thread never touches it. */
void roster_detach(struct consumer *c);
/* Swap c's filter for f; @return the old one, to free. */
struct filter *roster_refilter(struct consumer *c, struct filter *f);
int roster_rule_add(struct consumer *c, const struct vcap_rule *r, char *err, size_t err_len);
int roster_rule_remove(struct consumer *c, uint32_t id);
int roster_rule_default(struct consumer *c, uint32_t action);
int roster_rule_hits(struct consumer *c, uint32_t id, uint64_t *hits);
int roster_flow_add(struct consumer *c, const struct vcap_flow *f, uint32_t action,
		    uint32_t idle_ms, uint64_t *applied_at, char *err, size_t err_len);
int roster_flow_remove(struct consumer *c, const struct vcap_flow *f, uint64_t *hits);
int roster_flow_hits(struct consumer *c, const struct vcap_flow *f, uint64_t *hits);
/*
 * A page of c's flow rules (rules_flow_list), and how many it has in all.
 * The capture thread fills out: the control thread never reads the table.
 * @return the entries filled.
 */
uint32_t roster_flow_list(struct consumer *c, uint64_t cursor, struct vcap_flow_stat *out,
			  uint32_t max, uint64_t *next, uint32_t *total);
/* Capture thread: after c's rules changed (or expired), refresh what depends on them. */
void roster_rules_changed(struct consumer *c);

/*
 * Upgrade (upgrade.c): park s's capture thread between two batches (all it
 * took from the backend judged, copied and published) and wait until it is;
 * unpark lets it go on.  Control thread only.
 */
void capture_park(struct source *s);
void capture_unpark(struct source *s);

/* ---- the packet path (deliver.c) ----------------------------------------- */

/* Filter lane's batch per consumer and copy what passes into each ring. */
void deliver(struct source *s, unsigned lane, struct vcap_pkt_meta *meta, const uint8_t **data,
	     unsigned n, uint64_t now_ns);
/* Lane 0: let idle flow rules expire, a bounded amount of work per call. */
void expire_rules(struct source *s, uint64_t now_ns);
/*
 * Lane 0: count n packets the backend left out before vcapd (ops->unwanted)
 * as received and filtered for every consumer (shunted too, for one with no
 * filter or policy: its rules' default dropped them); a cluster's members
 * share them in turn, as they would have shared the packets.
 */
void deliver_unwanted(struct source *s, uint64_t n);

#endif /* VCAP_DAEMON_CAPTURE_H */
