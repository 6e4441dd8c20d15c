/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ring_handle.c - handles whose packets arrive in a vcap ring filled by
 * vcapd: "host:NAME" devices.
 *
 * The receive path makes no system call while packets are waiting: it
 * releases the previous burst with one store, reads records in place, and
 * only when the ring is empty asks vcapd for a wake-up and sleeps on the
 * wake descriptor (see the watermark protocol in vcap_ring.h).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "unix_carrier.h"

/* vcapd's socket (sock, else the environment's, else the default); *chosen: not the default. */
static const char *socket_path(const char *sock, bool *chosen)
{
	const char *env = getenv("VCAP_SOCKET");

	*chosen = true;
	if (sock)
		return sock;
	if (env && *env)
		return env;
	*chosen = false;
	return VCAP_DEFAULT_SOCKET;
}

/*
 * The control channel: vcapd's unix socket (vcap-guestd's, in a VM that
 * runs it); else, in a VM, the ivshmem device itself (guest.c), but only
 * when nobody named a socket: a named socket that does not answer is an
 * error, not a reason to go looking for devices.
 */
static int ctl_open(const char *sock, struct vcap_ctl **out)
{
	bool chosen;
	const char *path = socket_path(sock, &chosen);
	int rc = vcap_ctl_unix_open(path, out);

	if (rc == -ECONNREFUSED && !chosen) {
		int grc = vcap_guest_ctl_open(path, out);

		if (grc != -ENODEV)
			rc = grc;
	}
	return rc;
}

#define SPIN_NS 50000 /* the longest a consumer polls before going to sleep */
#define POLL_MS_MAX 10 /* polled rings: the longest sleep between looks */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * PF_RING's adaptive wait, in short: a consumer that keeps up with a fast
 * producer finds the ring empty between batches; sleeping there would cost
 * a wake-up (a system call on each side) per batch, and polling a few tens
 * of microseconds catches the next batch without either.  But behind a
 * slow or bursty producer polling only burns the CPU.  So the poll adapts:
 * each poll that comes up empty halves the next one (down to none), and
 * each sleep that turns out shorter than a poll would have been doubles it
 * (up to SPIN_NS).
 */
static bool spin_for_data(struct vcap *h, uint64_t spin_ns)
{
	uint64_t until = mono_ns() + spin_ns;

	do {
		for (int i = 0; i < 64; i++) {
			if (vcap_ring_reader_has_data(&h->rd))
				return true;
#if defined(__x86_64__) || defined(__i386__)
			__builtin_ia32_pause();
#endif
		}
	} while (mono_ns() < until && !atomic_load_explicit(&h->brk, memory_order_relaxed));
	return false;
}

/*
 * How long one sleep may last.  A ring without a wake descriptor (a guest
 * whose device has no MSI-X) is looked at after a little longer each time
 * nothing came, 50 us doubling up to POLL_MS_MAX, as PF_RING's adaptive
 * poll does; a channel that cannot hang up (a VM's region) is asked
 * whether vcapd lives at least once a second.  And never past the deadline.
 */
static int sleep_ms(struct vcap *h, int64_t deadline)
{
	int ms = vcap_ms_left(deadline), cap = -1;

	if (h->wake_fd < 0) {
		h->poll_us = h->poll_us ? h->poll_us * 2 : 50;
		if (h->poll_us > POLL_MS_MAX * 1000)
			h->poll_us = POLL_MS_MAX * 1000;
		cap = (int)((h->poll_us + 999) / 1000);
	} else if (h->ctl->alive) {
		cap = 1000;
	}
	return cap >= 0 && (ms < 0 || ms > cap) ? cap : ms;
}

/*
 * Up to n packets straight from the records (no intermediate copy).
 * @return the number read, or -EPROTO if none could be and a record is bad.
 */
