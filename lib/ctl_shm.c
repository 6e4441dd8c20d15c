/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_shm.c - the control channel of a VM guest: the same messages as on
 * vcapd's unix socket, carried by the two control queues of the guest's
 * ivshmem region (include/vcap_shm.h) instead.
 *
 * A call posts the request into g2h, rings vcapd's doorbell (peer
 * host_peer, vector 0) and waits for the reply with the same seq in h2g:
 * on the vector-0 eventfd when the device has MSI-X (VFIO), else by looking
 * at the queue with a sleep that grows from 20 us to 1 ms.  Replies that
 * answer nobody (a process before us gave up on them) are skipped.
 *
 * vcapd is trusted, but the region may be unset, half set or reset under
 * us: the header is checked against the BAR before anything in it is
 * used, the queues' own checks (shm_queue.c) keep us inside them, and a
 * changed generation means every ring we had is gone (-EPIPE).
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "ivshmem_guest.h"
#include "shm_queue.h"
#include "vcap_shm.h"

#define REPLY_TIMEOUT_MS 5000 /* vcapd answers in well under a millisecond */
#define WAKE_SLICE_MS 100     /* re-check the generation this often while waiting */
#define POLL_MIN_US 20
#define POLL_MAX_US 1000

struct ctl_shm {
	struct vcap_ctl ctl;
	struct vcap_ivshmem *dev;
	uint8_t *shm;
	size_t shm_size;
	struct vcap_shm_hdr *hdr;
	struct vcap_shm_hdr at_open; /* what the header said when we checked it */
	struct shm_queue g2h, h2g;
	int bell_fd;                  /* MSI-X vector 0, -1: polled */
	int release_fd;               /* the kernel wants the device back (hot-unplug); -1 */
	uint64_t unplug_seen_ms;      /* when that was last looked at */
	bool unplugging;
	bool broken;                  /* the reply queue broke its framing */
	uint64_t beat;                /* vcapd's heartbeat when last seen moving */
	uint64_t beat_ms;             /* ... and when that was */
	char addr[32];
	_Alignas(8) uint8_t buf[VCAP_MSG_MAX];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_us(uint32_t us)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)us * 1000 };

	nanosleep(&ts, NULL);
}

static uint32_t generation(const struct ctl_shm *c)
{
	return atomic_load_explicit(&c->hdr->generation, memory_order_acquire);
}

/*
 * Is the device being hot-unplugged (vcapd replugs it after a restart, or
 * detaches it)?  Looked at every UNPLUG_CHECK_MS at most: check() runs on
 * every empty ring.
 */
#define UNPLUG_CHECK_MS 10

static bool unplugging(struct ctl_shm *c)
{
	uint64_t now = mono_ms();
	struct pollfd p = { .fd = c->release_fd, .events = POLLIN };

	if (c->unplugging || now - c->unplug_seen_ms < UNPLUG_CHECK_MS)
		return c->unplugging;
	c->unplug_seen_ms = now;
	/* peeked, not read: the eventfd stays readable for whoever looks next */
	c->unplugging = (p.fd >= 0 && poll(&p, 1, 0) == 1) || vcap_ivshmem_gone(c->dev);
	return c->unplugging;
}

int vcap_ctl_shm_check(struct vcap_ctl *ctl)
{
	struct ctl_shm *c = (struct ctl_shm *)ctl;

	if (unplugging(c))
		return vcap_set_err(-EPIPE, "the ivshmem device %s is being unplugged (vcapd "
				    "replugs it): reopen", c->addr);

	if (generation(c) != c->at_open.generation ||
	    __atomic_load_n(&c->hdr->magic, __ATOMIC_RELAXED) != VCAP_SHM_MAGIC)
		return vcap_set_err(-EPIPE,
				    "vcapd reset this VM's region (vcapd restarted or dropped this "
				    "guest): restart the capture");
	if (c->broken)
		return vcap_set_err(-EPIPE, "the control queue of %s is broken: restart the "
				    "capture", c->addr);
	{
		uint64_t beat = atomic_load_explicit(&c->hdr->heartbeat, memory_order_relaxed);
		uint64_t now = mono_ms();

		if (beat != c->beat || !c->beat_ms) {
			c->beat = beat;
			c->beat_ms = now;
		} else if (now - c->beat_ms > VCAP_SHM_HEARTBEAT_DEAD_MS) {
			return vcap_set_err(-EPIPE, "vcapd went away (its heartbeat in the region of "
					    "%s stopped): restart it, and this VM",
					    c->addr);
		}
	}
	return 0;
}

