/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_ivshmem.c - the VM transport's plumbing on real parts: vcap's
 * ivshmem server (transport/ivshmem_server.c) against raw clients and
 * against QEMU's stock ivshmem-doorbell device, and the guest side
 * (guest/ivshmem_guest.c, run by guest/ivshmem_probe in a TCG guest).
 *
 *   protocol  raw unix-socket clients: the exact message sequence, peer ids,
 *             limits, bad configurations refused, a client that talks is
 *             dropped, a client that does not read is queued for
 *   vfio      boot the guest (guest/make-image.sh, guest/run-vm.sh); the
 *             probe must open the device through VFIO, see the magic, answer
 *             it, and ping-pong doorbells against MSI-X interrupts on every
 *             vector; then QEMU is killed with SIGKILL and the server must
 *             free the peer (descriptors counted in /proc/self/fd)
 *   sysfs     boot again without the VFIO modules (vcap.novfio=1): the probe
 *             must fall back to sysfs polling, say why, and still work
 *
 * Guest results come from marker lines on the serial console ("VCAP-PROBE:",
 * "VCAP-GUEST-RESULT:"), found anywhere in a line: the console layout (BIOS
 * escape codes, kernel messages) is never relied on.
 *
 * Needs QEMU, busybox-static and the Debian cloud kernel; make-image.sh
 * installs what is missing.  To reproduce a server restart by hand, see the
 * header of guest/run-vm.sh.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ivshmem_probe.h"
#include "ivshmem_server.h"

#define SHM_SIZE (4u << 20)
#define VECTORS 4
#define BOOT_TIMEOUT_MS 60000

static char tmpdir[64];
static pid_t qemu_pid, owner;

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

