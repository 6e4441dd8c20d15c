/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_codec.c - the control codec: every message round-trips; every
 * truncation, bad length, bad string and random mutation is refused with
 * an error and a reason, never a crash (run under ASan in CI).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "check.h"
#include "codec.h"

static _Alignas(8) uint8_t buf[VCAP_MSG_MAX + 64];
static struct vcap_msg m, out;
static char why[256];

/* Encode m, decode it back into out, and compare what matters. */
static size_t roundtrip(void)
{
	ssize_t len = vcap_msg_encode(&m, buf, sizeof(buf));

	CHECK(len > 0, "encode %s: %zd", vcap_msg_name(m.app, m.type), len);
	CHECK(vcap_msg_decode(buf, (size_t)len, &out, why, sizeof(why)) == 0, "decode %s: %s",
	      vcap_msg_name(m.app, m.type), why);
	CHECK_EQ(out.app, m.app);
	CHECK_EQ(out.type, m.type);
	CHECK_EQ(out.flags, m.flags);
	CHECK_EQ(out.seq, m.seq);
	CHECK_EQ(out.status, m.status);
	CHECK(!strcmp(out.name, m.name), "name \"%s\" vs \"%s\"", out.name, m.name);
	CHECK(!strcmp(out.text, m.text), "text differs");
	return (size_t)len;
}

/* Every prefix of a valid message, and every longer length, is refused. */
static void truncations(size_t len)
{
	for (size_t cut = 0; cut < len; cut++)
		CHECK(vcap_msg_decode(buf, cut, &out, why, sizeof(why)) < 0, "%zu of %zu bytes", cut,
		      len);
	/* header says more than arrived, and the reverse */
	for (int delta = -3; delta <= 3; delta++) {
		uint32_t hl;

		if (!delta)
			continue;
		memcpy(&hl, buf + 8, 4);
		hl += (uint32_t)delta;
		memcpy(buf + 8, &hl, 4);
		CHECK(vcap_msg_decode(buf, len, &out, why, sizeof(why)) == -EBADMSG, "len %+d",
		      delta);
		hl -= (uint32_t)delta;
		memcpy(buf + 8, &hl, 4);
	}
}

static void test_roundtrips(void)
{
	size_t len;

	vcap_msg_init(&m, VCAP_APP_FRAMEWORK, VCAP_MSG_HELLO);
	m.seq = 1;
	m.u.hello.version_min = 1;
	m.u.hello.version_max = 1;
	strcpy(m.name, "tester");
	len = roundtrip();
	CHECK_EQ(out.u.hello.version_max, 1);
	truncations(len);

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_OPEN);
	m.seq = 77;
	m.u.open.ring_size = 1 << 20;
	m.u.open.watermark = 64;
	strcpy(m.name, "eth0");
	strcpy(m.text, "udp and port 53");
	len = roundtrip();
	CHECK_EQ(out.u.open.ring_size, 1 << 20);
	CHECK_EQ(out.u.open.source_len, 4);
	CHECK_EQ(out.u.open.filter_len, 15);
	truncations(len);

	/* longest legal strings */
	memset(m.name, 's', VCAP_NAME_MAX);
	m.name[VCAP_NAME_MAX] = '\0';
	memset(m.text, 'f', VCAP_FILTER_MAX);
	m.text[VCAP_FILTER_MAX] = '\0';
	roundtrip();

	struct vcap_msg req = m;

	vcap_msg_reply(&m, &req);
	m.u.open_reply.ring_id = 5;
	m.u.open_reply.map_size = 4096 + 256;
	roundtrip();
	CHECK_EQ(out.u.open_reply.map_size, 4352);

	vcap_msg_error(&m, &req, -ENOENT, "host:%s: no such source", "eth9");
	len = roundtrip();
	CHECK_EQ(out.status, (unsigned long long)-ENOENT);
	CHECK(!strcmp(out.text, "host:eth9: no such source"), "reason: %s", out.text);
	truncations(len);

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_SET_FILTER);
	m.u.set_filter.ring_id = 3;
	strcpy(m.text, "tcp");
	truncations(roundtrip());
	m.text[0] = '\0'; /* removing a filter */
	roundtrip();

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_CLOSE);
	roundtrip();
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_STATS);
	roundtrip();
	req = m;
	vcap_msg_reply(&m, &req);
	m.u.stats_reply.counters.received = 10;
	m.u.stats_reply.counters.delivered = 7;
	roundtrip();
	CHECK_EQ(out.u.stats_reply.counters.delivered, 7);

	/* STATUS reply with entries */
	static struct vcap_status_source srcs[3];
	static struct vcap_status_ring rings[2];

	strcpy(srcs[2].name, "third");
	rings[1].ring_id = 42;
	vcap_msg_init(&req, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
	vcap_msg_reply(&m, &req);
	m.u.status_reply.n_sources = 3;
	m.u.status_reply.n_rings = 2;
	m.sources = srcs;
	m.rings = rings;
	len = roundtrip();
	CHECK(!strcmp(out.sources[2].name, "third"), "status entries survive");
	CHECK_EQ(out.rings[1].ring_id, 42);
	truncations(len);
	/* counts that do not match the bytes */
	buf[VCAP_MSG_MIN + offsetof(struct vcap_msg_status_reply, n_rings)] = 3;
	CHECK_EQ(vcap_msg_decode(buf, len, &out, why, sizeof(why)), (unsigned long long)-EBADMSG);
	/* a status reply too large for one message cannot be encoded */
	m.u.status_reply.n_rings = 1000;
	CHECK_EQ(vcap_msg_encode(&m, buf, sizeof(buf)), (unsigned long long)-EMSGSIZE);
}

