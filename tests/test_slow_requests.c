/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_slow_requests.c - one tenant's slow requests delay no one else.
 * Two tenants on their own sockets of one real vcapd; tenant A (hostile)
 * asks for what takes long, tenant B (the victim) is timed meanwhile.
 * One scenario per run: `test_slow_requests NAME`.
 *
 *   compile    A opens a ring, and sets a filter on another, with a filter
 *              libpcap's optimizer needs seconds for (a long chain of "or"
 *              under the 8 KiB limit); both are refused at the compile
 *              budget with -ETIMEDOUT naming the limit, the compile process
 *              is gone, and meanwhile B's requests are answered within 50 ms
 *              (99th percentile; the slowest within 500 ms on a busy host), B opens a filtered ring, and B's consumer gets its
 *              source's exact count
 *   populate   A opens a 1 GiB ring (its pages populated at open) and, on a
 *              raw session, asks for another and hangs up before the answer;
 *              B is answered within 50 ms throughout, and once A is gone
 *              vcapd holds no ring and no descriptor more than before
 *   budget     A's ring runs a filter that costs each packet about twice
 *              `limit tenant-cost-ns`, beside B's ring on the same source:
 *              B gets every packet, A's skipped batches count as dropped
 *              (received = delivered + dropped + filtered still holds), and
 *              STATUS counts them as over budget
 *   jobs       A opens four rings with that filter at once, on four
 *              sessions: no more than two compiles run at a time (`limit
 *              tenant-jobs`), the others wait their turn and are refused at
 *              the budget in turn; B is served throughout
 *   heartbeat  a VM's region (a raw ivshmem client stands in for QEMU, as
 *              QEMU maps it) sees its heartbeat counted on time while A
 *              compiles and populates: no guest would miss a beat
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "harness.h"
#include "vcap.h"
#include "vcap_shm.h"

#define BOUND_MS 50     /* what the issue promises B */
#define BUDGET_MS 1500  /* limit filter-compile-ms */
#define B_COUNT 300000u /* packets of B's source */
#define C_COUNT 500000u /* packets of the source both share (budget): fit in B's ring */

static struct vcapd_proc d;
static char sock_a[128], sock_b[128], sock_vm[128];
static char long_filter[VCAP_FILTER_MAX];

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* "host 10.0.0.1 or host 10.0.0.2 or ...": seconds in libpcap's optimizer. */
static void make_long_filter(void)
{
	size_t off = 0;

	for (unsigned i = 1; off + 40 < sizeof(long_filter); i++)
		off += (size_t)snprintf(long_filter + off, sizeof(long_filter) - off,
					"%shost 10.%u.%u.%u", i > 1 ? " or " : "", i >> 16 & 255,
					i >> 8 & 255, i & 255);
}

static void start_with(bool with_vm, unsigned budget_ms)
{
	char conf[256], text[1024];
	FILE *f;

	make_long_filter();
	snprintf(conf, sizeof(conf), "/tmp/vcap-slow-%d.conf", (int)getpid());
	snprintf(sock_a, sizeof(sock_a), "/tmp/vcap-slow-a-%d.sock", (int)getpid());
	snprintf(sock_b, sizeof(sock_b), "/tmp/vcap-slow-b-%d.sock", (int)getpid());
	snprintf(sock_vm, sizeof(sock_vm), "/tmp/vcap-slow-vm-%d.sock", (int)getpid());
	snprintf(text, sizeof(text),
		 "limit filter-compile-ms %u\n"
		 "limit ring-size-max 1Gi\n"
		 "limit ring-memory 2Gi\n"
		 "source sa synth:size=64,pps=10000\n"
		 "source sc synth:size=64,pps=200000,count=%u,consumers=2\n"
		 "source sb synth:size=64,pps=100000,count=%u,consumers=1\n"
		 "tenant a socket %s\n"
		 "tenant a allow sa,sc\n"
		 "tenant a ring-memory 2Gi\n"
		 "tenant b socket %s\n"
		 "tenant b allow sb,sc\n"
		 "tenant b ring-memory 256Mi\n"
		 "%s%s%s",
		 budget_ms, C_COUNT, B_COUNT, sock_a, sock_b, with_vm ? "vm g " : "",
		 with_vm ? sock_vm : "", with_vm ? " size=4Mi\n" : "");
	f = fopen(conf, "w");
	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", conf);
	vcapd_start(&d, "--config", conf);
	unlink(conf);
}

