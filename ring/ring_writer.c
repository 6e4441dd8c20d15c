/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ring_writer.c - vcapd's end of a ring.  See vcap_ring.h for the layout and
 * the R/A labels; this file is the producer side of each pair.
 *
 * Everything read from the consumer line is hostile: each word is loaded
 * once per use, clamped, and never turned into an address.
 */
#include "ring.h"

#include <errno.h>
#include <string.h>

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

int vcap_ring_writer_init(struct vcap_ring_writer *w, void *mem, uint32_t data_size,
			  uint32_t snaplen, uint32_t linktype, uint32_t ring_id)
{
	struct vcap_ring *r = mem;

	if (!is_pow2(data_size) || data_size < VCAP_RING_DATA_MIN || data_size > VCAP_RING_DATA_MAX)
		return -EINVAL;
	/* in 64 bits: vcap_rec_size() wraps for a snaplen near 2^32 (data_size / 4 is 8-aligned) */
	if (snaplen == 0 || (uint64_t)snaplen + sizeof(struct vcap_rec) > data_size / 4)
		return -EINVAL;

	memset(r, 0, VCAP_RING_HDR_SIZE);
	r->info.magic = VCAP_RING_MAGIC;
	r->info.version = VCAP_RING_VERSION;
	r->info.hdr_size = VCAP_RING_HDR_SIZE;
	r->info.data_size = data_size;
	r->info.rec_hdr_size = sizeof(struct vcap_rec);
	r->info.snaplen = snaplen;
	r->info.linktype = linktype;
	r->info.ring_id = ring_id;

	memset(w, 0, sizeof(*w));
	w->r = r;
	w->size = data_size;
	w->mask = data_size - 1;
	w->snaplen = snaplen;
	w->rec_hdr = sizeof(struct vcap_rec);
	w->free_cached = data_size;
	return 0;
}

int vcap_ring_writer_set_meta(struct vcap_ring_writer *w)
{
	uint32_t hdr = sizeof(struct vcap_rec) + sizeof(struct vcap_rec_meta);

	if ((uint64_t)w->snaplen + hdr > w->size / 4)
		return -EINVAL;
	w->rec_hdr = hdr;
	w->r->info.rec_hdr_size = (uint16_t)hdr;
	return 0;
}

/*
 * The record's meta: its number, and the parse if the caller has one that
 * holds for the record: a parse of bytes the ring's snaplen cut off would
 * promise headers the reader does not have, so a cut record carries none
 * (the reader parses what it got).
 */
static void put_meta(struct vcap_ring_writer *w, struct vcap_rec *rec, const struct vcap_pkt_meta *m)
{
	struct vcap_rec_meta *rm = (struct vcap_rec_meta *)(rec + 1);

	if (m->parsed && rec->caplen == m->caplen)
		*rm = *m->parsed;
	else
		memset(rm, 0, sizeof(*rm));
	/*
	 * Its number among the packets offered: every one before it was
	 * judged (delivered, dropped or filtered) before this put, so the
	 * caller may count offers per batch, as it does.
	 */
	rm->seq = w->cnt.delivered + w->cnt.dropped + w->cnt.filtered;
	rec->flags |= VCAP_REC_META;
}

/* A2: how many bytes the consumer has released, clamped to the ring. */
static uint32_t refresh_free(struct vcap_ring_writer *w)
{
	uint32_t cons = atomic_load_explicit(&w->r->c.cons, memory_order_acquire);
	uint32_t used = w->prod - cons;

	/* cons outside [prod - size, prod]: a lying consumer gets a full ring. */
	if (used > w->size)
		used = w->size;
	w->free_cached = w->size - used;
	return w->free_cached;
}

bool vcap_ring_writer_put(struct vcap_ring_writer *w, const struct vcap_pkt_meta *m,
			  const void *bytes)
{
	uint32_t caplen = m->caplen < w->snaplen ? m->caplen : w->snaplen;
	uint32_t need = vcap_rec_size_hdr(w->rec_hdr, caplen);
	uint32_t off = w->prod & w->mask;
	uint32_t tail = w->size - off;
	uint32_t total = need <= tail ? need : tail + need;
	struct vcap_rec *rec;

	if (total > w->free_cached && total > refresh_free(w)) {
		w->cnt.dropped++;
		return false;
	}
	if (need > tail) {
		/* The record would cross the end: pad the tail and wrap. */
		rec = (struct vcap_rec *)(w->r->data + off);
		rec->len = tail;
		rec->flags = VCAP_REC_PAD;
		w->prod += tail;
		off = 0;
	}
	rec = (struct vcap_rec *)(w->r->data + off);
	rec->len = need;
	rec->flags = caplen < m->wirelen ? VCAP_REC_TRUNCATED : 0;
	rec->hdr_len = (uint16_t)w->rec_hdr;
	rec->ts_ns = m->ts_ns;
	rec->caplen = caplen;
	rec->wirelen = m->wirelen;
	rec->ifindex = m->ifindex;
	rec->hash = m->hash;
	if (w->rec_hdr != sizeof(*rec))
		put_meta(w, rec, m);
	memcpy((uint8_t *)rec + w->rec_hdr, bytes, caplen);
	/*
	 * The lines a few records ahead were last read by the consumer, on
	 * another core: ask for them now, so that writing them later does not
	 * stall on the transfer.
	 */
	__builtin_prefetch(w->r->data + ((w->prod + need + 512) & w->mask), 1, 3);

	w->prod += need;
	w->free_cached -= total;
	w->pkts++;
	w->cnt.delivered++;
	return true;
}

