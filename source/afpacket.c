/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * afpacket.c - TPACKET_V3 receive ring (contract: afpacket.h).
 *
 * Ring walk.  Blocks are used round robin by the kernel and returned in the
 * same order by us.  We keep the blocks we hold as a run starting at `rel`:
 *
 *   rel                rel + held - 1          rel + held
 *   [fully read ...]   [being read: `left`]    next to take (kernel's or ready)
 *
 * A block is taken when its status word says TP_STATUS_USER (load-acquire,
 * pairing with the kernel's smp_wmb before it flips the word), and given
 * back by a store-release of TP_STATUS_KERNEL, so our reads of its packets
 * happen before the kernel may refill it.
 *
 * Nothing the kernel writes into the ring is followed blindly: every offset
 * is checked against the block before it is used, so a kernel bug (or a
 * stray write into the shared mapping) costs the rest of a block, never a
 * read outside the mapping.
 */
#include "afpacket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h> /* before the linux/ headers, which then skip their copy */
#include <linux/filter.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MIB (1u << 20)
#define DEF_RING_SIZE (64u * MIB)
#define DEF_BLOCK_SIZE (1u * MIB)
#define DEF_TIMEOUT_MS 10u
#define DEF_SNAPLEN 65535u
#define MAX_BLOCK_SIZE (1u << 30)

/* Room for an 802.1Q tag in front of each frame, to put back what the kernel took out. */
#define VLAN_HLEN 4u
#define MAC_ADDRS_LEN (2u * ETH_ALEN)

/*
 * Bytes a packet takes in a block apart from its snaplen bytes: the block
 * header (offset_to_first_pkt), then per packet tpacket3_hdr + sockaddr_ll,
 * aligned, at least 16 bytes of link header room, our reserve, alignment.
 * The kernel's exact figure is smaller; this only has to be an upper bound.
 */
#define SLOT_OVERHEAD 256u

/* How often wait() looks at the ring when poll() cannot sleep for it. */
#define NAP_MS 1u

#define ALIGNED_HDR TPACKET_ALIGN(sizeof(struct tpacket3_hdr))

/* TPACKET_V3 packs packets at 8-byte steps (the kernel's V3_ALIGNMENT), not TPACKET_ALIGNMENT. */
#define V3_PKT_ALIGN 8u

struct vcap_afp {
	int fd;
	int ifindex;
	uint8_t *map;
	size_t map_len;
	uint32_t block_size;
	uint32_t nr_blocks;
	uint32_t snaplen;

	/* read position (see the top of this file) */
	uint32_t rel;       /* oldest block we hold */
	uint32_t held;      /* blocks taken from the kernel, rel onwards */
	uint32_t next;      /* (rel + held) % nr_blocks: the block to take next */
	uint32_t left;      /* packets not yet read in block next - 1 */
	uint32_t off;       /* offset in that block of the next packet */
	uint8_t *cur;       /* that block */
	uint64_t lost;      /* packets skipped in blocks whose offsets did not check out */

	uint64_t dead_at;   /* ms when the interface was found down or away; 0: up */
	uint64_t drain_ms;  /* after dead_at, how long a partly filled block may take */

	/* PACKET_STATISTICS resets on read: the sums since open */
	uint64_t packets;
	uint64_t drops;
};

_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t),
	       "the kernel's status words can be viewed as atomics");

/* ERR is evaluated first: snprintf() may change errno. */
#define FAIL(ERR, ...)                                       \
	do {                                                 \
		int fail_ret_ = (ERR);                       \
		if (err_len)                                 \
			snprintf(err, err_len, __VA_ARGS__); \
		return fail_ret_;                            \
	} while (0)

static uint8_t *block_at(const struct vcap_afp *a, uint32_t i)
{
	return a->map + (size_t)i * a->block_size;
}

/* block_status is a plain __u32 to the kernel; it flips it after smp_wmb(). */
static _Atomic uint32_t *block_status(uint8_t *block)
{
	struct tpacket_block_desc *bd = (struct tpacket_block_desc *)block;

	return (_Atomic uint32_t *)&bd->hdr.bh1.block_status;
}

