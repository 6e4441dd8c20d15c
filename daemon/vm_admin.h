/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm_admin.h - the administrator's requests about VMs (VM_ATTACH,
 * VM_DETACH: vcapctl vm attach|detach|list), answered by vm.c without the
 * request code knowing the VM carrier.
 */
#ifndef VCAP_DAEMON_VM_ADMIN_H
#define VCAP_DAEMON_VM_ADMIN_H

struct session;
struct vcap_msg;

/*
 * Answer m (VM_ATTACH or VM_DETACH) from ss.  @return 0 with reply
 * filled, or VCAP_SERVE_LATER: session_answer() once the device is in or
 * gone.
 */
int vm_admin_request(struct session *ss, const struct vcap_msg *m, struct vcap_msg *reply);

#endif /* VCAP_DAEMON_VM_ADMIN_H */
