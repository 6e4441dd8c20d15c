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

/* A periodic registration: a timerfd whose expiry calls the user's watch. */
struct loop_timer {
	struct loop_watch self;
	struct loop_watch *user;
	int fd;
	struct loop_timer *next;
};

struct loop {
	int ep;
	bool stop;
	struct loop_timer *timers;
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
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
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
	}
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
