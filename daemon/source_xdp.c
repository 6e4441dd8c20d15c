/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * source_xdp.c - `xdp:` sources: live capture from a host interface with
 * one AF_XDP socket per RX queue (source/afxdp.h), fed by vcap's XDP
 * program (source/xdp_prog.h), which leaves out what no consumer can want
 * before the kernel builds an skb for it.
 *
 *   xdp:IFACE[,queues=all|Q:Q..][,mode=native|generic][,zerocopy=auto|on|off]
 *            [,pass=0|1][,ring=N][,coalesce=USEC]
 *
 * ring=N: each RX ring's entries; by default 64 MiB of frames per queue,
 * as if:'s ring (afxdp.h).
 *
 * One lane per queue.  What consumers may want (daemon/want.h: their rules
 * into the program's maps, their BPF filters translated into a program of
 * their own, source/cbpf_xdp.h) goes into the kernel after every change of
 * the roster, a filter or the rules; what it leaves out counts as filtered
 * for every consumer (capture.c).  With
 * pass=0 (the default) the program drops it, so the host's stack sees no
 * packet of the captured queues at all: this is for capture ports (SPAN,
 * TAP).  pass=1 hands the unwanted ones to the stack; the wanted ones are
 * the sockets' either way.
 *
 * coalesce=USEC: a lane that has drained its RX ring sleeps until its
 * recent rate will have brought a quarter of its room (the frames on loan
 * to the kernel, afxdp.c: as many as the rate needs, 8192 at least; or the
 * RX ring's entries where fewer), up to that long
 * (10000 by default, the block timeout TPACKET_V3 gives if: sources; 0:
 * wake for every packet), as a NIC's interrupt moderation would: a wake-up
 * (system calls and two context switches, tens of microseconds on a
 * virtual machine) costs more than copying hundreds of packets, so it
 * should bring hundreds.  Never more than half the room's time, so a fast
 * queue is not left to run out of frames or ring; a slow one waits the
 * whole coalesce= (its packets' latency).  See xdp_wait().
 *
 * loan=auto|all: lend the kernel the frames the rate needs, so that its
 * copies land in frames still in the caches (auto, the default), or every
 * frame all the time, for the longest burst a lane held up can ride out
 * (all).  afxdp.c, "Frames on loan".
 *
 * An upgrade refuses (no save/restore): the sockets' memory is vcapd's own.
 */
#include "source.h"

#include <errno.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "afxdp.h"
#include "cbpf_xdp.h"
#include "netdev.h"
#include "options.h"
#include "util.h"
#include "want.h"
#include "xdp_prog.h"

struct xdp_src {
	char ifname[IF_NAMESIZE];
	struct vcap_xsk_opts xo;
	bool all_queues;
	bool pass;
	uint64_t coalesce_ns;
	unsigned n;
	uint32_t queue[SOURCE_LANES_MAX];
	struct vcap_xdp_prog *prog;
	struct vcap_xsk *xsk[SOURCE_LANES_MAX];
	atomic_bool broken;
	/* per lane, for coalescing: packets read since `since` */
	struct xdp_lane_rate {
		uint64_t since;
		uint64_t read;
	} rate[SOURCE_LANES_MAX];
	uint64_t drops_before;    /* of sockets already closed */
	uint64_t unwanted_before; /* of programs already detached */
	struct want want;         /* lane 0's scratch */
	bool filters_in_xdp;      /* the consumers' BPF filters run in the XDP program */
};

static void close_sockets(struct xdp_src *f)
{
	for (unsigned i = 0; i < f->n; i++) {
		if (f->xsk[i]) {
			f->drops_before += vcap_xsk_drops(f->xsk[i]);
			vcap_xsk_close(f->xsk[i]);
		}
		f->xsk[i] = NULL;
	}
}

static void disconnect(struct xdp_src *f)
{
	if (f->prog) {
		f->unwanted_before += vcap_xdp_prog_unwanted(f->prog);
		vcap_xdp_prog_detach(f->prog);
		f->prog = NULL;
	}
	close_sockets(f);
}

/* Tell the program what the consumers may want now (all lanes stopped). */
static void apply_want(struct source *s, struct xdp_src *f)
{
	if (!f->prog)
		return;
	want_compute(s, &f->want);
	if (vcap_xdp_prog_want(f->prog, f->want.all, f->want.wild, f->want.n_wild, f->want.flows,
			       f->want.n_flows)) {
		vlog(LOG_WARNING, "source %s: the XDP program's flow map is full: it leaves "
		     "nothing out", s->name);
		f->want.all = true;
	}
	{
		char err[160] = "";
		int rc = vcap_xdp_prog_filters(f->prog, f->want.progs, f->want.n_progs, err,
					       sizeof(err));

		if (rc < 0)
			vlog(LOG_WARNING, "source %s: the consumers' filters run in vcapd only, not "
			     "in XDP: %s", s->name, err[0] ? err : strerror(-rc));
		f->filters_in_xdp = rc > 0;
	}
	/* STATUS's kernel filter: what the XDP program lets through */
	pthread_mutex_lock(&s->lock);
	if (f->want.all)
		snprintf(s->kernel_filter_shown, sizeof(s->kernel_filter_shown), "xdp: %s",
			 f->filters_in_xdp ? "what the consumers' filters accept" : "all");
	else
		snprintf(s->kernel_filter_shown, sizeof(s->kernel_filter_shown),
			 "xdp: what %u wildcard and %u flow rules name%s", f->want.n_wild,
			 f->want.n_flows,
			 f->filters_in_xdp ? " and the consumers' filters accept" : "");
	s->kernel_drop_all_shown = !f->want.all && !s->n_active;
	pthread_mutex_unlock(&s->lock);
}

/*
 * The program first (it takes nothing until a queue has a socket), then a
 * socket per queue, each put in the program's map as soon as it is bound.
 */
static int xdp_connect(struct source *s, struct xdp_src *f, char *err, size_t err_len)
{
	int rc = vcap_xdp_prog_attach(&f->prog, f->ifname, f->xo.generic, err, err_len);

	if (rc)
		return rc;
	vcap_xdp_prog_set_pass(f->prog, f->pass);
	apply_want(s, f);
	for (unsigned i = 0; i < f->n && !rc; i++) {
		rc = vcap_xsk_open(&f->xsk[i], f->ifname, f->queue[i], &f->xo, err, err_len);
		if (!rc && (rc = vcap_xdp_prog_socket(f->prog, f->queue[i], vcap_xsk_fd(f->xsk[i]))))
			snprintf(err, err_len, "xdp:%s: queue %u: the socket map refused it: %s",
				 f->ifname, f->queue[i], strerror(-rc));
	}
	if (rc) {
		disconnect(f);
		return rc;
	}
	atomic_store(&f->broken, false);
	atomic_store(&s->ifindex, if_nametoindex(f->ifname));
	atomic_store(&s->mtu, vcap_netdev_mtu(f->ifname)); /* STATUS's, as if: sources give */
	vlog(LOG_INFO, "source %s: XDP %s mode, %s, %s; %u queue%s", s->name,
	     f->xo.generic ? "generic" : "native",
	     vcap_xdp_prog_shared(f->prog) ? "in libxdp's dispatcher" : "alone on the interface",
	     vcap_xsk_zerocopy(f->xsk[0]) ? "zero-copy" : "copy mode", f->n, f->n == 1 ? "" : "s");
	return 0;
}

/* queues=Q:Q:..  @return 0 or -EINVAL with err. */
static int parse_queues(struct xdp_src *f, const char *val, char *err, size_t err_len)
{
	char *end;

	if (!strcmp(val, "all")) {
		f->all_queues = true;
		return 0;
	}
	f->n = 0;
	while (*val) {
		unsigned long q = strtoul(val, &end, 10);

		if (end == val || q >= VCAP_XDP_QUEUES_MAX || f->n == SOURCE_LANES_MAX ||
		    (*end && *end != ':')) {
			snprintf(err, err_len, "xdp: queues=%s: expected all, or up to %d queue "
				 "numbers below %d joined by ':'", val, SOURCE_LANES_MAX,
				 VCAP_XDP_QUEUES_MAX);
			return -EINVAL;
		}
		for (unsigned i = 0; i < f->n; i++)
			if (f->queue[i] == q) {
				snprintf(err, err_len, "xdp: queues=: queue %lu named twice", q);
				return -EINVAL;
			}
		f->queue[f->n++] = (uint32_t)q;
		val = *end ? end + 1 : end;
	}
	return 0;
}

static int choose(const struct kv *kv, const char *const *names, int *out, char *err,
		  size_t err_len)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(kv->val, names[i])) {
			*out = i;
			return 0;
		}
	snprintf(err, err_len, "xdp: %s=%s: expected %s or %s%s%s", kv->key, kv->val, names[0],
		 names[1], names[2] ? " or " : "", names[2] ? names[2] : "");
	return -EINVAL;
}

