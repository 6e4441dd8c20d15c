/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * serve.h - the request core every server of vcap_proto.h runs: vcapd's
 * sessions (unix sockets and VM queues alike) and vcap-guestd's clients.
 *
 * One message in, one reply out.  The core owns what every server must do
 * the same way, so that no server can get it subtly different:
 *   - decode; a malformed message gets an error reply that echoes its seq
 *     (when it had one) and the peer is hung up;
 *   - refuse replies sent as requests;
 *   - HELLO: the version check and the feature negotiation (the reply's
 *     features are those both sides know), then the server's own limits;
 *   - refuse everything else before HELLO;
 *   - a request that names a ring (vcap_msg_ring_id) names one of the
 *     peer's own, or gets -ENOENT without reaching the server;
 *   - encode the reply and send it; a reply that cannot be sent ends the
 *     peer.
 * The server supplies what differs: its limits, who owns which ring, how a
 * request is answered and how a reply travels.  No I/O happens here.
 */
#ifndef VCAP_PROTO_SERVE_H
#define VCAP_PROTO_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

/* What the core keeps per peer. */
struct vcap_peer {
	bool hello;        /* a HELLO was answered successfully */
	uint32_t features; /* VCAP_FEAT_* negotiated in HELLO */
	char name[VCAP_NAME_MAX + 1]; /* the peer's name for itself (HELLO), "" before */
};

struct vcap_server_ops {
	const char *name; /* "vcapd", "vcap-guestd": for error messages */
	/*
	 * HELLO passed the version check: fill the limits in r.  r->features
	 * holds what both the client and this header know; the server may
	 * narrow it.  The version and the header are the core's.
	 */
	void (*hello)(void *peer_ctx, const struct vcap_msg *req, struct vcap_msg_hello_reply *r);
	/* Is ring id open for this peer? */
	bool (*owns_ring)(void *peer_ctx, uint32_t id);
	/*
	 * Answer a request (after HELLO, its ring checked): fill *reply (with
	 * vcap_msg_reply or vcap_msg_error) and up to VCAP_SERVE_MAX_FDS
	 * descriptors to send with it.  @return the number of descriptors;
	 * -1 if the peer is gone and nothing must be sent; or VCAP_SERVE_LATER
	 * if the answer takes long: the server keeps what it needs of req
	 * (which does not outlive this call), reads no more of this peer's
	 * requests meanwhile, and sends the reply with vcap_serve_reply().
	 */
	int (*request)(void *peer_ctx, const struct vcap_msg *req, struct vcap_msg *reply, int *fds);
	/* Send one encoded reply.  @return 0 or -errno. */
	int (*send)(void *peer_ctx, const void *buf, size_t len, const int *fds, int nfds);
	/*
	 * Called after the reply that carried descriptors was sent (or failed
	 * to be): the server closes what it only had to hand over.  May be NULL.
	 */
	void (*sent_fds)(void *peer_ctx, const struct vcap_msg *reply, int *fds, int nfds);
};

#define VCAP_SERVE_MAX_FDS 4

/* request() will answer later (see there). */
#define VCAP_SERVE_LATER (-2)

/* Big messages, used one request at a time: one per server thread. */
struct vcap_serve_buf {
	struct vcap_msg req;
	struct vcap_msg reply;
	_Alignas(8) uint8_t tx[VCAP_MSG_MAX];
};

/*
 * Serve one message of len bytes at buf from peer.
 * @return 0 if the peer goes on; else the caller ends the peer:
 * -EBADMSG, it sent a malformed message (answered, why in b->reply.text);
 * -EPIPE, the reply could not be sent;
 * -ENOTCONN, the server's request() said the peer is gone already (the
 * caller must not touch it).
 */
int vcap_serve(const struct vcap_server_ops *ops, void *peer_ctx, struct vcap_peer *peer,
	       struct vcap_serve_buf *b, const void *buf, size_t len);

/*
 * Send the reply a request() that returned VCAP_SERVE_LATER filled in
 * b->reply since (with vcap_msg_reply or vcap_msg_error on a copy of its
 * request), with nfds descriptors; sent_fds is called as for any reply.
 * @return 0, or -EPIPE: the reply could not be sent (end the peer).
 */
int vcap_serve_reply(const struct vcap_server_ops *ops, void *peer_ctx, struct vcap_serve_buf *b,
		     int *fds, int nfds);

#endif /* VCAP_PROTO_SERVE_H */
