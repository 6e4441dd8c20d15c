/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pcap_api - libpcap's API semantics on vcap devices, for
 * test_pcap_compat.sh.  An ordinary libpcap program, run under vcap-pcap:
 *
 *   pcap_api REF.pcap FINITE FILTERED QUIET
 *
 * FINITE and FILTERED are host: devices replaying REF.pcap once; QUIET
 * never sends anything.  What tcpdump and tshark do not exercise is
 * checked here: pcap_next_ex, pcap_dispatch counts, non-blocking mode, the
 * selectable descriptor, the packet buffer timeout, pcap_breakloop from
 * another thread and from a signal handler, a filter program whose text
 * is unknown (run in this process), errors for the wrong state, and
 * pcap_findalldevs/pcap_freealldevs.  REF.pcap is read through the same
 * (intercepted) libpcap: offline handles must pass through untouched.
 */
#include <errno.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_REF 4096

struct ref {
	struct pcap_pkthdr h;
	u_char *data;
};

static struct ref ref[MAX_REF];
static int n_ref, failed;
static pcap_t *breaking; /* the handle the signal handler breaks */

#define CHECK(cond, ...)                                \
	do {                                            \
		if (cond) {                             \
			printf("ok: " __VA_ARGS__);     \
		} else {                                \
			printf("FAIL: " __VA_ARGS__);   \
			failed = 1;                     \
		}                                       \
		putchar('\n');                          \
	} while (0)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void load_ref(const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *data;

	if (!p) {
		fprintf(stderr, "pcap_api: %s\n", err);
		exit(2);
	}
	while (n_ref < MAX_REF && pcap_next_ex(p, &h, &data) == 1) {
		ref[n_ref].h = *h;
		ref[n_ref].data = malloc(h->caplen);
		memcpy(ref[n_ref].data, data, h->caplen);
		n_ref++;
	}
	pcap_close(p);
}

static bool same(int i, const struct pcap_pkthdr *h, const u_char *data)
{
	const struct ref *r = &ref[i];

	return i < n_ref && r->h.ts.tv_sec == h->ts.tv_sec && r->h.ts.tv_usec == h->ts.tv_usec &&
	       r->h.caplen == h->caplen && r->h.len == h->len &&
	       !memcmp(r->data, data, h->caplen);
}

/* pcap_dispatch callback: compare with the reference, counting. */
struct seen {
	int next; /* index in ref of the packet expected next */
	int got;
	bool bad;
};

static void check_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	struct seen *s = (struct seen *)user;

	if (!same(s->next, h, data))
		s->bad = true;
	s->next++;
	s->got++;
}

static pcap_t *open_vcap(const char *dev, int timeout_ms)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_live(dev, 65535, 1, timeout_ms, err);

	if (!p) {
		printf("FAIL: pcap_open_live(%s): %s\n", dev, err);
		exit(1);
	}
	return p;
}

static void finite(const char *dev)
{
	pcap_t *p = open_vcap(dev, 100);
	struct seen s = { 0 };
	struct pcap_pkthdr *h;
	const u_char *data;
	struct pcap_stat st;
	int rc, i;

	CHECK(pcap_datalink(p) == DLT_EN10MB && pcap_snapshot(p) == 65535,
	      "%s: datalink %d, snapshot %d", dev, pcap_datalink(p), pcap_snapshot(p));
	rc = pcap_set_snaplen(p, 100);
	CHECK(rc == PCAP_ERROR_ACTIVATED, "%s: pcap_set_snaplen once active: %d (%s)", dev, rc,
	      pcap_geterr(p));

	for (i = 0; i < 10; i++)
		if (pcap_next_ex(p, &h, &data) != 1 || !same(i, h, data))
			break;
	CHECK(i == 10, "%s: pcap_next_ex: the first 10 packets as in the file (%d)", dev, i);

	s.next = 10;
	rc = pcap_dispatch(p, 7, check_cb, (u_char *)&s);
	CHECK(rc == 7 && s.got == 7 && !s.bad, "%s: pcap_dispatch(7) handed exactly 7: %d", dev,
	      rc);
	rc = pcap_dispatch(p, -1, check_cb, (u_char *)&s);
	CHECK(rc > 0 && rc == s.got - 7 && !s.bad, "%s: pcap_dispatch(-1) handed a burst: %d", dev,
	      rc);
	rc = pcap_dispatch(p, 0, check_cb, (u_char *)&s);
	CHECK(rc > 0 && !s.bad, "%s: pcap_dispatch(0) too: %d", dev, rc);

	/* the rest: pcap_loop(-1) returns 0 at the end, as for a savefile */
	rc = pcap_loop(p, -1, check_cb, (u_char *)&s);
	CHECK(rc == 0 && s.next == n_ref && !s.bad,
	      "%s: pcap_loop(-1) to the end: returned %d, %d packets in all, all as in the file",
	      dev, rc, s.next);
	rc = pcap_next_ex(p, &h, &data);
	CHECK(rc == PCAP_ERROR_BREAK, "%s: pcap_next_ex after the end: %d", dev, rc);
	rc = pcap_dispatch(p, 1, check_cb, (u_char *)&s);
	CHECK(rc == 0, "%s: pcap_dispatch after the end: %d", dev, rc);

	rc = pcap_stats(p, &st);
	CHECK(rc == 0 && (int)st.ps_recv == n_ref && st.ps_drop == 0,
	      "%s: pcap_stats: received %u, dropped %u", dev, st.ps_recv, st.ps_drop);
	pcap_close(p);
}

