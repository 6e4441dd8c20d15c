/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_pcap.c - a capture file as vcapd's `pcap:` source replays it
 * (daemon/source_pcap.c, the real backend), and the per-packet work that
 * follows (vcap_parse(), vcap_flow_hash(), a ring writer and reader).
 *
 * Attacks: libpcap's savefile readers (pcap and pcapng) as vcapd drives
 * them, the backend's batching into its arena and its pacing arithmetic on
 * hostile timestamps.  The input is the file: written to a memfd, opened by
 * the backend through /proc/self/fd/N at speed=1 and drained with a fake
 * clock that jumps ahead whenever nothing is due (so pacing runs, but no
 * input ever sleeps); wait() runs too, with a zero budget.  Each packet is
 * then copied to an allocation of exactly its caplen, parsed and hashed
 * there (AddressSanitizer sees a read past caplen), and put into a ring.
 *
 * Asserts, beyond "no crash":
 *   - the backend opens exactly the files libpcap opens from the same bytes
 *     (pcap_fopen_offline() on fmemopen()), and an error names the file;
 *   - it hands on exactly the packets libpcap reads, in order, none lost,
 *     none added, with the same caplen, length, timestamp and bytes, up to
 *     the end or the first error, and then reports the end (-ENODATA);
 *   - what it hands on respects the bounds consumers rely on: caplen within
 *     the file's snapshot length and libpcap's maximum, the link type the
 *     file's;
 *   - pacing (speed=1): no packet is handed on before its time, measured
 *     from the first packet as the backend measures it;
 *   - into a ring with a snaplen, a packet arrives cut to the snaplen with
 *     its wire length, flagged truncated only if cut, bytes intact.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "flowhash.h"
#include "fuzz.h"
#include "parse.h"
#include "ring.h"
#include "source.h"
#include "util.h"

#define MAX_SNAPLEN 262144u /* libpcap's MAXIMUM_SNAPLEN */
#define RING_DATA (1u << 16)
#define RING_SNAPLEN 1500u

static int fd = -1;
static char path[64];

/*
 * daemon/source.c defines it for vcapd; linking that file would drag in
 * every backend.  The real one takes the source's lock to write the same.
 */
