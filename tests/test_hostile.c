/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_hostile.c - consumers that misbehave on purpose, and vcapd going
 * away.  One scenario per run: `test_hostile NAME`.
 *
 *   scribble   a consumer rewrites its whole ring (indices, wait words,
 *              counters, records) with garbage while traffic flows and also
 *              sends garbage on a second session; vcapd stays up and in
 *              bounds (the CI runs this under ASan) and an honest neighbour
 *              gets every packet, byte-exact
 *   limits     rings per session, ring memory and sessions all have limits
 *              that answer with a clear error, after which vcapd serves on
 *   kill-vcapd vcapd dies (SIGKILL) under a sleeping consumer: the consumer
 *              reads what its ring still holds, then gets a clear -EPIPE;
 *              once it closes, no ring memory is left anywhere
 *   soak       consumers join and leave at random on several sources while
 *              filters and rules change; received == delivered + dropped +
 *              filtered holds for every ring at every sample, and vcapd's
 *              RSS stays flat ($VCAP_SOAK_SECONDS, default 20)
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"
#include "synth.h"
#include "vcap.h"

static struct vcapd_proc d;

/* Open a ring with the raw protocol and map it: what a hostile client sees. */
static void *raw_open(int sock, const char *source, size_t *map_size)
{
	static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];
	struct vcap_msg m, r;
	int fds[VCAP_UNIX_MAX_FDS], nfds;
	char why[128];
	ssize_t n;
	void *map;

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_OPEN);
	strcpy(m.name, source);
	m.u.open.ring_size = 1u << 20;
	n = vcap_msg_encode(&m, buf, sizeof(buf));
	CHECK(vcap_unix_send(sock, buf, (size_t)n, NULL, 0) == 0, "send open");
	n = vcap_unix_recv(sock, buf, sizeof(buf), fds, &nfds);
	CHECK(n > 0 && vcap_msg_decode(buf, (size_t)n, &r, why, sizeof(why)) == 0 && !r.status &&
		      nfds == 2,
	      "open reply");
	*map_size = r.u.open_reply.map_size;
	map = mmap(NULL, *map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	CHECK(map != MAP_FAILED, "mmap");
	/* and try to truncate it under vcapd: the seals must refuse */
	CHECK(ftruncate(fds[0], 4096) != 0, "a ring memfd cannot shrink");
	close(fds[0]);
	close(fds[1]);
	return map;
}

static void scribble(void)
{
	enum { N = 2000000 };
	VCAP_OPTS(vcap_open_opts, o, .ring_size = 256u << 20);
	struct vcap_synth_cfg cfg = { .size = 64, .flows = 1024, .proto = VCAP_SYNTH_MIX };
	struct vcap_synth g;
	struct vcap_pkt p[256];
	struct vcap_stats st;
	struct vcap *good;
	uint64_t next = 0;
	pid_t child;
	int n, status;
	char err[128];

	vcapd_start(&d, "--source", "s=synth:size=64,pps=2M,count=2000000,consumers=2");
	CHECK(vcap_synth_init(&g, &cfg, err, sizeof(err)) == 0, "%s", err);
	good = vcap_open("host:s", &o);
	CHECK(good, "%s", vcap_errmsg());

	child = fork();
	if (child == 0) {
		int sock = raw_session(&d), junk = raw_session(&d);
		size_t size;
		uint8_t *ring = raw_open(sock, "s", &size);
		unsigned long long rnd = (unsigned long long)getpid();
		static uint8_t buf[4096];

		/* until killed: garbage everywhere in the ring, garbage on a session */
		for (uint64_t i = 0;; i++) {
			for (int k = 0; k < 64; k++)
				ring[test_rand(&rnd) % 256] = (uint8_t)test_rand(&rnd);
			((uint64_t *)ring)[(test_rand(&rnd) % size) / 8] = test_rand(&rnd);
			if (i % 4096 == 0 && junk >= 0) {
				size_t len = test_rand(&rnd) % sizeof(buf);

				for (size_t b = 0; b < len; b++)
					buf[b] = (uint8_t)test_rand(&rnd);
				if (vcap_unix_send(junk, buf, len, NULL, 0)) {
					close(junk);
					junk = raw_session(&d); /* it hung up on us: again */
				}
			}
		}
	}
	while ((n = vcap_recv_burst(good, p, 256, VCAP_WAIT)) > 0) {
		for (int i = 0; i < n; i++, next++) {
			uint64_t seq;

			CHECK(vcap_synth_verify(&g, p[i].data, p[i].caplen, &seq) == 0 && seq == next,
			      "the honest consumer's packet %llu", (unsigned long long)next);
		}
	}
	CHECK_EQ(n, (unsigned long long)-ENODATA);
	CHECK_EQ(next, N);
	CHECK_EQ(vcap_stats(good, &st, sizeof(st)), 0);
	CHECK_EQ(st.dropped, 0);
	/* vcapd's own view of the scribbler's ring still adds up */
	{
		const struct vcap_msg *r = status_query(&d);

		CHECK_EQ(r->u.status_reply.n_rings, 2);
		for (unsigned i = 0; i < 2; i++) {
			const struct vcap_status_ring *e = &r->rings[i];

			fprintf(stderr, "ring %u: received %llu delivered %llu dropped %llu\n",
				e->ring_id, (unsigned long long)e->received,
				(unsigned long long)e->delivered, (unsigned long long)e->dropped);
			CHECK_EQ(e->received, N);
			CHECK_EQ(e->received, e->delivered + e->dropped + e->filtered);
		}
	}
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	vcap_close(good);
	CHECK(kill(d.pid, 0) == 0, "vcapd survived");
	vcapd_stop(&d);
}

