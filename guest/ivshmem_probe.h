/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshmem_probe.h - what tests/test_ivshmem.c (host) and ivshmem_probe
 * (guest) agree on in the shared memory.  Test-only: vcap's real layout of
 * the region is the integrator's (rings carved out of BAR2).
 *
 *   0x000  line the host writes before the guest boots (magic, nonce, ...)
 *   0x040  line the guest writes (answer, its peer id, ping)
 *   0x080  line the host writes while the guest runs (pong)
 *   size-8 PROBE_TAIL_MAGIC: the guest sees the whole BAR2, not a prefix
 *
 * One round: the guest stores ping = r and rings vcapd's vector r % vectors;
 * the host checks that vector fired, stores pong = r and raises MSI-X
 * vector r % vectors in the guest, which checks that vector fired.
 */
#ifndef VCAP_GUEST_IVSHMEM_PROBE_H
#define VCAP_GUEST_IVSHMEM_PROBE_H

#include <stdatomic.h>
#include <stdint.h>

#define PROBE_MAGIC 0x42525056u      /* "VPRB" */
#define PROBE_TAIL_MAGIC 0x4c494154u /* "TAIL" */
#define PROBE_ANSWER(nonce) ((nonce) ^ 0xa5a5a5a5u)

struct probe_shm {
	/* host, before boot */
	_Alignas(64) uint32_t magic;
	uint32_t nonce;
	uint32_t host_id;  /* vcapd's peer id: where the guest rings */
	uint32_t vectors;  /* vectors the server has */
	/* guest */
	_Alignas(64) _Atomic uint32_t answer; /* PROBE_ANSWER(nonce) */
	_Atomic uint32_t guest_id;            /* IVPosition as the guest read it */
	_Atomic uint32_t ping;                /* round rung for, stored before the ring */
	/* host, while the guest runs */
	_Alignas(64) _Atomic uint32_t pong;   /* round answered, stored before the interrupt */
};

_Static_assert(sizeof(struct probe_shm) == 192, "three lines");

#endif /* VCAP_GUEST_IVSHMEM_PROBE_H */
