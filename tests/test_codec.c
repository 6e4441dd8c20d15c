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

static _Alignas(8) uint8_t buf[VCAP_MSG_MAX + 64], again[VCAP_MSG_MAX];
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
	m.u.open_reply.flags = VCAP_OPENF_FLOW_HASH;
	m.u.open_reply.rule_max = 1024;
	m.u.open_reply.flow_max = 1u << 20;
	roundtrip();
	CHECK_EQ(out.u.open_reply.map_size, 4352);
	CHECK_EQ(out.u.open_reply.flags, VCAP_OPENF_FLOW_HASH);
	CHECK_EQ(out.u.open_reply.rule_max, 1024);
	CHECK_EQ(out.u.open_reply.flow_max, 1u << 20);

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
	m.u.stats_reply.counters.filtered = 3;
	m.u.stats_reply.counters.shunted = 2;
	roundtrip();
	CHECK_EQ(out.u.stats_reply.counters.delivered, 7);
	CHECK_EQ(out.u.stats_reply.counters.shunted, 2);

	/* STATUS reply with entries */
	static struct vcap_status_source srcs[3];
	static struct vcap_status_ring rings[2];

	strcpy(srcs[2].name, "third");
	rings[1].ring_id = 42;
	rings[1].shunted = 17;
	rings[1].filter_ns = 1234567890123ull;
	vcap_msg_init(&req, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
	vcap_msg_reply(&m, &req);
	m.u.status_reply.n_sources = 3;
	m.u.status_reply.n_rings = 2;
	m.sources = srcs;
	m.rings = rings;
	len = roundtrip();
	CHECK(!strcmp(out.sources[2].name, "third"), "status entries survive");
	CHECK_EQ(out.rings[1].ring_id, 42);
	CHECK_EQ(out.rings[1].shunted, 17);
	CHECK_EQ(out.rings[1].filter_ns, 1234567890123ull);
	truncations(len);
	/* counts that do not match the bytes */
	buf[VCAP_MSG_MIN + offsetof(struct vcap_msg_status_reply, n_rings)] = 3;
	CHECK_EQ(vcap_msg_decode(buf, len, &out, why, sizeof(why)), (unsigned long long)-EBADMSG);
	/* a status reply too large for one message cannot be encoded */
	m.u.status_reply.n_rings = 1000;
	CHECK_EQ(vcap_msg_encode(&m, buf, sizeof(buf)), (unsigned long long)-EMSGSIZE);
}

/* A valid FLOW_LIST entry: rule k, as vcapd would send it. */
static struct vcap_wire_flow_stat flow_entry(uint32_t k)
{
	struct vcap_wire_flow_stat e = { .flow = { .family = k % 2 ? 6 : 4, .proto = 17,
						   .port_a = (uint16_t)k, .port_b = 53 },
					 .action = k % 3 ? 1 : 2, .idle_timeout_ms = k, .hits = k * 7ull,
					 .idle_ms = k + 1 };

	e.flow.addr_a[0] = 10;
	e.flow.addr_a[3] = (uint8_t)k;
	e.flow.addr_b[0] = 10;
	e.flow.addr_b[1] = 2;
	if (e.flow.family == 6)
		e.flow.addr_b[15] = 9;
	return e;
}

