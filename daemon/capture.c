/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * capture.c - the capture thread of one lane of a source: take a batch
 * from the backend, deliver it (deliver.c), publish every ring once per
 * batch, wake the consumers that asked, and sleep when there is nothing to
 * do.  The loop never waits for a consumer.
 *
 * A source with several lanes (a fanout group, a NIC's queues) runs this
 * loop on one thread per lane.  Lane 0 is the one the control thread talks
 * to: it reads the mailbox and retries a failed backend, and for either it
 * stops the other lanes between two batches (lanes_lock, see exclusive()).
 * What the lanes share per consumer, its ring and rules, is the consumer's
 * wlock's (consumer.h).
 */
#include "capture.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "consumer.h"
#include "source.h"
#include "util.h"


#define IDLE_MAX_NS 500000000ull /* a capture thread looks at its mailbox this often anyway */
#define RETRY_NS 1000000000ull   /* a failed source is retried this often */
#define KDROPS_NS 10000000ull    /* busy, kernel drop (and left-out) counts are read this often */
#define HOLD_NS 100000ull        /* longest a burst defers consumers' wake-ups */

/*
 * Publish every ring and wake the consumers that asked; with hold, in the
 * middle of a burst, wake only those whose ring is filling up.
 *
 * Why hold: a source that hands over a backlog (a TPACKET_V3 block of
 * thousands of packets, a file) fills a sleeping consumer's watermark
 * every batch or two; waking it each time costs it a sleep and a wake-up
 * per batch, and when it shares vcapd's core, vcapd a preemption too.  The
 * kernel's own packet ring wakes its reader once per block.  So while
 * batches come back full, wake-ups wait until the source runs dry or
 * HOLD_NS passes, whichever is first; a consumer that is polling sees
 * every batch at once, as before.
 *
 * @return the earliest time a waiting consumer's timeout expires (0: none).
 */
static uint64_t publish(struct source *s, uint64_t now, bool hold)
{
	uint64_t kdrops = atomic_load_explicit(&s->kernel_drops, memory_order_relaxed);
	uint64_t deadline = 0;
	bool shared = s->n_lanes > 1;

	for (unsigned k = 0; k < s->n_active; k++) {
		struct consumer *c = s->active[k];
		uint64_t due;

		if (shared)
			pthread_mutex_lock(&c->wlock);
		vcap_ring_writer_kernel_drops(&c->w, kdrops - c->kernel_drops_base);
		if (hold && vcap_ring_writer_roomy(&c->w))
			vcap_ring_writer_flush(&c->w);
		else if (vcap_ring_writer_publish(&c->w, now))
			consumer_signal(c);
		else if ((due = vcap_ring_writer_deadline(&c->w)) && (!deadline || due < deadline))
			deadline = due;
		if (shared)
			pthread_mutex_unlock(&c->wlock);
	}
	return deadline;
}

/* With every lane stopped (or only one). */
static void end_rings(struct source *s, uint32_t state)
{
	for (unsigned k = 0; k < s->n_active; k++) {
		vcap_ring_writer_set_state(&s->active[k]->w, state);
		consumer_signal(s->active[k]);
	}
}

/*
 * Lane 0: stop the other lanes between two batches (a no-op with one
 * lane).  Each holds lanes_lock to read for a batch and its wait(); the
 * flag, set before the kick, keeps a lane that has not reached wait() yet
 * from going to sleep there, and the kick wakes one that has.
 */
static void exclusive_begin(struct source *s)
{
	if (s->n_lanes == 1)
		return;
	atomic_store(&s->want_exclusive, true);
	source_kick_lanes(s);
	pthread_rwlock_wrlock(&s->lanes_lock);
}

static void exclusive_end(struct source *s)
{
	if (s->n_lanes == 1)
		return;
	atomic_store(&s->want_exclusive, false);
	pthread_rwlock_unlock(&s->lanes_lock);
}

/*
 * Note whether the source carries VLAN-tagged frames, for the hint that a
 * filter like "tcp" misses them (requests.c).  A hint needs no census: one
 * frame per batch is looked at, and none once a tag was seen, so the
 * packet path pays next to nothing.
 */
static void note_vlan(struct source *s, const struct vcap_pkt_meta *m, const uint8_t *data)
{
	uint16_t type;

	if (s->linktype != 1 /* DLT_EN10MB */ || m->caplen < 14 ||
	    atomic_load_explicit(&s->seen_vlan, memory_order_relaxed))
		return;
	type = (uint16_t)(data[12] << 8 | data[13]);
	if (type == 0x8100 || type == 0x88a8 || type == 0x9100) /* 802.1Q, 802.1ad, QinQ */
		atomic_store_explicit(&s->seen_vlan, true, memory_order_relaxed);
}

/*
 * Lane 0: count what the backend left out before vcapd since the last call
 * (an XDP program's unwanted packets) for the consumers there are now.  A
 * few loads, no system call: as kernel drops are read, and before the
 * roster changes, so that each packet counts for the consumers of its time.
 */
static void count_unwanted(struct source *s)
{
	uint64_t total, n;

	if (!s->ops->unwanted)
		return;
	total = s->ops->unwanted(s);
	n = total - s->unwanted_seen;
	if (!n)
		return;
	s->unwanted_seen = total;
	atomic_fetch_add_explicit(&s->left_out, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->received, n, memory_order_relaxed);
	deliver_unwanted(s, n);
}

/* Take a wake-up off an eventfd (nonblocking: none waiting is fine). */
static void drain(int wake_fd)
{
	uint64_t v;

	(void)!read(wake_fd, &v, sizeof(v));
}

/* Should a pull source (generator, file) produce now? */
static bool wanted(struct source *s)
{
	if (!s->ops->pull)
		return true;
	if (!s->started && s->n_active >= s->start_after)
		s->started = true;
	return s->started && s->n_active > 0;
}

static void fail(struct source *s, int err, const char *what)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-err));
	source_set_error(s, msg);
	atomic_store(&s->state, VCAP_SOURCE_FAILED);
	vlog(LOG_ERR, "source %s: %s; retrying every %llu s", s->name, msg, RETRY_NS / 1000000000ull);
}

