/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wildcard.c - PF_RING-style wildcard rules: checking and compiling them,
 * and keeping them sorted by id; the match is inline in wildcard.h.
 *
 * Wildcard rules are compiled into a ternary match over the parsed packet
 * (what a TCAM does): struct vcap_parsed, padded to 64 bytes, is read as
 * KEY_VECS 16-byte vectors and a rule matches when (key & mask) == value
 * for each of them, plus two port ranges.  A rule costs the same dozen
 * vector instructions, without branches, whichever fields it names, and the
 * conditions a field implies (an address needs its family, a port needs a
 * transport header, TCP flags need TCP) are just more bytes under the mask.
 */
#include "wildcard.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "rule_common.h"

#define VCAP_RULE_ALL                                                                       \
	(VCAP_RULE_SMAC | VCAP_RULE_DMAC | VCAP_RULE_VLAN | VCAP_RULE_ETHERTYPE |           \
	 VCAP_RULE_PROTO | VCAP_RULE_SADDR | VCAP_RULE_DADDR | VCAP_RULE_SPORT |            \
	 VCAP_RULE_DPORT | VCAP_RULE_TCP_FLAGS)

#define VLAN_ID_MAX 4095

void wildcard_init(struct wildcard *ws, uint32_t max_rules)
{
	memset(ws, 0, sizeof(*ws));
	ws->max = max_rules;
}

void wildcard_free(struct wildcard *ws)
{
	free(ws->rule);
	ws->rule = NULL;
	ws->n = ws->cap = 0;
}

/* The index of rule id, or where it would go (and *found = false). */
static uint32_t wild_find(const struct wildcard *ws, uint32_t id, bool *found)
{
	uint32_t lo = 0, hi = ws->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (ws->rule[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < ws->n && ws->rule[lo].id == id;
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
		return rule_fail(err, err_len, -EINVAL, "%s_prefix: %u is over %u for IPv%u", name,
				 prefix, bits, family);
	/* the IPv4 test covers bytes 4..15 too: none of them is in the prefix */
	if (bits_past_prefix(addr, prefix, 16))
		return rule_fail(err, err_len, -EINVAL,
				 "%s: bits are set past the /%u prefix (or past the IPv4 address)",
				 name, prefix);
	return 0;
}

static int check_rule(const struct vcap_rule *w, char *err, size_t err_len)
{
	uint32_t f = w->fields;
	int rc;

	if (f & ~VCAP_RULE_ALL)
		return rule_fail(err, err_len, -EINVAL, "fields: unknown bits 0x%x",
				 f & ~VCAP_RULE_ALL);
	if (w->action != VCAP_PASS && w->action != VCAP_DROP)
		return rule_fail(err, err_len, -EINVAL,
				 "action: %u is neither VCAP_PASS (1) nor VCAP_DROP (2)",
				 w->action);
	if (w->pad[0] || w->pad[1])
		return rule_fail(err, err_len, -EINVAL, "pad: must be zero");
	if ((f & VCAP_RULE_VLAN) && w->vlan > VLAN_ID_MAX)
		return rule_fail(err, err_len, -EINVAL, "vlan: %u is over %u", w->vlan,
				 VLAN_ID_MAX);
	if (f & (VCAP_RULE_SADDR | VCAP_RULE_DADDR)) {
		if (w->family != 4 && w->family != 6)
			return rule_fail(err, err_len, -EINVAL,
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
		return rule_fail(err, err_len, -EINVAL, "sport: range %u..%u has lo > hi",
				 w->sport_lo, w->sport_hi);
	if ((f & VCAP_RULE_DPORT) && w->dport_lo > w->dport_hi)
		return rule_fail(err, err_len, -EINVAL, "dport: range %u..%u has lo > hi",
				 w->dport_lo, w->dport_hi);
	if ((f & (VCAP_RULE_SPORT | VCAP_RULE_DPORT)) && (f & VCAP_RULE_PROTO) &&
	    !proto_has_ports(w->proto))
		return rule_fail(err, err_len, -EINVAL,
				 "sport/dport: proto %u has no ports (only TCP, UDP, SCTP do)",
				 w->proto);
	if (f & VCAP_RULE_TCP_FLAGS) {
		if (w->tcp_flags & ~w->tcp_flags_mask)
			return rule_fail(err, err_len, -EINVAL,
					 "tcp_flags: bits 0x%02x are outside tcp_flags_mask 0x%02x",
					 w->tcp_flags & ~w->tcp_flags_mask, w->tcp_flags_mask);
		if ((f & VCAP_RULE_PROTO) && w->proto != IPPROTO_TCP_)
			return rule_fail(err, err_len, -EINVAL,
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

int wildcard_import(struct wildcard *ws, const struct wild *rules, uint32_t n)
{
	struct wild *copy;

	if (n > ws->max || ws->n)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t pass;

		/* a bool holding anything but 0 or 1 is not one this build wrote */
		memcpy(&pass, (const uint8_t *)&rules[i] + offsetof(struct wild, pass), 1);
		if (pass > 1 || (i && rules[i].id <= rules[i - 1].id))
			return -EINVAL;
	}
	if (!n)
		return 0;
	copy = malloc((size_t)n * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, rules, (size_t)n * sizeof(*copy));
	free(ws->rule);
	ws->rule = copy;
	ws->n = ws->cap = n;
	return 0;
}

int wildcard_add(struct wildcard *ws, const struct vcap_rule *rule, char *err, size_t err_len)
{
	uint32_t at;
	bool found;
	int rc;

	rc = check_rule(rule, err, err_len);
	if (rc)
		return rc;
	at = wild_find(ws, rule->id, &found);
	if (found)
		return rule_fail(err, err_len, -EEXIST, "id: rule %u exists", rule->id);
	if (ws->n >= ws->max)
		return rule_fail(err, err_len, -ENOSPC,
				 "too many rules: the limit is %u (max_rules)", ws->max);
	if (ws->n == ws->cap) {
		uint32_t cap = ws->cap ? 2 * ws->cap : 8;
		struct wild *w;

		if (cap > ws->max)
			cap = ws->max;
		w = realloc(ws->rule, cap * sizeof(*w));
		if (!w)
			return rule_fail(err, err_len, -ENOMEM, "rules: out of memory");
		ws->rule = w;
		ws->cap = cap;
	}
	memmove(&ws->rule[at + 1], &ws->rule[at], (ws->n - at) * sizeof(ws->rule[0]));
	compile_rule(rule, &ws->rule[at]);
	ws->n++;
	return 0;
}

int wildcard_remove(struct wildcard *ws, uint32_t id)
{
	bool found;
	uint32_t at = wild_find(ws, id, &found);

	if (!found)
		return -ENOENT;
	memmove(&ws->rule[at], &ws->rule[at + 1], (ws->n - at - 1) * sizeof(ws->rule[0]));
	ws->n--;
	return 0;
}

int wildcard_hits(const struct wildcard *ws, uint32_t id, uint64_t *hits)
{
	bool found;
	uint32_t at = wild_find(ws, id, &found);

	if (!found)
		return -ENOENT;
	*hits = ws->rule[at].hits;
	return 0;
}
