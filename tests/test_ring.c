/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_ring.c - the ring on its own: wrap-around, full and empty edges,
 * hostile consumer words, malformed records, the watermark protocol, and a
 * two-thread run checking order and the counter invariant.
 *
 * Rings here sit between PROT_NONE guard pages, so any write the producer
 * made outside its ring would kill the test with SIGSEGV.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "ring.h"

struct guarded {
	uint8_t *base;
	size_t len;
	void *ring;
};

/* A ring of data_size bytes with an inaccessible page on either side. */
static struct guarded guarded_ring(uint32_t data_size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (vcap_ring_map_size(data_size) + page - 1) / page * page;
	struct guarded g;

	g.len = body + 2 * page;
	g.base = mmap(NULL, g.len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(g.base != MAP_FAILED, "mmap");
	CHECK(mprotect(g.base + page, body, PROT_READ | PROT_WRITE) == 0, "mprotect");
	/* end the ring exactly at the upper guard page */
	g.ring = g.base + page + body - vcap_ring_map_size(data_size);
	g.ring = (void *)((uintptr_t)g.ring & ~(uintptr_t)63);
	return g;
}

static void free_guarded(struct guarded *g)
{
	munmap(g->base, g->len);
}

static void fill(uint8_t *buf, uint32_t len, uint32_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seq * 31 + i);
}

static int same(const uint8_t *buf, uint32_t len, uint32_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		if (buf[i] != (uint8_t)(seq * 31 + i))
			return 0;
	return 1;
}

static struct vcap_pkt_meta meta_of(uint32_t len, uint32_t seq)
{
	return (struct vcap_pkt_meta){ .ts_ns = 1000000000ull * seq,
				       .caplen = len,
				       .wirelen = len + 4,
				       .ifindex = 7,
				       .hash = seq };
}

/* Records of odd sizes through a small ring, thousands of wraps. */
static void test_wrap(void)
{
	struct guarded g = guarded_ring(VCAP_RING_DATA_MIN);
	struct vcap_ring_writer w;
	struct vcap_ring_reader rd;
	uint8_t buf[1024];
	const struct vcap_rec *p[8];
	unsigned long long rnd = 42;
	uint32_t wseq = 0, rseq = 0, pads = 0, last_prod = 0;

	CHECK_EQ(vcap_ring_writer_init(&w, g.ring, VCAP_RING_DATA_MIN, 900, 1, 9), 0);
	CHECK_EQ(vcap_ring_reader_attach(&rd, g.ring, vcap_ring_map_size(VCAP_RING_DATA_MIN)), 0);
	while (rseq < 200000) {
		/* write a few */
		for (int k = (int)(test_rand(&rnd) % 6); k > 0; k--) {
			uint32_t len = (uint32_t)(test_rand(&rnd) % 901);
			struct vcap_pkt_meta m = meta_of(len, wseq);

			fill(buf, len, wseq);
			vcap_ring_writer_offer(&w, 1);
			if (vcap_ring_writer_put(&w, &m, buf))
				wseq++;
			else
				break; /* full: the reader must catch up */
		}
		if ((w.prod & ~w.mask) != (last_prod & ~w.mask))
			pads++;
		last_prod = w.prod;
		vcap_ring_writer_publish(&w, 0);
		/* read some */
		int n = vcap_ring_reader_peek(&rd, p, (unsigned)(test_rand(&rnd) % 8 + 1));

		CHECK(n >= 0, "peek failed: %d", n);
		for (int i = 0; i < n; i++, rseq++) {
			uint32_t len = p[i]->caplen;

			CHECK_EQ(p[i]->ts_ns, 1000000000ull * rseq);
			CHECK_EQ(p[i]->wirelen, len + 4);
			CHECK_EQ(p[i]->hash, rseq);
			CHECK_EQ(p[i]->ifindex, 7);
			CHECK(same(vcap_rec_data(p[i]), len, rseq), "payload of record %u", rseq);
			CHECK(((uintptr_t)vcap_rec_data(p[i]) & 7) == 0, "record data is 8-byte aligned");
		}
		vcap_ring_reader_release(&rd);
	}
	CHECK(pads > 100, "the test wrapped only %u times", pads);
	free_guarded(&g);
}

