/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * region.h - where the rings of a VM go in its shared region.
 *
 * A first-fit list of free page ranges, kept in vcapd's private memory: the
 * guest can write the whole region, so nothing about where rings are is
 * ever read back from it.
 */
#ifndef VCAP_DAEMON_REGION_H
#define VCAP_DAEMON_REGION_H

#include <stddef.h>
#include <stdint.h>

struct region_span;

struct region {
	uint64_t start; /* first byte rings may use (page aligned) */
	uint64_t end;   /* one past the last */
	uint64_t used;
	struct region_span *free; /* sorted by offset, coalesced */
};

int region_init(struct region *r, uint64_t start, uint64_t end);
void region_fini(struct region *r);
/* Reserve len bytes (rounded up to pages).  @return 0 with *off, or -ENOSPC. */
int region_alloc(struct region *r, uint64_t len, uint64_t *off);
/*
 * Reserve exactly [off, off + len) (rounded up to pages), which must be
 * free: a ring handed over by an upgrade keeps its place.  @return 0,
 * -ENOSPC (not free) or -ENOMEM.
 */
int region_reserve(struct region *r, uint64_t off, uint64_t len);
/* Give back what region_alloc(len) returned at off. */
void region_free(struct region *r, uint64_t off, uint64_t len);
/* The largest allocation that would succeed now. */
uint64_t region_largest(const struct region *r);

#endif /* VCAP_DAEMON_REGION_H */
