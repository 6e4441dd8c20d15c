/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * region.c - first-fit allocation of page ranges in a VM's region.  A VM
 * holds a few dozen rings at most, so a sorted list is plenty.
 */
#include "region.h"

#include <errno.h>
#include <stdlib.h>

#include "vcap_shm.h"

struct region_span {
	uint64_t off, len;
	struct region_span *next;
};

static uint64_t pages(uint64_t len)
{
	return (len + VCAP_SHM_RING_ALIGN - 1) & ~(uint64_t)(VCAP_SHM_RING_ALIGN - 1);
}

int region_init(struct region *r, uint64_t start, uint64_t end)
{
	r->start = pages(start);
	r->end = end;
	r->used = 0;
	r->free = NULL;
	if (r->start >= end)
		return 0;
	r->free = malloc(sizeof(*r->free));
	if (!r->free)
		return -ENOMEM;
	*r->free = (struct region_span){ .off = r->start, .len = end - r->start };
	return 0;
}

void region_fini(struct region *r)
{
	while (r->free) {
		struct region_span *s = r->free;

		r->free = s->next;
		free(s);
	}
}

int region_alloc(struct region *r, uint64_t len, uint64_t *off)
{
	len = pages(len);
	for (struct region_span **pp = &r->free; *pp; pp = &(*pp)->next) {
		struct region_span *s = *pp;

		if (s->len < len)
			continue;
		*off = s->off;
		s->off += len;
		s->len -= len;
		if (!s->len) {
			*pp = s->next;
			free(s);
		}
		r->used += len;
		return 0;
	}
	return -ENOSPC;
}

void region_free(struct region *r, uint64_t off, uint64_t len)
{
	struct region_span **pp = &r->free, *s;

	len = pages(len);
	r->used -= len;
	while (*pp && (*pp)->off < off)
		pp = &(*pp)->next;
	/* join the span before, the one after, or both */
	if (*pp && off + len == (*pp)->off) {
		(*pp)->off = off;
		(*pp)->len += len;
		s = *pp;
	} else {
		s = malloc(sizeof(*s));
		if (!s)
			return; /* the range is lost to this VM until it resets; harmless */
		*s = (struct region_span){ .off = off, .len = len, .next = *pp };
		*pp = s;
	}
	for (struct region_span *p = r->free; p && p->next; p = p->next) {
		if (p->off + p->len == p->next->off) {
			struct region_span *n = p->next;

			p->len += n->len;
			p->next = n->next;
			free(n);
			break;
		}
	}
}

uint64_t region_largest(const struct region *r)
{
	uint64_t best = 0;

	for (const struct region_span *s = r->free; s; s = s->next)
		if (s->len > best)
			best = s->len;
	return best;
}

int region_reserve(struct region *r, uint64_t off, uint64_t len)
{
	len = pages(len);
	for (struct region_span **pp = &r->free; *pp; pp = &(*pp)->next) {
		struct region_span *s = *pp, *after;

		if (off < s->off || off + len > s->off + s->len || off + len < off)
			continue;
		if (off + len < s->off + s->len) { /* what is left after it */
			after = malloc(sizeof(*after));
			if (!after)
				return -ENOMEM;
			after->off = off + len;
			after->len = s->off + s->len - after->off;
			after->next = s->next;
			s->next = after;
		}
		s->len = off - s->off; /* what is left before it */
		if (!s->len) {
			*pp = s->next;
			free(s);
		}
		r->used += len;
		return 0;
	}
	return -ENOSPC;
}