static int count_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/* A failed CHECK must not leave QEMU running, nor the temp directory. */
static void cleanup(void)
{
	char cmd[128];

	if (getpid() != owner)
		return;
	if (qemu_pid > 0)
		kill(qemu_pid, SIGKILL);
	if (tmpdir[0] && !getenv("VCAP_KEEP_TMP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
}

static int make_memfd(size_t size)
{
	int fd = memfd_create("vcap-ivshmem-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
	CHECK(ftruncate(fd, (off_t)size) == 0, "ftruncate: %s", strerror(errno));
	return fd;
}

/* ------------------------------------------------------------------ events */

struct events {
	int joined, left, refused;
	int last_peer;
	char last_why[128];
};

static void on_event(void *arg, const struct ivshmem_server_event *ev)
{
	struct events *e = arg;

	switch (ev->type) {
	case IVSHMEM_PEER_JOINED: e->joined++; break;
	case IVSHMEM_PEER_LEFT: e->left++; break;
	case IVSHMEM_PEER_REFUSED: e->refused++; break;
	}
	e->last_peer = ev->peer;
	snprintf(e->last_why, sizeof(e->last_why), "%s", ev->why ? ev->why : "");
	printf("  server: peer %d %s (pid %d)%s%s\n", ev->peer,
	       ev->type == IVSHMEM_PEER_JOINED ? "joined" :
	       ev->type == IVSHMEM_PEER_LEFT ? "left" : "refused",
	       (int)ev->pid, ev->why ? ": " : "", ev->why ? ev->why : "");
}

static struct ivshmem_server *server_open(const char *path, int shm, unsigned vectors,
					  unsigned peers, struct events *ev)
{
	struct ivshmem_server_cfg cfg = { .path = path, .shm_fd = shm, .vectors = vectors,
					  .max_peers = peers, .cb = on_event, .cb_arg = ev };
	struct ivshmem_server *s;
	char err[256];
	int rc = ivshmem_server_open(&s, &cfg, err, sizeof(err));

	CHECK(rc == 0, "ivshmem_server_open: %s", err);
	return s;
}

static void pump(struct ivshmem_server *s)
{
	for (int i = 0; i < 4; i++)
		CHECK_EQ(ivshmem_server_dispatch(s), 0);
}

/* ------------------------------------------------------------------ raw clients */

static int client_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0, "socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s", path,
	      strerror(errno));
	return fd;
}

/* One protocol message.  @return 1, 0 at EOF, -EAGAIN if none is waiting. */
static int client_recv(int sock, int64_t *val, int *fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	int64_t le;
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	struct cmsghdr *c;

	*fd = -1;
	if (n < 0 && errno == EAGAIN)
		return -EAGAIN;
	CHECK(n >= 0, "recvmsg: %s", strerror(errno));
	if (n == 0)
		return 0;
	/* The kernel never merges stream data across descriptor boundaries. */
	CHECK_EQ(n, sizeof(le));
	CHECK(!(msg.msg_flags & MSG_CTRUNC), "control data cut");
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	*val = (int64_t)le64toh((uint64_t)le);
	return 1;
}

/* The next message must be `want`, with a descriptor if has_fd; returns it (or -1). */
static int expect_msg(int sock, int64_t want, bool has_fd)
{
	int64_t val = 0;
	int fd, rc = client_recv(sock, &val, &fd);

	CHECK(rc == 1, "expected message %lld, got %s", (long long)want,
	      rc == 0 ? "EOF" : "nothing");
	CHECK(val == want, "message %lld, expected %lld", (long long)val, (long long)want);
	CHECK((fd >= 0) == has_fd, "message %lld: descriptor %d, expected %s", (long long)val, fd,
	      has_fd ? "one" : "none");
	return fd;
}

static void expect_nothing(int sock)
{
	int64_t val;
	int fd;

	CHECK(client_recv(sock, &val, &fd) == -EAGAIN, "unexpected message %lld", (long long)val);
}

/*
 * Steps 1-5 for a client that gets `id` while `others` (ids) are connected,
 * and nothing after them unless `more`.
 */
static void expect_setup(int sock, unsigned id, const unsigned *others, unsigned n_others,
			 unsigned vectors, int own[], int self[], bool more)
{
	struct stat st;
	int fd;

	expect_msg(sock, IVSHMEM_PROTOCOL_VERSION, false);
	expect_msg(sock, id, false);
	fd = expect_msg(sock, -1, true);
	CHECK(fstat(fd, &st) == 0 && st.st_size == SHM_SIZE, "shared memory size");
	close(fd);
	for (unsigned v = 0; v < vectors; v++) {
		fd = expect_msg(sock, IVSHMEM_SERVER_SELF_ID, true);
		if (self)
			self[v] = fd;
		else
			close(fd);
	}
	for (unsigned o = 0; o < n_others; o++)
		for (unsigned v = 0; v < vectors; v++)
			close(expect_msg(sock, others[o], true));
	for (unsigned v = 0; v < vectors; v++) {
		fd = expect_msg(sock, id, true);
		if (own)
			own[v] = fd;
		else
			close(fd);
	}
	if (!more)
		expect_nothing(sock);
}

static bool readable(int fd)
{
	uint64_t n;

	return read(fd, &n, sizeof(n)) == sizeof(n);
}

static void bad_configs(const char *path)
{
	struct ivshmem_server_cfg cfg = { .path = path, .vectors = 1 };
	struct ivshmem_server *s;
	char err[256];
	int fd, ro;

	cfg.shm_fd = make_memfd(3u << 20);
	CHECK_EQ(ivshmem_server_open(&s, &cfg, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "power of two"), "message: %s", err);
	printf("  refused 3 MiB: %s\n", err);
	close(cfg.shm_fd);

	fd = cfg.shm_fd = make_memfd(SHM_SIZE);
	cfg.vectors = 0;
	CHECK_EQ(ivshmem_server_open(&s, &cfg, err, sizeof(err)), -EINVAL);
	cfg.vectors = IVSHMEM_SERVER_MAX_VECTORS + 1;
	CHECK_EQ(ivshmem_server_open(&s, &cfg, err, sizeof(err)), -EINVAL);
	printf("  refused %u vectors: %s\n", cfg.vectors, err);
	cfg.vectors = 1;
	cfg.max_peers = IVSHMEM_SERVER_MAX_PEERS + 1;
	CHECK_EQ(ivshmem_server_open(&s, &cfg, err, sizeof(err)), -EINVAL);
	cfg.max_peers = 1;

	snprintf(err, sizeof(err), "/proc/self/fd/%d", fd);
	ro = open(err, O_RDONLY | O_CLOEXEC);
	CHECK(ro >= 0, "reopen read-only");
	cfg.shm_fd = ro;
	CHECK_EQ(ivshmem_server_open(&s, &cfg, err, sizeof(err)), -EINVAL);
	close(ro);
	cfg.shm_fd = fd;

	cfg.path = "/tmp/this/path/is/far/too/long/for/a/unix/socket/address/aaaaaaaaaaaaaaa"
		   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	CHECK_EQ(ivshmem_server_open(&s, &cfg, err, sizeof(err)), -ENAMETOOLONG);
	cfg.path = path;

	/* A second server on a live socket is refused; the first is unharmed. */
	CHECK_EQ(ivshmem_server_open(&s, &cfg, err, sizeof(err)), 0);
	{
		struct ivshmem_server *s2;

		CHECK_EQ(ivshmem_server_open(&s2, &cfg, err, sizeof(err)), -EADDRINUSE);
	}
	/* The memfd got sealed: QEMU must not be able to shrink it under vcapd. */
	CHECK(ftruncate(fd, SHM_SIZE / 2) != 0 && errno == EPERM, "memfd not sealed");
	ivshmem_server_close(s);
	CHECK(access(path, F_OK) != 0, "socket file left behind");
	close(fd);
}

static void protocol(void)
{
	char path[128];
	struct events ev = { 0 };
	struct ivshmem_server *s;
	int shm, a, b, c, own[3], self[3], fd;
	int64_t val;
	unsigned others[1];
	int base = count_fds();

	printf("protocol\n");
	snprintf(path, sizeof(path), "%s/proto.sock", tmpdir);
	bad_configs(path);
	CHECK_EQ(count_fds(), base);

	shm = make_memfd(SHM_SIZE);
	s = server_open(path, shm, 3, 2, &ev);
	CHECK_EQ(ivshmem_server_self_id(s), IVSHMEM_SERVER_SELF_ID);

	/* A: id 2 (1 is vcapd, 0 is never used), sees vcapd and itself. */
	a = client_connect(path);
	pump(s);
	CHECK(ev.joined == 1 && ev.last_peer == 2, "A joined as %d", ev.last_peer);
	expect_setup(a, 2, NULL, 0, 3, own, self, false);
	/* A doorbell on vcapd's vector 2 lands on self fd 2, and only there. */
	CHECK(write(self[2], &(uint64_t){ 1 }, 8) == 8, "ring");
	CHECK(!readable(ivshmem_server_self_fd(s, 0)) && ivshmem_server_self_drain(s, 2) == 1,
	      "doorbell landed on the wrong vector");
	/* notify(2, 1) makes A's own vector-1 eventfd count. */
	CHECK_EQ(ivshmem_server_notify(s, 2, 1), 0);
	CHECK(!readable(own[0]) && readable(own[1]), "notify hit the wrong vector");
	CHECK_EQ(ivshmem_server_notify(s, 7, 0), -ENOENT);
	CHECK_EQ(ivshmem_server_notify(s, 2, 3), -EINVAL);
	for (int v = 0; v < 3; v++) {
		close(own[v]);
		close(self[v]);
	}

	/* B: id 3; sees A; A hears of B. */
	b = client_connect(path);
	pump(s);
	CHECK(ev.joined == 2 && ev.last_peer == 3, "B joined as %d", ev.last_peer);
	others[0] = 2;
	expect_setup(b, 3, others, 1, 3, NULL, NULL, false);
	for (int v = 0; v < 3; v++)
		close(expect_msg(a, 3, true));
	expect_nothing(a);

	/* C: over the limit of two, refused: it sees EOF. */
	c = client_connect(path);
	pump(s);
	CHECK_EQ(ev.refused, 1);
	CHECK(client_recv(c, &val, &fd) == 0, "refused client got a message");
	close(c);

	/* B talks: dropped, A hears B left. */
	CHECK(write(b, "x", 1) == 1, "write");
	pump(s);
	CHECK(ev.left == 1 && ev.last_peer == 3 && strstr(ev.last_why, "sent data"),
	      "B: left %d peer %d why %s", ev.left, ev.last_peer, ev.last_why);
	expect_msg(a, 3, false);
	CHECK(client_recv(b, &val, &fd) == 0, "B not disconnected");
	close(b);

	/* D gets 4, not 3: A saw 3 leave, and QEMU cannot take a reused id. */
	c = client_connect(path);
	pump(s);
	CHECK(ev.last_peer == 4, "D joined as %d", ev.last_peer);
	close(c);
	close(a);
	pump(s);
	CHECK_EQ(ev.left, 3);
	CHECK_EQ(ivshmem_server_peers(s, NULL, 0), 0);

	/* Nobody connected: ids start over, so one VM per socket keeps its id. */
	c = client_connect(path);
	pump(s);
	CHECK(ev.last_peer == 2, "E joined as %d", ev.last_peer);
	close(c);
	pump(s);

	/* Out of descriptors: the client is refused, the server does not spin. */
	{
		struct rlimit old, low;
		int lowest = dup(0);

		close(lowest);
		c = client_connect(path);
		CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0, "getrlimit");
		low = old;
		low.rlim_cur = (rlim_t)lowest + 1; /* c took `lowest`: nothing is free */
		CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit");
		CHECK_EQ(ivshmem_server_dispatch(s), 0);
		CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0, "setrlimit");
		CHECK(ev.refused == 2 && strstr(ev.last_why, "descriptors"), "refused %d: %s",
		      ev.refused, ev.last_why);
		CHECK(client_recv(c, &val, &fd) == 0, "refused client got a message");
		close(c);
		pump(s);
		CHECK_EQ(ev.refused, 2);
	}
	ivshmem_server_close(s);
	close(shm);
	CHECK_EQ(count_fds(), base);
}