static void limits(void)
{
	char conf[] = "/tmp/vcap-limits-XXXXXX";
	int fd = mkstemp(conf), socks[16], n_socks = 0;
	struct vcap *h[8], *x;
	FILE *f;

	CHECK(fd >= 0, "mkstemp");
	f = fdopen(fd, "w");
	fputs("source s synth:size=64,pps=1000\n"
	      "limit rings-per-session 3\n"
	      "limit ring-memory 9Mi\n"
	      "limit sessions 6\n",
	      f);
	fclose(f);
	vcapd_start(&d, "--config", conf);

	/* rings per session: a raw session opening until refused */
	{
		static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];
		int sock = raw_session(&d), k;
		struct vcap_msg m, r;
		char why[128];

		for (k = 0; k < 5; k++) {
			int fds[VCAP_UNIX_MAX_FDS], nfds = 0;
			ssize_t len;

			vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_OPEN);
			strcpy(m.name, "s");
			m.u.open.ring_size = 1u << 16;
			len = vcap_msg_encode(&m, buf, sizeof(buf));
			vcap_unix_send(sock, buf, (size_t)len, NULL, 0);
			len = vcap_unix_recv(sock, buf, sizeof(buf), fds, &nfds);
			CHECK(len > 0 && !vcap_msg_decode(buf, (size_t)len, &r, why, sizeof(why)), "reply");
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
			if (r.status)
				break;
		}
		CHECK_EQ(k, 3);
		CHECK(r.status == -EMFILE && strstr(r.text, "3 rings, the limit"), "%s", r.text);
		fprintf(stderr, "rings: %s\n", r.text);
		close(sock);
	}
	/* ring memory: 9 MiB in all, 4 MiB rings: the third does not fit */
	for (int k = 0; k < 2; k++) {
		h[k] = vcap_open("host:s", &(struct vcap_open_opts){
						   .sz = sizeof(struct vcap_open_opts),
						   .ring_size = 1u << 22 });
		CHECK(h[k], "%s", vcap_errmsg());
	}
	x = vcap_open("host:s", &(struct vcap_open_opts){ .sz = sizeof(struct vcap_open_opts),
							  .ring_size = 1u << 22 });
	CHECK(!x && errno == ENOMEM && strstr(vcap_errmsg(), "ring memory limit"), "%s",
	      vcap_errmsg());
	fprintf(stderr, "memory: %s\n", vcap_errmsg());
	vcap_close(h[1]);
	h[1] = vcap_open("host:s", &(struct vcap_open_opts){ .sz = sizeof(struct vcap_open_opts),
							     .ring_size = 1u << 22 });
	CHECK(h[1], "freed memory is usable again: %s", vcap_errmsg());

	/* sessions: 2 are open (h[0], h[1]); 4 more fit, the next is hung up on */
	for (n_socks = 0; n_socks < 4; n_socks++)
		socks[n_socks] = raw_session(&d);
	{
		int s = vcap_unix_connect(d.sock);
		uint8_t b[64];

		CHECK(s >= 0, "connect");
		CHECK(vcap_unix_recv(s, b, sizeof(b), NULL, NULL) == 0,
		      "a session over the limit is closed at once");
		close(s);
	}
	while (n_socks)
		close(socks[--n_socks]);
	sleep_ms(100);
	x = vcap_open("host:s", &(struct vcap_open_opts){ .sz = sizeof(struct vcap_open_opts),
							  .ring_size = 1u << 16 });
	CHECK(x, "vcapd serves again once sessions close: %s", vcap_errmsg());
	vcap_close(x);
	vcap_close(h[0]);
	vcap_close(h[1]);
	vcapd_stop(&d);
	unlink(conf);
}

