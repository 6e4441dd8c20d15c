/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * notify.c - systemd's readiness protocol, without libsystemd: one
 * AF_UNIX datagram of "KEY=VALUE" lines per state change, to the socket
 * named by $NOTIFY_SOCKET.  Written out rather than linked so vcapd does
 * not depend on libsystemd for a few dozen lines.
 */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Fill sa from $NOTIFY_SOCKET.  @return its length, 0 if unset, or -errno. */
static int notify_addr(struct sockaddr_un *sa)
{
	const char *name = getenv("NOTIFY_SOCKET");
	size_t len;

	if (!name || !*name)
		return 0;
	len = strlen(name);
	/* a path, or '@' for the abstract namespace (a leading NUL byte) */
	if ((name[0] != '/' && name[0] != '@') || len < 2)
		return -EAFNOSUPPORT; /* e.g. vsock:, which vcapd does not speak */
	if (len > sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, name, len);
	if (name[0] == '@')
		sa->sun_path[0] = '\0';
	/* a path's terminating NUL is not counted (nor is there one when it fills sun_path) */
	return (int)(offsetof(struct sockaddr_un, sun_path) + len);
}

int notify_send(const char *msg)
{
	static int warned;
	struct sockaddr_un sa;
	int len = notify_addr(&sa), fd, rc = 0;

	if (len == 0)
		return 0;
	if (len > 0) {
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			rc = -errno;
		else {
			if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
				   (socklen_t)len) < 0)
				rc = -errno;
			close(fd);
		}
	} else {
		rc = len;
	}
	if (rc && !warned) {
		warned = 1;
		vlog(LOG_WARNING, "cannot notify the service manager at NOTIFY_SOCKET=%s: %s",
		     getenv("NOTIFY_SOCKET"), strerror(-rc));
	}
	return rc;
}

int notify_ready(const char *status_fmt, ...)
{
	char status[256], msg[384];
	va_list ap;

	va_start(ap, status_fmt);
	vsnprintf(status, sizeof(status), status_fmt, ap);
	va_end(ap);
	/* one line each: a newline in STATUS would start a bogus key */
	for (char *p = status; (p = strchr(p, '\n'));)
		*p = ' ';
	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld\nSTATUS=%s\n", (long)getpid(), status);
	return notify_send(msg);
}

int notify_reloading(void)
{
	struct timespec ts;
	char msg[96];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading\n",
		 (unsigned long long)ts.tv_sec * 1000000ull +
			 (unsigned long long)ts.tv_nsec / 1000ull);
	return notify_send(msg);
}

int notify_stopping(void)
{
	return notify_send("STOPPING=1\nSTATUS=shutting down\n");
}