/* FLOW_HITS and FLOW_LIST: requests name their ring; the list reply's entries are checked. */
static void test_flow_messages(void)
{
	static struct vcap_wire_flow_stat ents[VCAP_FLOW_LIST_MAX + 1];
	static _Alignas(8) uint8_t odd[VCAP_MSG_MAX + 8];
	struct vcap_msg req;
	uint32_t id = 0;
	size_t len;

	/* FLOW_HITS: the FLOW_REMOVE payload under its own type, and a count reply */
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_FLOW_HITS);
	m.u.flow_hits.ring_id = 9;
	m.u.flow_hits.flow = flow_entry(5).flow;
	truncations(roundtrip());
	CHECK(!memcmp(&out.u.flow_hits, &m.u.flow_hits, sizeof(m.u.flow_hits)), "FLOW_HITS");
	CHECK(vcap_msg_ring_id(&out, &id) && id == 9, "FLOW_HITS names ring 9 (%u)", id);
	CHECK(!strcmp(vcap_msg_name(VCAP_APP_CAPTURE, VCAP_MSG_FLOW_HITS), "FLOW_HITS"), "name");
	req = m;
	vcap_msg_reply(&m, &req);
	m.u.count_reply.count = 1234567;
	truncations(roundtrip());
	CHECK_EQ(out.u.count_reply.count, 1234567);
	CHECK(!vcap_msg_ring_id(&out, &id), "a reply names no ring");

	/* FLOW_LIST request */
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_FLOW_LIST);
	m.u.flow_list = (struct vcap_msg_flow_list){ .ring_id = 11, .max = 512,
						     .cursor = 0x300000007ull };
	truncations(roundtrip());
	CHECK_EQ(out.u.flow_list.cursor, 0x300000007ull);
	CHECK_EQ(out.u.flow_list.max, 512);
	CHECK(vcap_msg_ring_id(&out, &id) && id == 11, "FLOW_LIST names ring 11 (%u)", id);

	/* the reply: empty, one entry, as many as fit */
	req = m;
	vcap_msg_reply(&m, &req);
	m.u.flow_list_reply = (struct vcap_msg_flow_list_reply){ .total = 0 };
	len = roundtrip();
	CHECK_EQ(len, VCAP_MSG_MIN + sizeof(struct vcap_msg_flow_list_reply));
	CHECK(out.flows == NULL, "no entries, no pointer");
	for (uint32_t k = 0; k <= VCAP_FLOW_LIST_MAX; k++)
		ents[k] = flow_entry(k);
	m.flows = ents;
	m.u.flow_list_reply = (struct vcap_msg_flow_list_reply){ .total = 5000, .count = 1,
								  .next = 77 };
	truncations(roundtrip());
	CHECK(!memcmp(out.flows, ents, sizeof(ents[0])), "one entry survives");
	m.u.flow_list_reply.count = VCAP_FLOW_LIST_MAX;
	len = roundtrip();
	/* 1023 entries of 64 bytes: the most that fit; a 1024th would need 40 more bytes */
	CHECK_EQ(len, VCAP_MSG_MIN + 16 + VCAP_FLOW_LIST_MAX * 64);
	CHECK(len + 64 > VCAP_MSG_MAX, "one more entry would not fit");
	CHECK(!memcmp(out.flows, ents, VCAP_FLOW_LIST_MAX * sizeof(ents[0])), "all entries survive");
	CHECK_EQ(out.u.flow_list_reply.total, 5000);
	CHECK_EQ(out.u.flow_list_reply.next, 77);
	truncations(len);

	/* one more entry than fits: the encoder refuses, and a forged count is refused */
	m.u.flow_list_reply.count = VCAP_FLOW_LIST_MAX + 1;
	CHECK_EQ(vcap_msg_encode(&m, buf, sizeof(buf)), (unsigned long long)-EINVAL);
	m.u.flow_list_reply.count = 3;
	len = (size_t)vcap_msg_encode(&m, buf, sizeof(buf));
	buf[VCAP_MSG_MIN + offsetof(struct vcap_msg_flow_list_reply, count)] = 4;
	CHECK_EQ(vcap_msg_decode(buf, len, &out, why, sizeof(why)), (unsigned long long)-EBADMSG);
	CHECK(strstr(why, "FLOW_LIST"), "reason names the message: %s", why);
	memcpy(buf + VCAP_MSG_MIN + offsetof(struct vcap_msg_flow_list_reply, count),
	       &(uint32_t){ 0xffffffffu }, 4);
	CHECK_EQ(vcap_msg_decode(buf, len, &out, why, sizeof(why)), (unsigned long long)-EBADMSG);
	CHECK(strstr(why, "absurd"), "reason: %s", why);

	/* entries that are no rule vcapd holds: refused by both sides, with the entry's index */
	{
		static const struct {
			size_t off;
			uint8_t val;
			const char *why;
		} bad[] = {
			{ offsetof(struct vcap_wire_flow_stat, flow.family), 5, "family" },
			{ offsetof(struct vcap_wire_flow_stat, flow.pad), 1, "pad" },
			{ offsetof(struct vcap_wire_flow_stat, action), 3, "action" },
			{ offsetof(struct vcap_wire_flow_stat, action), 0, "action" },
			{ offsetof(struct vcap_wire_flow_stat, flow.addr_a) + 4, 1, "IPv4" },
			{ offsetof(struct vcap_wire_flow_stat, flow.addr_b) + 15, 1, "IPv4" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			size_t at = VCAP_MSG_MIN + sizeof(struct vcap_msg_flow_list_reply) +
				    2 * sizeof(struct vcap_wire_flow_stat) + bad[i].off;
			uint8_t saved;

			len = (size_t)vcap_msg_encode(&m, buf, sizeof(buf)); /* entry 2 is IPv4 */
			saved = buf[at];
			buf[at] = bad[i].val;
			CHECK_EQ(vcap_msg_decode(buf, len, &out, why, sizeof(why)),
				 (unsigned long long)-EBADMSG);
			CHECK(strstr(why, "entry 2") && strstr(why, bad[i].why), "reason: %s", why);
			memcpy((uint8_t *)&ents[2] + bad[i].off, &buf[at], 1);
			CHECK_EQ(vcap_msg_encode(&m, buf, sizeof(buf)), (unsigned long long)-EINVAL);
			memcpy((uint8_t *)&ents[2] + bad[i].off, &saved, 1);
		}
	}
	/* entries at an odd address cannot be pointed at: refused, as STATUS's */
	len = (size_t)vcap_msg_encode(&m, buf, sizeof(buf));
	memcpy(odd + 1, buf, len);
	CHECK_EQ(vcap_msg_decode(odd + 1, len, &out, why, sizeof(why)), (unsigned long long)-EINVAL);
	CHECK(strstr(why, "aligned"), "reason: %s", why);
	/* entries without an array to take them from */
	m.flows = NULL;
	CHECK_EQ(vcap_msg_encode(&m, buf, sizeof(buf)), (unsigned long long)-EINVAL);
	/* an error reply to FLOW_LIST carries a reason, not entries */
	vcap_msg_error(&m, &req, -ENOENT, "ring %u is not open in this session", 11u);
	truncations(roundtrip());
	CHECK(out.flows == NULL && !strcmp(out.text, "ring 11 is not open in this session"),
	      "error reply: %s", out.text);
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

		static struct vcap_wire_flow_stat ents[4];

		vcap_msg_init(&m, VCAP_APP_CAPTURE, (uint16_t)(1 + iter % VCAP_MSG_FLOW_LIST));
		if (iter % 7 == 0)
			m.flags = VCAP_MSGF_REPLY;
		if (m.type == VCAP_MSG_FLOW_LIST && m.flags) {
			/* a reply with entries: mutations of counts and entry fields */
			for (uint32_t k = 0; k < 4; k++)
				ents[k] = flow_entry(k);
			m.u.flow_list_reply.count = (uint32_t)(iter % 5);
			m.flows = ents;
		}
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
			/* whatever decodes must encode back to the same bytes (out points into buf) */
			CHECK_EQ(vcap_msg_encode(&out, again, sizeof(again)), len);
			CHECK(!memcmp(again, buf, (size_t)len), "re-encoded to other bytes");
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
	test_flow_messages();
	test_refusals();
	test_mutations();
	fprintf(stderr, "codec: all passed\n");
	return 0;
}
