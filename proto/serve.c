/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * serve.c - the request core shared by every server (see serve.h).
 */
#include "serve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Fill b->reply for req; @return descriptors to send, or -1: the peer is gone. */
static int answer(const struct vcap_server_ops *ops, void *ctx, struct vcap_peer *peer,
		  struct vcap_serve_buf *b, int *fds)
{
	const struct vcap_msg *m = &b->req;
	uint32_t id;

	if (m->flags & VCAP_MSGF_REPLY) {
		vcap_msg_error(&b->reply, m, -EPROTO, "%s takes requests, not replies", ops->name);
		return 0;
	}
	if (m->app == VCAP_APP_FRAMEWORK && m->type == VCAP_MSG_HELLO) {
		const struct vcap_msg_hello *h = &m->u.hello;
		struct vcap_msg_hello_reply *r = &b->reply.u.hello_reply;

		if (h->version_min > VCAP_PROTO_VERSION || h->version_max < VCAP_PROTO_VERSION) {
			vcap_msg_error(&b->reply, m, -EPROTO,
				       "client speaks protocol versions %u..%u, %s speaks %u",
				       h->version_min, h->version_max, ops->name,
				       VCAP_PROTO_VERSION);
			return 0;
		}
		peer->hello = true;
		snprintf(peer->name, sizeof(peer->name), "%s", m->name);
		vcap_msg_reply(&b->reply, m);
		r->features = h->features & VCAP_FEATURES;
		ops->hello(ctx, m, r); /* may narrow the features (a relay: to its upstream's) */
		r->version = VCAP_PROTO_VERSION;
		r->features &= h->features & VCAP_FEATURES;
		peer->features = r->features;
		return 0;
	}
	if (!peer->hello) {
		vcap_msg_error(&b->reply, m, -EPROTO, "%s before HELLO",
			       vcap_msg_name(m->app, m->type));
		return 0;
	}
	if (vcap_msg_ring_id(m, &id) && !ops->owns_ring(ctx, id)) {
		/* a program knows no ring ids, only its handle */
		vcap_msg_error(&b->reply, m, -ENOENT,
			       "this handle is not open in this session (closed, or its ring "
			       "was freed)");
		return 0;
	}
	return ops->request(ctx, m, &b->reply, fds);
}

int vcap_serve(const struct vcap_server_ops *ops, void *ctx, struct vcap_peer *peer,
	       struct vcap_serve_buf *b, const void *buf, size_t len)
{
	int fds[VCAP_SERVE_MAX_FDS], nfds;
	char why[160];
	ssize_t out;

	if (vcap_msg_decode(buf, len, &b->req, why, sizeof(why))) {
		/* Malformed: say why, echoing the seq if there was one, then end. */
		struct vcap_msg_hdr h = { 0 };
		struct vcap_app_hdr a = { 0 };

		if (len >= VCAP_MSG_MIN) {
			memcpy(&h, buf, sizeof(h));
			memcpy(&a, (const uint8_t *)buf + sizeof(h), sizeof(a));
		}
		vcap_msg_init(&b->req, h.app, a.type);
		b->req.seq = h.seq;
		vcap_msg_error(&b->reply, &b->req, -EBADMSG, "malformed message: %s", why);
		out = vcap_msg_encode(&b->reply, b->tx, sizeof(b->tx));
		if (out > 0)
			ops->send(ctx, b->tx, (size_t)out, NULL, 0);
		return -EBADMSG;
	}
	nfds = answer(ops, ctx, peer, b, fds);
	if (nfds == VCAP_SERVE_LATER)
		return 0;
	if (nfds < 0)
		return -ENOTCONN;
	return vcap_serve_reply(ops, ctx, b, fds, nfds);
}

int vcap_serve_reply(const struct vcap_server_ops *ops, void *ctx, struct vcap_serve_buf *b,
		     int *fds, int nfds)
{
	ssize_t out = vcap_msg_encode(&b->reply, b->tx, sizeof(b->tx));
	int rc = 0;

	if (out < 0 || ops->send(ctx, b->tx, (size_t)out, fds, nfds))
		rc = -EPIPE;
	if (nfds && ops->sent_fds)
		ops->sent_fds(ctx, &b->reply, fds, nfds);
	return rc;
}