/* Exactly full, exactly empty, one byte either way. */
static void test_edges(void)
{
	struct guarded g = guarded_ring(VCAP_RING_DATA_MIN);
	struct vcap_ring_writer w;
	struct vcap_ring_reader rd;
	uint8_t buf[64] = { 0 };
	const struct vcap_rec *p[128];
	uint32_t per = vcap_rec_size(32), fit = VCAP_RING_DATA_MIN / per, n = 0;
	struct vcap_pkt_meta m = meta_of(32, 0);
	struct vcap_ring_counters c;

	CHECK_EQ(per, 64);
	CHECK_EQ(vcap_ring_writer_init(&w, g.ring, VCAP_RING_DATA_MIN, 64, 1, 1), 0);
	CHECK_EQ(vcap_ring_reader_attach(&rd, g.ring, vcap_ring_map_size(VCAP_RING_DATA_MIN)), 0);
	CHECK_EQ(vcap_ring_reader_peek(&rd, p, 128), 0); /* empty */
	CHECK(!vcap_ring_reader_has_data(&rd), "empty ring has no data");

	while (vcap_ring_writer_offer(&w, 1), vcap_ring_writer_put(&w, &m, buf))
		n++;
	CHECK_EQ(n, fit); /* 64 records of 64 bytes fill 4096 exactly */
	CHECK_EQ(w.cnt.dropped, 1);
	vcap_ring_writer_publish(&w, 0);
	CHECK_EQ(vcap_ring_writer_used(&w), VCAP_RING_DATA_MIN);

	/* read all but release none: still full */
	CHECK_EQ(vcap_ring_reader_peek(&rd, p, 128), fit);
	vcap_ring_writer_offer(&w, 1);
	CHECK(!vcap_ring_writer_put(&w, &m, buf), "nothing released yet");
	/* release everything with one store: room for exactly `fit` again */
	vcap_ring_reader_release(&rd);
	n = 0;
	while (vcap_ring_writer_offer(&w, 1), vcap_ring_writer_put(&w, &m, buf))
		n++;
	CHECK_EQ(n, fit);
	vcap_ring_writer_publish(&w, 0);
	vcap_ring_reader_counters(&rd, &c);
	CHECK_EQ(c.received, c.delivered + c.dropped + c.filtered);
	CHECK_EQ(c.delivered, 2 * fit);
	CHECK_EQ(c.dropped, 3);
	CHECK_EQ(c.filtered, 0);
	CHECK_EQ(c.shunted, 0);

	/* rejected by a filter, dropped by a rule: both filtered, the second also shunted */
	vcap_ring_writer_offer(&w, 5);
	vcap_ring_writer_filtered(&w, 2);
	vcap_ring_writer_shunted(&w, 3);
	vcap_ring_writer_publish(&w, 0);
	vcap_ring_reader_counters(&rd, &c);
	CHECK_EQ(c.received, c.delivered + c.dropped + c.filtered);
	CHECK_EQ(c.filtered, 5);
	CHECK_EQ(c.shunted, 3);

	/* snaplen is enforced and marked */
	free_guarded(&g);
	g = guarded_ring(VCAP_RING_DATA_MIN);
	CHECK_EQ(vcap_ring_writer_init(&w, g.ring, VCAP_RING_DATA_MIN, 16, 1, 1), 0);
	CHECK_EQ(vcap_ring_reader_attach(&rd, g.ring, vcap_ring_map_size(VCAP_RING_DATA_MIN)), 0);
	vcap_ring_writer_put(&w, &m, buf);
	vcap_ring_writer_publish(&w, 0);
	CHECK_EQ(vcap_ring_reader_peek(&rd, p, 1), 1);
	CHECK_EQ(p[0]->caplen, 16);
	CHECK_EQ(p[0]->wirelen, 36);

	/* bad geometry is refused */
	CHECK(vcap_ring_writer_init(&w, g.ring, 5000, 64, 1, 1) < 0, "size not a power of two");
	CHECK(vcap_ring_writer_init(&w, g.ring, 2048, 64, 1, 1) < 0, "size below minimum");
	CHECK(vcap_ring_writer_init(&w, g.ring, 4096, 2000, 1, 1) < 0, "snaplen over a quarter");
	free_guarded(&g);
}