static bool block_ready(uint8_t *block)
{
	return atomic_load_explicit(block_status(block), memory_order_acquire) & TP_STATUS_USER;
}

/* ---- sizes ---- */

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static uint32_t next_pow2(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

struct geometry {
	uint32_t block_size;
	uint32_t nr_blocks;
	uint32_t frame_size; /* nominal in V3: the slot one snaplen packet needs */
	uint32_t timeout_ms;
	uint32_t snaplen;
};

static int choose_geometry(struct geometry *g, const struct vcap_afp_opts *o, const char *ifname,
			   char *err, size_t err_len)
{
	uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE);
	uint64_t need, ring;

	g->snaplen = o->snaplen ? o->snaplen : DEF_SNAPLEN;
	g->timeout_ms = o->block_timeout_ms ? o->block_timeout_ms : DEF_TIMEOUT_MS;
	need = (uint64_t)g->snaplen + SLOT_OVERHEAD;
	if (need > MAX_BLOCK_SIZE)
		FAIL(-EINVAL, "afpacket: %s: snaplen %u is too large", ifname, g->snaplen);

	if (o->block_size) {
		if (!is_pow2(o->block_size) || o->block_size < page ||
		    o->block_size > MAX_BLOCK_SIZE)
			FAIL(-EINVAL,
			     "afpacket: %s: block_size %u is not a power of two in [%u, %u]",
			     ifname, o->block_size, page, MAX_BLOCK_SIZE);
		if (o->block_size < need)
			FAIL(-EINVAL,
			     "afpacket: %s: block_size %u cannot hold snaplen %u (needs %u)",
			     ifname, o->block_size, g->snaplen, next_pow2((uint32_t)need));
		g->block_size = o->block_size;
	} else {
		g->block_size = DEF_BLOCK_SIZE;
		if (g->block_size < need)
			g->block_size = next_pow2((uint32_t)need);
	}

	ring = o->ring_size;
	if (!ring) {
		ring = DEF_RING_SIZE;
		if (ring < 2ull * g->block_size)
			ring = 2ull * g->block_size;
	}
	g->nr_blocks = (uint32_t)(ring / g->block_size);
	if (!g->nr_blocks)
		FAIL(-EINVAL, "afpacket: %s: ring_size %u is smaller than one block (%u)", ifname,
		     o->ring_size, g->block_size);

	g->frame_size = TPACKET_ALIGN(g->snaplen + SLOT_OVERHEAD);
	if (g->frame_size > g->block_size)
		g->frame_size = g->block_size;
	return 0;
}

/* ---- setup ---- */

static int set_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v)) ? -errno : 0;
}

/*
 * Lower every constant "accept" return of prog to snaplen: the kernel copies
 * min(return value, packet length) bytes, which is how snaplen is enforced.
 * `ret a` cannot be clamped without rewriting jumps; read() clamps caplen.
 */
static void clamp_returns(struct sock_filter *insns, unsigned len, uint32_t snaplen)
{
	for (unsigned i = 0; i < len; i++)
		if (BPF_CLASS(insns[i].code) == BPF_RET && BPF_RVAL(insns[i].code) == BPF_K &&
		    insns[i].k > snaplen)
			insns[i].k = snaplen;
}

static int attach_filter(int fd, const struct sock_fprog *prog, uint32_t snaplen)
{
	struct sock_filter snap_only = BPF_STMT(BPF_RET | BPF_K, snaplen);
	struct sock_fprog f = { .len = 1, .filter = &snap_only };
	struct sock_filter *copy = NULL;
	int ret = 0;

	if (prog) {
		if (!prog->filter || !prog->len || prog->len > BPF_MAXINSNS)
			return -EINVAL;
		copy = malloc(prog->len * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, prog->filter, prog->len * sizeof(*copy));
		clamp_returns(copy, prog->len, snaplen);
		f.len = prog->len;
		f.filter = copy;
	}
	/* SO_ATTACH_FILTER swaps the program in one step: no unfiltered gap. */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &f, sizeof(f)))
		ret = -errno;
	free(copy);
	return ret;
}

