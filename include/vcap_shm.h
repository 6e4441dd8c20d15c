/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcap_shm.h - the shared region of a VM: what vcapd and a guest find in the
 * memory behind QEMU's ivshmem-doorbell device (BAR2).
 *
 * One region per VM, its size set by the operator (a power of two: QEMU
 * requires it).  vcapd creates it (a memfd), serves it to QEMU as the
 * ivshmem server, and carves packet rings out of it on demand.
 *
 *   offset              size              writer   contents
 *   0                   4 KiB             vcapd    struct vcap_shm_hdr
 *   hdr.g2h_off         hdr.queue_size    guest    control queue, guest -> host
 *   hdr.h2g_off         hdr.queue_size    vcapd    control queue, host -> guest
 *   hdr.rings_off ..    the rest          both     rings (vcap_ring.h), carved
 *   region end                                     on OPEN, freed on CLOSE
 *
 * Control queues carry the messages of vcap_proto.h, byte for byte as on a
 * unix socket, one after the other: each starts with its struct
 * vcap_msg_hdr, whose `len` frames it, padded to 8 bytes.  A message never
 * wraps: when one does not fit before the end, the producer writes a
 * 4-byte zero word there (or leaves fewer than 4 bytes) and starts again at
 * offset 0.  Indices are free-running u32 byte counters, as in rings.
 *
 * Doorbells (ivshmem vectors): the guest rings vcapd's peer id
 * (hdr.host_peer) on vector 0 after posting requests; vcapd raises the
 * guest's vector 0 after posting replies, and vector V of a ring (OPEN
 * reply's `vector`, 1..) when that ring's consumer asked to be woken.
 * A ring has a vector to itself, so the guest may hand each to a different
 * process.
 *
 * Trust: the guest can write the whole region, headers included.  vcapd
 * reads the g2h queue's indices once per use, checks every length against
 * the bytes the indices allow, copies a message out of shared memory before
 * decoding it, clamps h2g's consumer index as the ring writer does, keeps
 * its own copy of where every ring is, and never derives an address from
 * anything in the region.  The worst a guest can do is to lose its own
 * packets and its own control channel.
 */
#ifndef VCAP_SHM_H
#define VCAP_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vcap_proto.h"

#define VCAP_SHM_MAGIC 0x4d485356u /* "VSHM" read as little-endian bytes */
#define VCAP_SHM_VERSION 1u

#define VCAP_SHM_HDR_SIZE 4096u
#define VCAP_SHM_QUEUE_DATA (128u << 10) /* holds two of the largest messages */
#define VCAP_SHM_RING_ALIGN 4096u        /* rings start on page boundaries */

/* ivshmem-doorbell registers in BAR0 (QEMU docs/specs/ivshmem-spec.rst) */
#define VCAP_IVSHMEM_VENDOR 0x1af4
#define VCAP_IVSHMEM_DEVICE 0x1110
#define VCAP_IVSHMEM_REG_INTRMASK 0   /* u32, RW: unused with MSI-X */
#define VCAP_IVSHMEM_REG_INTRSTATUS 4 /* u32, RW: unused with MSI-X */
#define VCAP_IVSHMEM_REG_IVPOSITION 8 /* u32, RO: this guest's peer id */
#define VCAP_IVSHMEM_REG_DOORBELL 12  /* u32, WO: (peer << 16) | vector */
#define VCAP_IVSHMEM_MAX_VECTORS 64  /* MSI-X vectors vcap uses at most */

#define VCAP_SHM_VECTOR_CTRL 0u /* control queues, both directions */

/* One direction of control messages. */
struct vcap_shm_queue {
	_Alignas(64) _Atomic uint32_t head; /* producer: one past the last message */
	_Alignas(64) _Atomic uint32_t tail; /* consumer: first byte not yet taken */
	/* consumer: odd while it sleeps and wants the doorbell */
	_Alignas(64) _Atomic uint32_t wait_seq;
	uint32_t reserved[15];
};
/* A queue is its 192-byte header, then VCAP_SHM_QUEUE_DATA bytes of messages. */
#define VCAP_SHM_QUEUE_HDR 192u
#define VCAP_SHM_QUEUE_SIZE (VCAP_SHM_QUEUE_HDR + VCAP_SHM_QUEUE_DATA)

/* Page 0 of the region, written by vcapd when the region is (re)set. */
struct vcap_shm_hdr {
	uint32_t magic;        /* VCAP_SHM_MAGIC */
	uint16_t version;      /* VCAP_SHM_VERSION */
	uint16_t hdr_size;     /* VCAP_SHM_HDR_SIZE */
	uint64_t region_size;  /* bytes of the whole region (== BAR2 size) */
	uint32_t host_peer;    /* vcapd's ivshmem peer id: ring it on vector 0 */
	uint32_t vectors;      /* vectors the device has (ring vectors: 1..vectors-1) */
	uint64_t g2h_off;      /* control queue, guest to host */
	uint64_t h2g_off;      /* control queue, host to guest */
	uint32_t queue_size;   /* bytes of each queue, header included */
	_Atomic uint32_t generation; /* bumped (release) each time vcapd resets the region */
	uint64_t rings_off;    /* first byte rings may occupy */
	char vm_name[VCAP_NAME_MAX]; /* vcapd's name for this VM, NUL-padded */
	/*
	 * Counted up by vcapd every VCAP_SHM_HEARTBEAT_MS while it runs.  Nothing
	 * hangs up on a guest when vcapd dies; a guest that sees this stand
	 * still for VCAP_SHM_HEARTBEAT_DEAD_MS knows vcapd is gone.
	 */
	_Atomic uint64_t heartbeat;
	uint64_t reserved[15];
};

#define VCAP_SHM_HEARTBEAT_MS 500u
#define VCAP_SHM_HEARTBEAT_DEAD_MS 3000u

_Static_assert(sizeof(struct vcap_shm_queue) == VCAP_SHM_QUEUE_HDR, "queue header");
_Static_assert(offsetof(struct vcap_shm_queue, tail) == 64, "tail on its own line");
_Static_assert(offsetof(struct vcap_shm_queue, wait_seq) == 128, "wait_seq on its own line");
_Static_assert(sizeof(struct vcap_shm_hdr) <= VCAP_SHM_HDR_SIZE, "region header fits page 0");

#endif /* VCAP_SHM_H */
