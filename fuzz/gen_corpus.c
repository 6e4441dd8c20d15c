/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gen_corpus.c - seed inputs for every fuzz target, made by the real
 * encoders and generators so that each seed is a valid input the target's
 * deepest paths accept:
 *
 *   codec      every message type, request and reply, and error replies,
 *              encoded by proto/codec.c
 *   shm_queue  scripts of an honest guest and vcapd exchanging messages,
 *              wrapping small queues, and a few hostile moves
 *   ring       scripts of puts, publishes, reads, wait requests, and a
 *              consumer that lies
 *   config     the configuration files of tests/ and README.md, and one
 *              line of each directive
 *   pcap       capture files written by libpcap from source/synth.h frames
 *              (micro- and nanosecond, cut by a snaplen, VLAN, IPv6, jumbo,
 *              raw IP, timestamps that go back or leap), a big-endian file
 *              and a pcapng file written by hand
 *   parse      generator frames of every layout, and hand-made frames for
 *              what the generator never makes (QinQ, IPv4 options and
 *              fragments, IPv6 extension headers, SCTP, ICMP, ARP) and for
 *              each rule of fuzz_parse.c's rule set
 *
 *   fuzz-gen-corpus OUTDIR      writes OUTDIR/TARGET/NAME for each
 *
 * fuzz/make-corpus.sh runs this, then lets libFuzzer minimise the result
 * into fuzz/corpus/ (docs/fuzzing.md).
 */
#include <endian.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec.h"
#include "synth.h"
#include "vcap_ring.h"
#include "vcap_shm.h"

static const char *outdir;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz-gen-corpus: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void subdir(const char *target)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) && errno != EEXIST)
		die("%s: %s", path, strerror(errno));
}

static void seed_path(char *path, size_t len, const char *target, const char *name)
{
	snprintf(path, len, "%s/%s/%s", outdir, target, name);
}

static void save(const char *target, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	seed_path(path, sizeof(path), target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f))
		die("%s: %s", path, strerror(errno));
}

/* ---- a script of little-endian arguments ------------------------------------ */

struct script {
	uint8_t b[65536];
	size_t n;
};

static void s8(struct script *s, uint32_t v)
{
	if (s->n == sizeof(s->b))
		die("script too long");
	s->b[s->n++] = (uint8_t)v;
}

static void s16(struct script *s, uint32_t v)
{
	s8(s, v & 0xff);
	s8(s, v >> 8);
}

static void s32(struct script *s, uint32_t v)
{
	s16(s, v & 0xffff);
	s16(s, v >> 16);
}

/* ---- codec -------------------------------------------------------------------- */

static void save_msg(const char *name, const struct vcap_msg *m)
{
	static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];
	ssize_t n = vcap_msg_encode(m, buf, sizeof(buf));

	if (n < 0)
		die("encode %s: %zd", name, n);
	save("codec", name, buf, (size_t)n);
}