/* What xdp_open() takes after IFACE; kv_known() refuses anything else. */
static const char *const xdp_options[] = { "queues", "mode", "zerocopy", "pass", "ring",
					   "coalesce", "loan", NULL };

static int xdp_open(struct source *s, const char *args, char *err, size_t err_len)
{
	static const char *const modes[] = { "native", "generic", NULL };
	static const char *const zc[] = { "auto", "on", "off", NULL };
	static const char *const loans[] = { "auto", "all", NULL };
	struct xdp_src *f = calloc(1, sizeof(*f));
	struct kv kv;
	uint64_t v;
	int rc = 0, pick;

	if (!f)
		return -ENOMEM;
	f->all_queues = true;
	f->coalesce_ns = 10000000;
	if (kv_ifname(&args, "xdp", f->ifname, sizeof(f->ifname), err, err_len)) {
		free(f);
		return -EINVAL;
	}
	while (!rc && (rc = kv_next(&args, &kv, err, err_len)) > 0) {
		rc = kv_known(&kv, xdp_options, "xdp", err, err_len);
		if (rc)
			break;
		if (!strcmp(kv.key, "queues")) {
			f->all_queues = false;
			rc = parse_queues(f, kv.val, err, err_len);
		} else if (!strcmp(kv.key, "mode")) {
			rc = choose(&kv, modes, &pick, err, err_len);
			f->xo.generic = pick == 1;
		} else if (!strcmp(kv.key, "zerocopy")) {
			rc = choose(&kv, zc, &pick, err, err_len);
			f->xo.zerocopy = (enum vcap_xsk_zerocopy)pick;
		} else if (!strcmp(kv.key, "pass")) {
			rc = kv_u64(&kv, 0, 1, &v, err, err_len);
			f->pass = v;
		} else if (!strcmp(kv.key, "ring")) {
			rc = kv_u64(&kv, 64, 65536, &v, err, err_len);
			f->xo.ring = (uint32_t)v;
			if (!rc && (v & (v - 1))) {
				snprintf(err, err_len, "xdp: ring=%llu: a power of two",
					 (unsigned long long)v);
				rc = -EINVAL;
			}
		} else if (!strcmp(kv.key, "coalesce")) {
			rc = kv_u64(&kv, 0, 10000, &v, err, err_len);
			f->coalesce_ns = v * 1000;
		} else if (!strcmp(kv.key, "loan")) {
			rc = choose(&kv, loans, &pick, err, err_len);
			f->xo.lend_all = pick == 1;
		}
	}
	if (!rc && f->xo.generic && f->xo.zerocopy == VCAP_XSK_ZC_ON) {
		snprintf(err, err_len, "xdp:%s: zerocopy=on needs mode=native", f->ifname);
		rc = -EINVAL;
	}
	if (!rc && f->all_queues) {
		unsigned n = vcap_netdev_rx_queues(f->ifname);

		if (!if_nametoindex(f->ifname)) {
			snprintf(err, err_len, "xdp:%s: no such interface", f->ifname);
			rc = -ENODEV;
		} else if (n > SOURCE_LANES_MAX) {
			snprintf(err, err_len, "xdp:%s: %u RX queues, more than %d lanes: name the "
				 "queues to capture with queues=Q:Q..", f->ifname, n,
				 SOURCE_LANES_MAX);
			rc = -E2BIG;
		}
		f->n = n ? n : 1;
		for (unsigned i = 0; i < f->n; i++)
			f->queue[i] = i;
	}
	if (!rc && !f->all_queues) {
		unsigned n = vcap_netdev_rx_queues(f->ifname);

		for (unsigned i = 0; i < f->n && !rc; i++)
			if (n && f->queue[i] >= n) {
				snprintf(err, err_len, "xdp:%s: queue %u: the interface has %u RX "
					 "queue%s (0..%u)", f->ifname, f->queue[i], n,
					 n == 1 ? "" : "s", n - 1);
				rc = -EINVAL;
			}
	}
	if (!rc && source_adopting) {
		snprintf(err, err_len, "xdp:%s: an upgrade cannot take over xdp: sources", f->ifname);
		rc = -ENOTSUP;
	}
	s->n_lanes = f->n;
	s->priv = f;
	if (!rc)
		rc = xdp_connect(s, f, err, err_len);
	if (rc) {
		s->priv = NULL;
		free(f);
		return rc;
	}
	s->linktype = DLT_EN10MB;
	return 0;
}

