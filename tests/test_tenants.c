/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tenants.c - a hostile tenant against its neighbours on one vcapd.
 * Tenants b (the attacker), a (its neighbour) and v (the victim) each come
 * in through their own socket; every scenario shows b's attack failing, a
 * unaffected, and v's traffic counted exactly (a ring on a counted source,
 * open throughout: every packet received, none dropped).  One scenario per
 * run: `test_tenants NAME`.
 *
 *   memfd-kept     b keeps each ring's memfd after CLOSE, 12 rounds of
 *                  16 MiB under `limit ring-memory 32Mi`: every kept file
 *                  is empty (no blocks) and reads zeros
 *   limits         b hits each of its account's limits (rings, ring memory,
 *                  sessions, wildcard rules, flow rules, filter
 *                  instructions), more sessions not multiplying them, each
 *                  refusal naming the limit; a then takes its full quota
 *   hello-deadline a connection that never says HELLO is closed after
 *                  `limit hello-timeout-ms`, vcapd's descriptors back to
 *                  what they were; one that said HELLO stays
 *   cluster        b joins a's cluster id (with another mode): it gets a
 *                  cluster of its own, a's members still share every packet
 *   sockets        sockets are root's, 0600, unless configured; configured
 *                  owner, group and mode are applied (uid 1000 may connect
 *                  to the socket it was given, not to another)
 *   status         a tenant's STATUS shows no kernel filter (it is every
 *                  consumer's); the admin's does
 */
#include <errno.h>
#include <grp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "harness.h"
#include "vcap.h"

#define N_VICTIM 20000u

static struct vcapd_proc d;
static char dir[64], conf[128], sock_a[128], sock_b[128], sock_v[128];

/*
 * Start vcapd with tenants v, a and b on their own sockets (in a directory
 * uid 1000 can cross), source `victim` counting N_VICTIM packets for v,
 * and `extra` lines.
 */
static void start(const char *extra)
{
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/vcap-tenants-XXXXXX");
	CHECK(mkdtemp(dir), "mkdtemp");
	CHECK(chmod(dir, 0755) == 0, "chmod");
	snprintf(conf, sizeof(conf), "%s/vcapd.conf", dir);
	snprintf(sock_a, sizeof(sock_a), "%s/a.sock", dir);
	snprintf(sock_b, sizeof(sock_b), "%s/b.sock", dir);
	snprintf(sock_v, sizeof(sock_v), "%s/v.sock", dir);
	f = fopen(conf, "w");
	CHECK(f, "%s", conf);
	fprintf(f,
		"source victim synth:size=64,count=%u,flows=64\n"
		"source s synth:size=64,pps=1000\n"
		"tenant v socket %s\n"
		"tenant v allow victim\n"
		"tenant a socket %s\n"
		"tenant a allow s\n"
		"tenant b allow s\n"
		"%s",
		N_VICTIM, sock_v, sock_a, extra);
	if (!strstr(extra, "tenant b socket"))
		fprintf(f, "tenant b socket %s\n", sock_b);
	fclose(f);
	vcapd_start(&d, "--config", conf);
}

static void stop(void)
{
	vcapd_stop(&d);
	unlink(conf);
	rmdir(dir);
}

/* The victim: tenant v's ring on the counted source (it starts once attached). */
static struct vcap *victim_open(void)
{
	VCAP_OPTS(vcap_open_opts, o, .socket_path = sock_v, .ring_size = 4u << 20);
	struct vcap *h = vcap_open("host:victim", &o);

	CHECK(h, "victim: %s", vcap_errmsg());
	return h;
}

/* ... received every packet, exactly, whatever b did meanwhile. */
static void victim_check(struct vcap *h)
{
	struct vcap_pkt p[256];
	struct vcap_stats st;
	uint64_t got = 0;
	int n;

	while ((n = vcap_recv_burst(h, p, 256, VCAP_WAIT)) > 0)
		got += (uint64_t)n;
	CHECK_EQ(n, (unsigned long long)-ENODATA);
	CHECK_EQ(got, N_VICTIM);
	CHECK_EQ(vcap_stats(h, &st, sizeof(st)), 0);
	CHECK_EQ(st.received, N_VICTIM);
	CHECK_EQ(st.delivered, N_VICTIM);
	CHECK_EQ(st.dropped, 0);
	vcap_close(h);
}

