/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * loop.c - the control thread's epoll loop (see loop.h).
 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util.h"

/* A periodic registration: a timerfd whose expiry calls the user's watch. */
struct loop_timer {
	struct loop_watch self;
	struct loop_watch *user;
	int fd;
	struct loop_timer *next;
};

/* A call loop_after() put off until the round's events are handled. */
struct loop_later {
	void (*fn)(void *arg);
	void *arg;
	struct loop_later *next;
};

struct loop {
	int ep;
	bool stop;
	struct loop_timer *timers;
	struct loop_later *later, **later_tail;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		free(l);
		return NULL;
	}
	l->later_tail = &l->later;
	return l;
}

static void run_later(struct loop *l)
{
	while (l->later) {
		struct loop_later *c = l->later;

		l->later = c->next;
		if (!l->later)
			l->later_tail = &l->later;
		c->fn(c->arg);
		free(c);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	run_later(l);
	while (l->timers) {
		struct loop_timer *t = l->timers;

		l->timers = t->next;
		close(t->fd);
		free(t);
	}
	close(l->ep);
	free(l);
}

int loop_add(struct loop *l, int fd, uint32_t events, struct loop_watch *w)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int loop_mod(struct loop *l, int fd, uint32_t events, struct loop_watch *w)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

void loop_del(struct loop *l, int fd)
{
	epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
}

static void timer_fired(struct loop_watch *w, uint32_t events)
{
	struct loop_timer *t = (struct loop_timer *)w;
	uint64_t n;

	if (!t->user) /* cancelled earlier in this round */
		return;
	(void)!read(t->fd, &n, sizeof(n));
	t->user->on_event(t->user, events);
}

int loop_every(struct loop *l, unsigned period_ms, struct loop_watch *w)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = period_ms / 1000, .tv_nsec = (period_ms % 1000) * 1000000L },
	};
	struct loop_timer *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	its.it_value = its.it_interval;
	t->self.on_event = timer_fired;
	t->user = w;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->fd < 0 || timerfd_settime(t->fd, 0, &its, NULL)) {
		rc = -errno;
		goto fail;
	}
	rc = loop_add(l, t->fd, EPOLLIN, &t->self);
	if (rc)
		goto fail;
	t->next = l->timers;
	l->timers = t;
	return 0;
fail:
	if (t->fd >= 0)
		close(t->fd);
	free(t);
	return rc;
}

/* A timer loop_cancel() stopped: free it once no event of this round can name it. */
static void free_timer(void *arg)
{
	free(arg);
}

void loop_cancel(struct loop *l, struct loop_watch *w)
{
	for (struct loop_timer **pp = &l->timers; *pp; pp = &(*pp)->next) {
		struct loop_timer *t = *pp;

		if (t->user != w)
			continue;
		*pp = t->next;
		close(t->fd); /* leaves the epoll set */
		t->user = NULL;
		if (loop_after(l, free_timer, t))
			vlog(LOG_ERR, "out of memory: a cancelled timer is leaked");
		return;
	}
}

int loop_after(struct loop *l, void (*fn)(void *arg), void *arg)
{
	struct loop_later *c = malloc(sizeof(*c));

	if (!c)
		return -ENOMEM;
	*c = (struct loop_later){ .fn = fn, .arg = arg };
	*l->later_tail = c;
	l->later_tail = &c->next;
	return 0;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[64];

	l->stop = false;
	while (!l->stop) {
		int n = epoll_wait(l->ep, evs, 64, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		/*
		 * A handler frees only its own registration (a connection
		 * that hung up ends its own session), never one whose event
		 * may still be later in evs[].
		 */
		for (int i = 0; i < n && !l->stop; i++) {
			struct loop_watch *w = evs[i].data.ptr;

			w->on_event(w, evs[i].events);
		}
		run_later(l);
	}
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