/*
 * The consumer line holds garbage, rewritten between every put: the
 * producer must stay inside its ring (guard pages) and treat nonsense as a
 * full ring, never as more room than there is.
 */
static void test_hostile_consumer(void)
{
	struct guarded g = guarded_ring(VCAP_RING_DATA_MIN);
	struct vcap_ring_writer w;
	struct vcap_ring *r = g.ring;
	uint8_t buf[512] = { 0 };
	unsigned long long rnd = 7;

	CHECK_EQ(vcap_ring_writer_init(&w, g.ring, VCAP_RING_DATA_MIN, 512, 1, 1), 0);
	for (int i = 0; i < 1000000; i++) {
		uint32_t len = (uint32_t)(test_rand(&rnd) % 513);
		struct vcap_pkt_meta m = meta_of(len, (uint32_t)i);
		uint32_t before = w.prod;

		atomic_store(&r->c.cons, (uint32_t)test_rand(&rnd));
		atomic_store(&r->c.wait_seq, (uint32_t)test_rand(&rnd));
		atomic_store(&r->c.seen_pkts, (uint32_t)test_rand(&rnd));
		atomic_store(&r->c.watermark, (uint32_t)test_rand(&rnd));
		atomic_store(&r->c.timeout_ms, (uint32_t)test_rand(&rnd));
		/* also scribble on lines the producer owns: it must not read them back */
		atomic_store(&r->p.prod, (uint32_t)test_rand(&rnd));
		atomic_store(&r->s.delivered, test_rand(&rnd));
		vcap_ring_writer_offer(&w, 1);
		if (vcap_ring_writer_put(&w, &m, buf))
			CHECK(w.prod - before <= 2 * vcap_rec_size(512), "advanced by one record");
		CHECK(w.free_cached <= VCAP_RING_DATA_MIN, "never more room than the ring");
		CHECK(vcap_ring_writer_used(&w) <= VCAP_RING_DATA_MIN, "used is clamped");
		vcap_ring_writer_publish(&w, (uint64_t)i * 1000);
		CHECK_EQ(w.cnt.received, w.cnt.delivered + w.cnt.dropped);
		CHECK(w.prod - w.pub_prod == 0, "published what it wrote");
	}
	/* the counters vcapd reports are its own, whatever the shared line says */
	CHECK_EQ(w.cnt.received, 1000000);
	free_guarded(&g);
}