/*
 * Copy the header, between two reads of the generation: vcapd rewrites
 * the whole page when it resets the region (magic and generation are 0 for
 * a moment), so a copy taken across a reset is taken again.
 */
static void snapshot_header(struct ctl_shm *c)
{
	for (int tries = 0; tries < 10; tries++) {
		uint32_t gen = generation(c);

		memcpy(&c->at_open, c->shm, sizeof(c->at_open));
		atomic_thread_fence(memory_order_acquire);
		c->at_open.generation = gen;
		if (gen && generation(c) == gen && c->at_open.magic == VCAP_SHM_MAGIC)
			return;
		sleep_us(1000);
	}
}

/* A queue of queue_size bytes at off lies inside the region, past page 0, aligned. */
static bool queue_fits(const struct vcap_shm_hdr *h, uint64_t off)
{
	return off >= h->hdr_size && off % 64 == 0 && off <= h->region_size &&
	       h->queue_size <= h->region_size - off;
}

/* Check the header against the BAR (see vcap_shm.h).  @return 0 or -errno (message set). */
static int check_header(struct ctl_shm *c)
{
	const struct vcap_shm_hdr *h = &c->at_open;
	uint64_t g2h = h->g2h_off, h2g = h->h2g_off;
	long page = sysconf(_SC_PAGESIZE);

	if (c->shm_size < VCAP_SHM_HDR_SIZE)
		return vcap_set_err(-ENODEV, "ivshmem device %s: BAR2 of %zu bytes cannot hold a "
				    "vcapd region", c->addr, c->shm_size);
	if (h->magic != VCAP_SHM_MAGIC)
		return vcap_set_err(-ECONNREFUSED,
				    "no vcapd region on ivshmem device %s (magic 0x%08x, expected "
				    "0x%08x): is vcapd serving this VM?",
				    c->addr, h->magic, VCAP_SHM_MAGIC);
	if (h->version != VCAP_SHM_VERSION)
		return vcap_set_err(-EPROTO, "the vcapd region on %s has version %u, this libvcap "
				    "speaks %u", c->addr, h->version, VCAP_SHM_VERSION);
	if (h->hdr_size < sizeof(struct vcap_shm_hdr) || h->hdr_size > VCAP_SHM_HDR_SIZE ||
	    h->region_size != c->shm_size || h->vectors < 1 || h->host_peer > 0xffff ||
	    !queue_fits(h, g2h) || !queue_fits(h, h2g) ||
	    (g2h < h2g ? g2h + h->queue_size > h2g : h2g + h->queue_size > g2h) ||
	    h->rings_off > h->region_size || h->rings_off % (uint64_t)page)
		return vcap_set_err(-EPROTO,
				    "the vcapd region on %s is inconsistent (region %llu bytes, "
				    "BAR2 %zu; queues at %llu and %llu of %u bytes; rings from "
				    "%llu; %u vectors, vcapd is peer %u)",
				    c->addr, (unsigned long long)h->region_size, c->shm_size,
				    (unsigned long long)g2h, (unsigned long long)h2g, h->queue_size,
				    (unsigned long long)h->rings_off, h->vectors, h->host_peer);
	if (shm_queue_attach(&c->g2h, c->shm + g2h, h->queue_size) ||
	    shm_queue_attach(&c->h2g, c->shm + h2g, h->queue_size) ||
	    c->g2h.size / 2 < VCAP_MSG_MAX)
		return vcap_set_err(-EPROTO, "the vcapd region on %s has control queues of %u "
				    "bytes, which cannot carry every message", c->addr,
				    h->queue_size);
	return 0;
}

/*
 * Join the queues where the last guest program left them: requests go on
 * at g2h's head (vcapd's read position follows it), and replies nobody
 * took any more are dropped from h2g.
 */
static void join_queues(struct ctl_shm *c)
{
	c->g2h.pos = atomic_load_explicit(&c->g2h.q->head, memory_order_acquire);
	c->h2g.pos = atomic_load_explicit(&c->h2g.q->head, memory_order_acquire);
	atomic_store_explicit(&c->h2g.q->tail, c->h2g.pos, memory_order_release);
}

