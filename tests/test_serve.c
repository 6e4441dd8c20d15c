/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_serve.c - the request core (proto/serve.c) that vcapd's sessions and
 * vcap-guestd's clients share: what every server must do the same way,
 * checked once here against a small server of the test's own (the core is
 * the real one; vcapd and vcap-guestd are tested end to end elsewhere).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "codec.h"
#include "serve.h"

/* The test's server: records what the core asked of it. */
struct peer_ctx {
	uint32_t owned;     /* the one ring this peer holds (0: none) */
	int requests;       /* request() calls */
	int sends;
	int send_rc;        /* what send() returns */
	int request_rc;     /* what request() returns (-1: the peer is gone) */
	int sent_fds;       /* sent_fds() calls */
	uint32_t narrow;    /* features hello() keeps */
	struct vcap_msg last_sent;
};

static _Alignas(8) uint8_t wire[VCAP_MSG_MAX];
static struct vcap_serve_buf sb;

static void t_hello(void *ctx, const struct vcap_msg *req, struct vcap_msg_hello_reply *r)
{
	struct peer_ctx *p = ctx;

	(void)req;
	r->max_rings = 7;
	r->features &= p->narrow;
}

static bool t_owns(void *ctx, uint32_t id)
{
	return id && id == ((struct peer_ctx *)ctx)->owned;
}

static int t_request(void *ctx, const struct vcap_msg *req, struct vcap_msg *reply, int *fds)
{
	struct peer_ctx *p = ctx;

	p->requests++;
	if (p->request_rc < 0)
		return p->request_rc;
	vcap_msg_reply(reply, req);
	fds[0] = 0; /* stdin: any descriptor; the core only passes it on */
	return 1;
}

static int t_send(void *ctx, const void *buf, size_t len, const int *fds, int nfds)
{
	struct peer_ctx *p = ctx;
	char why[160];

	(void)fds;
	(void)nfds;
	p->sends++;
	CHECK(vcap_msg_decode(buf, len, &p->last_sent, why, sizeof(why)) == 0, "reply: %s", why);
	return p->send_rc;
}

static void t_sent_fds(void *ctx, const struct vcap_msg *reply, int *fds, int nfds)
{
	(void)reply;
	(void)fds;
	CHECK_EQ(nfds, 1);
	((struct peer_ctx *)ctx)->sent_fds++;
}

static const struct vcap_server_ops ops = {
	.name = "testd",
	.hello = t_hello,
	.owns_ring = t_owns,
	.request = t_request,
	.send = t_send,
	.sent_fds = t_sent_fds,
};

/* Encode m and serve it.  @return vcap_serve's answer. */
static int serve(struct peer_ctx *p, struct vcap_peer *peer, struct vcap_msg *m)
{
	ssize_t len = vcap_msg_encode(m, wire, sizeof(wire));

	CHECK(len > 0, "encode %zd", len);
	return vcap_serve(&ops, p, peer, &sb, wire, (size_t)len);
}

static struct vcap_msg hello(uint16_t vmin, uint16_t vmax, uint32_t features)
{
	struct vcap_msg m;

	vcap_msg_init(&m, VCAP_APP_FRAMEWORK, VCAP_MSG_HELLO);
	m.u.hello.version_min = vmin;
	m.u.hello.version_max = vmax;
	m.u.hello.features = features;
	m.seq = 11;
	snprintf(m.name, sizeof(m.name), "tester");
	return m;
}

static void test_before_hello_and_versions(void)
{
	struct peer_ctx p = { .narrow = ~0u };
	struct vcap_peer peer = { 0 };
	struct vcap_msg m;

	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
	m.seq = 5;
	CHECK_EQ(serve(&p, &peer, &m), 0); /* refused, but the peer goes on */
	CHECK_EQ(p.last_sent.status, (unsigned long long)-EPROTO);
	CHECK_EQ(p.last_sent.seq, 5);
	CHECK(strstr(p.last_sent.text, "STATUS before HELLO"), "%s", p.last_sent.text);
	CHECK_EQ(p.requests, 0);

	m = hello(VCAP_PROTO_VERSION + 1, VCAP_PROTO_VERSION + 3, 0);
	CHECK_EQ(serve(&p, &peer, &m), 0);
	CHECK_EQ(p.last_sent.status, (unsigned long long)-EPROTO);
	CHECK(strstr(p.last_sent.text, "testd speaks"), "%s", p.last_sent.text);
	CHECK(!peer.hello, "a refused HELLO leaves the peer without one");

	/* every bit offered, the server keeps all: only what this header knows */
	m = hello(1, VCAP_PROTO_VERSION + 5, ~0u);
	CHECK_EQ(serve(&p, &peer, &m), 0);
	CHECK_EQ(p.last_sent.status, 0);
	CHECK_EQ(p.last_sent.u.hello_reply.version, VCAP_PROTO_VERSION);
	CHECK_EQ(p.last_sent.u.hello_reply.max_rings, 7);
	CHECK_EQ(p.last_sent.u.hello_reply.features, VCAP_FEATURES);
	CHECK_EQ(peer.features, VCAP_FEATURES);
	CHECK(peer.hello && !strcmp(peer.name, "tester"), "hello %d name %s", peer.hello,
	      peer.name);

	/* a server can only narrow; a client offering nothing gets nothing */
	p.narrow = 0;
	m = hello(VCAP_PROTO_VERSION, VCAP_PROTO_VERSION, ~0u);
	CHECK_EQ(serve(&p, &peer, &m), 0);
	CHECK_EQ(p.last_sent.u.hello_reply.features, 0);
	p.narrow = ~0u;
	m = hello(VCAP_PROTO_VERSION, VCAP_PROTO_VERSION, 0);
	CHECK_EQ(serve(&p, &peer, &m), 0);
	CHECK_EQ(p.last_sent.u.hello_reply.features, 0);
}

