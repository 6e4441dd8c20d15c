/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tx_afpacket.c - AF_PACKET transmission: TPACKET_V2 TX ring, or sendmmsg.
 *
 * Ring bookkeeping.  Slots are used in order.  `head` counts frames
 * committed and `tail` frames the kernel finished with (sent or refused),
 * both free-running; the slots of [tail, head) are in the kernel's hands,
 * and the kernel walks them in the same order.  A frame is sent when its
 * status is back to TP_STATUS_AVAILABLE: that is the only count of sent
 * frames, so it is exact.
 *
 * A refused frame is left as TP_STATUS_WRONG_FORMAT and the kernel stops
 * there, never to pass it (we do not set PACKET_LOSS, which would make it
 * look sent).  To go on, the frames queued behind it move down one slot,
 * so the next frame takes its place in front of the kernel.
 */
#include "tx_afpacket.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RING_FRAMES_DEFAULT 4096u
#define RING_BYTES_MAX (64u << 20)
#define BATCH_DEFAULT 256u
#define SNDBUF_BYTES (16 << 20) /* room for a whole ring of skbs in flight */
#define VLAN_HLEN 4
#define BUSY_SLEEP_NS 20000     /* device full: retry after this */

/* Where TPACKET_V2 wants the data of a frame to send (no PACKET_TX_HAS_OFF). */
#define TX_DATA_OFF (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))

struct vcap_tx {
	int fd;
	int ifindex;
	uint32_t mtu;
	uint32_t frame_max;
	char ifname[IF_NAMESIZE];
	const char *no_ring; /* why the ring is not used, or NULL */

	/* TX ring */
	uint8_t *map;
	size_t map_len;
	uint32_t frame_size;
	uint32_t frame_nr; /* power of two */
	uint64_t head;     /* frames committed */
	uint64_t tail;     /* frames sent or refused */
	uint64_t used;     /* slots that ever held a frame (up to frame_nr) */
	bool kick;         /* the kernel has frames it has not been told about */

	/* sendmmsg */
	struct mmsghdr *msgs;
	struct iovec *iov;
	uint8_t *bufs;
	uint32_t batch;
	uint32_t queued; /* messages filled */
	uint32_t done;   /* messages sent or refused */
	uint32_t filled; /* buffers that ever held a frame */
	bool busy;       /* last sendmmsg found the device or socket full */

	struct vcap_tx_stats st;
};

static int fail(char *err, size_t err_len, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_len, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return code;
}

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* Index, MTU, flags and type of ifname, through the socket fd. */
static int query_interface(struct vcap_tx *t, const char *ifname, char *err, size_t err_len)
{
	struct ifreq ifr;

	if (strlen(ifname) >= IF_NAMESIZE)
		return fail(err, err_len, -ENODEV, "no such interface: %s (name too long)", ifname);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(t->fd, SIOCGIFINDEX, &ifr) < 0)
		return fail(err, err_len, -ENODEV, "no such interface: %s", ifname);
	t->ifindex = ifr.ifr_ifindex;
	if (ioctl(t->fd, SIOCGIFMTU, &ifr) < 0)
		return fail(err, err_len, -errno, "%s: cannot read the MTU: %s", ifname,
			    strerror(errno));
	t->mtu = (uint32_t)ifr.ifr_mtu;
	if (ioctl(t->fd, SIOCGIFHWADDR, &ifr) < 0)
		return fail(err, err_len, -errno, "%s: cannot read the link type: %s", ifname,
			    strerror(errno));
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER &&
	    ifr.ifr_hwaddr.sa_family != ARPHRD_LOOPBACK)
		return fail(err, err_len, -EINVAL, "%s is not an Ethernet interface (type %u)",
			    ifname, ifr.ifr_hwaddr.sa_family);
	if (ioctl(t->fd, SIOCGIFFLAGS, &ifr) < 0)
		return fail(err, err_len, -errno, "%s: cannot read the flags: %s", ifname,
			    strerror(errno));
	if (!(ifr.ifr_flags & IFF_UP))
		return fail(err, err_len, -ENETDOWN, "%s is down", ifname);
	return 0;
}