/* ---- the raw protocol, as a hostile client speaks it ------------------------ */

static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];

/* Send m on sock and decode the reply into *r (descriptors into fds). */
static void call(int sock, struct vcap_msg *m, struct vcap_msg *r, int *fds, int *nfds)
{
	char why[128];
	ssize_t n = vcap_msg_encode(m, buf, sizeof(buf));

	CHECK(n > 0 && vcap_unix_send(sock, buf, (size_t)n, NULL, 0) == 0, "send");
	n = vcap_unix_recv(sock, buf, sizeof(buf), fds, nfds);
	CHECK(n > 0 && vcap_msg_decode(buf, (size_t)n, r, why, sizeof(why)) == 0, "reply: %s",
	      n > 0 ? why : strerror((int)-n));
}

/* Connect to path and say HELLO.  @return the socket, or -status with *r the refusal. */
static int hello(const char *path, struct vcap_msg *r)
{
	struct vcap_msg m;
	int fd = vcap_unix_connect(path);

	CHECK(fd >= 0, "connect %s", path);
	vcap_msg_init(&m, VCAP_APP_FRAMEWORK, VCAP_MSG_HELLO);
	m.u.hello.version_min = m.u.hello.version_max = VCAP_PROTO_VERSION;
	strcpy(m.name, "hostile");
	call(fd, &m, r, NULL, NULL);
	if (r->status) {
		close(fd);
		return r->status;
	}
	return fd;
}

/* OPEN source with a ring of size bytes; @return the reply status, *memfd kept if granted. */
static int raw_open(int sock, const char *source, uint32_t size, struct vcap_msg *r, int *memfd)
{
	struct vcap_msg m;
	int fds[VCAP_UNIX_MAX_FDS], nfds = 0;

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_OPEN);
	strcpy(m.name, source);
	m.u.open.ring_size = size;
	call(sock, &m, r, fds, &nfds);
	if (r->status)
		return r->status;
	CHECK_EQ(nfds, 2);
	close(fds[1]); /* the wake pipe */
	*memfd = fds[0];
	return 0;
}

static void raw_close(int sock, uint32_t ring_id)
{
	struct vcap_msg m, r;

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_CLOSE);
	m.u.close.ring_id = ring_id;
	call(sock, &m, &r, NULL, NULL);
	CHECK(r.status == 0, "close: %s", r.text);
}

/* ---- memfd-kept ---------------------------------------------------------------- */

static void memfd_kept(void)
{
	enum { ROUNDS = 12 };
	int sock, kept[ROUNDS];
	uint64_t blocks = 0;
	struct vcap *v;

	start("limit ring-memory 32Mi\n");
	v = victim_open();
	sock = hello(sock_b, &(struct vcap_msg){ 0 });
	CHECK(sock >= 0, "b's HELLO");
	for (int i = 0; i < ROUNDS; i++) {
		struct vcap_msg r;
		struct stat st;
		uint8_t probe[4096], zero[4096] = { 0 };

		uint64_t deadline = mono_ms() + 10000;
		int rc;

		/*
		 * The last round's pages count against the limit until they are
		 * given back (off vcapd's control thread, just after CLOSE).
		 */
		while ((rc = raw_open(sock, "s", 16u << 20, &r, &kept[i])) == -ENOMEM &&
		       mono_ms() < deadline)
			sleep_ms(5);
		CHECK(rc == 0, "round %d: %s", i, r.text);
		CHECK(fstat(kept[i], &st) == 0 && st.st_blocks > 0,
		      "vcapd populates a ring at open (%lld blocks)", (long long)st.st_blocks);
		raw_close(sock, r.u.open_reply.ring_id);
		while (fstat(kept[i], &st) == 0 && st.st_blocks && mono_ms() < deadline)
			sleep_ms(5);
		CHECK(st.st_blocks == 0, "round %d: the kept memfd still holds %lld blocks", i,
		      (long long)st.st_blocks);
		CHECK(pread(kept[i], probe, sizeof(probe), 0) == (ssize_t)sizeof(probe) &&
			      !memcmp(probe, zero, sizeof(zero)),
		      "the kept memfd reads zeros (the ring header is gone)");
	}
	for (int i = 0; i < ROUNDS; i++) {
		struct stat st;

		CHECK(fstat(kept[i], &st) == 0, "fstat");
		blocks += (uint64_t)st.st_blocks;
		close(kept[i]);
	}
	fprintf(stderr, "%d rounds of 16 MiB kept after CLOSE: %llu blocks held\n", ROUNDS,
		(unsigned long long)blocks);
	CHECK_EQ(blocks, 0);
	close(sock);
	victim_check(v);
	stop();
}