static void start(bool with_vm)
{
	start_with(with_vm, BUDGET_MS);
}

static struct vcap *open_as(const char *sock, const char *dev, const char *filter,
			    uint32_t ring_size)
{
	VCAP_OPTS(vcap_open_opts, o, .socket_path = sock, .filter = filter,
		  .ring_size = ring_size);

	return vcap_open(dev, &o);
}

/* ---- the victim: a request round trip, timed, until told to stop ---------- */

#define MAX_CALLS (1u << 20)

struct victim {
	struct vcap *h;
	atomic_bool stop;
	uint64_t calls, max_us;
	uint32_t *us; /* each call's time */
	pthread_t reader;
	uint64_t got;
};

/* B's consumer reads all the while, on a thread of its own (vcap.h: Threads). */
static void *victim_read(void *arg)
{
	struct victim *v = arg;
	struct vcap_pkt p[256];
	uint64_t deadline = mono_us() + 90 * 1000000ull;

	while (v->got < B_COUNT && mono_us() < deadline) {
		int n = vcap_recv_timeout(v->h, p, 256, 100);

		CHECK(n >= 0, "victim recv: %s", vcap_errmsg());
		v->got += (uint64_t)n;
	}
	return NULL;
}

static void *victim_loop(void *arg)
{
	struct victim *v = arg;
	uint64_t hits;

	while (!atomic_load(&v->stop)) {
		uint64_t t0 = mono_us(), dt;

		/* a round trip through the control thread and the capture thread's mailbox */
		CHECK_EQ(vcap_rule_hits(v->h, 4242, &hits), -ENOENT);
		dt = mono_us() - t0;
		if (dt > v->max_us)
			v->max_us = dt;
		if (v->calls < MAX_CALLS)
			v->us[v->calls] = (uint32_t)dt;
		v->calls++;
	}
	return NULL;
}

static void victim_start(struct victim *v, pthread_t *t)
{
	v->us = calloc(MAX_CALLS, sizeof(*v->us));
	CHECK(v->us, "calloc");
	v->h = open_as(sock_b, "host:sb", "", 16u << 20);
	CHECK(v->h, "victim open: %s", vcap_errmsg());
	atomic_init(&v->stop, false);
	CHECK(!pthread_create(&v->reader, NULL, victim_read, v), "pthread_create");
	CHECK(!pthread_create(t, NULL, victim_loop, v), "pthread_create");
}

/* Stop timing; B then must have its source's every packet, exactly. */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void victim_finish(struct victim *v, pthread_t t)
{
	struct vcap_stats st;
	uint32_t p99;
	size_t n;

	atomic_store(&v->stop, true);
	pthread_join(t, NULL);
	CHECK(v->calls > 100, "the victim got only %llu requests answered",
	      (unsigned long long)v->calls);
	n = v->calls < MAX_CALLS ? (size_t)v->calls : MAX_CALLS;
	qsort(v->us, n, sizeof(*v->us), cmp_u32);
	p99 = v->us[n * 99 / 100];
	fprintf(stderr, "victim: %llu requests, median %.2f ms, 99th percentile %.2f ms, slowest "
		"%.1f ms\n", (unsigned long long)v->calls, v->us[n / 2] / 1000.0, p99 / 1000.0,
		v->max_us / 1000.0);
	/*
	 * The bound holds for the requests, not for the scheduler: on a busy
	 * host (CI shares its CPUs) a thread may wait tens of ms for one, so
	 * the 99th percentile is held to the bound and the slowest to ten
	 * times it, which a control thread that waited for the attacker's
	 * compile or ring (seconds) would break either way.
	 */
	CHECK(p99 < BOUND_MS * 1000, "the victim's 99th percentile was %.1f ms (bound %u ms)",
	      p99 / 1000.0, BOUND_MS);
	CHECK(v->max_us < 10 * BOUND_MS * 1000, "a request of the victim took %.1f ms",
	      v->max_us / 1000.0);
	free(v->us);
	pthread_join(v->reader, NULL);
	CHECK_EQ(v->got, B_COUNT);
	CHECK(!vcap_stats(v->h, &st, sizeof(st)), "%s", vcap_errmsg());
	CHECK_EQ(st.received, B_COUNT);
	CHECK_EQ(st.delivered, B_COUNT);
	CHECK_EQ(st.dropped + st.filtered, 0);
	vcap_close(v->h);
}