static void codec_seeds(void)
{
	static struct vcap_msg m, req;
	static struct vcap_status_source src[2];
	static struct vcap_status_ring rings[2];

	subdir("codec");
	vcap_msg_init(&m, VCAP_APP_FRAMEWORK, VCAP_MSG_HELLO);
	m.seq = 1;
	m.u.hello = (struct vcap_msg_hello){ .version_min = 1, .version_max = 1, .pid = 42 };
	strcpy(m.name, "vcapcount");
	save_msg("hello", &m);
	m.version = 2;
	m.u.hello.version_max = 2;
	save_msg("hello-v2", &m);
	m.version = VCAP_PROTO_VERSION;
	m.u.hello.version_max = VCAP_PROTO_VERSION;
	save_msg("hello-v3", &m);
	req = m;
	req.version = 1;
	vcap_msg_reply(&m, &req);
	m.u.hello_reply = (struct vcap_msg_hello_reply){ .version = 1, .daemon_pid = 7,
							 .max_rings = 64, .ring_size_min = 4096,
							 .ring_size_max = 1u << 30,
							 .filter_max = VCAP_FILTER_MAX };
	save_msg("hello-reply", &m);

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_OPEN);
	m.seq = 2;
	m.u.open = (struct vcap_msg_open){ .ring_size = 1u << 20, .snaplen = 128, .watermark = 8,
					   .timeout_ms = 10, .flags = VCAP_OPENF_FLOW_HASH,
					   .cluster_id = 7, .cluster_mode = 1 };
	strcpy(m.name, "eth0");
	strcpy(m.text, "udp and not port 53");
	save_msg("open", &m);
	req = m;
	vcap_msg_reply(&m, &req);
	m.u.open_reply = (struct vcap_msg_open_reply){ .ring_id = 3, .ring_size = 1u << 20,
						       .map_size = (1u << 20) + 256,
						       .snaplen = 128, .linktype = 1,
						       .flags = VCAP_OPENF_FLOW_HASH,
						       .rule_max = 1024, .flow_max = 1u << 20 };
	save_msg("open-reply", &m);
	vcap_msg_error(&m, &req, -ENOENT, "host:eth9: no such source (vcapd has: eth0, synth)");
	save_msg("open-error", &m);

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_CLOSE);
	m.u.close.ring_id = 3;
	save_msg("close", &m);
	req = m;
	vcap_msg_reply(&m, &req);
	save_msg("close-reply", &m);

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_SET_FILTER);
	m.u.set_filter.ring_id = 3;
	strcpy(m.text, "tcp[tcpflags] & tcp-syn != 0");
	save_msg("set-filter", &m);
	req = m;
	vcap_msg_error(&m, &req, -EINVAL, "filter \"%s\": syntax error", req.text);
	save_msg("set-filter-error", &m);

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_STATS);
	m.u.stats.ring_id = 3;
	save_msg("stats", &m);
	req = m;
	vcap_msg_reply(&m, &req);
	m.u.stats_reply.counters = (struct vcap_ring_counters){ 100, 90, 5, 5, 1, 3 };
	save_msg("stats-reply", &m);

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
	save_msg("status", &m);
	req = m;
	vcap_msg_reply(&m, &req);
	save_msg("status-reply-empty", &m);
	snprintf(src[0].name, sizeof(src[0].name), "eth0");
	snprintf(src[0].spec, sizeof(src[0].spec), "if:eth0");
	src[0].state = VCAP_SOURCE_RUNNING;
	src[0].received = 1000;
	snprintf(rings[0].source, sizeof(rings[0].source), "eth0");
	snprintf(rings[0].client, sizeof(rings[0].client), "vcapcount");
	snprintf(rings[0].filter, sizeof(rings[0].filter), "udp");
	rings[0].ring_id = 3;
	rings[0].received = 1000;
	rings[0].delivered = 990;
	rings[0].dropped = 10;
	m.u.status_reply = (struct vcap_msg_status_reply){ .n_sources = 1, .n_rings = 1 };
	m.sources = src;
	m.rings = rings;
	save_msg("status-reply", &m);

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_RULE_ADD);
	m.u.rule_add.ring_id = 3;
	m.u.rule_add.rule = (struct vcap_wire_rule){ .id = 10, .fields = 0x10 | 0x100,
						     .action = 2, .proto = 17,
						     .dport_lo = 53, .dport_hi = 53 };
	save_msg("rule-add", &m);
	req = m;
	vcap_msg_reply(&m, &req);
	save_msg("rule-add-reply", &m);
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_RULE_REMOVE);
	m.u.rule_ref = (struct vcap_msg_rule_ref){ 3, 10 };
	save_msg("rule-remove", &m);
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_RULE_DEFAULT);
	m.u.rule_ref = (struct vcap_msg_rule_ref){ 3, 2 };
	save_msg("rule-default", &m);
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_RULE_HITS);
	m.u.rule_ref = (struct vcap_msg_rule_ref){ 3, 10 };
	save_msg("rule-hits", &m);
	req = m;
	vcap_msg_reply(&m, &req);
	m.u.count_reply.count = 12345;
	save_msg("rule-hits-reply", &m);

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_FLOW_ADD);
	m.u.flow_add = (struct vcap_msg_flow_add){
		.ring_id = 3, .action = 2, .idle_timeout_ms = 30000,
		.flow = { .family = 4, .proto = 6, .port_a = 1024, .port_b = 80,
			  .addr_a = { 10, 1, 0, 1 }, .addr_b = { 10, 2, 0, 1 } }
	};
	save_msg("flow-add", &m);
	req = m;
	vcap_msg_reply(&m, &req);
	m.u.count_reply.count = 77;
	save_msg("flow-add-reply", &m);
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_FLOW_REMOVE);
	m.u.flow_remove = (struct vcap_msg_flow_remove){
		.ring_id = 3, .flow = { .family = 6, .proto = 17, .port_a = 5060, .port_b = 5060,
					.addr_a = { 0xfd, [15] = 1 }, .addr_b = { 0xfd, [15] = 2 } }
	};
	save_msg("flow-remove", &m);
	req = m;
	vcap_msg_error(&m, &req, -ENOENT, "no such flow");
	save_msg("flow-remove-error", &m);
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_FLOW_HITS);
	m.u.flow_hits = (struct vcap_msg_flow_remove){
		.ring_id = 3, .flow = { .family = 4, .proto = 1,
					.addr_a = { 192, 168, 0, 1 }, .addr_b = { 192, 168, 0, 2 } }
	};
	save_msg("flow-hits", &m);
	req = m;
	vcap_msg_reply(&m, &req);
	m.u.count_reply.count = 99;
	save_msg("flow-hits-reply", &m);

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_FLOW_LIST);
	m.u.flow_list = (struct vcap_msg_flow_list){ .ring_id = 3, .max = 512, .cursor = 0 };
	save_msg("flow-list", &m);
	req = m;
	vcap_msg_reply(&m, &req);
	m.u.flow_list_reply = (struct vcap_msg_flow_list_reply){ .total = 0 };
	save_msg("flow-list-reply-empty", &m);
	{
		static struct vcap_wire_flow_stat e[3] = {
			{ .flow = { .family = 4, .proto = 6, .port_a = 1024, .port_b = 80,
				    .addr_a = { 10, 1, 0, 1 }, .addr_b = { 10, 2, 0, 1 } },
			  .action = 2, .idle_timeout_ms = 30000, .hits = 12, .idle_ms = 3 },
			{ .flow = { .family = 6, .proto = 17, .port_a = 53, .port_b = 5353,
				    .addr_a = { 0xfd, [15] = 1 }, .addr_b = { 0xfd, [15] = 2 } },
			  .action = 1, .hits = 1u << 20, .idle_ms = 1000 },
			{ .flow = { .family = 4, .proto = 47,
				    .addr_a = { 10, 0, 0, 1 }, .addr_b = { 10, 0, 0, 2 } },
			  .action = 2 },
		};

		m.u.flow_list_reply = (struct vcap_msg_flow_list_reply){ .total = 1500, .count = 3,
									  .next = 0x100000007ull };
		m.flows = e;
		save_msg("flow-list-reply", &m);
	}
	/* an error reply to a type nobody knows still decodes */
	vcap_msg_init(&req, VCAP_APP_CAPTURE, 99);
	vcap_msg_error(&m, &req, -EPROTO, "unknown message: application 2 type 99");
	save_msg("error-unknown-type", &m);
}

