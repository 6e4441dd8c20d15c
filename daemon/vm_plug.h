/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm_plug.h - vcapd plugs a VM's ivshmem-doorbell device into its QEMU
 * through QMP (`vm NAME SOCKET ...,qmp=PATH,port=ID`), and unplugs it.
 *
 * Why: QEMU 7.2 cannot re-attach an ivshmem-doorbell device to a restarted
 * server (guest/run-vm.sh says what was tried), so a VM whose vcapd
 * restarted needs a fresh device: the VM starts with an empty
 * pcie-root-port (id PORT, default "vcap-port") and its QMP socket, and
 * vcapd plugs the device, with
 *
 *   chardev-add  id=vcapchr-NAME, a unix socket client to the VM's SOCKET
 *   device_add   ivshmem-doorbell, id=vcap-NAME, bus=PORT, chardev, vectors
 *
 * Before plugging it removes what a previous vcapd (killed, crashed) left:
 * device_del vcap-NAME, then DEVICE_DELETED (the guest's pciehp takes
 * about 5 s to let go: the attention button's wait; the guest's program
 * holding the device through VFIO must release it, see guest/), then
 * chardev-remove.  Unplugging is the same without the plug.
 *
 * QMP not reachable yet (the VM is not running): retried with a backoff
 * up to PLUG_RETRY_MAX_MS for as long as vcapd runs.  QEMU going away
 * (QMP closes) leaves the device absent; a QEMU started again gets one.
 */
#ifndef VCAP_DAEMON_VM_PLUG_H
#define VCAP_DAEMON_VM_PLUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct vm_plug;

#define PLUG_RETRY_MAX_MS 2000u
/* How long the guest may take to give the device back (pciehp waits 5 s). */
#define PLUG_DELETE_MS 60000u
/* QEMU's answer to each command; device_add reads the server's setup first. */
#define PLUG_COMMAND_MS 10000u

struct vm_plug_cfg {
	const char *vm;     /* name */
	const char *qmp;    /* QMP socket path */
	const char *port;   /* the pcie-root-port's id */
	const char *socket; /* the VM's ivshmem socket (vcapd's server) */
	unsigned vectors;
	bool manual;        /* plug only when asked (vm_plug_request), not at start */
	/*
	 * The device in QEMU is live and ours: a re-exec (upgrade) handed its
	 * server over.  Taken as plugged: nothing is unplugged at start.
	 */
	bool adopt;
};

/*
 * A request's outcome: rc 0 (the device is in, or gone) or -errno with why
 * (QEMU's own words where it refused).
 */
typedef void (*vm_plug_done_fn)(void *arg, int rc, const char *why);

/*
 * Start: connect to QMP (now, or retried) and plug the device.
 * @return the plug, or NULL (out of memory).
 */
struct vm_plug *vm_plug_start(const struct vm_plug_cfg *cfg, struct loop *l);

/* Stop (QMP closed, nothing unplugged) and free; done callbacks are not called. */
void vm_plug_free(struct vm_plug *p);

/*
 * Plug (want true) or unplug; done is called once, when it is so or why
 * not.  @return 0, or -errno with why (another request is under way; QMP
 * not connected) and done not called.
 */
int vm_plug_request(struct vm_plug *p, bool want, vm_plug_done_fn done, void *arg, char *why,
		    size_t why_len);

/* Forget a request's done callback (its asker went away). */
void vm_plug_forget(struct vm_plug *p, void *arg);

/* VCAP_VM_* (vcap_proto.h) and a sentence about it ("" if none). */
unsigned vm_plug_state(const struct vm_plug *p, const char **detail);
/* Is the device wanted in (at start, or the last attach) rather than out (a detach)? */
bool vm_plug_wanted(const struct vm_plug *p);

#endif /* VCAP_DAEMON_VM_PLUG_H */
