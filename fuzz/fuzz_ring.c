/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_ring.c - both ends of a packet ring (ring/ring_writer.c,
 * ring/ring_reader.c) with the shared memory under the fuzzer's control.
 *
 * Attacks: the writer (vcapd's capture thread) against a hostile consumer,
 * who may write anything to the consumer line (cons, wait_seq, seen_pkts,
 * watermark, timeout_ms) and even to the lines vcapd owns, between any two
 * of vcapd's calls; and the reader (libvcap) against hostile records and
 * indices.  The input is a script of puts, publishes, state changes, an
 * honest reader's peeks, releases and wait requests, and hostile writes.
 * The ring is allocated to its exact size (header + data), and each packet
 * to its exact caplen, so AddressSanitizer sees any access outside them.
 *
 * Asserts, beyond "no crash and nothing outside the ring":
 *   - put writes nothing but data: the 256-byte header is unchanged by it;
 *   - counters: the writer's private mirror (what `vcapctl status` reads)
 *     always holds exactly the model's received, delivered, dropped and
 *     filtered after a publish, so received == delivered + dropped +
 *     filtered; the shared line too, unless the consumer scribbled on it;
 *   - publish signals only for an odd wait_seq, never twice in a row for
 *     the same one, only with packets pending past seen_pkts, and either
 *     at the (clamped) watermark, past half full, or no sooner than the
 *     (clamped) timeout after it first saw the request; and it never fails
 *     to signal when one of these holds (a lost wake-up);
 *     what it signalled is recorded in the prod line's `signalled`;
 *   - vcap_ring_writer_used() never exceeds the ring;
 *   - peek returns -EPROTO or packets whose bytes lie inside the data area;
 *   - while the consumer has behaved: put fails exactly when the ring lacks
 *     room for the record (and its pad), and the reader gets every
 *     published packet once, in order, cut to snaplen, with its metadata
 *     and bytes intact, and never a packet not yet published;
 *   - writer_init and reader_attach accept exactly the geometries
 *     vcap_ring.h allows.
 */
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "ring.h"

#define OPS_MAX 512
#define TRACK 4096 /* packets in flight the model remembers (a ring holds <= 512 here) */

struct sent {
	uint32_t caplen; /* after the cut to snaplen */
	uint32_t wirelen;
	uint64_t ts_ns;
	uint32_t ifindex, hash;
	uint32_t seed; /* the bytes: pattern(seed) */
};

static struct {
	struct vcap_ring *r;
	size_t map_size;
	uint32_t size, snaplen;
	struct vcap_ring_writer w;
	struct vcap_ring_stats mirror;
	struct vcap_ring_reader rd;
	struct vcap_ring_counters cnt; /* the model's */
	uint64_t now;

	/* packets: [released, peeked) read, [peeked, published) readable, [published, put) not yet */
	struct sent sent[TRACK];
	uint64_t released, peeked, published, put;
	bool tainted;       /* the consumer lied: no promise about what it reads */
	bool cons_lied;     /* ... about cons: no promise about drops either */
	bool stats_scribbled;

	/* publish's wait-request bookkeeping, as vcap_ring.h specifies it */
	uint32_t signalled;    /* last odd wait_seq signalled (0: none yet) */
	bool armed;            /* a request below the watermark is being timed */
	uint64_t armed_at;     /* since when (now of the publish that first saw it) */
	uint32_t armed_to_ms;  /* its clamped timeout then */
} t;

/* Packet bytes that depend on the packet (seed) and the position, a word at a time. */
FUZZ_NOTRACE static void pattern(uint8_t *buf, uint32_t seed, uint32_t len)
{
	uint32_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w = ((uint64_t)seed << 40 | i) * 0x9e3779b97f4a7c15ull;

		memcpy(buf + i, &w, sizeof(w));
	}
	for (; i < len; i++)
		buf[i] = (uint8_t)(seed * 131u + i);
}

static uint32_t clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t to_ns(uint32_t ms)
{
	return (uint64_t)ms * 1000000u;
}

