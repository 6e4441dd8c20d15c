/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.h - vcapd's configuration file.
 *
 *   # comments and blank lines are ignored
 *   socket /run/vcap/vcapd.sock
 *   source NAME KIND:OPTIONS          as --source NAME=KIND:OPTIONS
 *   limit rings-per-session N
 *   limit ring-memory BYTES           all rings together (suffixes k M G Ki Mi Gi)
 *   limit ring-size-max BYTES
 *   limit ring-size-default BYTES
 *   limit sessions N
 *   limit wildcard-rules N            per ring (default 1024, at most 65536; 0: none)
 *   limit flow-rules N                per ring (default 1048576, at most 2^30; 0: none)
 *   limit filter-compile-ms N         budget for compiling one filter (default 1000)
 *   limit filter-insns N              BPF instructions in one filter (default 4096)
 *   limit tenant-cost-ns N            what a tenant's rings may cost a capture thread per
 *                                     packet, on average (default 500; 0: no budget)
 *   vm NAME SOCKET size=SIZE[,vectors=N]   a VM guest, as --vm does
 *   tenant NAME uid UID             a container recognised by its peer uid
 *   tenant NAME socket PATH         ... or by its own socket vcapd listens on
 *   tenant NAME vm VMNAME           ... or a VM guest
 *   tenant NAME allow SRC[,SRC...]  sources it may open ("*": all)
 *   tenant NAME filter EXPRESSION   mandatory, ANDed with its own filters
 *   tenant NAME rings N             rings it may hold at once
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