static int xdp_next(struct source *s, unsigned lane, struct vcap_pkt_meta *meta,
		    const uint8_t **data, unsigned n_max, uint64_t now)
{
	struct xdp_src *f = s->priv;

	int n;

	(void)now;
	if (atomic_load_explicit(&f->broken, memory_order_relaxed) || !f->xsk[lane])
		return -ENETDOWN;
	n = vcap_xsk_read(f->xsk[lane], meta, data, n_max);
	f->rate[lane].read += (uint64_t)n;
	return n;
}

static void xdp_release(struct source *s, unsigned lane)
{
	struct xdp_src *f = s->priv;

	vcap_xsk_release(f->xsk[lane]);
}

/* The first look at a burst's rate, after an idle lane woke for its first packet. */
#define PROBE_NS 100000ull

/*
 * A lane with a known rate (it read packets since its last look) sleeps
 * once, as long as that rate needs to bring a quarter of the socket's room
 * (vcap_xsk_room(): the frames on loan or the RX ring, the fewer; a batch
 * at least), within coalesce= and half the room's time.  An idle lane
 * blocks in poll() until a packet comes, then sleeps PROBE_NS to see how
 * fast the burst is.  So a steady stream costs one sleep per target's
 * worth.
 */
static void xdp_wait(struct source *s, unsigned lane, int wake_fd, uint64_t max_ns)
{
	struct xdp_src *f = s->priv;
	struct xdp_lane_rate *r = &f->rate[lane];
	struct pollfd p[2] = { { .fd = vcap_xsk_fd(f->xsk[lane]), .events = POLLIN },
			       { .fd = wake_fd, .events = POLLIN } };
	uint64_t now = mono_ns(), room = vcap_xsk_room(f->xsk[lane]);
	struct timespec ts;

	if (f->coalesce_ns && r->read && now > r->since) {
		uint64_t per = (now - r->since) / r->read, wait = f->coalesce_ns;
		unsigned target = room / 4 > BATCH ? (unsigned)(room / 4) : BATCH;
		unsigned ready = vcap_xsk_ready(f->xsk[lane], target);

		per = per ? per : 1;
		if ((target - ready) * per < wait)
			wait = (target - ready) * per;
		if (room / 2 * per < wait)
			wait = room / 2 * per;
		if (wait > max_ns)
			wait = max_ns;
		r->since = now;
		r->read = 0;
		if (ready < target && wait >= 1000) /* less than a microsecond: not worth a call */
			wait_readable(wake_fd, -1, wait);
		return;
	}
	/* lane 0 counts what the program left out: while it does, look often */
	if (lane == 0 && max_ns > 10000000ull && f->prog &&
	    vcap_xdp_prog_unwanted(f->prog) + f->unwanted_before != s->unwanted_seen)
		max_ns = 10000000ull;
	ts = (struct timespec){ .tv_sec = (time_t)(max_ns / 1000000000ull),
				.tv_nsec = (long)(max_ns % 1000000000ull) };
	if (ppoll(p, 2, &ts, NULL) <= 0) {
		/*
		 * Quiet: has the device gone away?  An AF_XDP socket's poll()
		 * does not say (it reports nothing once unbound); its error does.
		 */
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (lane == 0 && !getsockopt(p[0].fd, SOL_SOCKET, SO_ERROR, &soerr, &len) && soerr)
			atomic_store(&f->broken, true);
		return;
	}
	if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
		atomic_store(&f->broken, true); /* the device went away */
		return;
	}
	r->since = mono_ns();
	r->read = 0;
	if ((p[0].revents & POLLIN) && !(p[1].revents & POLLIN) && f->coalesce_ns)
		wait_readable(wake_fd, -1, f->coalesce_ns < PROBE_NS ? f->coalesce_ns : PROBE_NS);
}

