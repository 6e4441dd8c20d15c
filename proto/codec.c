/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * codec.c - table-driven encoder and decoder for vcap_proto.h.
 *
 * Each (app, type, direction) has one row: the size of its fixed payload
 * and where in it the lengths of its trailing strings sit.  Both directions
 * walk the same row, so the encoder can never write what the decoder would
 * refuse.
 */
#include "codec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NO_STR 0xffffu

/* Which string of struct vcap_msg a length field announces. */
enum str_slot { SLOT_NAME, SLOT_TEXT };

struct msg_desc {
	uint16_t app;
	uint16_t type;
	bool reply;
	const char *name;
	uint16_t fixed;       /* sizeof the fixed payload */
	uint16_t name_len_at; /* offset of the u16 length of `name`, or NO_STR */
	uint16_t text_len_at; /* offset of the u16 length of `text`, or NO_STR */
	uint16_t text_max;
	/*
	 * Requests that act on one ring: offset of its u32 ring id, or NO_STR.
	 * Servers look the ring up (and check it is the session's) before the
	 * handler runs, so no handler or relay lists the types that name one.
	 */
	uint16_t ring_id_at;
};

#define DESC(APP, TYPE, REPLY, NAME, STRUCT, NAME_AT, TEXT_AT, TEXT_MAX)                \
	{ VCAP_APP_##APP, VCAP_MSG_##TYPE, REPLY, NAME, sizeof(struct STRUCT), NAME_AT, \
	  TEXT_AT, TEXT_MAX, NO_STR }
/* A request naming a ring: its id is the payload's first field (asserted below). */
#define RING_REQ(TYPE, NAME, STRUCT, TEXT_AT, TEXT_MAX)                                   \
	{ VCAP_APP_CAPTURE, VCAP_MSG_##TYPE, false, NAME, sizeof(struct STRUCT), NO_STR, \
	  TEXT_AT, TEXT_MAX, offsetof(struct STRUCT, ring_id) }
