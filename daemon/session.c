/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * session.c - sessions over any carrier (see session.h): their lifetime,
 * their rings, and how the request core (proto/serve.c) reaches vcapd's
 * request handlers (requests.c).
 */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "capture.h"
#include "consumer.h"
#include "requests.h"
#include "source.h"
#include "util.h"
#include "vcapd.h"

/* The control thread serves one request at a time. */
static struct vcap_serve_buf serve_buf;

struct session *session_new(struct vcapd *d, const struct session_ops *ops, void *carrier)
{
	struct session *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return NULL;
	ss->ops = ops;
	ss->carrier = carrier;
	ss->d = d;
	d->n_sessions++;
	return ss;
}

struct consumer *session_ring(struct session *ss, uint32_t id)
{
	for (struct consumer *c = ss->consumers; c; c = c->next_in_session)
		if (c->id == id)
			return c;
	return NULL;
}

void session_add_ring(struct session *ss, struct consumer *c)
{
	struct vcapd *d = ss->d;

	c->next_in_session = ss->consumers;
	ss->consumers = c;
	c->next_global = d->consumers;
	d->consumers = c;
	ss->n_rings++;
	c->src->n_consumers++;
	if (ss->ops->charges_ring_memory) {
		d->ring_memory += c->place.map_size;
		c->charged = d; /* until its pages are given back (consumer.c) */
	}
	account_charge_ring(ss->acct, ss->ops->charges_ring_memory ? c->place.map_size : 0);
}

static void memory_back(void *arg)
{
	(void)arg;
	requests_retry();
}

void session_free_ring(struct session *ss, struct consumer *c)
{
	session_close_ring(ss, c, memory_back, NULL);
}

bool session_close_ring(struct session *ss, struct consumer *c, void (*released)(void *arg),
			void *arg)
{
	struct vcapd *d = ss->d;

	for (struct consumer **pp = &ss->consumers; *pp; pp = &(*pp)->next_in_session) {
		if (*pp == c) {
			*pp = c->next_in_session;
			break;
		}
	}
	for (struct consumer **pp = &d->consumers; *pp; pp = &(*pp)->next_global) {
		if (*pp == c) {
			*pp = c->next_global;
			break;
		}
	}
	roster_detach(c);
	/* a consumer still there (a guest after a reset) wakes up to a clear end */
	vcap_ring_writer_set_state(&c->w, VCAP_RING_STATE_DEAD);
	consumer_signal(c);
	c->src->n_consumers--;
	ss->n_rings--;
	account_ring_closed(ss->acct, c);
	account_uncharge_ring(ss->acct, ss->ops->charges_ring_memory ? c->place.map_size : 0);
	return consumer_destroy_then(c, released, arg);
}

/* ---- the request core's view of a session ----------------------------------- */

static void serve_hello(void *ctx, const struct vcap_msg *req, struct vcap_msg_hello_reply *r)
{
	struct session *ss = ctx;

	snprintf(ss->client, sizeof(ss->client), "%s%s", ss->origin, req->name);
	requests_hello(ss, r);
	if (ss->ops->limits)
		ss->ops->limits(ss, r);
}

static bool serve_owns_ring(void *ctx, uint32_t id)
{
	return session_ring(ctx, id) != NULL;
}

static int serve_request(void *ctx, const struct vcap_msg *req, struct vcap_msg *reply, int *fds)
{
	struct session *ss = ctx;
	int rc = requests_answer(ss, req, reply, fds);

	if (rc == VCAP_SERVE_LATER)
		ss->ops->pause(ss, true);
	return rc;
}

static int serve_send(void *ctx, const void *buf, size_t len, const int *fds, int nfds)
{
	struct session *ss = ctx;

	return ss->ops->send(ss, buf, len, fds, nfds);
}

/* The consumer holds the ring's descriptors now; vcapd keeps its mapping and wake end. */
static void serve_sent_fds(void *ctx, const struct vcap_msg *reply, int *fds, int nfds)
{
	struct consumer *c = session_ring(ctx, reply->u.open_reply.ring_id);

	(void)fds;
	(void)nfds;
	if (c)
		consumer_gave(c);
}

static const struct vcap_server_ops vcapd_server = {
	.name = "vcapd",
	.hello = serve_hello,
	.owns_ring = serve_owns_ring,
	.request = serve_request,
	.send = serve_send,
	.sent_fds = serve_sent_fds,
};

int session_request(struct session *ss, const void *buf, size_t len)
{
	int rc = vcap_serve(&vcapd_server, ss, &ss->peer, &serve_buf, buf, len);

	if (rc == -EBADMSG)
		vlog(LOG_WARNING, "session %s (pid %d): %s", ss->client, (int)ss->cred.pid,
		     serve_buf.reply.text);
	return rc ? -1 : 0;
}

void session_answer(struct session *ss, const struct vcap_msg *reply, int *fds, int nfds)
{
	ss->busy = NULL;
	serve_buf.reply = *reply;
	if (vcap_serve_reply(&vcapd_server, ss, &serve_buf, fds, nfds)) {
		ss->ops->fail(ss, "failed reply");
		return;
	}
	ss->ops->pause(ss, false);
}

void session_end(struct session *ss, const char *why)
{
	if (ss->busy)
		requests_abandon(ss);
	if (ss->waiting_cancel)
		ss->waiting_cancel(ss);
	if (ss->n_rings || why)
		vlog(LOG_INFO, "session %s (pid %d): %s; freeing %u ring(s)", ss->client,
		     (int)ss->cred.pid, why ? why : "closed", ss->n_rings);
	while (ss->consumers)
		session_free_ring(ss, ss->consumers);
	if (ss->ops->ended)
		ss->ops->ended(ss);
	ss->d->n_sessions--;
	account_session_end(ss->d, ss->acct);
	free(ss);
}