/* Post the request, waiting a little if vcapd has not made room yet. */
static int post(struct ctl_shm *c, size_t len, uint64_t deadline)
{
	uint32_t us = POLL_MIN_US;
	int rc;

	while ((rc = shm_queue_send(&c->g2h, c->buf, len)) == -EAGAIN) {
		if (mono_ms() >= deadline)
			return vcap_set_err(-ETIMEDOUT, "vcapd did not answer through the ivshmem "
					    "region of %s (its request queue stays full)", c->addr);
		vcap_ivshmem_ring(c->dev, c->at_open.host_peer, VCAP_SHM_VECTOR_CTRL);
		sleep_us(us);
		us = us * 2 > POLL_MAX_US ? POLL_MAX_US : us * 2;
	}
	if (rc)
		return vcap_set_err(rc, "request of %zu bytes does not fit the control queue of %s",
				    len, c->addr);
	vcap_ivshmem_ring(c->dev, c->at_open.host_peer, VCAP_SHM_VECTOR_CTRL);
	return 0;
}

static bool reply_waiting(struct ctl_shm *c)
{
	return atomic_load_explicit(&c->h2g.q->head, memory_order_acquire) != c->h2g.pos;
}

/*
 * Sleep until vcapd may have posted something: on vector 0, after asking
 * for it in h2g's wait_seq (the ring's Dekker pair: store, fence, look
 * again), or for *us when polled.
 */