static inline int take(struct vcap_ring_reader *rd, struct vcap_pkt *pkts, unsigned n)
{
	const struct vcap_rec *rec;
	unsigned i = 0;
	int rc = 0;

	vcap_ring_reader_refresh(rd);
	while (i < n && (rc = vcap_ring_reader_next(rd, &rec)) > 0)
		pkts[i++] = (struct vcap_pkt){ .data = vcap_rec_data(rec),
					       .ts_ns = rec->ts_ns,
					       .caplen = rec->caplen,
					       .wirelen = rec->wirelen,
					       .ifindex = rec->ifindex,
					       .hash = rec->hash };
	return i ? (int)i : rc;
}

/*
 * What the events since the last look say: -EINTR for a break, and a
 * hang-up recorded (reported once the ring is empty).  Called whenever a
 * wait request is withdrawn, which also drains its wake token: vcapd may
 * signal the request before last just after we withdrew it (we woke on our
 * own timeout, or a caller polling vcap_fd() did), and that stale token
 * would end every later sleep at once until vcapd signals again.
 */
static int look(struct vcap *h, int timeout_ms)
{
	int ev = vcap_ev_poll(h, timeout_ms);

	if (ev < 0)
		return vcap_set_err(ev, "%s: epoll_wait: %s", h->device, strerror(-ev));
	if (ev & VCAP_EV_HUP)
		atomic_store(&h->gone, true);
	if (ev & VCAP_EV_BREAK)
		return vcap_set_err(-EINTR, "%s: interrupted by vcap_breakloop()", h->device);
	if (ev & VCAP_EV_SIGNAL)
		return vcap_set_err(-EINTR, "%s: interrupted by a signal", h->device);
	return 0;
}

static int ring_recv_burst(struct vcap *h, struct vcap_pkt *pkts, unsigned n, int timeout_ms)
{
	int64_t deadline = timeout_ms > 0 ? vcap_mono_ms() + timeout_ms : -1;
	bool last = timeout_ms == 0;

	if (vcap_take_break(h))
		return vcap_set_err(-EINTR, "%s: interrupted by vcap_breakloop()", h->device);
	for (;;) {
		uint64_t slept;
		uint32_t state;
		int got, rc;

		if (!h->ctl) { /* between rings (VCAP_OPEN_RECONNECT) */
			rc = vcap_reconnect(h, last ? 0 : deadline);
			if (rc)
				return rc == -EAGAIN ? 0 : rc;
			continue;
		}
		if (h->armed) {
			h->armed = false;
			(void)vcap_ring_reader_disarm(&h->rd);
			if ((rc = look(h, 0)) != 0)
				return rc;
		}
		vcap_ring_reader_release(&h->rd); /* R2: the previous burst, in one store */
		got = take(&h->rd, pkts, n);
		if (got > 0) {
			h->poll_us = 0;
			return got;
		}
		if (got < 0)
			return vcap_set_err(got, "%s: the ring holds a malformed record", h->device);

		/* Empty.  State before prod (see VCAP_RING_STATE_EOF). */
		state = vcap_ring_reader_state(&h->rd);
		if (state != VCAP_RING_STATE_LIVE && !vcap_ring_reader_has_data(&h->rd)) {
			if (state == VCAP_RING_STATE_EOF)
				return vcap_set_err(-ENODATA, "%s: the source has ended", h->device);
			/*
			 * vcapd shut down (SIGTERM, a restart) or a reload
			 * replaced the source: a handle that reconnects asks
			 * for a new ring, as after a crash.
			 */
			if (!h->keep)
				return vcap_set_err(-EPIPE, "%s: vcapd dropped this ring", h->device);
			atomic_store(&h->gone, true);
		}
		if (h->ctl->alive && !atomic_load(&h->gone) && (rc = h->ctl->alive(h->ctl)) != 0)
			atomic_store(&h->gone, true);
		if (atomic_load(&h->gone)) {
			if (!h->keep)
				return vcap_gone_err(h);
			/* the old ring is read to its end: a new one (reconnect.c) */
			rc = vcap_reconnect(h, last ? 0 : deadline);
			if (rc)
				return rc == -EAGAIN ? 0 : rc;
			continue;
		}
		if (!last && state == VCAP_RING_STATE_LIVE && h->spin_ns) {
			uint64_t spin = h->spin_ns;
			int left = vcap_ms_left(deadline);

			if (left >= 0 && (uint64_t)left * 1000000u < spin)
				spin = (uint64_t)left * 1000000u;
			if (spin_for_data(h, spin))
				continue;
			h->spin_ns /= 2;
		}
		if (!vcap_ring_reader_arm(&h->rd, h->watermark, h->timeout_ms))
			continue; /* packets came in while we armed */
		h->armed = true;
		if (last)
			return 0;

		slept = mono_ns();
		rc = look(h, sleep_ms(h, deadline));
		slept = mono_ns() - slept;
		if (slept < SPIN_NS) /* a poll would have caught it: poll longer */
			h->spin_ns = h->spin_ns * 2 > SPIN_NS ? SPIN_NS
				     : h->spin_ns * 2 < 1000 ? 1000 : h->spin_ns * 2;
		if (rc)
			return rc;
		/* at the deadline, one more look: whatever waits below the watermark */
		last = deadline >= 0 && vcap_ms_left(deadline) == 0;
	}
}