static void test_rings_and_replies(void)
{
	static const uint16_t ring_types[] = { VCAP_MSG_CLOSE, VCAP_MSG_SET_FILTER, VCAP_MSG_STATS,
					       VCAP_MSG_RULE_ADD, VCAP_MSG_RULE_REMOVE,
					       VCAP_MSG_RULE_DEFAULT, VCAP_MSG_RULE_HITS,
					       VCAP_MSG_FLOW_ADD, VCAP_MSG_FLOW_REMOVE,
					       VCAP_MSG_FLOW_HITS, VCAP_MSG_FLOW_LIST };
	struct peer_ctx p = { .owned = 42, .narrow = ~0u };
	struct vcap_peer peer = { 0 };
	struct vcap_msg m = hello(VCAP_PROTO_VERSION, VCAP_PROTO_VERSION, 0);
	uint32_t id;

	CHECK_EQ(serve(&p, &peer, &m), 0);
	for (size_t i = 0; i < sizeof(ring_types) / sizeof(ring_types[0]); i++) {
		int before = p.requests;

		vcap_msg_init(&m, VCAP_APP_CAPTURE, ring_types[i]);
		m.u.close.ring_id = 41; /* every ring request has its id first */
		CHECK(vcap_msg_ring_id(&m, &id) && id == 41, "%s names a ring",
		      vcap_msg_name(m.app, m.type));
		CHECK_EQ(serve(&p, &peer, &m), 0);
		CHECK_EQ(p.last_sent.status, (unsigned long long)-ENOENT);
		CHECK_EQ(p.requests, before); /* another's ring never reaches the server */
		m.u.close.ring_id = 42;
		CHECK_EQ(serve(&p, &peer, &m), 0);
		CHECK_EQ(p.last_sent.status, 0);
		CHECK_EQ(p.requests, before + 1);
	}
	CHECK_EQ(p.sent_fds, sizeof(ring_types) / sizeof(ring_types[0]));
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_OPEN);
	CHECK(!vcap_msg_ring_id(&m, &id), "OPEN names no ring");
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
	CHECK(!vcap_msg_ring_id(&m, &id), "STATUS names no ring");

	/* a reply is not a request */
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
	m.flags = VCAP_MSGF_REPLY;
	CHECK_EQ(serve(&p, &peer, &m), 0);
	CHECK_EQ(p.last_sent.status, (unsigned long long)-EPROTO);
	CHECK(strstr(p.last_sent.text, "testd takes requests"), "%s", p.last_sent.text);

	/* a reply that cannot be sent ends the peer; so does a server that says it is gone */
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
	p.send_rc = -EAGAIN;
	CHECK_EQ(serve(&p, &peer, &m), (unsigned long long)-EPIPE);
	p.send_rc = 0;
	p.request_rc = -1;
	{
		int sends = p.sends;

		CHECK_EQ(serve(&p, &peer, &m), (unsigned long long)-ENOTCONN);
		CHECK_EQ(p.sends, sends); /* nothing sent to a peer that is gone */
	}
}

static void test_malformed(void)
{
	struct peer_ctx p = { .narrow = ~0u };
	struct vcap_peer peer = { 0 };
	struct vcap_msg m = hello(VCAP_PROTO_VERSION, VCAP_PROTO_VERSION, 0);
	ssize_t len;

	m.seq = 0x1234;
	len = vcap_msg_encode(&m, wire, sizeof(wire));
	CHECK(len > 0, "encode");
	wire[len - 1] = '\0'; /* a NUL inside the client name */
	CHECK_EQ(vcap_serve(&ops, &p, &peer, &sb, wire, (size_t)len), (unsigned long long)-EBADMSG);
	CHECK_EQ(p.sends, 1);
	CHECK_EQ(p.last_sent.status, (unsigned long long)-EBADMSG);
	CHECK_EQ(p.last_sent.seq, 0x1234); /* echoed, so the client knows which request */
	CHECK(strstr(p.last_sent.text, "malformed message"), "%s", p.last_sent.text);
	/* shorter than a header: still an answer, with no seq to echo */
	CHECK_EQ(vcap_serve(&ops, &p, &peer, &sb, wire, 3), (unsigned long long)-EBADMSG);
	CHECK_EQ(p.sends, 2);
	CHECK_EQ(p.last_sent.seq, 0);
	CHECK(!peer.hello, "a malformed HELLO is no HELLO");
}

int main(void)
{
	test_before_hello_and_versions();
	test_rings_and_replies();
	test_malformed();
	return 0;
}