/* ---- limits -------------------------------------------------------------------- */

/* BPF instructions of expr as vcapd compiles it (optimised, Ethernet). */
static unsigned insns(const char *expr)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	struct bpf_program prog;
	unsigned n;

	CHECK(p && pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0, "%s", expr);
	n = prog.bf_len;
	pcap_freecode(&prog);
	pcap_close(p);
	return n;
}

static struct vcap *open_as(const char *sock, uint32_t size, const char *filter)
{
	VCAP_OPTS(vcap_open_opts, o, .socket_path = sock, .ring_size = size, .filter = filter);

	return vcap_open("host:s", &o);
}

/* vcap_open failed with err, saying why. */
static void refused(struct vcap *h, int err, const char *says)
{
	CHECK(!h, "opened past a limit");
	CHECK(errno == err && strstr(vcap_errmsg(), says), "errno %d, \"%s\" (want %d, \"%s\")",
	      errno, vcap_errmsg(), err, says);
	fprintf(stderr, "refused: %s\n", vcap_errmsg());
}

/*
 * Let vcapd see the hang-ups of sessions closed so far: they were pending
 * before this STATUS connection's HELLO, so they are served first.  (An
 * admin session: it counts toward nobody's limit.)
 */
static void sync_vcapd(void)
{
	(void)status_query(&d);
}

/* OPEN on a raw session: @return 0 (the ring's memfd closed) or the refusal, with *r. */
static int open_raw(int sock, uint32_t size, struct vcap_msg *r)
{
	int memfd, rc = raw_open(sock, "s", size, r, &memfd);

	if (!rc)
		close(memfd);
	return rc;
}

static void limit_rings(void)
{
	struct vcap_msg r;
	int b1 = hello(sock_b, &r), b2 = hello(sock_b, &r), a = hello(sock_a, &r), rc;

	CHECK(b1 >= 0 && b2 >= 0 && a >= 0, "%s", r.text);
	/* b's own limit is 3, over two sessions: more sessions do not multiply it */
	CHECK(!open_raw(b1, 1u << 16, &r) && !open_raw(b1, 1u << 16, &r) &&
		      !open_raw(b2, 1u << 16, &r),
	      "%s", r.text);
	rc = open_raw(b2, 1u << 16, &r);
	CHECK(rc == -EMFILE && strstr(r.text, "tenant b holds 3 rings, its limit (tenant b rings)"),
	      "%d %s", rc, r.text);
	fprintf(stderr, "refused: %s\n", r.text);
	/* a: the default limit, all of it */
	for (int i = 0; i < 4; i++)
		CHECK(!open_raw(a, 1u << 16, &r), "a's ring %d: %s", i, r.text);
	rc = open_raw(a, 1u << 16, &r);
	CHECK(rc == -EMFILE &&
		      strstr(r.text, "tenant a holds 4 rings, its limit (limit tenant-rings)"),
	      "%d %s", rc, r.text);
	close(a);
	close(b1);
	close(b2);
	sync_vcapd();
}

