/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshmem_probe.c - runs inside the test VM and proves the ivshmem plumbing
 * against tests/test_ivshmem.c on the host: open the device (VFIO or sysfs),
 * check the host's magic, answer it, then ping-pong doorbells and MSI-X
 * interrupts, timing each round trip with the guest's clock.
 *
 *   ivshmem_probe --expect vfio|sysfs [--rounds N] [--timeout-ms T] [--pci ADDR]
 *
 * Reports on stdout as marker lines, one fact per key, e.g.
 *   VCAP-PROBE: open mode=vfio regs=mmap pci=0000:00:03.0 peer=1 vectors=4 ...
 *   VCAP-PROBE: rtt n=50 min_us=... med_us=... p90_us=... max_us=...
 *   VCAP-PROBE: ok
 * and exits 0 only if everything held.  In sysfs mode there are no
 * interrupts: the probe polls `pong` with an adaptive sleep instead.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ivshmem_guest.h"
#include "ivshmem_probe.h"

#define MARK "VCAP-PROBE: "

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One error marker line; @return the exit status for main. */
static int die(const char *fmt, ...)
{
	va_list ap;

	printf(MARK "error ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 1;
}

/* VFIO mode: wait for MSI-X vector v, and only v. @return 0 or -errno. */
static int wait_vector(struct vcap_ivshmem *d, unsigned v, unsigned nvec, int timeout_ms,
		       unsigned *stray)
{
	struct pollfd pf[VCAP_IVSHMEM_MAX_VECTORS];
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (unsigned i = 0; i < nvec; i++)
		pf[i] = (struct pollfd){ .fd = vcap_ivshmem_vector_fd(d, i), .events = POLLIN };
	for (;;) {
		uint64_t t = now_ns();
		bool got = false;
		int n;

		if (t >= deadline)
			return -ETIMEDOUT;
		n = poll(pf, nvec, (int)((deadline - t) / 1000000u) + 1);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (unsigned i = 0; n > 0 && i < nvec; i++) {
			uint64_t cnt;

			if (!(pf[i].revents & POLLIN))
				continue;
			if (read(pf[i].fd, &cnt, sizeof(cnt)) != sizeof(cnt))
				continue;
			if (i == v)
				got = true;
			else
				(*stray)++;
		}
		if (got)
			return 0;
	}
}

/* sysfs mode: poll pong == r, spinning briefly, then sleeping longer and longer. */
static int wait_pong(struct probe_shm *p, uint32_t r, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	long sleep_ns = 10000;

	for (unsigned spin = 0;; spin++) {
		if (atomic_load_explicit(&p->pong, memory_order_acquire) == r)
			return 0;
		if (now_ns() >= deadline)
			return -ETIMEDOUT;
		if (spin < 200)
			continue;
		nanosleep(&(struct timespec){ 0, sleep_ns }, NULL);
		if (sleep_ns < 1000000)
			sleep_ns *= 2;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "expect", required_argument, NULL, 'e' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "pci", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *expect = NULL, *pci = NULL;
	unsigned rounds = 20, stray = 0, nvec;
	int timeout_ms = 5000, c, rc;
	struct vcap_ivshmem *d;
	struct probe_shm *p;
	uint64_t t0, *rtt;
	char err[256];
	size_t size;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e': expect = optarg; break;
		case 'r': rounds = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': timeout_ms = atoi(optarg); break;
		case 'p': pci = optarg; break;
		default: return 2;
		}
	}
	if (!expect || (strcmp(expect, "vfio") && strcmp(expect, "sysfs")) || !rounds ||
	    rounds > 100000 || timeout_ms <= 0) {
		fprintf(stderr, "usage: %s --expect vfio|sysfs [--rounds N] [--timeout-ms T] "
				"[--pci ADDR]\n", argv[0]);
		return 2;
	}

	t0 = now_ns();
	rc = vcap_ivshmem_open(&d, pci, 0, 0, err, sizeof(err));
	if (rc)
		return die("open rc=%d %s", rc, err);
	p = vcap_ivshmem_shm(d, &size);
	nvec = vcap_ivshmem_vectors(d);
	printf(MARK "open mode=%s regs=%s pci=%s peer=%d vectors=%u shm=%zu open_us=%llu\n",
	       vcap_ivshmem_mode(d), vcap_ivshmem_regs_access(d), vcap_ivshmem_pci_addr(d),
	       vcap_ivshmem_peer_id(d), nvec, size, (unsigned long long)(now_ns() - t0) / 1000);
	if (*vcap_ivshmem_why(d))
		printf(MARK "why-not-vfio %s\n", vcap_ivshmem_why(d));
	if (strcmp(vcap_ivshmem_mode(d), expect))
		return die("mode=%s expected=%s", vcap_ivshmem_mode(d), expect);

	if (size < 4096 || p->magic != PROBE_MAGIC)
		return die("magic=0x%08x size=%zu", p->magic, size);
	if (*(volatile uint32_t *)((char *)p + size - 8) != PROBE_TAIL_MAGIC)
		return die("tail-magic size=%zu", size);
	if (p->vectors < 1 || p->vectors > VCAP_IVSHMEM_MAX_VECTORS)
		return die("host-vectors=%u", p->vectors);
	if (!strcmp(expect, "vfio") && nvec < p->vectors)
		return die("vectors=%u host-vectors=%u", nvec, p->vectors);
	atomic_store_explicit(&p->guest_id, (uint32_t)vcap_ivshmem_peer_id(d), memory_order_relaxed);
	atomic_store_explicit(&p->answer, PROBE_ANSWER(p->nonce), memory_order_release);
	printf(MARK "magic ok nonce=0x%08x host_id=%u\n", p->nonce, p->host_id);

	rtt = calloc(rounds, sizeof(*rtt));
	if (!rtt)
		return die("out-of-memory");
	for (uint32_t r = 1; r <= rounds; r++) {
		unsigned v = r % p->vectors;
		uint64_t t = now_ns();

		atomic_store_explicit(&p->ping, r, memory_order_release);
		vcap_ivshmem_ring(d, p->host_id, v);
		if (nvec)
			rc = wait_vector(d, v, nvec, timeout_ms, &stray);
		else
			rc = wait_pong(p, r, timeout_ms);
		if (rc)
			return die("round=%u timeout", r);
		if (atomic_load_explicit(&p->pong, memory_order_acquire) != r)
			return die("round=%u pong=%u", r, atomic_load(&p->pong));
		rtt[r - 1] = now_ns() - t;
	}
	qsort(rtt, rounds, sizeof(*rtt), cmp_u64);
	printf(MARK "rtt n=%u min_us=%llu med_us=%llu p90_us=%llu max_us=%llu stray=%u\n", rounds,
	       (unsigned long long)rtt[0] / 1000, (unsigned long long)rtt[rounds / 2] / 1000,
	       (unsigned long long)rtt[rounds * 9 / 10] / 1000,
	       (unsigned long long)rtt[rounds - 1] / 1000, stray);
	free(rtt);
	if (stray)
		return die("stray-interrupts=%u", stray);
	vcap_ivshmem_close(d);
	printf(MARK "ok\n");
	return 0;
}
