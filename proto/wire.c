/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wire.c - rule and flow structs between API and wire form.
 */
#include "wire.h"

#include <string.h>

#define COPY_RULE(dst, src)                                               \
	do {                                                              \
		(dst)->id = (src)->id;                                    \
		(dst)->fields = (src)->fields;                            \
		(dst)->action = (src)->action;                            \
		memcpy((dst)->smac, (src)->smac, 6);                      \
		memcpy((dst)->dmac, (src)->dmac, 6);                      \
		(dst)->vlan = (src)->vlan;                                \
		(dst)->ethertype = (src)->ethertype;                      \
		(dst)->proto = (src)->proto;                              \
		(dst)->family = (src)->family;                            \
		(dst)->saddr_prefix = (src)->saddr_prefix;                \
		(dst)->daddr_prefix = (src)->daddr_prefix;                \
		memcpy((dst)->saddr, (src)->saddr, 16);                   \
		memcpy((dst)->daddr, (src)->daddr, 16);                   \
		(dst)->sport_lo = (src)->sport_lo;                        \
		(dst)->sport_hi = (src)->sport_hi;                        \
		(dst)->dport_lo = (src)->dport_lo;                        \
		(dst)->dport_hi = (src)->dport_hi;                        \
		(dst)->tcp_flags = (src)->tcp_flags;                      \
		(dst)->tcp_flags_mask = (src)->tcp_flags_mask;            \
	} while (0)

#define COPY_FLOW(dst, src)                               \
	do {                                              \
		(dst)->family = (src)->family;            \
		(dst)->proto = (src)->proto;              \
		(dst)->port_a = (src)->port_a;            \
		(dst)->port_b = (src)->port_b;            \
		memcpy((dst)->addr_a, (src)->addr_a, 16); \
		memcpy((dst)->addr_b, (src)->addr_b, 16); \
	} while (0)

void vcap_rule_to_wire(const struct vcap_rule *r, struct vcap_wire_rule *w)
{
	memset(w, 0, sizeof(*w));
	COPY_RULE(w, r);
}

void vcap_rule_from_wire(const struct vcap_wire_rule *w, struct vcap_rule *r)
{
	memset(r, 0, sizeof(*r));
	COPY_RULE(r, w);
}

void vcap_flow_to_wire(const struct vcap_flow *f, struct vcap_wire_flow *w)
{
	memset(w, 0, sizeof(*w));
	COPY_FLOW(w, f);
}

void vcap_flow_from_wire(const struct vcap_wire_flow *w, struct vcap_flow *f)
{
	memset(f, 0, sizeof(*f));
	COPY_FLOW(f, w);
}

#define COPY_FLOW_STAT(dst, src)                                  \
	do {                                                      \
		(dst)->action = (src)->action;                    \
		(dst)->idle_timeout_ms = (src)->idle_timeout_ms;  \
		(dst)->hits = (src)->hits;                        \
		(dst)->idle_ms = (src)->idle_ms;                  \
	} while (0)

void vcap_flow_stat_to_wire(const struct vcap_flow_stat *s, struct vcap_wire_flow_stat *w)
{
	memset(w, 0, sizeof(*w));
	vcap_flow_to_wire(&s->flow, &w->flow);
	COPY_FLOW_STAT(w, s);
}

void vcap_flow_stat_from_wire(const struct vcap_wire_flow_stat *w, struct vcap_flow_stat *s)
{
	memset(s, 0, sizeof(*s));
	vcap_flow_from_wire(&w->flow, &s->flow);
	COPY_FLOW_STAT(s, w);
}
