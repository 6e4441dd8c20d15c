/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xdp_prog.h - vcap's XDP program (vcap_xdp.bpf.c, built into vcapd) on
 * one interface: attach it through libxdp, tell it which queues have a
 * socket and what consumers may want, read what it left out.
 *
 * libxdp runs it in its dispatcher beside other XDP programs where the
 * kernel allows program extensions (freplace); where it does not, libxdp
 * attaches it alone, and attaching refuses rather than replace another
 * program already on the interface.
 */
#ifndef VCAP_SOURCE_XDP_PROG_H
#define VCAP_SOURCE_XDP_PROG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xdp_abi.h"

struct vcap_xdp_prog;

/*
 * Attach to ifname in native (driver) mode, or generic (skb) mode.  It
 * starts taking nothing (no sockets) and wanting nothing.
 * @return 0, or -errno with err naming the interface, the mode, what the
 * kernel or libxdp refused, and the fallback.
 */
int vcap_xdp_prog_attach(struct vcap_xdp_prog **out, const char *ifname, bool generic,
			 char *err, size_t err_len);

/* Queue's packets go to socket fd (fd < 0: nowhere any more).  @return 0 or -errno. */
int vcap_xdp_prog_socket(struct vcap_xdp_prog *p, uint32_t queue, int fd);

/* Unwanted packets: to the kernel's stack (pass) or dropped. */
void vcap_xdp_prog_set_pass(struct vcap_xdp_prog *p, bool pass);

/*
 * What consumers may want: everything, or the packets n_wild wildcard
 * rules and n_flows flow rules name (duplicates allowed).  Wider first,
 * then narrower: no packet some consumer wants in both the old and the new
 * set is ever left out.  More rules than the maps hold: everything.
 * @return 0, or -errno (the flow map refused an entry: then everything).
 */
int vcap_xdp_prog_want(struct vcap_xdp_prog *p, bool all, const struct vcap_xdp_wild *wild,
		       unsigned n_wild, const struct vcap_xdp_flow *flows, unsigned n_flows);
/* One more flow rule (nothing else changed): cheaper than vcap_xdp_prog_want(). */
int vcap_xdp_prog_want_flow(struct vcap_xdp_prog *p, const struct vcap_xdp_flow *flow);

/*
 * The consumers' BPF filters (classic, from libpcap; cbpf_xdp.h): after the
 * rules' check, a packet goes on only if one of the n accepts it.  n == 0:
 * no filter runs (some consumer has none).  The same programs as now cost
 * nothing.  @return 1: they run in XDP; 0: none runs (none given, or one
 * accepts everything); -errno with err: a program that cannot be
 * translated, or that the verifier refused, and none runs (vcapd filters
 * alone).
 */
struct cbpf_prog;
int vcap_xdp_prog_filters(struct vcap_xdp_prog *p, const struct cbpf_prog *progs, unsigned n,
			  char *err, size_t err_len);

/* Packets left out as unwanted since attach, all CPUs. */
uint64_t vcap_xdp_prog_unwanted(const struct vcap_xdp_prog *p);
/* Through libxdp's dispatcher (beside other programs), or alone. */
bool vcap_xdp_prog_shared(const struct vcap_xdp_prog *p);
void vcap_xdp_prog_detach(struct vcap_xdp_prog *p);

#endif /* VCAP_SOURCE_XDP_PROG_H */