/* seqlock write: seq is odd while the counters change */
static void stats_write(struct vcap_ring_stats *s, uint32_t *seq, const struct vcap_ring_counters *c)
{
	atomic_store_explicit(&s->seq, *seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&s->received, c->received, memory_order_relaxed);
	atomic_store_explicit(&s->delivered, c->delivered, memory_order_relaxed);
	atomic_store_explicit(&s->dropped, c->dropped, memory_order_relaxed);
	atomic_store_explicit(&s->filtered, c->filtered, memory_order_relaxed);
	atomic_store_explicit(&s->kernel_drops, c->kernel_drops, memory_order_relaxed);
	atomic_store_explicit(&s->shunted, c->shunted, memory_order_relaxed);
	atomic_store_explicit(&s->seq, *seq + 2, memory_order_release);
	*seq += 2;
}

static void publish_counters(struct vcap_ring_writer *w)
{
	stats_write(&w->r->s, &w->stats_seq, &w->cnt);
	if (w->mirror)
		stats_write(w->mirror, &w->mirror_seq, &w->cnt);
	w->pub_received = w->cnt.received;
	w->pub_kernel_drops = w->cnt.kernel_drops;
}

static uint32_t clamp_u32(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void vcap_ring_writer_flush(struct vcap_ring_writer *w)
{
	struct vcap_ring *r = w->r;

	/* Compare with private copies: the shared ones may have been scribbled on. */
	if (w->pub_prod != w->prod || w->pub_received != w->cnt.received ||
	    w->pub_kernel_drops != w->cnt.kernel_drops) {
		atomic_store_explicit(&r->p.pkts, w->pkts, memory_order_relaxed);
		atomic_store_explicit(&r->p.prod, w->prod, memory_order_release); /* R1 */
		w->pub_prod = w->prod;
		publish_counters(w);
	}
}

bool vcap_ring_writer_roomy(struct vcap_ring_writer *w)
{
	/* cons is read only when the cached view says otherwise */
	return w->free_cached >= w->size / 2 || refresh_free(w) >= w->size / 2;
}

bool vcap_ring_writer_publish(struct vcap_ring_writer *w, uint64_t now_ns)
{
	struct vcap_ring *r = w->r;
	uint32_t seq, seen, pending, watermark, timeout_ms;

	vcap_ring_writer_flush(w);

	/* F2: order the prod store before the wait_seq load (see F1). */
	atomic_thread_fence(memory_order_seq_cst);
	seq = atomic_load_explicit(&r->c.wait_seq, memory_order_acquire);
	if (!(seq & 1) || seq == w->signalled_seq) {
		w->pending_deadline = 0;
		return false;
	}
	seen = atomic_load_explicit(&r->c.seen_pkts, memory_order_relaxed);
	watermark = clamp_u32(atomic_load_explicit(&r->c.watermark, memory_order_relaxed), 1,
			      w->size / sizeof(struct vcap_rec));
	timeout_ms = clamp_u32(atomic_load_explicit(&r->c.timeout_ms, memory_order_relaxed), 1,
			       VCAP_RING_TIMEOUT_MAX_MS);
	pending = w->pkts - seen;
	if (pending == 0) {
		w->pending_deadline = 0;
		return false;
	}
	/*
	 * The watermark counts packets, the ring holds bytes: a watermark set
	 * for small packets (a kernel ring wakes once per block) is more than
	 * the ring holds of large ones.  Past half full, wake regardless.
	 */
	if (pending < watermark && vcap_ring_writer_roomy(w)) {
		if (!w->pending_deadline) {
			w->pending_deadline = now_ns + (uint64_t)timeout_ms * 1000000u;
			return false;
		}
		if (now_ns < w->pending_deadline)
			return false;
	}
	w->signalled_seq = seq;
	w->pending_deadline = 0;
	atomic_store_explicit(&r->p.signalled, seq, memory_order_relaxed);
	return true;
}

void vcap_ring_writer_set_state(struct vcap_ring_writer *w, uint32_t state)
{
	/* After R1 of the last records, so a reader that sees the state sees them. */
	vcap_ring_writer_publish(w, 0);
	atomic_store_explicit(&w->r->p.state, state, memory_order_release);
}

uint32_t vcap_ring_writer_used(const struct vcap_ring_writer *w)
{
	/*
	 * From the published indices, not w->prod: other threads (STATUS) call
	 * this while the capture thread writes.  Informational, clamped.
	 */
	uint32_t used = atomic_load_explicit(&w->r->p.prod, memory_order_relaxed) -
			atomic_load_explicit(&w->r->c.cons, memory_order_relaxed);

	return used > w->size ? w->size : used;
}

void vcap_ring_writer_set_wake(struct vcap_ring_writer *w, uint32_t watermark, uint32_t timeout_ms)
{
	atomic_store_explicit(&w->r->c.watermark, watermark, memory_order_relaxed);
	atomic_store_explicit(&w->r->c.timeout_ms, timeout_ms, memory_order_relaxed);
}