/* Children of vcapd (compile processes) still there. */
static unsigned vcapd_children(void)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	unsigned n = 0;

	CHECK(dir, "/proc");
	while ((e = readdir(dir))) {
		char path[64], buf[512], *p;
		int ppid = 0;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == d.pid)
			n++;
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* ---- the attacker ------------------------------------------------------------- */

struct attack {
	bool populate; /* else compile */
	atomic_bool done;
	int open_rc, filter_rc;
	char open_err[256], filter_err[256];
	uint64_t open_ms, filter_ms;
};

static void *attack(void *arg)
{
	struct attack *a = arg;
	uint64_t t0 = mono_us();
	struct vcap *h;
	int e;

	if (a->populate) {
		h = open_as(sock_a, "host:sa", "", 1u << 30);
		e = errno;
		a->open_ms = (mono_us() - t0) / 1000;
		a->open_rc = h ? 0 : -e;
		snprintf(a->open_err, sizeof(a->open_err), "%s", h ? "" : vcap_errmsg());
		vcap_close(h);
		return NULL;
	}
	h = open_as(sock_a, "host:sa", long_filter, 1u << 20);
	e = errno;
	a->open_ms = (mono_us() - t0) / 1000;
	a->open_rc = h ? 0 : -e;
	snprintf(a->open_err, sizeof(a->open_err), "%s", h ? "" : vcap_errmsg());
	vcap_close(h);

	h = open_as(sock_a, "host:sa", "udp", 1u << 20);
	CHECK(h, "attacker open: %s", vcap_errmsg());
	t0 = mono_us();
	a->filter_rc = vcap_set_filter(h, long_filter);
	a->filter_ms = (mono_us() - t0) / 1000;
	snprintf(a->filter_err, sizeof(a->filter_err), "%s", vcap_errmsg());
	vcap_close(h);
	return NULL;
}

static void check_refused_at_budget(int rc, const char *err, uint64_t ms)
{
	fprintf(stderr, "attacker: %d after %llu ms: %s\n", rc, (unsigned long long)ms, err);
	CHECK_EQ(rc, -ETIMEDOUT);
	CHECK(strstr(err, "filter-compile-ms"), "the error names the limit: %s", err);
	/* the budget is the compile's CPU time: on a busy host it ends later */
	CHECK(ms >= BUDGET_MS - 50 && ms < 10 * BUDGET_MS, "refused after %llu ms",
	      (unsigned long long)ms);
}

static void compile(void)
{
	struct attack a = { .populate = false };
	struct victim v = { 0 };
	pthread_t ta, tv;
	struct vcap *h;

	start(false);
	victim_start(&v, &tv);
	CHECK(!pthread_create(&ta, NULL, attack, &a), "pthread_create");
	/* while A's compile runs, B opens a filtered ring: compiled beside A's */
	sleep_ms(200);
	h = open_as(sock_b, "host:sb", "udp and port 53", 1u << 16);
	CHECK(h, "victim's filtered open: %s", vcap_errmsg());
	vcap_close(h);
	pthread_join(ta, NULL);
	check_refused_at_budget(a.open_rc, a.open_err, a.open_ms);
	check_refused_at_budget(a.filter_rc, a.filter_err, a.filter_ms);
	CHECK_EQ(vcapd_children(), 0);
	victim_finish(&v, tv);
	vcapd_stop(&d);
}

/* ---- jobs: one tenant's compiles run two at a time ------------------------- */