static void test_refusals(void)
{
	ssize_t len;

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_OPEN);
	strcpy(m.name, "src");
	strcpy(m.text, "tcp");
	len = vcap_msg_encode(&m, buf, sizeof(buf));
	CHECK(len > 0, "encode");

	/* a NUL inside a string */
	buf[len - 2] = '\0';
	CHECK_EQ(vcap_msg_decode(buf, (size_t)len, &out, why, sizeof(why)),
		 (unsigned long long)-EBADMSG);
	CHECK(strstr(why, "NUL") != NULL, "reason names the NUL: %s", why);
	vcap_msg_encode(&m, buf, sizeof(buf));

	/* magic, version, unknown type, flags, status in a request */
	struct {
		size_t off;
		uint8_t val;
		int err;
	} pokes[] = {
		{ 0, 'X', -EPROTO },  /* magic */
		{ 4, 9, -EPROTO },    /* version */
		{ 6, 99, -EPROTO },   /* application */
		{ 16, 99, -EPROTO },  /* type */
		{ 18, 0x80, -EPROTO }, /* unknown flag */
		{ 20, 1, -EPROTO },   /* status in a request */
	};
	for (size_t i = 0; i < sizeof(pokes) / sizeof(pokes[0]); i++) {
		uint8_t saved = buf[pokes[i].off];

		buf[pokes[i].off] = pokes[i].val;
		CHECK_EQ(vcap_msg_decode(buf, (size_t)len, &out, why, sizeof(why)),
			 (unsigned long long)pokes[i].err);
		CHECK(why[0], "a reason is given");
		buf[pokes[i].off] = saved;
	}
	CHECK_EQ(vcap_msg_decode(buf, (size_t)len, &out, why, sizeof(why)), 0);

	/* string lengths over their limits, even if the bytes were there */
	struct vcap_msg_open o;

	memcpy(&o, buf + VCAP_MSG_MIN, sizeof(o));
	o.source_len = VCAP_NAME_MAX + 1;
	memcpy(buf + VCAP_MSG_MIN, &o, sizeof(o));
	CHECK_EQ(vcap_msg_decode(buf, (size_t)len, &out, why, sizeof(why)),
		 (unsigned long long)-EBADMSG);

	/* the encoder refuses what the decoder would */
	vcap_msg_init(&m, VCAP_APP_CAPTURE, 77);
	CHECK_EQ(vcap_msg_encode(&m, buf, sizeof(buf)), (unsigned long long)-EINVAL);
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_OPEN);
	CHECK_EQ(vcap_msg_encode(&m, buf, 30), (unsigned long long)-EMSGSIZE);

	/* a version mismatch is tolerated only on HELLO, which negotiates */
	vcap_msg_init(&m, VCAP_APP_FRAMEWORK, VCAP_MSG_HELLO);
	m.version = 7;
	len = vcap_msg_encode(&m, buf, sizeof(buf));
	CHECK_EQ(vcap_msg_decode(buf, (size_t)len, &out, why, sizeof(why)), 0);
	CHECK_EQ(out.version, 7);
}

/* Random mutations of valid messages: only clean refusals or valid decodes. */
static void test_mutations(void)
{
	unsigned long long rnd = 2024;
	unsigned ok = 0, refused = 0;

	for (int iter = 0; iter < 300000; iter++) {
		ssize_t len;

		vcap_msg_init(&m, VCAP_APP_CAPTURE, (uint16_t)(1 + iter % VCAP_MSG_FLOW_REMOVE));
		if (iter % 7 == 0)
			m.flags = VCAP_MSGF_REPLY;
		strcpy(m.name, "src");
		if (m.type == VCAP_MSG_OPEN || m.type == VCAP_MSG_SET_FILTER)
			strcpy(m.text, "ip and not tcp");
		len = vcap_msg_encode(&m, buf, sizeof(buf));
		CHECK(len > 0, "encode");
		for (int k = (int)(test_rand(&rnd) % 4) + 1; k > 0; k--)
			buf[test_rand(&rnd) % (size_t)len] = (uint8_t)test_rand(&rnd);
		if (test_rand(&rnd) % 4 == 0)
			len = (ssize_t)(test_rand(&rnd) % (size_t)(len + 16));
		if (vcap_msg_decode(buf, (size_t)len, &out, why, sizeof(why)) == 0) {
			ok++;
			CHECK(strlen(out.name) <= VCAP_NAME_MAX, "name bounded");
			CHECK(strlen(out.text) <= VCAP_FILTER_MAX, "text bounded");
			/* whatever decodes must encode back to the same bytes */
			CHECK_EQ(vcap_msg_encode(&out, buf + 32, sizeof(buf) - 32), len);
		} else {
			refused++;
			CHECK(why[0], "refusal without a reason");
		}
	}
	fprintf(stderr, "mutations: %u decoded, %u refused\n", ok, refused);
	CHECK(refused > ok, "most mutations must be refused");
}

int main(void)
{
	test_roundtrips();
	test_refusals();
	test_mutations();
	fprintf(stderr, "codec: all passed\n");
	return 0;
}
