/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.c - a bounded sleep on descriptors, and logging.
 */
#include "util.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

int wait_readable(int fd1, int fd2, uint64_t max_ns)
{
	struct pollfd p[2] = { { .fd = fd1, .events = POLLIN }, { .fd = fd2, .events = POLLIN } };
	struct timespec ts = { .tv_sec = (time_t)(max_ns / 1000000000ull),
			       .tv_nsec = (long)(max_ns % 1000000000ull) };

	return ppoll(p, fd2 >= 0 ? 2 : 1, &ts, NULL) > 0;
}

static bool log_to_syslog;
static int log_max = LOG_DEBUG;

void vlog_init(bool use_syslog)
{
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog("vcapd", LOG_PID, LOG_DAEMON);
}

void vlog_set_level(int max_level)
{
	log_max = max_level;
}

void vlog(int level, const char *fmt, ...)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error",
					     "warning", "notice", "info", "debug" };
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	if (log_to_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		fprintf(stderr, "vcapd: %s: ", names[level & 7]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
