/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * afxdp.c - one AF_XDP socket, receive only (afxdp.h).
 *
 * Frames on loan.  The kernel writes each packet into a frame of its own,
 * taking frames from the fill ring in the order they were put there; a
 * frame it writes into is cold unless it was used a moment ago.  With all
 * of a 64 MiB UMEM on the fill ring each frame comes round again only
 * after 32768 others: every packet's copy misses the caches and the TLB,
 * and that cost more than the rest of the receive (bench/multiqueue.sh -g
 * xdp: 0.5 µs a packet at 200 kpps, against 0.1 µs with 8192 frames).  So
 * only `lend` frames are on loan to the kernel (on the fill ring, on the
 * RX ring, or held by the reader); the rest wait in `spare`, a stack, and
 * the frames a release gives back go on top and are lent first: the
 * kernel writes into frames the reader used last.  lend starts at
 * LEND_MIN (82 ms of a 100 kpps queue: a lane a busy CPU holds up longer
 * than that loses packets until the loan grows) and doubles whenever a
 * release finds more than half of it used up (the kernel would have run
 * dry had the lane slept twice as long); a release that finds it all but
 * used up (the kernel may have dropped for want of a frame) lends every
 * frame at once, and keeps them lent for DRY_HOLD_NS.  It halves again
 * when for SHRINK_NS the most in use at any release stayed below an
 * eighth.  (Seconds, not a count of releases: a lane that a busy CPU
 * holds up now and then, every few hundred batches, needs its large loan
 * each time.)  The lane sleeps for a quarter of the loan's worth of
 * packets (vcap_xsk_room()), so a steady rate never grows it, a rising
 * one does before frames run out, and a burst can still have the whole
 * UMEM.  lend_all (loan=all) lends every frame all the time, as a socket
 * without this would: for a queue whose bursts matter more than its CPU.
 *
 * XDP_USE_NEED_WAKEUP is asked for: when the driver needs a system call
 * to pick up new fill entries it says so, and only then does release()
 * make one.
 */
#include "afxdp.h"
#include "netdev.h"

#include <errno.h>
#include <stdint.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <xdp/xsk.h>

/*
 * A frame holds one packet behind the kernel's 256 bytes of XDP headroom:
 * 2 KiB frames take Ethernet frames up to 1792 bytes (an MTU of 1500 with
 * two VLAN tags), 4 KiB ones up to 3840; a larger frame is dropped by the
 * kernel and counted (rx_dropped).  The smaller, the more frames, and so
 * the longer a ring of the same memory rides out a lane that waits for a
 * CPU: the UMEM is 64 MiB by default, as if:'s ring is.
 */
#define FRAME_SMALL 2048u
#define FRAME_LARGE 4096u
#define FRAME_ROOM 256u /* XDP_PACKET_HEADROOM */
#define UMEM_DEFAULT (64u << 20)
#define LEND_MIN 8192u                   /* frames on loan at least: 16 or 32 MiB */
#define SHRINK_NS (2 * 1000000000ull)    /* between looks at a loan too large */
#define DRY_HOLD_NS (10 * 1000000000ull) /* no shrinking for this long after running dry */

struct vcap_xsk {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	struct xsk_ring_cons rx;
	void *area;
	size_t area_len;
	uint32_t ring;
	uint32_t frame;    /* bytes: FRAME_SMALL or FRAME_LARGE */
	uint32_t held;     /* descriptors read and not yet released */
	uint32_t ifindex;
	bool zerocopy;
	/* frames not on loan, the last used on top: spare[0, nspare); the held
	 * ones wait just above, at spare[nspare, nspare + held), until release */
	uint64_t *spare;
	uint32_t nspare;
	uint32_t frames;   /* all of them: 2 x ring */
	uint32_t lend;     /* frames to keep on loan (see above) */
	uint32_t peak;     /* the most in use at a release since the last shrink look */
	uint64_t look_ns;  /* when that was (CLOCK_MONOTONIC_COARSE) */
	uint64_t hold_ns;  /* no shrinking before this: the loan ran dry */
	uint32_t lend_min; /* LEND_MIN, or every frame (lend_all) */
};

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void closex(struct vcap_xsk *x)
{
	if (x->xsk)
		xsk_socket__delete(x->xsk);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, x->area_len);
	free(x->spare);
	free(x);
}

/* The frame size ifname's MTU needs (with two VLAN tags). */
static uint32_t frame_for(const char *ifname)
{
	uint32_t mtu = vcap_netdev_mtu(ifname);

	return (mtu ? mtu : 1500) + 14 + 8 + FRAME_ROOM <= FRAME_SMALL ? FRAME_SMALL : FRAME_LARGE;
}

