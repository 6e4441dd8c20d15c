/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reload.h - read the configuration file again and apply what changed,
 * without a restart (SIGHUP, or `vcapctl reload`: VCAP_MSG_RELOAD).
 *
 * The new file is parsed and checked whole, and everything that can fail
 * (a source's interface, a new socket) is made, before anything running
 * changes: a bad file is refused with FILE:LINE and the old configuration
 * stays.  Then, by name:
 *   - a source whose line is unchanged keeps running, its rings untouched;
 *     a removed or changed one ends: its rings are ended (a consumer sees
 *     the ring dead) and a changed one starts again from its new line;
 *   - a tenant whose identity and policy (uid, socket, vm, allow, filter)
 *     are unchanged keeps its sessions and rings, with its new limits; the
 *     sessions of a changed or removed tenant are ended, so that they
 *     start over under the new policy; so are sessions that the new
 *     tenants would place elsewhere (a uid that became a tenant's);
 *   - an unchanged VM keeps its guest; a removed or changed one is stopped
 *     (QEMU sees its server go) and a changed one starts again;
 *   - limits take effect for every request from now on; what a session
 *     holds beyond a lowered limit stays until it lets go.
 * What the command line gave (--socket, --source, --vm, --max-ring-memory)
 * stays as it is; the main socket cannot move without a restart.
 */
#ifndef VCAP_DAEMON_RELOAD_H
#define VCAP_DAEMON_RELOAD_H

#include <stddef.h>

#include "vcap_proto.h"

struct vcapd;

/*
 * Reload d->config_path into d.  sum (may be NULL) counts what changed.
 * @return 0, or -errno with err ("FILE:LINE: problem"), d unchanged.
 */
int reload(struct vcapd *d, struct vcap_msg_reload_reply *sum, char *err, size_t err_len);

/* Free what reloads retired and nothing names any more (all of it: at exit). */
void reload_sweep(struct vcapd *d, int at_exit);

#endif /* VCAP_DAEMON_RELOAD_H */
