/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shm_queue.c - control messages through a queue in shared memory.
 *
 * Ordering, as in rings: the producer writes a message, then store-releases
 * head (R1); the consumer load-acquires head (A1), copies the message out,
 * then store-releases tail (R2); the producer load-acquires tail (A2) only
 * to learn how much room it has.
 */
#include "shm_queue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ALIGN 8u
#define WRAP_MARK 0u /* a zero magic: the rest of the data area is unused */

int shm_queue_attach(struct shm_queue *sq, void *mem, uint32_t queue_size)
{
	uint32_t size;

	if (queue_size <= VCAP_SHM_QUEUE_HDR)
		return -EINVAL;
	size = queue_size - VCAP_SHM_QUEUE_HDR;
	if (size & (size - 1) || size < 2 * ALIGN)
		return -EINVAL;
	sq->q = mem;
	sq->data = (uint8_t *)mem + VCAP_SHM_QUEUE_HDR;
	sq->size = size;
	sq->mask = size - 1;
	sq->pos = 0;
	return 0;
}

void shm_queue_reset(struct shm_queue *sq)
{
	sq->pos = 0;
	atomic_store_explicit(&sq->q->head, 0, memory_order_relaxed);
	atomic_store_explicit(&sq->q->tail, 0, memory_order_relaxed);
	atomic_store_explicit(&sq->q->wait_seq, 0, memory_order_release);
}

int shm_queue_send(struct shm_queue *sq, const void *msg, size_t len)
{
	uint32_t need = ((uint32_t)len + ALIGN - 1) & ~(ALIGN - 1);
	uint32_t off = sq->pos & sq->mask, tail_room = sq->size - off;
	uint32_t total = need <= tail_room ? need : tail_room + need;
	uint32_t used = sq->pos - atomic_load_explicit(&sq->q->tail, memory_order_acquire); /* A2 */

	if (len < ALIGN || len > VCAP_MSG_MAX || need > sq->size / 2)
		return -EINVAL;
	if (used > sq->size)
		used = sq->size; /* an impossible tail: the queue counts as full */
	if (sq->size - used < total)
		return -EAGAIN;
	if (need > tail_room) {
		uint32_t mark = WRAP_MARK;

		memcpy(sq->data + off, &mark, sizeof(mark));
		sq->pos += tail_room;
		off = 0;
	}
	memcpy(sq->data + off, msg, len);
	sq->pos += need;
	atomic_store_explicit(&sq->q->head, sq->pos, memory_order_release); /* R1 */
	return 0;
}

bool shm_queue_peer_waiting(struct shm_queue *sq)
{
	atomic_thread_fence(memory_order_seq_cst);
	return atomic_load_explicit(&sq->q->wait_seq, memory_order_relaxed) & 1;
}

#define BAD(...)                                  \
	do {                                      \
		snprintf(why, why_len, __VA_ARGS__); \
		return -EBADMSG;                  \
	} while (0)

ssize_t shm_queue_recv(struct shm_queue *sq, void *buf, size_t cap, char *why, size_t why_len)
{
	for (;;) {
		uint32_t head = atomic_load_explicit(&sq->q->head, memory_order_acquire); /* A1 */
		uint32_t avail = head - sq->pos, off = sq->pos & sq->mask;
		struct vcap_msg_hdr h;
		uint32_t need;

		if (avail == 0)
			return 0;
		if (avail > sq->size || (avail & (ALIGN - 1)))
			BAD("queue head %u is impossible (tail %u, size %u)", head, sq->pos, sq->size);
		memcpy(&h.magic, sq->data + off, sizeof(h.magic));
		if (h.magic == WRAP_MARK) {
			uint32_t skip = sq->size - off;

			if (skip > avail)
				BAD("wrap mark at %u but only %u bytes queued", off, avail);
			sq->pos += skip;
			atomic_store_explicit(&sq->q->tail, sq->pos, memory_order_release);
			continue;
		}
		if (sq->size - off < sizeof(h))
			BAD("message header cut by the end of the queue at %u", off);
		memcpy(&h, sq->data + off, sizeof(h));
		if (h.len < VCAP_MSG_MIN || h.len > VCAP_MSG_MAX || h.len > cap)
			BAD("message length %u out of range", h.len);
		need = (h.len + ALIGN - 1) & ~(ALIGN - 1);
		if (need > sq->size - off || need > avail)
			BAD("message of %u bytes runs past what was queued (%u) or the end", h.len,
			    avail);
		/*
		 * Copy it out before anyone looks inside: the producer may
		 * rewrite shared memory at any time.  The decoder checks the
		 * copy's own length field against h.len.
		 */
		memcpy(buf, sq->data + off, h.len);
		sq->pos += need;
		atomic_store_explicit(&sq->q->tail, sq->pos, memory_order_release); /* R2 */
		return (ssize_t)h.len;
	}
}