/*
 * The frames, on transparent huge pages where the kernel gives them: a
 * small packet fills one 4 KiB frame, so with small pages every packet
 * vcapd copies would cost a TLB miss of its own (measured: a third of the
 * copy's time at 64 B).  len is a multiple of 2 MiB or small; the mapping
 * is aligned to 2 MiB by hand, mmap() only promising a page.
 */
#define HUGE_2M (2u << 20)
static void *map_frames(size_t len)
{
	size_t over = len >= HUGE_2M ? len + HUGE_2M : len;
	uint8_t *p = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t at;

	if (p == MAP_FAILED)
		return NULL;
	if (over != len) {
		at = ((uintptr_t)p + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1);
		if (at > (uintptr_t)p)
			munmap(p, at - (uintptr_t)p);
		if ((uintptr_t)p + over > at + len)
			munmap((void *)(at + len), (uintptr_t)p + over - (at + len));
		p = (uint8_t *)at;
		(void)madvise(p, len, MADV_HUGEPAGE); /* a hint: small pages work too */
	}
	/* fault it all in now, not packet by packet in the kernel's receive path */
	memset(p, 0, len);
	return p;
}

/* Lend the kernel spare frames, from the top, until lend are out. */
static void lend_more(struct vcap_xsk *x)
{
	uint32_t out = x->frames - x->nspare, n, idx = 0;

	if (out >= x->lend)
		return;
	n = x->lend - out;
	if (n > x->nspare)
		n = x->nspare;
	/* the fill ring has room for every frame: there is always room for these */
	if (!n || xsk_ring_prod__reserve(&x->fill, n, &idx) != n)
		return;
	for (uint32_t i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = x->spare[--x->nspare];
	xsk_ring_prod__submit(&x->fill, n);
}

int vcap_xsk_open(struct vcap_xsk **out, const char *ifname, uint32_t queue,
		  const struct vcap_xsk_opts *o, char *err, size_t err_len)
{
	struct vcap_xsk *x = calloc(1, sizeof(*x));
	uint32_t frame = frame_for(ifname), ring = o->ring ? o->ring : UMEM_DEFAULT / 2 / frame;
	uint32_t frames;
	struct xsk_umem_config ucfg = { 0 };
	struct xsk_socket_config cfg = { 0 };
	int rc;

	if (!x)
		return -ENOMEM;
	if (ring & (ring - 1) || ring < 64 || ring > 65536) {
		snprintf(err, err_len, "xdp:%s: ring=%u: a power of two in 64..65536", ifname, ring);
		free(x);
		return -EINVAL;
	}
	x->ifindex = if_nametoindex(ifname);
	x->ring = ring;
	frames = 2 * ring;
	x->frame = frame;
	x->area_len = (size_t)frames * frame;
	x->spare = calloc(frames, sizeof(*x->spare));
	x->area = map_frames(x->area_len);
	if (!x->area || !x->spare) {
		closex(x);
		snprintf(err, err_len, "xdp:%s: no memory for %u frames", ifname, frames);
		return -ENOMEM;
	}
	ucfg.fill_size = frames;
	ucfg.comp_size = 64; /* nothing is sent: the completion ring stays empty */
	ucfg.frame_size = frame;
	ucfg.frame_headroom = 0;
	rc = xsk_umem__create(&x->umem, x->area, x->area_len, &x->fill, &x->comp, &ucfg);
	if (rc) {
		x->umem = NULL;
		snprintf(err, err_len, "xdp:%s: AF_XDP %s: %s", ifname,
			 rc == -EAFNOSUPPORT ? "sockets are not in this kernel (CONFIG_XDP_SOCKETS)"
					     : "UMEM registration failed",
			 strerror(-rc));
		closex(x);
		return rc;
	}
	cfg.rx_size = ring;
	cfg.tx_size = 0;
	cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD; /* xdp_prog.c loads ours */
	cfg.xdp_flags = o->generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	cfg.bind_flags = XDP_USE_NEED_WAKEUP;
	if (o->zerocopy == VCAP_XSK_ZC_ON)
		cfg.bind_flags |= XDP_ZEROCOPY;
	else if (o->zerocopy == VCAP_XSK_ZC_OFF || o->generic)
		cfg.bind_flags |= XDP_COPY;
	rc = xsk_socket__create(&x->xsk, ifname, queue, x->umem, &x->rx, NULL, &cfg);
	if (rc) {
		x->xsk = NULL;
		if (o->zerocopy == VCAP_XSK_ZC_ON && (rc == -EOPNOTSUPP || rc == -EINVAL))
			snprintf(err, err_len, "xdp:%s: queue %u: the driver has no AF_XDP zero-copy "
				 "(%s); use zerocopy=auto or off", ifname, queue, strerror(-rc));
		else
			snprintf(err, err_len, "xdp:%s: queue %u: AF_XDP bind failed: %s%s", ifname,
				 queue, strerror(-rc), rc == -EINVAL ? " (no such queue?)" : "");
		closex(x);
		return rc;
	}
	if (o->zerocopy != VCAP_XSK_ZC_OFF && !o->generic) {
		struct xdp_options xo = { 0 };
		socklen_t len = sizeof(xo);

		if (!getsockopt(xsk_socket__fd(x->xsk), SOL_XDP, XDP_OPTIONS, &xo, &len))
			x->zerocopy = xo.flags & XDP_OPTIONS_ZEROCOPY;
	}
	/* every frame spare, the first ones on top; then the first loan */
	x->frames = frames;
	for (uint32_t i = 0; i < frames; i++)
		x->spare[x->nspare++] = (uint64_t)(frames - 1 - i) * frame;
	x->lend_min = frames < LEND_MIN || o->lend_all ? frames : LEND_MIN;
	x->lend = x->lend_min;
	x->look_ns = coarse_ns();
	lend_more(x);
	*out = x;
	return 0;
}

int vcap_xsk_read(struct vcap_xsk *x, struct vcap_pkt_meta *meta, const uint8_t **data,
		  unsigned n)
{
	uint32_t idx = 0, got;
	struct timespec ts;
	uint64_t now;

	got = xsk_ring_cons__peek(&x->rx, n, &idx);
	if (!got)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	for (uint32_t i = 0; i < got; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
		uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);

		data[i] = xsk_umem__get_data(x->area, addr);
		/*
		 * Each packet sits in a frame of its own, 4 KiB from the next,
		 * where the hardware's prefetcher does not follow: ask for its
		 * first lines now, so that the batch's loads overlap before
		 * vcapd parses and copies them.
		 */
		__builtin_prefetch(data[i]);
		__builtin_prefetch(data[i] + 64);
		meta[i] = (struct vcap_pkt_meta){ .ts_ns = now, .caplen = d->len,
						  .wirelen = d->len, .ifindex = x->ifindex };
		x->spare[x->nspare + x->held + i] = xsk_umem__extract_addr(d->addr);
	}
	x->held += got;
	return (int)got;
}