/* A producer that breaks the layout gets -EPROTO, never a wild read. */
static void test_malformed_records(void)
{
	struct guarded g = guarded_ring(VCAP_RING_DATA_MIN);
	struct vcap_ring *r = g.ring;
	struct vcap_ring_writer w;
	struct vcap_ring_reader rd;
	struct vcap_rec *rec = (struct vcap_rec *)r->data;
	const struct vcap_rec *p[4];
	const uint32_t bad_len[] = { 0, 4, 12, 4104, 0x80000000u };

	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		CHECK_EQ(vcap_ring_writer_init(&w, g.ring, VCAP_RING_DATA_MIN, 64, 1, 1), 0);
		CHECK_EQ(vcap_ring_reader_attach(&rd, g.ring, vcap_ring_map_size(VCAP_RING_DATA_MIN)),
			 0);
		rec->len = bad_len[i];
		rec->flags = 0;
		rec->hdr_len = sizeof(*rec);
		rec->caplen = 8;
		atomic_store(&r->p.prod, 64);
		CHECK_EQ(vcap_ring_reader_peek(&rd, p, 4), (unsigned long long)-EPROTO);
	}
	/* caplen past the record */
	CHECK_EQ(vcap_ring_reader_attach(&rd, g.ring, vcap_ring_map_size(VCAP_RING_DATA_MIN)), 0);
	rec->len = 64;
	rec->caplen = 1000;
	CHECK_EQ(vcap_ring_reader_peek(&rd, p, 4), (unsigned long long)-EPROTO);
	/* a header this reader does not understand is refused at attach */
	r->info.version = 99;
	CHECK_EQ(vcap_ring_reader_attach(&rd, g.ring, vcap_ring_map_size(VCAP_RING_DATA_MIN)),
		 (unsigned long long)-EPROTO);
	r->info.version = VCAP_RING_VERSION;
	CHECK_EQ(vcap_ring_reader_attach(&rd, g.ring, 100), (unsigned long long)-EPROTO);
	free_guarded(&g);
}

/* The wake-up protocol: watermark, timeout, once per request. */
static void test_watermark(void)
{
	struct guarded g = guarded_ring(1 << 16);
	struct vcap_ring_writer w;
	struct vcap_ring_reader rd;
	struct vcap_pkt_meta m = meta_of(32, 0);
	uint8_t buf[32] = { 0 };
	const struct vcap_rec *p[64];
	const uint64_t ms = 1000000;

	CHECK_EQ(vcap_ring_writer_init(&w, g.ring, 1 << 16, 64, 1, 1), 0);
	CHECK_EQ(vcap_ring_reader_attach(&rd, g.ring, vcap_ring_map_size(1 << 16)), 0);

	CHECK(!vcap_ring_writer_publish(&w, 0), "nobody waits");
	CHECK(vcap_ring_reader_arm(&rd, 10, 50), "empty ring: may sleep");
	for (int i = 0; i < 9; i++)
		vcap_ring_writer_put(&w, &m, buf);
	CHECK(!vcap_ring_writer_publish(&w, 1 * ms), "9 < watermark 10");
	CHECK(!vcap_ring_writer_publish(&w, 40 * ms), "timeout not reached");
	vcap_ring_writer_put(&w, &m, buf);
	CHECK(vcap_ring_writer_publish(&w, 41 * ms), "watermark reached: signal");
	CHECK(!vcap_ring_writer_publish(&w, 42 * ms), "signal once per request");
	CHECK(vcap_ring_reader_disarm(&rd), "the consumer learns a token is in flight");
	CHECK(!vcap_ring_reader_disarm(&rd), "disarming twice is a no-op");

	/* timeout: one packet waits, 50 ms later the consumer is woken */
	CHECK_EQ(vcap_ring_reader_peek(&rd, p, 64), 10);
	vcap_ring_reader_release(&rd);
	CHECK(vcap_ring_reader_arm(&rd, 10, 50), "empty again");
	vcap_ring_writer_put(&w, &m, buf);
	CHECK(!vcap_ring_writer_publish(&w, 100 * ms), "1 packet, timer starts");
	CHECK(!vcap_ring_writer_publish(&w, 149 * ms), "49 ms");
	CHECK(w.pending_deadline == 150 * ms, "deadline for the capture loop's sleep");
	CHECK(vcap_ring_writer_publish(&w, 150 * ms), "50 ms: signal");

	/* arming with data already there must refuse to sleep */
	vcap_ring_reader_disarm(&rd);
	vcap_ring_writer_put(&w, &m, buf);
	vcap_ring_writer_publish(&w, 200 * ms);
	CHECK(vcap_ring_reader_peek(&rd, p, 64) == 2, "two waiting");
	vcap_ring_writer_put(&w, &m, buf);
	vcap_ring_writer_publish(&w, 201 * ms);
	CHECK(!vcap_ring_reader_arm(&rd, 1, 10), "data arrived: do not sleep");
	CHECK(!(atomic_load(&rd.r->c.wait_seq) & 1), "request withdrawn");

	CHECK_EQ(vcap_ring_reader_peek(&rd, p, 64), 1);

	/* a watermark the ring cannot hold (large packets): half full wakes */
	{
		struct vcap_pkt_meta big = meta_of(64, 0);
		uint8_t frame[64] = { 0 };
		uint32_t rec = vcap_rec_size(64);

		vcap_ring_reader_release(&rd);
		CHECK(vcap_ring_reader_arm(&rd, 100000, 1000), "empty: may sleep");
		while ((w.prod - rd.cons) + rec <= (1u << 16) / 2) {
			vcap_ring_writer_put(&w, &big, frame);
			CHECK(!vcap_ring_writer_publish(&w, 300 * ms), "up to half: asleep");
		}
		vcap_ring_writer_put(&w, &big, frame);
		CHECK(vcap_ring_writer_publish(&w, 300 * ms), "past half full: signal");
		CHECK_EQ(vcap_ring_reader_peek(&rd, p, 64), 64);
		while (vcap_ring_reader_peek(&rd, p, 64) > 0)
			;
		vcap_ring_reader_release(&rd);
	}

	/* end of stream wakes nobody by itself but stops a sleep */
	vcap_ring_writer_set_state(&w, VCAP_RING_STATE_EOF);
	CHECK(!vcap_ring_reader_arm(&rd, 1, 10), "ended ring: do not sleep");
	CHECK_EQ(vcap_ring_reader_state(&rd), VCAP_RING_STATE_EOF);
	free_guarded(&g);
}

