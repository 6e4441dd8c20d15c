/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * filter.h - tcpdump-syntax filters, compiled by libpcap and run by its
 * BPF interpreter on the capture thread.
 */
#ifndef VCAP_DAEMON_FILTER_H
#define VCAP_DAEMON_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

struct bpf_insn;
struct filter;

int filter_compile(const char *text, uint32_t linktype, struct filter **out, char *err,
		   size_t err_len);
/*
 * A filter from instructions compiled elsewhere (bpfc.h: in a child
 * process), checked with libpcap's bpf_validate first.
 * @return 0, -EINVAL (not a valid program) or -ENOMEM.
 */
int filter_from_insns(const struct bpf_insn *insns, unsigned n, uint32_t linktype,
		      struct filter **out);
/*
 * Write "a and b" (either may be NULL) as one program into out (max
 * instructions), for the kernel: it takes one program, and recompiling
 * the text could take as long as the first compile did.
 * @return instructions written (0: both NULL), -E2BIG or -ENOTSUP.
 */
int filter_chain(const struct filter *a, const struct filter *b, struct bpf_insn *out,
		 unsigned max);
bool filter_match(const struct filter *f, const struct vcap_pkt_meta *m, const uint8_t *data);
void filter_free(struct filter *f);
/* BPF instructions of f (0: NULL), what it costs per packet at worst. */
unsigned filter_insns(const struct filter *f);
/*
 * Would a VLAN tag fool f (compiled from text)?  As in tcpdump, "tcp"
 * reads every frame as untagged; only the "vlan" keyword makes a filter
 * look past a tag.  @return true for an Ethernet filter that reads the
 * EtherType or beyond and does not say "vlan".
 */
bool filter_misses_vlan(const struct filter *f, const char *text);

/* Combine policy and own filter texts into one expression ("(a) and (b)"). */
void filter_and(char *out, size_t out_len, const char *a, const char *b);

#endif /* VCAP_DAEMON_FILTER_H */
