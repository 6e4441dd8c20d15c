/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rules_api.c - wildcard and flow rules of host: handles: each call is one
 * request to vcapd, answered once the capture thread applies it.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

#include "codec.h"
#include "wire.h"

/* Send one CAPTURE request built by the caller; @return 0 or -errno (message set). */
static int call(struct vcap *h, struct vcap_msg *req, uint64_t *count)
{
	struct vcap_msg *reply = malloc(sizeof(*reply));
	int rc;

	if (!reply)
		return vcap_set_err(-ENOMEM, "%s: out of memory", h->device);
	rc = vcap_ctl_call(h, req, reply, NULL, NULL);
	if (!rc && count)
		*count = reply->u.count_reply.count;
	free(reply);
	return rc;
}

/* Rules need vcapd: a direct handle has none. */
static int need_ctl(struct vcap *h, const char *what)
{
	if (h->ctl)
		return 0;
	return vcap_set_err(-EOPNOTSUPP, "%s: %s needs a host: device (rules run in vcapd)",
			    h->device, what);
}

static struct vcap_msg *request(struct vcap *h, uint16_t type)
{
	struct vcap_msg *m = malloc(sizeof(*m));

	if (!m) {
		vcap_set_err(-ENOMEM, "%s: out of memory", h->device);
		return NULL;
	}
	vcap_msg_init(m, VCAP_APP_CAPTURE, type);
	return m;
}

static int rule_ref(struct vcap *h, uint16_t type, uint32_t arg, uint64_t *count,
		    const char *what)
{
	struct vcap_msg *m;
	int rc = need_ctl(h, what);

	if (rc)
		return rc;
	if (!(m = request(h, type)))
		return -ENOMEM;
	m->u.rule_ref.ring_id = h->info.ring_id;
	m->u.rule_ref.arg = arg;
	rc = call(h, m, count);
	free(m);
	return rc;
}

VCAP_API int vcap_rule_add(struct vcap *h, const struct vcap_rule *r)
{
	struct vcap_msg *m;
	int rc = need_ctl(h, "vcap_rule_add");

	if (rc)
		return rc;
	if (!(m = request(h, VCAP_MSG_RULE_ADD)))
		return -ENOMEM;
	m->u.rule_add.ring_id = h->info.ring_id;
	vcap_rule_to_wire(r, &m->u.rule_add.rule);
	rc = call(h, m, NULL);
	free(m);
	return rc;
}

VCAP_API int vcap_rule_remove(struct vcap *h, uint32_t id)
{
	return rule_ref(h, VCAP_MSG_RULE_REMOVE, id, NULL, "vcap_rule_remove");
}

VCAP_API int vcap_rule_default(struct vcap *h, uint32_t action)
{
	return rule_ref(h, VCAP_MSG_RULE_DEFAULT, action, NULL, "vcap_rule_default");
}

VCAP_API int vcap_rule_hits(struct vcap *h, uint32_t id, uint64_t *hits)
{
	return rule_ref(h, VCAP_MSG_RULE_HITS, id, hits, "vcap_rule_hits");
}

VCAP_API int vcap_flow_add(struct vcap *h, const struct vcap_flow *f, uint32_t action,
			   uint32_t idle_timeout_ms, uint64_t *applied_at)
{
	struct vcap_msg *m;
	int rc = need_ctl(h, "vcap_flow_add");

	if (rc)
		return rc;
	if (!(m = request(h, VCAP_MSG_FLOW_ADD)))
		return -ENOMEM;
	m->u.flow_add.ring_id = h->info.ring_id;
	m->u.flow_add.action = action;
	m->u.flow_add.idle_timeout_ms = idle_timeout_ms;
	vcap_flow_to_wire(f, &m->u.flow_add.flow);
	rc = call(h, m, applied_at);
	free(m);
	return rc;
}

VCAP_API int vcap_flow_remove(struct vcap *h, const struct vcap_flow *f, uint64_t *hits)
{
	struct vcap_msg *m;
	int rc = need_ctl(h, "vcap_flow_remove");

	if (rc)
		return rc;
	if (!(m = request(h, VCAP_MSG_FLOW_REMOVE)))
		return -ENOMEM;
	m->u.flow_remove.ring_id = h->info.ring_id;
	vcap_flow_to_wire(f, &m->u.flow_remove.flow);
	rc = call(h, m, hits);
	free(m);
	return rc;
}
