/* SPDX-License-Identifier: (BSD-3-Clause OR GPL-2.0) */
/*
 * xdpgen.bpf.c - the XDP program behind bench/xdpgen: run by
 * BPF_PROG_RUN in live-frames mode, it turns the one template frame into
 * packet n of vcapsend's traffic mix and sends it out with XDP_TX, which a
 * test run turns into a redirect to the interface named as the packet's
 * ingress (veth1).  veth hands such frames to its peer as xdp_frames,
 * without an skb: as a NIC driver hands vcap's XDP program the pages it
 * received into.
 *
 * The headers come from user space, one entry per place in the mix
 * (xg_hdrs[k] for k = n % (2 * flows): flow k % flows, reverse when
 * k >= flows), written there by source/synth.c, so this program knows no
 * address or port of its own.  Per packet it adds what depends on n: the
 * first 8 payload bytes (n, little-endian, as synth writes them) and a UDP
 * checksum of 0 (none, which IPv4 allows: synth's covers the payload).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xdpgen_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2); /* user space sets 2 * flows before load */
	__type(key, __u32);
	__type(value, struct xdpgen_hdr);
} xg_hdrs SEC(".maps");

/* Set by user space before load: the entries of xg_hdrs. */
const volatile struct xdpgen_conf xg_conf = { .places = 2 };

/* The next packet's number, per CPU: each of xdpgen's threads, pinned to
 * a CPU of its own, sends packets 0, 1, 2, ... as a vcapsend process does. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xg_seq SEC(".maps");

SEC("xdp")
int xdpgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0, k;
	__u64 *seq = bpf_map_lookup_elem(&xg_seq, &zero), n;
	struct xdpgen_hdr *h;

	if (!seq || data + XDPGEN_HDR_LEN + 8 > end)
		return XDP_ABORTED;
	n = (*seq)++;
	k = (__u32)(n % xg_conf.places);
	h = bpf_map_lookup_elem(&xg_hdrs, &k);
	if (!h)
		return XDP_ABORTED;
	__builtin_memcpy(data, h->bytes, XDPGEN_HDR_LEN);
	*(__u16 *)(data + XDPGEN_UDP_CSUM) = 0;
	__builtin_memcpy(data + XDPGEN_HDR_LEN, &n, 8);
	return XDP_TX;
}

char _license[] SEC("license") = "Dual BSD/GPL";