static void *slow_open(void *arg)
{
	struct attack *a = arg;
	uint64_t t0 = mono_us();
	struct vcap *h = open_as(sock_a, "host:sa", long_filter, 1u << 16);
	int e = errno; /* before anything else can change it */

	a->open_ms = (mono_us() - t0) / 1000;
	a->open_rc = h ? 0 : -e;
	snprintf(a->open_err, sizeof(a->open_err), "%s", h ? "" : vcap_errmsg());
	vcap_close(h);
	atomic_store(&a->done, true);
	return NULL;
}

static void jobs(void)
{
	enum { N = 4 };
	struct attack a[N] = { 0 };
	struct victim v = { 0 };
	pthread_t t[N], tv;
	unsigned most = 0;
	bool all_done = false;

	start(false);
	victim_start(&v, &tv);
	for (int i = 0; i < N; i++)
		CHECK(!pthread_create(&t[i], NULL, slow_open, &a[i]), "pthread_create");
	/* the account's jobs limit is 2 (limit tenant-jobs): never more compiles at once */
	for (uint64_t deadline = mono_us() + 60 * 1000000ull; !all_done && mono_us() < deadline;) {
		unsigned n = vcapd_children();

		if (n > most)
			most = n;
		all_done = true;
		for (int i = 0; i < N; i++)
			all_done &= atomic_load(&a[i].done);
		sleep_ms(10);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		/* refused at the budget; those that waited their turn took longer */
		fprintf(stderr, "attacker %d: %d after %llu ms\n", i, a[i].open_rc,
			(unsigned long long)a[i].open_ms);
		CHECK_EQ(a[i].open_rc, -ETIMEDOUT);
		CHECK(strstr(a[i].open_err, "filter-compile-ms"), "%s", a[i].open_err);
	}
	fprintf(stderr, "compiles of one tenant at once: at most %u\n", most);
	CHECK(most >= 1 && most <= 2, "%u compiles of one tenant ran at once", most);
	victim_finish(&v, tv);
	vcapd_stop(&d);
}

/* Descriptors vcapd holds, and ring mappings in it. */
static void vcapd_holds(unsigned *fds, unsigned *rings)
{
	char path[64], line[512];
	DIR *dir;
	FILE *f;

	*fds = *rings = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d.pid);
	dir = opendir(path);
	CHECK(dir, "%s", path);
	while (readdir(dir))
		(*fds)++;
	closedir(dir);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)d.pid);
	f = fopen(path, "r");
	CHECK(f, "%s", path);
	while (fgets(line, sizeof(line), f))
		*rings += strstr(line, "vcap-ring") != NULL;
	fclose(f);
}

/* A raw session on A's socket asks for a 1 GiB ring and hangs up before the answer. */
static void open_and_hang_up(void)
{
	static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];
	struct vcapd_proc as_a = d;
	struct vcap_msg m;
	int fd;
	ssize_t n;

	snprintf(as_a.sock, sizeof(as_a.sock), "%s", sock_a);
	fd = raw_session(&as_a);
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_OPEN);
	strcpy(m.name, "sa");
	m.u.open.ring_size = 1u << 30;
	n = vcap_msg_encode(&m, buf, sizeof(buf));
	CHECK(vcap_unix_send(fd, buf, (size_t)n, NULL, 0) == 0, "send open");
	close(fd);
}

/* vcapd holds no more than it did (a compile's pipe may come and go meanwhile). */
static void wait_holds(unsigned want_fds, unsigned want_rings)
{
	unsigned fds = 0, rings = 0;
	uint64_t deadline = mono_us() + 20 * 1000000ull;

	while (mono_us() < deadline) {
		vcapd_holds(&fds, &rings);
		if (fds <= want_fds && rings <= want_rings)
			return;
		sleep_ms(20);
	}
	CHECK(0, "vcapd holds %u descriptors and %u rings, at most %u and %u expected", fds,
	      rings, want_fds, want_rings);
}

