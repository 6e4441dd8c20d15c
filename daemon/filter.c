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

struct filter {
	struct bpf_program prog;
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
	*out = f;
	return 0;
}

bool filter_match(const struct filter *f, const struct vcap_pkt_meta *m, const uint8_t *data)
{
	return bpf_filter(f->prog.bf_insns, data, m->wirelen, m->caplen) != 0;
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
