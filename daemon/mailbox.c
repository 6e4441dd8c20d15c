/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mailbox.c - how the control thread changes what a capture thread serves.
 *
 * The capture thread owns its list of consumers and everything they filter
 * with, and takes no lock on the packet path: it checks one atomic flag per
 * loop and, when mail is waiting, runs the letters between two batches.  A
 * letter is a function and its argument.  The control thread posts one,
 * kicks the thread's eventfd (it may be asleep in poll) and waits until it
 * has run; only then may it free what the letter took away.  So every
 * change takes effect before the request that asked for it is answered.
 */
#include "capture.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source.h"

struct mail {
	void (*fn)(struct source *s, void *arg);
	void *arg;
	bool done;
	struct mail *next;
};

void mailbox_call(struct source *s, void (*fn)(struct source *, void *), void *arg)
{
	struct mail m = { .fn = fn, .arg = arg };
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	m.next = s->mail;
	s->mail = &m;
	atomic_store_explicit(&s->mail_pending, true, memory_order_release);
	/* cannot fail short of 2^64 letters; mail_pending is what counts */
	(void)!write(s->lanes[0].wake_fd, &one, sizeof(one));
	while (!m.done) {
		if (!s->thread_started) {
			/* no capture thread (not started or already joined): run it here */
			pthread_mutex_unlock(&s->lock);
			mailbox_apply(s);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		pthread_cond_wait(&s->cond, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
}

void mailbox_apply(struct source *s)
{
	struct mail *list, *rev = NULL, *next;

	pthread_mutex_lock(&s->lock);
	list = s->mail;
	s->mail = NULL;
	atomic_store_explicit(&s->mail_pending, false, memory_order_relaxed);
	pthread_mutex_unlock(&s->lock);

	/* oldest first: letters were pushed at the head */
	for (; list; list = next) {
		next = list->next;
		list->next = rev;
		rev = list;
	}
	/* run them unlocked: a letter may take the source's lock itself */
	for (struct mail *m = rev; m; m = m->next)
		m->fn(s, m->arg);

	pthread_mutex_lock(&s->lock);
	for (struct mail *m = rev; m; m = next) {
		next = m->next; /* m lives on the poster's stack: gone once done */
		m->done = true;
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}
