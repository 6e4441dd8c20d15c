/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_cbpf_xdp.c - consumers' classic BPF filters translated to run in XDP
 * (source/cbpf_xdp.c) decide exactly as libpcap's own interpreter does.
 *
 * Each of dozens of tcpdump expressions (address, port and protocol
 * primitives, VLANs, lengths, arithmetic with division and modulo by a
 * packet byte that may be zero, indexed loads past IP options, payload
 * bytes) is compiled by libpcap, translated, loaded into the kernel (the
 * verifier must take it) and run with BPF_PROG_TEST_RUN on thousands of
 * frames: the generator's mixes (TCP, UDP, IPv6, VLAN-tagged), each cut
 * short at the lengths where headers end, and random bytes.  The kernel's
 * verdict (taken: redirected, which with no socket in the map falls back
 * to XDP_PASS; or left out: XDP_DROP, counted) must equal bpf_filter()'s
 * for every frame.  Two filters at once must take the union.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "cbpf_xdp.h"
#include "check.h"
#include "pcap_oracle.h"
#include "synth.h"
#include "xdp_abi.h"

static const char *const filters[] = {
	"udp", "tcp", "ip", "ip6", "arp", "icmp", "vlan", "vlan 100", "vlan and udp",
	"udp port 53", "tcp port 80 or udp port 53", "tcp dst port 443", "portrange 1000-1100",
	"net 10.1.0.0/16", "host 10.2.0.3", "src net 10.1.0.0/24 and dst port 80", "ip6 and tcp",
	"ip6 net fd00::1:0:0/96", "greater 200", "less 100", "len > 100 and udp",
	"ether host 02:00:00:00:00:01", "ether[0] & 1 = 0", "ip[6:2] & 0x1fff = 0",
	"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "tcp[13] & 2 != 0", "udp[8:4] = 0",
	"ip[2:2] > 100", "ip and (ip[0] & 0xf) > 5", "not udp", "udp and not port 53",
	"ip proto 17", "ip6 proto 6", "ip multicast", "ether broadcast",
	"tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420", "udp[8:2] % 3 = 1", "ip[2:2] / 2 > 40",
	"ip[2:2] * 2 > 200", "ip[2:2] / (ip[9] - 17) > 1", "ip[2:2] % (ip[9] - 6) = 0",
	"udp[10] ^ 0x55 = 0x11", "ip[1] | 3 = 3", "ip[8] - 1 < 63", "ip[8] << 1 > 100",
	"ip[8] >> 2 = 16", "-ip[8] & 0xff > 1", "udp and udp[8:2] = 1 and ip[2:2] > 0",
	"ip6[6] = 17 and ip6[44:2] = 0", "tcp portrange 1024-1030 or udp dst port 123",
};

/* A filter compiled as vcapd compiles it (libpcap, Ethernet, whole frames). */
struct prog {
	struct sock_filter *insns;
	unsigned len;
};

static struct prog compile(const char *text)
{
	struct prog p;

	p.insns = oracle_compile(text, &p.len);
	CHECK(p.insns, "compile %s", text);
	return p;
}

/* Frames: the generator's mixes, each whole and cut short, then random bytes. */
static uint8_t *frames;
static uint32_t *lens;
static unsigned n_frames;

static void add_frame(const uint8_t *f, uint32_t len)
{
	static unsigned cap;

	if (n_frames == cap) {
		cap = cap ? 2 * cap : 4096;
		frames = realloc(frames, (size_t)cap * 2048);
		lens = realloc(lens, cap * sizeof(*lens));
		CHECK(frames && lens, "out of memory");
	}
	memcpy(frames + (size_t)n_frames * 2048, f, len);
	lens[n_frames++] = len;
}

static void make_frames(void)
{
	static const struct vcap_synth_cfg cfgs[] = {
		{ .size = 128, .flows = 64, .proto = VCAP_SYNTH_MIX, .ipv6_pct = 30 },
		{ .size = 300, .flows = 64, .proto = VCAP_SYNTH_UDP, .ipv6_pct = 0, .vlan = 100 },
		{ .size = 90, .flows = 64, .proto = VCAP_SYNTH_TCP, .ipv6_pct = 50, .vlan = 7 },
		{ .size = 1400, .flows = 16, .proto = VCAP_SYNTH_MIX, .ipv6_pct = 100 },
	};
	static const uint32_t cuts[] = { 14, 15, 17, 18, 22, 30, 34, 36, 38, 40, 42, 46, 54, 58, 62 };
	uint8_t buf[2048];
	char err[128];

	for (size_t c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++) {
		struct vcap_synth s;

		CHECK(vcap_synth_init(&s, &cfgs[c], err, sizeof(err)) == 0, "synth: %s", err);
		for (uint64_t n = 0; n < 256; n++) {
			vcap_synth_frame(&s, n, buf);
			add_frame(buf, cfgs[c].size);
			if (n % 8 == 0)
				for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++)
					if (cuts[k] < cfgs[c].size)
						add_frame(buf, cuts[k]);
		}
	}
	srandom(7);
	for (int i = 0; i < 400; i++) {
		uint32_t len = 14 + (uint32_t)(random() % 200);

		for (uint32_t k = 0; k < len; k++)
			buf[k] = (uint8_t)random();
		if (i % 2) { /* IPv4 or IPv6 ethertype with garbage behind it */
			buf[12] = i % 4 == 1 ? 0x08 : 0x86;
			buf[13] = i % 4 == 1 ? 0x00 : 0xdd;
		}
		add_frame(buf, len);
	}
}