/* A filter program built here, not by pcap_compile: its text is unknown. */
static void unknown_filter(const char *dev)
{
	pcap_t *p = open_vcap(dev, 100), *dead = pcap_open_dead(DLT_EN10MB, 65535);
	struct bpf_program compiled, copy;
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc, got = 0, bad = 0, want = 0;

	for (int i = 0; i < n_ref; i++)
		want += ref[i].data[23] == 6; /* IPv4 protocol TCP */
	if (pcap_compile(dead, &compiled, "tcp", 1, PCAP_NETMASK_UNKNOWN)) {
		printf("FAIL: pcap_compile: %s\n", pcap_geterr(dead));
		exit(1);
	}
	copy.bf_len = compiled.bf_len;
	copy.bf_insns = malloc(compiled.bf_len * sizeof(*compiled.bf_insns));
	memcpy(copy.bf_insns, compiled.bf_insns, compiled.bf_len * sizeof(*compiled.bf_insns));
	pcap_freecode(&compiled);
	pcap_close(dead);

	rc = pcap_setfilter(p, &copy);
	free(copy.bf_insns); /* libpcap copies what it installs; so must the shim */
	CHECK(rc == 0, "%s: pcap_setfilter of a program of unknown text: %d", dev, rc);
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		got++;
		bad += data[23] != 6;
	}
	CHECK(rc == PCAP_ERROR_BREAK && got == want && !bad,
	      "%s: filtered in this process: %d TCP packets of %d, %d others (want %d)", dev,
	      got, n_ref, bad, want);
	pcap_close(p);
}

static void *break_later(void *arg)
{
	usleep(200000);
	pcap_breakloop(arg);
	return NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
	pcap_breakloop(breaking);
}

static void count_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	(void)h;
	(void)data;
	(*(int *)user)++;
}