static void populate(void)
{
	struct attack a = { .populate = true };
	struct victim v = { 0 };
	unsigned fds0, rings0;
	pthread_t ta, tv;

	start(false);
	victim_start(&v, &tv);
	vcapd_holds(&fds0, &rings0);
	open_and_hang_up();
	wait_holds(fds0, rings0); /* the cancelled OPEN cleaned up after itself */
	CHECK(!pthread_create(&ta, NULL, attack, &a), "pthread_create");
	pthread_join(ta, NULL);
	fprintf(stderr, "attacker: 1 GiB ring opened in %llu ms (%s)\n",
		(unsigned long long)a.open_ms, a.open_rc ? a.open_err : "ok");
	CHECK(!a.open_rc, "the 1 GiB ring: %s", a.open_err);
	wait_holds(fds0, rings0);
	victim_finish(&v, tv);
	vcapd_stop(&d);
}

/* ---- budget: one tenant's expensive rings cost it its own packets ------------ */

/* Read h to the end of its source.  @return packets read. */
static uint64_t drain(struct vcap *h)
{
	struct vcap_pkt p[256];
	uint64_t got = 0, deadline = mono_us() + 120 * 1000000ull;
	int n;

	while ((n = vcap_recv_timeout(h, p, 256, 100)) >= 0 && mono_us() < deadline)
		got += (uint64_t)n;
	CHECK_EQ(n, -ENODATA);
	return got;
}

struct drainer {
	struct vcap *h;
	uint64_t got;
};

static void *drain_thread(void *arg)
{
	struct drainer *dr = arg;

	dr->got = drain(dr->h);
	return NULL;
}

static void budget(void)
{
	char chain[VCAP_FILTER_MAX];
	struct drainer a = { 0 }, b = { 0 };
	struct vcap_stats sa, sb;
	pthread_t t;
	size_t off = 0;

	/* matches nothing on this source, but every packet walks all of it: ~1 us */
	for (unsigned i = 1; i <= 150; i++)
		off += (size_t)snprintf(chain + off, sizeof(chain) - off, "%shost 10.9.%u.%u",
					i > 1 ? " or " : "", i >> 8, i & 255);
	start_with(false, 20000);
	a.h = open_as(sock_a, "host:sc", chain, 1u << 20);
	CHECK(a.h, "expensive open: %s", vcap_errmsg());
	b.h = open_as(sock_b, "host:sc", "", 64u << 20);
	CHECK(b.h, "victim open: %s", vcap_errmsg());
	CHECK(!pthread_create(&t, NULL, drain_thread, &a), "pthread_create");
	b.got = drain(b.h);
	pthread_join(t, NULL);
	CHECK(!vcap_stats(a.h, &sa, sizeof(sa)), "%s", vcap_errmsg());
	CHECK(!vcap_stats(b.h, &sb, sizeof(sb)), "%s", vcap_errmsg());
	fprintf(stderr,
		"expensive tenant: received %llu, filtered %llu, dropped over budget %llu; "
		"victim: delivered %llu of %u, dropped %llu, filtered %llu, read %llu\n",
		(unsigned long long)sa.received, (unsigned long long)sa.filtered,
		(unsigned long long)sa.dropped, (unsigned long long)sb.delivered, C_COUNT,
		(unsigned long long)sb.dropped, (unsigned long long)sb.filtered,
		(unsigned long long)b.got);
	CHECK_EQ(b.got, C_COUNT);
	CHECK_EQ(sb.received, C_COUNT);
	CHECK_EQ(sb.delivered, C_COUNT);
	CHECK_EQ(sb.dropped + sb.filtered, 0);
	/* nothing lost silently: what the budget skipped is counted */
	CHECK_EQ(sa.received, C_COUNT);
	CHECK_EQ(sa.delivered + sa.dropped + sa.filtered, sa.received);
	CHECK_EQ(a.got, 0);
	CHECK(sa.dropped > 0, "the expensive tenant was never held to its budget");
	/* STATUS tells the operator which drops were the budget's: all of a's, none of b's */
	{
		struct vcap_info ia, ib;
		const struct vcap_msg *r;

		CHECK(!vcap_info(a.h, &ia, sizeof(ia)) && !vcap_info(b.h, &ib, sizeof(ib)), "%s",
		      vcap_errmsg());
		r = status_query(&d);
		for (uint32_t i = 0; i < r->u.status_reply.n_rings; i++) {
			const struct vcap_status_ring *e = &r->rings[i];

			if (e->ring_id == ia.ring_id)
				CHECK_EQ(e->over_budget, sa.dropped);
			if (e->ring_id == ib.ring_id)
				CHECK_EQ(e->over_budget, 0);
		}
	}
	vcap_close(a.h);
	vcap_close(b.h);
	vcapd_stop(&d);
}