static void check_counters(void)
{
	struct vcap_ring_counters c;

	vcap_ring_stats_read(&t.mirror, &c);
	FUZZ_CHECK(c.received == t.cnt.received && c.delivered == t.cnt.delivered &&
			   c.dropped == t.cnt.dropped && c.filtered == t.cnt.filtered,
		   "mirror %llu/%llu/%llu/%llu, model %llu/%llu/%llu/%llu",
		   (unsigned long long)c.received, (unsigned long long)c.delivered,
		   (unsigned long long)c.dropped, (unsigned long long)c.filtered,
		   (unsigned long long)t.cnt.received, (unsigned long long)t.cnt.delivered,
		   (unsigned long long)t.cnt.dropped, (unsigned long long)t.cnt.filtered);
	FUZZ_CHECK(c.received == c.delivered + c.dropped + c.filtered, "received != the rest");
	FUZZ_CHECK(c.shunted == t.cnt.shunted && c.shunted <= c.filtered,
		   "shunted %llu, model %llu, filtered %llu", (unsigned long long)c.shunted,
		   (unsigned long long)t.cnt.shunted, (unsigned long long)c.filtered);
	if (!t.stats_scribbled) {
		struct vcap_ring_counters s;

		vcap_ring_stats_read(&t.r->s, &s);
		FUZZ_CHECK(!memcmp(&s, &c, sizeof(s)), "shared counters differ from the mirror");
	}
}

static void put(struct fuzz_in *in)
{
	static uint8_t hdr_before[VCAP_RING_HDR_SIZE];
	struct vcap_pkt_meta m = { .ts_ns = t.now };
	uint32_t caplen, cut, seed, need, off, tail, total, cons, used_before, cached;
	uint16_t raw;
	uint8_t *bytes, how;
	bool ok;

	/* one read per statement: the order within an initializer is unspecified */
	raw = fuzz_u16(in);
	m.ifindex = fuzz_u8(in);
	m.hash = fuzz_u32(in);
	seed = fuzz_u16(in);
	how = fuzz_u8(in);
	caplen = raw & 0x8000 ? raw & 0x7fff : raw % (t.snaplen + 64);
	m.caplen = caplen;
	m.wirelen = how & 1 ? fuzz_u32(in) : caplen + (how >> 1);
	cut = caplen < t.snaplen ? caplen : t.snaplen;
	need = vcap_rec_size(cut);
	off = t.w.prod & (t.size - 1);
	tail = t.size - off;
	total = need <= tail ? need : tail + need;
	cons = atomic_load(&t.r->c.cons);
	bytes = malloc(caplen ? caplen : 1);
	FUZZ_CHECK(bytes, "malloc");
	/* only what the cut to snaplen lets the writer read; all caplen bytes are its to read */
	pattern(bytes, seed, cut);
	memcpy(hdr_before, t.r, sizeof(hdr_before));
	used_before = t.w.prod - cons;
	cached = t.w.free_cached;
	ok = vcap_ring_writer_put(&t.w, &m, bytes);
	vcap_ring_writer_offer(&t.w, 1);
	free(bytes);

	FUZZ_CHECK(!memcmp(hdr_before, t.r, sizeof(hdr_before)), "put wrote into the header");
	/*
	 * Whatever cons holds: what fits the space the writer knows free goes
	 * in; otherwise it reads cons (A2) and a cons outside [prod - size,
	 * prod] counts as a full ring, any other as what it says.
	 */
	if (total <= cached)
		FUZZ_CHECK(ok, "put of %u bytes refused with %u known free", total, cached);
	else
		FUZZ_CHECK(ok == (used_before <= t.size && total <= t.size - used_before),
			   "put of %u bytes returned %d with cons %u, prod %u", total, ok, cons,
			   t.w.prod);
	/* and with an honest consumer, the space it knows free is never more than is */
	if (!t.cons_lied)
		FUZZ_CHECK(ok == (used_before <= t.size && total <= t.size - used_before),
			   "put of %u bytes (%u with the pad) returned %d with %u of %u used", need,
			   total, ok, used_before, t.size);
	t.cnt.received++;
	if (!ok) {
		t.cnt.dropped++;
		return;
	}
	t.cnt.delivered++;
	if (t.put - t.released == TRACK) {
		t.tainted = true; /* more than tracked; cannot happen in rings this small */
		return;
	}
	t.sent[t.put++ % TRACK] = (struct sent){ .caplen = cut, .wirelen = m.wirelen,
						 .ts_ns = m.ts_ns, .ifindex = m.ifindex,
						 .hash = m.hash, .seed = seed };
}

