/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_codec.c - the control codec (proto/codec.c) on arbitrary bytes.
 *
 * Attacks: vcap_msg_decode(), which vcapd runs on every datagram of a unix
 * session and on every message a guest leaves in its g2h queue, before
 * anything else has looked at it; and vcap_msg_encode().
 *
 * Asserts, beyond "no crash and no out-of-bounds access" (the input sits at
 * the very end of its allocation, as does every buffer handed in):
 *   1. decode is a function of the bytes alone: the same message decoded
 *      from an 8-byte aligned and from a misaligned buffer gives the same
 *      verdict and the same struct, except that a STATUS or FLOW_LIST
 *      reply (whose entries are pointed at, not copied) is refused
 *      misaligned, -EINVAL;
 *   2. it returns 0, -EPROTO or -EBADMSG (or that -EINVAL), with a reason,
 *      and never writes more of the reason buffer than it was given;
 *   3. round trip: whatever decodes re-encodes to exactly the same bytes
 *      (and not into one byte less), and those decode to the same struct;
 *      its strings are NUL-terminated, within their limits, and a STATUS
 *      or FLOW_LIST reply's entries lie inside the input;
 *   4. no prefix of a message that decodes also decodes;
 *   5. the encoder never writes what the decoder refuses: the input, read
 *      as a struct vcap_msg with a header as vcap_msg_init() and
 *      vcap_msg_reply()/vcap_msg_error() make them (any app, type, payload
 *      and strings), either fails to encode or encodes to bytes that decode
 *      and re-encode to themselves.
 */
#include <errno.h>
#include <stdbool.h>

#include "codec.h"
#include "fuzz.h"

/* Both structs the decoder fills, compared field by field: the pointers differ. */
static void same_msg(const struct vcap_msg *a, const struct vcap_msg *b)
{
	FUZZ_CHECK(a->app == b->app && a->type == b->type && a->flags == b->flags &&
			   a->version == b->version && a->status == b->status && a->seq == b->seq,
		   "headers differ");
	FUZZ_CHECK(!memcmp(&a->u, &b->u, sizeof(a->u)), "payloads differ");
	FUZZ_CHECK(!strcmp(a->name, b->name) && !strcmp(a->text, b->text), "strings differ");
	FUZZ_CHECK(!a->sources == !b->sources && !a->rings == !b->rings && !a->flows == !b->flows,
		   "entries differ");
	if (a->flows)
		FUZZ_CHECK(!memcmp(a->flows, b->flows,
				   a->u.flow_list_reply.count * sizeof(*a->flows)),
			   "FLOW_LIST entries differ");
	if (a->sources) {
		const struct vcap_msg_status_reply *r = &a->u.status_reply;

		FUZZ_CHECK(!memcmp(a->sources, b->sources, r->n_sources * sizeof(*a->sources)) &&
				   !memcmp(a->rings, b->rings, r->n_rings * sizeof(*a->rings)),
			   "STATUS entries differ");
	}
}

static bool is_status_reply(const struct vcap_msg *m)
{
	return m->app == VCAP_APP_CAPTURE && m->type == VCAP_MSG_STATUS &&
	       (m->flags & VCAP_MSGF_REPLY) && m->status >= 0;
}

static bool is_flow_list_reply(const struct vcap_msg *m)
{
	return m->app == VCAP_APP_CAPTURE && m->type == VCAP_MSG_FLOW_LIST &&
	       (m->flags & VCAP_MSGF_REPLY) && m->status >= 0;
}

/* Replies whose entries the decoder points at: refused from a misaligned buffer. */
static bool has_entries(const struct vcap_msg *m)
{
	return is_status_reply(m) || is_flow_list_reply(m);
}

