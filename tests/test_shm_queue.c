/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_shm_queue.c - the VM control queue (transport/shm_queue.c) and the
 * region allocator (daemon/region.c): messages of every size through many
 * wraps; a producer that lies about head and a consumer that lies about
 * tail; framing a guest could break; allocations that must never overlap.
 * The queue sits between PROT_NONE guard pages, so a stray access faults.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "codec.h"
#include "region.h"
#include "shm_queue.h"

static uint8_t *guarded(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), body = (len + page - 1) / page * page;
	uint8_t *base = mmap(NULL, body + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(base != MAP_FAILED, "mmap");
	CHECK(mprotect(base + page, body, PROT_READ | PROT_WRITE) == 0, "mprotect");
	return base + page + body - len; /* the queue ends at the upper guard */
}

/* A real message of about `len` bytes (a SET_FILTER with a filter of the right size). */
static size_t make_msg(uint8_t *buf, size_t len, uint32_t seq)
{
	static struct vcap_msg m;
	size_t text = len > VCAP_MSG_MIN + 8 ? len - VCAP_MSG_MIN - 8 : 0;

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_SET_FILTER);
	m.seq = seq;
	if (text > VCAP_FILTER_MAX)
		text = VCAP_FILTER_MAX;
	memset(m.text, 'a' + seq % 26, text);
	m.text[text] = '\0';
	return (size_t)vcap_msg_encode(&m, buf, VCAP_MSG_MAX);
}

static void roundtrips(void)
{
	uint8_t *mem = guarded(VCAP_SHM_QUEUE_SIZE);
	static _Alignas(8) uint8_t in[VCAP_MSG_MAX], out[VCAP_MSG_MAX];
	struct shm_queue prod, cons;
	unsigned long long rnd = 5;
	uint32_t sent = 0, got = 0;
	char why[128];

	CHECK_EQ(shm_queue_attach(&prod, mem, VCAP_SHM_QUEUE_SIZE), 0);
	CHECK_EQ(shm_queue_attach(&cons, mem, VCAP_SHM_QUEUE_SIZE), 0);
	shm_queue_reset(&prod);
	CHECK_EQ(shm_queue_recv(&cons, out, sizeof(out), why, sizeof(why)), 0);
	while (got < 100000) {
		/* send until full, then read some */
		for (;;) {
			size_t len = make_msg(in, 24 + test_rand(&rnd) % 9000, sent);

			if (shm_queue_send(&prod, in, len) == -EAGAIN)
				break;
			sent++;
			if (test_rand(&rnd) % 3 == 0)
				break;
		}
		for (int k = (int)(test_rand(&rnd) % 4); k >= 0 && got < sent; k--) {
			ssize_t n = shm_queue_recv(&cons, out, sizeof(out), why, sizeof(why));
			struct vcap_msg m;

			CHECK(n > 0, "recv: %zd %s", n, why);
			CHECK(vcap_msg_decode(out, (size_t)n, &m, why, sizeof(why)) == 0, "%s", why);
			CHECK_EQ(m.seq, got);
			got++;
		}
	}
	/* the largest message fits */
	{
		static struct vcap_msg m;
		ssize_t len;

		while (shm_queue_recv(&cons, out, sizeof(out), why, sizeof(why)) > 0)
			;
		vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_OPEN);
		memset(m.text, 'x', VCAP_FILTER_MAX);
		m.text[VCAP_FILTER_MAX] = '\0';
		len = vcap_msg_encode(&m, in, sizeof(in));
		CHECK_EQ(shm_queue_send(&prod, in, (size_t)len), 0);
		CHECK_EQ(shm_queue_recv(&cons, out, sizeof(out), why, sizeof(why)), len);
	}
}

/* A guest scribbles its queue: vcapd's consumer end refuses, never overruns. */
static void hostile_producer(void)
{
	uint8_t *mem = guarded(VCAP_SHM_QUEUE_SIZE);
	struct vcap_shm_queue *q = (struct vcap_shm_queue *)mem;
	uint8_t *data = mem + VCAP_SHM_QUEUE_HDR;
	static _Alignas(8) uint8_t out[VCAP_MSG_MAX];
	struct shm_queue cons;
	unsigned long long rnd = 11;
	unsigned refused = 0, empty = 0;
	char why[128];

	for (int i = 0; i < 200000; i++) {
		ssize_t n;

		CHECK_EQ(shm_queue_attach(&cons, mem, VCAP_SHM_QUEUE_SIZE), 0);
		cons.pos = (uint32_t)test_rand(&rnd) & ~7u;
		atomic_store(&q->head, (uint32_t)(cons.pos + (test_rand(&rnd) % 3 ? test_rand(&rnd) % 200000 : 0)));
		for (int k = 0; k < 8; k++)
			data[test_rand(&rnd) % VCAP_SHM_QUEUE_DATA] = (uint8_t)test_rand(&rnd);
		/* sometimes a plausible header right at the read position */
		if (i % 2) {
			struct vcap_msg_hdr h = { .magic = i % 4 ? VCAP_PROTO_MAGIC : 0,
						  .len = (uint32_t)(test_rand(&rnd) % 70000) };

			memcpy(data + (cons.pos & cons.mask),
			       &h, (cons.pos & cons.mask) + sizeof(h) <= VCAP_SHM_QUEUE_DATA ? sizeof(h) : 4);
		}
		n = shm_queue_recv(&cons, out, sizeof(out), why, sizeof(why));
		if (n < 0) {
			CHECK_EQ(n, (unsigned long long)-EBADMSG);
			CHECK(why[0], "a reason");
			refused++;
		} else if (n == 0) {
			empty++;
		} else {
			CHECK(n >= VCAP_MSG_MIN && n <= VCAP_MSG_MAX, "length in range");
		}
	}
	fprintf(stderr, "hostile producer: %u refused, %u empty\n", refused, empty);
	CHECK(refused > 1000, "garbage is refused");
}