/* ---- shm_queue ------------------------------------------------------------------ */

/* Geometry byte for a data area of 2^log bytes (fuzz_shm_queue.c: 1 << (6 + b % 12)). */
static void queue_head(struct script *s, unsigned log, uint16_t rx_cap)
{
	s->n = 0;
	s8(s, log - 6);
	s32(s, VCAP_SHM_QUEUE_SIZE);
	s16(s, rx_cap);
}

static void shm_queue_seeds(void)
{
	static struct script s;

	subdir("shm_queue");
	/* vcapd's geometry: requests in, replies out, in lockstep */
	queue_head(&s, 17, 0);
	for (int i = 0; i < 8; i++) {
		s8(&s, 4), s16(&s, 40 + i * 1000); /* guest sends */
		s8(&s, 6);                          /* vcapd receives */
		s8(&s, 8), s16(&s, 2 * (60 + i * 500)); /* vcapd replies (even: a real length) */
		s8(&s, 10);                         /* the guest takes it */
	}
	save("shm_queue", "lockstep", s.b, s.n);

	/* a small queue that wraps again and again, both ways */
	queue_head(&s, 8, 0);
	for (int i = 0; i < 40; i++) {
		s8(&s, 5), s16(&s, (uint32_t)(i * 7) % 90);
		s8(&s, 5), s16(&s, (uint32_t)(i * 13) % 90);
		s8(&s, 7);
		s8(&s, 7);
		s8(&s, 8), s16(&s, 2 * ((uint32_t)(i * 11) % 40));
		s8(&s, 10);
	}
	save("shm_queue", "wraps", s.b, s.n);

	/* a queue filled to refusal, then drained */
	queue_head(&s, 10, 512);
	for (int i = 0; i < 12; i++)
		s8(&s, 4), s16(&s, 100);
	for (int i = 0; i < 12; i++)
		s8(&s, 6);
	for (int i = 0; i < 12; i++)
		s8(&s, 8), s16(&s, 2 * 100);
	for (int i = 0; i < 12; i++)
		s8(&s, 10);
	save("shm_queue", "full", s.b, s.n);

	/* hostile moves: head far ahead, a lying frame, a wrap mark, a lying tail */
	queue_head(&s, 12, 0);
	s8(&s, 4), s16(&s, 64);
	s8(&s, 0), s8(&s, 0), s16(&s, 9000);           /* head ahead of what was sent */
	s8(&s, 6);
	s8(&s, 4), s16(&s, 64);
	s8(&s, 2), s8(&s, 0), s8(&s, 0), s32(&s, 70000); /* a frame longer than any message */
	s8(&s, 6);
	s8(&s, 4), s16(&s, 64);
	s8(&s, 2), s8(&s, 1), s8(&s, 1), s32(&s, 0);     /* a wrap mark where none belongs */
	s8(&s, 6);
	s8(&s, 9), s8(&s, 1), s32(&s, 0x80000000u);    /* h2g tail impossible */
	s8(&s, 8), s16(&s, 2 * 40);
	s8(&s, 9), s8(&s, 0), s16(&s, 0xfff0);         /* h2g tail a little behind */
	s8(&s, 8), s16(&s, 2 * 40);
	s8(&s, 11), s8(&s, 0);                         /* vcapd resets the region */
	s8(&s, 4), s16(&s, 64);
	s8(&s, 6);
	save("shm_queue", "hostile", s.b, s.n);

	/* lengths send must refuse, and a small receive buffer */
	queue_head(&s, 9, 64);
	s8(&s, 8), s16(&s, 1);     /* odd raw: length 1 */
	s8(&s, 8), s16(&s, 65535); /* far over half the queue */
	s8(&s, 4), s16(&s, 20);
	s8(&s, 6);
	s8(&s, 4), s16(&s, 200);   /* over rx_cap: an honest guest does not send it */
	s8(&s, 1), s32(&s, 0), s8(&s, 16), s32(&s, VCAP_PROTO_MAGIC), s32(&s, 0x100000), s32(&s, 200), s32(&s, 1);
	s8(&s, 0), s8(&s, 2), s16(&s, 2);
	s8(&s, 6);
	save("shm_queue", "refusals", s.b, s.n);
}

