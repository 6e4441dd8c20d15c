/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_notify.c - vcapd speaks systemd's Type=notify protocol
 * (daemon/notify.c) to a datagram socket this test owns, as systemd would.
 *
 *   path       NOTIFY_SOCKET is a file system path: READY=1 with MAINPID=
 *              and STATUS= arrives from vcapd's own pid only once its
 *              control socket serves (a consumer opens a source and reads
 *              packets at once, with no retry), and STOPPING=1 on SIGTERM
 *   abstract   the same with an abstract name ("@...")
 *   unreachable  NOTIFY_SOCKET names nothing: vcapd says so once in its
 *              log, serves all the same and exits cleanly
 *
 * Every wait is a poll with a deadline, never a sleep.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vcap.h>

#include "check.h"

#define DEADLINE_MS 30000 /* generous: the machine may be busy */
#define PACKETS 100

static char dir[64], ctl_sock[128], log_path[128];
static pid_t vcapd_pid;

static void kill_vcapd(void)
{
	if (vcapd_pid > 0)
		kill(vcapd_pid, SIGKILL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

/* A datagram socket at name ('@': abstract) that is told the sender's pid. */
static int notify_listen(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	CHECK(fd >= 0, "socket: %s", strerror(errno));
	CHECK(len < sizeof(sa.sun_path), "name too long");
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	CHECK(bind(fd, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) == 0,
	      "bind %s: %s", name, strerror(errno));
	CHECK(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == 0, "SO_PASSCRED");
	return fd;
}

/*
 * Wait for one message until the deadline; fail if vcapd exits meanwhile.
 * @return its text in buf, *sender its pid.
 */
static void notify_recv(int fd, char *buf, size_t cap, pid_t *sender, const char *waiting_for)
{
	long long end = now_ms() + DEADLINE_MS;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = end - now_ms();
		int status;

		CHECK(left > 0, "no %s from vcapd within %d ms", waiting_for, DEADLINE_MS);
		if (poll(&p, 1, left > 200 ? 200 : (int)left) == 1) {
			union {
				struct cmsghdr h;
				char b[CMSG_SPACE(sizeof(struct ucred))];
			} c;
			struct iovec iov = { buf, cap - 1 };
			struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
					    .msg_control = c.b, .msg_controllen = sizeof(c.b) };
			ssize_t n = recvmsg(fd, &m, 0);
			struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

			CHECK(n > 0, "recvmsg: %s", strerror(errno));
			buf[n] = '\0';
			CHECK(cm && cm->cmsg_type == SCM_CREDENTIALS, "no sender credentials");
			*sender = ((struct ucred *)(void *)CMSG_DATA(cm))->pid;
			return;
		}
		/* vcapd keeps the pid while it is a zombie: only waitpid tells */
		CHECK(waitpid(vcapd_pid, &status, WNOHANG) == 0,
		      "vcapd exited (0x%x) before sending %s", status, waiting_for);
	}
}

/* Whether msg has the line `line` (KEY=VALUE). */
static bool has_line(const char *msg, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = msg; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, len) && (p[len] == '\n' || p[len] == '\0'))
			return true;
	return false;
}

static void start_vcapd(const char *notify_socket)
{
	char bin[512];
	const char *build = getenv("VCAP_BUILD_DIR");

	snprintf(bin, sizeof(bin), "%s/daemon/vcapd", build ? build : ".");
	vcapd_pid = fork();
	CHECK(vcapd_pid >= 0, "fork");
	if (vcapd_pid == 0) {
		int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (log < 0 || dup2(log, 2) < 0)
			_exit(127);
		setenv("NOTIFY_SOCKET", notify_socket, 1);
		execl(bin, bin, "--foreground", "--socket", ctl_sock, "--source",
		      "gen=synth:size=64,pps=0,count=100", (char *)NULL);
		perror(bin);
		_exit(127);
	}
	atexit(kill_vcapd);
}

/* A consumer reads the whole count of the generator: vcapd serves. */
static void consume(void)
{
	struct vcap_pkt p[64];
	unsigned got = 0;
	long long end = now_ms() + DEADLINE_MS;
	struct vcap *h;

	setenv("VCAP_SOCKET", ctl_sock, 1);
	h = vcap_open("host:gen", NULL);
	CHECK(h, "vcap_open host:gen right after READY=1: %s", vcap_errmsg());
	while (got < PACKETS) {
		int n = vcap_recv_timeout(h, p, 64, 200);

		CHECK(n >= 0, "vcap_recv_timeout: %s", vcap_errmsg());
		got += (unsigned)n;
		CHECK(now_ms() < end, "only %u of %u packets", got, PACKETS);
	}
	CHECK_EQ(got, PACKETS);
	vcap_close(h);
}

