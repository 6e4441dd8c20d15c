/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_parse.c - the per-packet path of a capture thread on arbitrary
 * frames: vcap_parse() (source/parse.c), the symmetric flow hash
 * (source/flowhash.c) and a consumer's rules (daemon/rules.c).
 *
 * Attacks: what vcapd runs on every packet a wire, a pcap file or a guest's
 * traffic brings, before any consumer sees it.  The input is one Ethernet
 * frame of any length, placed at the very end of an exact-size allocation,
 * so that AddressSanitizer reports a read even one byte past caplen.
 *
 * Asserts, beyond "no crash, no read past caplen":
 *   - the parse is well-formed as parse.h describes it: family 0, 4 or 6;
 *     ports only for a whole TCP/UDP/SCTP header of an unfragmented
 *     packet; TCP flags only with TCP ports; a VLAN id below 4096 or none;
 *     nothing set for a layer that was not read (an IPv4 address has 12
 *     zero bytes after it; no IP, no addresses and no proto);
 *   - cutting the frame short never invents a field: every header field a
 *     shorter capture of the same frame reports (MACs, VLAN, EtherType,
 *     family and addresses, fragment, ports, proto with them, TCP flags)
 *     has the same value in the whole frame's parse;
 *   - vcap_flow_hash() of the frame equals vcap_flow_hash_parsed() of its
 *     parse, is never 0, and is symmetric: the reverse packet (addresses,
 *     ports and MACs swapped) hashes alike, for 2-, 4- and 5-tuples;
 *   - rules_pass() with a fixed set of wildcard and flow rules gives the
 *     verdict of a plain reference model written from vcap.h's semantics
 *     (first flow rule of either direction, else wildcard rules by id, else
 *     the default), for the packet and for its reverse, and counts the hit
 *     on the wildcard rule that decided.
 */
#include <stdbool.h>

#include "flowhash.h"
#include "fuzz.h"
#include "parse.h"
#include "rules.h"

/* ---- the fixed rule set, and a reference judge for it --------------------- */

struct ref_wild {
	struct vcap_rule rule;
	bool (*match)(const struct vcap_parsed *p);
};

static bool is_ip(const struct vcap_parsed *p)
{
	return p->family == 4 || p->family == 6;
}

static bool w5(const struct vcap_parsed *p) { return p->vlan == 4095; }
static bool w10(const struct vcap_parsed *p) { return p->vlan == 7; }
static bool w20(const struct vcap_parsed *p)
{
	return is_ip(p) && p->proto == 6 && p->has_ports && (p->tcp_flags & 0x12) == 0x02;
}
static bool w30(const struct vcap_parsed *p)
{
	return p->family == 4 && p->saddr[0] == 10 && p->saddr[1] == 1 && p->has_ports &&
	       p->dport >= 50 && p->dport <= 100;
}
static bool w40(const struct vcap_parsed *p)
{
	return p->family == 6 && p->daddr[0] == 0xfd && p->daddr[1] == 0 && p->has_ports &&
	       p->sport >= 1024 && p->sport <= 2047;
}
static bool w50(const struct vcap_parsed *p)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	return p->ethertype == 0x0806 && !memcmp(p->dmac, bcast, 6);
}
static bool w60(const struct vcap_parsed *p) { return is_ip(p) && p->proto == 0; }
static bool w70(const struct vcap_parsed *p)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };

	return !memcmp(p->smac, mac, 6);
}
static bool w80(const struct vcap_parsed *p) { return p->has_ports && p->sport == 53; }
static bool w90(const struct vcap_parsed *p)
{
	return p->family == 4 && p->proto == 17 && p->daddr[0] == 10 && p->daddr[1] == 2 &&
	       p->daddr[2] == 0;
}
static bool w100(const struct vcap_parsed *p) { return p->vlan == 0; }
static bool w110(const struct vcap_parsed *p) { return p->family == 6; }
static bool w120(const struct vcap_parsed *p)
{
	return is_ip(p) && p->proto == 6 && p->has_ports && (p->tcp_flags & 1);
}