static void set_parked(struct source *s, void *arg)
{
	s->parked = arg != NULL;
}

void capture_park(struct source *s)
{
	mailbox_call(s, set_parked, s);
}

void capture_unpark(struct source *s)
{
	mailbox_call(s, set_parked, NULL);
}

/*
 * Lane 0, with the other lanes stopped: run the letters, stay parked for an
 * upgrade, retry a failed backend.  @return the new retry time (0: none).
 */
static uint64_t lane0_chores(struct source *s, uint64_t retry_at)
{
	bool mail = atomic_load_explicit(&s->mail_pending, memory_order_acquire);
	uint64_t now = mono_ns();

	if (!mail && !(retry_at && now >= retry_at))
		return retry_at;
	exclusive_begin(s);
	if (mail) {
		drain(s->lanes[0].wake_fd);
		count_unwanted(s);
		mailbox_apply(s);
	}
	/* parked for an upgrade: only a letter (unpark) may move it on */
	while (s->parked && !atomic_load_explicit(&s->stopping, memory_order_relaxed)) {
		wait_readable(s->lanes[0].wake_fd, -1, IDLE_MAX_NS);
		drain(s->lanes[0].wake_fd);
		mailbox_apply(s);
	}
	now = mono_ns();
	if (retry_at && now >= retry_at) {
		char err[128];

		if (s->ops->reopen(s, err, sizeof(err)) == 0) {
			retry_at = 0;
			source_set_error(s, "");
			atomic_store(&s->state, s->ops->pull ? VCAP_SOURCE_IDLE : VCAP_SOURCE_RUNNING);
			vlog(LOG_NOTICE, "source %s: running again", s->name);
			source_kick_lanes(s); /* the others sleep until it is back */
		} else {
			source_set_error(s, err); /* say why it is still down */
			retry_at = now + RETRY_NS;
		}
	}
	exclusive_end(s);
	return retry_at;
}

/* Lanes but 0: sleep while the backend is down; lane 0 retries and kicks. */
static void lane_down(struct source *s, struct source_lane *l)
{
	if (!atomic_load(&s->want_exclusive))
		wait_readable(l->wake_fd, -1, RETRY_NS);
	drain(l->wake_fd);
}

/* Lane 0 ends the rings once every lane is done with them. */
static void lanes_joined(struct source *s)
{
	for (unsigned k = 1; k < s->n_lanes; k++)
		pthread_join(s->lanes[k].thread, NULL);
	end_rings(s, VCAP_RING_STATE_DEAD);
}

