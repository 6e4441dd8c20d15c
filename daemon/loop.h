/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * loop.h - the control thread's event loop: epoll over whatever the
 * carriers (unix listeners and connections, VM servers and doorbells) and
 * main.c (signals) register.
 *
 * A registration is a struct loop_watch embedded in its owner's struct; the
 * loop calls its on_event and knows nothing else about it, so a new kind of
 * carrier registers its descriptors without this file or the request code
 * changing.
 */
#ifndef VCAP_DAEMON_LOOP_H
#define VCAP_DAEMON_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

struct loop_watch {
	/* events: EPOLLIN, EPOLLHUP, ... as epoll reported them */
	void (*on_event)(struct loop_watch *w, uint32_t events);
};

/* @return a loop, or NULL with errno set. */
struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watch fd for events (EPOLLIN, EPOLLRDHUP...).  @return 0 or -errno. */
int loop_add(struct loop *l, int fd, uint32_t events, struct loop_watch *w);
/* Watch fd for other events than before.  @return 0 or -errno. */
int loop_mod(struct loop *l, int fd, uint32_t events, struct loop_watch *w);
/* Stop watching fd (closing it does as much). */
void loop_del(struct loop *l, int fd);

/*
 * Call w->on_event every period_ms, from the loop, for as long as the loop
 * runs.  @return 0 or -errno.
 */
int loop_every(struct loop *l, unsigned period_ms, struct loop_watch *w);

/* Stop calling w, registered with loop_every(). */
void loop_cancel(struct loop *l, struct loop_watch *w);
/*
 * Call fn(arg) once every event of the current round has been handled (or
 * at loop_free): a handler may end what a later event of the same round
 * still names (a listener, a VM's watches) only through this.
 * @return 0 or -ENOMEM.
 */
int loop_after(struct loop *l, void (*fn)(void *arg), void *arg);
/* Run until loop_stop(); @return 0, or -errno if epoll failed. */
int loop_run(struct loop *l);
/* Make loop_run return after the current event.  Loop thread only. */
void loop_stop(struct loop *l);

#endif /* VCAP_DAEMON_LOOP_H */
