/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * codec.h - encode and decode vcap control messages (vcap_proto.h).
 *
 * The codec turns bytes into a validated struct vcap_msg and back.  It does
 * no I/O and knows no carrier: the unix-socket carrier and the VM control
 * queues both hand it whole messages.  Decoding never trusts a length it has
 * not checked against the bytes it was given; everything it returns is
 * NUL-terminated and within the limits of vcap_proto.h.
 */
#ifndef VCAP_PROTO_CODEC_H
#define VCAP_PROTO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vcap_proto.h"

/* A message in host form.  `u` holds the fixed payload of (app, type). */
struct vcap_msg {
	uint16_t app;     /* VCAP_APP_* */
	uint16_t type;    /* VCAP_MSG_* */
	uint16_t flags;   /* VCAP_MSGF_* */
	uint16_t version; /* as received; set to VCAP_PROTO_VERSION to send */
	int32_t status;   /* replies: 0 or -errno */
	uint32_t seq;
	union {
		struct vcap_msg_error error;
		struct vcap_msg_hello hello;
		struct vcap_msg_hello_reply hello_reply;
		struct vcap_msg_open open;
		struct vcap_msg_open_reply open_reply;
		struct vcap_msg_close close;
		struct vcap_msg_set_filter set_filter;
		struct vcap_msg_stats stats;
		struct vcap_msg_stats_reply stats_reply;
		struct vcap_msg_status status;
		struct vcap_msg_status_reply status_reply;
		struct vcap_msg_rule_add rule_add;
		struct vcap_msg_rule_ref rule_ref;
		struct vcap_msg_flow_add flow_add;
		struct vcap_msg_flow_remove flow_remove;
		struct vcap_msg_flow_remove flow_hits; /* the same request, another type */
		struct vcap_msg_count_reply count_reply;
		struct vcap_msg_flow_list flow_list;
		struct vcap_msg_flow_list_reply flow_list_reply;
		struct vcap_msg_reload reload;
		struct vcap_msg_reload_reply reload_reply;
		struct vcap_msg_upgrade upgrade;
		struct vcap_msg_upgrade_reply upgrade_reply;
		struct vcap_msg_vm vm;
		struct vcap_msg_vm_reply vm_reply;
	} u;
	/*
	 * Strings that follow the fixed payload.  `name` is HELLO's client or
	 * OPEN's source; `text` is a filter or an error reason.  The encoder
	 * takes their lengths from strlen(); the decoder NUL-terminates them.
	 */
	char name[VCAP_NAME_MAX + 1];
	char text[VCAP_FILTER_MAX + 1];
	/*
	 * Entries that follow the fixed payload of a reply: STATUS's sources
	 * and rings (u.status_reply.n_sources, .n_rings of them), FLOW_LIST's
	 * flows (u.flow_list_reply.count).  Encode: arrays of that many.
	 * Decode: pointers into the decoded buffer, which must stay alive and
	 * be 8-byte aligned; NULL for other messages.
	 */
	const struct vcap_status_source *sources;
	const struct vcap_status_ring *rings;
	const struct vcap_wire_flow_stat *flows;
};

/* Clear *m and make it a request of (app, type). */
void vcap_msg_init(struct vcap_msg *m, uint16_t app, uint16_t type);

/* Make *reply the successful reply to *req (same app, type and seq). */
void vcap_msg_reply(struct vcap_msg *reply, const struct vcap_msg *req);

/*
 * Make *reply an error reply to *req: status = err (a negative errno) and a
 * printf-style reason, cut to VCAP_REASON_MAX bytes.
 */
void vcap_msg_error(struct vcap_msg *reply, const struct vcap_msg *req, int err,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Encode *m into buf.
 * @return the message length, or -EMSGSIZE if it needs more than cap (or
 * VCAP_MSG_MAX) bytes, -EINVAL for an unknown (app, type) or a string over
 * its limit.
 */
ssize_t vcap_msg_encode(const struct vcap_msg *m, void *buf, size_t cap);

/*
 * Decode the len bytes at buf into *m.
 * @return 0; or -EPROTO (bad magic or version, unknown type), -EBADMSG
 * (lengths that do not add up, a NUL inside a string, a string over its
 * limit, a FLOW_LIST entry out of range), -EINVAL (a reply with entries in
 * a buffer that is not 8-byte aligned), with a one-line reason written to
 * why[0..why_len).
 */
int vcap_msg_decode(const void *buf, size_t len, struct vcap_msg *m, char *why, size_t why_len);

/*
 * The ring a request acts on (CLOSE, SET_FILTER, STATS, RULE_*, FLOW_*).
 * @return true with *id set, or false if the request names no ring.
 */
bool vcap_msg_ring_id(const struct vcap_msg *m, uint32_t *id);

/* A short name for (app, type), e.g. "OPEN", for logs; "?" if unknown. */
const char *vcap_msg_name(uint16_t app, uint16_t type);

#endif /* VCAP_PROTO_CODEC_H */
