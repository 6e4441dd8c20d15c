/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * options.c - key=value lists and numbers with unit suffixes.
 */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kv_next(const char **p, struct kv *kv, char *err, size_t err_len)
{
	const char *s = *p, *end, *eq;
	size_t klen, vlen;

	while (*s == ',')
		s++;
	if (!*s)
		return 0;
	end = strchr(s, ',');
	if (!end)
		end = s + strlen(s);
	eq = memchr(s, '=', (size_t)(end - s));
	klen = (size_t)((eq ? eq : end) - s);
	vlen = eq ? (size_t)(end - eq - 1) : 0;
	if (klen == 0 || klen >= sizeof(kv->key) || vlen >= sizeof(kv->val)) {
		snprintf(err, err_len, "option \"%.*s\" is malformed or too long", (int)(end - s),
			 s);
		return -EINVAL;
	}
	memcpy(kv->key, s, klen);
	kv->key[klen] = '\0';
	if (eq)
		memcpy(kv->val, eq + 1, vlen);
	kv->val[vlen] = '\0';
	*p = end;
	return 1;
}

int parse_u64(const char *s, const char *what, uint64_t min, uint64_t max, uint64_t *out,
	      char *err, size_t err_len)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = { { "", 1 },
		      { "k", 1000ull },
		      { "K", 1000ull },
		      { "M", 1000000ull },
		      { "G", 1000000000ull },
		      { "Ki", 1ull << 10 },
		      { "Mi", 1ull << 20 },
		      { "Gi", 1ull << 30 } };
	unsigned long long whole, frac = 0, frac_div = 1;
	char *end;

	/* digits, optionally "." and up to 6 more digits, then a unit */
	errno = 0;
	whole = strtoull(s, &end, 10);
	if (end == s || errno || *s < '0' || *s > '9')
		goto bad;
	if (*end == '.') {
		const char *f = ++end;

		while (*end >= '0' && *end <= '9' && end - f < 6) {
			frac = frac * 10 + (unsigned long long)(*end++ - '0');
			frac_div *= 10;
		}
		if (end == f || (*end >= '0' && *end <= '9'))
			goto bad;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t m = units[i].mult, v;

		if (strcmp(end, units[i].suffix))
			continue;
		/* 14.88M is a whole number of packets; 1.5 alone is not */
		if (frac * m % frac_div) {
			snprintf(err, err_len, "%s=%s is not a whole number", what, s);
			return -EINVAL;
		}
		if (whole > max / m)
			goto range;
		v = whole * m + frac * m / frac_div;
		if (v < whole * m || v < min || v > max) /* v < whole * m: it wrapped */
			goto range;
		*out = v;
		return 0;
	}
bad:
	snprintf(err, err_len, "%s=\"%s\" is not a number", what, s);
	return -EINVAL;
range:
	snprintf(err, err_len, "%s=%s is out of range [%llu, %llu]", what, s,
		 (unsigned long long)min, (unsigned long long)max);
	return -EINVAL;
}

int kv_u64(const struct kv *kv, uint64_t min, uint64_t max, uint64_t *out, char *err,
	   size_t err_len)
{
	return parse_u64(kv->val, kv->key, min, max, out, err, err_len);
}

int kv_ifname(const char **args, const char *kind, char *ifname, size_t cap, char *err,
	      size_t err_len)
{
	const char *comma = strchr(*args, ',');
	size_t len = comma ? (size_t)(comma - *args) : strlen(*args);

	if (len == 0 || len >= cap) {
		snprintf(err, err_len, "%s: expected %s:IFACE with a name of 1..%zu bytes", kind,
			 kind, cap - 1);
		return -EINVAL;
	}
	memcpy(ifname, *args, len);
	ifname[len] = '\0';
	*args += len;
	return 0;
}

int kv_known(const struct kv *kv, const char *const *keys, const char *what, char *err,
	     size_t err_len)
{
	size_t off;

	for (size_t i = 0; keys[i]; i++)
		if (!strcmp(kv->key, keys[i]))
			return 0;
	off = (size_t)snprintf(err, err_len, "%s%sunknown option \"%s\" (", what ? what : "",
			       what ? ": " : "", kv->key);
	for (size_t i = 0; keys[i] && off < err_len; i++)
		off += (size_t)snprintf(err + off, err_len - off, "%s%s", i ? ", " : "", keys[i]);
	if (off < err_len)
		snprintf(err + off, err_len - off, ")");
	return -EINVAL;
}