static void stop_vcapd(int fd)
{
	int status;

	CHECK(kill(vcapd_pid, SIGTERM) == 0, "kill");
	if (fd >= 0) {
		char msg[512];
		pid_t sender;

		notify_recv(fd, msg, sizeof(msg), &sender, "STOPPING=1");
		CHECK(has_line(msg, "STOPPING=1"), "expected STOPPING=1, got \"%s\"", msg);
		CHECK_EQ(sender, vcapd_pid);
	}
	CHECK(waitpid(vcapd_pid, &status, 0) == vcapd_pid, "waitpid");
	vcapd_pid = 0;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "vcapd exit status 0x%x", status);
}

static void notified(const char *notify_socket, const char *bind_name)
{
	int fd = notify_listen(bind_name);
	char msg[512], line[256];
	pid_t sender;
	struct stat st;

	start_vcapd(notify_socket);
	notify_recv(fd, msg, sizeof(msg), &sender, "READY=1");
	/* the first thing said is READY: nothing before it */
	CHECK(has_line(msg, "READY=1"), "expected READY=1, got \"%s\"", msg);
	CHECK(stat(ctl_sock, &st) == 0 && S_ISSOCK(st.st_mode), "no control socket at READY=1");
	consume();
	CHECK_EQ(sender, vcapd_pid); /* systemd's NotifyAccess=main takes only the main pid */
	snprintf(line, sizeof(line), "MAINPID=%ld", (long)vcapd_pid);
	CHECK(has_line(msg, line), "no %s in \"%s\"", line, msg);
	snprintf(line, sizeof(line), "STATUS=listening on %s", ctl_sock);
	CHECK(has_line(msg, line), "no %s in \"%s\"", line, msg);
	stop_vcapd(fd);
	close(fd);
}

/* Nothing listens at NOTIFY_SOCKET: vcapd logs it once and serves anyway. */
static void unreachable(void)
{
	char path[160], text[8192];
	long long end = now_ms() + DEADLINE_MS;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/nobody-listens", dir);
	start_vcapd(path);
	/* no message to wait for: wait until the socket takes a consumer */
	for (;;) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), status;

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctl_sock);
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(s);
			break;
		}
		close(s);
		CHECK(waitpid(vcapd_pid, &status, WNOHANG) == 0, "vcapd exited (0x%x)", status);
		CHECK(now_ms() < end, "vcapd did not come up");
		poll(NULL, 0, 10);
	}
	consume();
	stop_vcapd(-1);
	fd = open(log_path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open %s", log_path);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	CHECK(n > 0, "empty log");
	text[n] = '\0';
	{
		const char *first = strstr(text, "cannot notify the service manager");

		CHECK(first, "vcapd did not say it could not notify:\n%s", text);
		CHECK(!strstr(first + 1, "cannot notify the service manager"),
		      "the warning was repeated:\n%s", text);
	}
}

int main(int argc, char **argv)
{
	char name[160];

	CHECK(argc == 2, "usage: test_notify path|abstract|unreachable");
	snprintf(dir, sizeof(dir), "/tmp/vcap-notify-XXXXXX");
	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(ctl_sock, sizeof(ctl_sock), "%s/vcapd.sock", dir);
	snprintf(log_path, sizeof(log_path), "%s/vcapd.log", dir);

	if (!strcmp(argv[1], "path")) {
		snprintf(name, sizeof(name), "%s/notify", dir);
		notified(name, name);
		unlink(name);
	} else if (!strcmp(argv[1], "abstract")) {
		snprintf(name, sizeof(name), "@vcap-test-notify-%ld", (long)getpid());
		notified(name, name);
	} else if (!strcmp(argv[1], "unreachable")) {
		unreachable();
	} else {
		CHECK(0, "unknown scenario %s", argv[1]);
	}
	unlink(log_path);
	unlink(ctl_sock);
	CHECK(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
	printf("notify %s: ok\n", argv[1]);
	return 0;
}