/*
 * A producer mid-burst publishes without waking (flush), unless the ring is
 * more than half full (roomy); the next publish wakes as usual.
 */
static void test_flush_holds_wakeups(void)
{
	const uint32_t size = 1 << 16;
	struct guarded g = guarded_ring(size);
	struct vcap_ring_writer w;
	struct vcap_ring_reader rd;
	struct vcap_pkt_meta m = meta_of(64, 0);
	uint8_t buf[64] = { 0 };
	const struct vcap_rec *p[64];
	uint32_t rec = vcap_rec_size(64);

	CHECK_EQ(vcap_ring_writer_init(&w, g.ring, size, 64, 1, 1), 0);
	CHECK_EQ(vcap_ring_reader_attach(&rd, g.ring, vcap_ring_map_size(size)), 0);
	CHECK(vcap_ring_reader_arm(&rd, 1, 10), "empty ring: may sleep");
	for (int i = 0; i < 20; i++)
		vcap_ring_writer_put(&w, &m, buf);
	vcap_ring_writer_flush(&w);
	CHECK(!atomic_load(&w.r->p.signalled), "flush wakes nobody");
	CHECK_EQ(vcap_ring_reader_peek(&rd, p, 64), 20); /* but the records are out */
	CHECK(vcap_ring_writer_roomy(&w), "20 records: roomy");

	/* the reader sleeps again; the writer fills past half the ring */
	vcap_ring_reader_release(&rd);
	CHECK(vcap_ring_reader_arm(&rd, 1, 10), "empty again");
	while ((w.prod - 20 * rec) + rec <= size / 2)
		vcap_ring_writer_put(&w, &m, buf);
	CHECK(vcap_ring_writer_roomy(&w), "exactly half in use still counts as roomy");
	vcap_ring_writer_put(&w, &m, buf);
	CHECK(!vcap_ring_writer_roomy(&w), "past half: not roomy (cons re-read)");
	CHECK(vcap_ring_writer_publish(&w, 0), "the next publish wakes the sleeper");
	free_guarded(&g);
}

