/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * netns.h - a private wire for a test: two network namespaces joined by a
 * veth pair, IPv6 off so the kernel sends nothing of its own.  Traffic
 * never leaves them; they are deleted at exit, even after a failed CHECK.
 */
#ifndef VCAP_TESTS_NETNS_H
#define VCAP_TESTS_NETNS_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

struct wire {
	char cap[32]; /* namespace where vcapd captures veth0 */
	char snd[32]; /* namespace where vcapsend sends on veth1 */
};

static struct wire *wire_to_clean;

/* Run a shell command built like printf; @return its exit status. */
static inline int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static inline void wire_cleanup(void)
{
	if (wire_to_clean) {
		sh("ip netns del %s 2>/dev/null", wire_to_clean->cap);
		sh("ip netns del %s 2>/dev/null", wire_to_clean->snd);
		wire_to_clean = NULL;
	}
}

static inline void wire_up(struct wire *w)
{
	snprintf(w->cap, sizeof(w->cap), "vctc-%d-cap", (int)getpid());
	snprintf(w->snd, sizeof(w->snd), "vctc-%d-snd", (int)getpid());
	wire_to_clean = w;
	atexit(wire_cleanup);
	CHECK(sh("ip netns add %s && ip netns add %s", w->cap, w->snd) == 0, "ip netns add");
	CHECK(sh("ip link add veth0 netns %s type veth peer name veth1 netns %s", w->cap, w->snd) ==
		      0,
	      "veth");
	CHECK(sh("for ns in %s %s; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
		 "&& ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1; done",
		 w->cap, w->snd) == 0,
	      "sysctl");
	CHECK(sh("ip -n %s link set veth0 up && ip -n %s link set veth1 up", w->cap, w->snd) == 0,
	      "link up");
}

/* Move this thread into network namespace name (as `ip netns exec` does,
 * minus the mount namespace). */
static inline void netns_enter(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	CHECK(setns(fd, CLONE_NEWNET) == 0, "setns %s: %s", name, strerror(errno));
	close(fd);
}

/* vcapsend in the sending namespace; extra arguments as a string. */
static inline void wire_send(const struct wire *w, const char *args)
{
	CHECK(sh("ip netns exec %s %s/tools/vcapsend -i veth1 -q %s >/dev/null", w->snd,
		 getenv("VCAP_BUILD_DIR") ? getenv("VCAP_BUILD_DIR") : ".", args) == 0,
	      "vcapsend %s", args);
}

#endif /* VCAP_TESTS_NETNS_H */