static int xsks_fd, stats_fd;

/* Load the translation of n programs; @return its fd, or -1 with why on stderr. */
static int load(const struct prog *progs, unsigned n)
{
	static struct bpf_insn insns[32767];
	struct cbpf_prog cp[4];
	char err[200];
	static char log[1 << 16];
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .expected_attach_type = BPF_XDP, .log_buf = log,
		    .log_size = sizeof(log), .log_level = 1);
	int len, fd;

	for (unsigned i = 0; i < n; i++)
		cp[i] = (struct cbpf_prog){ .insns = progs[i].insns, .len = progs[i].len };
	len = cbpf_xdp_build(cp, n, xsks_fd, stats_fd, false, insns, 32767, err, sizeof(err));
	CHECK(len > 0, "translate: %s", err);
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "vcap_test", "Dual BSD/GPL", insns, (size_t)len, &lo);
	if (fd < 0)
		fprintf(stderr, "verifier: %s\n", log);
	return fd;
}

/* Taken (1) or left out (0), as the kernel runs the program on frame i. */
static int run(int fd, unsigned i)
{
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = frames + (size_t)i * 2048,
		    .data_size_in = lens[i], .repeat = 1);

	CHECK(bpf_prog_test_run_opts(fd, &t) == 0, "test run: %s", strerror(errno));
	CHECK(t.retval == XDP_PASS || t.retval == XDP_DROP, "retval %u", t.retval);
	return t.retval == XDP_PASS;
}

int main(void)
{
	size_t n_filters = sizeof(filters) / sizeof(filters[0]);
	uint64_t checked = 0, taken = 0;

	if (geteuid() != 0)
		SKIP("needs root: loading BPF programs");
	xsks_fd = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "t_xsks", 4, 4, 4, NULL);
	{
		LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_MMAPABLE);

		stats_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_stats", 4,
					  sizeof(struct vcap_xdp_cpu_stats), VCAP_XDP_CPUS_MAX, &mo);
	}
	CHECK(xsks_fd >= 0 && stats_fd >= 0, "maps: %s", strerror(errno));
	make_frames();
	for (size_t f = 0; f < n_filters; f++) {
		struct prog prog = compile(filters[f]);
		int fd = load(&prog, 1), mismatches = 0;

		CHECK(fd >= 0, "%s: the verifier refused the translation", filters[f]);
		for (unsigned i = 0; i < n_frames; i++) {
			int want = oracle_filter(prog.insns, frames + (size_t)i * 2048, lens[i]) != 0;
			int got = run(fd, i);

			if (want != got && mismatches++ < 3)
				fprintf(stderr, "%s: frame %u (%u bytes): libpcap %d, XDP %d\n",
					filters[f], i, lens[i], want, got);
			taken += got;
			checked++;
		}
		CHECK(mismatches == 0, "%s: %d verdicts differ", filters[f], mismatches);
		close(fd);
		free(prog.insns);
	}
	/* two filters: the union */
	{
		struct prog two[2] = { compile("udp port 53"), compile("ip6 and tcp") };
		int fd = load(two, 2);

		CHECK(fd >= 0, "two filters: the verifier refused the translation");
		for (unsigned i = 0; i < n_frames; i++) {
			const uint8_t *fr = frames + (size_t)i * 2048;
			int want = oracle_filter(two[0].insns, fr, lens[i]) ||
				   oracle_filter(two[1].insns, fr, lens[i]);

			CHECK_EQ(run(fd, i), want);
		}
		close(fd);
		free(two[0].insns);
		free(two[1].insns);
	}
	fprintf(stderr, "%zu filters x %u frames: %llu verdicts agree (%llu taken)\n", n_filters,
		n_frames, (unsigned long long)checked, (unsigned long long)taken);
	return 0;
}
