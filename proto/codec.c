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

#include "vcap.h" /* VCAP_PASS, VCAP_DROP */

#define NO_STR 0xffffu

/* Which string of struct vcap_msg a length field announces. */
enum str_slot { SLOT_NAME, SLOT_TEXT };

/* Which entries, if any, follow a reply's fixed payload (counted there). */
enum entries { ENT_NONE, ENT_STATUS, ENT_FLOWS };

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
	enum entries entries;
};

#define DESC(APP, TYPE, REPLY, NAME, STRUCT, NAME_AT, TEXT_AT, TEXT_MAX)                \
	{ VCAP_APP_##APP, VCAP_MSG_##TYPE, REPLY, NAME, sizeof(struct STRUCT), NAME_AT, \
	  TEXT_AT, TEXT_MAX, NO_STR, ENT_NONE }
/* A request naming a ring: its id is the payload's first field (asserted below). */
#define RING_REQ(TYPE, NAME, STRUCT, TEXT_AT, TEXT_MAX)                                   \
	{ VCAP_APP_CAPTURE, VCAP_MSG_##TYPE, false, NAME, sizeof(struct STRUCT), NO_STR, \
	  TEXT_AT, TEXT_MAX, offsetof(struct STRUCT, ring_id), ENT_NONE }
/* A reply with no payload. */
#define EMPTY_REPLY(TYPE, NAME) \
	{ VCAP_APP_CAPTURE, VCAP_MSG_##TYPE, true, NAME, 0, NO_STR, NO_STR, 0, NO_STR, ENT_NONE }
/* A reply whose fixed payload counts the entries that follow it. */
#define ENTRIES_REPLY(TYPE, NAME, STRUCT, ENTRIES)                                        \
	{ VCAP_APP_CAPTURE, VCAP_MSG_##TYPE, true, NAME, sizeof(struct STRUCT), NO_STR, NO_STR, \
	  0, NO_STR, ENTRIES }

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
	/* entries follow the fixed part; see entries_len() */
	ENTRIES_REPLY(STATUS, "STATUS", vcap_msg_status_reply, ENT_STATUS),
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
	RING_REQ(FLOW_HITS, "FLOW_HITS", vcap_msg_flow_remove, NO_STR, 0),
	DESC(CAPTURE, FLOW_HITS, true, "FLOW_HITS", vcap_msg_count_reply, NO_STR, NO_STR, 0),
	RING_REQ(FLOW_LIST, "FLOW_LIST", vcap_msg_flow_list, NO_STR, 0),
	ENTRIES_REPLY(FLOW_LIST, "FLOW_LIST", vcap_msg_flow_list_reply, ENT_FLOWS),
	DESC(CAPTURE, RELOAD, false, "RELOAD", vcap_msg_reload, NO_STR, NO_STR, 0),
	DESC(CAPTURE, RELOAD, true, "RELOAD", vcap_msg_reload_reply, NO_STR, NO_STR, 0),
	DESC(CAPTURE, UPGRADE, false, "UPGRADE", vcap_msg_upgrade, NO_STR,
	     offsetof(struct vcap_msg_upgrade, binary_len), VCAP_FILTER_MAX),
	DESC(CAPTURE, UPGRADE, true, "UPGRADE", vcap_msg_upgrade_reply, NO_STR, NO_STR, 0),
	DESC(CAPTURE, VM_ATTACH, false, "VM_ATTACH", vcap_msg_vm,
	     offsetof(struct vcap_msg_vm, name_len), NO_STR, 0),
	DESC(CAPTURE, VM_ATTACH, true, "VM_ATTACH", vcap_msg_vm_reply, NO_STR,
	     offsetof(struct vcap_msg_vm_reply, text_len), VCAP_FILTER_MAX),
	DESC(CAPTURE, VM_DETACH, false, "VM_DETACH", vcap_msg_vm,
	     offsetof(struct vcap_msg_vm, name_len), NO_STR, 0),
	DESC(CAPTURE, VM_DETACH, true, "VM_DETACH", vcap_msg_vm_reply, NO_STR,
	     offsetof(struct vcap_msg_vm_reply, text_len), VCAP_FILTER_MAX),
};

/* RING_REQ reads the ring id where the struct has it; the first field, in each. */
_Static_assert(offsetof(struct vcap_msg_close, ring_id) == 0 &&
		       offsetof(struct vcap_msg_set_filter, ring_id) == 0 &&
		       offsetof(struct vcap_msg_stats, ring_id) == 0 &&
		       offsetof(struct vcap_msg_rule_add, ring_id) == 0 &&
		       offsetof(struct vcap_msg_rule_ref, ring_id) == 0 &&
		       offsetof(struct vcap_msg_flow_add, ring_id) == 0 &&
		       offsetof(struct vcap_msg_flow_remove, ring_id) == 0 &&
		       offsetof(struct vcap_msg_flow_list, ring_id) == 0,
	       "a ring request starts with its ring id");