static int ring_set_filter(struct vcap *h, const char *filter)
{
	struct vcap_msg *req = malloc(sizeof(*req)), *reply = malloc(sizeof(*reply));
	int rc;

	if (!req || !reply) {
		rc = vcap_set_err(-ENOMEM, "%s: out of memory", h->device);
		goto out;
	}
	if (strlen(filter) > VCAP_FILTER_MAX) {
		rc = vcap_set_err(-EINVAL, "%s: filter longer than %u bytes", h->device,
				  VCAP_FILTER_MAX);
		goto out;
	}
	vcap_msg_init(req, VCAP_APP_CAPTURE, VCAP_MSG_SET_FILTER);
	req->u.set_filter.ring_id = vcap_ring_id(h);
	strcpy(req->text, filter);
	rc = vcap_ctl_call(h, req, reply, NULL, NULL);
out:
	free(req);
	free(reply);
	return rc;
}

/*
 * The counters in the ring, and whether vcapd is still there to move them:
 * once it is gone they are the last it published, returned with -EPIPE.
 */
static int ring_stats(struct vcap *h, struct vcap_stats *st)
{
	struct vcap_ring_counters c = { 0 };
	bool whole = true;
	int rc = 0;

	/* the ring may be swapped by a reconnect in the receiving thread */
	pthread_mutex_lock(&h->ctl_lock);
	if (h->ctl) {
		rc = vcap_ctl_alive_locked(h);
		whole = vcap_ring_reader_counters(&h->rd, &c);
	}
	*st = (struct vcap_stats){ .received = c.received,
				   .delivered = c.delivered,
				   .dropped = c.dropped,
				   .filtered = c.filtered,
				   .kernel_drops = c.kernel_drops,
				   .shunted = c.shunted };
	if (h->keep) {
		vcap_keep_stats(h, st);
		/* vcapd away is not an error for a handle that reconnects; giving up is */
		rc = vcap_keep_failed(h) ? vcap_away_err(h) : 0;
	}
	pthread_mutex_unlock(&h->ctl_lock);
	if (rc)
		return rc;
	if (!whole)
		return vcap_set_err(-EAGAIN, "%s: the counters are stuck mid-update", h->device);
	return 0;
}

/*
 * Each part releases what it owns: the mapping and the wake descriptor are
 * the handle's (a guest ring in the device's mapping leaves h->map NULL),
 * the ring itself is the channel's.  Over a unix socket hanging up is
 * enough, vcapd frees the ring of a closed session; a guest's channel sends
 * CLOSE (guest.c).
 */