/*
 * A client that does not read while 64-vector peers come and go: the
 * server must queue for it (its socket fills) and deliver everything, in
 * order, once it reads; no descriptor may leak.
 */
static void slow_client(void)
{
	const unsigned vec = 64, cycles = 12;
	char path[128];
	struct events ev = { 0 };
	struct ivshmem_server *s;
	int shm, slow, got = 0, pending = 0, base = count_fds();
	uint64_t deadline;

	printf("slow client\n");
	snprintf(path, sizeof(path), "%s/slow.sock", tmpdir);
	shm = make_memfd(SHM_SIZE);
	s = server_open(path, shm, vec, 2, &ev);
	slow = client_connect(path);
	pump(s);
	for (unsigned i = 0; i < cycles; i++) {
		int t = client_connect(path);

		pump(s);
		close(t);
		pump(s);
	}
	CHECK(ev.joined == (int)cycles + 1 && ev.left == (int)cycles, "joined %d left %d",
	      ev.joined, ev.left);
	CHECK(ioctl(slow, FIONREAD, &pending) == 0, "FIONREAD");
	printf("  %d of %u bytes in the slow client's socket, the rest queued\n", pending,
	       8 * (3 + 2 * vec + cycles * (vec + 1)));
	CHECK((unsigned)pending < 8 * (3 + 2 * vec + cycles * (vec + 1)),
	      "the socket never filled: the queue was not exercised");

	/* Read all of it, dispatching so the server refills the socket. */
	expect_setup(slow, 2, NULL, 0, vec, NULL, NULL, true);
	deadline = mono_us() + 10000000;
	for (unsigned i = 0; i < cycles; i++) {
		for (unsigned v = 0; v <= vec; v++) {
			int64_t val;
			int fd, rc;

			while ((rc = client_recv(slow, &val, &fd)) == -EAGAIN) {
				CHECK(mono_us() < deadline, "queue not flushed after %d messages", got);
				pump(s);
			}
			CHECK(rc == 1, "EOF after %d messages", got);
			CHECK(val == 3 + i, "cycle %u: message %lld", i, (long long)val);
			CHECK((fd >= 0) == (v < vec), "cycle %u message %u: fd %d", i, v, fd);
			if (fd >= 0)
				close(fd);
			got++;
		}
	}
	pump(s);
	expect_nothing(slow);
	CHECK_EQ(ev.left, cycles);
	close(slow);
	pump(s);
	ivshmem_server_close(s);
	close(shm);
	CHECK_EQ(count_fds(), base);
}

