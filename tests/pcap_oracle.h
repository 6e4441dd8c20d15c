/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pcap_oracle.h - libpcap's compiler and interpreter for tests that also
 * need <linux/bpf.h>, whose struct bpf_insn (eBPF) clashes with libpcap's
 * (classic BPF): programs cross as struct sock_filter's bytes.
 */
#ifndef VCAP_TESTS_PCAP_ORACLE_H
#define VCAP_TESTS_PCAP_ORACLE_H

#include <stdint.h>

/* Compile text for Ethernet frames; @return a malloc'd program (len in *len) or NULL. */
void *oracle_compile(const char *text, unsigned *len);
/* libpcap's verdict: non-zero to accept the frame of len bytes. */
unsigned oracle_filter(const void *prog, const uint8_t *frame, uint32_t len);

#endif /* VCAP_TESTS_PCAP_ORACLE_H */