static void limit_ring_memory(void)
{
	struct vcap *b, *a1, *a2;

	/* 5 MiB each: a 4 MiB ring fits, another 1 MiB does not */
	CHECK((b = open_as(sock_b, 4u << 20, NULL)), "%s", vcap_errmsg());
	refused(open_as(sock_b, 1u << 20, NULL), ENOMEM, "(limit tenant-ring-memory)");
	CHECK((a1 = open_as(sock_a, 4u << 20, NULL)), "%s", vcap_errmsg());
	CHECK((a2 = open_as(sock_a, 512u << 10, NULL)), "%s", vcap_errmsg());
	vcap_close(a1);
	vcap_close(a2);
	vcap_close(b);
	sync_vcapd();
}

static void limit_sessions(void)
{
	int fds[8], n = 0, fd;
	struct vcap_msg r;

	/* 4 sessions each */
	sync_vcapd();
	while ((fd = hello(sock_b, &r)) >= 0 && n < 8)
		fds[n++] = fd;
	CHECK_EQ(n, 4);
	CHECK(fd == -EMFILE && strstr(r.text, "tenant b holds 4 sessions, its limit "
					     "(limit tenant-sessions)"),
	      "%d %s", fd, r.text);
	fprintf(stderr, "refused: %s\n", r.text);
	for (int i = 0; i < 4; i++) {
		int s = hello(sock_a, &r);

		CHECK(s >= 0, "a's session %d: %s", i, r.text);
		fds[n++] = s;
	}
	while (n)
		close(fds[--n]);
	sync_vcapd();
}

static void limit_rules(void)
{
	struct vcap *b1 = open_as(sock_b, 1u << 16, NULL), *b2 = open_as(sock_b, 1u << 16, NULL);
	struct vcap *a = open_as(sock_a, 1u << 16, NULL);
	struct vcap_rule r = { .action = VCAP_DROP, .fields = VCAP_RULE_DPORT };
	struct vcap_flow f = { .family = 4, .proto = 17, .addr_a = { 10, 0, 0, 1 },
			       .addr_b = { 10, 0, 0, 2 } };
	uint32_t id = 1;
	int rc;

	CHECK(b1 && b2 && a, "%s", vcap_errmsg());
	/* 8 wildcard rules for the account: 5 on one ring, 3 on another */
	for (int i = 0; i < 8; i++, id++) {
		r.id = id;
		r.dport_lo = r.dport_hi = (uint16_t)id;
		CHECK(vcap_rule_add(i < 5 ? b1 : b2, &r) == 0, "rule %u: %s", id, vcap_errmsg());
	}
	r.id = id;
	rc = vcap_rule_add(b1, &r);
	CHECK(rc == -ENOSPC && strstr(vcap_errmsg(), "tenant b holds 8 wildcard rules, its limit "
						     "(limit tenant-wildcard-rules)"),
	      "%d %s", rc, vcap_errmsg());
	fprintf(stderr, "refused: %s\n", vcap_errmsg());
	/* a removed rule is given back */
	CHECK(vcap_rule_remove(b2, 8) == 0 && vcap_rule_add(b1, &r) == 0, "%s", vcap_errmsg());
	for (uint32_t i = 1; i <= 8; i++) {
		r.id = i;
		CHECK(vcap_rule_add(a, &r) == 0, "a's rule %u: %s", i, vcap_errmsg());
	}
	/* flow rules: 8 as well */
	for (int i = 0; i < 8; i++) {
		f.port_a = (uint16_t)(1000 + i);
		CHECK(vcap_flow_add(i < 4 ? b1 : b2, &f, VCAP_DROP, 0, NULL) == 0, "%s",
		      vcap_errmsg());
	}
	f.port_a = 2000;
	rc = vcap_flow_add(b2, &f, VCAP_DROP, 0, NULL);
	CHECK(rc == -ENOSPC && strstr(vcap_errmsg(), "tenant b holds 8 flow rules, its limit "
						     "(limit tenant-flow-rules)"),
	      "%d %s", rc, vcap_errmsg());
	fprintf(stderr, "refused: %s\n", vcap_errmsg());
	for (int i = 0; i < 8; i++) {
		f.port_a = (uint16_t)(1000 + i);
		CHECK(vcap_flow_add(a, &f, VCAP_DROP, 0, NULL) == 0, "a's flow: %s", vcap_errmsg());
	}
	vcap_close(a);
	vcap_close(b1);
	vcap_close(b2);
	sync_vcapd();
}