/* One publish (or set_state's) at now, checked against vcap_ring.h's rules. */
static void publish(bool via_state, uint32_t state, uint64_t now)
{
	struct vcap_ring_cons *c = &t.r->c;
	uint32_t seq = atomic_load(&c->wait_seq), seen = atomic_load(&c->seen_pkts);
	uint32_t wm = clamp(atomic_load(&c->watermark), 1, t.size / sizeof(struct vcap_rec));
	uint32_t to = clamp(atomic_load(&c->timeout_ms), 1, VCAP_RING_TIMEOUT_MAX_MS);
	uint32_t pending = t.w.pkts - seen;
	uint32_t used = t.w.prod - atomic_load(&c->cons);
	/*
	 * more than half the ring in use, as the writer sees it: it re-reads
	 * cons (clamped) only when its cached free space is under half
	 */
	bool full = t.w.free_cached < t.size / 2 && t.size - (used > t.size ? t.size : used) < t.size / 2;
	bool asked = (seq & 1) && seq != t.signalled && pending;
	bool due = asked && (pending >= wm || full ||
			     (t.armed && now >= t.armed_at + to_ns(t.armed_to_ms)));
	uint32_t signalled_before = t.w.signalled_seq;
	bool sig;

	if (via_state) {
		vcap_ring_writer_set_state(&t.w, state);
		/*
		 * set_state's own publish does not say whether it granted the
		 * request (its callers signal anyway); the writer's record does.
		 */
		sig = t.w.signalled_seq != signalled_before;
		FUZZ_CHECK(atomic_load(&t.r->p.state) == state, "state not published");
	} else {
		sig = vcap_ring_writer_publish(&t.w, now);
	}
	t.published = t.put;
	check_counters();
	FUZZ_CHECK(atomic_load(&t.r->p.prod) == t.w.prod || t.tainted,
		   "prod %u published as %u", t.w.prod, atomic_load(&t.r->p.prod));
	FUZZ_CHECK(vcap_ring_writer_used(&t.w) <= t.size, "used %u of %u",
		   vcap_ring_writer_used(&t.w), t.size);

	if (sig) {
		FUZZ_CHECK(seq & 1, "signalled for an even wait_seq %u", seq);
		FUZZ_CHECK(seq != t.signalled, "signalled wait_seq %u twice", seq);
		FUZZ_CHECK(pending, "signalled with nothing pending");
		FUZZ_CHECK(pending >= wm || full ||
				   (t.armed && now >= t.armed_at + to_ns(t.armed_to_ms)),
			   "signalled %u pending below watermark %u, under half full, before the timeout",
			   pending, wm);
		FUZZ_CHECK(atomic_load(&t.r->p.signalled) == seq, "signalled not recorded");
		t.signalled = seq;
		t.armed = false;
	} else {
		FUZZ_CHECK(!due, "lost wake-up: wait_seq %u, %u pending, watermark %u",
			   seq, pending, wm);
		if (asked && !t.armed) {
			/* the first look at a request below its watermark starts its clock */
			t.armed = true;
			t.armed_at = now;
			t.armed_to_ms = to;
		} else if (!asked) {
			t.armed = false;
		}
	}
}

/* The honest reader takes up to n packets, checks them, maybe releases. */
static void read_some(struct fuzz_in *in)
{
	const struct vcap_rec *pkts[16];
	unsigned n = 1 + fuzz_u8(in) % 16;
	const uint8_t *lo = t.r->data, *hi = t.r->data + t.size;
	int rc = vcap_ring_reader_peek(&t.rd, pkts, n);

	FUZZ_CHECK(rc == -EPROTO || (rc >= 0 && (unsigned)rc <= n), "peek returned %d", rc);
	if (rc == -EPROTO) {
		FUZZ_CHECK(t.tainted, "an honest writer's ring is broken");
		return;
	}
	for (int i = 0; i < rc; i++) {
		const struct vcap_rec *p = pkts[i];
		const uint8_t *data = vcap_rec_data(p);

		FUZZ_CHECK(data >= lo && data <= hi && p->caplen <= (size_t)(hi - data),
			   "packet of %u bytes outside the data area", p->caplen);
		if (t.tainted)
			continue;
		FUZZ_CHECK(t.peeked < t.published, "read a packet not yet published");
		{
			static uint8_t want[VCAP_RING_DATA_MIN << 2]; /* > any snaplen here */
			const struct sent *s = &t.sent[t.peeked++ % TRACK];

			FUZZ_CHECK(p->caplen == s->caplen && p->wirelen == s->wirelen &&
					   p->ts_ns == s->ts_ns && p->ifindex == s->ifindex &&
					   p->hash == s->hash,
				   "packet %llu's metadata changed", (unsigned long long)t.peeked - 1);
			pattern(want, s->seed, p->caplen);
			FUZZ_CHECK(!memcmp(data, want, p->caplen), "packet %llu's bytes changed",
				   (unsigned long long)t.peeked - 1);
		}
	}
	/* it reads up to the prod it cached, but an empty answer must be current */
	if (!t.tainted && rc == 0)
		FUZZ_CHECK(t.peeked == t.published, "peek found nothing with %llu published unread",
			   (unsigned long long)(t.published - t.peeked));
	if (fuzz_u8(in) & 1) {
		vcap_ring_reader_release(&t.rd);
		t.released = t.peeked;
		/* a reader misled by scribbled records releases what it wrongly read */
		t.cons_lied |= t.tainted;
	}
}

