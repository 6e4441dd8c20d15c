/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.h - logging, clocks and sleeping (util.c, clock.c).
 */
#ifndef VCAP_DAEMON_UTIL_H
#define VCAP_DAEMON_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h> /* LOG_* levels for vlog() */

/* Logging: stderr in the foreground, syslog once daemonized (util.c). */
void vlog_init(bool use_syslog);
/* Log only messages of max_level (LOG_*) or more urgent (LOG_INFO unless set); -1: none. */
void vlog_set_level(int max_level);
/* "error" (or "err"), "warning", "notice", "info", "debug"...: LOG_*, or -1 if unknown. */
int vlog_level_of(const char *name);
void vlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic and wall clocks in ns (clock.c). */
uint64_t mono_ns(void);
uint64_t wall_ns(void);
/*
 * Sleep until fd1 or fd2 (-1: none) is readable or max_ns passed.
 * @return 1 if one is readable, 0 on timeout or signal.
 */
int wait_readable(int fd1, int fd2, uint64_t max_ns);

#endif /* VCAP_DAEMON_UTIL_H */
