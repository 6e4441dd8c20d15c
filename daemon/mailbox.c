/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mailbox.c - how the control thread changes what a capture thread serves.
 *
 * The capture thread owns its list of consumers and their filters and never
 * takes a lock on the packet path: it checks one atomic flag per loop and,
 * when mail is waiting, applies it between batches.  The control thread
 * posts a letter, kicks the thread's eventfd (it may be asleep in poll) and
 * waits until the letter is marked done; only then may it free what the
 * letter took away.
 */
#include "vcapd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum mail_kind { MAIL_ATTACH, MAIL_DETACH, MAIL_REFILTER };

struct mail {
	enum mail_kind kind;
	struct consumer *c;
	struct filter *filter; /* REFILTER: in the new one, out the old one */
	bool done;
	struct mail *next;
};

static void post(struct source *s, struct mail *m)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	m->next = s->mail;
	s->mail = m;
	atomic_store_explicit(&s->mail_pending, true, memory_order_release);
	/* cannot fail short of 2^64 letters; mail_pending is what counts */
	(void)!write(s->wake_fd, &one, sizeof(one));
	while (!m->done) {
		if (!s->thread_started) {
			/* no capture thread (not started or already joined): apply here */
			pthread_mutex_unlock(&s->lock);
			mailbox_apply(s);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		pthread_cond_wait(&s->cond, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
}

void mailbox_attach(struct consumer *c)
{
	struct mail m = { .kind = MAIL_ATTACH, .c = c };

	post(c->src, &m);
}

void mailbox_detach(struct consumer *c)
{
	struct mail m = { .kind = MAIL_DETACH, .c = c };

	post(c->src, &m);
}

struct filter *mailbox_refilter(struct consumer *c, struct filter *f)
{
	struct mail m = { .kind = MAIL_REFILTER, .c = c, .filter = f };

	post(c->src, &m);
	return m.filter;
}

static void add_active(struct source *s, struct consumer *c)
{
	if (s->n_active == s->cap_active) {
		unsigned cap = s->cap_active ? s->cap_active * 2 : 8;
		struct consumer **a = realloc(s->active, cap * sizeof(*a));

		if (!a)
			abort(); /* a few pointers; nothing sensible to do without them */
		s->active = a;
		s->cap_active = cap;
	}
	c->kernel_drops_base = atomic_load_explicit(&s->kernel_drops, memory_order_relaxed);
	if (s->finished)
		vcap_ring_writer_set_state(&c->w, VCAP_RING_STATE_EOF);
	s->n_want_hash += c->want_hash;
	s->active[s->n_active++] = c;
}

static void remove_active(struct source *s, struct consumer *c)
{
	for (unsigned i = 0; i < s->n_active; i++) {
		if (s->active[i] == c) {
			s->n_want_hash -= c->want_hash;
			memmove(&s->active[i], &s->active[i + 1],
				(s->n_active - i - 1) * sizeof(s->active[0]));
			s->n_active--;
			return;
		}
	}
}

void mailbox_apply(struct source *s)
{
	struct mail *m, *list;

	pthread_mutex_lock(&s->lock);
	list = s->mail;
	s->mail = NULL;
	atomic_store_explicit(&s->mail_pending, false, memory_order_relaxed);
	/* oldest first: letters were pushed at the head */
	for (struct mail *rev = NULL, *next;; list = next) {
		if (!list) {
			list = rev;
			break;
		}
		next = list->next;
		list->next = rev;
		rev = list;
	}
	for (m = list; m; m = m->next) {
		switch (m->kind) {
		case MAIL_ATTACH:
			add_active(s, m->c);
			break;
		case MAIL_DETACH:
			remove_active(s, m->c);
			break;
		case MAIL_REFILTER: {
			struct filter *old = m->c->filter;

			m->c->filter = m->filter;
			m->filter = old;
			break;
		}
		}
		m->done = true;
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}
