/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qmp.h - a small client of QEMU's QMP socket on vcapd's control loop.
 *
 * Non-blocking throughout: connect, the greeting, qmp_capabilities, then
 * commands (each with an id and a deadline) and events.  Whatever the
 * other end does (hangs, floods, sends garbage, closes) costs the loop at
 * most one bounded read per event: a message is at most QMP_MSG_MAX bytes
 * and must be valid JSON (qmp_json.h), the greeting must come within
 * QMP_GREETING_MS, each command's reply by its deadline.  Any breach ends
 * the connection with a sentence saying what happened (ops->down).
 *
 * Callbacks run from the loop.  None of them may free the struct qmp:
 * free it later (loop_after) or from outside a callback.
 */
#ifndef VCAP_DAEMON_QMP_H
#define VCAP_DAEMON_QMP_H

#include <stddef.h>

#include "qmp_json.h"

struct loop;
struct qmp;

#define QMP_MSG_MAX (64u << 10)
#define QMP_GREETING_MS 5000u

struct qmp_ops {
	/* qmp_capabilities accepted: commands may be sent. */
	void (*ready)(void *arg);
	/* An event ({"event": ...}). */
	void (*event)(void *arg, const struct qmp_msg *m);
	/* The connection ended (why says how); pending commands are dropped, not called. */
	void (*down)(void *arg, const char *why);
};

/*
 * A command's outcome: m is QEMU's reply (m->has_error: QEMU refused it,
 * m->err_class and m->err_desc say why), or NULL with why (timed out).
 */
typedef void (*qmp_reply_fn)(void *arg, const struct qmp_msg *m, const char *why);

/*
 * Connect to the QMP socket at path and serve it from l.  @return 0, or
 * -errno with err (e.g. nobody listens there yet).
 */
int qmp_connect(struct qmp **out, const char *path, struct loop *l, const struct qmp_ops *ops,
		void *arg, char *err, size_t err_len);

/*
 * Send {"execute": execute, "arguments": args_json (NULL: none), "id": N}.
 * cb is called once, with the reply or why not; if the connection ends
 * first it is not called (ops->down is).  @return 0, or -errno (not
 * ready, too many commands under way, too long).
 */
int qmp_command(struct qmp *q, const char *execute, const char *args_json, unsigned timeout_ms,
		qmp_reply_fn cb, void *arg);

/* Close the connection; pending commands are dropped without a call. */
void qmp_free(struct qmp *q);

#endif /* VCAP_DAEMON_QMP_H */
