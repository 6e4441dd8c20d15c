/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.h - vcapd's configuration file.
 *
 *   # comments and blank lines are ignored
 *   socket PATH [owner=USER|UID] [group=GROUP|GID] [mode=OCTAL]
 *                                     the main socket; root's, 0600 unless said
 *   source NAME KIND:OPTIONS          as --source NAME=KIND:OPTIONS
 *   vm NAME SOCKET size=SIZE[,vectors=N][,qmp=PATH[,port=ID][,plug=auto|manual]]
 *                                          a VM guest, as --vm does
 *   metrics LISTEN [owner=USER|UID] [group=GROUP|GID] [mode=OCTAL]
 *                                     serve Prometheus metrics, as --metrics does
 *                                     (metrics.h, docs/metrics.md); LISTEN is
 *                                     HOST:PORT, [V6]:PORT or unix:PATH (the
 *                                     permissions: unix: only; root's, 0600
 *                                     unless said); off without it
 *
 *   vcapd's own limits (BYTES take suffixes k M G Ki Mi Gi):
 *   limit rings-per-session N         (64)
 *   limit ring-memory BYTES           all rings together (4Gi)
 *   limit ring-size-max BYTES
 *   limit ring-size-default BYTES     (16Mi)
 *   limit sessions N                  all sessions together (1024)
 *   limit wildcard-rules N            per ring (1024, at most 65536; 0: none)
 *   limit flow-rules N                per ring (1048576, at most 2^30; 0: none)
 *   limit hello-timeout-ms N          a connection without HELLO by then is closed (2000)
 *   limit filter-compile-ms N         budget for compiling one filter (1000)
 *   limit filter-insns N              most BPF instructions in one filter (4096)
 *   limit tenant-cost-ns N            what each account's rings but the admin's may
 *                                     cost a capture thread per packet, on average
 *                                     (500; 0: no budget)
 *
 *   what each account but the admin's may hold (account.h), summed over all
 *   its sessions and rings; the defaults protect a host with 64 tenants:
 *   limit tenant-sessions N           (16)
 *   limit tenant-rings N              (16)
 *   limit tenant-ring-memory BYTES    (64Mi: 4 GiB / 64)
 *   limit tenant-wildcard-rules N     (1024)
 *   limit tenant-flow-rules N         (65536)
 *   limit tenant-filter-insns N       (16384)
 *   limit tenant-jobs N               OPEN/SET_FILTER compiled or populated at once (2);
 *                                     more wait their turn
 *
 *   tenant NAME uid UID             a container recognised by its peer uid
 *   tenant NAME socket PATH [owner=USER|UID] [group=GROUP|GID] [mode=OCTAL]
 *                                   ... or by its own socket (root's, 0600
 *                                   unless said: whoever may connect is it)
 *   tenant NAME vm VMNAME           ... or a VM guest
 *   tenant NAME allow SRC[,SRC...]  sources it may open ("*": all)
 *   tenant NAME filter EXPRESSION   mandatory, ANDed with its own filters
 *   tenant NAME sessions|rings|ring-memory|wildcard-rules|flow-rules|filter-insns VALUE
 *                                   its own limit in place of limit tenant-KEY
 *
 * Every error names the file, the line and the problem; vcapd refuses to
 * start on any of them.
 */
#ifndef VCAP_DAEMON_CONFIG_H
#define VCAP_DAEMON_CONFIG_H

#include <stddef.h>

#include "vcapd.h"

/*
 * Read path into d: sources are appended to d->sources, limits and the
 * socket path (a copy the caller frees with config_free) overwritten.
 * @return 0, or -errno with err holding "FILE:LINE: problem".
 */
int config_load(struct vcapd *d, const char *path, char *err, size_t err_len);
void config_free(struct vcapd *d);

/* Check the limits fit together.  @return 0 or -EINVAL with err. */
int config_check_limits(const struct vcapd_limits *l, char *err, size_t err_len);

#endif /* VCAP_DAEMON_CONFIG_H */