/* ------------------------------------------------------------------ the VM */

struct boot {
	const char *name;
	const char *expect;       /* probe mode: "vfio" or "sysfs" */
	const char *append;       /* extra kernel arguments */
	unsigned rounds;
	bool kill9;               /* SIGKILL QEMU once the guest reported */
	bool killed;

	/* results */
	struct events ev;
	int guest_id;
	unsigned doorbells, bad_vector, bad_ping;
	int result_rc;            /* VCAP-GUEST-RESULT rc, -1 until seen */
	bool probe_ok, open_seen, why_seen, left;
	char open_line[256], rtt_line[256], why_line[256], left_why[128];
	uint64_t t_start, t_join, t_first_bell, t_result, t_exit;
	uint64_t t_notify;        /* last interrupt sent, for the host's round trip */
	uint64_t host_rtt[256];   /* interrupt sent -> the guest's next doorbell, us */
	unsigned n_host_rtt;
	int qemu_status;
};

static void boot_event(void *arg, const struct ivshmem_server_event *ev)
{
	struct boot *b = arg;

	on_event(&b->ev, ev);
	if (ev->type == IVSHMEM_PEER_JOINED) {
		b->guest_id = ev->peer;
		b->t_join = mono_us();
	} else if (ev->type == IVSHMEM_PEER_LEFT && ev->peer == b->guest_id) {
		b->left = true;
		snprintf(b->left_why, sizeof(b->left_why), "%s", ev->why);
	}
}

