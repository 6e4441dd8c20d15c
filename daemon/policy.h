/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.h - who may open what: tenants from the configuration file.
 *
 * Bypass must not bypass isolation.  A tenant is a container (recognised by
 * the extra socket vcapd listens on for it, bind-mounted into the
 * container, or by its peer uid on the main socket) and later a VM.  It may
 * open only the sources it is allowed, and every ring it opens carries the
 * tenant's mandatory filter, ANDed before its own filter and rules, so it
 * never sees traffic its policy does not allow.
 *
 * Without any tenant in the configuration only root on the main socket may
 * open sources.  With tenants, root on the main socket is the host's
 * administrator and may open anything; everyone else must be a tenant.
 */
#ifndef VCAP_DAEMON_POLICY_H
#define VCAP_DAEMON_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "account.h"
#include "vcap_proto.h"
#include "vcapd.h"

#define TENANT_MAX_ALLOW 32

struct tenant {
	char name[VCAP_NAME_MAX + 1];
	long uid;                           /* -1: not matched by uid */
	char socket[108];                   /* "": no socket of its own */
	struct socket_perm socket_perm;     /* who may connect to it */
	char allow[TENANT_MAX_ALLOW][VCAP_NAME_MAX + 1]; /* source names; "*" all */
	unsigned n_allow;
	char filter[VCAP_FILTER_MAX + 1];   /* mandatory; "" none */
	struct account acct;                /* its limits and what it holds, all sessions */
	char vm[VCAP_NAME_MAX + 1];         /* "": no VM; else a VM recognised by name */
	unsigned lineno;                    /* where it was first defined */
	int listen_fd;                      /* its socket, once listening */
	bool reload_changed;                /* reload.c: its sessions must start over */
	struct tenant *next;
};

struct vcapd;
struct session;
struct source;

/* Find or create tenant name in d's list (config.c). */
struct tenant *tenant_get(struct vcapd *d, const char *name, unsigned lineno);

/* The tenant of a session of uid that came in through via_socket's socket (NULL: main). */
struct tenant *policy_tenant_of(const struct vcapd *d, uid_t uid, struct tenant *via_socket);

/*
 * Decide who a new session is: the tenant it came in through, else the
 * tenant of its uid, else the administrator (root) or nobody; and which
 * account pays for it (ss->acct; NULL only when out of memory).
 */
void policy_classify(struct vcapd *d, struct session *ss, struct tenant *via_socket);

/* @return 0 if the session may open s, or -EACCES with the reason in why. */
int policy_may_open(const struct vcapd *d, const struct session *ss, const struct source *s,
		    char *why, size_t why_len);

/* The mandatory filter of the session's tenant ("" if none). */
const char *policy_filter(const struct session *ss);

/* Rings the session may hold (its own limit, and its account's). */
uint32_t policy_max_rings(const struct vcapd *d, const struct session *ss);

/*
 * What the session's rings may cost a capture thread per packet (0: no
 * budget), shared by every ring of the same *key on a source.
 */
uint64_t policy_cost_budget(const struct vcapd *d, const struct session *ss, const void **key);

/* May the session see every source and ring in STATUS? */
bool policy_sees_all(const struct session *ss);

#endif /* VCAP_DAEMON_POLICY_H */
