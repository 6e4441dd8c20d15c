/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * account.c - limits per account, and their checks (see account.h).
 *
 * Each refusal names the account, what it holds and the configuration key
 * that sets the limit, so an operator knows which line to change:
 * "tenant t1 holds 16 rings, its limit (tenant t1 rings)".
 */
#include "account.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "consumer.h"
#include "filter.h"
#include "session.h"
#include "vcapd.h"

const char *const account_keys[ACCT_N] = {
	[ACCT_SESSIONS] = "sessions",
	[ACCT_RINGS] = "rings",
	[ACCT_RING_MEMORY] = "ring-memory",
	[ACCT_WILDCARD_RULES] = "wildcard-rules",
	[ACCT_FLOW_RULES] = "flow-rules",
	[ACCT_FILTER_INSNS] = "filter-insns",
	[ACCT_JOBS] = "jobs",
};

void account_setup(struct account *a, const char *name, const uint64_t defaults[ACCT_N])
{
	snprintf(a->name, sizeof(a->name), "%s", name);
	for (int r = 0; r < ACCT_N; r++)
		if (!(a->own & (1u << r)))
			a->limit[r] = defaults[r];
}

void account_set_limit(struct account *a, enum account_res r, uint64_t v)
{
	a->limit[r] = v;
	a->own |= 1u << r;
}

/* "(tenant t1 rings)" or "(limit tenant-rings)": the line that sets it. */
static const char *limit_key(const struct account *a, enum account_res r, char *buf,
			     size_t len)
{
	if (a->own & (1u << r))
		snprintf(buf, len, "%s %s", a->name, account_keys[r]);
	else
		snprintf(buf, len, "limit tenant-%s", account_keys[r]);
	return buf;
}

/* What limit r counts, in a sentence. */
static const char *const what[ACCT_N] = {
	[ACCT_SESSIONS] = "sessions",
	[ACCT_RINGS] = "rings",
	[ACCT_RING_MEMORY] = "bytes of rings",
	[ACCT_WILDCARD_RULES] = "wildcard rules",
	[ACCT_FLOW_RULES] = "flow rules",
	[ACCT_FILTER_INSNS] = "BPF instructions in its filters",
	[ACCT_JOBS] = "requests being compiled or populated",
};

/* @return true (with why) if holding `held` plus `more` passes limit r of a. */
static bool over(const struct account *a, enum account_res r, uint64_t held, uint64_t more,
		 char *why, size_t why_len)
{
	char key[VCAP_NAME_MAX + 48];

	if (a->unlimited || held + more <= a->limit[r])
		return false;
	limit_key(a, r, key, sizeof(key));
	if (more == 1)
		snprintf(why, why_len, "%s holds %llu %s, its limit (%s)", a->name,
			 (unsigned long long)held, what[r], key);
	else
		snprintf(why, why_len, "%s holds %llu %s; %llu more would pass its limit of %llu "
			 "(%s)", a->name, (unsigned long long)held, what[r],
			 (unsigned long long)more, (unsigned long long)a->limit[r], key);
	return true;
}

struct account *account_of_uid(struct vcapd *d, uid_t uid)
{
	struct account *a;
	char name[32];

	for (a = d->uid_accounts; a; a = a->next)
		if (a->uid == uid)
			return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	snprintf(name, sizeof(name), "uid %u", (unsigned)uid);
	account_setup(a, name, d->tenant_limits);
	a->per_uid = true;
	a->uid = uid;
	a->next = d->uid_accounts;
	d->uid_accounts = a;
	return a;
}

int account_session_begin(struct account *a, char *why, size_t why_len)
{
	if (over(a, ACCT_SESSIONS, a->sessions, 1, why, why_len))
		return -EMFILE;
	a->sessions++;
	return 0;
}

void account_session_charge(struct account *a)
{
	a->sessions++;
}

void account_release(struct vcapd *d, struct account *a)
{
	if (!a || !a->per_uid || a->sessions || a->jobs)
		return;
	for (struct account **pp = &d->uid_accounts; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	free(a);
}

void account_session_end(struct vcapd *d, struct account *a)
{
	if (!a)
		return;
	a->sessions--;
	account_release(d, a);
}

int account_check_ring(const struct account *a, uint64_t bytes, char *why, size_t why_len)
{
	if (over(a, ACCT_RINGS, a->rings, 1, why, why_len))
		return -EMFILE;
	if (bytes && over(a, ACCT_RING_MEMORY, a->ring_bytes, bytes, why, why_len))
		return -ENOMEM;
	return 0;
}

void account_charge_ring(struct account *a, uint64_t bytes)
{
	a->rings++;
	a->ring_bytes += bytes;
}

void account_uncharge_ring(struct account *a, uint64_t bytes)
{
	a->rings--;
	a->ring_bytes -= bytes;
}

void account_ring_closed(struct account *a, const struct consumer *c)
{
	struct vcap_ring_counters cnt;

	/* detached: the capture thread wrote its mirror for the last time */
	vcap_ring_stats_read(&c->mirror, &cnt);
	a->closed_received += cnt.received;
	a->closed_delivered += cnt.delivered;
	a->closed_dropped += cnt.dropped;
	a->closed_filtered += cnt.filtered;
}

int account_check_rule(const struct vcapd *d, const struct account *a, bool flow, char *why,
		       size_t why_len)
{
	uint64_t sum = 0;

	if (a->unlimited)
		return 0;
	/* read now, on the control thread: the capture thread only ever lowers them meanwhile */
	for (const struct consumer *c = d->consumers; c; c = c->next_global)
		if (c->owner->acct == a)
			sum += flow ? atomic_load_explicit(&c->flow_count, memory_order_relaxed)
				    : atomic_load_explicit(&c->rule_count, memory_order_relaxed);
	if (over(a, flow ? ACCT_FLOW_RULES : ACCT_WILDCARD_RULES, sum, 1, why, why_len))
		return -ENOSPC;
	return 0;
}

int account_check_filter(const struct vcapd *d, const struct account *a,
			 const struct filter *f, const struct consumer *replacing, char *why,
			 size_t why_len)
{
	unsigned n = filter_insns(f);
	uint64_t sum = 0;

	if (n > d->limits.filter_insns) {
		snprintf(why, why_len, "the filter compiles to %u BPF instructions, more than %u "
			 "(limit filter-insns)", n, d->limits.filter_insns);
		return -E2BIG;
	}
	if (a->unlimited)
		return 0;
	/* c->filter is swapped only by the control thread's own (synchronous) letters */
	for (const struct consumer *c = d->consumers; c; c = c->next_global)
		if (c->owner->acct == a && c != replacing)
			sum += filter_insns(c->filter);
	if (over(a, ACCT_FILTER_INSNS, sum, n, why, why_len))
		return -E2BIG;
	return 0;
}

bool account_may_start_job(const struct account *a)
{
	return !a || a->unlimited || a->jobs < a->limit[ACCT_JOBS];
}

void account_job_started(struct account *a)
{
	if (a)
		a->jobs++;
}

void account_job_done(struct vcapd *d, struct account *a)
{
	if (!a)
		return;
	a->jobs--;
	account_release(d, a);
}