/* A reply with no payload. */
#define EMPTY_REPLY(TYPE, NAME) \
	{ VCAP_APP_CAPTURE, VCAP_MSG_##TYPE, true, NAME, 0, NO_STR, NO_STR, 0, NO_STR }

static const struct msg_desc descs[] = {
	DESC(FRAMEWORK, HELLO, false, "HELLO", vcap_msg_hello,
	     offsetof(struct vcap_msg_hello, client_len), NO_STR, 0),
	DESC(FRAMEWORK, HELLO, true, "HELLO", vcap_msg_hello_reply, NO_STR, NO_STR, 0),
	DESC(CAPTURE, OPEN, false, "OPEN", vcap_msg_open,
	     offsetof(struct vcap_msg_open, source_len), offsetof(struct vcap_msg_open, filter_len),
	     VCAP_FILTER_MAX),
	DESC(CAPTURE, OPEN, true, "OPEN", vcap_msg_open_reply, NO_STR, NO_STR, 0),
	RING_REQ(CLOSE, "CLOSE", vcap_msg_close, NO_STR, 0),
	EMPTY_REPLY(CLOSE, "CLOSE"),
	RING_REQ(SET_FILTER, "SET_FILTER", vcap_msg_set_filter,
		 offsetof(struct vcap_msg_set_filter, filter_len), VCAP_FILTER_MAX),
	EMPTY_REPLY(SET_FILTER, "SET_FILTER"),
	RING_REQ(STATS, "STATS", vcap_msg_stats, NO_STR, 0),
	DESC(CAPTURE, STATS, true, "STATS", vcap_msg_stats_reply, NO_STR, NO_STR, 0),
	DESC(CAPTURE, STATUS, false, "STATUS", vcap_msg_status, NO_STR, NO_STR, 0),
	/* entries follow the fixed part; see status_entries_len() */
	DESC(CAPTURE, STATUS, true, "STATUS", vcap_msg_status_reply, NO_STR, NO_STR, 0),
	RING_REQ(RULE_ADD, "RULE_ADD", vcap_msg_rule_add, NO_STR, 0),
	EMPTY_REPLY(RULE_ADD, "RULE_ADD"),
	RING_REQ(RULE_REMOVE, "RULE_REMOVE", vcap_msg_rule_ref, NO_STR, 0),
	EMPTY_REPLY(RULE_REMOVE, "RULE_REMOVE"),
	RING_REQ(RULE_DEFAULT, "RULE_DEFAULT", vcap_msg_rule_ref, NO_STR, 0),
	EMPTY_REPLY(RULE_DEFAULT, "RULE_DEFAULT"),
	RING_REQ(RULE_HITS, "RULE_HITS", vcap_msg_rule_ref, NO_STR, 0),
	DESC(CAPTURE, RULE_HITS, true, "RULE_HITS", vcap_msg_count_reply, NO_STR, NO_STR, 0),
	RING_REQ(FLOW_ADD, "FLOW_ADD", vcap_msg_flow_add, NO_STR, 0),
	DESC(CAPTURE, FLOW_ADD, true, "FLOW_ADD", vcap_msg_count_reply, NO_STR, NO_STR, 0),
	RING_REQ(FLOW_REMOVE, "FLOW_REMOVE", vcap_msg_flow_remove, NO_STR, 0),
	DESC(CAPTURE, FLOW_REMOVE, true, "FLOW_REMOVE", vcap_msg_count_reply, NO_STR, NO_STR, 0),
};

/* Any failed reply: struct vcap_msg_error and its reason. */
static const struct msg_desc error_desc = {
	0, 0, true, "ERROR", sizeof(struct vcap_msg_error), NO_STR,
	offsetof(struct vcap_msg_error, reason_len), VCAP_REASON_MAX, NO_STR
};

static const struct msg_desc *find_desc(uint16_t app, uint16_t type, bool reply, int32_t status)
{
	if (reply && status < 0)
		return &error_desc;
	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
		if (descs[i].app == app && descs[i].type == type && descs[i].reply == reply)
			return &descs[i];
	return NULL;
}

static bool is_status_reply(const struct msg_desc *d)
{
	return d->app == VCAP_APP_CAPTURE && d->type == VCAP_MSG_STATUS && d->reply;
}

/* Bytes of STATUS reply entries, or SIZE_MAX if the counts are absurd. */
static size_t status_entries_len(const struct vcap_msg_status_reply *r)
{
	if (r->n_sources > VCAP_MSG_MAX || r->n_rings > VCAP_MSG_MAX)
		return SIZE_MAX;
	return (size_t)r->n_sources * sizeof(struct vcap_status_source) +
	       (size_t)r->n_rings * sizeof(struct vcap_status_ring);
}

static uint16_t get_u16(const void *fixed, uint16_t at)
{
	uint16_t v;
	memcpy(&v, (const uint8_t *)fixed + at, sizeof(v));
	return v;
}

static void put_u16(void *fixed, uint16_t at, uint16_t v)
{
	memcpy((uint8_t *)fixed + at, &v, sizeof(v));
}

const char *vcap_msg_name(uint16_t app, uint16_t type)
{
	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
		if (descs[i].app == app && descs[i].type == type)
			return descs[i].name;
	return "?";
}

bool vcap_msg_ring_id(const struct vcap_msg *m, uint32_t *id)
{
	const struct msg_desc *d = find_desc(m->app, m->type, m->flags & VCAP_MSGF_REPLY, 0);

	if (!d || d->ring_id_at == NO_STR)
		return false;
	memcpy(id, (const uint8_t *)&m->u + d->ring_id_at, sizeof(*id));
	return true;
}

void vcap_msg_init(struct vcap_msg *m, uint16_t app, uint16_t type)
{
	memset(m, 0, offsetof(struct vcap_msg, name));
	m->name[0] = '\0';
	m->text[0] = '\0';
	m->sources = NULL;
	m->rings = NULL;
	m->app = app;
	m->type = type;
	m->version = VCAP_PROTO_VERSION;
}

void vcap_msg_reply(struct vcap_msg *reply, const struct vcap_msg *req)
{
	vcap_msg_init(reply, req->app, req->type);
	reply->flags = VCAP_MSGF_REPLY;
	reply->seq = req->seq;
}

void vcap_msg_error(struct vcap_msg *reply, const struct vcap_msg *req, int err,
		    const char *fmt, ...)
{
	va_list ap;

	vcap_msg_reply(reply, req);
	reply->status = err < 0 ? err : -EINVAL;
	va_start(ap, fmt);
	vsnprintf(reply->text, VCAP_REASON_MAX + 1, fmt, ap);
	va_end(ap);
}

ssize_t vcap_msg_encode(const struct vcap_msg *m, void *buf, size_t cap)
{
	bool reply = m->flags & VCAP_MSGF_REPLY;
	const struct msg_desc *d = find_desc(m->app, m->type, reply, m->status);
	struct vcap_msg_hdr h;
	struct vcap_app_hdr a;
	uint8_t fixed[sizeof(m->u)];
	size_t name_len = 0, text_len = 0, extra = 0, len;
	uint8_t *p = buf;

	if (!d)
		return -EINVAL;
	memcpy(fixed, &m->u, sizeof(fixed));
	if (d->name_len_at != NO_STR) {
		name_len = strnlen(m->name, sizeof(m->name));
		if (name_len > VCAP_NAME_MAX)
			return -EINVAL;
		put_u16(fixed, d->name_len_at, (uint16_t)name_len);
	}
	if (d->text_len_at != NO_STR) {
		text_len = strnlen(m->text, sizeof(m->text));
		if (text_len > d->text_max)
			return -EINVAL;
		put_u16(fixed, d->text_len_at, (uint16_t)text_len);
	}
	if (is_status_reply(d) && (extra = status_entries_len(&m->u.status_reply)) == SIZE_MAX)
		return -EINVAL;

	len = VCAP_MSG_MIN + d->fixed + name_len + text_len + extra;
	if (len > cap || len > VCAP_MSG_MAX)
		return -EMSGSIZE;

	h = (struct vcap_msg_hdr){ .magic = VCAP_PROTO_MAGIC,
				   .version = m->version,
				   .app = m->app,
				   .len = (uint32_t)len,
				   .seq = m->seq };
	a = (struct vcap_app_hdr){ .type = m->type, .flags = m->flags, .status = m->status };
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	memcpy(p, &a, sizeof(a));
	p += sizeof(a);
	memcpy(p, fixed, d->fixed);
	p += d->fixed;
	if (extra) {
		size_t ns = m->u.status_reply.n_sources * sizeof(*m->sources);

		memcpy(p, m->sources, ns);
		memcpy(p + ns, m->rings, extra - ns);
		p += extra;
	}
	memcpy(p, m->name, name_len);
	p += name_len;
	memcpy(p, m->text, text_len);
	return (ssize_t)len;
}

#define FAIL(ERR, ...)                                     \
	do {                                               \
		if (why_len)                               \
			snprintf(why, why_len, __VA_ARGS__); \
		return (ERR);                              \
	} while (0)

/* Copy a wire string of len bytes into dst (cap bytes incl. NUL), refusing NULs. */
static bool take_string(char *dst, size_t cap, const uint8_t *src, size_t len)
{
	if (len >= cap || memchr(src, '\0', len))
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

int vcap_msg_decode(const void *buf, size_t len, struct vcap_msg *m, char *why, size_t why_len)
{
	const uint8_t *p = buf;
	struct vcap_msg_hdr h;
	struct vcap_app_hdr a;
	const struct msg_desc *d;
	size_t name_len = 0, text_len = 0, extra = 0, need;
	bool reply;

	if (len < VCAP_MSG_MIN)
		FAIL(-EBADMSG, "message of %zu bytes is shorter than its headers (%u)", len,
		     VCAP_MSG_MIN);
	memcpy(&h, p, sizeof(h));
	memcpy(&a, p + sizeof(h), sizeof(a));
	if (h.magic != VCAP_PROTO_MAGIC)
		FAIL(-EPROTO, "bad magic 0x%08x", h.magic);
	if (h.len != len)
		FAIL(-EBADMSG, "header says %u bytes, carrier delivered %zu", h.len, len);
	if (len > VCAP_MSG_MAX)
		FAIL(-EBADMSG, "message of %zu bytes exceeds %u", len, VCAP_MSG_MAX);
	if (h.version != VCAP_PROTO_VERSION &&
	    !(h.app == VCAP_APP_FRAMEWORK && a.type == VCAP_MSG_HELLO))
		FAIL(-EPROTO, "protocol version %u, expected %u", h.version, VCAP_PROTO_VERSION);
	if (a.flags & ~VCAP_MSGF_REPLY)
		FAIL(-EPROTO, "unknown flags 0x%x", a.flags);
	reply = a.flags & VCAP_MSGF_REPLY;
	if (!reply && a.status != 0)
		FAIL(-EPROTO, "request carries status %d", a.status);
	if (reply && a.status > 0)
		FAIL(-EPROTO, "reply carries positive status %d", a.status);
	d = find_desc(h.app, a.type, reply, a.status);
	if (!d)
		FAIL(-EPROTO, "unknown message: application %u type %u", h.app, a.type);

	need = VCAP_MSG_MIN + d->fixed;
	if (len < need)
		FAIL(-EBADMSG, "%s%s payload of %zu bytes, needs %u", d->name,
		     reply ? " reply" : "", len - VCAP_MSG_MIN, d->fixed);

	vcap_msg_init(m, h.app, a.type);
	m->flags = a.flags;
	m->version = h.version;
	m->status = a.status;
	m->seq = h.seq;
	memcpy(&m->u, p + VCAP_MSG_MIN, d->fixed);

	if (d->name_len_at != NO_STR)
		name_len = get_u16(&m->u, d->name_len_at);
	if (d->text_len_at != NO_STR)
		text_len = get_u16(&m->u, d->text_len_at);
	if (name_len > VCAP_NAME_MAX)
		FAIL(-EBADMSG, "%s name of %zu bytes exceeds %u", d->name, name_len, VCAP_NAME_MAX);
	if (text_len > d->text_max)
		FAIL(-EBADMSG, "%s text of %zu bytes exceeds %u", d->name, text_len, d->text_max);
	if (is_status_reply(d)) {
		extra = status_entries_len(&m->u.status_reply);
		if (extra == SIZE_MAX)
			FAIL(-EBADMSG, "STATUS reply with absurd entry counts");
		if (((uintptr_t)buf & 7) != 0)
			FAIL(-EINVAL, "STATUS reply buffer is not 8-byte aligned");
	}
	need += extra + name_len + text_len;
	if (len != need)
		FAIL(-EBADMSG, "%s%s is %zu bytes, its lengths add up to %zu", d->name,
		     reply ? " reply" : "", len, need);

	p += VCAP_MSG_MIN + d->fixed;
	if (extra) {
		m->sources = (const struct vcap_status_source *)p;
		m->rings = (const struct vcap_status_ring *)(p + m->u.status_reply.n_sources *
							     sizeof(struct vcap_status_source));
		p += extra;
	}
	if (!take_string(m->name, sizeof(m->name), p, name_len))
		FAIL(-EBADMSG, "%s name holds a NUL byte", d->name);
	p += name_len;
	if (!take_string(m->text, sizeof(m->text), p, text_len))
		FAIL(-EBADMSG, "%s text holds a NUL byte", d->name);
	return 0;
}