/* The sizing promise: a 128 MiB ring holds over a million 64-byte packets. */
static void test_capacity(void)
{
	const uint32_t size = 128u << 20;
	void *mem = aligned_alloc(64, vcap_ring_map_size(size));
	struct vcap_ring_writer w;
	uint8_t frame[64] = { 0 };
	struct vcap_pkt_meta m = meta_of(64, 0);
	uint64_t n = 0;

	CHECK(mem, "128 MiB");
	CHECK_EQ(vcap_ring_writer_init(&w, mem, size, 65535, 1, 1), 0);
	while (vcap_ring_writer_put(&w, &m, frame))
		n++;
	fprintf(stderr, "capacity: a 128 MiB ring holds %llu 64-byte packets\n",
		(unsigned long long)n);
	CHECK(n >= 1000000, "only %llu", (unsigned long long)n);
	CHECK_EQ(n, size / vcap_rec_size(64));
	free(mem);
}

/* Producer and consumer threads, a small ring, many wraps. */
#define THREAD_PKTS 3000000u

struct pair {
	struct vcap_ring_writer w;
	struct vcap_ring_reader rd;
	atomic_bool done;
};

static void *producer(void *arg)
{
	struct pair *pr = arg;
	uint8_t buf[256];
	uint32_t seq = 0;

	while (seq < THREAD_PKTS) {
		for (int k = 0; k < 32 && seq < THREAD_PKTS; k++, seq++) {
			uint32_t len = 8 + seq % 200;
			struct vcap_pkt_meta m = meta_of(len, seq);

			memcpy(buf, &seq, sizeof(seq));
			fill(buf + 4, len - 4, seq);
			vcap_ring_writer_offer(&pr->w, 1);
			vcap_ring_writer_put(&pr->w, &m, buf);
		}
		vcap_ring_writer_publish(&pr->w, 0);
	}
	atomic_store(&pr->done, true);
	return NULL;
}

static void test_threads(void)
{
	struct guarded g = guarded_ring(1 << 16);
	struct pair pr = { 0 };
	pthread_t t;
	const struct vcap_rec *p[64];
	struct vcap_ring_counters c;
	uint64_t got = 0;
	uint32_t last = 0;
	bool first = true;

	CHECK_EQ(vcap_ring_writer_init(&pr.w, g.ring, 1 << 16, 256, 1, 1), 0);
	CHECK_EQ(vcap_ring_reader_attach(&pr.rd, g.ring, vcap_ring_map_size(1 << 16)), 0);
	CHECK_EQ(pthread_create(&t, NULL, producer, &pr), 0);
	for (;;) {
		bool done = atomic_load(&pr.done);
		int n = vcap_ring_reader_peek(&pr.rd, p, 64);

		CHECK(n >= 0, "peek: %d", n);
		for (int i = 0; i < n; i++) {
			uint32_t seq;

			memcpy(&seq, vcap_rec_data(p[i]), sizeof(seq));
			CHECK(first || seq > last, "order: %u after %u", seq, last);
			CHECK_EQ(p[i]->caplen, 8 + seq % 200);
			CHECK(same(vcap_rec_data(p[i]) + 4, p[i]->caplen - 4, seq), "payload of %u", seq);
			last = seq;
			first = false;
		}
		got += (uint64_t)n;
		vcap_ring_reader_release(&pr.rd);
		if (done && n == 0 && !vcap_ring_reader_has_data(&pr.rd))
			break;
	}
	pthread_join(t, NULL);
	vcap_ring_reader_counters(&pr.rd, &c);
	CHECK_EQ(c.received, THREAD_PKTS);
	CHECK_EQ(c.delivered, got);
	CHECK_EQ(c.received, c.delivered + c.dropped + c.filtered);
	fprintf(stderr, "threads: %llu delivered, %llu dropped\n", (unsigned long long)c.delivered,
		(unsigned long long)c.dropped);
	free_guarded(&g);
}

int main(void)
{
	test_wrap();
	test_edges();
	test_hostile_consumer();
	test_malformed_records();
	test_watermark();
	test_flush_holds_wakeups();
	test_capacity();
	test_threads();
	fprintf(stderr, "ring: all passed\n");
	return 0;
}
