/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shm_queue.h - carry vcap control messages through a queue in a VM's
 * shared region (layout and framing in include/vcap_shm.h).
 *
 * Each end keeps its own copy of the indices it owns and of the queue's
 * geometry, set when it attaches, and never re-reads them from shared
 * memory: the other side (for vcapd, a guest) can write anything there.
 * What an end reads from the other is validated before use: a consumer
 * checks every length against the bytes the producer's index allows and
 * copies a message out before anyone decodes it; a producer clamps the
 * consumer's index into the range it could legally hold.
 *
 * Both functions are non-blocking; the caller rings the doorbell after
 * sending and sleeps on its own vector (or polls) before receiving.
 */
#ifndef VCAP_TRANSPORT_SHM_QUEUE_H
#define VCAP_TRANSPORT_SHM_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vcap_shm.h"

struct shm_queue {
	struct vcap_shm_queue *q; /* header in shared memory */
	uint8_t *data;            /* bytes after the header */
	uint32_t size;            /* bytes of data: a power of two */
	uint32_t mask;
	uint32_t pos;             /* producer: head; consumer: tail (private) */
};

/*
 * Bind an end to the queue of queue_size bytes (header included) at mem.
 * @return 0, or -EINVAL if queue_size leaves no power-of-two data area.
 */
int shm_queue_attach(struct shm_queue *sq, void *mem, uint32_t queue_size);

/* Producer: empty the queue (both indices 0).  Only vcapd, on a region reset. */
void shm_queue_reset(struct shm_queue *sq);

/*
 * Producer: append one encoded message (len bytes, 8..VCAP_MSG_MAX).
 * @return 0, or -EAGAIN if the consumer has not made room (or its index is
 * impossible, which looks the same: a lying consumer gets a full queue).
 */
int shm_queue_send(struct shm_queue *sq, const void *msg, size_t len);

/*
 * Producer, right after a send: does the consumer sleep and want a doorbell
 * (its wait_seq odd)?  A seq_cst fence orders the head store before this
 * load; the consumer stores wait_seq, fences, and looks at head again, so
 * one of the two always sees the other.
 */
bool shm_queue_peer_waiting(struct shm_queue *sq);

/*
 * Consumer: take the next message into buf (cap bytes, 8-byte aligned).
 * @return its length; 0 if the queue is empty; -EBADMSG if what the
 * producer wrote breaks the framing (the queue is then unusable: the caller
 * drops the peer), with a reason in why.
 */
ssize_t shm_queue_recv(struct shm_queue *sq, void *buf, size_t cap, char *why, size_t why_len);

#endif /* VCAP_TRANSPORT_SHM_QUEUE_H */