/* The consumer writes its own line: honest-looking values or lies. */
static void write_cons_line(struct fuzz_in *in)
{
	struct vcap_ring_cons *c = &t.r->c;
	uint8_t which = fuzz_u8(in);

	if (which & 1) {
		uint8_t how = fuzz_u8(in);
		uint32_t v = how & 1 ? fuzz_u32(in)
				     : t.w.prod + (uint32_t)(int32_t)(int16_t)fuzz_u16(in) *
							  (how & 2 ? 8u : 1u);

		atomic_store(&c->cons, v);
		t.tainted = t.cons_lied = true;
	}
	if (which & 2)
		atomic_store(&c->wait_seq, which & 0x20 ? atomic_load(&c->wait_seq) + 1 : fuzz_u32(in));
	if (which & 4)
		atomic_store(&c->seen_pkts, which & 0x40 ? t.w.pkts - fuzz_u8(in) : fuzz_u32(in));
	if (which & 8)
		atomic_store(&c->watermark, which & 0x80 ? fuzz_u8(in) : fuzz_u32(in));
	if (which & 16)
		atomic_store(&c->timeout_ms, fuzz_u32(in));
}

/* The consumer writes a word into a line vcapd owns (info, prod, stats). */
static void write_owned_line(struct fuzz_in *in)
{
	uint8_t which = fuzz_u8(in);
	uint32_t at = (uint32_t)(which % 48) * 4, v = fuzz_u32(in);
	uint8_t *line = (uint8_t *)t.r + (at / 64 == 0 ? 0 : at / 64 == 1 ? 0x40 : 0xc0) + at % 64;

	memcpy(line, &v, sizeof(v));
	if (at / 64 == 2)
		t.stats_scribbled = true;
	else
		t.tainted = true; /* the reader believes prod and info */
}

/* The fuzzer writes a record header, or raw bytes, into the data area. */
static void write_data(struct fuzz_in *in)
{
	uint8_t how = fuzz_u8(in);
	uint32_t off = (how & 1 ? t.rd.cons + (uint32_t)fuzz_u8(in) * 8 : fuzz_u16(in)) & (t.size - 1);

	if (how & 2) {
		struct vcap_rec rec = { 0 };
		uint32_t room = t.size - off;

		rec.len = fuzz_u32(in);
		rec.flags = fuzz_u16(in);
		rec.hdr_len = fuzz_u16(in);
		rec.caplen = fuzz_u32(in);
		memcpy(t.r->data + off, &rec, room < sizeof(rec) ? room : sizeof(rec));
	} else {
		uint32_t len = fuzz_u8(in);

		fuzz_bytes(in, t.r->data + off, len < t.size - off ? len : t.size - off);
	}
	t.tainted = true;
}

