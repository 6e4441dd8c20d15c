/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qmp_json.c - a strict JSON reader that keeps what QMP needs (qmp_json.h).
 *
 * Recursive descent over RFC 8259's grammar; depth is bounded, so a
 * message of nested brackets cannot exhaust the stack.  Strings are
 * unescaped into the kept fields only; anything outside printable ASCII
 * is kept as '?', since vcapd only logs these.
 */
#include "qmp_json.h"

#include <stdio.h>
#include <string.h>

struct ctx {
	const char *s, *p, *end;
	char *why;
	size_t why_len;
	struct qmp_msg *m;
};

static int bad(struct ctx *c, const char *what)
{
	snprintf(c->why, c->why_len, "%s at byte %zu", what, (size_t)(c->p - c->s));
	return -1;
}

static void ws(struct ctx *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int hexval(char h)
{
	if (h >= '0' && h <= '9')
		return h - '0';
	if (h >= 'a' && h <= 'f')
		return h - 'a' + 10;
	if (h >= 'A' && h <= 'F')
		return h - 'A' + 10;
	return -1;
}

/* A string: into out[0..cap) (cut, NUL-terminated) if out is not NULL. */
static int string(struct ctx *c, char *out, size_t cap)
{
	size_t n = 0;

	if (c->p >= c->end || *c->p != '"')
		return bad(c, "expected a string");
	c->p++;
	for (;;) {
		unsigned char ch;

		if (c->p >= c->end)
			return bad(c, "unterminated string");
		ch = (unsigned char)*c->p++;
		if (ch == '"')
			break;
		if (ch < 0x20)
			return bad(c, "control character in a string");
		if (ch == '\\') {
			if (c->p >= c->end)
				return bad(c, "unterminated escape");
			ch = (unsigned char)*c->p++;
			switch (ch) {
			case '"': case '\\': case '/': break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case 'u': {
				unsigned v = 0;

				for (int i = 0; i < 4; i++) {
					int h = c->p < c->end ? hexval(*c->p) : -1;

					if (h < 0)
						return bad(c, "bad \\u escape");
					v = v << 4 | (unsigned)h;
					c->p++;
				}
				ch = v >= 0x20 && v < 0x7f ? (unsigned char)v : '?';
				break;
			}
			default:
				return bad(c, "unknown escape");
			}
		}
		if (ch >= 0x80 || ch < 0x20)
			ch = '?';
		if (out && n + 1 < cap)
			out[n++] = (char)ch;
	}
	if (out && cap)
		out[n] = '\0';
	return 0;
}

/* A number; *u set when it is an unsigned integer that fits. */
static int number(struct ctx *c, uint64_t *u, bool *is_uint)
{
	const char *start = c->p;
	bool digits = false, frac = false;
	uint64_t v = 0;

	*is_uint = false;
	if (c->p < c->end && *c->p == '-')
		c->p++, frac = true;
	if (c->p < c->end && *c->p == '0') {
		c->p++;
		digits = true;
	} else {
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
			if (v > (UINT64_MAX - 9) / 10)
				frac = true; /* too large to be an id of ours */
			v = v * 10 + (uint64_t)(*c->p - '0');
			c->p++;
			digits = true;
		}
	}
	if (!digits)
		return bad(c, "bad number");
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		frac = true;
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
			return bad(c, "bad number");
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		frac = true;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
			return bad(c, "bad number");
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	(void)start;
	*u = v;
	*is_uint = !frac;
	return 0;
}

static int literal(struct ctx *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
		return bad(c, "unexpected character");
	c->p += n;
	return 0;
}

/*
 * A value at depth (1: a member of the message itself), k1 the message's
 * member it is in, k2 the member of that (depth 2).
 */
static int value(struct ctx *c, int depth, const char *k1, const char *k2);

