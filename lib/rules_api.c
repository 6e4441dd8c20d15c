/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rules_api.c - wildcard and flow rules of host: handles: each call is one
 * request to vcapd, answered once the capture thread applies it.
 */
#include "internal.h"

#include <errno.h>
#include <stdbool.h>
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
	if (h->ops == &ring_ops)
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
	m->u.rule_ref.ring_id = vcap_ring_id(h);
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
	m->u.rule_add.ring_id = vcap_ring_id(h);
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
	m->u.flow_add.ring_id = vcap_ring_id(h);
	m->u.flow_add.action = action;
	m->u.flow_add.idle_timeout_ms = idle_timeout_ms;
	vcap_flow_to_wire(f, &m->u.flow_add.flow);
	rc = call(h, m, applied_at);
	free(m);
	return rc;
}

/* FLOW_REMOVE and FLOW_HITS: one request naming a flow, answered with a count. */
static int flow_ref(struct vcap *h, uint16_t type, const struct vcap_flow *f, uint64_t *count,
		    const char *what)
{
	struct vcap_msg *m;
	int rc = need_ctl(h, what);

	if (rc)
		return rc;
	if (!(m = request(h, type)))
		return -ENOMEM;
	m->u.flow_remove.ring_id = vcap_ring_id(h);
	vcap_flow_to_wire(f, &m->u.flow_remove.flow);
	rc = call(h, m, count);
	free(m);
	return rc;
}

VCAP_API int vcap_flow_remove(struct vcap *h, const struct vcap_flow *f, uint64_t *hits)
{
	return flow_ref(h, VCAP_MSG_FLOW_REMOVE, f, hits, "vcap_flow_remove");
}

VCAP_API int vcap_flow_hits(struct vcap *h, const struct vcap_flow *f, uint64_t *hits)
{
	if (!hits)
		return vcap_set_err(-EINVAL, "%s: vcap_flow_hits: no hits given", h->device);
	return flow_ref(h, VCAP_MSG_FLOW_HITS, f, hits, "vcap_flow_hits");
}

/* The bytes of the first struct vcap_flow_stat (vcap 0.2). */
#define FLOW_STAT_SIZE_0_2 VCAP_OFFSETOFEND(struct vcap_flow_stat, idle_ms)

/* Where a FLOW_LIST page goes: the caller's array, from index *filled on, room for n. */
struct page_dest {
	struct vcap_flow_stat *out;
	unsigned n;
	size_t sz;
	unsigned *filled;
	uint64_t cursor;
	uint32_t max;
	bool bad; /* the reply breaks the request's bounds */
};

/*
 * Copy a page's entries out while the channel is ours: they point into
 * its buffer, which the next request (any thread's) overwrites.
 */
static void take_page(const struct vcap_msg *reply, void *arg)
{
	const struct vcap_msg_flow_list_reply *r = &reply->u.flow_list_reply;
	struct page_dest *d = arg;

	/* more than asked, or a cursor that does not move (it would list forever) */
	if (r->count > d->max || (d->max && r->next && r->next == d->cursor)) {
		d->bad = true;
		return;
	}
	for (uint32_t i = 0; i < r->count && *d->filled < d->n; i++, (*d->filled)++) {
		struct vcap_flow_stat mine;

		vcap_flow_stat_from_wire(&reply->flows[i], &mine);
		vcap_fill_out((char *)d->out + (size_t)*d->filled * d->sz, d->sz, &mine,
			      sizeof(mine));
	}
}

/*
 * One FLOW_LIST page from cursor, at most max entries; its entries go to
 * out from index *filled on, while there is room for n.
 */
static int list_page(struct vcap *h, struct vcap_msg *req, struct vcap_msg *reply,
		     uint64_t cursor, uint32_t max, struct vcap_flow_stat *out, unsigned n,
		     size_t sz, unsigned *filled)
{
	const struct vcap_msg_flow_list_reply *r = &reply->u.flow_list_reply;
	struct page_dest d = { .out = out, .n = n, .sz = sz, .filled = filled,
			       .cursor = cursor, .max = max };
	int rc;

	vcap_msg_init(req, VCAP_APP_CAPTURE, VCAP_MSG_FLOW_LIST);
	req->u.flow_list = (struct vcap_msg_flow_list){ .ring_id = vcap_ring_id(h),
							.max = max,
							.cursor = cursor };
	rc = vcap_ctl_call_take(h, req, reply, take_page, &d);
	if (rc)
		return rc;
	if (d.bad)
		return vcap_set_err(-EPROTO,
				    "%s: vcapd's flow listing sent %u rules for %u asked, next %llu",
				    h->device, r->count, max, (unsigned long long)r->next);
	return 0;
}

VCAP_API int vcap_flow_list(struct vcap *h, struct vcap_flow_stat *out, unsigned n, size_t sz)
{
	struct vcap_msg *req, *reply;
	unsigned filled = 0;
	uint64_t cursor = 0;
	int rc = need_ctl(h, "vcap_flow_list");

	if (rc)
		return rc;
	if (sz < FLOW_STAT_SIZE_0_2)
		return vcap_set_err(-EINVAL,
				    "%s: struct vcap_flow_stat of %zu bytes, the first version had "
				    "%zu: pass sizeof(struct vcap_flow_stat)",
				    h->device, sz, (size_t)FLOW_STAT_SIZE_0_2);
	if (!out && n)
		return vcap_set_err(-EINVAL, "%s: vcap_flow_list: room for %u given, but no array",
				    h->device, n);
	req = request(h, VCAP_MSG_FLOW_LIST);
	reply = malloc(sizeof(*reply));
	if (!req || !reply) {
		rc = vcap_set_err(-ENOMEM, "%s: out of memory", h->device);
		goto out;
	}
	/*
	 * Page after page until the room is filled or the walk ends.  A page
	 * may come back empty (vcapd bounds the buckets one page visits), but
	 * the cursor always moves on.
	 */
	for (;;) {
		unsigned want = n - filled;
		uint32_t max = want < VCAP_FLOW_LIST_MAX ? want : VCAP_FLOW_LIST_MAX;
		const struct vcap_msg_flow_list_reply *r = &reply->u.flow_list_reply;

		rc = list_page(h, req, reply, cursor, max, out, n, sz, &filled);
		if (rc)
			goto out;
		if (!n) {
			rc = (int)r->total; /* only the count was asked for */
			break;
		}
		if (filled == n) {
			/* more may follow: say how many there are, at least what was filled */
			rc = (int)(r->total > filled ? r->total : filled);
			break;
		}
		if (!r->next) {
			rc = (int)filled; /* the whole table: what it holds, as listed */
			break;
		}
		cursor = r->next;
	}
out:
	free(req);
	free(reply);
	return rc;
}
