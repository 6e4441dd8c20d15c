/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * requests.c - vcapd's answer to each request (see requests.h).
 *
 * A request that cannot be granted gets an error reply saying why, and the
 * session goes on.  Nothing here blocks on a client; what changes a capture
 * thread's work goes through its mailbox (roster.c) and is in force before
 * the reply is sent.
 */
#include "requests.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "capture.h"
#include "consumer.h"
#include "policy.h"
#include "codec.h"
#include "reload.h"
#include "upgrade.h"
#include "vm_admin.h"
#include "session.h"
#include "source.h"
#include "status.h"
#include "util.h"
#include "vcapd.h"
#include "wire.h"

/* STATUS entries, built one request at a time. */
static _Alignas(8) uint8_t status_scratch[VCAP_MSG_MAX];

/*
 * Flow rules per FLOW_LIST page: the capture thread fills a page between
 * two batches, so a page bounds how long it stays away from packets
 * (~0.1 ms for 512); vcap.h promises pages of several hundred.
 */
#define FLOW_PAGE 512u
_Static_assert(FLOW_PAGE <= VCAP_FLOW_LIST_MAX, "a page fits in one reply");

/* FLOW_LIST entries, one request at a time: as the capture thread wrote them, then wired. */
static struct vcap_flow_stat flow_page[FLOW_PAGE];
static struct vcap_wire_flow_stat flow_wire[FLOW_PAGE];

void requests_hello(struct session *ss, struct vcap_msg_hello_reply *r)
{
	struct vcapd *d = ss->d;

	r->daemon_pid = (uint32_t)getpid();
	r->max_rings = policy_max_rings(d, ss);
	r->ring_size_min = d->limits.ring_size_min;
	r->ring_size_max = d->limits.ring_size_max;
	r->filter_max = VCAP_FILTER_MAX;
}

static void do_stats(struct consumer *c, const struct vcap_msg *m, struct vcap_msg *reply)
{
	vcap_msg_reply(reply, m);
	vcap_ring_stats_read(&c->mirror, &reply->u.stats_reply.counters);
}

/*
 * Errors name the handle as its program knows it, by its source: the ring
 * id is vcapd's (vcapctl status shows it to the operator).
 */
static void do_rules(struct consumer *c, const struct vcap_msg *m, struct vcap_msg *reply)
{
	char err[VCAP_REASON_MAX] = "";
	struct vcap_rule rule;
	struct vcap_flow flow;
	uint64_t count = 0;
	int rc;

	switch (m->type) {
	case VCAP_MSG_RULE_ADD:
		vcap_rule_from_wire(&m->u.rule_add.rule, &rule);
		rc = account_check_rule(c->owner->d, c->owner->acct, false, err, sizeof(err));
		if (!rc)
			rc = roster_rule_add(c, &rule, err, sizeof(err));
		break;
	case VCAP_MSG_RULE_REMOVE:
		rc = roster_rule_remove(c, m->u.rule_ref.arg);
		if (rc)
			snprintf(err, sizeof(err), "host:%s: this handle has no rule %u", c->src->name,
				 m->u.rule_ref.arg);
		break;
	case VCAP_MSG_RULE_DEFAULT:
		rc = roster_rule_default(c, m->u.rule_ref.arg);
		if (rc)
			snprintf(err, sizeof(err), "default action %u is neither PASS nor DROP",
				 m->u.rule_ref.arg);
		break;
	case VCAP_MSG_RULE_HITS:
		rc = roster_rule_hits(c, m->u.rule_ref.arg, &count);
		if (rc)
			snprintf(err, sizeof(err), "host:%s: this handle has no rule %u", c->src->name,
				 m->u.rule_ref.arg);
		break;
	case VCAP_MSG_FLOW_ADD:
		vcap_flow_from_wire(&m->u.flow_add.flow, &flow);
		rc = account_check_rule(c->owner->d, c->owner->acct, true, err, sizeof(err));
		if (!rc)
			rc = roster_flow_add(c, &flow, m->u.flow_add.action,
					     m->u.flow_add.idle_timeout_ms, &count, err, sizeof(err));
		break;
	case VCAP_MSG_FLOW_REMOVE:
		vcap_flow_from_wire(&m->u.flow_remove.flow, &flow);
		rc = roster_flow_remove(c, &flow, &count);
		if (rc)
			snprintf(err, sizeof(err),
				 "host:%s: this handle has no rule for that flow (never added, "
				 "removed, or expired)",
				 c->src->name);
		break;
	default: /* VCAP_MSG_FLOW_HITS */
		vcap_flow_from_wire(&m->u.flow_hits.flow, &flow);
		rc = roster_flow_hits(c, &flow, &count);
		if (rc)
			snprintf(err, sizeof(err), "ring %u has no live rule for that flow", c->id);
		break;
	}
	if (rc) {
		vcap_msg_error(reply, m, rc, "%s", err[0] ? err : strerror(-rc));
		return;
	}
	vcap_msg_reply(reply, m);
	reply->u.count_reply.count = count;
}

