/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * want.h - what the consumers of a source may want, for a backend that
 * filters before vcapd sees a packet (xdp:, in its XDP program).
 *
 * A superset, built only from what such a filter can match exactly: the
 * consumers' wildcard and flow rules, compiled as vcapd runs them.  A
 * consumer whose rules' default is pass may want anything (its BPF filter
 * and its tenant's policy are not looked at: vcapd still runs them), so it
 * makes the whole source want everything.  A consumer whose default is
 * drop wants what any of its rules names, drop rules included: a drop
 * rule's hit counter must still see its packets.  So a packet left out is
 * one that every consumer's rules would have dropped by default, which is
 * why it counts as filtered for each of them (deliver_unwanted()).
 *
 * Then the consumers' BPF filters (and tenants' policies), translated to
 * run in XDP (source/cbpf_xdp.h): a packet that passed the rules' check
 * goes on only if some consumer's filter accepts it.  The two checks are
 * each a union over the consumers, so their conjunction is a superset of
 * the union of each consumer's own conjunction: exact when the consumers
 * use either rules or filters, generous when they mix them.
 */
#ifndef VCAP_DAEMON_WANT_H
#define VCAP_DAEMON_WANT_H

#include <stdbool.h>

#include "xdp_abi.h"

struct bpf_insn;
struct cbpf_prog;
struct source;
struct vcap_flow;

struct want {
	/*
	 * The consumers' BPF filters, each chained with its tenant's policy
	 * (filter_chain()), each distinct one once: a packet none accepts is
	 * nobody's.  n_progs 0: some consumer has neither (or one XDP cannot
	 * run), so the filters leave nothing out.  Checked after the rules.
	 */
	struct cbpf_prog *progs;
	unsigned n_progs, cap_progs;
	struct bpf_insn *insns; /* libpcap's: the programs' instructions */
	unsigned n_insns, cap_insns;
	bool all;
	struct vcap_xdp_wild *wild; /* each distinct rule once */
	unsigned n_wild, cap_wild;
	struct vcap_xdp_flow *flows; /* may repeat */
	unsigned n_flows, cap_flows;
};

/*
 * Fill w from s's active consumers (with every lane stopped).  Out of
 * memory, or more rules than an early filter holds, gives all.
 */
void want_compute(const struct source *s, struct want *w);
void want_free(struct want *w);

/* The key an early filter looks a flow rule up by (flowtab.h's, the same bytes). */
void want_flow_key(const struct vcap_flow *f, struct vcap_xdp_flow *out);

#endif /* VCAP_DAEMON_WANT_H */