static const char *small_filter = "udp port 53", *other_small = "tcp port 80";
static char big_filter[512];

static void limit_filters(void)
{
	struct vcap *b1, *b2, *a1, *a2;

	refused(open_as(sock_b, 1u << 16, big_filter), E2BIG, "(limit filter-insns)");
	sync_vcapd();
	CHECK((b1 = open_as(sock_b, 1u << 16, small_filter)), "%s", vcap_errmsg());
	CHECK((b2 = open_as(sock_b, 1u << 16, small_filter)), "%s", vcap_errmsg());
	refused(open_as(sock_b, 1u << 16, small_filter), E2BIG, "(limit tenant-filter-insns)");
	/* a ring's new filter replaces its old one in the sum */
	CHECK(vcap_set_filter(b1, other_small) == 0, "%s", vcap_errmsg());
	CHECK(vcap_set_filter(b1, big_filter) == -E2BIG &&
		      strstr(vcap_errmsg(), "(limit filter-insns)"),
	      "%s", vcap_errmsg());
	CHECK((a1 = open_as(sock_a, 1u << 16, small_filter)), "%s", vcap_errmsg());
	CHECK((a2 = open_as(sock_a, 1u << 16, small_filter)), "%s", vcap_errmsg());
	vcap_close(a1);
	vcap_close(a2);
	vcap_close(b1);
	vcap_close(b2);
}

static void limits(void)
{
	char extra[1024];
	unsigned n_small = insns(small_filter), n_big;
	size_t off = 0;
	struct vcap *v;

	CHECK(insns(other_small) <= n_small, "filters for the test: %u > %u",
	      insns(other_small), n_small);
	for (int i = 1; i <= 12; i++)
		off += (size_t)snprintf(big_filter + off, sizeof(big_filter) - off, "%stcp port %d",
					i > 1 ? " or " : "", i);
	n_big = insns(big_filter);
	CHECK(n_big > n_small + 1, "%u, %u", n_big, n_small);
	/* one filter: at most n_big - 1; the account: two small ones, not three */
	snprintf(extra, sizeof(extra),
		 "limit tenant-rings 4\n"
		 "tenant b rings 3\n"
		 "limit tenant-ring-memory 5Mi\n"
		 "limit tenant-sessions 4\n"
		 "limit tenant-wildcard-rules 8\n"
		 "limit tenant-flow-rules 8\n"
		 "limit filter-insns %u\n"
		 "limit tenant-filter-insns %u\n",
		 n_big - 1, 3 * n_small - 1);
	start(extra);
	v = victim_open();
	limit_rings();
	limit_ring_memory();
	limit_sessions();
	limit_rules();
	limit_filters();
	victim_check(v);
	stop();
}

/* ---- hello-deadline ------------------------------------------------------------ */

static void hello_deadline(void)
{
	struct pollfd pfd = { .events = POLLIN };
	struct vcap_msg r;
	struct vcap *v;
	int before, greeted;
	uint64_t t0, waited;
	char c;

	start("limit hello-timeout-ms 300\n");
	v = victim_open();
	before = settled_fds(d.pid);
	greeted = hello(sock_b, &r);
	CHECK(greeted >= 0, "%s", r.text);
	pfd.fd = vcap_unix_connect(sock_b);
	CHECK(pfd.fd >= 0, "connect");
	t0 = mono_ms();
	/* vcapd hangs up on the silent one: wait for that, within a bound */
	CHECK(poll(&pfd, 1, 10000) == 1, "vcapd did not close a connection without HELLO");
	waited = mono_ms() - t0;
	CHECK(recv(pfd.fd, &c, 1, 0) == 0, "end of file");
	fprintf(stderr, "closed after %llu ms without HELLO\n", (unsigned long long)waited);
	CHECK(waited >= 290, "closed too early: %llu ms", (unsigned long long)waited);
	close(pfd.fd);
	/* the one that said HELLO still works */
	{
		struct vcap_msg m;

		vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
		call(greeted, &m, &r, NULL, NULL);
		CHECK(r.status == 0, "%s", r.text);
	}
	close(greeted);
	CHECK_EQ(settled_fds(d.pid), before);
	victim_check(v);
	stop();
}