/*
 * Mappings of one vcap ring's memfd (its inode) in every process on the
 * machine.  By inode, not by name: other tests and other vcapds may run
 * beside this one, each with rings of its own.
 */
static int ring_mappings(unsigned long ino)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(proc))) {
		char path[300], line[512];
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/maps", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned long i = 0;

			if (strstr(line, "memfd:vcap-ring") &&
			    sscanf(line, "%*s %*s %*s %*s %lu", &i) == 1 && i == ino)
				n++;
		}
		fclose(f);
	}
	closedir(proc);
	return n;
}

/* The inode of the one vcap ring this process maps (0: none). */
static unsigned long own_ring_inode(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long ino = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "memfd:vcap-ring") && sscanf(line, "%*s %*s %*s %*s %lu", &ino) == 1)
			break;
	if (f)
		fclose(f);
	return ino;
}

static void kill_vcapd(void)
{
	VCAP_OPTS(vcap_open_opts, o, .ring_size = 1u << 20, .watermark = 1000000,
		  .timeout_ms = 60000);
	struct vcap_pkt p[256];
	struct vcap *h;
	uint64_t got = 0, t;
	unsigned long ino;
	int n;

	vcapd_start(&d, "--source", "s=synth:size=64,pps=100000");
	h = vcap_open("host:s", &o);
	CHECK(h, "%s", vcap_errmsg());
	sleep_ms(100);
	kill(d.pid, SIGKILL);
	waitpid(d.pid, NULL, 0);
	t = mono_ms();
	/* what the ring holds is still there; then a clear end */
	while ((n = vcap_recv_burst(h, p, 256, VCAP_WAIT)) > 0)
		got += (uint64_t)n;
	fprintf(stderr, "after vcapd died: read %llu packets, then: %s\n", (unsigned long long)got,
		vcap_errmsg());
	CHECK_EQ(n, (unsigned long long)-EPIPE);
	CHECK(strstr(vcap_errmsg(), "vcapd went away"), "%s", vcap_errmsg());
	CHECK(got > 1000, "the ring's packets could still be read");
	CHECK(mono_ms() - t < 2000, "the consumer noticed at once, not at its 60 s timeout");
	ino = own_ring_inode();
	CHECK(ino != 0, "the consumer maps its ring");
	CHECK(ring_mappings(ino) == 1, "only the consumer's own mapping is left");
	vcap_close(h);
	CHECK(ring_mappings(ino) == 0, "no ring memory is left anywhere");
	unlink(d.sock);
	rmdir(d.dir);
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	CHECK(f, "%s", path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld", &kb) == 1) /* heap, not rings */
			break;
	fclose(f);
	return kb;
}

static void soak(void)
{
	enum { SLOTS = 8 };
	static const char *const sources[] = { "host:a", "host:b", "host:c" };
	static const char *const filters[] = { "", "udp", "tcp", "port 53 or port 80",
					       "not src net 10.1.0.0/24" };
	const char *env = getenv("VCAP_SOAK_SECONDS");
	uint64_t seconds = env ? strtoull(env, NULL, 10) : 20, t0, next_sample;
	struct vcap *h[SLOTS] = { 0 };
	unsigned long long rnd = 77;
	long rss_base = -1, rss_max = 0;
	uint64_t samples = 0, opens = 0;

	vcapd_start(&d, "--source", "a=synth:size=64,pps=300000,flows=100", "--source",
		    "b=synth:size=200,pps=100000,flows=5000,proto=tcp", "--source",
		    "c=synth:size=128,pps=50000,flows=7,ipv6=50");
	t0 = next_sample = mono_ms();
	while (mono_ms() - t0 < seconds * 1000) {
		unsigned k = (unsigned)(test_rand(&rnd) % SLOTS);
		struct vcap_pkt p[256];

		switch (test_rand(&rnd) % 50) {
		case 0: /* join or leave */
			if (h[k]) {
				vcap_close(h[k]);
				h[k] = NULL;
			} else {
				VCAP_OPTS(vcap_open_opts, o,
					  .ring_size = 1u << (16 + test_rand(&rnd) % 8),
					  .filter = filters[test_rand(&rnd) % 5],
					  .cluster_id = (uint32_t)(test_rand(&rnd) % 3));
				h[k] = vcap_open(sources[test_rand(&rnd) % 3], &o);
				CHECK(h[k], "%s", vcap_errmsg());
				opens++;
			}
			break;
		case 1: /* change the filter */
			if (h[k])
				CHECK(!vcap_set_filter(h[k], filters[test_rand(&rnd) % 5]), "%s",
				      vcap_errmsg());
			break;
		case 2: /* rules come and go */
			if (h[k]) {
				struct vcap_rule r = { .id = 1, .fields = VCAP_RULE_DPORT,
						       .action = VCAP_DROP, .dport_lo = 53,
						       .dport_hi = 53 };

				if (vcap_rule_add(h[k], &r) == -EEXIST)
					CHECK(!vcap_rule_remove(h[k], 1), "%s", vcap_errmsg());
			}
			break;
		default: /* read, lazily: some rings overflow on purpose */
			if (h[k] && test_rand(&rnd) % 4)
				CHECK(vcap_recv_burst(h[k], p, 256, 0) >= 0, "%s", vcap_errmsg());
			break;
		}
		if (mono_ms() >= next_sample) {
			for (unsigned i = 0; i < SLOTS; i++) {
				struct vcap_stats st;

				if (!h[i])
					continue;
				CHECK_EQ(vcap_stats(h[i], &st, sizeof(st)), 0);
				CHECK(st.received == st.delivered + st.dropped + st.filtered,
				      "ring %u: %llu != %llu + %llu + %llu", i,
				      (unsigned long long)st.received,
				      (unsigned long long)st.delivered,
				      (unsigned long long)st.dropped,
				      (unsigned long long)st.filtered);
			}
			{
				const struct vcap_msg *r = status_query(&d);

				for (unsigned i = 0; i < r->u.status_reply.n_rings; i++) {
					const struct vcap_status_ring *e = &r->rings[i];

					CHECK(e->received == e->delivered + e->dropped + e->filtered,
					      "vcapd's mirror of ring %u", e->ring_id);
				}
			}
			samples++;
			if (mono_ms() - t0 > 3000) { /* after warm-up */
				long rss = rss_kb(d.pid);

				if (rss_base < 0)
					rss_base = rss;
				if (rss > rss_max)
					rss_max = rss;
			}
			next_sample += 50;
		}
	}
	fprintf(stderr, "soak: %llu s, %llu opens, %llu samples, vcapd anonymous RSS %ld kB -> max %ld kB\n",
		(unsigned long long)seconds, (unsigned long long)opens,
		(unsigned long long)samples, rss_base, rss_max);
	CHECK(samples > seconds * 10, "sampled often");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* sanitizers hold memory back by design (ASan's quarantine, TSan's shadow) */
	fprintf(stderr, "soak: RSS not judged in a sanitizer build\n");
#else
	CHECK(rss_max <= rss_base + rss_base / 10 + 1024, "vcapd's heap stays flat");
#endif
	for (unsigned i = 0; i < SLOTS; i++)
		vcap_close(h[i]);
	vcapd_stop(&d);
}

static const struct scenario scenarios[] = {
	{ "scribble", scribble },
	{ "limits", limits },
	{ "kill-vcapd", kill_vcapd },
	{ "soak", soak },
};

int main(int argc, char **argv)
{
	return RUN_SCENARIOS(argc, argv, scenarios);
}
