/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.c - apply the tenants of the configuration (see policy.h).
 */
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "account.h"
#include "session.h"
#include "source.h"
#include "vcapd.h"

struct tenant *policy_tenant_of(const struct vcapd *d, uid_t uid, struct tenant *via_socket)
{
	if (via_socket)
		return via_socket;
	for (struct tenant *t = d->tenants; t; t = t->next)
		if (t->uid >= 0 && (uid_t)t->uid == uid)
			return t;
	return NULL;
}

void policy_classify(struct vcapd *d, struct session *ss, struct tenant *via_socket)
{
	ss->tenant = policy_tenant_of(d, ss->cred.uid, via_socket);
	ss->admin = false;
	if (ss->tenant) {
		ss->acct = &ss->tenant->acct;
		return;
	}
	ss->admin = ss->cred.uid == 0;
	ss->acct = ss->admin ? &d->admin : account_of_uid(d, ss->cred.uid);
}

static bool allowed(const struct tenant *t, const char *source)
{
	for (unsigned i = 0; i < t->n_allow; i++)
		if (!strcmp(t->allow[i], "*") || !strcmp(t->allow[i], source))
			return true;
	return false;
}

int policy_may_open(const struct vcapd *d, const struct session *ss, const struct source *s,
		    char *why, size_t why_len)
{
	if (ss->admin || (ss->operator_attached && !ss->tenant))
		return 0; /* the operator attached this VM: it may open what it likes */
	if (!ss->tenant) {
		if (d->tenants)
			snprintf(why, why_len, "host:%s: uid %u is not a tenant of vcapd (see %s)",
				 s->name, ss->cred.uid, d->config_path);
		else
			snprintf(why, why_len,
				 "host:%s: uid %u may not open sources (no policy is configured: "
				 "only root may)",
				 s->name, ss->cred.uid);
		return -EACCES;
	}
	if (!allowed(ss->tenant, s->name)) {
		snprintf(why, why_len, "host:%s: tenant %s may not open this source", s->name,
			 ss->tenant->name);
		return -EACCES;
	}
	return 0;
}

const char *policy_filter(const struct session *ss)
{
	return ss->tenant ? ss->tenant->filter : "";
}

uint32_t policy_max_rings(const struct vcapd *d, const struct session *ss)
{
	const struct account *a = ss->acct;

	if (a && !a->unlimited && a->limit[ACCT_RINGS] < d->limits.max_rings)
		return (uint32_t)a->limit[ACCT_RINGS];
	return d->limits.max_rings;
}

bool policy_sees_all(const struct session *ss)
{
	return ss->admin;
}

uint64_t policy_cost_budget(const struct vcapd *d, const struct session *ss, const void **key)
{
	/* the host's administrator alone is not metered; a VM without a tenant has its own account */
	*key = ss->acct;
	return ss->acct && !ss->acct->unlimited ? d->limits.cost_ns : 0;
}
