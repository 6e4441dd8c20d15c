/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qmp_json.h - the little JSON vcapd reads from QEMU's QMP socket.
 *
 * QEMU is the host administrator's, but a QEMU (or whatever listens on the
 * configured path) that sends garbage must not crash vcapd: every message
 * is checked to be one complete, well-formed JSON object, nested at most
 * QMP_JSON_DEPTH deep, and only the few members QMP's protocol needs are
 * kept (bounded copies).  Written here rather than taken from a library
 * (libjson-c would do) because vcapd needs a strict validator and five
 * fields, not a document tree, and adding a run-time dependency to vcapd
 * for that was not worth it.
 */
#ifndef VCAP_DAEMON_QMP_JSON_H
#define VCAP_DAEMON_QMP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QMP_JSON_DEPTH 32

/* What vcapd needs of one QMP message. */
struct qmp_msg {
	bool greeting;     /* {"QMP": ...} */
	bool has_return;   /* {"return": ...} */
	bool has_error;    /* {"error": {"class": ..., "desc": ...}} */
	bool has_id;       /* "id": an unsigned integer (vcapd sends only those) */
	uint64_t id;
	char err_class[64];
	char err_desc[256];
	char event[64];    /* {"event": NAME, "data": {"device": ...}} */
	char device[128];
};

/*
 * Parse the len bytes at s (one message; whitespace around it allowed).
 * @return 0, or -1 with why (e.g. "expected ':' at byte 12").
 */
int qmp_json_parse(const char *s, size_t len, struct qmp_msg *m, char *why, size_t why_len);

/*
 * Append s as a JSON string (quoted, escaped) to buf of cap bytes at *pos.
 * @return 0, or -1 if it does not fit.
 */
int qmp_json_quote(char *buf, size_t cap, size_t *pos, const char *s);

#endif /* VCAP_DAEMON_QMP_JSON_H */
