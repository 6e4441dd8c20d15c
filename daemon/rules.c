/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rules.c - a consumer's rules: exact flow rules (flowtab.c), then
 * wildcard rules by increasing id (wildcard.c), then the default action.
 *
 * Only the combination is here: struct rules, the default action and the
 * order.  rules_pass() is built from the inline verdicts of flowtab.h and
 * wildcard.h so that it compiles to what it did when all of this was one
 * file: the wildcard match inlined, the flow probe (flowtab_find) one call.
 */
#include "rules.h"

#include <errno.h>
#include <stdlib.h>

#include "flowtab.h"
#include "wildcard.h"

struct rules {
	bool default_pass;
	struct wildcard wild;
	struct flowtab flows;
};

struct rules *rules_new(const struct rules_limits *limits)
{
	struct rules *r;

	if (!limits) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (flowtab_init(&r->flows, limits->max_flows)) {
		free(r);
		errno = EINVAL;
		return NULL;
	}
	wildcard_init(&r->wild, limits->max_rules);
	r->default_pass = true;
	return r;
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	wildcard_free(&r->wild);
	flowtab_free(&r->flows);
	free(r);
}

bool rules_trivial(const struct rules *r)
{
	return !wildcard_count(&r->wild) && !flowtab_count(&r->flows) && r->default_pass;
}

uint32_t rules_count(const struct rules *r)
{
	return wildcard_count(&r->wild);
}

uint32_t rules_flow_count(const struct rules *r)
{
	return flowtab_count(&r->flows);
}

int rules_set_default(struct rules *r, uint32_t action)
{
	if (action != VCAP_PASS && action != VCAP_DROP)
		return -EINVAL;
	r->default_pass = action == VCAP_PASS;
	return 0;
}

int rules_add(struct rules *r, const struct vcap_rule *rule, char *err, size_t err_len)
{
	return wildcard_add(&r->wild, rule, err, err_len);
}

int rules_remove(struct rules *r, uint32_t id)
{
	return wildcard_remove(&r->wild, id);
}

int rules_hits(const struct rules *r, uint32_t id, uint64_t *hits)
{
	return wildcard_hits(&r->wild, id, hits);
}

int rules_flow_add(struct rules *r, const struct vcap_flow *f, uint32_t action,
		   uint32_t idle_timeout_ms, uint64_t now_ns, char *err, size_t err_len)
{
	return flowtab_add(&r->flows, f, action, idle_timeout_ms, now_ns, err, err_len);
}

int rules_flow_remove(struct rules *r, const struct vcap_flow *f, uint64_t *hits)
{
	return flowtab_remove(&r->flows, f, hits);
}

int rules_flow_hits(struct rules *r, const struct vcap_flow *f, uint64_t now_ns, uint64_t *hits)
{
	return flowtab_hits(&r->flows, f, now_ns, hits);
}

uint32_t rules_flow_list(const struct rules *r, uint64_t cursor, uint64_t now_ns,
			 struct vcap_flow_stat *out, uint32_t max, uint64_t *next)
{
	return flowtab_list(&r->flows, cursor, now_ns, out, max, next);
}

const void *rules_wild_export(const struct rules *r, size_t *len)
{
	*len = (size_t)r->wild.n * sizeof(*r->wild.rule);
	return r->wild.rule;
}

bool rules_default_pass(const struct rules *r)
{
	return r->default_pass;
}

int rules_wild_import(struct rules *r, const void *bytes, size_t len, bool default_pass)
{
	int rc;

	if (len % sizeof(struct wild))
		return -EINVAL;
	rc = wildcard_import(&r->wild, bytes, (uint32_t)(len / sizeof(struct wild)));
	if (!rc)
		r->default_pass = default_pass;
	return rc;
}

int rules_flow_restore(struct rules *r, const struct vcap_flow_stat *st, uint64_t now_ns,
		       char *err, size_t err_len)
{
	return flowtab_restore(&r->flows, st, now_ns, err, err_len);
}

void rules_expire(struct rules *r, uint64_t now_ns)
{
	flowtab_expire(&r->flows, now_ns);
}

bool rules_pass(struct rules *r, const struct vcap_parsed *p, uint64_t now_ns)
{
	uint32_t v = flowtab_verdict(&r->flows, p, now_ns);

	if (!v)
		v = wildcard_verdict(&r->wild, p);
	return v ? v == VCAP_PASS : r->default_pass;
}

const struct wildcard *rules_wildcard(const struct rules *r)
{
	return &r->wild;
}

void rules_each_flow(const struct rules *r, void (*fn)(void *arg, const struct flow_key *k),
		     void *arg)
{
	flowtab_each(&r->flows, fn, arg);
}