static uint64_t xdp_kernel_drops(struct source *s)
{
	struct xdp_src *f = s->priv;
	uint64_t sum = f->drops_before;

	for (unsigned i = 0; i < f->n; i++)
		if (f->xsk[i])
			sum += vcap_xsk_drops(f->xsk[i]);
	return sum;
}

static int xdp_reopen(struct source *s, char *err, size_t err_len)
{
	struct xdp_src *f = s->priv;

	disconnect(f);
	return xdp_connect(s, f, err, err_len);
}

static void xdp_want_changed(struct source *s, const struct vcap_flow *flow)
{
	struct xdp_src *f = s->priv;
	struct vcap_xdp_flow k;

	if (!f->prog)
		return;
	if (flow && !f->want.all) {
		/* one flow rule more: one map entry, not a recount of them all */
		want_flow_key(flow, &k);
		vcap_xdp_prog_want_flow(f->prog, &k);
		return;
	}
	apply_want(s, f);
}

static uint64_t xdp_unwanted(struct source *s)
{
	struct xdp_src *f = s->priv;

	return f->unwanted_before + (f->prog ? vcap_xdp_prog_unwanted(f->prog) : 0);
}

static void xdp_close(struct source *s)
{
	struct xdp_src *f = s->priv;

	if (!f)
		return;
	disconnect(f);
	want_free(&f->want);
	free(f);
}

const struct source_ops source_xdp_ops = {
	.kind = "xdp",
	.pull = false,
	.options = xdp_options,
	.open = xdp_open,
	.next = xdp_next,
	.release = xdp_release,
	.wait = xdp_wait,
	.kernel_drops = xdp_kernel_drops,
	.reopen = xdp_reopen,
	.want_changed = xdp_want_changed,
	.unwanted = xdp_unwanted,
	.close = xdp_close,
};
