/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reconnect.c - VCAP_OPEN_RECONNECT: a ring handle that outlives vcapd.
 *
 * The handle remembers what it asked vcapd for (the OPEN, the filter last
 * set, its wildcard rules, flow rules and default action: only what vcapd
 * said yes to).  When the receive finds vcapd gone and the old ring read to
 * its end, it settles the old ring's accounts (what it delivered, what was
 * lost), lets it go, and connects again with a backoff, then asks the new
 * vcapd for the same ring and sets everything on it again before any
 * packet is read: what the consumer sees after the gap is filtered exactly
 * as before it.
 *
 * Everything here runs under h->ctl_lock, except the waits between
 * attempts: another thread's control call then finds no channel (-EAGAIN)
 * rather than half a ring.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"

#define BACKOFF_MIN_MS 5
#define BACKOFF_MAX_MS 250

struct kept_flow {
	struct vcap_wire_flow flow;
	uint32_t action;
	uint32_t idle_timeout_ms;
};

struct vcap_keep {
	char source[VCAP_NAME_MAX + 1];
	char *socket; /* the caller's socket_path, or NULL: the default search */
	struct vcap_msg_open open;
	char *filter; /* the last one vcapd accepted */
	uint32_t default_action; /* 0: never set */
	struct vcap_wire_rule *rules;
	size_t nrules, rules_cap;
	struct kept_flow *flows;
	size_t nflows, flows_cap;
	uint32_t give_up_ms; /* 0: never */

	/* between rings (h->ctl NULL) */
	int64_t away_ms;    /* when the old ring was let go (vcap_mono_ms) */
	uint64_t away_ns;
	int64_t next_try;   /* vcap_mono_ms of the next attempt */
	uint32_t backoff_ms;
	bool failed;        /* given up for good: why says why */
	char why[400];

	/* the rings before the current one, settled */
	struct vcap_stats base;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int vcap_keep_init(struct vcap *h, const char *source, const struct vcap_open_opts *o)
{
	struct vcap_keep *k = calloc(1, sizeof(*k));
	const char *sock = VCAP_OPT(o, socket_path, NULL);
	uint32_t flags = VCAP_OPT(o, flags, 0);