/* A decoded message is well-formed as codec.h promises. */
static void check_decoded(const struct vcap_msg *m, const uint8_t *buf, size_t len)
{
	size_t name_len = strnlen(m->name, sizeof(m->name));
	size_t text_len = strnlen(m->text, sizeof(m->text));

	FUZZ_CHECK(name_len <= VCAP_NAME_MAX && text_len <= VCAP_FILTER_MAX,
		   "strings not terminated within their limits (%zu, %zu)", name_len, text_len);
	FUZZ_CHECK(len >= VCAP_MSG_MIN && len <= VCAP_MSG_MAX, "decoded %zu bytes", len);
	FUZZ_CHECK(!(m->flags & ~VCAP_MSGF_REPLY), "flags 0x%x", m->flags);
	FUZZ_CHECK((m->flags & VCAP_MSGF_REPLY) ? m->status <= 0 : m->status == 0,
		   "status %d", m->status);
	FUZZ_CHECK(m->version == VCAP_PROTO_VERSION ||
			   (m->app == VCAP_APP_FRAMEWORK && m->type == VCAP_MSG_HELLO),
		   "version %u", m->version);
	FUZZ_CHECK(vcap_msg_name(m->app, m->type) != NULL, "no name");
	if (is_status_reply(m) && (m->u.status_reply.n_sources || m->u.status_reply.n_rings)) {
		const uint8_t *s = (const uint8_t *)m->sources, *r = (const uint8_t *)m->rings;
		size_t ns = m->u.status_reply.n_sources * sizeof(*m->sources);
		size_t nr = m->u.status_reply.n_rings * sizeof(*m->rings);

		FUZZ_CHECK(s >= buf && s + ns == r && r + nr <= buf + len,
			   "STATUS entries outside the message");
		FUZZ_CHECK(!m->flows, "flows on a STATUS reply");
	} else if (is_flow_list_reply(m) && m->u.flow_list_reply.count) {
		const uint8_t *f = (const uint8_t *)m->flows;
		size_t nf = m->u.flow_list_reply.count * sizeof(*m->flows);

		FUZZ_CHECK(m->u.flow_list_reply.count <= VCAP_FLOW_LIST_MAX, "count %u",
			   m->u.flow_list_reply.count);
		FUZZ_CHECK(f >= buf && f + nf <= buf + len, "FLOW_LIST entries outside the message");
		FUZZ_CHECK(!m->sources && !m->rings, "STATUS entries on a FLOW_LIST reply");
		for (uint32_t i = 0; i < m->u.flow_list_reply.count; i++)
			FUZZ_CHECK((m->flows[i].flow.family == 4 || m->flows[i].flow.family == 6) &&
					   (m->flows[i].action == 1 || m->flows[i].action == 2) &&
					   !m->flows[i].flow.pad,
				   "FLOW_LIST entry %u is no rule vcapd could hold", i);
	} else {
		FUZZ_CHECK(!m->sources && !m->rings && !m->flows,
			   "entries on a message without them");
	}
}

/*
 * Decode len bytes at buf with a reason buffer of why_len bytes that ends
 * its allocation: the reason must fit, NUL included, or not be written.
 */
static int decode(const uint8_t *buf, size_t len, struct vcap_msg *m, size_t why_len)
{
	char *why = malloc(why_len ? why_len : 1);
	int rc;

	FUZZ_CHECK(why, "malloc");
	rc = vcap_msg_decode(buf, len, m, why, why_len);
	FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -EBADMSG || rc == -EINVAL,
		   "decode returned %d", rc);
	if (rc && why_len)
		FUZZ_CHECK(memchr(why, '\0', why_len) && (why_len == 1 || why[0]),
			   "no reason for %d", rc);
	free(why);
	return rc;
}

/*
 * buf (len bytes, 8-byte aligned, at the end of its allocation) decoded
 * into *m: it must encode back to itself, and the copy decode the same.
 */
static void round_trip(const uint8_t *buf, size_t len, const struct vcap_msg *m)
{
	static struct vcap_msg again;
	uint8_t *out = malloc(len), *shorter = malloc(len - 1);
	ssize_t n;

	FUZZ_CHECK(out && shorter, "malloc");
	n = vcap_msg_encode(m, out, len);
	FUZZ_CHECK(n == (ssize_t)len, "re-encoded to %zd bytes, decoded %zu", n, len);
	FUZZ_CHECK(!memcmp(out, buf, len), "re-encoded to other bytes");
	/* the encoder's size check: one byte short is refused, not overrun */
	FUZZ_CHECK(vcap_msg_encode(m, shorter, len - 1) == -EMSGSIZE, "encoded into len - 1");
	FUZZ_CHECK(decode(out, len, &again, 64) == 0, "the re-encoded message does not decode");
	check_decoded(&again, out, len);
	same_msg(m, &again);
	/* a prefix is never a message */
	memcpy(shorter, buf, len - 1);
	FUZZ_CHECK(decode(shorter, len - 1, &again, 64) != 0, "a prefix decodes");
	free(shorter);
	free(out);
}

/* Property 1-4 on the input as it is. */
static void decode_input(const uint8_t *data, size_t size)
{
	static struct vcap_msg m, odd;
	uint8_t *aligned = fuzz_tail_copy(data, size); /* malloc: 16-byte aligned */
	uint8_t *mis = malloc(size + 1);
	int rc, rc_odd;

	FUZZ_CHECK(mis, "malloc");
	memcpy(mis + 1, data, size);
	/* the reason buffer's size varies with the input, 0 included */
	rc = decode(aligned, size, &m, size % 70);
	rc_odd = decode(mis + 1, size, &odd, 256);
	if (!rc) {
		check_decoded(&m, aligned, size);
		if (has_entries(&m)) {
			FUZZ_CHECK(rc_odd == -EINVAL, "misaligned reply with entries: %d", rc_odd);
		} else {
			FUZZ_CHECK(rc_odd == 0, "aligned decodes, misaligned %d", rc_odd);
			same_msg(&m, &odd);
		}
		round_trip(aligned, size, &m);
	} else {
		/*
		 * Same verdict, except that alignment is checked before the
		 * lengths: a bad STATUS reply may be refused for either.
		 */
		FUZZ_CHECK(rc != -EINVAL, "an aligned buffer refused as misaligned");
		FUZZ_CHECK(rc_odd == rc || rc_odd == -EINVAL, "aligned %d, misaligned %d", rc,
			   rc_odd);
	}
	free(mis);
	free(aligned);
}