static char *keep_string(struct ctx *c, int depth, const char *k1, const char *k2, size_t *cap)
{
	struct qmp_msg *m = c->m;

	if (depth == 1 && !strcmp(k1, "event")) {
		*cap = sizeof(m->event);
		return m->event;
	}
	if (depth == 2 && !strcmp(k1, "error") && !strcmp(k2, "class")) {
		*cap = sizeof(m->err_class);
		return m->err_class;
	}
	if (depth == 2 && !strcmp(k1, "error") && !strcmp(k2, "desc")) {
		*cap = sizeof(m->err_desc);
		return m->err_desc;
	}
	if (depth == 2 && !strcmp(k1, "data") && !strcmp(k2, "device")) {
		*cap = sizeof(m->device);
		return m->device;
	}
	*cap = 0;
	return NULL;
}

static int object(struct ctx *c, int depth, const char *k1)
{
	char key[32];

	c->p++; /* '{' */
	ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		return 0;
	}
	for (;;) {
		ws(c);
		if (string(c, key, sizeof(key)))
			return -1;
		ws(c);
		if (c->p >= c->end || *c->p != ':')
			return bad(c, "expected ':'");
		c->p++;
		ws(c);
		if (depth == 0) {
			if (!strcmp(key, "QMP"))
				c->m->greeting = true;
			else if (!strcmp(key, "return"))
				c->m->has_return = true;
			else if (!strcmp(key, "error"))
				c->m->has_error = true;
		}
		if (value(c, depth + 1, depth == 0 ? key : k1, depth == 1 ? key : ""))
			return -1;
		ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == '}') {
			c->p++;
			return 0;
		}
		return bad(c, "expected ',' or '}'");
	}
}

static int array(struct ctx *c, int depth)
{
	c->p++; /* '[' */
	ws(c);
	if (c->p < c->end && *c->p == ']') {
		c->p++;
		return 0;
	}
	for (;;) {
		ws(c);
		if (value(c, depth + 1, "[", ""))
			return -1;
		ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == ']') {
			c->p++;
			return 0;
		}
		return bad(c, "expected ',' or ']'");
	}
}

static int value(struct ctx *c, int depth, const char *k1, const char *k2)
{
	uint64_t u;
	bool is_uint;
	size_t cap;
	char *out;

	if (depth > QMP_JSON_DEPTH)
		return bad(c, "nested too deep");
	if (c->p >= c->end)
		return bad(c, "unexpected end");
	switch (*c->p) {
	case '{':
		return object(c, depth, k1);
	case '[':
		return array(c, depth);
	case '"':
		out = keep_string(c, depth, k1, k2, &cap);
		return string(c, out, cap);
	case 't':
		return literal(c, "true");
	case 'f':
		return literal(c, "false");
	case 'n':
		return literal(c, "null");
	default:
		if (number(c, &u, &is_uint))
			return -1;
		if (depth == 1 && !strcmp(k1, "id") && is_uint) {
			c->m->has_id = true;
			c->m->id = u;
		}
		return 0;
	}
}

int qmp_json_parse(const char *s, size_t len, struct qmp_msg *m, char *why, size_t why_len)
{
	struct ctx c = { .s = s, .p = s, .end = s + len, .why = why, .why_len = why_len, .m = m };

	memset(m, 0, sizeof(*m));
	ws(&c);
	if (c.p >= c.end || *c.p != '{')
		return bad(&c, "expected a JSON object");
	if (object(&c, 0, ""))
		return -1;
	ws(&c);
	if (c.p != c.end)
		return bad(&c, "trailing bytes after the object");
	return 0;
}

int qmp_json_quote(char *buf, size_t cap, size_t *pos, const char *s)
{
	size_t n = *pos;

	if (n + 1 >= cap)
		return -1;
	buf[n++] = '"';
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (n + 7 >= cap)
			return -1;
		if (ch == '"' || ch == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", ch);
		} else {
			buf[n++] = (char)ch;
		}
	}
	if (n + 2 >= cap)
		return -1;
	buf[n++] = '"';
	buf[n] = '\0';
	*pos = n;
	return 0;
}