static void free_ring(int fd)
{
	struct tpacket_req3 none;

	memset(&none, 0, sizeof(none));
	(void)setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &none, sizeof(none));
}

/*
 * Set up and map the ring, halving it while the kernel cannot allocate it,
 * down to 1/16 of the request (at least one block).
 */
static int map_ring(struct vcap_afp *a, const struct geometry *g, const char *ifname, char *err,
		    size_t err_len)
{
	uint32_t floor = g->nr_blocks / 16 ? g->nr_blocks / 16 : 1;
	uint32_t nr = g->nr_blocks;
	struct tpacket_req3 req;
	int e = 0;

	for (;;) {
		memset(&req, 0, sizeof(req));
		req.tp_block_size = g->block_size;
		req.tp_block_nr = nr;
		req.tp_frame_size = g->frame_size;
		req.tp_frame_nr = (g->block_size / g->frame_size) * nr;
		req.tp_retire_blk_tov = g->timeout_ms;
		if (setsockopt(a->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) == 0) {
			a->map_len = (size_t)g->block_size * nr;
			a->map = mmap(NULL, a->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd,
				      0);
			if (a->map != MAP_FAILED) {
				a->nr_blocks = nr;
				a->block_size = g->block_size;
				return 0;
			}
			e = errno;
			a->map = NULL;
			free_ring(a->fd);
		} else {
			e = errno;
		}
		if (e != ENOMEM || nr / 2 < floor)
			break;
		nr /= 2;
	}
	if (e == ENOMEM)
		FAIL(-ENOMEM,
		     "afpacket: %s: cannot allocate a ring of %llu MiB (tried down to %llu MiB)",
		     ifname, (unsigned long long)g->block_size * g->nr_blocks / MIB,
		     (unsigned long long)g->block_size * nr / MIB);
	FAIL(-e, "afpacket: %s: PACKET_RX_RING (%u blocks of %u bytes): %s", ifname, nr,
	     g->block_size, strerror(e));
}

/* After bind: refuse what would not be Ethernet frames, or a downed link. */
static int check_bound(struct vcap_afp *a, const char *ifname, char *err, size_t err_len)
{
	struct sockaddr_ll sll;
	socklen_t len = sizeof(sll);
	int so_err = 0;
	socklen_t elen = sizeof(so_err);

	if (getsockname(a->fd, (struct sockaddr *)&sll, &len))
		FAIL(-errno, "afpacket: %s: getsockname: %s", ifname, strerror(errno));
	if (sll.sll_hatype != ARPHRD_ETHER && sll.sll_hatype != ARPHRD_LOOPBACK)
		FAIL(-ENOTSUP, "afpacket: %s: link type %u does not carry Ethernet frames", ifname,
		     sll.sll_hatype);
	/* Binding to a downed interface succeeds but leaves ENETDOWN pending. */
	if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &so_err, &elen))
		FAIL(-errno, "afpacket: %s: SO_ERROR: %s", ifname, strerror(errno));
	if (so_err == ENETDOWN)
		FAIL(-ENETDOWN, "afpacket: %s: interface is down", ifname);
	if (so_err)
		FAIL(-so_err, "afpacket: %s: %s", ifname, strerror(so_err));
	return 0;
}