/* The value of " key=" in a marker line, or "" */
static const char *kv(const char *line, const char *key, char *out, size_t cap)
{
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), " %s=", key);
	out[0] = '\0';
	p = strstr(line, pat);
	if (!p)
		return out;
	p += strlen(pat);
	n = strcspn(p, " \r\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

/* Look at the console lines that completed since last time. */
static void scan_console(const char *log, long *off, struct boot *b)
{
	char line[1024];
	FILE *f = fopen(log, "re");

	if (!f)
		return;
	fseek(f, *off, SEEK_SET);
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		const char *m;
		char v[64];

		if (!n || line[n - 1] != '\n')
			break; /* a line still being written: next time */
		*off += (long)n;
		line[strcspn(line, "\r\n")] = '\0';
		if ((m = strstr(line, "VCAP-PROBE: ")) != NULL) {
			printf("  guest: %s\n", m);
			m += strlen("VCAP-PROBE:");
			if (!strncmp(m, " open ", 6)) {
				b->open_seen = true;
				snprintf(b->open_line, sizeof(b->open_line), "%s", m);
			} else if (!strncmp(m, " rtt ", 5)) {
				snprintf(b->rtt_line, sizeof(b->rtt_line), "%s", m);
			} else if (!strncmp(m, " why-not-vfio ", 14)) {
				b->why_seen = true;
				snprintf(b->why_line, sizeof(b->why_line), "%s", m + 14);
			} else if (!strcmp(m, " ok")) {
				b->probe_ok = true;
			}
		} else if ((m = strstr(line, "VCAP-GUEST-RESULT: ")) != NULL) {
			printf("  guest: %s\n", m);
			b->result_rc = atoi(kv(m + strlen("VCAP-GUEST-RESULT:"), "rc", v, sizeof(v)));
			b->t_result = mono_us();
		} else if ((m = strstr(line, "VCAP-GUEST: ")) != NULL) {
			printf("  guest: %s\n", m);
		}
	}
	fclose(f);
}

