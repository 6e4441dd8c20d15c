/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ring.h - the two ends of a vcap ring (layout: include/vcap_ring.h).
 *
 * struct vcap_ring_writer is vcapd's end.  It keeps the authoritative copy
 * of prod and of every counter in private memory and only ever writes them
 * out, so nothing a consumer scribbles into the shared header changes what
 * vcapd believes.  One thread (the source's capture thread) uses a writer.
 *
 * struct vcap_ring_reader is libvcap's end.  One thread uses a reader.
 */
#ifndef VCAP_RING_RING_H
#define VCAP_RING_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>

#include "vcap_ring.h"

/* What the producer knows about one packet, apart from its bytes. */
struct vcap_pkt_meta {
	uint64_t ts_ns;
	uint32_t caplen; /* bytes available at the data pointer */
	uint32_t wirelen;
	uint32_t ifindex;
	uint32_t hash;
	/*
	 * The parse a ring with records meta writes (its seq is the
	 * writer's); read only by such rings, which need it set (NULL:
	 * not parsed, e.g. not Ethernet).
	 */
	const struct vcap_rec_meta *parsed;
};

struct vcap_ring_writer {
	struct vcap_ring *r;
	uint32_t size;        /* data_size */
	uint32_t mask;
	uint32_t snaplen;
	uint32_t rec_hdr;     /* hdr_len of its records: with vcap_rec_meta or not */
	uint32_t prod;        /* private; published by R1 */
	uint32_t pkts;        /* private; published with prod */
	uint32_t free_cached; /* bytes known free without reading cons */
	struct vcap_ring_counters cnt; /* authoritative */
	/* what was last written to shared memory (never read back from it) */
	uint32_t pub_prod;
	uint32_t stats_seq;
	/*
	 * Optional private copy of the counters, written with the shared one,
	 * for other vcapd threads to read (vcap_ring_stats_read) without
	 * trusting what the consumer can write.
	 */
	struct vcap_ring_stats *mirror;
	uint32_t mirror_seq;
	uint64_t pub_received;
	uint64_t pub_kernel_drops;
	/* wake-up bookkeeping */
	uint32_t signalled_seq; /* the odd wait_seq already signalled */
	uint64_t pending_deadline; /* ns: when a timeout wake-up is due (0: none) */
};

/*
 * Lay out a ring in mem (at least vcap_ring_map_size(data_size) bytes,
 * 64-byte aligned) and bind w to it.
 * @return 0, or -EINVAL if data_size is not a power of two within
 * [VCAP_RING_DATA_MIN, VCAP_RING_DATA_MAX] or snaplen does not fit in a
 * quarter of it.
 */
int vcap_ring_writer_init(struct vcap_ring_writer *w, void *mem, uint32_t data_size,
			  uint32_t snaplen, uint32_t linktype, uint32_t ring_id);

/*
 * Make every record carry struct vcap_rec_meta (VCAP_REC_META), with the
 * packet's sequence number (the packets judged before it: delivered,
 * dropped or filtered) and m->parsed.  Before the first put.  @return 0, or -EINVAL if snaplen
 * no longer fits in a quarter of the ring with the larger header.
 */
int vcap_ring_writer_set_meta(struct vcap_ring_writer *w);

/*
 * Copy one packet into the ring, cut to snaplen, without publishing it.
 * Counts it as delivered, or as dropped when the ring is full.  Does not
 * count it as received: the caller does that (vcap_ring_writer_offer).
 * @return true if the packet was written.
 */
bool vcap_ring_writer_put(struct vcap_ring_writer *w, const struct vcap_pkt_meta *m,
			  const void *bytes);

static inline void vcap_ring_writer_offer(struct vcap_ring_writer *w, uint32_t n)
{
	w->cnt.received += n;
}

/* Count n packets the consumer's filters rejected (policy, BPF). */
static inline void vcap_ring_writer_filtered(struct vcap_ring_writer *w, uint32_t n)
{
	w->cnt.filtered += n;
}

/* Count n packets dropped without being looked at (the owner's cost budget was spent). */
static inline void vcap_ring_writer_dropped(struct vcap_ring_writer *w, uint32_t n)
{
	w->cnt.dropped += n;
}

/*
 * Count n packets the consumer's rules dropped: filtered, and of those
 * shunted, so that received = delivered + dropped + filtered still holds.
 */
static inline void vcap_ring_writer_shunted(struct vcap_ring_writer *w, uint32_t n)
{
	w->cnt.filtered += n;
	w->cnt.shunted += n;
}

/*
 * Publish everything put since the last call (R1) and the counters.
 * @return true if the consumer asked to be woken and should be now
 * (watermark reached or timeout expired at now_ns); the caller then signals
 * its eventfd.  Cheap when nothing changed: call it every loop iteration.
 */
bool vcap_ring_writer_publish(struct vcap_ring_writer *w, uint64_t now_ns);

/*
 * Publish (R1) and the counters, as vcap_ring_writer_publish does, but
 * leave wake-ups for a later publish: for a producer in the middle of a
 * burst, which would otherwise wake a sleeping consumer once per batch.
 */
void vcap_ring_writer_flush(struct vcap_ring_writer *w);

/* Is at least half the ring free?  (Reads cons only when it might not be.) */
bool vcap_ring_writer_roomy(struct vcap_ring_writer *w);

/* ---- accessors: vcapd reads and sets a writer only through these ---- */

/* Bytes of records (data_size) and the snap length the ring was laid out with. */
static inline uint32_t vcap_ring_writer_size(const struct vcap_ring_writer *w)
{
	return w->size;
}

static inline uint32_t vcap_ring_writer_snaplen(const struct vcap_ring_writer *w)
{
	return w->snaplen;
}

/* Packets offered so far (what vcap_ring_writer_offer counted). */
static inline uint64_t vcap_ring_writer_received(const struct vcap_ring_writer *w)
{
	return w->cnt.received;
}

/* Packets the source's kernel lost since this ring was attached; published with the rest. */
static inline void vcap_ring_writer_kernel_drops(struct vcap_ring_writer *w, uint64_t n)
{
	w->cnt.kernel_drops = n;
}

/* When a pending wait request's timeout falls due (ns, 0: none pending). */
static inline uint64_t vcap_ring_writer_deadline(const struct vcap_ring_writer *w)
{
	return w->pending_deadline;
}

/*
 * Keep a private copy of the counters at mirror, written with the shared
 * one, for other vcapd threads (vcap_ring_stats_read).  Before first use.
 */
static inline void vcap_ring_writer_set_mirror(struct vcap_ring_writer *w,
					       struct vcap_ring_stats *mirror)
{
	w->mirror = mirror;
}

/*
 * The wake-up condition a consumer asked for when it opened the ring,
 * before it first arms a wait (it may change them later: the line is its).
 */
void vcap_ring_writer_set_wake(struct vcap_ring_writer *w, uint32_t watermark,
			       uint32_t timeout_ms);

/* Mark the ring ended (VCAP_RING_STATE_EOF or _DEAD) and publish. */
void vcap_ring_writer_set_state(struct vcap_ring_writer *w, uint32_t state);

/* Bytes in use as of the last publish and release, clamped; for status, any thread. */
uint32_t vcap_ring_writer_used(const struct vcap_ring_writer *w);

struct vcap_ring_reader {
	struct vcap_ring *r;
	const uint8_t *data;
	uint32_t size;
	uint32_t mask;
	uint32_t cons;        /* private read position */
	uint32_t prod_cached; /* last prod loaded (A1) */
	uint32_t pkts_read;   /* records consumed, as vcap_ring_prod.pkts counts */
};

/*
 * Bind rd to the ring at mem, which the caller mapped with map_size bytes.
 * @return 0, or -EPROTO if the header is not a ring this code understands
 * or does not fit in map_size.
 */
int vcap_ring_reader_attach(struct vcap_ring_reader *rd, void *mem, size_t map_size);

/*
 * The next record, without releasing it (the reader's hot path: inline, so
 * libvcap fills its own packet structs straight from the record).  Pad
 * records are skipped.  Call vcap_ring_reader_has_data() or _peek() first
 * to load prod (A1); this only walks what was loaded.
 * @return 1 with *rec set, 0 if nothing is left of what was loaded, or
 * -EPROTO if the producer wrote a record that breaks the layout rules (the
 * position does not move past it).
 */
static inline int vcap_ring_reader_next(struct vcap_ring_reader *rd, const struct vcap_rec **out)
{
	while (rd->cons != rd->prod_cached) {
		uint32_t off = rd->cons & rd->mask;
		const struct vcap_rec *rec = (const struct vcap_rec *)(rd->data + off);
		uint32_t len = rec->len;

		if (len < VCAP_REC_ALIGN || (len & (VCAP_REC_ALIGN - 1)) || len > rd->size - off ||
		    len > rd->prod_cached - rd->cons)
			return -EPROTO;
		if (rec->flags & VCAP_REC_PAD) {
			rd->cons += len;
			continue;
		}
		if (len < sizeof(*rec) || rec->hdr_len < sizeof(*rec) ||
		    (uint64_t)rec->hdr_len + rec->caplen > len)
			return -EPROTO;
		rd->cons += len;
		rd->pkts_read++;
		*out = rec;
		return 1;
	}
	return 0;
}

/* A record's packet bytes. */
static inline const uint8_t *vcap_rec_data(const struct vcap_rec *rec)
{
	return (const uint8_t *)rec + rec->hdr_len;
}

/*
 * Load prod (A1) if everything loaded was read; then vcap_ring_reader_next
 * walks what is there.
 */
static inline void vcap_ring_reader_refresh(struct vcap_ring_reader *rd)
{
	if (rd->cons == rd->prod_cached)
		rd->prod_cached = atomic_load_explicit(&rd->r->p.prod, memory_order_acquire); /* A1 */
}

/*
 * Read up to n records (refreshing prod first) into recs, without
 * releasing them.  @return the number read (0: ring empty), or -EPROTO as
 * vcap_ring_reader_next() (after any records read before the bad one).
 */
int vcap_ring_reader_peek(struct vcap_ring_reader *rd, const struct vcap_rec **recs, unsigned n);

/* Release everything read so far (R2): one store for a whole burst. */
void vcap_ring_reader_release(struct vcap_ring_reader *rd);

/* True if records are waiting past the read position (A1). */
bool vcap_ring_reader_has_data(struct vcap_ring_reader *rd);

/*
 * Ask to be woken (wait_seq made odd) after publishing the wake condition,
 * then re-check the ring (F1).
 * @return true if the caller may sleep; false if data arrived meanwhile, in
 * which case the request has been withdrawn again.
 */
bool vcap_ring_reader_arm(struct vcap_ring_reader *rd, uint32_t watermark, uint32_t timeout_ms);

/*
 * Withdraw a wake request (wait_seq made even).  No-op if none is pending.
 * @return true if vcapd signalled (or is about to signal) this request, so
 * a wake-up token is in flight.  A token for a request already withdrawn
 * can arrive too (vcapd loaded wait_seq just before the withdrawal): a
 * reader that sleeps on the wake descriptor again drains it either way.
 */
bool vcap_ring_reader_disarm(struct vcap_ring_reader *rd);

/* The producer's state word (VCAP_RING_STATE_*). */
uint32_t vcap_ring_reader_state(const struct vcap_ring_reader *rd);

/*
 * A consistent snapshot of a counter line (seqlock read).
 * @return false if none could be had within about a second (the writer
 * stopped in the middle of an update: vcapd died); *c is then unreliable.
 */
bool vcap_ring_stats_read(const struct vcap_ring_stats *s, struct vcap_ring_counters *c);

/* A consistent snapshot of the ring's counters; false as above. */
bool vcap_ring_reader_counters(const struct vcap_ring_reader *rd, struct vcap_ring_counters *c);

#endif /* VCAP_RING_RING_H */
