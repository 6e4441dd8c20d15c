/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cbpf_xdp.h - consumers' classic BPF filters (tcpdump syntax, compiled by
 * libpcap) turned into one eBPF program that runs in XDP, so that an xdp:
 * source leaves out what no consumer's filter accepts before the kernel
 * builds an skb for it.
 *
 * The kernel translates classic BPF into eBPF for its socket filters, but
 * not for anybody else; this does the same for an XDP program: A and X in
 * 32-bit registers, the scratch words on the stack, every packet load
 * checked against the packet's end the way the verifier wants it, and a
 * load past the end ending the program with "reject", as classic BPF does.
 * A program using something XDP has no counterpart for (the kernel's
 * ancillary loads, SKF_AD_*) is not translated: the caller then lets
 * everything through, and vcapd's own filter decides.
 *
 * The program built (vcapd tail-calls into it from vcap_xdp.bpf.c once a
 * packet has passed the rules' check): a packet any set accepts is
 * redirected to the AF_XDP socket of its queue; a packet none accepts is
 * counted in its CPU's slot of the counters' map as unwanted and dropped,
 * or passed to the stack (pass).
 */
#ifndef VCAP_SOURCE_CBPF_XDP_H
#define VCAP_SOURCE_CBPF_XDP_H

#include <stdbool.h>
#include <stddef.h>

struct sock_filter;   /* <linux/filter.h>: a classic instruction (libpcap's struct bpf_insn) */
struct bpf_insn;      /* <linux/bpf.h>: an eBPF instruction */

/* One consumer's classic program: accepts what it returns non-zero for. */
struct cbpf_prog {
	const struct sock_filter *insns;
	unsigned len;
};

/*
 * Write into out (cap instructions) an XDP program that takes a packet when
 * any of the n programs accepts it (xsks_fd: the XSKMAP to redirect to,
 * stats_fd: the counters, struct vcap_xdp_cpu_stats per CPU).
 * @return the instructions written; 0 when a program accepts every packet
 * (so no program is needed); or -EOPNOTSUPP (an instruction XDP has no
 * counterpart for), -EINVAL (not a valid program), -E2BIG, with err.
 */
int cbpf_xdp_build(const struct cbpf_prog *progs, unsigned n, int xsks_fd, int stats_fd,
		   bool pass, struct bpf_insn *out, unsigned cap, char *err, size_t err_len);

#endif /* VCAP_SOURCE_CBPF_XDP_H */