/* A doorbell on vcapd's vector v: check the round, answer it, interrupt back. */
static void answer(struct ivshmem_server *s, struct probe_shm *p, unsigned v, struct boot *b)
{
	uint32_t r;

	uint64_t now;

	if (!ivshmem_server_self_drain(s, v))
		return;
	now = mono_us();
	if (!b->doorbells++)
		b->t_first_bell = now;
	else if (b->n_host_rtt < 256)
		b->host_rtt[b->n_host_rtt++] = now - b->t_notify;
	r = atomic_load_explicit(&p->ping, memory_order_acquire);
	if (atomic_load_explicit(&p->answer, memory_order_relaxed) != PROBE_ANSWER(p->nonce) ||
	    (int)atomic_load_explicit(&p->guest_id, memory_order_relaxed) != b->guest_id)
		b->bad_ping++;
	if (r % VECTORS != v)
		b->bad_vector++;
	atomic_store_explicit(&p->pong, r, memory_order_release);
	b->t_notify = mono_us();
	ivshmem_server_notify(s, (unsigned)b->guest_id, v);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static pid_t spawn_qemu(const char *img, const char *sock, const char *console, const char *qlog,
			const char *append)
{
	char script[512], vec[8];
	pid_t pid;

	snprintf(script, sizeof(script), "%s/guest/run-vm.sh", env_or("VCAP_SOURCE_DIR", ".."));
	snprintf(vec, sizeof(vec), "%d", VECTORS);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		int fd = open(qlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		/* QEMU must not outlive the test, however the test ends. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != owner)
			_exit(125);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		/* run-vm.sh execs QEMU: this pid is QEMU's. */
		execl("/bin/sh", "sh", script, "-s", sock, "-i", img, "-c", console, "-n", vec, "-a",
		      append, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void dump_file(const char *what, const char *path)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	fprintf(stderr, "--- %s (%s)\n", what, path);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static void run_boot(const char *img, struct boot *b)
{
	char sock[128], console[128], qlog[128], append[512], k[64];
	struct ivshmem_server_cfg cfg = { .vectors = VECTORS, .max_peers = 1, .cb = boot_event,
					  .cb_arg = b };
	struct epoll_event eev = { .events = EPOLLIN };
	struct ivshmem_server *s;
	struct probe_shm *p;
	int shm, ep, pidfd, base, before_qemu;
	long off = 0;
	char err[256];
	bool exited = false;
	uint8_t *mem;

	printf("%s boot\n", b->name);
	b->result_rc = -1;
	b->guest_id = -1;
	snprintf(sock, sizeof(sock), "%s/%s.sock", tmpdir, b->name);
	snprintf(console, sizeof(console), "%s/%s-console.log", tmpdir, b->name);
	snprintf(qlog, sizeof(qlog), "%s/%s-qemu.log", tmpdir, b->name);
	snprintf(append, sizeof(append),
		 "%s vcap.run=\"/bin/ivshmem_probe --expect %s --rounds %u\"%s", b->append,
		 b->expect, b->rounds, b->kill9 ? " vcap.hold=1" : "");

	base = count_fds();
	shm = make_memfd(SHM_SIZE);
	mem = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
	CHECK(mem != MAP_FAILED, "mmap");
	p = (struct probe_shm *)mem;
	p->magic = PROBE_MAGIC;
	p->nonce = (uint32_t)(mono_us() * 2654435761u) | 1;
	p->host_id = IVSHMEM_SERVER_SELF_ID;
	p->vectors = VECTORS;
	*(uint32_t *)(mem + SHM_SIZE - 8) = PROBE_TAIL_MAGIC;

	cfg.path = sock;
	cfg.shm_fd = shm;
	CHECK(ivshmem_server_open(&s, &cfg, err, sizeof(err)) == 0, "server: %s", err);
	ep = epoll_create1(EPOLL_CLOEXEC);
	eev.data.u32 = 100;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ivshmem_server_fd(s), &eev) == 0, "epoll");
	for (unsigned v = 0; v < VECTORS; v++) {
		eev.data.u32 = v;
		CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ivshmem_server_self_fd(s, v), &eev) == 0, "epoll");
	}
	before_qemu = count_fds();

	b->t_start = mono_us();
	qemu_pid = spawn_qemu(img, sock, console, qlog, append);
	pidfd = (int)syscall(SYS_pidfd_open, qemu_pid, 0);
	CHECK(pidfd >= 0, "pidfd_open: %s", strerror(errno));
	eev.data.u32 = 101;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, pidfd, &eev) == 0, "epoll");

	/* Until QEMU is gone and the server has noticed. */
	while (!exited || !b->left) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, 100);
		uint64_t now = mono_us();

		CHECK(n >= 0 || errno == EINTR, "epoll_wait");
		for (int i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32;

			if (tag == 100) {
				CHECK_EQ(ivshmem_server_dispatch(s), 0);
			} else if (tag == 101 && !exited) {
				CHECK(waitpid(qemu_pid, &b->qemu_status, 0) == qemu_pid, "waitpid");
				exited = true;
				qemu_pid = 0;
				b->t_exit = now;
				epoll_ctl(ep, EPOLL_CTL_DEL, pidfd, NULL);
			} else if (tag < VECTORS) {
				answer(s, p, tag, b);
			}
		}
		scan_console(console, &off, b);
		if (exited && b->guest_id < 0) {
			CHECK_EQ(ivshmem_server_dispatch(s), 0); /* a join still in the queue? */
			if (b->guest_id < 0) {
				dump_file("qemu", qlog);
				CHECK(0, "%s boot: QEMU exited (status 0x%x) without connecting",
				      b->name, b->qemu_status);
			}
		}
		if (b->kill9 && !b->killed && b->result_rc >= 0 && !exited) {
			/* The guest holds (vcap.hold=1): only the hang-up can tell the server. */
			printf("  kill -9 QEMU (pid %d)\n", (int)qemu_pid);
			kill(qemu_pid, SIGKILL);
			b->killed = true;
		}
		if (now - b->t_start > (uint64_t)BOOT_TIMEOUT_MS * 1000 ||
		    (exited && now - b->t_exit > 5000000)) {
			dump_file("console", console);
			dump_file("qemu", qlog);
			CHECK(0, "%s boot: %s", b->name,
			      exited ? "the server did not notice QEMU leaving" : "timed out");
		}
	}
	scan_console(console, &off, b);

	if (b->result_rc != 0 || !b->probe_ok || b->bad_ping || b->bad_vector) {
		dump_file("console", console);
		dump_file("qemu", qlog);
	}
	CHECK(b->open_seen, "no open marker");
	CHECK(!strcmp(kv(b->open_line, "mode", k, sizeof(k)), b->expect), "mode %s, expected %s",
	      k, b->expect);
	CHECK_EQ(atoi(kv(b->open_line, "peer", k, sizeof(k))), b->guest_id);
	CHECK_EQ(strtoul(kv(b->open_line, "shm", k, sizeof(k)), NULL, 10), SHM_SIZE);
	CHECK(b->probe_ok && b->result_rc == 0, "probe failed (rc %d)", b->result_rc);
	CHECK(b->doorbells >= b->rounds, "%u doorbells for %u rounds", b->doorbells, b->rounds);
	CHECK(!b->bad_ping && !b->bad_vector, "%u bad answers, %u doorbells on the wrong vector",
	      b->bad_ping, b->bad_vector);
	CHECK(b->left, "server did not see QEMU leave");
	CHECK_EQ(ivshmem_server_peers(s, NULL, 0), 0);
	/* Everything the peer had (socket, eventfds) is closed again; the pidfd is still open. */
	CHECK(count_fds() == before_qemu + 1, "descriptors: %d now, %d + pidfd before QEMU",
	      count_fds(), before_qemu);

	close(pidfd);
	close(ep);
	ivshmem_server_close(s);
	munmap(mem, SHM_SIZE);
	close(shm);
	CHECK_EQ(count_fds(), base);
	{
		FILE *f = fopen(qlog, "re");
		char line[512];

		/* QEMU complains on stderr about any protocol surprise. */
		while (f && fgets(line, sizeof(line), f))
			CHECK(!strstr(line, "eventfd") && !strstr(line, "peer") &&
			      !strstr(line, "server"), "QEMU said: %s", line);
		if (f)
			fclose(f);
	}
}