static int setup(struct vcap_afp *a, const char *ifname, const struct vcap_afp_opts *o,
		 const struct geometry *g, char *err, size_t err_len)
{
	static struct sock_filter drop_insn = BPF_STMT(BPF_RET | BPF_K, 0);
	static const struct sock_fprog drop_all = { .len = 1, .filter = &drop_insn };
	struct sockaddr_ll sll;
	int r;

	/*
	 * Protocol 0: the socket is hooked to no interface and receives
	 * nothing until bind() names both the interface and ETH_P_ALL, so no
	 * packet from another interface can be queued meanwhile.
	 */
	a->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		r = errno;
		FAIL(-r, "afpacket: %s: socket: %s%s", ifname, strerror(r),
		     r == EPERM || r == EACCES ? " (needs CAP_NET_RAW)" : "");
	}
	if ((r = set_int(a->fd, SOL_PACKET, PACKET_VERSION, TPACKET_V3)))
		FAIL(r, "afpacket: %s: TPACKET_V3: %s", ifname, strerror(-r));
	if ((r = set_int(a->fd, SOL_PACKET, PACKET_RESERVE, VLAN_HLEN)))
		FAIL(r, "afpacket: %s: PACKET_RESERVE: %s", ifname, strerror(-r));
	if (o->ignore_outgoing &&
	    (r = set_int(a->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)))
		FAIL(r, "afpacket: %s: PACKET_IGNORE_OUTGOING: %s", ifname, strerror(-r));
	/*
	 * Before bind, so the very first packet is already cut to snaplen; in
	 * a fanout group, nothing at all until the socket has joined it, or a
	 * packet could come both through the group and to this socket alone.
	 */
	if ((r = attach_filter(a->fd, o->join_fanout ? &drop_all : NULL, g->snaplen)))
		FAIL(r, "afpacket: %s: SO_ATTACH_FILTER: %s", ifname, strerror(-r));
	if ((r = map_ring(a, g, ifname, err, err_len)))
		return r;
	if (o->promisc) {
		struct packet_mreq mr = { .mr_ifindex = a->ifindex, .mr_type = PACKET_MR_PROMISC };

		if (setsockopt(a->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)))
			FAIL(-errno, "afpacket: %s: promiscuous mode: %s", ifname, strerror(errno));
	}

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = a->ifindex;
	if (bind(a->fd, (struct sockaddr *)&sll, sizeof(sll))) {
		r = errno;
		if (r == ENODEV)
			FAIL(-ENODEV, "afpacket: %s: no such interface", ifname);
		FAIL(-r, "afpacket: %s: bind: %s", ifname, strerror(r));
	}
	if ((r = check_bound(a, ifname, err, err_len)))
		return r;
	if (o->join_fanout) {
		/* a socket joins a group only once bound (the kernel's rule) */
		if ((r = set_int(a->fd, SOL_PACKET, PACKET_FANOUT, (int)o->fanout)))
			FAIL(r, "afpacket: %s: PACKET_FANOUT: %s%s", ifname, strerror(-r),
			     r == -EINVAL ? " (the group exists with another type, or this "
					    "kernel lacks the fanout mode)" : "");
		if ((r = attach_filter(a->fd, NULL, g->snaplen)))
			FAIL(r, "afpacket: %s: SO_ATTACH_FILTER: %s", ifname, strerror(-r));
	}
	return 0;
}

int vcap_afp_open(struct vcap_afp **out, const char *ifname, const struct vcap_afp_opts *o,
		  char *err, size_t err_len)
{
	static const struct vcap_afp_opts defaults;
	struct vcap_afp *a;
	struct geometry g;
	unsigned idx;
	int r;

	*out = NULL;
	if (!o)
		o = &defaults;
	if (!ifname || !*ifname)
		FAIL(-ENODEV, "afpacket: no interface named");
	idx = if_nametoindex(ifname);
	if (!idx && errno != ENODEV)
		FAIL(-errno, "afpacket: %s: if_nametoindex: %s", ifname, strerror(errno));
	if (!idx)
		FAIL(-ENODEV, "afpacket: %s: no such interface", ifname);
	if ((r = choose_geometry(&g, o, ifname, err, err_len)))
		return r;

	a = calloc(1, sizeof(*a));
	if (!a)
		FAIL(-ENOMEM, "afpacket: %s: out of memory", ifname);
	a->fd = -1;
	a->ifindex = (int)idx;
	a->snaplen = g.snaplen;
	a->drain_ms = 2 * (uint64_t)g.timeout_ms + 20; /* two timer periods and jiffies rounding */
	r = setup(a, ifname, o, &g, err, err_len);
	if (r) {
		vcap_afp_close(a);
		return r;
	}
	*out = a;
	return 0;
}

