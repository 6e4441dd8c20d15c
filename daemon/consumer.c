/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * consumer.c - one ring for one consumer of one source.
 *
 * Where the ring lives is the session's carrier's business (session.h):
 * a sealed memfd and a pipe for a unix session (session_unix.c), a piece
 * of the region and an interrupt vector for a VM (vm.c).  Here: the
 * filters, the rules and the ring's layout, whatever the place.
 */
#include "consumer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter.h"
#include "jobs.h"
#include "session.h"
#include "source.h"
#include "vcapd.h"

static void set_err(char *err, size_t len, const char *what, int e)
{
	snprintf(err, len, "ring: %s: %s", what, strerror(e));
}

int consumer_create(struct source *s, uint32_t id, const struct consumer_req *req,
		    struct consumer **out, char *err, size_t err_len)
{
	struct consumer *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		set_err(err, err_len, "consumer", ENOMEM);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->wlock, NULL);
	c->id = id;
	c->src = s;
	s->n_objects++; /* a source a reload removed lives while any names it */
	c->owner = req->session;
	c->place = (struct ring_place){ .wake_fd = -1, .keep_fd = -1, .give = { -1, -1 } };

	c->rules = rules_new(req->limits);
	if (!c->rules) {
		rc = -ENOMEM;
		set_err(err, err_len, "rules", ENOMEM);
		goto fail;
	}
	c->rules_trivial = true;

	c->place.ring_id = id;
	c->place.map_size = vcap_ring_map_size(req->data_size);
	c->carrier = c->owner->ops;
	rc = c->carrier->ring_place(c->owner, &c->place, err, err_len);
	if (rc) {
		c->place.map = NULL; /* ring_place cleaned up after itself */
		goto fail;
	}
	rc = vcap_ring_writer_init(&c->w, c->place.map, req->data_size, req->snaplen, s->linktype,
				   id);
	if (rc) {
		snprintf(err, err_len, "ring: size %u with snaplen %u is not valid", req->data_size,
			 req->snaplen);
		goto fail;
	}
	vcap_ring_writer_set_mirror(&c->w, &c->mirror);
	*out = c;
	return 0;
fail:
	consumer_destroy(c);
	return rc;
}

int consumer_adopt(struct source *s, uint32_t id, struct session *ss, int memfd, int wake_fd,
		   size_t map_size, const struct vcap_ring_writer *w,
		   const struct rules_limits *limits, struct consumer **out, char *err,
		   size_t err_len)
{
	struct stat st;
	struct ring_place p;
	void *map;
	int rc;

	/* the writer's geometry is believed only if the file is that ring */
	if (fstat(memfd, &st) || (uint64_t)st.st_size != map_size) {
		snprintf(err, err_len, "ring %u: the inherited ring does not match its state", id);
		return -EINVAL;
	}
	/*
	 * Not MAP_POPULATE: this runs while capture is paused, and the pages
	 * exist already (the old vcapd populated them); the first write to
	 * each costs the capture thread a minor fault, a few ns per packet
	 * for one pass through the ring, not an allocation.
	 */
	map = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (map == MAP_FAILED) {
		set_err(err, err_len, "mmap", errno);
		return -ENOMEM;
	}
	p = (struct ring_place){ .ring_id = id, .map_size = map_size, .map = map,
				 .wake_fd = wake_fd, .keep_fd = memfd, .give = { -1, -1 } };
	rc = consumer_adopt_placed(s, id, ss, &p, w, limits, out, err, err_len);
	if (rc)
		munmap(map, map_size);
	return rc;
}

