/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * direct.c - handles on the caller's own interface ("eth0"): TPACKET_V3
 * through source/afpacket.h, no daemon.  Filters run in the kernel
 * (SO_ATTACH_FILTER), so the early-filtering promise holds here too.
 *
 * TPACKET_V3 wakes a reader per block (full, or retired by its timeout),
 * so the watermark has no meaning here; timeout_ms becomes the block
 * timeout.
 */
#include "internal.h"

#include <errno.h>
#include <linux/filter.h>
#include <pcap/pcap.h>
#include <string.h>

#include "afpacket.h"

static int direct_recv_burst(struct vcap *h, struct vcap_pkt *pkts, unsigned n, int timeout_ms)
{
	int64_t deadline = timeout_ms > 0 ? vcap_mono_ms() + timeout_ms : -1;
	bool last = timeout_ms == 0;
	struct vcap_pkt_meta meta[64];
	const uint8_t *data[64];

	if (n > 64)
		n = 64;
	if (vcap_take_break(h))
		return vcap_set_err(-EINTR, "%s: interrupted by vcap_breakloop()", h->device);
	for (;;) {
		int got, ev;

		vcap_afp_release(h->afp); /* blocks of the previous burst go back */
		got = vcap_afp_read(h->afp, meta, data, n);
		for (int i = 0; i < got; i++)
			pkts[i] = (struct vcap_pkt){ .data = data[i],
						     .ts_ns = meta[i].ts_ns,
						     .caplen = meta[i].caplen,
						     .wirelen = meta[i].wirelen,
						     .ifindex = meta[i].ifindex };
		if (got || last)
			return got;
		ev = vcap_ev_poll(h, vcap_ms_left(deadline));
		if (ev < 0)
			return vcap_set_err(ev, "%s: epoll_wait: %s", h->device, strerror(-ev));
		if (ev & VCAP_EV_BREAK)
			return vcap_set_err(-EINTR, "%s: interrupted by vcap_breakloop()", h->device);
		if (ev & VCAP_EV_SIGNAL)
			return vcap_set_err(-EINTR, "%s: interrupted by a signal", h->device);
		last = deadline >= 0 && vcap_ms_left(deadline) == 0;
	}
}

static int direct_set_filter(struct vcap *h, const char *filter)
{
	struct bpf_program prog;
	struct sock_fprog fprog;
	pcap_t *p;
	int rc;

	if (!*filter) {
		rc = vcap_afp_set_filter(h->afp, NULL);
		return rc ? vcap_set_err(rc, "%s: detach filter: %s", h->device, strerror(-rc)) : 0;
	}
	p = pcap_open_dead(DLT_EN10MB, (int)h->info.snaplen);
	if (!p)
		return vcap_set_err(-ENOMEM, "%s: out of memory", h->device);
	if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN)) {
		rc = vcap_set_err(-EINVAL, "filter \"%s\": %s", filter, pcap_geterr(p));
		pcap_close(p);
		return rc;
	}
	pcap_close(p);
	/* libpcap's struct bpf_insn and the kernel's struct sock_filter agree */
	fprog.len = (unsigned short)prog.bf_len;
	fprog.filter = (struct sock_filter *)prog.bf_insns;
	rc = vcap_afp_set_filter(h->afp, &fprog);
	pcap_freecode(&prog);
	return rc ? vcap_set_err(rc, "%s: attach filter: %s", h->device, strerror(-rc)) : 0;
}

static int direct_stats(struct vcap *h, struct vcap_stats *st)
{
	uint64_t packets, drops;
	int rc = vcap_afp_stats(h->afp, &packets, &drops);

	if (rc)
		return vcap_set_err(rc, "%s: statistics: %s", h->device, strerror(-rc));
	*st = (struct vcap_stats){ .received = packets,
				   .delivered = packets - drops,
				   .dropped = drops };
	return 0;
}

static void direct_close(struct vcap *h)
{
	vcap_afp_close(h->afp);
}

static const struct vcap_ops direct_ops = {
	.recv_burst = direct_recv_burst,
	.set_filter = direct_set_filter,
	.stats = direct_stats,
	.close = direct_close,
};

int vcap_direct_open(struct vcap *h, const char *ifname, const struct vcap_open_opts *o)
{
	struct vcap_afp_opts ao = { .ring_size = VCAP_OPT(o, ring_size, 0),
				    .snaplen = VCAP_OPT(o, snaplen, 65535),
				    .block_timeout_ms = VCAP_OPT(o, timeout_ms, 10),
				    .promisc = true };
	const char *filter = VCAP_OPT(o, filter, "");
	char err[256];
	int rc;

	if (VCAP_OPT(o, cluster_id, 0))
		return vcap_set_err(-EOPNOTSUPP, "%s: clusters need a host: device (vcapd balances)",
				    ifname);
	rc = vcap_afp_open(&h->afp, ifname, &ao, err, sizeof(err));
	if (rc)
		return vcap_set_err(rc, "%s", err);
	h->ops = &direct_ops;
	/* no rules (rule_max, flow_max 0) and no flags: no hash is computed here */
	h->info = (struct vcap_info){ .linktype = DLT_EN10MB,
				      .snaplen = ao.snaplen,
				      .ring_size = ao.ring_size };
	if ((rc = vcap_ev_add(h, vcap_afp_fd(h->afp), VCAP_EV_DATA)) != 0 ||
	    (*filter && (rc = direct_set_filter(h, filter)))) {
		vcap_afp_close(h->afp);
		return rc;
	}
	return 0;
}
