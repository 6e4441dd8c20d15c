/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * harness.h - start a real vcapd for a test and talk to it.
 *
 * Each test gets its own vcapd on its own socket in a fresh temporary
 * directory, so tests can run side by side.  The binary is the one meson
 * built ($VCAP_BUILD_DIR/daemon/vcapd).
 */
#ifndef VCAP_TESTS_HARNESS_H
#define VCAP_TESTS_HARNESS_H

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "codec.h"
#include "unix_carrier.h"

struct vcapd_proc {
	pid_t pid;
	char dir[64];
	char sock[128];
};

static inline const char *build_dir(void)
{
	const char *b = getenv("VCAP_BUILD_DIR");

	return b ? b : ".";
}

static inline void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Milliseconds on the monotonic clock: for deadlines and measured gaps. */
static inline uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Write a file anew from a format (a configuration, a script); CHECKed. */
__attribute__((format(printf, 2, 3))) static inline void harness_write(const char *path,
									const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	CHECK(f, "%s", path);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	CHECK(fclose(f) == 0, "write %s", path);
}

/*
 * One message of QEMU's ivshmem server protocol (ivshmem-spec.rst), read as
 * a test playing QEMU: its value, and its descriptor in *fd (-1: none).
 */
static inline int64_t ivshmem_msg(int sock, int *fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	int64_t le;
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;

	*fd = -1;
	CHECK(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) == sizeof(le), "ivshmem message: %s",
	      strerror(errno));
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(*fd));
	return (int64_t)le64toh((uint64_t)le);
}

/* The vcapd a failed CHECK leaves behind is killed at exit, not left to hang meson. */
static pid_t harness_vcapd_pid, harness_owner;

static inline void harness_kill_vcapd(void)
{
	if (harness_vcapd_pid > 0 && getpid() == harness_owner)
		kill(harness_vcapd_pid, SIGKILL);
}

/*
 * Start vcapd --foreground with the given extra arguments (NULL-terminated)
 * and wait until it answers on its socket.  Sets VCAP_SOCKET for libvcap.
 */
static inline void vcapd_start_netns(struct vcapd_proc *d, const char *netns,
				     const char *const *args)
{
	char bin[512];
	const char *argv[64];
	int n = 0;

	snprintf(d->dir, sizeof(d->dir), "/tmp/vcap-test-XXXXXX");
	CHECK(mkdtemp(d->dir), "mkdtemp");
	snprintf(d->sock, sizeof(d->sock), "%s/vcapd.sock", d->dir);
	snprintf(bin, sizeof(bin), "%s/daemon/vcapd", build_dir());
	argv[n++] = bin;
	argv[n++] = "--foreground";
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	while (*args && n < 62)
		argv[n++] = *args++;
	argv[n] = NULL;

	d->pid = fork();
	CHECK(d->pid >= 0, "fork");
	if (d->pid == 0) {
		if (netns) {
			char path[128];
			int fd;

			/* what `ip netns exec` does, minus the mount namespace */
			snprintf(path, sizeof(path), "/run/netns/%s", netns);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, CLONE_NEWNET)) {
				perror(path);
				_exit(127);
			}
		}
		execv(bin, (char *const *)argv);
		perror(bin);
		_exit(127);
	}
	harness_vcapd_pid = d->pid;
	if (!harness_owner) {
		harness_owner = getpid();
		atexit(harness_kill_vcapd);
	}
	for (int i = 0; i < 500; i++) {
		int fd = vcap_unix_connect(d->sock), status;

		if (fd >= 0) {
			close(fd);
			setenv("VCAP_SOCKET", d->sock, 1);
			return;
		}
		CHECK(waitpid(d->pid, &status, WNOHANG) == 0, "vcapd exited at start-up");
		sleep_ms(10);
	}
	CHECK(0, "vcapd did not come up on %s", d->sock);
}

#define vcapd_start(d, ...) vcapd_start_netns(d, NULL, (const char *const[]){ __VA_ARGS__, NULL })
/* vcapd inside network namespace NS (its socket is a path: reachable from anywhere) */
#define vcapd_start_in(d, ns, ...) \
	vcapd_start_netns(d, ns, (const char *const[]){ __VA_ARGS__, NULL })

/* SIGTERM, and require a clean exit. */
static inline void vcapd_stop(struct vcapd_proc *d)
{
	int status;

	kill(d->pid, SIGTERM);
	CHECK(waitpid(d->pid, &status, 0) == d->pid, "waitpid");
	harness_vcapd_pid = 0;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "vcapd exit status 0x%x", status);
	unlink(d->sock);
	rmdir(d->dir);
}