int consumer_adopt_placed(struct source *s, uint32_t id, struct session *ss,
			  const struct ring_place *place, const struct vcap_ring_writer *w,
			  const struct rules_limits *limits, struct consumer **out, char *err,
			  size_t err_len)
{
	struct consumer *c;

	if (place->map_size != vcap_ring_map_size(w->size) || !w->size ||
	    (w->size & (w->size - 1)) || w->mask != w->size - 1) {
		snprintf(err, err_len, "ring %u: the inherited ring does not match its state", id);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->rules = rules_new(limits);
	if (!c || !c->rules) {
		free(c);
		set_err(err, err_len, "consumer", ENOMEM);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->wlock, NULL);
	c->id = id;
	c->src = s;
	s->n_objects++;
	c->owner = ss;
	c->carrier = ss->ops;
	c->rules_trivial = true;
	c->place = *place;
	c->place.ring_id = id;
	c->w = *w;
	c->w.r = place->map; /* the same pages, mapped anew */
	vcap_ring_writer_set_mirror(&c->w, &c->mirror);
	*out = c;
	return 0;
}

/* A ring's place being given back: unmapped on a job thread, then released. */
struct release_job {
	struct job job;
	const struct session_ops *carrier;
	struct ring_place place;
	struct vcapd *charged;
	void (*released)(void *arg); /* told once the pages are back, or NULL */
	void *arg;
};

static void release_run(struct job *j)
{
	struct release_job *r = (struct release_job *)j;

	r->carrier->ring_unmap(&r->place);
}

static void release_done(struct job *j)
{
	struct release_job *r = (struct release_job *)j;

	r->carrier->ring_release(&r->place);
	if (r->charged) {
		r->charged->ring_memory -= r->place.map_size;
		r->charged->ring_memory_releasing -= r->place.map_size;
	}
	if (r->released)
		r->released(r->arg);
	free(r);
}

/* @return true if the pages are given back later (then released(arg) is called). */
static bool release_place(struct consumer *c, void (*released)(void *), void *arg)
{
	struct release_job *r = c->carrier->ring_unmap ? malloc(sizeof(*r)) : NULL;

	if (r) {
		*r = (struct release_job){ .job.run = release_run, .job.done = release_done,
					   .carrier = c->carrier, .place = c->place,
					   .charged = c->charged, .released = released, .arg = arg };
		if (!job_start(&r->job)) {
			if (c->charged) /* an OPEN that fits once these are back waits for them */
				c->charged->ring_memory_releasing += c->place.map_size;
			return true;
		}
		free(r);
	}
	/* no thread to spare (or nothing slow): here and now */
	if (c->carrier->ring_unmap)
		c->carrier->ring_unmap(&c->place);
	c->carrier->ring_release(&c->place);
	if (c->charged)
		c->charged->ring_memory -= c->place.map_size;
	return false;
}

bool consumer_destroy_then(struct consumer *c, void (*released)(void *arg), void *arg)
{
	bool later = false;

	if (!c)
		return false;
	filter_free(c->filter);
	filter_free(c->policy);
	if (c->rules)
		rules_free(c->rules);
	if (c->place.map)
		later = release_place(c, released, arg);
	consumer_gave(c);
	c->src->n_objects--;
	pthread_mutex_destroy(&c->wlock);
	free(c);
	return later;
}

void consumer_destroy(struct consumer *c)
{
	consumer_destroy_then(c, NULL, NULL);
}

/*
 * In steps of 2 MiB (half a millisecond): a cancelled OPEN stops soon,
 * and the process's mmap lock, which each step holds, is free often for
 * other threads' page faults and mappings.
 */
#define POPULATE_STEP (2u << 20)

int consumer_populate(struct consumer *c, struct job *j, char *err, size_t err_len)
{
	uint8_t *p = c->place.map;
	size_t len = c->place.map_size;

	for (size_t off = 0; off < len; off += POPULATE_STEP) {
		size_t n = len - off < POPULATE_STEP ? len - off : POPULATE_STEP;

		if (j && job_cancelled(j)) {
			snprintf(err, err_len, "cancelled");
			return -ECANCELED;
		}
#ifdef MADV_POPULATE_WRITE
		if (madvise(p + off, n, MADV_POPULATE_WRITE) == 0)
			continue;
		if (errno != EINVAL) { /* EINVAL: a kernel before 5.14 */
			set_err(err, err_len, "populating its pages", errno);
			return -ENOMEM;
		}
#endif
		/* touch a page by reading it: a write could race with nothing, but says less */
		for (size_t q = 0; q < n; q += 4096)
			(void)*(volatile uint8_t *)(p + off + q);
	}
	return 0;
}

void consumer_gave(struct consumer *c)
{
	for (int i = 0; i < c->place.n_give; i++)
		if (c->place.give[i] >= 0)
			close(c->place.give[i]);
	c->place.n_give = 0;
}

void consumer_signal(struct consumer *c)
{
	static const uint64_t one = 1;

	/*
	 * Eight bytes, whatever the descriptor: an eventfd (a VM's vector,
	 * which QEMU turns into MSI-X) counts them, a pipe just holds them
	 * until the consumer drains it.  EAGAIN: a token is already waiting,
	 * which is all a sleeper needs.
	 */
	(void)!write(c->place.wake_fd, &one, sizeof(one));
}
