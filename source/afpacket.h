/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * afpacket.h - live capture from one interface with AF_PACKET TPACKET_V3
 * (kernel Documentation/networking/packet_mmap.rst).
 *
 * The kernel fills fixed-size blocks of a mapped ring and hands a block to
 * user space when it is full or its timeout expires; user space returns the
 * block when done with every packet in it.  libvcap's direct devices and
 * vcapd's `if:` sources both read through this one module.
 *
 * Packets returned by vcap_afp_read() point into the mapped ring and stay
 * valid until vcap_afp_release().  One thread uses a struct vcap_afp.
 *
 * The loop is: wait, read until it returns 0 (or in bursts), use the
 * packets, release, wait again.  Release before waiting: see vcap_afp_wait().
 *
 * What a packet looks like: the frame as it was on the wire, Ethernet header
 * first, without FCS.  An 802.1Q/802.1ad tag the kernel or the NIC took off
 * (the kernel always does on receive) is put back, so tagged frames are
 * byte-exact too; caplen and wirelen count it.  Only interfaces that carry
 * Ethernet frames (ARPHRD_ETHER, ARPHRD_LOOPBACK) can be opened.
 *
 * snaplen is enforced by the kernel: a socket filter's return value caps
 * the bytes copied into the ring, so the program attached here always
 * returns at most snaplen (vcap_afp_set_filter() clamps the caller's
 * constant returns; caplen is clamped in user space too, for `ret a`).
 */
#ifndef VCAP_SOURCE_AFPACKET_H
#define VCAP_SOURCE_AFPACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h" /* struct vcap_pkt_meta */

struct sock_fprog;
struct vcap_afp;

/*
 * Zero in any field means its default.  ring_size is rounded down to whole
 * blocks.  When block_size is left at 0 and snaplen does not fit in 1 MiB,
 * the block grows to the next power of two that holds it; an explicit
 * block_size too small for snaplen is -EINVAL.
 */
struct vcap_afp_opts {
	uint32_t ring_size;        /* bytes of blocks; 0: 64 MiB (at least 2 blocks) */
	uint32_t block_size;       /* power of two, >= page size, <= 1 GiB; 0: 1 MiB */
	uint32_t block_timeout_ms; /* retire a partly filled block after this; 0: 10 */
	uint32_t snaplen;          /* 0: 65535 */
	bool promisc;              /* PACKET_MR_PROMISC while open */
	bool ignore_outgoing;      /* PACKET_IGNORE_OUTGOING: only what arrives */
	/*
	 * Join a PACKET_FANOUT group, fanout being setsockopt's argument
	 * (group id | type and flags << 16; 0 is group 0 of PACKET_FANOUT_HASH,
	 * a valid group).  Until it has joined, the socket takes nothing, so
	 * no packet reaches both it and the group.
	 */
	bool join_fanout;
	uint32_t fanout;
};

/*
 * Open ifname.  Nothing from another interface can reach the ring: the
 * socket is created with protocol 0 (no packets at all) and only starts
 * receiving when it is bound to ifname, after the ring is in place.
 *
 * If the kernel cannot allocate the ring, the ring is halved and retried
 * down to 1/16 of the request (at least one block) before giving up.
 *
 * @return 0 with *out set, or -errno with err saying what failed, naming
 * the interface: -ENODEV (no such interface), -EPERM (no CAP_NET_RAW),
 * -ENOMEM (ring too large), -EINVAL (bad sizes), -ENETDOWN (interface is
 * down), -ENOTSUP (not an Ethernet-framed interface).
 */
int vcap_afp_open(struct vcap_afp **out, const char *ifname, const struct vcap_afp_opts *o,
		  char *err, size_t err_len);

/*
 * Take up to n packets from blocks the kernel has handed over, without
 * waiting: meta[i] and data[i] describe packet i (ts_ns, caplen, wirelen,
 * ifindex filled; hash 0).  Moves on to the next block when it is ready, but
 * gives nothing back to the kernel: blocks stay the caller's until
 * vcap_afp_release().  Once every block is held, returns 0 until a release.
 * @return the number taken (0: none ready).
 */