/* ---- cluster ------------------------------------------------------------------- */

static void cluster(void)
{
	VCAP_OPTS(vcap_open_opts, oa, .socket_path = sock_a, .ring_size = 4u << 20,
		  .cluster_id = 7, .cluster_mode = VCAP_CLUSTER_5TUPLE);
	VCAP_OPTS(vcap_open_opts, ob, .socket_path = sock_b, .ring_size = 4u << 20,
		  .cluster_id = 7, .cluster_mode = VCAP_CLUSTER_ROUND_ROBIN);
	struct vcap *a[2], *b;
	uint64_t got[2] = { 0 }, got_b = 0;
	struct vcap_pkt p[256];
	int n;

	/* the source starts once all three are attached: nobody misses a packet */
	start("source c synth:size=64,count=20000,flows=64,consumers=3\n"
	      "tenant a allow c\n"
	      "tenant b allow c\n");
	for (int i = 0; i < 2; i++)
		CHECK((a[i] = vcap_open("host:c", &oa)), "%s", vcap_errmsg());
	/* another mode, same id: no mismatch error, which would tell b a's cluster is there */
	b = vcap_open("host:c", &ob);
	CHECK(b, "b joining cluster 7: %s", vcap_errmsg());
	for (int i = 0; i < 2; i++)
		while ((n = vcap_recv_burst(a[i], p, 256, VCAP_WAIT)) > 0)
			got[i] += (uint64_t)n;
	while ((n = vcap_recv_burst(b, p, 256, VCAP_WAIT)) > 0)
		got_b += (uint64_t)n;
	fprintf(stderr, "a's members %llu + %llu, b %llu\n", (unsigned long long)got[0],
		(unsigned long long)got[1], (unsigned long long)got_b);
	CHECK_EQ(got[0] + got[1], 20000);
	CHECK(got[0] && got[1], "a's two members share the packets");
	CHECK_EQ(got_b, 20000); /* alone in its own cluster 7 */
	for (int i = 0; i < 2; i++)
		vcap_close(a[i]);
	vcap_close(b);
	stop();
}

/* ---- sockets ------------------------------------------------------------------- */

/* Can uid 1000 connect to path?  @return 0 or the errno. */
static int connect_as_1000(const char *path)
{
	int pipefd[2], res = -1, status;
	pid_t pid;

	CHECK(pipe(pipefd) == 0, "pipe");
	pid = fork();
	if (pid == 0) {
		int fd, e = 0;

		if (setgroups(0, NULL) || setgid(1000) || setuid(1000))
			_exit(3);
		fd = vcap_unix_connect(path);
		if (fd < 0)
			e = -fd;
		(void)!write(pipefd[1], &e, sizeof(e));
		_exit(0);
	}
	close(pipefd[1]);
	CHECK(read(pipefd[0], &res, sizeof(res)) == sizeof(res), "child");
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return res;
}

static void expect_mode(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;

	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode), "%s", path);
	fprintf(stderr, "%s: %u:%u %04o\n", path, (unsigned)st.st_uid, (unsigned)st.st_gid,
		(unsigned)(st.st_mode & 07777));
	CHECK(st.st_uid == uid && st.st_gid == gid && (st.st_mode & 07777) == mode,
	      "%s: %u:%u %04o, want %u:%u %04o", path, (unsigned)st.st_uid, (unsigned)st.st_gid,
	      (unsigned)(st.st_mode & 07777), (unsigned)uid, (unsigned)gid, (unsigned)mode);
}

