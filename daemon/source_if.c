/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * source_if.c - `if:` sources: live capture from a host interface with
 * AF_PACKET TPACKET_V3 (source/afpacket.h).
 *
 *   if:IFACE[,promisc=1][,ring=SIZE][,block=SIZE][,snaplen=N][,fanout=N]
 *
 * fanout=N (2..16) opens N sockets in one PACKET_FANOUT_HASH group, one
 * lane each: the kernel spreads packets by its symmetric flow hash, so
 * both directions of a flow stay on one lane and so in order, and N
 * capture threads share the copying (each socket has a ring of ring=).
 *
 * An interface that goes down or away makes next() fail; the capture
 * thread reports it and calls reopen() until the interface is back.
 * Kernel drops of every socket this source has had are added up.
 *
 * The kernel filters for vcapd where that is free (roster.c decides what):
 * nothing passes while nobody listens, and when every consumer has the same
 * filter the socket runs it too, so unwanted packets are never queued.
 */
#include "source.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "afpacket.h"
#include "netdev.h"
#include "options.h"
#include "util.h"

struct if_src {
	char ifname[IF_NAMESIZE];
	struct vcap_afp_opts opts;
	unsigned n;                /* sockets: one per lane */
	struct vcap_afp *afp[SOURCE_LANES_MAX];
	atomic_bool broken;        /* a socket reported an error: all reopen */
	uint64_t drops_before;     /* kernel drops of sockets already closed */
	/* what the kernel should filter, reapplied to every new socket */
	struct sock_filter kfilter[SOURCE_KFILTER_MAX];
	unsigned kfilter_len; /* 0: pass all */
	bool kdrop_all;
};

/* Attach f->kfilter (or drop-all, or nothing) to every current socket. */
static int apply_kernel_filter(struct if_src *f)
{
	static struct sock_filter drop_all_insn[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { .len = 1, .filter = drop_all_insn }, *use = &prog;
	int rc = 0;

	if (!f->kdrop_all && !f->kfilter_len) {
		use = NULL;
	} else if (!f->kdrop_all) {
		prog.len = (unsigned short)f->kfilter_len;
		prog.filter = f->kfilter;
	}
	for (unsigned i = 0; i < f->n; i++)
		if (f->afp[i] && !rc)
			rc = vcap_afp_set_filter(f->afp[i], use);
	return rc;
}

static void close_sockets(struct if_src *f)
{
	for (unsigned i = 0; i < f->n; i++) {
		vcap_afp_close(f->afp[i]);
		f->afp[i] = NULL;
	}
}

/* Is the link administratively up and running?  @return 0 or -errno. */
static int link_state(const char *ifname, char *err, size_t err_len)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		rc = -errno;
		snprintf(err, err_len, "if:%s: %s", ifname,
			 errno == ENODEV ? "no such interface" : strerror(errno));
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		rc = -ENETDOWN;
		snprintf(err, err_len, "if:%s: link is down", ifname);
	}
	close(fd);
	return rc;
}

/*
 * With fanout, the first socket makes a group with an id the kernel picks
 * (PACKET_FANOUT_FLAG_UNIQUEID: no clash with another program's group),
 * and the others join it by that id.  Not FLAG_DEFRAG: it would hand the
 * sockets reassembled datagrams instead of the fragments on the wire.
 */
