/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * requests.h - vcapd's answers to each request of vcap_proto.h, for a
 * session on any carrier.  The request core (proto/serve.c) has already
 * decoded the request, checked HELLO, and checked that a ring it names is
 * the session's.  Internal to session.c.
 */
#ifndef VCAP_DAEMON_REQUESTS_H
#define VCAP_DAEMON_REQUESTS_H

#include <stdint.h>

#include "codec.h"

struct consumer;
struct session;

/* vcapd's limits for ss, before its carrier narrows them. */
void requests_hello(struct session *ss, struct vcap_msg_hello_reply *r);

/*
 * Answer req into reply; descriptors to send with it go to fds.
 * @return their number, or VCAP_SERVE_LATER: the answer is being worked
 * out off the control thread (ss->busy), and session_answer() sends it.
 */
int requests_answer(struct session *ss, const struct vcap_msg *req, struct vcap_msg *reply,
		    int *fds);

/*
 * OPEN, CLOSE, SET_FILTER (requests_ring.c): @return VCAP_SERVE_LATER, or
 * 0 with the reply filled in (an error, or a CLOSE answered at once).
 */
int requests_open(struct session *ss, const struct vcap_msg *m, struct vcap_msg *reply);
int requests_close(struct session *ss, struct consumer *c, const struct vcap_msg *m,
		   struct vcap_msg *reply);
int requests_set_filter(struct session *ss, struct consumer *c, const struct vcap_msg *m,
			struct vcap_msg *reply);

/* A job ended or ring pages came back: requests that waited their turn go on. */
void requests_retry(void);

/* ss ended while busy: its request's job cleans up and answers nobody. */
void requests_abandon(struct session *ss);

/* The session's ring `id`, or NULL (session.c). */
struct consumer *session_ring(struct session *ss, uint32_t id);
/* Account a ring just attached to ss, and forget one (detach, free it). */
void session_add_ring(struct session *ss, struct consumer *c);
void session_free_ring(struct session *ss, struct consumer *c);
/* ... and @return true if its pages are given back later: released(arg) says when. */
bool session_close_ring(struct session *ss, struct consumer *c, void (*released)(void *arg),
			void *arg);

#endif /* VCAP_DAEMON_REQUESTS_H */