/* Connect and say HELLO, as a raw protocol client.  @return the socket. */
static inline int raw_session(const struct vcapd_proc *d)
{
	static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];
	struct vcap_msg m, r;
	char why[128];
	int fd = vcap_unix_connect(d->sock);
	ssize_t n;

	CHECK(fd >= 0, "connect %s", d->sock);
	vcap_msg_init(&m, VCAP_APP_FRAMEWORK, VCAP_MSG_HELLO);
	m.u.hello.version_min = m.u.hello.version_max = VCAP_PROTO_VERSION;
	strcpy(m.name, "test");
	n = vcap_msg_encode(&m, buf, sizeof(buf));
	CHECK(vcap_unix_send(fd, buf, (size_t)n, NULL, 0) == 0, "send hello");
	n = vcap_unix_recv(fd, buf, sizeof(buf), NULL, NULL);
	CHECK(n > 0 && vcap_msg_decode(buf, (size_t)n, &r, why, sizeof(why)) == 0 && r.status == 0,
	      "hello reply");
	return fd;
}

/*
 * Ask vcapd's STATUS (first page), as root on the main socket.  The reply
 * and the entries it points to stay valid until the next call.
 */
static inline const struct vcap_msg *status_query(const struct vcapd_proc *d)
{
	static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];
	static struct vcap_msg m, r;
	char why[128];
	int fd = raw_session(d);
	ssize_t n;

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
	n = vcap_msg_encode(&m, buf, sizeof(buf));
	CHECK(vcap_unix_send(fd, buf, (size_t)n, NULL, 0) == 0, "send status");
	n = vcap_unix_recv(fd, buf, sizeof(buf), NULL, NULL);
	CHECK(n > 0 && vcap_msg_decode(buf, (size_t)n, &r, why, sizeof(why)) == 0, "status: %s",
	      why);
	close(fd);
	return &r;
}

/* How many rings vcapd holds now. */
static inline unsigned status_rings(const struct vcapd_proc *d)
{
	return status_query(d)->u.status_reply.n_rings;
}

/* Source `name` in vcapd's STATUS (a copy). */
static inline struct vcap_status_source status_source(const struct vcapd_proc *d,
						      const char *name)
{
	const struct vcap_msg *r = status_query(d);

	for (uint32_t i = 0; i < r->u.status_reply.n_sources; i++)
		if (!strncmp(r->sources[i].name, name, sizeof(r->sources[i].name)))
			return r->sources[i];
	CHECK(0, "no source %s in STATUS", name);
	return r->sources[0];
}

/* Descriptors a process holds open, from /proc. */
static inline int count_fds(pid_t pid)
{
	char path[64];
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	CHECK(dir, "opendir %s", path);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n - 2;
}

/*
 * The descriptor count once it stops moving: vcapd closes some descriptors
 * just after replying, and a STATUS query's session just after the client
 * hangs up.
 */
static inline int settled_fds(pid_t pid)
{
	int a = count_fds(pid), b;

	for (int i = 0; i < 100; i++) {
		sleep_ms(20);
		b = count_fds(pid);
		if (a == b)
			break;
		a = b;
	}
	return a;
}

/* Mappings of vcap rings a process has, from /proc/PID/maps. */
static inline int count_ring_maps(pid_t pid)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	CHECK(f, "open %s", path);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "memfd:vcap-ring") != NULL;
	fclose(f);
	return n;
}

/* One scenario of a scenario test: `test_X NAME` runs the one named. */
struct scenario {
	const char *name;
	void (*fn)(void);
};

/*
 * main() of a scenario test: skip unless root (vcapd serves only root
 * without a policy; several scenarios make namespaces), run argv[1].
 */
static inline int run_scenario(int argc, char **argv, const struct scenario *list, size_t n)
{
	if (geteuid() != 0)
		SKIP("needs root: vcapd serves only root without a policy, and namespaces");
	for (size_t i = 0; argc == 2 && i < n; i++) {
		if (!strcmp(argv[1], list[i].name)) {
			list[i].fn();
			fprintf(stderr, "%s: passed\n", argv[1]);
			return 0;
		}
	}
	fprintf(stderr, "usage: %s SCENARIO\n", argv[0]);
	return 2;
}

#define RUN_SCENARIOS(argc, argv, list) \
	run_scenario(argc, argv, list, sizeof(list) / sizeof((list)[0]))

#endif /* VCAP_TESTS_HARNESS_H */