static void reattach(void)
{
	int rc;

	rc = vcap_ring_reader_attach(&t.rd, t.r, t.map_size);
	if (rc) {
		/* a refused attach leaves the reader as it was: reading goes on */
		FUZZ_CHECK(rc == -EPROTO && t.tainted, "attach to a good ring: %d", rc);
		return;
	}
	FUZZ_CHECK(t.rd.size == t.size || t.tainted, "attached with another size");
	/* what was peeked and not released comes again */
	t.peeked = t.released;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint32_t data_size = 1u << (12 + fuzz_u8(&in) % 3); /* 4, 8 or 16 KiB */
	uint32_t probe_size = fuzz_u32(&in), probe_snap = fuzz_u32(&in);
	_Alignas(64) static uint8_t scratch[VCAP_RING_HDR_SIZE];
	struct vcap_ring_writer pw;
	bool valid;
	int rc;

	/* init writes only the header: any geometry may be tried on 256 bytes */
	/* a record of snaplen bytes, rounded up to 8, fits in a quarter (a multiple of 8) */
	valid = probe_size && !(probe_size & (probe_size - 1)) && probe_size >= VCAP_RING_DATA_MIN &&
		probe_size <= VCAP_RING_DATA_MAX && probe_snap &&
		(uint64_t)probe_snap + sizeof(struct vcap_rec) <= probe_size / 4;
	rc = vcap_ring_writer_init(&pw, scratch, probe_size, probe_snap, 1, 0);
	FUZZ_CHECK((rc == 0) == valid, "init(%u, %u) returned %d", probe_size, probe_snap, rc);
	if (!rc) {
		struct vcap_ring_reader prd;

		/* ... and a reader must refuse a map too small for it */
		FUZZ_CHECK(vcap_ring_reader_attach(&prd, scratch, VCAP_RING_HDR_SIZE) == -EPROTO,
			   "attached %u bytes of ring in a 256-byte map", probe_size);
	}

	memset(&t, 0, sizeof(t));
	t.size = data_size;
	t.snaplen = 1 + fuzz_u16(&in) % (data_size / 4 - sizeof(struct vcap_rec)); /* up to the largest */
	t.map_size = vcap_ring_map_size(data_size);
	t.r = aligned_alloc(64, t.map_size);
	FUZZ_CHECK(t.r, "aligned_alloc");
	memset(t.r, 0xa5, t.map_size); /* whatever was in the memory before */
	FUZZ_CHECK(vcap_ring_writer_init(&t.w, t.r, data_size, t.snaplen, 1, 7) == 0, "init");
	t.w.mirror = &t.mirror;
	memset(&t.mirror, 0, sizeof(t.mirror));
	FUZZ_CHECK(vcap_ring_reader_attach(&t.rd, t.r, t.map_size) == 0, "attach");
	t.now = 1;

	for (int ops = 0; ops < OPS_MAX && !fuzz_done(&in); ops++) {
		switch (fuzz_u8(&in) % 16) {
		case 0:
		case 1:
		case 2:
			put(&in);
			break;
		case 3: { /* a consumer's filter rejected n packets, or its rules dropped them */
			uint8_t b = fuzz_u8(&in);
			uint32_t n = b % 8;

			if (b & 8) {
				vcap_ring_writer_shunted(&t.w, n);
				t.cnt.shunted += n;
			} else {
				vcap_ring_writer_filtered(&t.w, n);
			}
			vcap_ring_writer_offer(&t.w, n);
			t.cnt.filtered += n;
			t.cnt.received += n;
			break;
		}
		case 4:
		case 5: {
			uint8_t how = fuzz_u8(&in);

			t.now += how & 1 ? (uint64_t)fuzz_u16(&in) * 100000u : how >> 1;
			publish(false, 0, t.now);
			break;
		}
		case 6: /* the source ended or went away; set_state publishes at time 0 */
			publish(true, 1 + fuzz_u8(&in) % 2, 0);
			break;
		case 7:
		case 8:
			read_some(&in);
			break;
		case 9: { /* the honest reader goes to sleep, or wakes up */
			uint8_t how = fuzz_u8(&in);

			if (how & 1) {
				uint32_t wm = fuzz_u8(&in), to = fuzz_u16(&in);

				vcap_ring_reader_arm(&t.rd, wm, to);
				t.released = t.peeked; /* arm releases what was read */
				t.cons_lied |= t.tainted;
			} else {
				uint32_t seq = atomic_load(&t.r->c.wait_seq);
				bool drained = vcap_ring_reader_disarm(&t.rd);

				FUZZ_CHECK(!drained || (seq & 1), "a token for an even wait_seq");
				if (!t.tainted && (seq & 1))
					FUZZ_CHECK(drained == (seq == t.signalled),
						   "disarm says %d, signalled %u, seq %u", drained,
						   t.signalled, seq);
			}
			break;
		}
		case 10:
		case 11:
			write_cons_line(&in);
			break;
		case 12:
			write_owned_line(&in);
			break;
		case 13:
		case 14:
			write_data(&in);
			break;
		case 15:
			reattach();
			break;
		}
	}
	free(t.r);
	return 0;
}