static int if_connect(struct source *s, struct if_src *f, char *err, size_t err_len)
{
	struct vcap_afp_opts o = f->opts;
	int rc = link_state(f->ifname, err, err_len);

	if (rc)
		return rc;
	o.join_fanout = f->n > 1;
	o.fanout = (uint32_t)(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
	for (unsigned i = 0; i < f->n && !rc; i++) {
		rc = vcap_afp_open(&f->afp[i], f->ifname, &o, err, err_len);
		/* the id the kernel gave the group (0 is one too); the others join it */
		if (!rc && i == 0)
			o.fanout = (vcap_afp_fanout(f->afp[0]) & 0xffffu) |
				   (uint32_t)PACKET_FANOUT_HASH << 16;
	}
	if (rc) {
		close_sockets(f);
		return rc;
	}
	atomic_store(&f->broken, false);
	apply_kernel_filter(f);
	atomic_store(&s->ifindex, (uint32_t)vcap_afp_ifindex(f->afp[0]));
	atomic_store(&s->mtu, vcap_netdev_mtu(f->ifname));
	return 0;
}

/* What if_open() takes after IFACE; kv_known() refuses anything else. */
static const char *const if_options[] = { "promisc", "ring", "block", "snaplen", "fanout", NULL };

static int if_open(struct source *s, const char *args, char *err, size_t err_len)
{
	struct if_src *f = calloc(1, sizeof(*f));
	struct kv kv;
	uint64_t v;
	int rc = 0;

	if (!f)
		return -ENOMEM;
	f->opts.promisc = true;
	f->n = 1;
	if (kv_ifname(&args, "if", f->ifname, sizeof(f->ifname), err, err_len)) {
		free(f);
		return -EINVAL;
	}
	while (!rc && (rc = kv_next(&args, &kv, err, err_len)) > 0) {
		rc = kv_known(&kv, if_options, "if", err, err_len);
		if (rc)
			break;
		if (!strcmp(kv.key, "promisc")) {
			rc = kv_u64(&kv, 0, 1, &v, err, err_len);
			f->opts.promisc = v;
		} else if (!strcmp(kv.key, "ring")) {
			rc = kv_u64(&kv, 1u << 16, 1u << 30, &v, err, err_len);
			f->opts.ring_size = (uint32_t)v;
		} else if (!strcmp(kv.key, "block")) {
			rc = kv_u64(&kv, 1u << 12, 1u << 26, &v, err, err_len);
			f->opts.block_size = (uint32_t)v;
		} else if (!strcmp(kv.key, "snaplen")) {
			rc = kv_u64(&kv, 16, 262144, &v, err, err_len);
			f->opts.snaplen = (uint32_t)v;
		} else if (!strcmp(kv.key, "fanout")) {
			rc = kv_u64(&kv, 1, SOURCE_LANES_MAX, &v, err, err_len);
			f->n = (unsigned)v;
		}
	}
	s->n_lanes = f->n;
	/* until source.c says otherwise, the kernel drops everything */
	f->kdrop_all = true;
	if (!rc && !source_adopting) /* else restore() has the old vcapd's socket */
		rc = if_connect(s, f, err, err_len);
	if (rc) {
		free(f);
		return rc;
	}
	s->priv = f;
	s->linktype = DLT_EN10MB;
	return 0;
}

static int if_next(struct source *s, unsigned lane, struct vcap_pkt_meta *meta,
		   const uint8_t **data, unsigned n_max, uint64_t now)
{
	struct if_src *f = s->priv;

	(void)now;
	if (atomic_load_explicit(&f->broken, memory_order_relaxed) || !f->afp[lane])
		return -ENETDOWN;
	return vcap_afp_read(f->afp[lane], meta, data, n_max);
}

static void if_release(struct source *s, unsigned lane)
{
	struct if_src *f = s->priv;

	vcap_afp_release(f->afp[lane]);
}

static void if_wait(struct source *s, unsigned lane, int wake_fd, uint64_t max_ns)
{
	struct if_src *f = s->priv;
	struct pollfd p[2] = { { .fd = vcap_afp_fd(f->afp[lane]), .events = POLLIN },
			       { .fd = wake_fd, .events = POLLIN } };
	struct timespec ts = { .tv_sec = (time_t)(max_ns / 1000000000ull),
			       .tv_nsec = (long)(max_ns % 1000000000ull) };

	if (ppoll(p, 2, &ts, NULL) > 0 && (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		getsockopt(p[0].fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		/* ENETDOWN: the link went down or the device was deleted */
		atomic_store(&f->broken, true);
	}
}

static uint64_t if_kernel_drops(struct source *s)
{
	struct if_src *f = s->priv;
	uint64_t sum = f->drops_before;

	for (unsigned i = 0; i < f->n; i++) {
		uint64_t packets = 0, drops = 0;

		if (f->afp[i])
			vcap_afp_stats(f->afp[i], &packets, &drops);
		sum += drops;
	}
	return sum;
}

static int if_reopen(struct source *s, char *err, size_t err_len)
{
	struct if_src *f = s->priv;

	f->drops_before = if_kernel_drops(s);
	close_sockets(f);
	return if_connect(s, f, err, err_len);
}

static int if_kernel_filter(struct source *s, const struct bpf_insn *insns, unsigned n,
			   bool drop_all)
{
	struct if_src *f = s->priv;

	if (n > SOURCE_KFILTER_MAX)
		n = 0; /* the kernel takes no more: it passes all, vcapd filters */
	/* libpcap's struct bpf_insn and the kernel's struct sock_filter agree */
	_Static_assert(sizeof(struct bpf_insn) == sizeof(struct sock_filter), "same layout");
	if (n) /* insns may be NULL then */
		memcpy(f->kfilter, insns, n * sizeof(*f->kfilter));
	f->kfilter_len = n;
	f->kdrop_all = drop_all;
	return apply_kernel_filter(f);
}

/* What an upgrade hands over besides the sockets (source.h: save, restore). */
struct if_saved {
	struct vcap_afp_state afp[SOURCE_LANES_MAX];
	uint8_t n, broken, kdrop_all, pad;
	uint32_t kfilter_len;
	uint64_t drops_before;
	struct sock_filter kfilter[SOURCE_KFILTER_MAX];
};

static size_t if_save(struct source *s, void *buf, size_t cap, int fds[SOURCE_LANES_MAX],
		      unsigned *n_fds)
{
	struct if_src *f = s->priv;
	struct if_saved *v = buf;

	*n_fds = 0;
	if (cap < sizeof(*v))
		return 0;
	memset(v, 0, sizeof(*v));
	/* all the sockets or none (closed after a failure): reopen() makes them all */
	for (unsigned i = 0; i < f->n && f->afp[0]; i++) {
		vcap_afp_save(f->afp[i], &v->afp[i]);
		fds[(*n_fds)++] = vcap_afp_fd(f->afp[i]);
	}
	v->n = (uint8_t)*n_fds;
	v->broken = atomic_load(&f->broken);
	v->kdrop_all = f->kdrop_all;
	v->kfilter_len = f->kfilter_len;
	v->drops_before = f->drops_before;
	memcpy(v->kfilter, f->kfilter, sizeof(v->kfilter));
	return sizeof(*v);
}

static int if_restore(struct source *s, const void *buf, size_t len, const int *fds,
		      unsigned n_fds, char *err, size_t err_len)
{
	struct if_src *f = s->priv;
	struct if_saved *v;
	struct vcap_afp *afp[SOURCE_LANES_MAX] = { 0 };
	int rc = 0;

	if (!len) /* new in this configuration: open it as open() would have */
		return if_connect(s, f, err, err_len);
	v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (len == sizeof(*v))
		memcpy(v, buf, sizeof(*v));
	if (len != sizeof(*v) || v->n != n_fds || (n_fds && n_fds != f->n)) {
		snprintf(err, err_len, "if:%s: the saved state does not fit this vcapd (%u of "
			 "%u sockets)", f->ifname, n_fds, f->n);
		free(v);
		return -EINVAL;
	}
	if (v->kfilter_len > SOURCE_KFILTER_MAX) {
		snprintf(err, err_len, "if:%s: saved kernel filter too long", f->ifname);
		free(v);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n_fds && !rc; i++)
		rc = vcap_afp_adopt(&afp[i], fds[i], &v->afp[i], err, err_len);
	if (rc) {
		for (unsigned i = 0; i < n_fds; i++)
			vcap_afp_close(afp[i]);
		free(v);
		return rc;
	}
	/* open() made sockets of its own: the inherited ones are where the packets wait */
	close_sockets(f);
	memcpy(f->afp, afp, sizeof(afp));
	atomic_store(&f->broken, v->broken || !n_fds);
	if (n_fds) {
		atomic_store(&s->ifindex, (uint32_t)vcap_afp_ifindex(afp[0]));
		atomic_store(&s->mtu, vcap_netdev_mtu(f->ifname));
	}
	f->kdrop_all = v->kdrop_all;
	f->kfilter_len = v->kfilter_len;
	f->drops_before = v->drops_before;
	memcpy(f->kfilter, v->kfilter, sizeof(f->kfilter));
	free(v);
	return 0;
}

static void if_close(struct source *s)
{
	struct if_src *f = s->priv;

	if (!f)
		return;
	close_sockets(f);
	free(f);
}

const struct source_ops source_if_ops = {
	.kind = "if",
	.pull = false,
	.options = if_options,
	.open = if_open,
	.next = if_next,
	.release = if_release,
	.wait = if_wait,
	.kernel_drops = if_kernel_drops,
	.reopen = if_reopen,
	.kernel_filter = if_kernel_filter,
	.close = if_close,
	.save = if_save,
	.restore = if_restore,
};