void *capture_main(void *arg)
{
	struct source_lane *l = arg;
	struct source *s = l->src;
	const unsigned me = l->index;
	const bool shared = s->n_lanes > 1;
	struct vcap_pkt_meta meta[BATCH];
	const uint8_t *data[BATCH];
	uint64_t retry_at = 0, kdrops_at = 0, burst_at = 0;

	/*
	 * A paced source sleeps between bursts tens of microseconds apart; the
	 * default 50 us timer slack would make each sleep that much late.
	 */
	(void)prctl(PR_SET_TIMERSLACK, 1000ul);
	while (!atomic_load_explicit(&s->stopping, memory_order_relaxed)) {
		uint64_t now, deadline, sleep_ns = IDLE_MAX_NS;
		int n = 0;

		if (me == 0)
			retry_at = lane0_chores(s, retry_at);
		if (shared)
			pthread_rwlock_rdlock(&s->lanes_lock);
		now = mono_ns();
		if (!retry_at && !s->finished && wanted(s))
			n = s->ops->next(s, me, meta, data, BATCH, now);

		if (n < 0 && me > 0) {
			/* lane 0 sees it too, reports it and retries */
			pthread_rwlock_unlock(&s->lanes_lock);
			lane_down(s, l);
			continue;
		}
		if (n > 0) {
			atomic_store_explicit(&s->state, VCAP_SOURCE_RUNNING, memory_order_relaxed);
			atomic_fetch_add_explicit(&s->received, (uint64_t)n, memory_order_relaxed);
			if (shared)
				atomic_fetch_add_explicit(&l->received, (uint64_t)n,
							  memory_order_relaxed);
			deliver(s, me, meta, data, (unsigned)n, now);
			note_vlan(s, &meta[0], data[0]);
			s->ops->release(s, me);
		} else if (n == -ENODATA) {
			s->finished = true;
			atomic_store(&s->state, VCAP_SOURCE_DONE);
			end_rings(s, VCAP_RING_STATE_EOF);
			vlog(LOG_INFO, "source %s: finished after %llu packets", s->name,
			     (unsigned long long)atomic_load(&s->received));
		} else if (n < 0) {
			fail(s, n, s->spec);
			retry_at = now + RETRY_NS;
		} else if (s->ops->pull && !wanted(s)) {
			if (atomic_load(&s->state) == VCAP_SOURCE_RUNNING)
				atomic_store(&s->state, VCAP_SOURCE_IDLE);
		}

		/*
		 * What the kernel counted (drops: a system call; packets an XDP
		 * program left out: a load per CPU): not per batch while busy,
		 * but always once the source goes quiet, so the counts are
		 * exact whenever the traffic stops.
		 */
		if (me == 0 && (n <= 0 || now >= kdrops_at)) {
			if (s->ops->kernel_drops)
				atomic_store_explicit(&s->kernel_drops, s->ops->kernel_drops(s),
						      memory_order_relaxed);
			count_unwanted(s);
			kdrops_at = now + KDROPS_NS;
		}
		now = mono_ns();
		/* A full batch: more is likely waiting (see publish). */
		if (n == BATCH && !burst_at)
			burst_at = now;
		else if (n < BATCH || now - burst_at >= HOLD_NS)
			burst_at = 0;
		deadline = publish(s, now, burst_at != 0);
		if (me == 0)
			expire_rules(s, now);
		if (n > 0 || (shared && atomic_load(&s->want_exclusive))) {
			/* busy: go straight for the next batch (or let lane 0 in) */
			if (shared)
				pthread_rwlock_unlock(&s->lanes_lock);
			continue;
		}

		if (deadline)
			sleep_ns = deadline > now ? deadline - now : 0;
		if (retry_at && retry_at - now < sleep_ns)
			sleep_ns = retry_at > now ? retry_at - now : 0;
		if (sleep_ns) {
			if (s->finished || retry_at || !wanted(s))
				wait_readable(l->wake_fd, -1, sleep_ns); /* only mail changes that */
			else
				s->ops->wait(s, me, l->wake_fd, sleep_ns);
		}
		if (shared) {
			pthread_rwlock_unlock(&s->lanes_lock);
			if (me > 0)
				drain(l->wake_fd); /* a kick is done with */
		}
	}
	if (me == 0)
		lanes_joined(s);
	return NULL;
}