void vcap_afp_close(struct vcap_afp *a)
{
	if (!a)
		return;
	if (a->map)
		munmap(a->map, a->map_len);
	if (a->fd >= 0)
		close(a->fd); /* also drops the promiscuous membership */
	free(a);
}

void vcap_afp_save(const struct vcap_afp *a, struct vcap_afp_state *st)
{
	*st = (struct vcap_afp_state){
		.ifindex = (uint32_t)a->ifindex, .block_size = a->block_size,
		.nr_blocks = a->nr_blocks, .snaplen = a->snaplen, .rel = a->rel, .held = a->held,
		.next = a->next, .left = a->left, .off = a->off, .map_len = a->map_len,
		.lost = a->lost, .dead_at = a->dead_at, .drain_ms = a->drain_ms,
		.packets = a->packets, .drops = a->drops,
	};
}

int vcap_afp_adopt(struct vcap_afp **out, int fd, const struct vcap_afp_state *st, char *err,
		   size_t err_len)
{
	struct vcap_afp *a;

	*out = NULL;
	/* nothing in st is believed before it is checked against the ring it describes */
	if (!is_pow2(st->block_size) || st->block_size < 4096 || st->block_size > MAX_BLOCK_SIZE ||
	    !st->nr_blocks || st->map_len != (uint64_t)st->block_size * st->nr_blocks ||
	    st->rel >= st->nr_blocks || st->next >= st->nr_blocks || st->held > st->nr_blocks ||
	    (st->left && !st->held) || st->off > st->block_size ||
	    (st->rel + st->held) % st->nr_blocks != st->next)
		FAIL(-EINVAL, "afpacket: inherited socket %d: inconsistent reader state", fd);
	a = calloc(1, sizeof(*a));
	if (!a)
		FAIL(-ENOMEM, "afpacket: out of memory");
	a->map = mmap(NULL, (size_t)st->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a->map == MAP_FAILED) {
		int e = errno;

		free(a);
		FAIL(-e, "afpacket: inherited socket %d: mapping its ring: %s", fd, strerror(e));
	}
	a->fd = fd;
	a->ifindex = (int)st->ifindex;
	a->map_len = (size_t)st->map_len;
	a->block_size = st->block_size;
	a->nr_blocks = st->nr_blocks;
	a->snaplen = st->snaplen;
	a->rel = st->rel;
	a->held = st->held;
	a->next = st->next;
	a->left = st->left;
	a->off = st->off;
	/* the block being read is the newest held one, just before next */
	a->cur = a->held ? block_at(a, (a->next + a->nr_blocks - 1) % a->nr_blocks) : NULL;
	a->lost = st->lost;
	a->dead_at = st->dead_at;
	a->drain_ms = st->drain_ms;
	a->packets = st->packets;
	a->drops = st->drops;
	*out = a;
	return 0;
}

/* ---- reading ---- */

/* Take the next block if the kernel has handed it over. */
static bool take_block(struct vcap_afp *a)
{
	const struct tpacket_block_desc *bd;
	uint8_t *block;

	if (a->held == a->nr_blocks)
		return false; /* all ours: nothing can arrive before a release */
	block = block_at(a, a->next);
	if (!block_ready(block))
		return false;
	bd = (const struct tpacket_block_desc *)block;
	a->cur = block;
	a->held++;
	a->next = a->next + 1 == a->nr_blocks ? 0 : a->next + 1;
	a->left = bd->hdr.bh1.num_pkts;
	a->off = bd->hdr.bh1.offset_to_first_pkt;
	return true;
}