static void sockets(void)
{
	char bdir[64], extra[256];
	struct vcap *v;

	/* b's socket in a directory of its own, known before start() names its own */
	snprintf(bdir, sizeof(bdir), "/tmp/vcap-tenant-b-XXXXXX");
	CHECK(mkdtemp(bdir), "mkdtemp");
	CHECK(chmod(bdir, 0755) == 0, "chmod");
	snprintf(extra, sizeof(extra), "tenant b socket %s/b.sock owner=1000 group=1000 mode=0660\n",
		 bdir);
	start(extra);
	snprintf(sock_b, sizeof(sock_b), "%s/b.sock", bdir);
	v = victim_open();
	expect_mode(d.sock, 0, 0, 0600);
	expect_mode(sock_a, 0, 0, 0600);
	expect_mode(sock_v, 0, 0, 0600);
	expect_mode(sock_b, 1000, 1000, 0660);
	CHECK_EQ(connect_as_1000(sock_a), EACCES);
	CHECK_EQ(connect_as_1000(d.sock), EACCES);
	CHECK_EQ(connect_as_1000(sock_b), 0);
	victim_check(v);
	stop();
	rmdir(bdir);
}

/* ---- status -------------------------------------------------------------------- */

/* Source name in a STATUS asked through path. */
static struct vcap_status_source status_via(const char *path, const char *name)
{
	struct vcap_msg m, r;
	int fd = hello(path, &r);

	CHECK(fd >= 0, "%s", r.text);
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
	call(fd, &m, &r, NULL, NULL);
	close(fd);
	CHECK(r.status == 0, "%s", r.text);
	for (uint32_t i = 0; i < r.u.status_reply.n_sources; i++)
		if (!strncmp(r.sources[i].name, name, sizeof(r.sources[i].name)))
			return r.sources[i];
	CHECK(0, "no source %s in STATUS", name);
	return r.sources[0];
}

static void status(void)
{
	VCAP_OPTS(vcap_open_opts, o, .socket_path = sock_b, .ring_size = 1u << 16,
		  .filter = "udp port 5353");
	struct vcap_status_source admin, seen_a, seen_b;
	struct vcap *b, *v;
	uint64_t t0 = mono_ms();

	/* the loopback: a source whose kernel runs the consumers' filter */
	start("source lo if:lo\n"
	      "tenant a allow lo\n"
	      "tenant b allow lo\n");
	v = victim_open();
	b = vcap_open("host:lo", &o);
	CHECK(b, "%s", vcap_errmsg());
	/* the capture thread installs it: wait for the admin to see it */
	do {
		admin = status_source(&d, "lo");
	} while (!strstr(admin.kernel_filter, "udp port 5353") && mono_ms() - t0 < 10000 &&
		 (sleep_ms(10), 1));
	fprintf(stderr, "admin sees kernel filter \"%.*s\"\n", (int)sizeof(admin.kernel_filter),
		admin.kernel_filter);
	CHECK(strstr(admin.kernel_filter, "udp port 5353"), "the admin sees the kernel filter");
	seen_a = status_via(sock_a, "lo");
	seen_b = status_via(sock_b, "lo");
	CHECK(!seen_a.kernel_filter[0], "tenant a sees b's filter: %.*s",
	      (int)sizeof(seen_a.kernel_filter), seen_a.kernel_filter);
	CHECK(!seen_b.kernel_filter[0], "a tenant sees no kernel filter, even its own");
	vcap_close(b);
	victim_check(v);
	stop();
}

static const struct scenario scenarios[] = {
	{ "memfd-kept", memfd_kept },
	{ "limits", limits },
	{ "hello-deadline", hello_deadline },
	{ "cluster", cluster },
	{ "sockets", sockets },
	{ "status", status },
};

int main(int argc, char **argv)
{
	return RUN_SCENARIOS(argc, argv, scenarios);
}
