/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * status.c - the STATUS reply: every source and every ring with its
 * counters, what vcapctl prints (PF_RING shows the same under
 * /proc/net/pf_ring).  Counters come from the private mirrors, never from
 * memory a consumer can write.
 */
#include "status.h"

#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "policy.h"
#include "consumer.h"
#include "session.h"
#include "source.h"
#include "vcapd.h"

/* Copy src into a fixed NUL-padded field; a full field has no NUL. */
static void pad_copy(char *dst, size_t size, const char *src)
{
	size_t len = strnlen(src, size);

	memcpy(dst, src, len);
	memset(dst + len, 0, size - len);
}

/*
 * The kernel's filter is every consumer's filter and policy, so it is the
 * admin's to see only: a tenant's status would learn other tenants' filters.
 */
static void fill_source(struct vcap_status_source *e, struct source *s, bool admin)
{
	memset(e, 0, sizeof(*e));
	pad_copy(e->name, sizeof(e->name), s->name);
	pad_copy(e->spec, sizeof(e->spec), s->spec);
	e->state = atomic_load(&s->state);
	e->n_rings = s->n_consumers;
	e->linktype = s->linktype;
	e->ifindex = s->ifindex;
	e->mtu = atomic_load(&s->mtu);
	e->received = atomic_load(&s->received);
	e->kernel_drops = atomic_load(&s->kernel_drops);
	pthread_mutex_lock(&s->lock);
	snprintf(e->error, sizeof(e->error), "%s", s->error);
	if (admin)
		pad_copy(e->kernel_filter, sizeof(e->kernel_filter), s->kernel_filter_shown);
	e->kernel_drop_all = s->kernel_drop_all_shown;
	pthread_mutex_unlock(&s->lock);
}

static void fill_ring(struct vcap_status_ring *e, struct consumer *c)
{
	struct vcap_ring_counters cnt;
	size_t len = strlen(c->filter_text);

	memset(e, 0, sizeof(*e));
	vcap_ring_stats_read(&c->mirror, &cnt);
	e->ring_id = c->id;
	e->pid = c->owner ? (uint32_t)c->owner->cred.pid : 0;
	e->uid = c->owner ? (uint32_t)c->owner->cred.uid : 0;
	e->ring_size = vcap_ring_writer_size(&c->w);
	e->used = vcap_ring_writer_used(&c->w);
	pad_copy(e->source, sizeof(e->source), c->src->name);
	if (c->owner)
		pad_copy(e->client, sizeof(e->client), c->owner->client);
	if (len < sizeof(e->filter))
		memcpy(e->filter, c->filter_text, len);
	else
		snprintf(e->filter, sizeof(e->filter), "%.*s...", (int)sizeof(e->filter) - 4,
			 c->filter_text);
	e->received = cnt.received;
	e->delivered = cnt.delivered;
	e->dropped = cnt.dropped;
	e->filtered = cnt.filtered;
	e->shunted = cnt.shunted;
	e->cluster_id = c->cluster_id;
	e->cluster_mode = c->cluster_mode;
	e->rules = atomic_load_explicit(&c->rule_count, memory_order_relaxed);
	e->flows = atomic_load_explicit(&c->flow_count, memory_order_relaxed);
	e->filter_ns = atomic_load_explicit(&c->filter_ns, memory_order_relaxed);
	e->over_budget = atomic_load_explicit(&c->over_budget, memory_order_relaxed);
	pad_copy(e->policy, sizeof(e->policy), c->policy_text);
	if (c->owner && c->owner->tenant)
		pad_copy(e->tenant, sizeof(e->tenant), c->owner->tenant->name);
}

void status_fill(struct session *ss, uint32_t first, struct vcap_msg *reply, void *scratch,
		 size_t scratch_len)
{
	struct vcapd *d = ss->d;
	size_t room = VCAP_MSG_MAX - VCAP_MSG_MIN - sizeof(struct vcap_msg_status_reply);
	struct vcap_status_source *srcs = scratch;
	struct vcap_msg_status_reply *r = &reply->u.status_reply;
	uint32_t idx = 0, ns = 0, nr = 0;
	struct vcap_status_ring *rings;
	size_t used = 0;

	if (room > scratch_len)
		room = scratch_len;
	memset(r, 0, sizeof(*r));
	for (struct source *s = d->sources; s; s = s->next, idx++) {
		char why[8];

		if (idx < first || policy_may_open(d, ss, s, why, sizeof(why)))
			continue;
		if (used + sizeof(*srcs) > room) {
			r->next = idx;
			goto done;
		}
		fill_source(&srcs[ns++], s, policy_sees_all(ss));
		used += sizeof(*srcs);
	}
	rings = (struct vcap_status_ring *)(srcs + ns);
	for (struct consumer *c = d->consumers; c; c = c->next_global, idx++) {
		/* a tenant sees its own rings only */
		if (idx < first || (!policy_sees_all(ss) && c->owner != ss))
			continue;
		if (used + sizeof(*rings) > room) {
			r->next = idx;
			goto done;
		}
		fill_ring(&rings[nr++], c);
		used += sizeof(*rings);
	}
done:
	r->n_sources = ns;
	r->n_rings = nr;
	reply->sources = srcs;
	reply->rings = (struct vcap_status_ring *)(srcs + ns);
}