/* ---- ring --------------------------------------------------------------------- */

/* Geometry for fuzz_ring.c: 2^(12 + b % 3) bytes, probes, snaplen = 1 + raw % ... */
static void ring_head(struct script *s, unsigned log, uint32_t probe_size, uint32_t probe_snap,
		      uint16_t snap_raw)
{
	s->n = 0;
	s8(s, log - 12);
	s32(s, probe_size);
	s32(s, probe_snap);
	s16(s, snap_raw);
}

static void ring_put(struct script *s, uint16_t raw, uint32_t hash, uint16_t seed)
{
	s8(s, 0);
	s16(s, raw);
	s8(s, 2);
	s32(s, hash);
	s16(s, seed);
	s8(s, 0); /* wirelen = caplen */
}

static void ring_publish(struct script *s, uint16_t ms_tenths)
{
	s8(s, 4);
	s8(s, 1);
	s16(s, ms_tenths); /* x 100 us */
}

static void ring_read(struct script *s, uint8_t n, bool release)
{
	s8(s, 7);
	s8(s, n - 1); /* fuzz_ring.c reads 1 + b % 16 */
	s8(s, release);
}

static void ring_seeds(void)
{
	static struct script s;

	subdir("ring");
	/* a steady stream through a 4 KiB ring, read in bursts: many wraps */
	ring_head(&s, 12, 1u << 20, 1500, 255);
	for (int i = 0; i < 60; i++) {
		ring_put(&s, (uint16_t)(i * 37 % 300), (uint32_t)i, (uint16_t)i);
		ring_put(&s, (uint16_t)(i * 53 % 300), (uint32_t)i, (uint16_t)(i + 1000));
		ring_publish(&s, 1);
		ring_read(&s, 3, true);
	}
	save("ring", "stream", s.b, s.n);

	/* a full ring: drops, then the reader catches up */
	ring_head(&s, 12, 4096, 1024, 511);
	for (int i = 0; i < 40; i++)
		ring_put(&s, 200, 0, (uint16_t)i);
	ring_publish(&s, 0);
	ring_read(&s, 15, true);
	ring_read(&s, 15, true);
	s8(&s, 3), s8(&s, 5); /* five filtered */
	ring_publish(&s, 0);
	save("ring", "full", s.b, s.n);

	/* a sleeping reader woken at its watermark, then by its timeout */
	ring_head(&s, 13, 1u << 12, 64, 1000);
	s8(&s, 9), s8(&s, 1), s8(&s, 4), s16(&s, 5); /* arm: watermark 4, 5 ms */
	for (int i = 0; i < 5; i++) {
		ring_put(&s, 64, 0, (uint16_t)i);
		ring_publish(&s, 1);
	}
	s8(&s, 9), s8(&s, 0); /* disarm */
	ring_read(&s, 16, true);
	s8(&s, 9), s8(&s, 1), s8(&s, 100), s16(&s, 3); /* watermark 100, 3 ms */
	ring_put(&s, 64, 0, 9);
	ring_publish(&s, 1);
	ring_publish(&s, 20);
	ring_publish(&s, 20);
	s8(&s, 9), s8(&s, 0);
	s8(&s, 6), s8(&s, 0); /* EOF */
	save("ring", "wakeups", s.b, s.n);

	/* a lying consumer: cons far ahead, then back, wait requests of its own */
	ring_head(&s, 14, 1u << 14, 9000, 9);
	ring_put(&s, 100, 1, 1);
	ring_publish(&s, 0);
	s8(&s, 10), s8(&s, 1 | 2 | 4 | 8 | 16), s8(&s, 1), s32(&s, 0x80000000u), s32(&s, 7),
		s32(&s, 0), s32(&s, 1), s32(&s, 0);
	ring_put(&s, 100, 2, 2);
	ring_publish(&s, 0);
	s8(&s, 11), s8(&s, 1), s8(&s, 2), s16(&s, (uint16_t)-4);
	ring_put(&s, 100, 3, 3);
	ring_publish(&s, 1);
	s8(&s, 12), s8(&s, 16), s32(&s, 0xdeadbeef);  /* scribbles prod */
	s8(&s, 12), s8(&s, 32), s32(&s, 1);           /* ... and the stats seq */
	ring_read(&s, 4, true);
	save("ring", "liar", s.b, s.n);

	/* records the reader must refuse, and a reattach at a lying cons */
	ring_head(&s, 12, 1u << 12, 100, 100);
	ring_put(&s, 64, 0, 1);
	ring_put(&s, 64, 0, 2);
	ring_publish(&s, 0);
	s8(&s, 13), s8(&s, 3), s8(&s, 0), s32(&s, 4), s16(&s, 0), s16(&s, 32), s32(&s, 0);
	ring_read(&s, 2, false);
	s8(&s, 13), s8(&s, 3), s8(&s, 0), s32(&s, 96), s16(&s, 0), s16(&s, 32), s32(&s, 4000);
	ring_read(&s, 2, false);
	s8(&s, 13), s8(&s, 3), s8(&s, 0), s32(&s, 4096), s16(&s, 1), s16(&s, 0), s32(&s, 0);
	ring_read(&s, 2, true);
	s8(&s, 10), s8(&s, 1), s8(&s, 1), s32(&s, 8); /* cons lies, then the reader reattaches */
	s8(&s, 15);
	ring_read(&s, 2, true);
	save("ring", "bad-records", s.b, s.n);
}