void vcap_ring_release(struct vcap *h)
{
	if (h->map)
		munmap(h->map, h->map_size);
	if (h->wake_fd >= 0)
		close(h->wake_fd); /* closing leaves the epoll set too */
	if (h->tick_fd >= 0)
		close(h->tick_fd);
	if (h->ctl)
		h->ctl->close(h->ctl);
	h->map = NULL;
	h->map_size = 0;
	h->wake_fd = h->data_fd = h->tick_fd = -1;
	h->ctl = NULL;
	h->armed = false;
	memset(&h->rd, 0, sizeof(h->rd));
}

static void ring_close(struct vcap *h)
{
	vcap_ring_release(h);
	vcap_keep_free(h);
}

const struct vcap_ops ring_ops = {
	.recv_burst = ring_recv_burst,
	.set_filter = ring_set_filter,
	.stats = ring_stats,
	.close = ring_close,
};

/*
 * Map the ring an OPEN reply describes: fds[0] is what to map (a memfd on
 * the host; in a guest, the VFIO device or BAR2's sysfs resource file) at
 * file offset region_off; fds[1], if sent, is the wake-up descriptor.  A
 * ring without one (a guest without MSI-X) is polled.
 */
static int map_ring(struct vcap *h, const struct vcap_msg_open_reply *r, int *fds, int nfds)
{
	long page = sysconf(_SC_PAGESIZE);

	if (nfds < 1 || nfds > 2 || r->map_size != vcap_ring_map_size(r->ring_size) ||
	    r->region_off % (uint64_t)page) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return vcap_set_err(-EPROTO,
				    "%s: vcapd sent %d descriptors for a ring of %llu bytes at %llu",
				    h->device, nfds, (unsigned long long)r->map_size,
				    (unsigned long long)r->region_off);
	}
	h->map_size = r->map_size;
	/* vcapd populated the pages; map them all now rather than fault on each */
	h->map = mmap(NULL, h->map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		      fds[0], (off_t)r->region_off);
	close(fds[0]);
	h->wake_fd = nfds == 2 ? fds[1] : -1;
	/* drain() reads it whenever a wait request is withdrawn: it must never block */
	if (h->wake_fd >= 0)
		(void)fcntl(h->wake_fd, F_SETFL, fcntl(h->wake_fd, F_GETFL) | O_NONBLOCK);
	if (h->map == MAP_FAILED) {
		h->map = NULL;
		return vcap_set_err(-errno, "%s: mmap of %zu bytes: %s", h->device, h->map_size,
				    strerror(errno));
	}
	return vcap_ring_attach_mem(h, h->map, h->map_size);
}

/*
 * The handle's event set (events.c): the wake descriptor, the channel's
 * hang-up, and a tick where neither can tell the waiter to look again: a
 * polled ring's, or a channel's whose vcapd must be asked if it lives.
 */
int vcap_ring_attach_mem(struct vcap *h, void *mem, size_t map_size)
{
	int rc = vcap_ring_reader_attach(&h->rd, mem, map_size);

	h->spin_ns = SPIN_NS;
	if (rc)
		return vcap_set_err(rc, "%s: vcapd sent a ring this libvcap does not understand",
				    h->device);
	if (h->ops != &ring_ops) /* a reconnect attaches again: no write racing with readers */
		h->ops = &ring_ops;
	if (h->wake_fd >= 0 && (rc = vcap_ev_add(h, h->wake_fd, VCAP_EV_DATA)) != 0)
		return rc;
	if (h->ctl->hup_fd >= 0 && (rc = vcap_ev_add(h, h->ctl->hup_fd, VCAP_EV_HUP)) != 0)
		return rc;
	if (h->wake_fd < 0)
		rc = vcap_ev_tick(h, POLL_MS_MAX);
	else if (h->ctl->alive)
		rc = vcap_ev_tick(h, 1000);
	if (rc)
		return rc;
	/*
	 * Ask for a wake-up at once, so that vcap_fd() works in an event loop
	 * before any receive was made; packets already there make it ready.
	 */
	h->armed = vcap_ring_reader_arm(&h->rd, h->watermark, h->timeout_ms);
	if (!h->armed)
		vcap_ev_kick(h);
	return 0;
}