void source_set_error(struct source *s, const char *msg)
{
	snprintf(s->error, sizeof(s->error), "%s", msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	vlog_set_level(-1); /* a bad input is logged once per input, millions of times */
	fd = memfd_create("capture.pcap", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0, "memfd_create");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

/*
 * The documented stamp (source_pcap.c): seconds clamped to [0, 2^32 - 1],
 * nanoseconds to [0, 1e9); libpcap hands both on signed and unchecked.
 */
static uint64_t ts_of(const struct pcap_pkthdr *h)
{
	long long sec = h->ts.tv_sec, ns = h->ts.tv_usec;

	if (sec < 0)
		sec = 0;
	if (sec > 0xffffffffll)
		sec = 0xffffffffll;
	if (ns < 0)
		ns = 0;
	if (ns > 999999999ll)
		ns = 999999999ll;
	return (uint64_t)sec * 1000000000ull + (uint64_t)ns;
}

/* One packet on through a ring: cut to the snaplen, flagged, intact. */
static void through_ring(struct vcap_ring_writer *w, struct vcap_ring_reader *rd,
			 const struct vcap_pkt_meta *m, const uint8_t *bytes)
{
	const struct vcap_rec *got;
	uint32_t cut = m->caplen < RING_SNAPLEN ? m->caplen : RING_SNAPLEN;

	FUZZ_CHECK(vcap_ring_writer_put(w, m, bytes), "a lone packet does not fit");
	vcap_ring_writer_offer(w, 1);
	vcap_ring_writer_publish(w, 0);
	FUZZ_CHECK(vcap_ring_reader_peek(rd, &got, 1) == 1, "the packet did not arrive");
	FUZZ_CHECK(got->caplen == cut && got->wirelen == m->wirelen && got->ts_ns == m->ts_ns,
		   "arrived as %u/%u, sent %u/%u", got->caplen, got->wirelen, m->caplen, m->wirelen);
	FUZZ_CHECK(!memcmp(vcap_rec_data(got), bytes, cut), "bytes changed on the way");
	vcap_ring_reader_release(rd);
	{
		/* the record's truncation flag: set exactly when caplen < wirelen */
		const struct vcap_rec *rec = got;

		FUZZ_CHECK(!!(rec->flags & VCAP_REC_TRUNCATED) == (cut < m->wirelen),
			   "truncated flag %u for %u of %u bytes", rec->flags, cut, m->wirelen);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vcap_pkt_meta meta[BATCH];
	static const uint8_t *pkt[BATCH];
	char errbuf[PCAP_ERRBUF_SIZE], err[256], args[128];
	struct source s = { .name = "fuzz", .n_lanes = 1, .lanes[0].wake_fd = -1 };
	struct vcap_ring_writer w;
	struct vcap_ring_reader rd;
	struct pcap_pkthdr *h;
	const u_char *b;
	struct vcap_ring *ring;
	FILE *mf;
	pcap_t *ref = NULL;
	uint64_t now = 1, step = 1, t0 = 0, ts0 = 0;
	bool first = true;
	int rc;

	FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate");
	FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size, "pwrite");

	/* the reference: libpcap itself on the same bytes */
	mf = size ? fmemopen((void *)data, size, "rb") : NULL;
	if (mf) {
		ref = pcap_fopen_offline_with_tstamp_precision(mf, PCAP_TSTAMP_PRECISION_NANO,
							       errbuf);
		if (!ref)
			fclose(mf);
	}

	snprintf(args, sizeof(args), "%s,speed=1", path);
	rc = source_pcap_ops.open(&s, args, err, sizeof(err));
	FUZZ_CHECK((rc == 0) == (ref != NULL), "the backend says %d, libpcap %s", rc,
		   ref ? "opens it" : errbuf);
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL && !strncmp(err, "pcap: ", 6) && strstr(err, path),
			   "error %d: \"%s\"", rc, err);
		return 0;
	}
	FUZZ_CHECK(s.linktype == (uint32_t)pcap_datalink(ref), "link type %u", s.linktype);

	ring = aligned_alloc(64, vcap_ring_map_size(RING_DATA));
	FUZZ_CHECK(ring, "aligned_alloc");
	FUZZ_CHECK(vcap_ring_writer_init(&w, ring, RING_DATA, RING_SNAPLEN, s.linktype, 1) == 0,
		   "ring");
	FUZZ_CHECK(vcap_ring_reader_attach(&rd, ring, vcap_ring_map_size(RING_DATA)) == 0, "ring");

	for (;;) {
		int n = source_pcap_ops.next(&s, 0, meta, pkt, BATCH, now);

		if (n == -ENODATA)
			break;
		FUZZ_CHECK(n >= 0 && n <= BATCH, "next returned %d", n);
		for (int i = 0; i < n; i++) {
			const struct vcap_pkt_meta *m = &meta[i];
			uint64_t ts;
			uint8_t *copy;
			struct vcap_parsed p;

			rc = pcap_next_ex(ref, &h, &b);
			FUZZ_CHECK(rc == 1, "the backend handed on a packet libpcap does not read");
			ts = ts_of(h);
			FUZZ_CHECK(m->caplen == h->caplen && m->wirelen == h->len && m->ts_ns == ts &&
					   !memcmp(pkt[i], b, h->caplen),
				   "packet differs from libpcap's");
			FUZZ_CHECK(m->caplen <= (uint32_t)pcap_snapshot(ref) && m->caplen <= MAX_SNAPLEN,
				   "caplen %u over the snapshot length %d", m->caplen,
				   pcap_snapshot(ref));
			if (first) {
				/* the backend's origin: the first packet, at the time it was taken */
				t0 = now;
				ts0 = ts;
				first = false;
			}
			if (ts > ts0)
				FUZZ_CHECK((double)(ts - ts0) <= (double)(now - t0),
					   "handed on %llu ns early",
					   (unsigned long long)((ts - ts0) - (now - t0)));

			copy = fuzz_tail_copy(pkt[i], m->caplen);
			vcap_parse(copy, m->caplen, &p);
			FUZZ_CHECK(vcap_flow_hash(copy, m->caplen, VCAP_HASH_5TUPLE) ==
					   vcap_flow_hash_parsed(&p, VCAP_HASH_5TUPLE),
				   "hash");
			through_ring(&w, &rd, m, copy);
			free(copy);
		}
		source_pcap_ops.release(&s, 0);
		if (n == 0) {
			/*
			 * Nothing due: let the backend compute its wait (it never
			 * sleeps here: no budget), then jump ahead.
			 */
			source_pcap_ops.wait(&s, 0, -1, 0);
			FUZZ_CHECK(now < UINT64_MAX, "a packet never became due");
			now = now + step < now ? UINT64_MAX : now + step;
			step = step < (1ull << 62) ? step * 2 : step;
		} else {
			step = 1;
		}
	}
	/* the end: libpcap has nothing more either */
	rc = pcap_next_ex(ref, &h, &b);
	FUZZ_CHECK(rc != 1, "the backend stopped before libpcap's end");

	source_pcap_ops.close(&s);
	pcap_close(ref);
	free(ring);
	return 0;
}