/*
 * The kernel moved an 802.1Q/802.1ad tag out of the frame into the header;
 * put it back between the MAC addresses and the EtherType, using the
 * VLAN_HLEN bytes PACKET_RESERVE left in front of the frame.  A frame cut
 * before the end of the MAC addresses is already the wire's prefix.
 */
static uint8_t *put_vlan_back(const struct tpacket3_hdr *h, uint8_t *mac, uint32_t *caplen)
{
	uint16_t tpid = h->tp_status & TP_STATUS_VLAN_TPID_VALID ? h->hv1.tp_vlan_tpid :
								   ETH_P_8021Q;
	uint16_t tci = h->hv1.tp_vlan_tci;
	uint8_t tag[VLAN_HLEN] = { (uint8_t)(tpid >> 8), (uint8_t)tpid, (uint8_t)(tci >> 8),
				   (uint8_t)tci };

	if (*caplen < MAC_ADDRS_LEN)
		return mac;
	memmove(mac - VLAN_HLEN, mac, MAC_ADDRS_LEN);
	memcpy(mac - VLAN_HLEN + MAC_ADDRS_LEN, tag, VLAN_HLEN);
	*caplen += VLAN_HLEN;
	return mac - VLAN_HLEN;
}

/* Fill one packet from the block being read.  @return false if the block lies. */
static bool take_packet(struct vcap_afp *a, struct vcap_pkt_meta *m, const uint8_t **data)
{
	uint32_t off = a->off, room, caplen, wirelen;
	const struct tpacket3_hdr *h;
	uint8_t *mac;

	if (off > a->block_size - ALIGNED_HDR || (off & (V3_PKT_ALIGN - 1)))
		return false;
	h = (const struct tpacket3_hdr *)(a->cur + off);
	room = a->block_size - off;
	if (h->tp_mac < ALIGNED_HDR + VLAN_HLEN || h->tp_mac > room ||
	    h->tp_snaplen > room - h->tp_mac)
		return false;

	mac = a->cur + off + h->tp_mac;
	caplen = h->tp_snaplen;
	wirelen = h->tp_len;
	if (h->tp_status & TP_STATUS_VLAN_VALID) {
		mac = put_vlan_back(h, mac, &caplen);
		wirelen += VLAN_HLEN;
	}
	m->ts_ns = (uint64_t)h->tp_sec * 1000000000u + h->tp_nsec;
	m->caplen = caplen < a->snaplen ? caplen : a->snaplen;
	m->wirelen = wirelen;
	m->ifindex = (uint32_t)a->ifindex;
	m->hash = 0;
	*data = mac;

	/* A next offset that does not move forward inside the block ends it. */
	if (--a->left)
		a->off = h->tp_next_offset >= ALIGNED_HDR && h->tp_next_offset <= room ?
				 off + h->tp_next_offset : a->block_size;
	return true;
}

int vcap_afp_read(struct vcap_afp *a, struct vcap_pkt_meta *meta, const uint8_t **data,
		  unsigned n)
{
	unsigned i = 0;

	while (i < n) {
		if (!a->left && !take_block(a))
			break;
		if (!a->left)
			continue; /* an empty block */
		if (take_packet(a, &meta[i], &data[i])) {
			i++;
		} else {
			/* a kernel bug: count the rest of the block as dropped */
			a->lost += a->left;
			a->left = 0;
		}
	}
	return (int)i;
}

void vcap_afp_release(struct vcap_afp *a)
{
	/* The newest held block stays while packets in it are unread. */
	uint32_t done = a->held - (a->left ? 1 : 0);

	while (done--) {
		atomic_store_explicit(block_status(block_at(a, a->rel)), TP_STATUS_KERNEL,
				      memory_order_release);
		a->rel = a->rel + 1 == a->nr_blocks ? 0 : a->rel + 1;
		a->held--;
	}
}

/* ---- waiting ---- */

