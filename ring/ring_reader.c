/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ring_reader.c - libvcap's end of a ring: the consumer side of each R/A
 * pair in vcap_ring.h.  The producer is trusted to follow the layout, but a
 * record that breaks it is reported (-EPROTO), never followed out of bounds.
 */
#include "ring.h"

#include <errno.h>
#include <sched.h>

int vcap_ring_reader_attach(struct vcap_ring_reader *rd, void *mem, size_t map_size)
{
	struct vcap_ring *r = mem;
	uint32_t size;

	/* a newer writer's records may carry more header than ours: hdr_len says where data is */
	if (map_size < VCAP_RING_HDR_SIZE || r->info.magic != VCAP_RING_MAGIC ||
	    r->info.version != VCAP_RING_VERSION || r->info.hdr_size != VCAP_RING_HDR_SIZE ||
	    r->info.rec_hdr_size < sizeof(struct vcap_rec) ||
	    (r->info.rec_hdr_size & (VCAP_REC_ALIGN - 1)))
		return -EPROTO;
	size = r->info.data_size;
	if (size < VCAP_RING_DATA_MIN || size > VCAP_RING_DATA_MAX || (size & (size - 1)) ||
	    vcap_ring_map_size(size) > map_size)
		return -EPROTO;

	/*
	 * The consumer line is the consumer's to write, and in a VM region
	 * anything in the guest can: a cons off the record grid would make
	 * peek read headers unaligned and up to 3 bytes past the data area.
	 */
	if (atomic_load_explicit(&r->c.cons, memory_order_relaxed) & (VCAP_REC_ALIGN - 1))
		return -EPROTO;

	rd->r = r;
	rd->data = r->data;
	rd->size = size;
	rd->mask = size - 1;
	/* A ring may be handed over with records already in it (a reconnect). */
	rd->cons = atomic_load_explicit(&r->c.cons, memory_order_relaxed);
	rd->prod_cached = rd->cons;
	rd->pkts_read = 0;
	return 0;
}

int vcap_ring_reader_peek(struct vcap_ring_reader *rd, const struct vcap_rec **recs, unsigned n)
{
	unsigned i = 0;
	int rc = 0;

	vcap_ring_reader_refresh(rd);
	while (i < n && (rc = vcap_ring_reader_next(rd, &recs[i])) > 0)
		i++;
	return i ? (int)i : rc;
}

void vcap_ring_reader_release(struct vcap_ring_reader *rd)
{
	atomic_store_explicit(&rd->r->c.cons, rd->cons, memory_order_release); /* R2 */
}

bool vcap_ring_reader_has_data(struct vcap_ring_reader *rd)
{
	if (rd->cons != rd->prod_cached)
		return true;
	rd->prod_cached = atomic_load_explicit(&rd->r->p.prod, memory_order_acquire); /* A1 */
	return rd->cons != rd->prod_cached;
}

bool vcap_ring_reader_arm(struct vcap_ring_reader *rd, uint32_t watermark, uint32_t timeout_ms)
{
	struct vcap_ring_cons *c = &rd->r->c;
	uint32_t seq = atomic_load_explicit(&c->wait_seq, memory_order_relaxed);

	vcap_ring_reader_release(rd);
	atomic_store_explicit(&c->seen_pkts, rd->pkts_read, memory_order_relaxed);
	atomic_store_explicit(&c->watermark, watermark, memory_order_relaxed);
	atomic_store_explicit(&c->timeout_ms, timeout_ms, memory_order_relaxed);
	if (!(seq & 1))
		atomic_store_explicit(&c->wait_seq, seq + 1, memory_order_release);
	/* F1: order the wait_seq store before the prod load (see F2). */
	atomic_thread_fence(memory_order_seq_cst);
	if (vcap_ring_reader_has_data(rd) || vcap_ring_reader_state(rd) != VCAP_RING_STATE_LIVE) {
		vcap_ring_reader_disarm(rd);
		return false;
	}
	return true;
}

bool vcap_ring_reader_disarm(struct vcap_ring_reader *rd)
{
	struct vcap_ring_cons *c = &rd->r->c;
	uint32_t seq = atomic_load_explicit(&c->wait_seq, memory_order_relaxed);

	if (!(seq & 1))
		return false;
	atomic_store_explicit(&c->wait_seq, seq + 1, memory_order_relaxed);
	return atomic_load_explicit(&rd->r->p.signalled, memory_order_relaxed) == seq;
}

uint32_t vcap_ring_reader_state(const struct vcap_ring_reader *rd)
{
	return atomic_load_explicit(&rd->r->p.state, memory_order_acquire);
}

bool vcap_ring_stats_read(const struct vcap_ring_stats *s, struct vcap_ring_counters *out)
{
	uint32_t s1, s2;

	/*
	 * seqlock read.  A writer preempted mid-update keeps seq odd for as long
	 * as it is off the CPU, so yield rather than spin; give up only after
	 * about a second, when the writer is as good as dead, and then say so
	 * instead of handing out a torn snapshot.
	 */
	for (unsigned tries = 0; tries < (1u << 20); tries++) {
		s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
		out->received = atomic_load_explicit(&s->received, memory_order_relaxed);
		out->delivered = atomic_load_explicit(&s->delivered, memory_order_relaxed);
		out->dropped = atomic_load_explicit(&s->dropped, memory_order_relaxed);
		out->filtered = atomic_load_explicit(&s->filtered, memory_order_relaxed);
		out->kernel_drops = atomic_load_explicit(&s->kernel_drops, memory_order_relaxed);
		out->shunted = atomic_load_explicit(&s->shunted, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&s->seq, memory_order_relaxed);
		if (s1 == s2 && !(s1 & 1))
			return true;
		if (tries % 64 == 63)
			sched_yield();
	}
	return false;
}

bool vcap_ring_reader_counters(const struct vcap_ring_reader *rd, struct vcap_ring_counters *out)
{
	return vcap_ring_stats_read(&rd->r->s, out);
}
