/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * abi_padding.c - VCAP_OPTS over stack bytes pre-filled with garbage
 * leaves every padding byte of the struct 0, so that a newer libvcap never
 * reads the tail padding after a program's last field as a field it knows.
 * Header only (no libvcap).  tests/meson.build builds it with the build's
 * compiler and, where installed, runs it built by clang at -O0 as C and as
 * C++: clang at -O0 is where a plain initializer leaves the tail padding as
 * the stack had it.
 */
#include <vcap.h>

#include "check.h"

#define OFFSETOFEND(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* Interior padding after a (7 bytes), tail padding after c (6 bytes). */
struct padded_opts {
	size_t sz;
	uint8_t a;
	uint64_t b;
	uint16_t c;
};
#define padded_opts__last_field c

static volatile unsigned char sink;

/* Leave garbage where the next call's frame will be. */
static __attribute__((noinline)) void scribble_stack(unsigned char v)
{
	volatile unsigned char junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = v;
	sink = junk[v];
}

static __attribute__((noinline)) void declare_open_opts(unsigned char *out, uint32_t ring)
{
	VCAP_OPTS(vcap_open_opts, o, .ring_size = ring, .cluster_mode = VCAP_CLUSTER_2TUPLE);

	memcpy(out, &o, sizeof(o));
}

static __attribute__((noinline)) void declare_open_opts_empty(unsigned char *out)
{
	VCAP_OPTS(vcap_open_opts, o);

	memcpy(out, &o, sizeof(o));
}

static __attribute__((noinline)) void declare_padded(unsigned char *out, uint8_t a, uint16_t c)
{
	VCAP_OPTS(padded_opts, o, .a = a, .c = c);

	memcpy(out, &o, sizeof(o));
}

static void zero_bytes(const unsigned char *b, size_t from, size_t to, const char *what)
{
	for (size_t i = from; i < to; i++)
		CHECK(b[i] == 0, "%s: byte %zu is 0x%02x after VCAP_OPTS", what, i, b[i]);
}

int main(void)
{
	const size_t last = OFFSETOFEND(struct vcap_open_opts, vcap_open_opts__last_field);
	unsigned char b[sizeof(struct vcap_open_opts)], p[sizeof(struct padded_opts)];
	struct vcap_open_opts o;
	struct padded_opts q;

	/*
	 * vcap_open_opts may have no tail padding (reconnect_ms filled it):
	 * then its check below is empty, and padded_opts keeps the promise
	 * tested on a struct that has some.
	 */
	for (unsigned v = 0x11; v <= 0xff; v += 0x77) {
		scribble_stack((unsigned char)v);
		declare_open_opts(b, 1u << 22);
		memcpy(&o, b, sizeof(o));
		CHECK_EQ(o.sz, sizeof(o));
		CHECK_EQ(o.ring_size, 1u << 22);
		CHECK_EQ(o.cluster_mode, VCAP_CLUSTER_2TUPLE);
		CHECK(!o.filter && !o.socket_path, "pointers not NULL");
		zero_bytes(b, offsetof(struct vcap_open_opts, snaplen),
			   offsetof(struct vcap_open_opts, cluster_mode), "vcap_open_opts (fields)");
		zero_bytes(b, last, sizeof(b), "vcap_open_opts (tail padding)");

		scribble_stack((unsigned char)v);
		declare_open_opts_empty(b);
		zero_bytes(b, sizeof(size_t), sizeof(b), "VCAP_OPTS(vcap_open_opts, o)");

		scribble_stack((unsigned char)v);
		declare_padded(p, 0x42, 0x4242);
		memcpy(&q, p, sizeof(q));
		CHECK_EQ(q.sz, sizeof(q));
		CHECK_EQ(q.a, 0x42);
		CHECK_EQ(q.b, 0);
		CHECK_EQ(q.c, 0x4242);
		zero_bytes(p, OFFSETOFEND(struct padded_opts, a), offsetof(struct padded_opts, b),
			   "padded_opts (interior padding)");
		zero_bytes(p, OFFSETOFEND(struct padded_opts, padded_opts__last_field), sizeof(p),
			   "padded_opts (tail padding)");
	}
	fprintf(stderr, "padding: passed\n");
	return 0;
}