static bool can_read(struct vcap_afp *a)
{
	return a->left || (a->held < a->nr_blocks && block_ready(block_at(a, a->next)));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The shorter of two waits in ms, where a negative a means forever. */
static int min_ms(int a, uint64_t b)
{
	if (b > INT32_MAX)
		b = INT32_MAX;
	return a >= 0 && (uint64_t)a < b ? a : (int)b;
}

/* poll() said POLLERR or POLLHUP: find out whether the interface is gone. */
static int socket_error(struct vcap_afp *a)
{
	struct sockaddr_ll sll;
	socklen_t len = sizeof(sll);
	int e = 0;
	socklen_t elen = sizeof(e);

	if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &e, &elen))
		return -errno;
	/* Unregistering the interface also unbinds the socket (ifindex -1). */
	if (e == ENETDOWN || e == ENODEV || e == ENXIO ||
	    (getsockname(a->fd, (struct sockaddr *)&sll, &len) == 0 &&
	     sll.sll_ifindex != a->ifindex))
		return -ENETDOWN;
	return e ? -e : 0;
}

/*
 * One poll() for at most ms (-1: forever).
 *
 * POLLIN means "the block before the kernel's current one is not the
 * kernel's", which stays true while we hold the last block handed over,
 * ready successor or not.  Holding blocks, poll() cannot sleep for us, so
 * we only collect errors from it and nap instead.
 */
static int poll_once(struct vcap_afp *a, int ms)
{
	struct pollfd pfd = { .fd = a->fd, .events = POLLIN };
	bool nap = a->held > 0;

	if (poll(&pfd, 1, nap ? 0 : ms) < 0)
		return -errno;
	if (pfd.revents & POLLNVAL)
		return -EBADF;
	if (pfd.revents & (POLLERR | POLLHUP)) {
		int e = socket_error(a);

		if (e == -ENETDOWN) {
			/*
			 * The partly filled block still holds packets; the
			 * retire timer hands it over within a block timeout,
			 * so keep waiting that long before calling it a day.
			 */
			if (!a->dead_at)
				a->dead_at = now_ms();
		} else if (e) {
			return e;
		}
	}
	if (nap && !can_read(a) && ms && poll(NULL, 0, min_ms(ms, NAP_MS)) < 0)
		return -errno;
	return 0;
}

int vcap_afp_wait(struct vcap_afp *a, int timeout_ms)
{
	uint64_t start = now_ms();

	for (;;) {
		uint64_t now;
		int ms, r;

		if (can_read(a))
			return 1;
		now = now_ms();
		if (a->dead_at && now >= a->dead_at + a->drain_ms)
			return -ENETDOWN;
		if (timeout_ms >= 0 && now >= start + (uint64_t)timeout_ms)
			return 0;
		ms = timeout_ms >= 0 ? (int)(start + (uint64_t)timeout_ms - now) : -1;
		if (a->dead_at)
			ms = min_ms(ms, a->dead_at + a->drain_ms - now);
		if ((r = poll_once(a, ms)))
			return r;
	}
}

/* ---- the rest ---- */

int vcap_afp_stats(struct vcap_afp *a, uint64_t *packets, uint64_t *drops)
{
	struct tpacket_stats_v3 st;
	socklen_t len = sizeof(st);

	memset(&st, 0, sizeof(st));
	if (getsockopt(a->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len))
		return -errno;
	a->packets += st.tp_packets;
	a->drops += st.tp_drops;
	if (packets)
		*packets = a->packets;
	if (drops)
		*drops = a->drops + a->lost;
	return 0;
}

int vcap_afp_set_filter(struct vcap_afp *a, const struct sock_fprog *prog)
{
	return attach_filter(a->fd, prog, a->snaplen);
}

int vcap_afp_fd(const struct vcap_afp *a)
{
	return a->fd;
}

uint32_t vcap_afp_fanout(const struct vcap_afp *a)
{
	uint32_t v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(a->fd, SOL_PACKET, PACKET_FANOUT, &v, &len))
		return 0;
	return v;
}

int vcap_afp_ifindex(const struct vcap_afp *a)
{
	return a->ifindex;
}
