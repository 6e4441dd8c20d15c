/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * filter.c - per-consumer packet filters in tcpdump syntax.
 *
 * libpcap compiles the expression for the source's link type; vcapd runs
 * the program on the capture thread before a packet is copied into the
 * consumer's ring, so a packet nobody wants never crosses into a guest.
 */
#include "filter.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETHERTYPE_OFF 12 /* where a VLAN tag goes: what follows moves 4 bytes */

struct filter {
	struct bpf_program prog;
	uint32_t linktype;
};

int filter_compile(const char *text, uint32_t linktype, struct filter **out, char *err,
		   size_t err_len)
{
	struct filter *f;
	pcap_t *p;

	*out = NULL;
	if (!text || !*text)
		return 0;
	p = pcap_open_dead((int)linktype, 65535);
	if (!p) {
		snprintf(err, err_len, "filter: out of memory");
		return -ENOMEM;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		pcap_close(p);
		snprintf(err, err_len, "filter: out of memory");
		return -ENOMEM;
	}
	if (pcap_compile(p, &f->prog, text, 1, PCAP_NETMASK_UNKNOWN)) {
		snprintf(err, err_len, "filter \"%s\": %s", text, pcap_geterr(p));
		pcap_close(p);
		free(f);
		return -EINVAL;
	}
	pcap_close(p);
	f->linktype = linktype;
	*out = f;
	return 0;
}

bool filter_match(const struct filter *f, const struct vcap_pkt_meta *m, const uint8_t *data)
{
	return bpf_filter(f->prog.bf_insns, data, m->wirelen, m->caplen) != 0;
}

static uint32_t load_size(uint16_t code)
{
	switch (BPF_SIZE(code)) {
	case BPF_W:
		return 4;
	case BPF_H:
		return 2;
	default:
		return 1;
	}
}

/*
 * libpcap compiles a filter without "vlan" for untagged frames: each load
 * at the EtherType or past it reads a tagged frame 4 bytes off (the tag's
 * TPID where the EtherType should be).  Loads of the MAC addresses alone
 * ("ether host ...") read the same either way.  Indexed loads (X + k, X
 * being an IP header's length) are always past it.
 */
bool filter_misses_vlan(const struct filter *f, const char *text)
{
	if (!f || f->linktype != DLT_EN10MB || strstr(text, "vlan"))
		return false;
	for (u_int i = 0; i < f->prog.bf_len; i++) {
		const struct bpf_insn *in = &f->prog.bf_insns[i];
		uint32_t cls = BPF_CLASS(in->code), mode = BPF_MODE(in->code);
		uint64_t end = (uint64_t)in->k + load_size(in->code); /* past the last byte read */

		if (cls != BPF_LD && cls != BPF_LDX)
			continue;
		if (mode == BPF_IND || ((mode == BPF_ABS || mode == BPF_MSH) && end > ETHERTYPE_OFF))
			return true;
	}
	return false;
}

unsigned filter_insns(const struct filter *f)
{
	return f ? f->prog.bf_len : 0;
}

void filter_free(struct filter *f)
{
	if (!f)
		return;
	pcap_freecode(&f->prog);
	free(f);
}

void filter_and(char *out, size_t out_len, const char *a, const char *b)
{
	if (*a && *b)
		snprintf(out, out_len, "(%s) and (%s)", a, b);
	else
		snprintf(out, out_len, "%s", *a ? a : b);
}