#define R(ID, FIELDS, ACTION, ...) { .id = ID, .fields = FIELDS, .action = ACTION, __VA_ARGS__ }

/* Ids out of order on purpose: evaluation is by id, not by insertion. */
static const struct ref_wild wilds[] = {
	{ R(120, VCAP_RULE_TCP_FLAGS, VCAP_DROP, .tcp_flags = 1, .tcp_flags_mask = 1), w120 },
	{ R(10, VCAP_RULE_VLAN, VCAP_DROP, .vlan = 7), w10 },
	/* the highest id a tag can carry: untagged frames (no VLAN) must not match it */
	{ R(5, VCAP_RULE_VLAN, VCAP_PASS, .vlan = 4095), w5 },
	{ R(20, VCAP_RULE_PROTO | VCAP_RULE_TCP_FLAGS, VCAP_PASS, .proto = 6, .tcp_flags = 0x02,
	    .tcp_flags_mask = 0x12), w20 },
	{ R(30, VCAP_RULE_SADDR | VCAP_RULE_DPORT, VCAP_DROP, .family = 4, .saddr = { 10, 1 },
	    .saddr_prefix = 16, .dport_lo = 50, .dport_hi = 100), w30 },
	{ R(40, VCAP_RULE_DADDR | VCAP_RULE_SPORT, VCAP_PASS, .family = 6, .daddr = { 0xfd },
	    .daddr_prefix = 16, .sport_lo = 1024, .sport_hi = 2047), w40 },
	{ R(50, VCAP_RULE_ETHERTYPE | VCAP_RULE_DMAC, VCAP_DROP, .ethertype = 0x0806,
	    .dmac = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }), w50 },
	{ R(60, VCAP_RULE_PROTO, VCAP_DROP, .proto = 0), w60 },
	{ R(70, VCAP_RULE_SMAC, VCAP_PASS, .smac = { 2, 0, 0, 0, 0, 1 }), w70 },
	{ R(80, VCAP_RULE_SPORT, VCAP_DROP, .sport_lo = 53, .sport_hi = 53), w80 },
	{ R(90, VCAP_RULE_DADDR | VCAP_RULE_PROTO, VCAP_PASS, .family = 4, .daddr = { 10, 2 },
	    .daddr_prefix = 24, .proto = 17), w90 },
	{ R(100, VCAP_RULE_VLAN, VCAP_PASS, .vlan = 0), w100 },
	{ R(110, VCAP_RULE_SADDR, VCAP_DROP, .family = 6, .saddr_prefix = 0), w110 },
};
#define N_WILD (sizeof(wilds) / sizeof(wilds[0]))

/* Flow rules: the generator's flows 0 (IPv4 UDP) and 3 (IPv6 TCP), and port-less ones. */
static const struct {
	struct vcap_flow f;
	uint32_t action;
} flows[] = {
	{ { 4, 17, 1024, 53, 0, { 10, 1, 0, 0 }, { 10, 2, 0, 1 } }, VCAP_DROP },
	{ { 6, 6, 1027, 22, 0, { 0xfd, 0, [10] = 0, 1, 0, 0, 0, 3 }, { 0xfd, 0, [13] = 2, 0, 4 } },
	  VCAP_PASS },
	{ { 4, 1, 0, 0, 0, { 10, 9, 9, 9 }, { 10, 8, 8, 8 } }, VCAP_PASS },
	{ { 6, 132, 9, 10, 0, { 0xfd, [15] = 5 }, { 0xfd, [15] = 6 } }, VCAP_DROP },
	{ { 4, 0, 0, 0, 0, { 10, 0, 0, 1 }, { 10, 0, 0, 2 } }, VCAP_DROP },
};
#define N_FLOWS (sizeof(flows) / sizeof(flows[0]))

#define DEFAULT_ACTION VCAP_DROP