int vcap_afp_read(struct vcap_afp *a, struct vcap_pkt_meta *meta, const uint8_t **data,
		  unsigned n);

/*
 * Give back to the kernel every block whose packets have all been read, in
 * ring order.  Every packet read before the call is invalid after it,
 * except those of a block still being read.
 */
void vcap_afp_release(struct vcap_afp *a);

/*
 * Sleep until a block is ready or timeout_ms passes (-1: forever).  Returns
 * 1 at once if a packet can be read now.
 *
 * Call vcap_afp_release() first: the kernel's poll() reports readiness for
 * as long as user space holds the block it handed over last, so with that
 * block held this cannot sleep in poll() and checks the ring every
 * millisecond instead.
 *
 * When the interface goes down or away, the kernel still hands over the
 * partly filled block on its timeout; so after noticing, this goes on
 * returning 1 while packets come, and -ENETDOWN once none has come for two
 * block timeouts.  -ENETDOWN then sticks: the socket must be reopened.
 *
 * @return 1 ready, 0 timed out, -EINTR, -ENETDOWN (interface down or
 * gone), or another -errno the socket reported.
 */
int vcap_afp_wait(struct vcap_afp *a, int timeout_ms);

/*
 * Counters since open, from PACKET_STATISTICS (which resets on each read,
 * so this accumulates; the kernel's counters are 32-bit, so at line rate
 * call this at least once a minute).
 *
 * packets: packets that passed the socket filter, whether they made it
 *          into the ring or not.  This is the kernel's tp_packets as
 *          getsockopt() reports it: the kernel counts the packets it wrote
 *          and adds tp_drops before handing the figure out (seen on 6.18:
 *          50000 sent into a full ring gave packets 50000 = 428 read +
 *          49572 dropped).
 * drops:   those of them dropped for want of a free block (tp_drops), plus
 *          any vcap_afp_read() skipped because the kernel's offsets did not
 *          add up (a kernel bug; never seen).
 * So packets - drops were delivered by vcap_afp_read(), or are still in the
 * ring.  Packets the filter rejected appear in neither.  Either pointer may
 * be NULL.
 * @return 0 or -errno.
 */
int vcap_afp_stats(struct vcap_afp *a, uint64_t *packets, uint64_t *drops);

/*
 * Attach a classic BPF program to the socket (NULL: detach, i.e. pass
 * everything), replacing the previous one atomically.  The kernel copies
 * prog; its constant non-zero returns are lowered to snaplen.  Packets
 * already in the ring are not filtered again.
 * @return 0 or -errno (-EINVAL: the kernel refused the program).
 */
int vcap_afp_set_filter(struct vcap_afp *a, const struct sock_fprog *prog);

int vcap_afp_fd(const struct vcap_afp *a);
/*
 * The fanout group a joined, as PACKET_FANOUT reads it: id | type << 16 |
 * flags << 24 (0 both for none and for group 0 of type HASH).
 */
uint32_t vcap_afp_fanout(const struct vcap_afp *a);
int vcap_afp_ifindex(const struct vcap_afp *a);

void vcap_afp_close(struct vcap_afp *a);

/*
 * Where a reader is, to hand its socket to another process (vcapd's
 * upgrade): the ring's geometry, the blocks it holds, the next packet, the
 * sums of the kernel's statistics.  Save after vcap_afp_release().
 */
struct vcap_afp_state {
	uint32_t ifindex, block_size, nr_blocks, snaplen;
	uint32_t rel, held, next, left, off;
	uint32_t pad;
	uint64_t map_len, lost, dead_at, drain_ms, packets, drops;
};

void vcap_afp_save(const struct vcap_afp *a, struct vcap_afp_state *st);
/*
 * Go on reading fd (a TPACKET_V3 socket with its ring, inherited) from st:
 * maps the ring again, checks st against it.  On success *out owns fd.
 * @return 0 or -errno with err.
 */
int vcap_afp_adopt(struct vcap_afp **out, int fd, const struct vcap_afp_state *st, char *err,
		   size_t err_len);

#endif /* VCAP_SOURCE_AFPACKET_H */