static void quiet(const char *dev)
{
	pcap_t *p = open_vcap(dev, 150);
	struct sigaction sa = { .sa_handler = on_alarm };
	struct pollfd pfd = { .fd = pcap_get_selectable_fd(p), .events = POLLIN };
	char err[PCAP_ERRBUF_SIZE];
	pthread_t t;
	double t0;
	int rc, n = 0;

	/* nothing arrives: the buffer timeout ends a blocking read with 0 */
	t0 = now_s();
	rc = pcap_dispatch(p, -1, count_cb, (u_char *)&n);
	t0 = now_s() - t0;
	CHECK(rc == 0 && t0 >= 0.1 && t0 < 2, "%s: blocking pcap_dispatch with a 150 ms timeout: "
	      "%d after %.3f s", dev, rc, t0);

	rc = poll(&pfd, 1, 300);
	CHECK(pfd.fd >= 0 && rc == 0, "%s: the selectable descriptor stays quiet: poll %d", dev,
	      rc);

	pcap_setnonblock(p, 1, err);
	t0 = now_s();
	rc = pcap_dispatch(p, -1, count_cb, (u_char *)&n);
	CHECK(rc == 0 && now_s() - t0 < 0.1 && pcap_getnonblock(p, err) == 1,
	      "%s: non-blocking pcap_dispatch returns 0 at once", dev);
	pcap_setnonblock(p, 0, err);

	/* pcap_breakloop from another thread ends a sleeping pcap_loop */
	pthread_create(&t, NULL, break_later, p);
	t0 = now_s();
	rc = pcap_loop(p, -1, count_cb, (u_char *)&n);
	pthread_join(t, NULL);
	CHECK(rc == PCAP_ERROR_BREAK, "%s: pcap_breakloop from a thread: pcap_loop returned %d "
	      "after %.3f s", dev, rc, now_s() - t0);

	/* ... and from a signal handler, the way tcpdump does it */
	breaking = p;
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	rc = pcap_loop(p, -1, count_cb, (u_char *)&n);
	CHECK(rc == PCAP_ERROR_BREAK, "%s: pcap_breakloop from a signal handler: %d", dev, rc);
	rc = pcap_dispatch(p, -1, count_cb, (u_char *)&n);
	CHECK(rc == 0, "%s: the break is taken once: next pcap_dispatch %d", dev, rc);
	CHECK(n == 0, "%s: no packet appeared from nowhere (%d)", dev, n);
	pcap_close(p);
}

static void states(const char *dev)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_create(dev, err);
	struct bpf_program prog;
	int rc;

	if (!p) {
		printf("FAIL: pcap_create(%s): %s\n", dev, err);
		failed = 1;
		return;
	}
	rc = pcap_datalink(p);
	CHECK(rc == PCAP_ERROR_NOT_ACTIVATED, "%s: pcap_datalink before activation: %d", dev, rc);
	rc = pcap_compile(p, &prog, "tcp", 1, PCAP_NETMASK_UNKNOWN);
	CHECK(rc == PCAP_ERROR, "%s: pcap_compile before activation: %s", dev, pcap_geterr(p));
	CHECK(pcap_set_snaplen(p, 128) == 0 && pcap_set_promisc(p, 1) == 0 &&
		      pcap_set_timeout(p, 10) == 0 && pcap_set_buffer_size(p, 1 << 20) == 0 &&
		      pcap_set_immediate_mode(p, 1) == 0 &&
		      pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0,
	      "%s: pcap_set_* before activation", dev);
	rc = pcap_activate(p);
	CHECK(rc == 0 && pcap_snapshot(p) == 128 &&
		      pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO,
	      "%s: activated with snaplen %d, precision %d: %d", dev, pcap_snapshot(p),
	      pcap_get_tstamp_precision(p), rc);
	rc = pcap_activate(p);
	CHECK(rc == PCAP_ERROR_ACTIVATED, "%s: a second pcap_activate: %d", dev, rc);
	rc = pcap_set_datalink(p, DLT_RAW);
	CHECK(rc == PCAP_ERROR, "%s: pcap_set_datalink(DLT_RAW): %s", dev, pcap_geterr(p));
	rc = pcap_sendpacket(p, (const u_char *)"x", 1);
	CHECK(rc == PCAP_ERROR, "%s: pcap_sendpacket: %s", dev, pcap_geterr(p));
	pcap_close(p);
}

static void devices(const char *dev)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_if_t *all;
	bool found = false;

	/* twice, so that the second list must not reuse what the first freed */
	for (int round = 0; round < 2; round++) {
		found = false;
		if (pcap_findalldevs(&all, err)) {
			printf("FAIL: pcap_findalldevs: %s\n", err);
			failed = 1;
			return;
		}
		for (pcap_if_t *d = all; d; d = d->next)
			found |= !strcmp(d->name, dev) && d->description &&
				 strstr(d->description, "vcapd source");
		pcap_freealldevs(all);
	}
	CHECK(found, "pcap_findalldevs lists %s with a description", dev);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: pcap_api REF.pcap FINITE FILTERED QUIET\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	load_ref(argv[1]);
	finite(argv[2]);
	unknown_filter(argv[3]);
	quiet(argv[4]);
	states(argv[4]);
	devices(argv[4]);
	for (int i = 0; i < n_ref; i++)
		free(ref[i].data);
	return failed;
}
