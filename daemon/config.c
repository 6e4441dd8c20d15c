/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.c - parse vcapd's configuration file (format in config.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define LINE_MAX_LEN 1024

static char *socket_copy;

struct limit_key {
	const char *name;
	uint64_t min, max;
	size_t offset;
	bool wide; /* uint64_t rather than uint32_t */
};

static const struct limit_key limit_keys[] = {
	{ "rings-per-session", 1, 65536, offsetof(struct vcapd_limits, max_rings), false },
	{ "ring-memory", 1u << 16, 1ull << 40, offsetof(struct vcapd_limits, ring_memory_max), true },
	{ "ring-size-max", VCAP_RING_DATA_MIN, VCAP_RING_DATA_MAX,
	  offsetof(struct vcapd_limits, ring_size_max), false },
	{ "ring-size-default", VCAP_RING_DATA_MIN, VCAP_RING_DATA_MAX,
	  offsetof(struct vcapd_limits, ring_size_default), false },
	{ "sessions", 1, 65536, offsetof(struct vcapd_limits, max_sessions), false },
};

static int set_limit(struct vcapd_limits *l, const char *key, const char *val, char *err,
		     size_t err_len)
{
	for (size_t i = 0; i < sizeof(limit_keys) / sizeof(limit_keys[0]); i++) {
		const struct limit_key *k = &limit_keys[i];
		uint64_t v;
		int rc;

		if (strcmp(k->name, key))
			continue;
		rc = parse_u64(val, key, k->min, k->max, &v, err, err_len);
		if (rc)
			return rc;
		if (k->wide)
			*(uint64_t *)((char *)l + k->offset) = v;
		else
			*(uint32_t *)((char *)l + k->offset) = (uint32_t)v;
		return 0;
	}
	snprintf(err, err_len,
		 "unknown limit \"%s\" (rings-per-session, ring-memory, ring-size-max, "
		 "ring-size-default, sessions)",
		 key);
	return -EINVAL;
}

int config_check_limits(const struct vcapd_limits *l, char *err, size_t err_len)
{
	if (l->ring_size_max & (l->ring_size_max - 1) ||
	    l->ring_size_default & (l->ring_size_default - 1)) {
		snprintf(err, err_len, "ring sizes must be powers of two");
		return -EINVAL;
	}
	if (l->ring_size_default > l->ring_size_max) {
		snprintf(err, err_len, "ring-size-default %u exceeds ring-size-max %u",
			 l->ring_size_default, l->ring_size_max);
		return -EINVAL;
	}
	return 0;
}

/* Split off the next blank-separated word of *p.  @return it or NULL. */
static char *word(char **p)
{
	char *s = *p + strspn(*p, " \t"), *e;

	if (!*s)
		return NULL;
	e = s + strcspn(s, " \t");
	if (*e)
		*e++ = '\0';
	*p = e;
	return s;
}

static int parse_line(struct vcapd *d, char *line, struct source ***tail, char *err,
		      size_t err_len)
{
	char *p = line, *kw = word(&p), *a, *b;
	char spec[VCAP_NAME_MAX + 256];
	struct source *s;
	int rc;

	if (!kw || *kw == '#')
		return 0;
	a = word(&p);
	b = word(&p);
	if (!strcmp(kw, "socket")) {
		if (!a || b) {
			snprintf(err, err_len, "expected: socket PATH");
			return -EINVAL;
		}
		free(socket_copy);
		socket_copy = strdup(a);
		d->socket_path = socket_copy;
		return socket_copy ? 0 : -ENOMEM;
	}
	if (!strcmp(kw, "source")) {
		if (!a || !b || word(&p)) {
			snprintf(err, err_len, "expected: source NAME KIND:OPTIONS");
			return -EINVAL;
		}
		if ((size_t)snprintf(spec, sizeof(spec), "%s=%s", a, b) >= sizeof(spec)) {
			snprintf(err, err_len, "source line too long");
			return -EINVAL;
		}
		if (source_find(d->sources, a)) {
			snprintf(err, err_len, "source %s is defined twice", a);
			return -EINVAL;
		}
		rc = source_create(spec, &s, err, err_len);
		if (rc)
			return rc;
		**tail = s;
		*tail = &s->next;
		return 0;
	}
	if (!strcmp(kw, "limit")) {
		if (!a || !b || word(&p)) {
			snprintf(err, err_len, "expected: limit NAME VALUE");
			return -EINVAL;
		}
		return set_limit(&d->limits, a, b, err, err_len);
	}
	snprintf(err, err_len, "unknown directive \"%s\" (socket, source, limit)", kw);
	return -EINVAL;
}

int config_load(struct vcapd *d, const char *path, char *err, size_t err_len)
{
	struct source **tail = &d->sources;
	char *line = NULL, why[256];
	size_t cap = 0;
	ssize_t len;
	FILE *f = fopen(path, "re");
	unsigned lineno = 0;
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return rc;
	}
	while (*tail)
		tail = &(*tail)->next;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > LINE_MAX_LEN) {
			snprintf(err, err_len, "%s:%u: line longer than %u bytes", path, lineno,
				 LINE_MAX_LEN);
			rc = -EINVAL;
			break;
		}
		if (strlen(line) != (size_t)len) {
			snprintf(err, err_len, "%s:%u: NUL byte in line (not a text file?)", path,
				 lineno);
			rc = -EINVAL;
			break;
		}
		rc = parse_line(d, line, &tail, why, sizeof(why));
		if (rc) {
			snprintf(err, err_len, "%s:%u: %s", path, lineno, why);
			break;
		}
	}
	if (!rc && ferror(f)) {
		rc = -EIO;
		snprintf(err, err_len, "%s: read error", path);
	}
	free(line);
	fclose(f);
	if (!rc && (rc = config_check_limits(&d->limits, why, sizeof(why))))
		snprintf(err, err_len, "%s: %s", path, why);
	return rc;
}

void config_free(struct vcapd *d)
{
	if (d->socket_path == socket_copy)
		d->socket_path = NULL;
	free(socket_copy);
	socket_copy = NULL;
}
