/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pcap_files - make and compare capture files for test_pcap_compat.sh.
 *
 *   pcap_files gen FILE COUNT [--nano] [--size BYTES]
 *       Write COUNT known Ethernet/IPv4 packets: UDP to port 53, UDP to
 *       other ports, TCP to 80 and 443 in turn, lengths 60..1514 (or all
 *       BYTES long), every tenth one cut to 96 captured bytes, time stamps
 *       with nanoseconds that a microsecond file rounds away.
 *   pcap_files count FILE [-f FILTER]
 *       Print how many packets FILE holds (that FILTER matches).
 *   pcap_files cmp REF GOT [-f FILTER] [-s SNAPLEN] [--usec]
 *                  [--prefix | --subseq | --cyclic]
 *       GOT must hold exactly REF's packets that FILTER matches (cut to
 *       SNAPLEN captured bytes), in order:
 *       all of them; or (--prefix) the first as many as GOT holds; or
 *       (--subseq) some of them, order kept; or (--cyclic) a run of them
 *       starting anywhere, wrapping around (a looping replay).  Time
 *       stamps, captured and wire lengths and bytes must be equal; --usec
 *       compares time stamps to the microsecond.
 * Reads pcap and pcapng.  Exits 0 if all is as said, 1 with the first
 * difference, 2 on bad usage.
 */
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pkt {
	uint64_t ts_ns;
	uint32_t caplen, len;
	uint8_t *data;
};

struct file {
	struct pkt *p;
	size_t n;
};

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "pcap_files: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(2);
}

/* ---- gen ---------------------------------------------------------------- */

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* Packet i: Ethernet, IPv4, then UDP or TCP by i % 4, then noise. */
static size_t make_packet(uint8_t *f, unsigned i, unsigned size)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	size_t len = size ? size : 60 + (i * 37u) % 1455;
	bool udp = i % 4 < 2;
	unsigned dport = (unsigned[]){ 53, 5000 + i % 100, 80, 443 }[i % 4];
	uint8_t *ip = f + 14, *l4 = ip + 20;
	uint32_t seed = i * 2654435761u + 1;

	memcpy(f, macs, 12);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(len - 14));
	put16(ip + 4, i & 0xffff);
	ip[8] = 64;
	ip[9] = udp ? 17 : 6;
	memcpy(ip + 12, (uint8_t[]){ 10, 0, 0, (uint8_t)(1 + i % 200) }, 4);
	memcpy(ip + 16, (uint8_t[]){ 10, 0, 1, (uint8_t)(1 + i % 7) }, 4);
	put16(ip + 10, ip_checksum(ip, 20));
	put16(l4, 1024 + i % 30000);
	put16(l4 + 2, dport);
	if (udp) {
		put16(l4 + 4, (unsigned)(len - 34));
		put16(l4 + 6, 0);
		l4 += 8;
	} else {
		memset(l4 + 4, 0, 16);
		l4[12] = 5 << 4;
		l4[13] = 0x18; /* PSH ACK */
		put16(l4 + 14, 65535);
		l4 += 20;
	}
	for (uint8_t *b = l4; b < f + len; b++)
		*b = (uint8_t)rnd(&seed);
	return len;
}

static int gen(const char *path, unsigned count, bool nano, unsigned size)
{
	pcap_t *dead = pcap_open_dead_with_tstamp_precision(
		DLT_EN10MB, 65535, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
	pcap_dumper_t *d = pcap_dump_open(dead, path);
	uint8_t frame[1514];
	uint64_t ts = 1700000000ull * 1000000000ull + 123456789;

	if (!d)
		die("%s", pcap_geterr(dead));
	if (size && (size < 60 || size > sizeof(frame)))
		die("%s", "--size is out of range [60, 1514]");
	for (unsigned i = 0; i < count; i++) {
		struct pcap_pkthdr h;
		size_t len = make_packet(frame, i, size);

		ts += 1000 + (i * 7919u) % 900000; /* uneven gaps, some under a microsecond apart */
		h.ts.tv_sec = (time_t)(ts / 1000000000u);
		h.ts.tv_usec = (suseconds_t)(nano ? ts % 1000000000u : ts % 1000000000u / 1000);
		h.len = (uint32_t)len;
		h.caplen = i % 10 == 9 && len > 96 ? 96 : (uint32_t)len;
		pcap_dump((u_char *)d, &h, frame);
	}
	pcap_dump_close(d);
	pcap_close(dead);
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

static struct file load(const char *path, const char *filter, bool usec, uint32_t snaplen)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline_with_tstamp_precision(
		path, usec ? PCAP_TSTAMP_PRECISION_MICRO : PCAP_TSTAMP_PRECISION_NANO, err);
	struct bpf_program prog;
	struct file f = { 0 };
	struct pcap_pkthdr *h;
	const u_char *data;
	size_t room = 0;

	if (!p)
		die("%s", err);
	if (filter && pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN))
		die("%s", pcap_geterr(p));
	while (pcap_next_ex(p, &h, &data) == 1) {
		struct pkt *k;

		if (filter && !pcap_offline_filter(&prog, h, data))
			continue;
		if (f.n == room) {
			room = room ? room * 2 : 1024;
			f.p = realloc(f.p, room * sizeof(*f.p));
			if (!f.p)
				die("%s", "out of memory");
		}
		k = &f.p[f.n++];
		k->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull +
			   (uint64_t)h->ts.tv_usec * (usec ? 1000u : 1u);
		k->caplen = snaplen && h->caplen > snaplen ? snaplen : h->caplen;
		k->len = h->len;
		k->data = malloc(h->caplen ? h->caplen : 1);
		if (!k->data)
			die("%s", "out of memory");
		memcpy(k->data, data, k->caplen);
	}
	if (filter)
		pcap_freecode(&prog);
	pcap_close(p);
	return f;
}

