/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tx_afpacket.h - batched transmission out of one interface with AF_PACKET.
 *
 * The fast way is a PACKET_TX_RING (TPACKET_V2; kernel
 * Documentation/networking/packet_mmap.rst): frames are written into a
 * mapped ring and marked TP_STATUS_SEND_REQUEST, and one sendto() hands the
 * kernel all of them.  The kernel sets a frame back to TP_STATUS_AVAILABLE
 * when the device is done with it, and that is when it counts as sent; a
 * frame it refuses (too long, say) is left as TP_STATUS_WRONG_FORMAT and
 * counts as refused.  PACKET_QDISC_BYPASS hands frames straight to the
 * driver, as pktgen does.  When the ring cannot be set up, the same calls
 * batch frames into sendmmsg() instead.
 *
 *	while (more) {
 *		while ((buf = vcap_tx_next(tx, &reused)) && more)
 *			vcap_tx_commit(tx, write_frame(buf, reused));
 *		vcap_tx_flush(tx);
 *		if (!buf)
 *			vcap_tx_wait(tx, 1);
 *	}
 *	vcap_tx_drain(tx, 2000);
 *
 * One thread uses a struct vcap_tx.
 */
#ifndef VCAP_TOOLS_TX_AFPACKET_H
#define VCAP_TOOLS_TX_AFPACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vcap_tx;

struct vcap_tx_opts {
	uint32_t frame_max;   /* largest frame to send; 0: the interface's limit */
	uint32_t ring_frames; /* TX ring slots, rounded to a power of two; 0: 4096 */
	uint32_t batch;       /* sendmmsg: frames per call; 0: 256 */
	bool use_sendmmsg;    /* skip the TX ring */
};

struct vcap_tx_stats {
	uint64_t sent;       /* frames the kernel took */
	uint64_t sent_bytes;
	uint64_t refused;    /* frames the kernel refused (malformed, too long) */
	uint64_t busy;       /* times the device or socket was full and we retried */
};

/*
 * Open ifname for sending.
 * @return 0 with *out set, or -errno with err naming the interface and the
 * problem: -ENODEV (no such interface), -ENETDOWN (interface down), -EPERM
 * (no CAP_NET_RAW), -EINVAL (not Ethernet, frame_max above its limit).
 */
int vcap_tx_open(struct vcap_tx **out, const char *ifname, const struct vcap_tx_opts *o,
		 char *err, size_t err_len);

/* Largest frame ifname takes: MTU + 14, or + 18 for a frame with an 802.1Q tag. */
uint32_t vcap_tx_frame_limit(const struct vcap_tx *t, bool tagged);

/* True if frames go through the TX ring; else why not, in *why. */
bool vcap_tx_uses_ring(const struct vcap_tx *t, const char **why);

/*
 * The buffer for the next frame (at least frame_max bytes), or NULL if all
 * are in flight: flush, wait, and try again.  *reused tells whether it
 * holds a frame committed before (the last one committed in it, or one
 * committed after it when the kernel refused a frame), which a generator
 * may patch rather than rewrite.
 */
uint8_t *vcap_tx_next(struct vcap_tx *t, bool *reused);

/* Queue the frame written into the buffer vcap_tx_next() returned. */
void vcap_tx_commit(struct vcap_tx *t, uint32_t len);

/*
 * Hand queued frames to the kernel without blocking and account for those
 * it finished with.  A full device or socket is not an error: the frames
 * stay queued for the next call.
 * @return 0, or -errno if sending cannot go on (-ENETDOWN, -ENXIO...).
 */
int vcap_tx_flush(struct vcap_tx *t);

/* Sleep until buffers may have come free, at most timeout_ms. */
void vcap_tx_wait(struct vcap_tx *t, int timeout_ms);

/* Frames committed and neither sent nor refused yet. */
uint64_t vcap_tx_pending(const struct vcap_tx *t);

/*
 * Flush and wait until nothing is pending, or timeout_ms passes, or *stop
 * becomes non-zero (may be NULL).
 * @return 0, -ETIMEDOUT, -EINTR (stopped) or a fatal -errno from flushing.
 */
int vcap_tx_drain(struct vcap_tx *t, int timeout_ms, volatile const int *stop);

void vcap_tx_get_stats(const struct vcap_tx *t, struct vcap_tx_stats *st);

void vcap_tx_close(struct vcap_tx *t);

#endif /* VCAP_TOOLS_TX_AFPACKET_H */
