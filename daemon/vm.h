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

#include "ivshmem_server.h"
#include "vcap_proto.h"

struct loop;
struct ring_place;
struct session;
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

/*
 * An upgrade hands a live VM over (upgrade.c): its region, its ivshmem
 * server with QEMU's connection and every eventfd (the same kernel
 * objects: the guest's MSI-X and doorbell go on through them), the control
 * queues' private positions and the device's plug state.  The guest's
 * session and rings go as the upgrade's session and ring records.
 */
struct vm_saved {
	char name[VCAP_NAME_MAX + 1];
	char socket[108];
	int memfd;
	uint32_t generation;
	uint32_t g2h_pos, h2g_pos;
	uint64_t restarts;
	int peer;          /* the connected guest, -1: none */
	int32_t qemu_pid;  /* its session's pid */
	unsigned plug;     /* VCAP_VM_* (VCAP_VM_MANUAL: no qmp=) */
	bool plug_wanted;  /* in (auto, or the last attach) rather than out (a detach) */
	struct ivshmem_server_saved srv;
};

/*
 * Old side, control thread in the upgrade: describe vm (nothing changes).
 * @return 0; -EAGAIN with err while something is under way that would be
 * lost (a request of its guest answered on a job thread, an attach or
 * detach, a client's setup being sent): try again.
 */
int vm_save(const struct vm *vm, struct vm_saved *out, char *err, size_t err_len);
/* Every descriptor vm_save() named (to inherit across exec), through fn. */
void vm_saved_fds(const struct vm_saved *sv, void (*fn)(void *arg, int fd), void *arg);
/* Is vm served (started, not stopped by a reload)? */
bool vm_serving(const struct vm *vm);
/* The guest's session, or NULL. */
struct session *vm_session(const struct vm *vm);

/*
 * New side: vm_start() around what sv hands over: the region mapped again
 * (never laid out afresh or wiped), the server adopted, the guest's
 * session made (its rings follow: vm_adopt_ring), the device taken as it
 * was.  @return 0 or -errno with err.
 */
int vm_start_adopted(struct vm *vm, const struct vm_saved *sv, struct vcapd *d, struct loop *l,
		     char *err, size_t err_len);
/*
 * A handed-over ring of the guest's session: its place at off (len bytes)
 * and its vector are taken again; wake_fd is the inherited dup of the
 * vector's eventfd.  Fills p.  @return 0 or -errno with err.
 */
int vm_adopt_ring(struct vm *vm, uint64_t off, size_t len, unsigned vector, int wake_fd,
		  struct ring_place *p, char *err, size_t err_len);
/* After every ring is adopted: read what the guest queued meanwhile. */
void vm_adopted(struct vm *vm);

#endif /* VCAP_DAEMON_VM_H */