/* The VCAP_OPEN_* of vcap.h for the VCAP_OPENF_* vcapd granted (bits unknown here: none). */
static uint32_t open_flags(uint32_t granted)
{
	uint32_t f = 0;

	if (granted & VCAP_OPENF_FLOW_HASH)
		f |= VCAP_OPEN_FLOW_HASH;
	if (granted & VCAP_OPENF_META)
		f |= VCAP_OPEN_META;
	return f;
}

int vcap_ring_connect(struct vcap *h, const char *socket, const char *source,
		      const struct vcap_msg_open *open, const char *filter)
{
	struct vcap_msg *req = NULL, *reply = NULL;
	int fds[VCAP_UNIX_MAX_FDS], nfds = 0, rc;

	rc = ctl_open(socket, &h->ctl);
	if (rc) {
		h->ctl = NULL;
		return rc;
	}
	req = malloc(sizeof(*req));
	reply = malloc(sizeof(*reply));
	if (!req || !reply) {
		rc = vcap_set_err(-ENOMEM, "%s: out of memory", h->device);
		goto fail;
	}
	vcap_msg_init(req, VCAP_APP_CAPTURE, VCAP_MSG_OPEN);
	req->u.open = *open;
	strcpy(req->name, source);
	strcpy(req->text, filter);
	/* the channel's own call: this runs before anyone else has h, or under ctl_lock */
	rc = h->ctl->call(h->ctl, req, reply, fds, &nfds);
	if (rc)
		goto fail;
	h->info = (struct vcap_info){ .linktype = reply->u.open_reply.linktype,
				      .snaplen = reply->u.open_reply.snaplen,
				      .ring_size = reply->u.open_reply.ring_size,
				      .ring_id = reply->u.open_reply.ring_id,
				      .rule_max = reply->u.open_reply.rule_max,
				      .flow_max = reply->u.open_reply.flow_max,
				      .flags = open_flags(reply->u.open_reply.flags) |
					       (h->keep ? VCAP_OPEN_RECONNECT : 0) };
	rc = h->ctl->attach ? h->ctl->attach(h->ctl, h, &reply->u.open_reply)
			    : map_ring(h, &reply->u.open_reply, fds, nfds);
	if (rc)
		vcap_ring_release(h);
	goto out;
fail:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	vcap_ring_release(h);
out:
	free(req);
	free(reply);
	return rc;
}

int vcap_ring_open(struct vcap *h, const char *source, const struct vcap_open_opts *o)
{
	const char *filter = VCAP_OPT(o, filter, "");
	uint32_t flags = VCAP_OPT(o, flags, 0);
	struct vcap_msg_open open = {
		.ring_size = VCAP_OPT(o, ring_size, 0),
		.snaplen = VCAP_OPT(o, snaplen, 0),
		.watermark = h->watermark,
		.timeout_ms = h->timeout_ms,
		.flags = (flags & VCAP_OPEN_FLOW_HASH ? VCAP_OPENF_FLOW_HASH : 0) |
			 (flags & VCAP_OPEN_META ? VCAP_OPENF_META : 0),
		.cluster_id = VCAP_OPT(o, cluster_id, 0),
		.cluster_mode = VCAP_OPT(o, cluster_mode, 0),
	};
	int rc;

	if (!*source || strlen(source) > VCAP_NAME_MAX)
		return vcap_set_err(-EINVAL, "%s: a source name of 1..%u bytes must follow host:",
				    h->device, VCAP_NAME_MAX);
	if (strlen(filter) > VCAP_FILTER_MAX)
		return vcap_set_err(-EINVAL, "%s: filter longer than %u bytes", h->device,
				    VCAP_FILTER_MAX);
	if ((flags & VCAP_OPEN_RECONNECT) && (rc = vcap_keep_init(h, source, o)) != 0)
		return rc;
	rc = vcap_ring_connect(h, VCAP_OPT(o, socket_path, NULL), source, &open, filter);
	if (rc)
		vcap_keep_free(h);
	return rc;
}