static void report_boot(struct boot *b)
{
	char k[32];

	printf("%s: QEMU start -> peer joined %.0f ms, -> first doorbell %.0f ms, -> result "
	       "%.0f ms; QEMU %s\n",
	       b->name, (b->t_join - b->t_start) / 1e3, (b->t_first_bell - b->t_start) / 1e3,
	       (b->t_result - b->t_start) / 1e3,
	       WIFSIGNALED(b->qemu_status) ? "killed" : "exited");
	printf("%s: guest round trip doorbell -> %s: median %s us", b->name,
	       strcmp(b->expect, "vfio") ? "polled pong" : "MSI-X eventfd",
	       kv(b->rtt_line, "med_us", k, sizeof(k)));
	printf(", min %s", kv(b->rtt_line, "min_us", k, sizeof(k)));
	printf(", p90 %s", kv(b->rtt_line, "p90_us", k, sizeof(k)));
	printf(", max %s us over %u rounds\n", kv(b->rtt_line, "max_us", k, sizeof(k)), b->rounds);
	if (b->n_host_rtt) {
		qsort(b->host_rtt, b->n_host_rtt, sizeof(b->host_rtt[0]), cmp_u64);
		printf("%s: host round trip notify -> guest -> next doorbell: median %llu us, "
		       "min %llu, p90 %llu, max %llu us\n",
		       b->name, (unsigned long long)b->host_rtt[b->n_host_rtt / 2],
		       (unsigned long long)b->host_rtt[0],
		       (unsigned long long)b->host_rtt[b->n_host_rtt * 9 / 10],
		       (unsigned long long)b->host_rtt[b->n_host_rtt - 1]);
	}
}