static void do_flow_list(struct consumer *c, const struct vcap_msg *m, struct vcap_msg *reply)
{
	const struct vcap_msg_flow_list *q = &m->u.flow_list;
	struct vcap_msg_flow_list_reply *r = &reply->u.flow_list_reply;
	uint32_t max = q->max < FLOW_PAGE ? q->max : FLOW_PAGE;
	uint32_t n;

	vcap_msg_reply(reply, m);
	n = roster_flow_list(c, q->cursor, flow_page, max, &r->next, &r->total);
	for (uint32_t i = 0; i < n; i++)
		vcap_flow_stat_to_wire(&flow_page[i], &flow_wire[i]);
	r->count = n;
	reply->flows = flow_wire;
}

/* RELOAD: the administrator's only; a tenant must not change the host's policy. */
static void do_reload(struct session *ss, const struct vcap_msg *m, struct vcap_msg *reply)
{
	struct vcap_msg_reload_reply sum;
	char err[VCAP_REASON_MAX];
	int rc;

	if (!ss->admin) {
		vcap_msg_error(reply, m, -EPERM, "only root on vcapd's main socket may reload it");
		return;
	}
	if (m->u.reload.flags) {
		vcap_msg_error(reply, m, -EINVAL, "unknown reload flags 0x%x", m->u.reload.flags);
		return;
	}
	vlog(LOG_NOTICE, "reload asked by %s (pid %d)", ss->client, (int)ss->cred.pid);
	rc = reload(ss->d, &sum, err, sizeof(err));
	if (rc) {
		vcap_msg_error(reply, m, rc, "%s", err);
		return;
	}
	vcap_msg_reply(reply, m);
	reply->u.reload_reply = sum;
}

/*
 * UPGRADE: the administrator's only.  Answered here, by this process, once
 * the new vcapd took over; then this one leaves at once, before the loop
 * could read another request that the new one owns now.
 */
static void do_upgrade(struct session *ss, const struct vcap_msg *m, struct vcap_msg *reply)
{
	static _Alignas(8) uint8_t tx[VCAP_MSG_MAX];
	char err[VCAP_REASON_MAX];
	uint32_t pid = 0;
	uint64_t paused = 0;
	ssize_t n;
	int rc;

	if (!ss->admin) {
		vcap_msg_error(reply, m, -EPERM, "only root on vcapd's main socket may upgrade it");
		return;
	}
	if (m->u.upgrade.flags) {
		vcap_msg_error(reply, m, -EINVAL, "unknown upgrade flags 0x%x", m->u.upgrade.flags);
		return;
	}
	vlog(LOG_NOTICE, "upgrade to %s asked by %s (pid %d)", m->text[0] ? m->text : "this binary",
	     ss->client, (int)ss->cred.pid);
	rc = upgrade_run(ss->d, m->text, &pid, &paused, err, sizeof(err));
	if (rc) {
		vcap_msg_error(reply, m, rc, "%s", err);
		return;
	}
	vcap_msg_reply(reply, m);
	reply->u.upgrade_reply.pid = pid;
	reply->u.upgrade_reply.paused_ns = paused;
	n = vcap_msg_encode(reply, tx, sizeof(tx));
	if (n > 0)
		(void)ss->ops->send(ss, tx, (size_t)n, NULL, 0);
	_exit(0);
}

int requests_answer(struct session *ss, const struct vcap_msg *m, struct vcap_msg *reply,
		    int *fds)
{
	struct consumer *c = NULL;
	uint32_t id;

	(void)fds; /* the one reply with descriptors, OPEN's, is sent later (requests_ring.c) */
	if (vcap_msg_ring_id(m, &id))
		c = session_ring(ss, id); /* the request core checked it is there */
	switch (m->type) {
	case VCAP_MSG_OPEN:
		return requests_open(ss, m, reply);
	case VCAP_MSG_CLOSE:
		return requests_close(ss, c, m, reply);
	case VCAP_MSG_SET_FILTER:
		return requests_set_filter(ss, c, m, reply);
	case VCAP_MSG_STATS:
		do_stats(c, m, reply);
		break;
	case VCAP_MSG_STATUS:
		vcap_msg_reply(reply, m);
		status_fill(ss, m->u.status.first, reply, status_scratch, sizeof(status_scratch));
		break;
	case VCAP_MSG_FLOW_LIST:
		do_flow_list(c, m, reply);
		break;
	case VCAP_MSG_RELOAD:
		do_reload(ss, m, reply);
		break;
	case VCAP_MSG_UPGRADE:
		do_upgrade(ss, m, reply);
		break;
	case VCAP_MSG_VM_ATTACH:
	case VCAP_MSG_VM_DETACH:
		if (!ss->admin) {
			vcap_msg_error(reply, m, -EPERM,
				       "only root on vcapd's main socket may attach or detach a VM's device");
			break;
		}
		return vm_admin_request(ss, m, reply);
	default:
		do_rules(c, m, reply);
		break;
	}
	return 0;
}