static int open_socket(struct vcap_tx *t, char *err, size_t err_len)
{
	/* Protocol 0: this socket receives nothing, so costs nothing on RX. */
	t->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return fail(err, err_len, -errno, "AF_PACKET socket: %s%s", strerror(errno),
			    errno == EPERM ? " (CAP_NET_RAW needed)" : "");
	return 0;
}

/* Options both ways of sending share; run before the ring is set up. */
static int setup_socket(struct vcap_tx *t, char *err, size_t err_len)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = t->ifindex };
	int one = 1, sndbuf = SNDBUF_BYTES;

	/* Best effort: without these it is slower, not wrong. */
	(void)setsockopt(t->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	if (setsockopt(t->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		(void)setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (bind(t->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return fail(err, err_len, -errno, "%s: bind: %s", t->ifname, strerror(errno));
	return 0;
}

/* @return 0, or -errno with t->no_ring saying why there is no ring. */
static int setup_ring(struct vcap_tx *t, uint32_t frames)
{
	long page = sysconf(_SC_PAGESIZE);
	int version = TPACKET_V2;
	struct tpacket_req req;
	uint32_t block;

	t->frame_size = pow2_at_least((uint32_t)TX_DATA_OFF + t->frame_max);
	if (t->frame_size < TPACKET2_HDRLEN)
		t->frame_size = pow2_at_least(TPACKET2_HDRLEN);
	t->frame_nr = pow2_at_least(frames);
	while (t->frame_nr > 64 && (uint64_t)t->frame_nr * t->frame_size > RING_BYTES_MAX)
		t->frame_nr /= 2;
	block = t->frame_size > (uint32_t)page ? t->frame_size : (uint32_t)page;
	if ((uint64_t)t->frame_nr * t->frame_size < block)
		t->frame_nr = block / t->frame_size;
	req = (struct tpacket_req){
		.tp_block_size = block,
		.tp_block_nr = (unsigned)((uint64_t)t->frame_nr * t->frame_size / block),
		.tp_frame_size = t->frame_size,
		.tp_frame_nr = t->frame_nr,
	};

	if (setsockopt(t->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0) {
		t->no_ring = "TPACKET_V2 not supported";
		return -errno;
	}
	if (setsockopt(t->fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)) < 0) {
		t->no_ring = "PACKET_TX_RING refused";
		return -errno;
	}
	t->map_len = (size_t)req.tp_block_size * req.tp_block_nr;
	t->map = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, t->fd,
		      0);
	if (t->map == MAP_FAILED) {
		t->map = NULL;
		t->no_ring = "cannot map the TX ring";
		return -errno;
	}
	return 0;
}

static int setup_sendmmsg(struct vcap_tx *t, uint32_t batch, char *err, size_t err_len)
{
	t->batch = batch;
	t->msgs = calloc(batch, sizeof(*t->msgs));
	t->iov = calloc(batch, sizeof(*t->iov));
	t->bufs = malloc((size_t)batch * t->frame_max);
	if (!t->msgs || !t->iov || !t->bufs)
		return fail(err, err_len, -ENOMEM, "out of memory for %u frame buffers", batch);
	for (uint32_t i = 0; i < batch; i++) {
		t->iov[i].iov_base = t->bufs + (size_t)i * t->frame_max;
		t->msgs[i].msg_hdr.msg_iov = &t->iov[i];
		t->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

int vcap_tx_open(struct vcap_tx **out, const char *ifname, const struct vcap_tx_opts *o,
		 char *err, size_t err_len)
{
	struct vcap_tx *t = calloc(1, sizeof(*t));
	uint32_t limit;
	int rc;

	if (!t)
		return fail(err, err_len, -ENOMEM, "out of memory");
	t->fd = -1;
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
	rc = open_socket(t, err, err_len);
	if (!rc)
		rc = query_interface(t, ifname, err, err_len);
	if (rc)
		goto fail;

	limit = vcap_tx_frame_limit(t, true);
	t->frame_max = o->frame_max ? o->frame_max : limit;
	if (t->frame_max > limit) {
		rc = fail(err, err_len, -EINVAL,
			  "%s: %u-byte frames exceed its limit of %u (MTU %u + headers)", ifname,
			  t->frame_max, limit, t->mtu);
		goto fail;
	}
	if (t->frame_max < ETH_HLEN) {
		rc = fail(err, err_len, -EINVAL, "frames of %u bytes are shorter than Ethernet's %u",
			  t->frame_max, ETH_HLEN);
		goto fail;
	}

	if (o->use_sendmmsg) {
		t->no_ring = "sendmmsg requested";
	} else {
		rc = setup_ring(t, o->ring_frames ? o->ring_frames : RING_FRAMES_DEFAULT);
		if (rc) {
			/* A socket with a half-made ring cannot go back: start over. */
			close(t->fd);
			rc = open_socket(t, err, err_len);
			if (rc)
				goto fail;
		}
	}
	rc = setup_socket(t, err, err_len);
	if (!rc && !t->map)
		rc = setup_sendmmsg(t, o->batch ? o->batch : BATCH_DEFAULT, err, err_len);
	if (rc)
		goto fail;
	*out = t;
	return 0;
fail:
	vcap_tx_close(t);
	return rc;
}

uint32_t vcap_tx_frame_limit(const struct vcap_tx *t, bool tagged)
{
	return t->mtu + ETH_HLEN + (tagged ? VLAN_HLEN : 0);
}

bool vcap_tx_uses_ring(const struct vcap_tx *t, const char **why)
{
	if (why)
		*why = t->no_ring;
	return t->map != NULL;
}

/* ---- TX ring ----------------------------------------------------------- */

static struct tpacket2_hdr *slot(const struct vcap_tx *t, uint64_t i)
{
	return (struct tpacket2_hdr *)(t->map + (size_t)(i & (t->frame_nr - 1)) * t->frame_size);
}

static uint32_t slot_status(const struct tpacket2_hdr *h)
{
	return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
}

/* Publish a frame's status after its bytes (the kernel reads them after). */
static void set_status(struct tpacket2_hdr *h, uint32_t status)
{
	__atomic_store_n(&h->tp_status, status, __ATOMIC_RELEASE);
}

/*
 * The kernel refused frame `bad` (== tail) and stays in front of it: move
 * every frame queued behind it down one slot, so the next one is what the
 * kernel finds there.  The kernel touches none of them meanwhile: it never
 * passes a frame that is not TP_STATUS_SEND_REQUEST.
 */
static void drop_refused(struct vcap_tx *t, uint64_t bad)
{
	for (uint64_t i = bad; i + 1 < t->head; i++) {
		struct tpacket2_hdr *dst = slot(t, i), *src = slot(t, i + 1);

		dst->tp_len = src->tp_len;
		memcpy((uint8_t *)dst + TX_DATA_OFF, (uint8_t *)src + TX_DATA_OFF, src->tp_len);
		set_status(dst, TP_STATUS_SEND_REQUEST);
	}
	t->head--;
	set_status(slot(t, t->head), TP_STATUS_AVAILABLE);
	t->kick = true;
}

/* Account for frames the kernel is done with, oldest first. */
static void ring_reap(struct vcap_tx *t)
{
	while (t->tail != t->head) {
		struct tpacket2_hdr *h = slot(t, t->tail);
		uint32_t status = slot_status(h);

		if (status == TP_STATUS_AVAILABLE) {
			t->st.sent++;
			t->st.sent_bytes += h->tp_len;
			t->tail++;
		} else if (status & TP_STATUS_WRONG_FORMAT) {
			t->st.refused++;
			drop_refused(t, t->tail);
		} else {
			break; /* still queued or on its way */
		}
	}
}

static int ring_flush(struct vcap_tx *t)
{
	if (t->kick) {
		t->kick = false;
		if (sendto(t->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0) {
			switch (errno) {
			case EAGAIN:
			case ENOBUFS:
				/* socket or device full: these frames go next time */
				t->st.busy++;
				t->kick = true;
				break;
			case EINTR:
				t->kick = true;
				break;
			case EMSGSIZE:
			case EINVAL:
			case EFAULT:
				break; /* a refused frame: ring_reap() sees it */
			default:
				return -errno;
			}
		}
	}
	ring_reap(t);
	return 0;
}

/* ---- sendmmsg ---------------------------------------------------------- */

static int mmsg_flush(struct vcap_tx *t)
{
	t->busy = false;
	while (t->done < t->queued) {
		int n = sendmmsg(t->fd, t->msgs + t->done, t->queued - t->done, MSG_DONTWAIT);

		if (n > 0) {
			for (int i = 0; i < n; i++)
				t->st.sent_bytes += t->iov[t->done + i].iov_len;
			t->st.sent += (uint32_t)n;
			t->done += (uint32_t)n;
			continue;
		}
		switch (errno) {
		case EAGAIN:
		case ENOBUFS:
			t->st.busy++;
			t->busy = true;
			return 0;
		case EINTR:
			return 0;
		case EMSGSIZE:
		case EINVAL:
			/* this message is refused; the ones after it may not be */
			t->st.refused++;
			t->done++;
			continue;
		default:
			return -errno;
		}
	}
	t->queued = t->done = 0;
	return 0;
}

/* ---- either ------------------------------------------------------------ */

uint8_t *vcap_tx_next(struct vcap_tx *t, bool *reused)
{
	if (!t->map) {
		if (t->queued == t->batch)
			return NULL;
		*reused = t->queued < t->filled;
		return t->bufs + (size_t)t->queued * t->frame_max;
	}
	if (t->head - t->tail == t->frame_nr) {
		ring_reap(t);
		if (t->head - t->tail == t->frame_nr)
			return NULL;
	}
	*reused = t->head < t->used || t->used == t->frame_nr;
	return (uint8_t *)slot(t, t->head) + TX_DATA_OFF;
}

void vcap_tx_commit(struct vcap_tx *t, uint32_t len)
{
	if (!t->map) {
		t->iov[t->queued].iov_len = len;
		t->queued++;
		if (t->filled < t->queued)
			t->filled = t->queued;
		return;
	}
	slot(t, t->head)->tp_len = len;
	set_status(slot(t, t->head), TP_STATUS_SEND_REQUEST);
	t->head++;
	if (t->used < t->frame_nr && t->used < t->head)
		t->used = t->head;
	t->kick = true;
}

int vcap_tx_flush(struct vcap_tx *t)
{
	return t->map ? ring_flush(t) : mmsg_flush(t);
}

static void sleep_ns(long ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ns };

	nanosleep(&ts, NULL);
}

void vcap_tx_wait(struct vcap_tx *t, int timeout_ms)
{
	struct pollfd pfd = { .fd = t->fd, .events = POLLOUT };

	/*
	 * Frames the kernel could not take yet (full device): nothing will
	 * wake us when it can, so retry soon.  Otherwise the frames are on
	 * their way and their completion wakes POLLOUT.
	 */
	if (t->map ? t->kick : t->busy) {
		sleep_ns(BUSY_SLEEP_NS);
		return;
	}
	if (vcap_tx_pending(t))
		(void)poll(&pfd, 1, timeout_ms);
}

uint64_t vcap_tx_pending(const struct vcap_tx *t)
{
	return t->map ? t->head - t->tail : t->queued - t->done;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int vcap_tx_drain(struct vcap_tx *t, int timeout_ms, volatile const int *stop)
{
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;

	for (;;) {
		int rc = vcap_tx_flush(t);

		if (rc)
			return rc;
		if (!vcap_tx_pending(t))
			return 0;
		if (stop && *stop)
			return -EINTR;
		if (mono_ms() >= deadline)
			return -ETIMEDOUT;
		vcap_tx_wait(t, 1);
	}
}

void vcap_tx_get_stats(const struct vcap_tx *t, struct vcap_tx_stats *st)
{
	*st = t->st;
}

void vcap_tx_close(struct vcap_tx *t)
{
	if (!t)
		return;
	if (t->map)
		munmap(t->map, t->map_len);
	if (t->fd >= 0)
		close(t->fd);
	free(t->msgs);
	free(t->iov);
	free(t->bufs);
	free(t);
}