static void unload(struct file *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->p[i].data);
	free(f->p);
}

static bool same(const struct pkt *a, const struct pkt *b)
{
	return a->ts_ns == b->ts_ns && a->caplen == b->caplen && a->len == b->len &&
	       !memcmp(a->data, b->data, a->caplen);
}

static int differ(size_t i, const struct pkt *want, const struct pkt *got)
{
	printf("packet %zu differs: want ts %llu.%09llu caplen %u len %u, got ts %llu.%09llu "
	       "caplen %u len %u%s\n",
	       i, (unsigned long long)(want->ts_ns / 1000000000u),
	       (unsigned long long)(want->ts_ns % 1000000000u), want->caplen, want->len,
	       (unsigned long long)(got->ts_ns / 1000000000u),
	       (unsigned long long)(got->ts_ns % 1000000000u), got->caplen, got->len,
	       want->caplen == got->caplen && memcmp(want->data, got->data, got->caplen)
		       ? " (bytes differ)"
		       : "");
	return 1;
}

enum mode { EXACT, PREFIX, SUBSEQ, CYCLIC };

static int cmp(const struct file *ref, const struct file *got, enum mode mode)
{
	size_t j = 0, start = 0;

	if ((mode == EXACT && got->n != ref->n) || (mode != CYCLIC && got->n > ref->n)) {
		printf("%zu packets, want %s%zu\n", got->n, mode == EXACT ? "" : "at most ",
		       ref->n);
		return 1;
	}
	if (mode == CYCLIC && got->n) {
		if (!ref->n) {
			printf("%zu packets, want none\n", got->n);
			return 1;
		}
		while (start < ref->n && !same(&ref->p[start], &got->p[0]))
			start++;
		if (start == ref->n) {
			printf("packet 0 is none of the reference's\n");
			return 1;
		}
	}
	for (size_t i = 0; i < got->n; i++) {
		if (mode == SUBSEQ) {
			while (j < ref->n && !same(&ref->p[j], &got->p[i]))
				j++;
			if (j == ref->n) {
				printf("packet %zu is not among the reference's, in order\n", i);
				return 1;
			}
			j++;
			continue;
		}
		j = mode == CYCLIC ? (start + i) % ref->n : i;
		if (!same(&ref->p[j], &got->p[i]))
			return differ(i, &ref->p[j], &got->p[i]);
	}
	printf("same: %zu packets\n", got->n);
	return 0;
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	enum mode mode = EXACT;
	bool usec = false, nano = false;
	unsigned size = 0, snaplen = 0;
	const char *args[3];
	int n_args = 0;

	if (argc < 2)
		die("%s", "usage: pcap_files gen|count|cmp ...");
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-f") && i + 1 < argc)
			filter = argv[++i];
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			snaplen = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--usec"))
			usec = true;
		else if (!strcmp(argv[i], "--nano"))
			nano = true;
		else if (!strcmp(argv[i], "--prefix"))
			mode = PREFIX;
		else if (!strcmp(argv[i], "--subseq"))
			mode = SUBSEQ;
		else if (!strcmp(argv[i], "--cyclic"))
			mode = CYCLIC;
		else if (argv[i][0] != '-' && n_args < 3)
			args[n_args++] = argv[i];
		else
			die("unexpected argument \"%s\"", argv[i]);
	}
	if (!strcmp(argv[1], "gen") && n_args == 2)
		return gen(args[0], (unsigned)atoi(args[1]), nano, size);
	if (!strcmp(argv[1], "count") && n_args == 1) {
		struct file f = load(args[0], filter, usec, 0);

		printf("%zu\n", f.n);
		unload(&f);
		return 0;
	}
	if (!strcmp(argv[1], "cmp") && n_args == 2) {
		struct file ref = load(args[0], filter, usec, snaplen);
		struct file got = load(args[1], NULL, usec, 0);
		int rc = cmp(&ref, &got, mode);

		unload(&ref);
		unload(&got);
		return rc;
	}
	die("bad usage of \"%s\"", argv[1]);
	return 2;
}
