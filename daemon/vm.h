/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm.h - a VM guest as vcapd serves it: a shared region (include/vcap_shm.h)
 * handed to QEMU's ivshmem-doorbell device through vcapd's ivshmem server,
 * control queues in it, rings carved from it, and doorbells both ways.
 *
 *   --vm NAME=SOCKET,size=SIZE[,vectors=N]     (or a `vm` line in the config)
 *
 * QEMU connects to SOCKET (-chardev socket,path=SOCKET -device
 * ivshmem-doorbell,vectors=N).  A connected guest is one session of the
 * control thread, like a unix connection: the same requests, answered
 * through the h2g queue instead of a socket, with rings in the region
 * instead of memfds and an interrupt vector instead of a wake pipe.
 *
 * A guest that disconnects (QEMU exits or is killed) or breaks the framing
 * of its control queue loses every ring; the region is reset (its header's
 * generation bumped) and the next guest starts clean.
 */
#ifndef VCAP_DAEMON_VM_H
#define VCAP_DAEMON_VM_H

#include <stddef.h>
#include <stdint.h>

#include "vcapd.h"

struct vm;

/* Parse "NAME=SOCKET,size=SIZE[,vectors=N]" and create the region.  @return 0 or -errno. */
int vm_create(const char *spec, struct vm **out, char *err, size_t err_len);
/* Listen on the VM's socket.  @return 0 or -errno, with err. */
int vm_start(struct vm *vm, char *err, size_t err_len);
void vm_destroy(struct vm *vm);

const char *vm_name(const struct vm *vm);
struct vm *vm_next(const struct vm *vm);
void vm_set_next(struct vm *vm, struct vm *next);
struct vm *vm_find(struct vm *list, const char *name);
struct tenant *vm_tenant(const struct vm *vm);
void vm_set_tenant(struct vm *vm, struct tenant *t);

/* Add the VM's descriptors to the control thread's epoll set. */
void vm_watch(struct vm *vm, int epoll_fd);
/* The server's descriptor is readable: QEMUs connect or leave. */
void vm_server_event(struct vcapd *d, struct vm *vm);
/* vcapd's doorbell (vector 0) rang: requests wait in the g2h queue. */
void vm_doorbell(struct vcapd *d, struct vm *vm);
/* End the guest's session and reset the region (why: NULL on shutdown). */
void vm_disconnect(struct vcapd *d, struct vm *vm, const char *why);

/* Count the region's heartbeat up (the control thread, every VCAP_SHM_HEARTBEAT_MS). */
void vm_heartbeat(struct vm *vm);

/* Post a reply into h2g and raise the guest's vector 0.  @return 0 or -errno. */
int vm_send(struct vm *vm, const void *msg, size_t len);

/*
 * A ring of map_size bytes for the guest: its offset in the region, its
 * vector, and a descriptor (a dup of that vector's eventfd) to wake it.
 * @return 0, or -ENOSPC with err saying what ran out.
 */
int vm_ring_alloc(struct vm *vm, size_t map_size, uint64_t *off, void **mem, uint32_t *vector,
		  int *wake_fd, char *err, size_t err_len);
void vm_ring_free(struct vm *vm, uint64_t off, size_t map_size, uint32_t vector);

/* Rings the guest may hold at once: one per vector but vector 0. */
uint32_t vm_max_rings(const struct vm *vm);
/* The largest ring (bytes of records, a power of two) an empty region takes. */
uint32_t vm_ring_size_max(const struct vm *vm);

#endif /* VCAP_DAEMON_VM_H */