void vcap_xsk_release(struct vcap_xsk *x)
{
	uint32_t out, busy;
	uint64_t now;

	if (!x->held)
		return;
	/* what the kernel filled since the last release: held, and still on the RX ring */
	out = x->frames - x->nspare;
	busy = x->held + xsk_cons_nb_avail(&x->rx, out);
	now = coarse_ns();
	if (busy >= out - out / 16) {
		x->lend = x->frames;
		x->hold_ns = now + DRY_HOLD_NS;
	} else if (busy > out / 2 && x->lend < x->frames) {
		x->lend = x->lend * 2 < x->frames ? x->lend * 2 : x->frames;
	}
	if (busy > x->peak)
		x->peak = busy;
	if (now - x->look_ns >= SHRINK_NS) {
		if (x->peak < x->lend / 8 && x->lend / 2 >= x->lend_min && now >= x->hold_ns)
			x->lend /= 2; /* the kernel gives the rest back as it uses the fill ring */
		x->peak = 0;
		x->look_ns = now;
	}
	xsk_ring_cons__release(&x->rx, x->held);
	/* the frames just used, already above the top, join the stack: lent first */
	x->nspare += x->held;
	x->held = 0;
	lend_more(x);
	if (xsk_ring_prod__needs_wakeup(&x->fill))
		(void)recvfrom(xsk_socket__fd(x->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

unsigned vcap_xsk_ready(struct vcap_xsk *x, unsigned max)
{
	return xsk_cons_nb_avail(&x->rx, max);
}

uint64_t vcap_xsk_drops(struct vcap_xsk *x)
{
	struct xdp_statistics st = { 0 };
	socklen_t len = sizeof(st);

	if (getsockopt(xsk_socket__fd(x->xsk), SOL_XDP, XDP_STATISTICS, &st, &len))
		return 0;
	return st.rx_dropped + st.rx_ring_full;
}

int vcap_xsk_fd(const struct vcap_xsk *x)
{
	return xsk_socket__fd(x->xsk);
}

uint32_t vcap_xsk_ring(const struct vcap_xsk *x)
{
	return x->ring;
}

uint32_t vcap_xsk_lend(const struct vcap_xsk *x)
{
	return x->lend;
}

uint32_t vcap_xsk_room(const struct vcap_xsk *x)
{
	return x->lend < x->ring ? x->lend : x->ring;
}

bool vcap_xsk_zerocopy(const struct vcap_xsk *x)
{
	return x->zerocopy;
}

void vcap_xsk_close(struct vcap_xsk *x)
{
	if (x)
		closex(x);
}