static bool has_ports_proto(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

static bool flow_names(const struct vcap_flow *f, const struct vcap_parsed *p)
{
	uint16_t sp = p->has_ports ? p->sport : 0, dp = p->has_ports ? p->dport : 0;

	if (p->family != f->family || p->proto != f->proto)
		return false;
	/* a TCP/UDP/SCTP rule needs the ports; its fragments have none */
	if (has_ports_proto(p->proto) && !p->has_ports)
		return false;
	return (!memcmp(p->saddr, f->addr_a, 16) && !memcmp(p->daddr, f->addr_b, 16) &&
		sp == f->port_a && dp == f->port_b) ||
	       (!memcmp(p->saddr, f->addr_b, 16) && !memcmp(p->daddr, f->addr_a, 16) &&
		sp == f->port_b && dp == f->port_a);
}

/* The reference verdict; *rule_id: the wildcard rule that decided, or 0. */
static bool ref_pass(const struct vcap_parsed *p, uint32_t *rule_id)
{
	const struct ref_wild *best = NULL;

	*rule_id = 0;
	for (size_t i = 0; i < N_FLOWS; i++)
		if (flow_names(&flows[i].f, p))
			return flows[i].action == VCAP_PASS;
	for (size_t i = 0; i < N_WILD; i++)
		if (wilds[i].match(p) && (!best || wilds[i].rule.id < best->rule.id))
			best = &wilds[i];
	if (best) {
		*rule_id = best->rule.id;
		return best->rule.action == VCAP_PASS;
	}
	return DEFAULT_ACTION == VCAP_PASS;
}

static struct rules *rules;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct rules_limits lim = { .max_rules = 64, .max_flows = 64 };
	char err[256];

	(void)argc;
	(void)argv;
	rules = rules_new(&lim);
	FUZZ_CHECK(rules, "rules_new");
	for (size_t i = 0; i < N_WILD; i++)
		FUZZ_CHECK(rules_add(rules, &wilds[i].rule, err, sizeof(err)) == 0, "rule %u: %s",
			   wilds[i].rule.id, err);
	for (size_t i = 0; i < N_FLOWS; i++)
		FUZZ_CHECK(rules_flow_add(rules, &flows[i].f, flows[i].action, 0, 1, err,
					  sizeof(err)) == 0,
			   "flow %zu: %s", i, err);
	FUZZ_CHECK(rules_set_default(rules, DEFAULT_ACTION) == 0, "default");
	return 0;
}

/* ---- properties ------------------------------------------------------------ */

static void check_shape(const struct vcap_parsed *p)
{
	static const uint8_t zero[16];

	FUZZ_CHECK(p->family == 0 || p->family == 4 || p->family == 6, "family %u", p->family);
	FUZZ_CHECK(p->vlan == VCAP_PARSED_NO_VLAN || p->vlan < 4096, "vlan %u", p->vlan);
	FUZZ_CHECK(!memcmp(p->pad, zero, sizeof(p->pad)), "pad set");
	if (p->has_ports)
		FUZZ_CHECK(p->has_ports == 1 && is_ip(p) && !p->fragment &&
				   has_ports_proto(p->proto),
			   "ports on family %u proto %u fragment %u", p->family, p->proto,
			   p->fragment);
	else
		FUZZ_CHECK(!p->sport && !p->dport && !p->tcp_flags, "port fields without ports");
	if (p->tcp_flags)
		FUZZ_CHECK(p->proto == 6, "TCP flags on proto %u", p->proto);
	if (p->family == 4)
		FUZZ_CHECK(!memcmp(p->saddr + 4, zero, 12) && !memcmp(p->daddr + 4, zero, 12),
			   "IPv4 address spills");
	if (!p->family)
		FUZZ_CHECK(!memcmp(p->saddr, zero, 16) && !memcmp(p->daddr, zero, 16) &&
				   !p->proto && !p->fragment,
			   "IP fields without IP");
}