/* ---- config ------------------------------------------------------------------- */

static void text(const char *target, const char *name, const char *t)
{
	save(target, name, t, strlen(t));
}

static void config_seeds(void)
{
	subdir("config");
	text("config", "readme",
	     "source eth0 if:eth0\n"
	     "vm     ids1 /run/vcap/ids1.ivshmem size=256Mi vectors=16\n"
	     "tenant team-a socket /run/vcap/team-a.sock     # bind-mount this into the container\n"
	     "tenant team-a allow eth0\n"
	     "tenant team-a filter not port 22\n"
	     "tenant lab uid 1000\n"
	     "tenant lab allow eth0\n"
	     "tenant ids vm ids1\n"
	     "tenant ids allow eth0\n"
	     "limit ring-memory 8Gi\n"
	     "limit flow-rules 100000\n");
	text("config", "rule-limits", "limit wildcard-rules 8\nlimit flow-rules 0\n");
	text("config", "test-cli-good", "# test config\nsource a synth:size=64,pps=1000\n"
					"limit rings-per-session 4\n");
	text("config", "test-cli-bad1", "source a synth:size=64\n# fine so far\nfrobnicate yes\n");
	text("config", "test-cli-bad3", "limit ring-size-max 1Mi\nlimit ring-size-default 4Mi\n");
	save("config", "test-cli-bad4", "source a\0b synth:\n", 18);
	text("config", "test-capture",
	     "source v if:veth0\n"
	     "source gen synth:pps=1000\n"
	     "tenant team-a socket /tmp/vcap-tenant-1.sock\n"
	     "tenant team-a allow v\n"
	     "tenant team-a filter not udp port 53\n");
	text("config", "test-hostile",
	     "source s synth:size=64,pps=1000\n"
	     "limit rings-per-session 3\n"
	     "limit ring-memory 9Mi\n"
	     "limit sessions 6\n");
	text("config", "tenants",
	     "socket /run/vcap/vcapd.sock owner=0 group=0 mode=0660\n"
	     "source s synth:size=64\n"
	     "limit hello-timeout-ms 500\n"
	     "limit filter-compile-ms 250\n"
	     "limit filter-insns 1024\n"
	     "limit tenant-cost-ns 800\n"
	     "limit tenant-sessions 4\n"
	     "limit tenant-rings 4\n"
	     "limit tenant-ring-memory 16Mi\n"
	     "limit tenant-wildcard-rules 32\n"
	     "limit tenant-flow-rules 1000\n"
	     "limit tenant-filter-insns 2048\n"
	     "tenant a socket /run/vcap/a.sock owner=1000 group=1000 mode=0600\n"
	     "tenant a allow s\n"
	     "tenant a sessions 2\n"
	     "tenant a rings 2\n"
	     "tenant a ring-memory 8Mi\n"
	     "tenant a wildcard-rules 8\n"
	     "tenant a flow-rules 100\n"
	     "tenant a filter-insns 512\n");
	text("config", "everything",
	     "# every directive once\n"
	     "socket /run/vcap/vcapd.sock\n"
	     "source gen synth:size=128,pps=14.88M,count=0,flows=1024,proto=mix,ipv6=10,vlan=7,"
	     "consumers=2,cpu=1\n"
	     "source file pcap:/var/tmp/x.pcap,speed=max,loop=3,consumers=1\n"
	     "source eth1 if:eth1,cpu=0\n"
	     "limit rings-per-session 16\n"
	     "limit ring-memory 1Gi\n"
	     "limit ring-size-max 64Mi\n"
	     "limit ring-size-default 1Mi\n"
	     "limit sessions 100\n"
	     "vm guest1 /run/vcap/guest1.sock size=64Mi,vectors=8\n"
	     "tenant t1 uid 1001\n"
	     "tenant t1 allow gen,file\n"
	     "tenant t1 rings 4\n"
	     "tenant t1 filter tcp or (udp and port 53)\n"
	     "tenant t2 socket /run/vcap/t2.sock\n"
	     "tenant t2 allow *\n"
	     "tenant t3 vm guest1\n"
	     "tenant t3 allow eth1\n"
	     "\t  \n");
	text("config", "tenant-incomplete", "tenant x allow a\n");
	text("config", "numbers", "limit ring-memory 1.5Gi\nlimit sessions 1k\nlimit ring-size-max 0x10\n");
}