/* Any failed reply: struct vcap_msg_error and its reason. */
static const struct msg_desc error_desc = {
	0, 0, true, "ERROR", sizeof(struct vcap_msg_error), NO_STR,
	offsetof(struct vcap_msg_error, reason_len), VCAP_REASON_MAX, NO_STR, ENT_NONE
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

/*
 * Bytes of the entries that follow the fixed payload u of a reply of d,
 * as its counts say; SIZE_MAX if the counts are absurd.  A length that is
 * merely wrong is caught by the total length check.
 */
static size_t entries_len(const struct msg_desc *d, const void *u)
{
	const struct vcap_msg_status_reply *st = u;
	const struct vcap_msg_flow_list_reply *fl = u;

	switch (d->entries) {
	case ENT_STATUS:
		if (st->n_sources > VCAP_MSG_MAX || st->n_rings > VCAP_MSG_MAX)
			return SIZE_MAX;
		return (size_t)st->n_sources * sizeof(struct vcap_status_source) +
		       (size_t)st->n_rings * sizeof(struct vcap_status_ring);
	case ENT_FLOWS:
		if (fl->count > VCAP_FLOW_LIST_MAX)
			return SIZE_MAX;
		return (size_t)fl->count * sizeof(struct vcap_wire_flow_stat);
	default:
		return 0;
	}
}

/*
 * Is FLOW_LIST entry e one vcapd can have sent: a rule as vcapd accepts
 * one?  @return NULL, or what is wrong with it.  The encoder checks the
 * same, so it never writes what the decoder refuses.
 */
static const char *bad_flow_entry(const struct vcap_wire_flow_stat *e)
{
	static const uint8_t zero[12];

	if (e->flow.family != 4 && e->flow.family != 6)
		return "family is neither 4 nor 6";
	if (e->flow.pad)
		return "pad is not zero";
	if (e->flow.family == 4 &&
	    (memcmp(e->flow.addr_a + 4, zero, 12) || memcmp(e->flow.addr_b + 4, zero, 12)))
		return "an IPv4 address has bytes past its 4";
	if (e->action != VCAP_PASS && e->action != VCAP_DROP)
		return "action is neither PASS nor DROP";
	return NULL;
}

/* The first bad entry of n at e, or -1; *what says why. */
static long bad_flow_entries(const struct vcap_wire_flow_stat *e, uint32_t n, const char **what)
{
	for (uint32_t i = 0; i < n; i++)
		if ((*what = bad_flow_entry(&e[i])) != NULL)
			return (long)i;
	return -1;
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
	m->flows = NULL;
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
	if (d->entries != ENT_NONE) {
		const char *what;

		extra = entries_len(d, &m->u);
		if (extra == SIZE_MAX)
			return -EINVAL;
		if (d->entries == ENT_FLOWS && extra &&
		    (!m->flows || bad_flow_entries(m->flows, m->u.flow_list_reply.count, &what) >= 0))
			return -EINVAL;
		if (d->entries == ENT_STATUS && extra &&
		    ((m->u.status_reply.n_sources && !m->sources) ||
		     (m->u.status_reply.n_rings && !m->rings)))
			return -EINVAL;
	}

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
	if (extra && d->entries == ENT_STATUS) {
		size_t ns = m->u.status_reply.n_sources * sizeof(*m->sources);

		if (ns)
			memcpy(p, m->sources, ns);
		if (extra - ns)
			memcpy(p + ns, m->rings, extra - ns);
	} else if (extra) {
		memcpy(p, m->flows, extra);
	}
	p += extra;
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
	if (d->entries != ENT_NONE) {
		extra = entries_len(d, &m->u);
		if (extra == SIZE_MAX)
			FAIL(-EBADMSG, "%s reply with absurd entry counts", d->name);
		/* the entries are pointed at, not copied: they must be aligned as structs */
		if (((uintptr_t)buf & 7) != 0)
			FAIL(-EINVAL, "%s reply buffer is not 8-byte aligned", d->name);
	}
	need += extra + name_len + text_len;
	if (len != need)
		FAIL(-EBADMSG, "%s%s is %zu bytes, its lengths add up to %zu", d->name,
		     reply ? " reply" : "", len, need);

	p += VCAP_MSG_MIN + d->fixed;
	if (extra && d->entries == ENT_STATUS) {
		m->sources = (const struct vcap_status_source *)p;
		m->rings = (const struct vcap_status_ring *)(p + m->u.status_reply.n_sources *
							     sizeof(struct vcap_status_source));
	} else if (extra) {
		const struct vcap_wire_flow_stat *e = (const struct vcap_wire_flow_stat *)p;
		const char *what;
		long bad = bad_flow_entries(e, m->u.flow_list_reply.count, &what);

		if (bad >= 0)
			FAIL(-EBADMSG, "FLOW_LIST reply entry %ld: %s", bad, what);
		m->flows = e;
	}
	p += extra;
	if (!take_string(m->name, sizeof(m->name), p, name_len))
		FAIL(-EBADMSG, "%s name holds a NUL byte", d->name);
	p += name_len;
	if (!take_string(m->text, sizeof(m->text), p, text_len))
		FAIL(-EBADMSG, "%s text holds a NUL byte", d->name);
	return 0;
}