/* What a cut-short capture reports, the whole frame must report alike. */
static void check_prefix(const struct vcap_parsed *s, const struct vcap_parsed *w, uint32_t k)
{
	if (k >= 12)
		FUZZ_CHECK(!memcmp(s->dmac, w->dmac, 6) && !memcmp(s->smac, w->smac, 6),
			   "MACs of %u bytes differ", k);
	if (s->vlan != VCAP_PARSED_NO_VLAN)
		FUZZ_CHECK(s->vlan == w->vlan, "vlan of %u bytes: %u, whole: %u", k, s->vlan,
			   w->vlan);
	if (s->ethertype)
		FUZZ_CHECK(s->ethertype == w->ethertype, "ethertype of %u bytes differs", k);
	if (s->family)
		FUZZ_CHECK(s->family == w->family && !memcmp(s->saddr, w->saddr, 16) &&
				   !memcmp(s->daddr, w->daddr, 16),
			   "IP of %u bytes differs", k);
	if (s->fragment)
		FUZZ_CHECK(w->fragment, "fragment at %u bytes only", k);
	if (s->has_ports)
		FUZZ_CHECK(w->has_ports && s->sport == w->sport && s->dport == w->dport &&
				   s->proto == w->proto && s->tcp_flags == w->tcp_flags,
			   "ports of %u bytes differ", k);
}

static void reverse(const struct vcap_parsed *p, struct vcap_parsed *r)
{
	*r = *p;
	memcpy(r->dmac, p->smac, 6);
	memcpy(r->smac, p->dmac, 6);
	memcpy(r->saddr, p->daddr, 16);
	memcpy(r->daddr, p->saddr, 16);
	r->sport = p->dport;
	r->dport = p->sport;
}

static void check_hashes(const uint8_t *frame, uint32_t len, const struct vcap_parsed *p)
{
	static const int tuples[] = { VCAP_HASH_2TUPLE, VCAP_HASH_4TUPLE, VCAP_HASH_5TUPLE };
	struct vcap_parsed r;

	reverse(p, &r);
	for (size_t i = 0; i < 3; i++) {
		uint32_t h = vcap_flow_hash_parsed(p, tuples[i]);

		FUZZ_CHECK(h != 0, "hash 0");
		FUZZ_CHECK(vcap_flow_hash(frame, len, tuples[i]) == h, "hash of the frame differs");
		FUZZ_CHECK(vcap_flow_hash_parsed(&r, tuples[i]) == h, "%d-tuple hash not symmetric",
			   tuples[i]);
	}
}

static void check_rules(const struct vcap_parsed *p)
{
	uint32_t id;
	uint64_t before = 0, after = 0;
	bool want = ref_pass(p, &id), got;

	if (id)
		FUZZ_CHECK(rules_hits(rules, id, &before) == 0, "rule %u vanished", id);
	got = rules_pass(rules, p, 1000);
	FUZZ_CHECK(got == want, "rules say %s, reference %s (rule %u)", got ? "pass" : "drop",
		   want ? "pass" : "drop", id);
	if (id) {
		FUZZ_CHECK(rules_hits(rules, id, &after) == 0 && after == before + 1,
			   "rule %u decided but its hits went %llu -> %llu", id,
			   (unsigned long long)before, (unsigned long long)after);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t len = size > 65535 ? 65535 : (uint32_t)size;
	uint8_t *frame = fuzz_tail_copy(data, len);
	struct vcap_parsed p, s, r;

	vcap_parse(frame, len, &p);
	check_shape(&p);
	check_hashes(frame, len, &p);
	check_rules(&p);
	reverse(&p, &r);
	check_rules(&r);

	/*
	 * Every shorter capture of the same frame, each again at the end of
	 * its own allocation; for long frames a spread of them (every
	 * header boundary lies in the first 256 bytes, the rest are payload).
	 */
	for (uint32_t k = 0; k < len; k += k < 256 ? 1 : 97) {
		uint8_t *cut = fuzz_tail_copy(data, k);

		vcap_parse(cut, k, &s);
		check_shape(&s);
		check_prefix(&s, &p, k);
		free(cut);
	}
	vcap_parse(NULL, 0, &s);
	check_shape(&s);
	FUZZ_CHECK(!s.ethertype && s.vlan == VCAP_PARSED_NO_VLAN, "the parse of nothing");
	free(frame);
	return 0;
}