/* ---- pcap --------------------------------------------------------------------- */

/* Frames of g written by libpcap; ts_of(i) gives each packet's time (ns). */
static void dump_file(const char *name, int linktype, int snaplen, int precision,
		      const struct vcap_synth *g, unsigned count, uint64_t (*ts_of)(unsigned))
{
	static uint8_t frame[VCAP_SYNTH_SIZE_MAX];
	char path[4096];
	pcap_t *dead = pcap_open_dead_with_tstamp_precision(linktype, snaplen, precision);
	pcap_dumper_t *d;

	seed_path(path, sizeof(path), "pcap", name);
	d = dead ? pcap_dump_open(dead, path) : NULL;
	if (!d)
		die("%s: %s", path, dead ? pcap_geterr(dead) : "pcap_open_dead");
	for (unsigned i = 0; i < count; i++) {
		uint64_t ts = ts_of(i);
		struct pcap_pkthdr h = { .caplen = g->cfg.size, .len = g->cfg.size };
		uint32_t skip = linktype == DLT_RAW ? 14 + (g->cfg.vlan ? 4 : 0) : 0;

		vcap_synth_frame(g, i, frame);
		h.caplen -= skip;
		h.len -= skip;
		if (h.caplen > (uint32_t)snaplen)
			h.caplen = (uint32_t)snaplen;
		h.ts.tv_sec = (time_t)(ts / 1000000000u);
		h.ts.tv_usec = (suseconds_t)(precision == PCAP_TSTAMP_PRECISION_NANO
						     ? ts % 1000000000u
						     : ts % 1000000000u / 1000u);
		pcap_dump((u_char *)d, &h, frame + skip);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

static uint64_t ts_steady(unsigned i) { return 1700000000000000000ull + i * 1000000ull; }
static uint64_t ts_back(unsigned i) { return 1700000000000000000ull - i * 7000000ull; }
static uint64_t ts_leap(unsigned i) { return i == 2 ? 4000000000000000000ull : i * 3ull; }

static void synth_of(struct vcap_synth *g, uint32_t size, uint32_t proto, uint32_t v6,
		     uint16_t vlan)
{
	struct vcap_synth_cfg cfg = { .size = size, .flows = 16, .proto = proto, .ipv6_pct = v6,
				      .vlan = vlan };
	char err[256];

	if (vcap_synth_init(g, &cfg, err, sizeof(err)))
		die("synth: %s", err);
}

/* pcapng written by hand: libpcap reads it but cannot write it. */
static void pcapng(const struct vcap_synth *g)
{
	static uint8_t b[4096], frame[128];
	size_t n = 0;
	uint32_t v;

#define PUT32(x) (v = (uint32_t)(x), memcpy(b + n, &v, 4), n += 4)
	/* section header block */
	PUT32(0x0a0d0d0a), PUT32(28), PUT32(0x1a2b3c4d), PUT32(0x00000001), PUT32(0xffffffff),
		PUT32(0xffffffff), PUT32(28);
	/* interface description: Ethernet, snaplen 96, if_tsresol 9 (ns), end of options */
	PUT32(1), PUT32(32), PUT32(1), PUT32(96), PUT32(9 | 1 << 16), PUT32(9), PUT32(0),
		PUT32(32);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t ts = 1700000000000000000ull + i * 2000000ull;
		uint32_t cap = 96, len = g->cfg.size;

		vcap_synth_frame(g, i, frame);
		/* enhanced packet block: iface 0, timestamp, caplen, len, data (padded) */
		PUT32(6), PUT32(32 + cap), PUT32(0), PUT32(ts >> 32), PUT32(ts & 0xffffffff),
			PUT32(cap), PUT32(len);
		memcpy(b + n, frame, cap);
		n += cap;
		PUT32(32 + cap);
	}
	/* a simple packet block */
	vcap_synth_frame(g, 3, frame);
	PUT32(3), PUT32(16 + 64), PUT32(64);
	memcpy(b + n, frame, 64);
	n += 64;
	PUT32(16 + 64);
#undef PUT32
	save("pcap", "pcapng", b, n);
}

/* A big-endian (swapped) classic file, microseconds, two packets. */
static void pcap_swapped(const struct vcap_synth *g)
{
	static uint8_t b[512], frame[128];
	size_t n = 0;
	uint32_t v;

#define PUTBE(x) (v = htobe32((uint32_t)(x)), memcpy(b + n, &v, 4), n += 4)
	PUTBE(0xa1b2c3d4), PUTBE(2 << 16 | 4), PUTBE(0), PUTBE(0), PUTBE(65535), PUTBE(1);
	for (unsigned i = 0; i < 2; i++) {
		vcap_synth_frame(g, i, frame);
		PUTBE(1700000000 + i), PUTBE(500000), PUTBE(g->cfg.size), PUTBE(g->cfg.size);
		memcpy(b + n, frame, g->cfg.size);
		n += g->cfg.size;
	}
#undef PUTBE
	save("pcap", "big-endian", b, n);
}

static void pcap_seeds(void)
{
	struct vcap_synth g;

	subdir("pcap");
	synth_of(&g, 64, VCAP_SYNTH_MIX, 0, 0);
	dump_file("udp-tcp-us", DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_MICRO, &g, 8, ts_steady);
	dump_file("udp-tcp-ns", DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO, &g, 8, ts_steady);
	dump_file("backwards", DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO, &g, 4, ts_back);
	dump_file("leap", DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO, &g, 4, ts_leap);
	synth_of(&g, 200, VCAP_SYNTH_TCP, 100, 7);
	dump_file("v6-vlan-snap64", DLT_EN10MB, 64, PCAP_TSTAMP_PRECISION_NANO, &g, 6, ts_steady);
	dump_file("raw-ip", DLT_RAW, 65535, PCAP_TSTAMP_PRECISION_MICRO, &g, 3, ts_steady);
	synth_of(&g, 9000, VCAP_SYNTH_UDP, 50, 0);
	dump_file("jumbo", DLT_EN10MB, 262144, PCAP_TSTAMP_PRECISION_NANO, &g, 2, ts_steady);
	synth_of(&g, 128, VCAP_SYNTH_MIX, 30, 0);
	pcapng(&g);
	pcap_swapped(&g);
}

/* ---- parse -------------------------------------------------------------------- */

static void frame_seed(const char *name, const uint8_t *f, size_t len)
{
	save("parse", name, f, len);
}

static size_t eth(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint16_t type)
{
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
	return 14;
}

static size_t ipv4(uint8_t *f, uint8_t ihl, uint8_t proto, uint16_t frag, const uint8_t *src,
		   const uint8_t *dst)
{
	memset(f, 0, (size_t)ihl * 4);
	f[0] = (uint8_t)(0x40 | ihl);
	f[6] = (uint8_t)(frag >> 8);
	f[7] = (uint8_t)frag;
	f[8] = 64;
	f[9] = proto;
	memcpy(f + 12, src, 4);
	memcpy(f + 16, dst, 4);
	return (size_t)ihl * 4;
}

static size_t ipv6(uint8_t *f, uint8_t nh, const uint8_t *src, const uint8_t *dst)
{
	memset(f, 0, 40);
	f[0] = 0x60;
	f[6] = nh;
	f[7] = 64;
	memcpy(f + 8, src, 16);
	memcpy(f + 24, dst, 16);
	return 40;
}

static size_t l4(uint8_t *f, uint16_t sport, uint16_t dport, uint8_t tcp_flags, size_t len)
{
	memset(f, 0, len);
	f[0] = (uint8_t)(sport >> 8), f[1] = (uint8_t)sport;
	f[2] = (uint8_t)(dport >> 8), f[3] = (uint8_t)dport;
	if (len >= 20)
		f[12] = 0x50, f[13] = tcp_flags;
	return len;
}

static void parse_seeds(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t cli[6] = { 2, 0, 0, 0, 0, 1 }, srv[6] = { 2, 0, 0, 0, 0, 2 };
	static const uint8_t a4[4] = { 10, 1, 0, 0 }, b4[4] = { 10, 2, 0, 1 };
	static const uint8_t i1[4] = { 10, 9, 9, 9 }, i2[4] = { 10, 8, 8, 8 };
	static const uint8_t a6[16] = { 0xfd, 0, [10] = 0, 1, 0, 0, 0, 3 };
	static const uint8_t b6[16] = { 0xfd, 0, [13] = 2, 0, 4 };
	static const uint8_t s6a[16] = { 0xfd, [15] = 5 }, s6b[16] = { 0xfd, [15] = 6 };
	static const uint32_t protos[] = { VCAP_SYNTH_UDP, VCAP_SYNTH_TCP };
	static uint8_t f[512];
	struct vcap_synth g;
	char name[64];
	size_t n;

	subdir("parse");
	/* the generator: every family, protocol and tagging, a few packets each */
	for (unsigned p = 0; p < 2; p++)
		for (unsigned v6 = 0; v6 <= 100; v6 += 100)
			for (unsigned vlan = 0; vlan <= 7; vlan += 7) {
				synth_of(&g, 128, protos[p], v6, (uint16_t)vlan);
				for (unsigned i = 0; i < 4; i++) {
					vcap_synth_frame(&g, i * 17, f);
					snprintf(name, sizeof(name), "synth-%s-v%u-vlan%u-%u",
						 p ? "tcp" : "udp", v6 ? 6 : 4, vlan, i);
					frame_seed(name, f, 128);
				}
			}

	/* QinQ: 802.1ad outer tag, 802.1Q inner, IPv4 UDP */
	n = eth(f, srv, cli, 0x88a8);
	f[n++] = 0x00, f[n++] = 0x07, f[n++] = 0x81, f[n++] = 0x00;
	f[n++] = 0x00, f[n++] = 0x09, f[n++] = 0x08, f[n++] = 0x00;
	n += ipv4(f + n, 5, 17, 0, a4, b4);
	n += l4(f + n, 1024, 53, 0, 8);
	frame_seed("qinq-udp", f, n);

	/* IPv4 with options, TCP SYN (rule 20) */
	n = eth(f, srv, cli, 0x0800);
	n += ipv4(f + n, 6, 6, 0x4000, a4, b4);
	n += l4(f + n, 1024, 80, 0x02, 20);
	frame_seed("v4-options-syn", f, n);

	/* IPv4 fragments, first and later */
	n = eth(f, srv, cli, 0x0800);
	n += ipv4(f + n, 5, 17, 0x2000, a4, b4);
	n += l4(f + n, 1024, 53, 0, 8);
	frame_seed("v4-frag-first", f, n);
	n = eth(f, srv, cli, 0x0800);
	n += ipv4(f + n, 5, 17, 0x0010, a4, b4);
	n += l4(f + n, 0, 0, 0, 16);
	frame_seed("v4-frag-later", f, n);

	/* ICMP between the addresses of flow rule 3; proto 0 of flow rule 5 */
	n = eth(f, srv, cli, 0x0800);
	n += ipv4(f + n, 5, 1, 0, i1, i2);
	n += l4(f + n, 0x0800, 0, 0, 8);
	frame_seed("v4-icmp", f, n);
	n = eth(f, srv, cli, 0x0800);
	n += ipv4(f + n, 5, 0, 0, (const uint8_t[]){ 10, 0, 0, 2 },
		  (const uint8_t[]){ 10, 0, 0, 1 });
	frame_seed("v4-proto0", f, n);

	/* IPv6: hop-by-hop, routing, destination options, then TCP FIN */
	n = eth(f, srv, cli, 0x86dd);
	n += ipv6(f + n, 0, a6, b6);
	f[n] = 43, f[n + 1] = 0, memset(f + n + 2, 0, 6), n += 8;
	f[n] = 60, f[n + 1] = 1, memset(f + n + 2, 0, 14), n += 16;
	f[n] = 6, f[n + 1] = 0, memset(f + n + 2, 0, 6), n += 8;
	n += l4(f + n, 1027, 22, 0x11, 20);
	frame_seed("v6-ext-fin", f, n);

	/* IPv6 fragment header */
	n = eth(f, srv, cli, 0x86dd);
	n += ipv6(f + n, 44, s6a, s6b);
	f[n] = 132, memset(f + n + 1, 0, 7), f[n + 3] = 1, n += 8;
	n += l4(f + n, 9, 10, 0, 12);
	frame_seed("v6-frag-sctp", f, n);

	/* SCTP of flow rule 4, unfragmented, reverse direction */
	n = eth(f, srv, cli, 0x86dd);
	n += ipv6(f + n, 132, s6b, s6a);
	n += l4(f + n, 10, 9, 0, 12);
	frame_seed("v6-sctp", f, n);

	/* ARP broadcast (rule 50), VLAN 0 (rule 100), a bare header */
	n = eth(f, bcast, cli, 0x0806);
	memset(f + n, 0, 28), n += 28;
	frame_seed("arp", f, n);
	n = eth(f, srv, cli, 0x8100);
	f[n++] = 0x20, f[n++] = 0x00, f[n++] = 0x86, f[n++] = 0xdd;
	n += ipv6(f + n, 17, b6, a6);
	n += l4(f + n, 2000, 1500, 0, 8);
	frame_seed("vlan0-v6-udp", f, n);
	frame_seed("eth-only", f, 14);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) && errno != EEXIST)
		die("%s: %s", outdir, strerror(errno));
	codec_seeds();
	shm_queue_seeds();
	ring_seeds();
	config_seeds();
	pcap_seeds();
	parse_seeds();
	return 0;
}
