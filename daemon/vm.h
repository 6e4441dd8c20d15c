/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm.h - a VM guest as vcapd serves it: a shared region (include/vcap_shm.h)
 * handed to QEMU's ivshmem-doorbell device through vcapd's ivshmem server,
 * control queues in it, rings carved from it, and doorbells both ways.
 *
 *   --vm NAME=SOCKET,size=SIZE[,vectors=N][,qmp=PATH[,port=ID][,plug=auto|manual]]
 *                                              (or a `vm` line in the config)
 *
 * QEMU connects to SOCKET (-chardev socket,path=SOCKET -device
 * ivshmem-doorbell,vectors=N).  A connected guest is one session
 * (session.h) with this file as its carrier: the same requests as a unix
 * connection, answered through the h2g queue instead of a socket, with
 * rings in the region instead of memfds and an interrupt vector instead of
 * a wake pipe.
 *
 * With qmp=, vcapd plugs the device into QEMU itself (vm_plug.h), and
 * replugs a fresh one after a restart; VM_ATTACH and VM_DETACH
 * (vm_admin.h) plug and unplug it on demand.
 *
 * A guest that disconnects (QEMU exits or is killed) or breaks the framing
 * of its control queue loses every ring; the region is reset (its header's
 * generation bumped) and the next guest starts clean.
 */
#ifndef VCAP_DAEMON_VM_H
#define VCAP_DAEMON_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct tenant;
struct vcapd;

struct vm;

/*
 * Parse "NAME=SOCKET,size=SIZE[,vectors=N]": a VM as the configuration
 * names it, with nothing created yet (vm_start makes its region and
 * socket).  @return 0 or -errno with err.
 */
int vm_create(const char *spec, struct vm **out, char *err, size_t err_len);
/* The options vm_create() takes after SOCKET (NULL-terminated): size, vectors, qmp, port, plug. */
extern const char *const vm_options[];
void vm_destroy(struct vm *vm);

const char *vm_name(const struct vm *vm);
struct vm *vm_next(const struct vm *vm);
void vm_set_next(struct vm *vm, struct vm *next);
struct vm *vm_find(struct vm *list, const char *name);
struct tenant *vm_tenant(const struct vm *vm);
void vm_set_tenant(struct vm *vm, struct tenant *t);

/*
 * Listen on the VM's socket and serve it from loop l: QEMU connecting and
 * leaving, the guest's doorbell, the region's heartbeat.  @return 0 or
 * -errno, with err.
 */
int vm_start(struct vm *vm, struct vcapd *d, struct loop *l, char *err, size_t err_len);

/*
 * Before vm_start: the device in QEMU is live and served by what vcapd was
 * handed (a re-exec): with qmp=, take it as plugged instead of replugging.
 */
void vm_adopt_device(struct vm *vm);

/* End the guest's session and reset the region (why: NULL on shutdown). */
void vm_disconnect(struct vm *vm, const char *why);

/*
 * A reload removed the VM: end its guest's session, stop serving it and
 * close its socket (QEMU sees the server go).  Its region stays until
 * vm_destroy, for rings still being given back.
 */
void vm_stop(struct vm *vm, const char *why);
/* New `limit tenant-*` defaults for the VMs' own accounts (a reload). */
void vm_accounts_setup(struct vm *list, const uint64_t defaults[]);
/* Would a and b be the same VM to QEMU (name, socket, size, vectors)? */
bool vm_same(const struct vm *a, const struct vm *b);
/* From a `vm` line of the configuration file (a reload may change it), not --vm. */
bool vm_from_config(const struct vm *vm);
void vm_set_from_config(struct vm *vm);

#endif /* VCAP_DAEMON_VM_H */
