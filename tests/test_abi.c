/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_abi.c - the promises vcap.h makes about its ABI, kept against a real
 * vcapd: programs built against an older or a newer vcap.h than this
 * libvcap's.  One scenario per run: `test_abi NAME [PROJECT_VERSION]`.
 *
 *   opts-old     a struct vcap_open_opts as the first release had it (no
 *                flags, no cluster fields; sz 40), followed by garbage:
 *                opens, its fields are honoured, the missing ones default
 *   opts-new     a struct from a later vcap.h, one field past the last this
 *                library knows: 0 opens; set, -EOPNOTSUPP naming the byte;
 *                also a field in today's tail padding, which sizeof does
 *                not see; bad sz values
 *   out-structs  vcap_stats, vcap_info, vcap_list_sources with structs of
 *                the first size, larger ones (tail zeroed), too small ones
 *                (-EINVAL, nothing written), each in a heap block of
 *                exactly its size so that ASan sees any overflow; and the
 *                VCAP_0.1 symbols programs linked before sz still call
 *   version      VCAP_VERSION, vcap_version() and meson's version agree
 * VCAP_OPTS and padding: abi_padding.c.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "harness.h"
#include "vcap.h"

#define OFFSETOFEND(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define GARBAGE 0xa5

static struct vcapd_proc d;
static const char *project_version;

/* ---- struct vcap_open_opts of other vcap.h versions -------------------- */

/* As vcap 0.1.0 first shipped it (commit 3cfb408): no flags, no cluster. */
struct vcap_open_opts_first {
	size_t sz;
	uint32_t ring_size;
	uint32_t snaplen;
	const char *filter;
	uint32_t watermark;
	uint32_t timeout_ms;
	const char *socket_path;
};

/*
 * A later vcap.h with one more field: a uint32_t at byte 56, just past
 * today's last field (reconnect_ms filled the tail padding where such a
 * field used to land).
 */
struct vcap_open_opts_later {
	size_t sz;
	uint32_t ring_size;
	uint32_t snaplen;
	const char *filter;
	uint32_t watermark;
	uint32_t timeout_ms;
	const char *socket_path;
	uint32_t flags;
	uint32_t cluster_id;
	uint32_t cluster_mode;
	uint32_t reconnect_ms;
	uint32_t future; /* new */
};
/* ... and one whose new field lies past today's sizeof. */
struct vcap_open_opts_much_later {
	struct vcap_open_opts_later l;
	uint64_t future2; /* new */
};