int main(void)
{
	char img[512], cmd[2048];
	struct boot vfio = { .name = "vfio", .expect = "vfio", .append = "", .rounds = 200,
			     .kill9 = true };
	struct boot sysfs = { .name = "sysfs", .expect = "sysfs", .append = "vcap.novfio=1",
			      .rounds = 50 };
	uint64_t t;
	int base, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	owner = getpid();
	atexit(cleanup);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vcap-ivshmem-XXXXXX");
	CHECK(mkdtemp(tmpdir), "mkdtemp");
	base = count_fds();

	protocol();
	slow_client();

	/* The image: this build dir's probe (static, unsanitized: guest/meson.build). */
	snprintf(img, sizeof(img), "%s/guest/vm-image", env_or("VCAP_BUILD_DIR", "."));
	snprintf(cmd, sizeof(cmd), "sh '%s/guest/make-image.sh' -o '%s' '%s/guest/ivshmem_probe'",
		 env_or("VCAP_SOURCE_DIR", ".."), img, env_or("VCAP_BUILD_DIR", "."));
	t = mono_us();
	rc = system(cmd);
	if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77)
		SKIP("guest image: packages missing and not root to install them");
	CHECK(rc == 0, "%s failed", cmd);
	printf("image built in %.0f ms\n", (mono_us() - t) / 1e3);

	run_boot(img, &vfio);
	run_boot(img, &sysfs);
	CHECK(sysfs.why_seen && strstr(sysfs.why_line, "vfio"), "no reason for the fallback: '%s'",
	      sysfs.why_line);
	CHECK(WIFEXITED(sysfs.qemu_status) && WEXITSTATUS(sysfs.qemu_status) == 0,
	      "QEMU exit status 0x%x after poweroff", sysfs.qemu_status);
	CHECK(vfio.left && !strcmp(vfio.left_why, "hung up"), "vfio: left because %s",
	      vfio.left_why);

	report_boot(&vfio);
	report_boot(&sysfs);
	CHECK_EQ(count_fds(), base);
	return 0;
}