static void wait_reply(struct ctl_shm *c, uint64_t deadline, uint32_t *us)
{
	/* the kernel asking for the device back wakes us too */
	struct pollfd p[2] = { { .fd = c->bell_fd, .events = POLLIN },
			       { .fd = c->release_fd, .events = POLLIN } };
	uint64_t now = mono_ms(), left = deadline > now ? deadline - now : 0;
	uint32_t seq;
	uint64_t v;

	if (c->bell_fd < 0) {
		sleep_us(*us);
		*us = *us * 2 > POLL_MAX_US ? POLL_MAX_US : *us * 2;
		return;
	}
	seq = atomic_load_explicit(&c->h2g.q->wait_seq, memory_order_relaxed) | 1;
	atomic_store_explicit(&c->h2g.q->wait_seq, seq, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (left > WAKE_SLICE_MS)
		left = WAKE_SLICE_MS;
	if (!reply_waiting(c) && poll(p, 2, (int)left) > 0 && (p[0].revents & POLLIN))
		(void)!read(c->bell_fd, &v, sizeof(v));
	atomic_store_explicit(&c->h2g.q->wait_seq, seq + 1, memory_order_relaxed);
}

int vcap_ctl_shm_exchange(struct vcap_ctl *ctl, struct vcap_msg *req, struct vcap_msg *reply)
{
	struct ctl_shm *c = (struct ctl_shm *)ctl;
	uint64_t deadline = mono_ms() + REPLY_TIMEOUT_MS;
	uint32_t us = POLL_MIN_US;
	char why[160];
	ssize_t len;
	int rc;

	rc = vcap_ctl_shm_check(ctl);
	if (rc)
		return rc;
	if (++ctl->seq == 0)
		ctl->seq = 1;
	req->seq = ctl->seq;
	len = vcap_msg_encode(req, c->buf, sizeof(c->buf));
	if (len < 0)
		return vcap_set_err((int)len, "vcapd request %s cannot be encoded",
				    vcap_msg_name(req->app, req->type));
	if (c->bell_fd >= 0) {
		uint64_t v;

		(void)!read(c->bell_fd, &v, sizeof(v)); /* a stale interrupt wakes nobody */
	}
	rc = post(c, (size_t)len, deadline);
	if (rc)
		return rc;
	for (;;) {
		len = shm_queue_recv(&c->h2g, c->buf, sizeof(c->buf), why, sizeof(why));
		if (len < 0) {
			c->broken = true;
			return vcap_set_err(-EPROTO, "vcapd's reply queue on %s is broken: %s",
					    c->addr, why);
		}
		if (len > 0) {
			if (vcap_msg_decode(c->buf, (size_t)len, reply, why, sizeof(why)))
				return vcap_set_err(-EPROTO, "bad reply from vcapd through %s: %s",
						    c->addr, why);
			if ((reply->flags & VCAP_MSGF_REPLY) && reply->seq == req->seq &&
			    reply->app == req->app && reply->type == req->type)
				return 0;
			continue; /* an answer to someone who gave up: not ours */
		}
		rc = vcap_ctl_shm_check(ctl);
		if (rc)
			return rc;
		if (mono_ms() >= deadline)
			return vcap_set_err(-ETIMEDOUT,
					    "vcapd did not answer through the ivshmem region of %s "
					    "(%s request, %u ms)",
					    c->addr, vcap_msg_name(req->app, req->type),
					    REPLY_TIMEOUT_MS);
		wait_reply(c, deadline, &us);
	}
}

static int shm_call(struct vcap_ctl *ctl, struct vcap_msg *req, struct vcap_msg *reply, int *fds,
		    int *nfds)
{
	int rc = vcap_ctl_shm_exchange(ctl, req, reply);

	(void)fds;
	if (nfds)
		*nfds = 0; /* nothing but bytes crosses the region */
	if (!rc && reply->status < 0)
		rc = vcap_set_err(reply->status, "%s", reply->text);
	return rc;
}

int vcap_ctl_shm_ring(struct vcap_ctl *ctl, const struct vcap_msg_open_reply *r, void **mem)
{
	struct ctl_shm *c = (struct ctl_shm *)ctl;
	const struct vcap_shm_hdr *h = &c->at_open;

	if (r->map_size != vcap_ring_map_size(r->ring_size) ||
	    r->region_off % VCAP_SHM_RING_ALIGN || r->region_off < h->rings_off ||
	    r->region_off > h->region_size || r->map_size > h->region_size - r->region_off ||
	    r->vector >= h->vectors)
		return vcap_set_err(-EPROTO,
				    "vcapd described a ring outside its region on %s (%llu bytes "
				    "at %llu of %llu, vector %u of %u)",
				    c->addr, (unsigned long long)r->map_size,
				    (unsigned long long)r->region_off,
				    (unsigned long long)h->region_size, r->vector, h->vectors);
	*mem = c->shm + r->region_off;
	return 0;
}

/*
 * vcapd keeps one session per VM, and it outlives the guest programs that
 * used it: a program killed before it could CLOSE leaves its rings there.
 * The one program that drives the region now (the guest lock says so) owns
 * everything in the session, so whatever it finds at the start is left over:
 * close it.  A VM's session sees its own rings only, so STATUS lists exactly
 * those.
 */
int vcap_ctl_shm_reclaim(struct vcap_ctl *ctl)
{
	struct vcap_msg *req = malloc(sizeof(*req)), *reply = malloc(sizeof(*reply));
	uint32_t ids[64];
	int closed = 0, rc = 0;

	if (!req || !reply) {
		rc = vcap_set_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		int before = closed;
		unsigned n = 0;

		vcap_msg_init(req, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
		rc = shm_call(ctl, req, reply, NULL, NULL);
		if (rc)
			goto out;
		for (uint32_t i = 0; i < reply->u.status_reply.n_rings && n < 64; i++)
			ids[n++] = reply->rings[i].ring_id;
		if (!n)
			break;
		for (unsigned i = 0; i < n; i++) {
			vcap_msg_init(req, VCAP_APP_CAPTURE, VCAP_MSG_CLOSE);
			req->u.close.ring_id = ids[i];
			rc = vcap_ctl_shm_exchange(ctl, req, reply);
			if (rc)
				goto out;
			closed += reply->status == 0;
		}
		if (closed == before)
			break; /* listed but not ours to close: leave them */
	}
out:
	free(req);
	free(reply);
	return rc ? rc : closed;
}

static void shm_close(struct vcap_ctl *ctl)
{
	free(ctl);
}

int vcap_ctl_shm_open(struct vcap_ivshmem *dev, const char *client, struct vcap_ctl **out,
		      struct vcap_msg_hello_reply *hello)
{
	struct ctl_shm *c = calloc(1, sizeof(*c));
	struct timespec ts;
	int rc;

	if (!c)
		return vcap_set_err(-ENOMEM, "out of memory");
	c->dev = dev;
	c->shm = vcap_ivshmem_shm(dev, &c->shm_size);
	c->hdr = (struct vcap_shm_hdr *)c->shm;
	snprintf(c->addr, sizeof(c->addr), "%s", vcap_ivshmem_pci_addr(dev));
	if (c->shm_size >= VCAP_SHM_HDR_SIZE)
		snapshot_header(c);
	rc = check_header(c);
	if (rc)
		goto fail;
	join_queues(c);
	c->bell_fd = vcap_ivshmem_vector_fd(dev, VCAP_SHM_VECTOR_CTRL);
	c->release_fd = vcap_ivshmem_release_fd(dev);
	c->ctl.call = shm_call;
	c->ctl.close = shm_close;
	c->ctl.hup_fd = -1; /* nothing hangs up in shared memory; the generation tells */
	/*
	 * Start seq somewhere else each time, so a late reply to a program
	 * that ran before us cannot pass for an answer to our first requests.
	 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->ctl.seq = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() << 16;

	rc = vcap_ctl_hello(&c->ctl, client, hello);
	if (rc)
		goto fail;
	*out = &c->ctl;
	return 0;
fail:
	free(c);
	return rc;
}
