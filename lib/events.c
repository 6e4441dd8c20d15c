/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * events.c - the one epoll set of a handle: what vcap_fd() returns, and
 * what a waiting receive sleeps on.
 *
 * Everything that can end a wait is a member: the ring's wake descriptor
 * (or a direct handle's packet socket), the break eventfd vcap_breakloop()
 * writes, the control channel's socket (its hang-up is vcapd's death), and
 * for channels that cannot hang up or rings without interrupts, a periodic
 * timer that makes the waiter look again.  One set serves both the library's
 * own sleeps and the caller's event loop, so they cannot disagree about
 * why the handle is ready: a poller of vcap_fd() wakes for every reason a
 * receive would, and the receive then says which (packets, -EINTR, -EPIPE).
 *
 * The set is level-triggered: a member stays ready until the receive call
 * takes care of it (drains the wake token, consumes the break, reports the
 * hang-up), and so does vcap_fd().  A hang-up stays ready forever, which is
 * right: the handle reports -EPIPE forever.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

int vcap_ev_init(struct vcap *h)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = VCAP_EV_BREAK };

	h->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (h->ep_fd < 0)
		return vcap_set_err(-errno, "%s: epoll_create1: %s", h->device, strerror(errno));
	if (epoll_ctl(h->ep_fd, EPOLL_CTL_ADD, h->break_fd, &ev) < 0)
		return vcap_set_err(-errno, "%s: epoll_ctl: %s", h->device, strerror(errno));
	return 0;
}

int vcap_ev_add(struct vcap *h, int fd, uint32_t what)
{
	/* a hang-up is EPOLLHUP/EPOLLRDHUP: the socket's replies are not ours to read */
	struct epoll_event ev = { .events = what == VCAP_EV_HUP ? EPOLLRDHUP : EPOLLIN,
				  .data.u32 = what };

	if (epoll_ctl(h->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return vcap_set_err(-errno, "%s: epoll_ctl: %s", h->device, strerror(errno));
	if (what == VCAP_EV_DATA)
		h->data_fd = fd;
	return 0;
}

int vcap_ev_tick(struct vcap *h, uint32_t period_ms)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = period_ms / 1000, .tv_nsec = period_ms % 1000 * 1000000L },
	};
	int rc;

	its.it_value = its.it_interval;
	h->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (h->tick_fd < 0)
		return vcap_set_err(-errno, "%s: timerfd_create: %s", h->device, strerror(errno));
	if (timerfd_settime(h->tick_fd, 0, &its, NULL) < 0)
		return vcap_set_err(-errno, "%s: timerfd_settime: %s", h->device, strerror(errno));
	rc = vcap_ev_add(h, h->tick_fd, VCAP_EV_TICK);
	return rc;
}

void vcap_ev_close(struct vcap *h)
{
	if (h->ep_fd >= 0)
		close(h->ep_fd);
	if (h->tick_fd >= 0)
		close(h->tick_fd);
	h->ep_fd = h->tick_fd = -1;
}

/* Empty a non-blocking descriptor.  @return false if it is at end of file. */
static bool drain(int fd)
{
	char buf[64];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) == (ssize_t)sizeof(buf))
		;
	return n != 0;
}

void vcap_ev_kick(struct vcap *h)
{
	uint64_t one = 1;

	/* a break token without the latch: the next look drains it as stale */
	(void)!write(h->break_fd, &one, sizeof(one));
}

bool vcap_take_break(struct vcap *h)
{
	uint64_t v;

	if (!atomic_load_explicit(&h->brk, memory_order_relaxed) || !atomic_exchange(&h->brk, 0))
		return false;
	/*
	 * The token goes with the latch, so vcap_fd() stops polling ready.
	 * A breakloop racing with us may write its token after this read; it
	 * then finds the latch clear and is drained as stale below.
	 */
	(void)!read(h->break_fd, &v, sizeof(v));
	return true;
}

int vcap_ev_poll(struct vcap *h, int timeout_ms)
{
	struct epoll_event ev[4];
	int n, what = 0;
	uint64_t v;

	n = epoll_wait(h->ep_fd, ev, 4, timeout_ms);
	if (n < 0)
		return errno == EINTR ? VCAP_EV_SIGNAL : -errno;
	for (int i = 0; i < n; i++) {
		switch (ev[i].data.u32) {
		case VCAP_EV_DATA:
			/*
			 * A ring's wake pipe at end of file: vcapd, which holds
			 * its other end, is gone.  (Packet sockets of direct
			 * handles are not drained: the receive reads them.)
			 */
			if (h->ctl && !drain(h->data_fd))
				what |= VCAP_EV_HUP;
			what |= VCAP_EV_DATA;
			break;
		case VCAP_EV_BREAK:
			if (vcap_take_break(h))
				what |= VCAP_EV_BREAK;
			else
				(void)!read(h->break_fd, &v, sizeof(v)); /* stale token */
			break;
		case VCAP_EV_HUP:
			if (ev[i].events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))
				what |= VCAP_EV_HUP;
			break;
		case VCAP_EV_TICK:
			(void)!read(h->tick_fd, &v, sizeof(v));
			what |= VCAP_EV_TICK;
			break;
		}
	}
	return what;
}