#define SAME_FIELD(a, b, f) \
	_Static_assert(offsetof(struct a, f) == offsetof(struct b, f), #a "." #f " moved")
SAME_FIELD(vcap_open_opts_first, vcap_open_opts, ring_size);
SAME_FIELD(vcap_open_opts_first, vcap_open_opts, snaplen);
SAME_FIELD(vcap_open_opts_first, vcap_open_opts, filter);
SAME_FIELD(vcap_open_opts_first, vcap_open_opts, watermark);
SAME_FIELD(vcap_open_opts_first, vcap_open_opts, timeout_ms);
SAME_FIELD(vcap_open_opts_first, vcap_open_opts, socket_path);
SAME_FIELD(vcap_open_opts_later, vcap_open_opts, flags);
SAME_FIELD(vcap_open_opts_later, vcap_open_opts, cluster_mode);
SAME_FIELD(vcap_open_opts_later, vcap_open_opts, reconnect_ms);
_Static_assert(sizeof(struct vcap_open_opts_first) == 40, "the first release's sz was 40");
_Static_assert(OFFSETOFEND(struct vcap_open_opts, vcap_open_opts__last_field) ==
		       offsetof(struct vcap_open_opts_later, future),
	       "vcap_open_opts__last_field is not the last field of struct vcap_open_opts");
_Static_assert(offsetof(struct vcap_open_opts_later, future) == sizeof(struct vcap_open_opts),
	       "the new field is meant to sit just past today's struct");

static void need_root(void)
{
	if (geteuid() != 0)
		SKIP("needs root: vcapd serves only root without a policy");
}

/* Read host:s to its end; @return the packets, each checked by check(). */
static uint64_t drain(struct vcap *h, void (*check)(const struct vcap_pkt *))
{
	struct vcap_pkt p[64];
	uint64_t got = 0;
	int n;

	while ((n = vcap_recv_burst(h, p, 64, VCAP_WAIT)) > 0)
		for (int i = 0; i < n; i++, got++)
			if (check)
				check(&p[i]);
	CHECK_EQ(n, (unsigned long long)-ENODATA);
	return got;
}

static void check_first_opts_pkt(const struct vcap_pkt *p)
{
	CHECK_EQ(p->caplen, 100); /* snaplen, from the old struct */
	CHECK_EQ(p->wirelen, 128);
	CHECK_EQ(p->hash, 0); /* flags: not in the old struct, so no flow hash */
}

static void opts_old(void)
{
	enum { N = 20000 };
	/* the old struct, and past its sz the garbage a real caller may have there */
	_Alignas(8) unsigned char buf[256];
	struct vcap_open_opts_first old = { .sz = sizeof(old), .ring_size = 1u << 20,
					    .snaplen = 100, .filter = "udp" };
	struct vcap_stats st;
	struct vcap_info info;
	struct vcap *h;
	uint64_t got;

	need_root();
	vcapd_start(&d, "--source", "s=synth:size=128,count=20000,flows=64,proto=mix");
	memset(buf, GARBAGE, sizeof(buf));
	memcpy(buf, &old, sizeof(old));
	/* flags 0xa5a5a5a5 would be -EINVAL, a cluster id would make a cluster */
	h = vcap_open("host:s", (const struct vcap_open_opts *)(void *)buf);
	CHECK(h, "an old program's options: %s", vcap_errmsg());
	CHECK_EQ(vcap_info(h, &info, sizeof(info)), 0);
	CHECK_EQ(info.snaplen, 100);
	CHECK_EQ(info.ring_size, 1u << 20);
	got = drain(h, check_first_opts_pkt);
	CHECK_EQ(vcap_stats(h, &st, sizeof(st)), 0);
	CHECK_EQ(st.received, N);
	CHECK_EQ(st.delivered, got);
	/* the filter, from the old struct: flow f % 4 == 3 is TCP (a small ring may drop) */
	CHECK_EQ(st.filtered, N / 4);
	CHECK_EQ(st.delivered + st.dropped, N - N / 4);
	CHECK(got > 0, "no packet arrived");
	vcap_close(h);
	vcapd_stop(&d);
}

static void check_hashed_pkt(const struct vcap_pkt *p)
{
	static unsigned zero;

	/* flags, from the later struct: the hash was asked for */
	zero += p->hash == 0;
	CHECK(zero < 8, "flow hashes are 0: flags were not read");
}

/* vcap_open must fail with err, vcap_errmsg() naming each of the words. */
static void open_fails(const void *opts, int err, const char *const *words)
{
	struct vcap *h;

	errno = 0;
	h = vcap_open("host:s", opts);
	CHECK(!h, "vcap_open accepted options it should refuse");
	CHECK(errno == err, "errno %d (%s), want %d; message: %s", errno, strerror(errno), err,
	      vcap_errmsg());
	for (; *words; words++)
		CHECK(strstr(vcap_errmsg(), *words), "vcap_errmsg() \"%s\" does not say \"%s\"",
		      vcap_errmsg(), *words);
	fprintf(stderr, "refused as it should: %s\n", vcap_errmsg());
}

static void opts_new(void)
{
	struct vcap_open_opts_much_later m;
	struct vcap_open_opts_later *l = &m.l;
	struct vcap *h;

	need_root();
	/* s ends after the first drain, and an ended source refuses opens: u does not end */
	vcapd_start(&d, "--source", "s=synth:size=128,count=2000,flows=64,proto=mix", "--source",
		    "u=synth:size=128,pps=1000");

	/* a later program that leaves the new field 0: opens, its known fields read */
	memset(&m, 0, sizeof(m));
	*l = (struct vcap_open_opts_later){ .sz = sizeof(*l), .ring_size = 1u << 20,
					     .flags = VCAP_OPEN_FLOW_HASH };
	h = vcap_open("host:s", (const struct vcap_open_opts *)(void *)l);
	CHECK(h, "newer options, new field 0: %s", vcap_errmsg());
	CHECK_EQ(drain(h, check_hashed_pkt), 2000);
	vcap_close(h);

	/* ... that sets it: refused, and the message says where and why */
	l->future = 1;
	open_fails(l, EOPNOTSUPP,
		   (const char *const[]){ "byte 56", "reconnect_ms", "knows only the first 56 bytes", NULL });
	l->future = 0x01000000; /* its last byte only */
	open_fails(l, EOPNOTSUPP, (const char *const[]){ "byte 59", NULL });
	l->future = 0;

	/* a field past today's sizeof */
	m.l.sz = sizeof(m);
	m.future2 = 1;
	open_fails(&m, EOPNOTSUPP, (const char *const[]){ "byte 64", NULL });
	m.future2 = 0;
	h = vcap_open("host:u", (const struct vcap_open_opts *)(void *)&m);
	CHECK(h, "much newer options, new fields 0: %s", vcap_errmsg());
	vcap_close(h);

	/* sz that is no options struct's */
	m.l.sz = 4;
	open_fails(&m, EINVAL, (const char *const[]){ "sz is 4", "VCAP_OPTS", NULL });
	m.l.sz = 1 << 20;
	open_fails(&m, EINVAL, (const char *const[]){ "VCAP_OPTS", NULL });
	/* sz 8: only sz itself, all defaults */
	m.l.sz = 8;
	m.l.flags = 0xdead; /* beyond sz: not read */
	h = vcap_open("host:u", (const struct vcap_open_opts *)(void *)&m);
	CHECK(h, "options of sz 8: %s", vcap_errmsg());
	vcap_close(h);
	vcapd_stop(&d);
}

/* ---- output structs ------------------------------------------------------- */

static void zero_bytes(const unsigned char *b, size_t from, size_t to, const char *what)
{
	for (size_t i = from; i < to; i++)
		CHECK(b[i] == 0, "%s: byte %zu is 0x%02x, not 0", what, i, b[i]);
}

/* The first published sizes: what the library must take at least. */
#define STATS_FIRST OFFSETOFEND(struct vcap_stats, kernel_drops)
#define INFO_FIRST OFFSETOFEND(struct vcap_info, ring_id)
#define DESC_FIRST OFFSETOFEND(struct vcap_source_desc, linktype)

/* The structs of a later vcap.h: fields this library does not know. */
struct vcap_stats_later {
	struct vcap_stats now;
	uint64_t future[3];
};
struct vcap_info_later {
	struct vcap_info now;
	uint32_t future;
	uint8_t more[9];
};
struct vcap_source_desc_later {
	struct vcap_source_desc now;
	uint64_t future;
	char more[13];
};

/* A heap block of exactly sz bytes, filled with garbage: ASan sees overruns. */
static void *garbage_block(size_t sz)
{
	void *p = malloc(sz);

	CHECK(p, "malloc");
	memset(p, GARBAGE, sz);
	return p;
}

static void all_garbage(const void *p, size_t sz, const char *what)
{
	for (size_t i = 0; i < sz; i++)
		CHECK(((const unsigned char *)p)[i] == GARBAGE, "%s: byte %zu was written", what, i);
}

typedef int (*stats_0_1_fn)(struct vcap *, struct vcap_stats *);
typedef int (*info_0_1_fn)(struct vcap *, struct vcap_info *);
typedef int (*list_0_1_fn)(const char *, struct vcap_source_desc *, unsigned);

static void *symbol_0_1(const char *name)
{
	void *f = dlvsym(RTLD_DEFAULT, name, "VCAP_0.1");

	CHECK(f, "no %s@VCAP_0.1 for programs linked against libvcap 0.1: %s", name, dlerror());
	CHECK(f != dlvsym(RTLD_DEFAULT, name, "VCAP_0.2"), "%s@VCAP_0.1 is the 0.2 function",
	      name);
	return f;
}

static void check_desc(const unsigned char *e, size_t sz, const char *name, const char *spec,
		       uint32_t mtu)
{
	const struct vcap_source_desc *x = (const void *)e; /* the first fields */
	size_t known = DESC_FIRST;

	CHECK(!strcmp(x->name, name), "source name %s, want %s", x->name, name);
	CHECK(!strcmp(x->spec, spec), "source %s: spec %s, want %s", name, x->spec, spec);
	CHECK_EQ(x->linktype, 1);
	/* added later: filled when the caller's struct has it (a generator's frame less 14) */
	if (sz >= sizeof(struct vcap_source_desc)) {
		CHECK_EQ(x->mtu, mtu);
		known = sizeof(struct vcap_source_desc);
	}
	zero_bytes(e, known, sz, "vcap_source_desc (fields this library does not know)");
}

static void out_structs(void)
{
	const char *spec_s = "synth:size=64,count=1000", *spec_t = "synth:size=80,count=1000";
	char arg_s[64], arg_t[64];
	struct vcap_stats st;
	struct vcap_info info;
	struct vcap *h;
	void *p;
	int n;

	need_root();
	snprintf(arg_s, sizeof(arg_s), "s=%s", spec_s);
	snprintf(arg_t, sizeof(arg_t), "t=%s", spec_t);
	vcapd_start(&d, "--source", arg_s, "--source", arg_t);
	h = open_or_die("host:s", NULL);
	CHECK_EQ(drain(h, NULL), 1000); /* the counters stay as they are from now on */
	CHECK_EQ(vcap_stats(h, &st, sizeof(st)), 0);
	CHECK_EQ(st.received, 1000);
	CHECK_EQ(st.delivered, 1000);
	CHECK_EQ(vcap_info(h, &info, sizeof(info)), 0);
	CHECK_EQ(info.linktype, 1);
	CHECK(info.ring_size && info.ring_id, "info: ring_size %u ring_id %u", info.ring_size,
	      info.ring_id);

	/* vcap_stats: the first size */
	p = garbage_block(STATS_FIRST);
	CHECK_EQ(vcap_stats(h, p, STATS_FIRST), 0);
	CHECK(!memcmp(p, &st, STATS_FIRST), "vcap_stats of the first size differs");
	free(p);
	/* a later, larger struct: known fields filled, the rest zeroed */
	p = garbage_block(sizeof(struct vcap_stats_later));
	CHECK_EQ(vcap_stats(h, p, sizeof(struct vcap_stats_later)), 0);
	CHECK(!memcmp(p, &st, sizeof(st)), "vcap_stats of a later size differs");
	zero_bytes(p, sizeof(st), sizeof(struct vcap_stats_later), "vcap_stats_later");
	free(p);
	/* too small: -EINVAL, nothing written */
	p = garbage_block(STATS_FIRST);
	CHECK_EQ(vcap_stats(h, p, STATS_FIRST - 1), (unsigned long long)-EINVAL);
	CHECK(strstr(vcap_errmsg(), "vcap_stats"), "message: %s", vcap_errmsg());
	all_garbage(p, STATS_FIRST, "vcap_stats of a too small size");
	CHECK_EQ(vcap_stats(h, NULL, sizeof(st)), (unsigned long long)-EINVAL);
	CHECK_EQ(vcap_stats(h, p, 0), (unsigned long long)-EINVAL);
	free(p);

	/* vcap_info, likewise */
	p = garbage_block(INFO_FIRST);
	CHECK_EQ(vcap_info(h, p, INFO_FIRST), 0);
	CHECK(!memcmp(p, &info, INFO_FIRST), "vcap_info of the first size differs");
	free(p);
	p = garbage_block(sizeof(struct vcap_info_later));
	CHECK_EQ(vcap_info(h, p, sizeof(struct vcap_info_later)), 0);
	CHECK(!memcmp(p, &info, sizeof(info)), "vcap_info of a later size differs");
	zero_bytes(p, sizeof(info), sizeof(struct vcap_info_later), "vcap_info_later");
	free(p);
	p = garbage_block(INFO_FIRST);
	CHECK_EQ(vcap_info(h, p, INFO_FIRST - 1), (unsigned long long)-EINVAL);
	all_garbage(p, INFO_FIRST, "vcap_info of a too small size");
	free(p);

	/* vcap_list_sources: the stride is the caller's element size */
	for (int later = 0; later <= 1; later++) {
		size_t sz = later ? sizeof(struct vcap_source_desc_later) : DESC_FIRST;
		unsigned char *a = garbage_block(2 * sz);

		CHECK_EQ(vcap_list_sources(NULL, (void *)a, 2, sz), 2);
		check_desc(a, sz, "s", spec_s, 50);
		check_desc(a + sz, sz, "t", spec_t, 66);
		free(a);
		/* room for one: one filled, in a block of one */
		a = garbage_block(sz);
		CHECK_EQ(vcap_list_sources(NULL, (void *)a, 1, sz), 2);
		check_desc(a, sz, "s", spec_s, 50);
		free(a);
	}
	CHECK_EQ(vcap_list_sources(NULL, NULL, 0, sizeof(struct vcap_source_desc)), 2);
	p = garbage_block(DESC_FIRST);
	CHECK_EQ(vcap_list_sources(NULL, p, 1, DESC_FIRST - 1), (unsigned long long)-EINVAL);
	CHECK(strstr(vcap_errmsg(), "vcap_source_desc"), "message: %s", vcap_errmsg());
	all_garbage(p, DESC_FIRST, "vcap_source_desc of a too small size");
	free(p);
	CHECK_EQ(vcap_list_sources(NULL, NULL, 1, DESC_FIRST), (unsigned long long)-EINVAL);

	/* what programs linked against libvcap 0.1 call: the first sizes */
	{
		stats_0_1_fn stats_0_1 = (stats_0_1_fn)symbol_0_1("vcap_stats");
		info_0_1_fn info_0_1 = (info_0_1_fn)symbol_0_1("vcap_info");
		list_0_1_fn list_0_1 = (list_0_1_fn)symbol_0_1("vcap_list_sources");
		unsigned char *a;

		p = garbage_block(STATS_FIRST);
		CHECK_EQ(stats_0_1(h, p), 0);
		CHECK(!memcmp(p, &st, STATS_FIRST), "vcap_stats@VCAP_0.1 differs");
		free(p);
		p = garbage_block(INFO_FIRST);
		CHECK_EQ(info_0_1(h, p), 0);
		CHECK(!memcmp(p, &info, INFO_FIRST), "vcap_info@VCAP_0.1 differs");
		free(p);
		a = garbage_block(2 * DESC_FIRST);
		n = list_0_1(NULL, (void *)a, 2);
		CHECK_EQ(n, 2);
		check_desc(a, DESC_FIRST, "s", spec_s, 0);
		check_desc(a + DESC_FIRST, DESC_FIRST, "t", spec_t, 0);
		free(a);
	}
	vcap_close(h);
	vcapd_stop(&d);
}

/* ---- version -------------------------------------------------------------- */

static void version(void)
{
	unsigned major, minor;

	CHECK(project_version, "usage: test_abi version PROJECT_VERSION");
	CHECK(sscanf(project_version, "%u.%u", &major, &minor) == 2, "version %s",
	      project_version);
	CHECK_EQ(VCAP_VERSION_MAJOR, major);
	CHECK_EQ(VCAP_VERSION_MINOR, minor);
	CHECK_EQ(VCAP_VERSION, VCAP_MKVERSION(major, minor));
	CHECK(vcap_version() == VCAP_VERSION, "libvcap says 0x%x, vcap.h 0x%x", vcap_version(),
	      VCAP_VERSION);
	CHECK(VCAP_MKVERSION(0, 2) > VCAP_MKVERSION(0, 1) &&
		      VCAP_MKVERSION(1, 0) > VCAP_MKVERSION(0, 99),
	      "VCAP_MKVERSION does not order versions");
}

static const struct scenario scenarios[] = {
	{ "opts-old", opts_old },
	{ "opts-new", opts_new },
	{ "out-structs", out_structs },
	{ "version", version },
};

int main(int argc, char **argv)
{
	for (size_t i = 0; argc >= 2 && i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (!strcmp(argv[1], scenarios[i].name)) {
			project_version = argc > 2 ? argv[2] : NULL;
			scenarios[i].fn();
			fprintf(stderr, "%s: passed\n", argv[1]);
			return 0;
		}
	}
	fprintf(stderr, "usage: %s SCENARIO [PROJECT_VERSION]\n", argv[0]);
	return 2;
}
