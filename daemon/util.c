/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.c - a bounded sleep on descriptors, and logging.
 */
#include "util.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

int wait_readable(int fd1, int fd2, uint64_t max_ns)
{
	struct pollfd p[2] = { { .fd = fd1, .events = POLLIN }, { .fd = fd2, .events = POLLIN } };
	struct timespec ts = { .tv_sec = (time_t)(max_ns / 1000000000ull),
			       .tv_nsec = (long)(max_ns % 1000000000ull) };

	return ppoll(p, fd2 >= 0 ? 2 : 1, &ts, NULL) > 0;
}

static bool log_to_syslog;
static bool log_to_journal; /* stderr is systemd's journal: levels as <N> prefixes */
static int log_max = LOG_INFO;

static const char *const level_names[] = { "emerg", "alert", "crit", "error",
					   "warning", "notice", "info", "debug" };

/* systemd sets JOURNAL_STREAM=DEV:INODE to the stream it connected stderr to. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && !fstat(STDERR_FILENO, &st) &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void vlog_init(bool use_syslog)
{
	log_to_syslog = use_syslog;
	log_to_journal = !use_syslog && stderr_is_journal();
	if (use_syslog)
		openlog("vcapd", LOG_PID, LOG_DAEMON);
}

int vlog_level_of(const char *name)
{
	for (int i = 0; i < 8; i++)
		if (!strcmp(name, level_names[i]))
			return i;
	if (!strcmp(name, "err")) /* syslog's name */
		return LOG_ERR;
	return -1;
}

void vlog_set_level(int max_level)
{
	log_max = max_level;
}

void vlog(int level, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	if (log_to_syslog) {
		vsyslog(level, fmt, ap);
		va_end(ap);
		return;
	}
	/* one write a line: capture threads log too, and lines must not interleave */
	if (log_to_journal)
		n = snprintf(line, sizeof(line), "<%d>", level & 7);
	else
		n = snprintf(line, sizeof(line), "vcapd: %s: ", level_names[level & 7]);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
