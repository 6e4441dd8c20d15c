/* SPDX-License-Identifier: BSD-3-Clause */
/* pcap_oracle.c - libpcap's compiler and interpreter, alone in their file (pcap_oracle.h). */
#include "pcap_oracle.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *oracle_compile(const char *text, unsigned *len)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	struct bpf_program prog;
	void *copy = NULL;

	if (p && pcap_compile(p, &prog, text, 1, PCAP_NETMASK_UNKNOWN) == 0) {
		copy = malloc(prog.bf_len * sizeof(*prog.bf_insns));
		if (copy)
			memcpy(copy, prog.bf_insns, prog.bf_len * sizeof(*prog.bf_insns));
		*len = prog.bf_len;
		pcap_freecode(&prog);
	} else {
		fprintf(stderr, "compile %s: %s\n", text, p ? pcap_geterr(p) : "no pcap");
	}
	if (p)
		pcap_close(p);
	return copy;
}

unsigned oracle_filter(const void *prog, const uint8_t *frame, uint32_t len)
{
	return bpf_filter(prog, frame, len, len);
}
