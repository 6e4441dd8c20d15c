/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * afxdp.h - live capture from one RX queue of an interface with an AF_XDP
 * socket (kernel Documentation/networking/af_xdp.rst), through libxdp's
 * xsk API.  vcapd's xdp: sources open one per queue (daemon/source_xdp.c);
 * the XDP program that sends packets here is xdp_prog.h's.
 *
 * The socket owns a UMEM of 2 x ring frames of 2 or 4 KiB (as the MTU
 * needs): the kernel copies a
 * packet into a frame the fill ring offered (or, in zero-copy mode, the
 * NIC writes it there) and puts its descriptor on the RX ring.  Packets
 * returned by vcap_xsk_read() point into their frames and stay valid until
 * vcap_xsk_release(), which gives the frames back.  Only as many frames as
 * the recent rate needs are lent to the kernel at a time, so that it
 * writes into frames still in the caches (vcap_xsk_lend()).  One thread
 * uses a struct vcap_xsk.
 *
 * What a packet looks like: the frame as XDP saw it, Ethernet header
 * first.  Unlike AF_PACKET, a VLAN tag the NIC stripped (rx-vlan-offload)
 * is not put back, and the timestamp is the time vcap_xsk_read() took the
 * packet (AF_XDP carries none).
 */
#ifndef VCAP_SOURCE_AFXDP_H
#define VCAP_SOURCE_AFXDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h" /* struct vcap_pkt_meta */

struct vcap_xsk;

enum vcap_xsk_zerocopy {
	VCAP_XSK_ZC_AUTO, /* zero-copy where the driver has it, else copy */
	VCAP_XSK_ZC_ON,   /* zero-copy or fail */
	VCAP_XSK_ZC_OFF,  /* copy */
};

struct vcap_xsk_opts {
	/*
	 * RX ring entries, a power of two; 0: as many as 64 MiB of frames
	 * hold, two frames an entry (16384 with 2 KiB frames, the size an MTU
	 * up to 1500 takes; 8192 with 4 KiB ones).
	 */
	uint32_t ring;
	enum vcap_xsk_zerocopy zerocopy;
	bool generic;      /* the XDP program runs in generic (skb) mode */
	/* every frame on loan to the kernel, always: the longest burst a
	 * queue rides out, at the price of a cold copy per packet (afxdp.c) */
	bool lend_all;
};

/*
 * Open a socket on queue of ifname and bind it; the caller puts its fd in
 * the XDP program's socket map.  @return 0, or -errno with err naming the
 * interface, the queue and what failed: -EAFNOSUPPORT (no AF_XDP in this
 * kernel), -EOPNOTSUPP (zero-copy asked of a driver without it), -EINVAL
 * (no such queue), -ENOMEM, -EPERM.
 */
int vcap_xsk_open(struct vcap_xsk **out, const char *ifname, uint32_t queue,
		  const struct vcap_xsk_opts *o, char *err, size_t err_len);

/*
 * Take up to n packets from the RX ring without waiting (meta: ts_ns,
 * caplen = wirelen, ifindex).  Frames stay the caller's until release.
 * @return the number taken.
 */
int vcap_xsk_read(struct vcap_xsk *x, struct vcap_pkt_meta *meta, const uint8_t **data,
		  unsigned n);
/* Give every frame read back to the kernel (the fill ring). */
void vcap_xsk_release(struct vcap_xsk *x);
/* Packets waiting on the RX ring, counting up to max. */
unsigned vcap_xsk_ready(struct vcap_xsk *x, unsigned max);
/* Packets the kernel could not hand over: RX ring full, or no free frame. */
uint64_t vcap_xsk_drops(struct vcap_xsk *x);
int vcap_xsk_fd(const struct vcap_xsk *x);
uint32_t vcap_xsk_ring(const struct vcap_xsk *x); /* RX ring entries */
/* Frames to keep on loan to the kernel now (afxdp.c says how that adapts). */
uint32_t vcap_xsk_lend(const struct vcap_xsk *x);
/* The most packets the kernel can queue before the reader releases some:
 * the frames on loan, or the RX ring's entries where fewer. */
uint32_t vcap_xsk_room(const struct vcap_xsk *x);
bool vcap_xsk_zerocopy(const struct vcap_xsk *x);
void vcap_xsk_close(struct vcap_xsk *x);

#endif /* VCAP_SOURCE_AFXDP_H */
