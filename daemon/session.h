/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * session.h - one client of vcapd and the rings it holds, whatever carries
 * its requests.
 *
 * A carrier is how requests and replies travel and where rings go:
 *   session_unix.c  a SOCK_SEQPACKET connection (host process, container):
 *                   rings in sealed memfds, woken through a pipe, both
 *                   handed over as SCM_RIGHTS;
 *   vm.c            a VM's control queues in its ivshmem region: rings
 *                   carved from the region, woken through the guest's
 *                   interrupt vector.
 * Each carrier fills a struct session_ops; nothing outside the carrier's
 * file knows which one a session uses.  The carrier calls down into this
 * file (session_new, session_request, session_end); this file calls the
 * carrier only through its ops.
 *
 * A session's rings live exactly as long as it does: when its peer goes
 * away (SIGKILL included: the kernel hangs up for it; a VM's QEMU exits)
 * every ring it held is detached and freed.
 */
#ifndef VCAP_DAEMON_SESSION_H
#define VCAP_DAEMON_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* struct ucred */

#include "serve.h"

struct account;
struct consumer;
struct req_job;
struct ring_place;
struct session;
struct tenant;
struct vcapd;

struct session_ops {
	const char *kind; /* "unix", "vm": for logs */
	/* Rings it places count toward vcapd's ring-memory limit (host memory). */
	bool charges_ring_memory;
	/* Send one encoded reply, with descriptors where the carrier can. */
	int (*send)(struct session *ss, const void *buf, size_t len, const int *fds, int nfds);
	/*
	 * Find room for a ring of p->map_size bytes that the peer can map and
	 * a way to wake it: fill the rest of *p (p->carrier: what release
	 * needs).  Quick: the pages are populated later, off the control
	 * thread.  @return 0 or -errno with err.
	 */
	int (*ring_place)(struct session *ss, struct ring_place *p, char *err, size_t err_len);
	/*
	 * Give back what ring_place took (the ring is detached by now), in
	 * two steps: ring_unmap, on a job thread (jobs.h), what can take long
	 * (unmapping a large ring frees its pages: ~0.2 s a GiB), may be NULL;
	 * then ring_release on the control thread.  The session may be gone
	 * by then.
	 */
	void (*ring_unmap)(struct ring_place *p);
	void (*ring_release)(struct ring_place *p);
	/*
	 * A request of the session is being answered off the control thread
	 * (jobs.h): stop reading its requests (paused) or read on, including
	 * what queued meanwhile (!paused).
	 */
	void (*pause)(struct session *ss, bool paused);
	/* End the session the carrier's way (a VM's region is reset, too). */
	void (*fail)(struct session *ss, const char *why);
	/* Narrow vcapd's limits in a HELLO reply to what the carrier can give; may be NULL. */
	void (*limits)(struct session *ss, struct vcap_msg_hello_reply *r);
	/* The session ended and its rings are freed: free the carrier's part; may be NULL. */
	void (*ended)(struct session *ss);
};

struct session {
	const struct session_ops *ops;
	void *carrier;           /* the carrier's state for this session */
	struct vcapd *d;
	struct vcap_peer peer;   /* the request core's (HELLO, features) */
	struct ucred cred;       /* who is on the other end (a VM: its QEMU) */
	bool admin;              /* root on the main socket: may do anything */
	bool operator_attached;  /* configured by the operator (a VM): may open any
				    source unless it is a tenant */
	struct tenant *tenant;   /* NULL: not a tenant */
	struct account *acct;    /* who pays for it (account.h); NULL: refused */
	char origin[VCAP_NAME_MAX + 1]; /* prefix of client names ("vm1/"), "" if none */
	char client[VCAP_NAME_MAX + 1]; /* for status and logs */
	struct consumer *consumers;
	unsigned n_rings;
	struct req_job *busy;    /* a request answered off the control thread, or NULL */
	/* A request answered later by something else (a VM's plug): forget ss if it ends. */
	void (*waiting_cancel)(struct session *ss);
	void *waiting_on;
};

/*
 * A new session on ops; the caller sets cred, tenant/admin and origin.
 * @return it, or NULL (out of memory).
 */
struct session *session_new(struct vcapd *d, const struct session_ops *ops, void *carrier);

/*
 * Serve one request the session's peer sent (len bytes at buf) and send the
 * reply.  @return 0, or -1 if the session must end (a malformed message, or
 * the reply could not be sent); the caller then calls session_end.
 */
int session_request(struct session *ss, const void *buf, size_t len);

/*
 * Send the answer to the request that made ss busy (in reply, with nfds
 * descriptors) and read its requests again.  A reply that cannot be sent
 * ends the session (ops->fail).
 */
void session_answer(struct session *ss, const struct vcap_msg *reply, int *fds, int nfds);

/*
 * Free every ring of ss, tell the carrier (ops->ended) and free ss.  why: NULL if normal.
 * A request still being answered is cancelled and cleans up after itself.
 */
void session_end(struct session *ss, const char *why);

#endif /* VCAP_DAEMON_SESSION_H */