/* ---- heartbeat: the region as QEMU maps it ------------------------------------- */

/* Connect to the VM socket as QEMU does; @return the region's memfd. */
static int region_fd(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint64_t deadline = mono_us() + 10 * 1000000ull;

	CHECK(sock >= 0, "socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_vm);
	/* vcapd listens on its VM sockets just after its main one */
	while (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) && mono_us() < deadline)
		sleep_ms(10);
	CHECK(mono_us() < deadline, "connect %s: %s", sock_vm, strerror(errno));
	/* ivshmem-spec.rst: version, our id, then the shared memory (-1 with a descriptor) */
	while (mono_us() < deadline) {
		int fd;

		if (ivshmem_msg(sock, &fd) == -1 && fd >= 0)
			return fd; /* sock stays open: the "guest" stays connected */
		if (fd >= 0)
			close(fd);
	}
	CHECK(0, "no shared memory from vcapd's ivshmem server");
	return -1;
}

static void heartbeat(void)
{
	struct attack comp = { .populate = false }, pop = { .populate = true };
	pthread_t t1, t2;
	struct vcap_shm_hdr *hdr;
	uint64_t last, last_us, max_gap_us = 0, beats = 0;
	int fd;

	start(true);
	fd = region_fd();
	hdr = mmap(NULL, VCAP_SHM_HDR_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(hdr != MAP_FAILED, "mmap region");
	CHECK(!pthread_create(&t1, NULL, attack, &comp), "pthread_create");
	CHECK(!pthread_create(&t2, NULL, attack, &pop), "pthread_create");
	last = atomic_load(&hdr->heartbeat);
	last_us = mono_us();
	/* both attacks take seconds: watch the beat for as long as the compile lasts */
	for (uint64_t t0 = mono_us(); mono_us() - t0 < 2 * BUDGET_MS * 1000ull;) {
		uint64_t now = atomic_load(&hdr->heartbeat);

		if (now != last) {
			uint64_t gap = mono_us() - last_us;

			if (gap > max_gap_us && beats)
				max_gap_us = gap;
			beats++;
			last = now;
			last_us = mono_us();
		}
		sleep_ms(5);
	}
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	fprintf(stderr, "heartbeat: %llu beats, longest gap %.0f ms (period %u ms)\n",
		(unsigned long long)beats, max_gap_us / 1000.0, VCAP_SHM_HEARTBEAT_MS);
	check_refused_at_budget(comp.open_rc, comp.open_err, comp.open_ms);
	CHECK(!pop.open_rc, "the 1 GiB ring: %s", pop.open_err);
	CHECK(beats >= 3, "only %llu beats", (unsigned long long)beats);
	/* a beat late by the bound is still far from VCAP_SHM_HEARTBEAT_DEAD_MS */
	CHECK(max_gap_us < (VCAP_SHM_HEARTBEAT_MS + BOUND_MS) * 1000ull,
	      "a heartbeat came %.0f ms after the one before", max_gap_us / 1000.0);
	munmap(hdr, VCAP_SHM_HDR_SIZE);
	close(fd);
	vcapd_stop(&d);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} scenarios[] = { { "compile", compile }, { "populate", populate },
			  { "heartbeat", heartbeat }, { "budget", budget }, { "jobs", jobs } };

	for (size_t i = 0; argc == 2 && i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (!strcmp(argv[1], scenarios[i].name)) {
			scenarios[i].fn();
			fprintf(stderr, "%s: passed\n", argv[1]);
			return 0;
		}
	}
	fprintf(stderr, "usage: %s compile|populate|heartbeat|budget|jobs\n", argv[0]);
	return 2;
}