/* A guest lies about its tail: vcapd's producer end never writes out of bounds. */
static void hostile_consumer(void)
{
	uint8_t *mem = guarded(VCAP_SHM_QUEUE_SIZE);
	struct vcap_shm_queue *q = (struct vcap_shm_queue *)mem;
	static _Alignas(8) uint8_t in[VCAP_MSG_MAX];
	struct shm_queue prod;
	unsigned long long rnd = 13;
	unsigned full = 0;

	CHECK_EQ(shm_queue_attach(&prod, mem, VCAP_SHM_QUEUE_SIZE), 0);
	for (int i = 0; i < 200000; i++) {
		size_t len = make_msg(in, 24 + test_rand(&rnd) % 5000, (uint32_t)i);
		uint32_t before = prod.pos;
		int rc;

		atomic_store(&q->tail, (uint32_t)test_rand(&rnd));
		rc = shm_queue_send(&prod, in, len);
		if (rc == -EAGAIN)
			full++;
		else
			CHECK(rc == 0 && prod.pos - before <= len + 8 + VCAP_SHM_QUEUE_DATA,
			      "send advanced sanely");
		/* the producer never trusts head from shared memory either */
		atomic_store(&q->head, (uint32_t)test_rand(&rnd));
	}
	fprintf(stderr, "hostile consumer: %u sends refused as full\n", full);
	CHECK(full > 1000, "an impossible tail means a full queue");
}

/* The producer rings only a consumer that asked (wait_seq odd), whatever else it wrote. */
static void doorbell_on_request(void)
{
	uint8_t *mem = guarded(VCAP_SHM_QUEUE_SIZE);
	static _Alignas(8) uint8_t msg[VCAP_MSG_MAX];
	struct shm_queue prod, cons;
	size_t len = make_msg(msg, 64, 1);

	CHECK(shm_queue_attach(&prod, mem, VCAP_SHM_QUEUE_SIZE) == 0, "attach");
	CHECK(shm_queue_attach(&cons, mem, VCAP_SHM_QUEUE_SIZE) == 0, "attach");
	shm_queue_reset(&prod);
	CHECK(shm_queue_send(&prod, msg, len) == 0, "send");
	CHECK(!shm_queue_peer_waiting(&prod), "nobody asked: no doorbell");
	for (uint32_t seq = 1; seq < 8; seq++) {
		atomic_store_explicit(&cons.q->wait_seq, seq, memory_order_relaxed);
		CHECK(shm_queue_peer_waiting(&prod) == (seq & 1), "wait_seq %u", seq);
	}
	atomic_store_explicit(&cons.q->wait_seq, 0xffffffffu, memory_order_relaxed);
	CHECK(shm_queue_peer_waiting(&prod), "any odd value asks");
}

static void regions(void)
{
	struct region r;
	uint64_t offs[64], lens[64];
	unsigned long long rnd = 17;
	int n = 0;

	CHECK_EQ(region_init(&r, 12345, 1 << 24), 0);
	CHECK_EQ(r.start, 16384);
	for (int i = 0; i < 100000; i++) {
		if (n < 64 && (n == 0 || test_rand(&rnd) % 2)) {
			uint64_t len = 1 + test_rand(&rnd) % (1 << 20), off;

			if (region_alloc(&r, len, &off) == 0) {
				CHECK(off % 4096 == 0 && off >= r.start && off + len <= r.end, "in range");
				for (int k = 0; k < n; k++)
					CHECK(off + len <= offs[k] || offs[k] + lens[k] <= off,
					      "allocations overlap");
				offs[n] = off;
				lens[n++] = len;
			}
		} else {
			int k = (int)(test_rand(&rnd) % (unsigned)n);

			region_free(&r, offs[k], lens[k]);
			offs[k] = offs[--n];
			lens[k] = lens[n];
		}
	}
	while (n) {
		n--;
		region_free(&r, offs[n], lens[n]);
	}
	CHECK_EQ(r.used, 0);
	CHECK_EQ(region_largest(&r), r.end - r.start); /* all coalesced back */
	region_fini(&r);
}

int main(void)
{
	doorbell_on_request();
	roundtrips();
	hostile_producer();
	hostile_consumer();
	regions();
	fprintf(stderr, "shm queue and region: all passed\n");
	return 0;
}
