/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * account.h - who pays for a session: its limits and what it holds.
 *
 * Every session is charged to one account, so that a tenant cannot
 * multiply its share by opening more sessions:
 *   - a tenant's (struct tenant embeds one), for all its sessions: by
 *     socket, by uid, or its VM;
 *   - the admin's (root on the main socket): no limit of its own, only
 *     vcapd's global ones;
 *   - a VM's own, for a VM with no tenant line;
 *   - one per uid for anyone else on the main socket, made at its first
 *     connection and freed with its last session.
 * All but the admin's start from the `limit tenant-*` defaults (config.h);
 * `tenant NAME KEY VALUE` lines set a tenant's own.
 *
 * Sessions, rings and ring bytes are counters charged and uncharged where
 * they change (session.c, session_unix.c, vm.c).  Rules, flow rules and
 * filter instructions are summed over the account's rings when one is
 * added (account_check_*): a ring's counts change on the capture thread
 * (flow rules expire there), and a sum read just before an add is exact
 * for the add, which is all a limit needs, with no capture-thread hook.
 */
#ifndef VCAP_DAEMON_ACCOUNT_H
#define VCAP_DAEMON_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vcap_proto.h"

struct consumer;
struct filter;
struct vcapd;

/* What an account's limits bound; also the index of limit[]. */
enum account_res {
	ACCT_SESSIONS,
	ACCT_RINGS,
	ACCT_RING_MEMORY,    /* bytes of rings in host memory (a VM's live in its region) */
	ACCT_WILDCARD_RULES, /* sum over its rings */
	ACCT_FLOW_RULES,     /* sum over its rings */
	ACCT_FILTER_INSNS,   /* sum over its rings' own filters (not the policy filter) */
	ACCT_JOBS,           /* OPEN and SET_FILTER being worked on off the control thread */
	ACCT_N
};

/* "sessions", "rings", ...: the KEY of `tenant NAME KEY VALUE` and `limit tenant-KEY`. */
extern const char *const account_keys[ACCT_N];

struct account {
	char name[VCAP_NAME_MAX + 16]; /* "tenant t1", "uid 1000", "vm vm1", "admin" */
	bool unlimited;                /* the admin: only vcapd's global limits */
	uint64_t limit[ACCT_N];
	unsigned own;                  /* bit r: limit[r] from a tenant line, not a default */
	uint32_t sessions;
	uint32_t rings;
	uint64_t ring_bytes;
	uint32_t jobs;                 /* requests being worked on off the control thread */
	/*
	 * What its rings counted up to their close (account_ring_closed), so
	 * that its totals (metrics.h) never go back when a ring closes.
	 */
	uint64_t closed_received, closed_delivered, closed_dropped, closed_filtered;
	/* a per-uid account (account_of_uid) */
	bool per_uid;
	uid_t uid;
	struct account *next;
};

/* Name a and give it the defaults for every limit not set by a tenant line. */
void account_setup(struct account *a, const char *name, const uint64_t defaults[ACCT_N]);
/* A tenant line: limit r of a is v. */
void account_set_limit(struct account *a, enum account_res r, uint64_t v);

/* The account of uid on the main socket, made if new.  @return it or NULL (no memory). */
struct account *account_of_uid(struct vcapd *d, uid_t uid);

/*
 * A new session of a: charge it if a has room.  @return 0, or -EMFILE with
 * the reason (naming the limit) in why.
 */
int account_session_begin(struct account *a, char *why, size_t why_len);
/* Charge a session whatever the limit (a VM's: the operator attached it). */
void account_session_charge(struct account *a);
/* A session of a ended (a may be NULL: never charged).  Frees an idle per-uid account. */
void account_session_end(struct vcapd *d, struct account *a);
/* Give back a per-uid account no session was charged to (a refused one). */
void account_release(struct vcapd *d, struct account *a);

/*
 * May a hold one more ring of bytes host memory (0: in a VM's region)?
 * @return 0, -EMFILE (rings) or -ENOMEM (ring memory) with why.
 */
int account_check_ring(const struct account *a, uint64_t bytes, char *why, size_t why_len);
void account_charge_ring(struct account *a, uint64_t bytes);
void account_uncharge_ring(struct account *a, uint64_t bytes);
/* Ring c of a was detached for good: add its final counters to a's closed_* totals. */
void account_ring_closed(struct account *a, const struct consumer *c);

/* May a add one wildcard rule (flow: one flow rule)?  @return 0 or -ENOSPC with why. */
int account_check_rule(const struct vcapd *d, const struct account *a, bool flow, char *why,
		       size_t why_len);

/*
 * May a ring of a take filter f (NULL: none), in place of the filter of
 * `replacing` (NULL: a new ring)?  Checks `limit filter-insns` for f and
 * the account's sum.  @return 0 or -E2BIG with why.
 */
int account_check_filter(const struct vcapd *d, const struct account *a,
			 const struct filter *f, const struct consumer *replacing, char *why,
			 size_t why_len);

/*
 * May a start one more request off the control thread (a filter's
 * compile, a ring's pages)?  Past its `jobs` limit the request waits
 * (requests_ring.c), so that one tenant's compiles cannot take every CPU.
 */
bool account_may_start_job(const struct account *a);
void account_job_started(struct account *a);
/* A job of a ended (a may be freed: a per-uid account with no session left). */
void account_job_done(struct vcapd *d, struct account *a);

#endif /* VCAP_DAEMON_ACCOUNT_H */