/* Property 5: the input as a message to encode. */
static void encode_input(const uint8_t *data, size_t size)
{
	static struct vcap_msg m, back;
	struct vcap_status_source *src = NULL;
	struct vcap_status_ring *rings = NULL;
	struct vcap_wire_flow_stat *flows = NULL;
	struct fuzz_in in = { data, size };
	uint8_t *out, *again;
	size_t cap;
	ssize_t n, n2;
	uint16_t app, type;
	uint8_t shape;

	/* one read per statement: the order of arguments' evaluation is unspecified */
	app = fuzz_u16(&in);
	type = fuzz_u16(&in);
	vcap_msg_init(&m, app, type);
	shape = fuzz_u8(&in);
	m.seq = fuzz_u32(&in);
	/* headers as vcap_msg_init(), vcap_msg_reply() and vcap_msg_error() make them */
	if (shape & 1) {
		m.flags = VCAP_MSGF_REPLY;
		if (shape & 2)
			m.status = -(int32_t)(fuzz_u8(&in) + 1);
	}
	if (m.app == VCAP_APP_FRAMEWORK && m.type == VCAP_MSG_HELLO && (shape & 4))
		m.version = fuzz_u16(&in);
	fuzz_bytes(&in, &m.u, sizeof(m.u));
	/*
	 * Strings of any length up to one past their limits (filling the
	 * whole array, unterminated: the encoder must refuse that), made of
	 * the input; cleared first so nothing of an earlier input remains.
	 */
	memset(m.name, 0, sizeof(m.name));
	memset(m.text, 0, sizeof(m.text));
	fuzz_bytes(&in, m.name, fuzz_u8(&in) % (sizeof(m.name) + 1));
	fuzz_bytes(&in, m.text, fuzz_u16(&in) % (sizeof(m.text) + 1));
	if (is_status_reply(&m)) {
		/* entries only if they can fit: the encoder copies that many */
		uint32_t ns = m.u.status_reply.n_sources, nr = m.u.status_reply.n_rings;

		if ((uint64_t)ns * sizeof(*src) + (uint64_t)nr * sizeof(*rings) > VCAP_MSG_MAX)
			return;
		src = calloc(ns ? ns : 1, sizeof(*src));
		rings = calloc(nr ? nr : 1, sizeof(*rings));
		FUZZ_CHECK(src && rings, "calloc");
		fuzz_bytes(&in, src, ns * sizeof(*src));
		fuzz_bytes(&in, rings, nr * sizeof(*rings));
		m.sources = src;
		m.rings = rings;
	} else if (is_flow_list_reply(&m)) {
		uint32_t nf = m.u.flow_list_reply.count;

		if (nf > VCAP_FLOW_LIST_MAX)
			return;
		flows = calloc(nf ? nf : 1, sizeof(*flows));
		FUZZ_CHECK(flows, "calloc");
		fuzz_bytes(&in, flows, nf * sizeof(*flows));
		m.flows = flows;
	}
	cap = shape & 8 ? VCAP_MSG_MAX : fuzz_u16(&in);
	out = malloc(cap ? cap : 1);
	FUZZ_CHECK(out, "malloc");
	n = vcap_msg_encode(&m, out, cap);
	FUZZ_CHECK(n == -EINVAL || n == -EMSGSIZE || (n >= VCAP_MSG_MIN && (size_t)n <= cap),
		   "encode returned %zd for a buffer of %zu", n, cap);
	if (n > 0) {
		FUZZ_CHECK(decode(out, (size_t)n, &back, 128) == 0,
			   "the encoder wrote what the decoder refuses");
		FUZZ_CHECK(back.app == m.app && back.type == m.type && back.flags == m.flags &&
				   back.status == m.status && back.seq == m.seq &&
				   back.version == m.version,
			   "the header changed on the way");
		FUZZ_CHECK(!back.name[0] || !strcmp(back.name, m.name), "name changed");
		FUZZ_CHECK(!back.text[0] || !strcmp(back.text, m.text), "text changed");
		again = malloc((size_t)n);
		FUZZ_CHECK(again, "malloc");
		n2 = vcap_msg_encode(&back, again, (size_t)n);
		FUZZ_CHECK(n2 == n && !memcmp(again, out, (size_t)n), "not a fixed point");
		free(again);
	}
	free(out);
	free(src);
	free(rings);
	free(flows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_input(data, size);
	encode_input(data, size);
	return 0;
}