	if (!k)
		return vcap_set_err(-ENOMEM, "%s: out of memory", h->device);
	snprintf(k->source, sizeof(k->source), "%s", source);
	k->filter = strdup(VCAP_OPT(o, filter, ""));
	k->socket = sock ? strdup(sock) : NULL;
	if (!k->filter || (sock && !k->socket)) {
		free(k->filter);
		free(k->socket);
		free(k);
		return vcap_set_err(-ENOMEM, "%s: out of memory", h->device);
	}
	k->open = (struct vcap_msg_open){
		.ring_size = VCAP_OPT(o, ring_size, 0),
		.snaplen = VCAP_OPT(o, snaplen, 0),
		.flags = (flags & VCAP_OPEN_FLOW_HASH ? VCAP_OPENF_FLOW_HASH : 0) |
			 (flags & VCAP_OPEN_META ? VCAP_OPENF_META : 0),
		.cluster_id = VCAP_OPT(o, cluster_id, 0),
		.cluster_mode = VCAP_OPT(o, cluster_mode, 0),
	};
	k->give_up_ms = VCAP_OPT(o, reconnect_ms, 0);
	h->keep = k;
	return 0;
}

void vcap_keep_free(struct vcap *h)
{
	struct vcap_keep *k = h->keep;

	if (!k)
		return;
	free(k->filter);
	free(k->socket);
	free(k->rules);
	free(k->flows);
	free(k);
	h->keep = NULL;
}

/* ---- what the handle set on its ring ------------------------------------ */

static bool same_flow(const struct vcap_wire_flow *a, const struct vcap_wire_flow *b)
{
	if (a->family != b->family || a->proto != b->proto)
		return false;
	if (a->port_a == b->port_a && a->port_b == b->port_b &&
	    !memcmp(a->addr_a, b->addr_a, 16) && !memcmp(a->addr_b, b->addr_b, 16))
		return true;
	/* either direction names a flow rule */
	return a->port_a == b->port_b && a->port_b == b->port_a &&
	       !memcmp(a->addr_a, b->addr_b, 16) && !memcmp(a->addr_b, b->addr_a, 16);
}

static void forget_flow(struct vcap_keep *k, const struct vcap_wire_flow *f)
{
	for (size_t i = 0; i < k->nflows; i++)
		if (same_flow(&k->flows[i].flow, f)) {
			k->flows[i] = k->flows[--k->nflows];
			return;
		}
}

/* Grow *arr (of *cap elements of size sz) to hold one more.  @return false if out of memory. */
static bool room(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, ncap * sz);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

/*
 * Out of memory while noting a change vcapd made: the handle could not set
 * it again after a restart, so rather than reopen a ring that filters
 * otherwise, it will give up then (and say why).
 */
static void cannot_keep(struct vcap *h, const char *what)
{
	struct vcap_keep *k = h->keep;

	k->failed = true;
	snprintf(k->why, sizeof(k->why),
		 "%s: vcapd went away, and the handle could not reopen its ring as it was: "
		 "out of memory noting %s",
		 h->device, what);
}

void vcap_keep_note(struct vcap *h, const struct vcap_msg *req, int rc)
{
	struct vcap_keep *k = h->keep;
	char *s;

	if (req->app != VCAP_APP_CAPTURE)
		return;
	switch (req->type) {
	case VCAP_MSG_SET_FILTER:
		if (rc)
			return;
		if (!(s = strdup(req->text))) {
			cannot_keep(h, "a filter");
			return;
		}
		free(k->filter);
		k->filter = s;
		return;
	case VCAP_MSG_RULE_ADD:
		if (rc)
			return;
		if (!room((void **)&k->rules, &k->rules_cap, k->nrules, sizeof(*k->rules))) {
			cannot_keep(h, "a wildcard rule");
			return;
		}
		k->rules[k->nrules++] = req->u.rule_add.rule;
		return;
	case VCAP_MSG_RULE_REMOVE:
		if (rc)
			return;
		for (size_t i = 0; i < k->nrules; i++)
			if (k->rules[i].id == req->u.rule_ref.arg) {
				/* order matters not: vcapd evaluates by id */
				k->rules[i] = k->rules[--k->nrules];
				break;
			}
		return;
	case VCAP_MSG_RULE_DEFAULT:
		if (!rc)
			k->default_action = req->u.rule_ref.arg;
		return;
	case VCAP_MSG_FLOW_ADD:
		if (rc)
			return;
		if (!room((void **)&k->flows, &k->flows_cap, k->nflows, sizeof(*k->flows))) {
			cannot_keep(h, "a flow rule");
			return;
		}
		k->flows[k->nflows++] = (struct kept_flow){ .flow = req->u.flow_add.flow,
							    .action = req->u.flow_add.action,
							    .idle_timeout_ms =
								    req->u.flow_add.idle_timeout_ms };
		return;
	case VCAP_MSG_FLOW_REMOVE:
	case VCAP_MSG_FLOW_HITS:
		/* removed, or found expired: either way no longer in force */
		if ((req->type == VCAP_MSG_FLOW_REMOVE && !rc) || rc == -ENOENT)
			forget_flow(k, &req->u.flow_remove.flow);
		return;
	}
}

/* ---- between rings ------------------------------------------------------- */

int vcap_away_err(struct vcap *h)
{
	if (h->keep && h->keep->failed)
		return vcap_set_err(-EPIPE, "%s", h->keep->why);
	return vcap_set_err(-EAGAIN,
			    "%s: vcapd went away; the handle is reconnecting (try again later)",
			    h->device);
}

bool vcap_keep_failed(const struct vcap *h)
{
	return h->keep && h->keep->failed;
}

void vcap_keep_stats(struct vcap *h, struct vcap_stats *st)
{
	const struct vcap_stats *b = &h->keep->base;

	st->received += b->received;
	st->delivered += b->delivered;
	st->dropped += b->dropped;
	st->filtered += b->filtered;
	st->kernel_drops += b->kernel_drops;
	st->shunted += b->shunted;
	st->restarts = b->restarts;
	st->gap_ns = b->gap_ns;
	st->restart_lost = b->restart_lost;
}

/*
 * Settle the old ring's accounts, then let it go.  Its counters are the
 * last vcapd published; records it published after them (prod moved, the
 * stats line not yet) were received and delivered too.  What the counters
 * say was received but never judged, and what was delivered but is still
 * unread (the ring was read to its end, so only a bad record leaves any),
 * is lost: counted as dropped, so the handle's sum still holds.
 */
static void leave_ring(struct vcap *h)
{
	struct vcap_keep *k = h->keep;
	struct vcap_ring_counters c = { 0 };
	uint32_t published, extra, unread;
	uint64_t delivered, received, judged, unjudged;

	(void)vcap_ring_reader_counters(&h->rd, &c); /* torn (vcapd died mid-update): as read */
	published = atomic_load_explicit(&h->rd.r->p.pkts, memory_order_acquire);
	extra = published - (uint32_t)c.delivered;
	if (extra > UINT32_MAX / 2) /* the counters are ahead of prod: nothing extra */
		extra = 0;
	unread = published - h->rd.pkts_read;
	if (unread > UINT32_MAX / 2)
		unread = 0;
	delivered = c.delivered + extra;
	received = c.received + extra;
	judged = delivered + c.dropped + c.filtered;
	unjudged = received > judged ? received - judged : 0;
	if (received < judged)
		received = judged;

	k->base.received += received;
	k->base.delivered += delivered - unread;
	k->base.dropped += c.dropped + unjudged + unread;
	k->base.filtered += c.filtered;
	k->base.kernel_drops += c.kernel_drops;
	k->base.shunted += c.shunted;
	k->base.restart_lost += unjudged + unread;

	vcap_ring_release(h);
	k->away_ms = vcap_mono_ms();
	k->away_ns = now_ns();
	k->backoff_ms = BACKOFF_MIN_MS;
	k->next_try = k->away_ms; /* vcapd may be back already (a supervisor restarted it) */
}

/*
 * A one-shot timer in the handle's set for the next attempt: a caller that
 * polls vcap_fd() is woken to make it, and a waiting receive sleeps on it.
 */
static void arm_retry(struct vcap *h)
{
	struct vcap_keep *k = h->keep;
	int64_t ms = k->next_try - vcap_mono_ms();
	struct itimerspec its = { 0 };

	if (ms < 1)
		ms = 1;
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = ms % 1000 * 1000000L;
	if (h->tick_fd < 0) {
		h->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (h->tick_fd < 0)
			return; /* the receive's own sleep still bounds the wait */
		if (vcap_ev_add(h, h->tick_fd, VCAP_EV_TICK)) {
			close(h->tick_fd);
			h->tick_fd = -1;
			return;
		}
	}
	(void)timerfd_settime(h->tick_fd, 0, &its, NULL);
}

/* Errors after which another attempt would get the same answer. */
static bool for_good(int rc)
{
	/* -ENOENT is OPEN's "no such source": vcapd listens only once its sources run */
	return rc == -ENODATA || rc == -EINVAL || rc == -EPROTO || rc == -EOPNOTSUPP ||
	       rc == -EACCES || rc == -EPERM || rc == -E2BIG || rc == -ENOENT;
}

static int give_up(struct vcap *h, const char *fmt, const char *arg)
{
	struct vcap_keep *k = h->keep;

	k->failed = true;
	snprintf(k->why, sizeof(k->why), fmt, h->device, arg);
	atomic_store(&h->gone, true);
	return vcap_set_err(-EPIPE, "%s", k->why);
}

/* Send one request on the new channel (ctl_lock held).  @return its status. */
static int resend(struct vcap *h, struct vcap_msg *req, struct vcap_msg *reply)
{
	return h->ctl->call(h->ctl, req, reply, NULL, NULL);
}

/* Set the default action, the wildcard rules and the flow rules on the new ring. */
static int reinstall(struct vcap *h, const char **what)
{
	struct vcap_keep *k = h->keep;
	struct vcap_msg *req = malloc(sizeof(*req)), *reply = malloc(sizeof(*reply));
	int rc = 0;

	if (!req || !reply) {
		rc = vcap_set_err(-ENOMEM, "%s: out of memory", h->device);
		*what = "its rules";
		goto out;
	}
	if (k->default_action) {
		*what = "its default action";
		vcap_msg_init(req, VCAP_APP_CAPTURE, VCAP_MSG_RULE_DEFAULT);
		req->u.rule_ref = (struct vcap_msg_rule_ref){ .ring_id = h->info.ring_id,
							      .arg = k->default_action };
		if ((rc = resend(h, req, reply)) != 0)
			goto out;
	}
	*what = "a wildcard rule";
	for (size_t i = 0; i < k->nrules; i++) {
		vcap_msg_init(req, VCAP_APP_CAPTURE, VCAP_MSG_RULE_ADD);
		req->u.rule_add.ring_id = h->info.ring_id;
		req->u.rule_add.rule = k->rules[i];
		if ((rc = resend(h, req, reply)) != 0)
			goto out;
	}
	*what = "a flow rule";
	for (size_t i = 0; i < k->nflows; i++) {
		vcap_msg_init(req, VCAP_APP_CAPTURE, VCAP_MSG_FLOW_ADD);
		req->u.flow_add = (struct vcap_msg_flow_add){
			.ring_id = h->info.ring_id,
			.action = k->flows[i].action,
			.idle_timeout_ms = k->flows[i].idle_timeout_ms,
			.flow = k->flows[i].flow,
		};
		if ((rc = resend(h, req, reply)) != 0)
			goto out;
	}
out:
	free(req);
	free(reply);
	return rc;
}

/* One attempt at a new ring, ctl_lock held.  @return 0, or -errno (message set). */
static int attempt(struct vcap *h)
{
	struct vcap_keep *k = h->keep;
	const char *what = "";
	char msg[300];
	int rc;

	/* the retry timer goes: the new ring brings its own descriptors */
	if (h->tick_fd >= 0)
		close(h->tick_fd);
	h->tick_fd = -1;
	k->open.watermark = h->watermark;
	k->open.timeout_ms = h->timeout_ms;
	rc = vcap_ring_connect(h, k->socket, k->source, &k->open, k->filter);
	if (rc)
		return rc;
	rc = reinstall(h, &what);
	if (rc) {
		snprintf(msg, sizeof(msg), "%s", vcap_errmsg());
		vcap_ring_release(h);
		return vcap_set_err(rc == -EPIPE ? -EPIPE : -EINVAL,
				    "%s: the new vcapd refused %s: %s", h->device, what, msg);
	}
	atomic_store(&h->gone, false);
	k->base.restarts++;
	k->base.gap_ns += now_ns() - k->away_ns;
	return 0;
}

int vcap_reconnect(struct vcap *h, int64_t deadline)
{
	struct vcap_keep *k = h->keep;
	char msg[300];
	int rc;

	pthread_mutex_lock(&h->ctl_lock);
	if (!k->failed && h->ctl)
		leave_ring(h);
	pthread_mutex_unlock(&h->ctl_lock);
	for (;;) {
		int64_t now = vcap_mono_ms(), until;
		int ev;

		if (k->failed)
			return vcap_set_err(-EPIPE, "%s", k->why);
		if (k->give_up_ms && now - k->away_ms >= k->give_up_ms) {
			snprintf(msg, sizeof(msg), "%u", k->give_up_ms);
			return give_up(h,
				       "%s: vcapd went away and was not back within %s ms "
				       "(vcap_open_opts.reconnect_ms)",
				       msg);
		}
		if (now >= k->next_try) {
			pthread_mutex_lock(&h->ctl_lock);
			rc = attempt(h);
			pthread_mutex_unlock(&h->ctl_lock);
			if (!rc)
				return 0;
			if (for_good(rc)) {
				/* tcpdump and others drop privileges after opening: say so */
				snprintf(msg, sizeof(msg), "%s%s", vcap_errmsg(),
					 rc == -EACCES || rc == -EPERM
						 ? " (a program that dropped privileges after "
						   "opening must still be allowed on vcapd's socket)"
						 : "");
				return give_up(h, "%s: vcapd came back but the ring cannot be "
						  "reopened as it was: %s", msg);
			}
			k->next_try = vcap_mono_ms() + k->backoff_ms;
			k->backoff_ms = k->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
									 : k->backoff_ms * 2;
			pthread_mutex_lock(&h->ctl_lock);
			arm_retry(h);
			pthread_mutex_unlock(&h->ctl_lock);
			continue;
		}
		if (deadline == 0)
			return -EAGAIN;
		until = k->next_try;
		if (k->give_up_ms && k->away_ms + k->give_up_ms < until)
			until = k->away_ms + k->give_up_ms;
		if (deadline > 0 && deadline < until)
			until = deadline;
		if (deadline > 0 && now >= deadline)
			return -EAGAIN;
		ev = vcap_ev_poll(h, (int)(until - now > 0 ? until - now : 0));
		if (ev < 0)
			return vcap_set_err(ev, "%s: epoll_wait: %s", h->device, strerror(-ev));
		if (ev & VCAP_EV_BREAK)
			return vcap_set_err(-EINTR, "%s: interrupted by vcap_breakloop()", h->device);
		if (ev & VCAP_EV_SIGNAL)
			return vcap_set_err(-EINTR, "%s: interrupted by a signal", h->device);
	}
}
