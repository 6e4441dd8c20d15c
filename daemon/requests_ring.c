/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * requests_ring.c - the requests that make, refilter and free a ring:
 * OPEN, SET_FILTER and CLOSE (see requests.h).
 *
 * Each may take long (a filter's compile, a large ring's pages made or
 * given back), so each is answered later, off the control thread
 * (jobs.h): the session waits, everyone else is served.
 */
#include "requests.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "bpfc.h"
#include "capture.h"
#include "consumer.h"
#include "filter.h"
#include "jobs.h"
#include "policy.h"
#include "session.h"
#include "source.h"
#include "util.h"
#include "vcapd.h"

#define SNAPLEN_MAX 262144u

/* "synth, eth0" for error messages: the sources the session may open. */
static void source_names(struct vcapd *d, struct session *ss, char *buf, size_t len)
{
	char why[8];
	size_t off = 0;

	buf[0] = '\0';
	for (struct source *s = d->sources; s && off < len; s = s->next)
		if (!policy_may_open(d, ss, s, why, sizeof(why)))
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
						s->name);
	if (!off)
		snprintf(buf, len, "none you may open");
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/*
 * As tcpdump's, a filter like "tcp" reads frames as untagged and so misses
 * VLAN-tagged ones (vcap.h says so at vcap_open_opts.filter).  Say so in
 * the log where it bites: the source has been seen carrying tags, and the
 * filter reads past the MAC addresses without saying "vlan".  Filters on
 * sources without tags, or that handle them, get no word.
 */
static void vlan_hint(struct session *ss, struct source *s, const struct filter *f,
		      const char *text)
{
	if (!atomic_load_explicit(&s->seen_vlan, memory_order_relaxed) ||
	    !filter_misses_vlan(f, text))
		return;
	vlog(LOG_NOTICE,
	     "%s (pid %d) on %s: filter \"%s\" matches untagged frames only, but %s carries "
	     "VLAN-tagged frames; \"(%s) or (vlan and (%s))\" would match both",
	     ss->client, (int)ss->cred.pid, s->name, text, s->name, text, text);
}

/*
 * OPEN and SET_FILTER are answered off the control thread (jobs.h): their
 * filters are compiled in a child process with a budget (bpfc.h) and an
 * OPEN's ring is populated, which for a large ring takes a while.  The
 * session waits; everyone else is served.  A req_job carries a copy of
 * all it needs, since the request core's buffers serve the next request
 * meanwhile.
 */
struct req_job {
	struct job job;
	struct session *ss;      /* NULL once the session ended: clean up, answer nobody */
	struct vcapd *d;
	struct vcap_msg req;     /* a copy: seq, type, source name, filter text */
	struct consumer *c;      /* OPEN: placed, not attached; SET_FILTER: the ring */
	uint32_t linktype;
	struct bpfc_limits lim;
	char policy[VCAP_FILTER_MAX + 1]; /* OPEN: the tenant's mandatory filter */
	struct filter *policy_f, *filter_f;
	uint64_t reserved;       /* ring bytes in d->ring_memory_opening */
	int rc;
	char err[VCAP_REASON_MAX];
	struct account *acct;    /* charged one job (account_job_started), or NULL */
	struct req_job *next_parked; /* a request waiting its turn (park) */
};

/*
 * Requests waiting their turn: an OPEN for ring memory being given back,
 * an OPEN or SET_FILTER for its account's jobs.  All are retried, oldest
 * first, whenever a job ends or pages come back (requests_retry).
 */
static struct req_job *parked, **parked_tail = &parked;

static void req_run(struct job *j)
{
	struct req_job *r = (struct req_job *)j;

	if (r->req.type == VCAP_MSG_OPEN)
		r->rc = bpfc_compile(r->policy, r->linktype, &r->lim, j, &r->policy_f, r->err,
				     sizeof(r->err));
	if (!r->rc)
		r->rc = bpfc_compile(r->req.text, r->linktype, &r->lim, j, &r->filter_f, r->err,
				     sizeof(r->err));
	if (!r->rc && r->req.type == VCAP_MSG_OPEN)
		r->rc = consumer_populate(r->c, j, r->err, sizeof(r->err));
}

static int finish_open(struct req_job *r, struct vcap_msg *reply, int *fds);
static void finish_set_filter(struct req_job *r, struct vcap_msg *reply);

static void req_done(struct job *j)
{
	static struct vcap_msg reply; /* the control thread's, one at a time */
	struct req_job *r = (struct req_job *)j;
	int fds[VCAP_SERVE_MAX_FDS], nfds = 0;

	r->d->ring_memory_opening -= r->reserved;
	account_job_done(r->d, r->acct);
	if (!r->ss) {
		filter_free(r->policy_f);
		filter_free(r->filter_f);
		if (r->req.type == VCAP_MSG_OPEN)
			consumer_destroy(r->c);
		free(r);
		requests_retry();
		return;
	}
	if (r->req.type == VCAP_MSG_OPEN)
		nfds = finish_open(r, &reply, fds);
	else
		finish_set_filter(r, &reply);
	session_answer(r->ss, &reply, fds, nfds);
	free(r);
	requests_retry();
}

/* @return VCAP_SERVE_LATER, or 0 with an error in reply. */
static int start_job(struct session *ss, struct req_job *r, struct vcap_msg *reply)
{
	r->job.run = req_run;
	r->job.done = req_done;
	r->ss = ss;
	r->d = ss->d;
	r->lim = (struct bpfc_limits){ .budget_ms = ss->d->limits.filter_compile_ms,
				       .max_insns = ss->d->limits.filter_insns };
	r->d->ring_memory_opening += r->reserved;
	if (job_start(&r->job)) {
		r->d->ring_memory_opening -= r->reserved;
		vcap_msg_error(reply, &r->req, -EAGAIN, "vcapd cannot start a thread now; try again");
		return 0;
	}
	r->acct = ss->acct;
	account_job_started(r->acct);
	ss->busy = r;
	return VCAP_SERVE_LATER;
}

void requests_abandon(struct session *ss)
{
	struct req_job *r = ss->busy;

	r->ss = NULL;
	job_cancel(&r->job);
	ss->busy = NULL;
}

/*
 * Wait for a turn rather than fail: a ring closed a moment ago (its
 * program exited, or closed and opens again) is still counted while its
 * pages are given back, and an OPEN that only those stand in the way of
 * waits for them; a request past its account's jobs limit waits for one
 * of them to end.  @return VCAP_SERVE_LATER, or 0 with an error in reply.
 */
static int park(struct session *ss, const struct vcap_msg *m, struct vcap_msg *reply)
{
	struct req_job *r = calloc(1, sizeof(*r));

	if (!r) {
		vcap_msg_error(reply, m, -ENOMEM, "vcapd is out of memory");
		return 0;
	}
	r->req = *m;
	r->ss = ss;
	r->d = ss->d;
	*parked_tail = r;
	parked_tail = &r->next_parked;
	ss->busy = r;
	return VCAP_SERVE_LATER;
}


void requests_retry(void)
{
	static struct vcap_msg reply;
	struct req_job *list = parked;

	parked = NULL;
	parked_tail = &parked;
	while (list) {
		struct req_job *r = list;
		struct session *ss = r->ss;
		uint32_t id;
		int rc;

		list = r->next_parked;
		if (ss) { /* else it ended while it waited */
			ss->busy = NULL;
			if (r->req.type == VCAP_MSG_OPEN)
				rc = requests_open(ss, &r->req, &reply);
			else if (vcap_msg_ring_id(&r->req, &id) && session_ring(ss, id))
				rc = requests_set_filter(ss, session_ring(ss, id), &r->req, &reply);
			else { /* cannot happen: its session waits, so its ring is there */
				vcap_msg_error(&reply, &r->req, -ENOENT, "the ring is gone");
				rc = 0;
			}
			if (rc != VCAP_SERVE_LATER)
				session_answer(ss, &reply, NULL, 0);
		}
		free(r);
	}
}

int requests_open(struct session *ss, const struct vcap_msg *m, struct vcap_msg *reply)
{
	struct vcapd *d = ss->d;
	const struct vcap_msg_open *o = &m->u.open;
	uint32_t size = o->ring_size ? o->ring_size : d->limits.ring_size_default;
	uint32_t snaplen = o->snaplen ? o->snaplen : 65535;
	struct source *s = source_find(d->sources, m->name);
	uint64_t bytes = vcap_ring_map_size(size);
	struct consumer_req req;
	struct req_job *r;
	char err[VCAP_REASON_MAX];
	int rc;

	if (!account_may_start_job(ss->acct))
		return park(ss, m, reply);
	if (!s) {
		char names[256];

		source_names(d, ss, names, sizeof(names));
		vcap_msg_error(reply, m, -ENOENT, "host:%s: no such source (vcapd has: %s)",
			       m->name, names);
		return 0;
	}
	rc = policy_may_open(d, ss, s, err, sizeof(err));
	if (rc) {
		vcap_msg_error(reply, m, rc, "%s", err);
		return 0;
	}
	if (o->flags & ~VCAP_OPENF_ALL) {
		vcap_msg_error(reply, m, -EINVAL, "unknown open flags 0x%x", o->flags);
		return 0;
	}
	if (o->cluster_mode > VCAP_CLUSTER_ROUND_ROBIN) {
		vcap_msg_error(reply, m, -EINVAL, "unknown cluster mode %u", o->cluster_mode);
		return 0;
	}
	if (!is_pow2(size) || size < d->limits.ring_size_min || size > d->limits.ring_size_max) {
		vcap_msg_error(reply, m, -EINVAL,
			       "ring size %u is not a power of two within [%u, %u]", size,
			       d->limits.ring_size_min, d->limits.ring_size_max);
		return 0;
	}
	/*
	 * A file replayed to its end or a generator that sent its count never
	 * starts again: say so now, not with the first receive, and before a
	 * ring is made for nothing (roster_attach checks again, without a race).
	 */
	if (atomic_load(&s->state) == VCAP_SOURCE_DONE) {
		source_ended_why(s, err, sizeof(err));
		vcap_msg_error(reply, m, -ENODATA, "host:%s: %s", m->name, err);
		return 0;
	}
	if (snaplen > SNAPLEN_MAX)
		snaplen = SNAPLEN_MAX;
	if (vcap_rec_size(snaplen) > size / 4)
		snaplen = size / 4 - (uint32_t)sizeof(struct vcap_rec) - VCAP_REC_ALIGN;
	if (ss->n_rings >= d->limits.max_rings) {
		vcap_msg_error(reply, m, -EMFILE, "this session already holds %u rings, the limit",
			       ss->n_rings);
		return 0;
	}
	/* rings being opened count too: their pages are being populated now */
	if (ss->ops->charges_ring_memory &&
	    d->ring_memory + d->ring_memory_opening + bytes > d->limits.ring_memory_max) {
		if (d->ring_memory - d->ring_memory_releasing + d->ring_memory_opening + bytes <=
		    d->limits.ring_memory_max)
			return park(ss, m, reply);
		vcap_msg_error(reply, m, -ENOMEM,
			       "a ring of %u bytes would exceed vcapd's ring memory limit (%llu of "
			       "%llu bytes in use)",
			       size, (unsigned long long)(d->ring_memory + d->ring_memory_opening),
			       (unsigned long long)d->limits.ring_memory_max);
		return 0;
	}
	/* the account's share; a VM's rings live in its own region, not host memory */
	rc = account_check_ring(ss->acct,
				ss->ops->charges_ring_memory ? vcap_ring_map_size(size) : 0, err,
				sizeof(err));
	if (rc) {
		vcap_msg_error(reply, m, rc, "host:%s: %s", m->name, err);
		return 0;
	}

	r = calloc(1, sizeof(*r));
	if (!r) {
		vcap_msg_error(reply, m, -ENOMEM, "vcapd is out of memory");
		return 0;
	}
	r->req = *m;
	r->linktype = s->linktype;
	snprintf(r->policy, sizeof(r->policy), "%s", policy_filter(ss));
	req = (struct consumer_req){ .session = ss,
				     .data_size = size,
				     .snaplen = snaplen,
				     .limits = &d->rules_limits };
	rc = consumer_create(s, ++d->next_ring_id, &req, &r->c, err, sizeof(err));
	if (rc) {
		vcap_msg_error(reply, m, rc, "host:%s: %s", m->name, err);
		free(r);
		return 0;
	}
	r->reserved = ss->ops->charges_ring_memory ? r->c->place.map_size : 0;
	rc = start_job(ss, r, reply);
	if (rc != VCAP_SERVE_LATER) {
		consumer_destroy(r->c);
		free(r);
	}
	return rc;
}

/* The OPEN's filters are compiled and its ring populated: attach it and answer. */
static int finish_open(struct req_job *r, struct vcap_msg *reply, int *fds)
{
	struct session *ss = r->ss;
	struct vcapd *d = ss->d;
	const struct vcap_msg *m = &r->req;
	const struct vcap_msg_open *o = &m->u.open;
	struct vcap_msg_open_reply *rr = &reply->u.open_reply;
	struct consumer *c = r->c;
	struct source *s = c->src;
	char err[VCAP_REASON_MAX];
	int rc = r->rc;

	c->policy = r->policy_f;
	c->filter = r->filter_f;
	snprintf(c->policy_text, sizeof(c->policy_text), "%s", r->policy);
	snprintf(c->filter_text, sizeof(c->filter_text), "%s", m->text);
	if (!rc && s->retired) {
		rc = -ENOENT;
		snprintf(r->err, sizeof(r->err), "a configuration reload removed the source");
	}
	if (rc) {
		vcap_msg_error(reply, m, rc, "host:%s: %s", m->name, r->err);
		consumer_destroy(c);
		return 0;
	}
	vcap_ring_writer_set_wake(&c->w, o->watermark, o->timeout_ms);
	c->want_hash = o->flags & VCAP_OPENF_FLOW_HASH;
	c->want_meta = o->flags & VCAP_OPENF_META;
	if (c->want_meta && vcap_ring_writer_set_meta(&c->w)) {
		vcap_msg_error(reply, m, -EINVAL,
			       "host:%s: a snaplen of %u leaves no room for records meta in a "
			       "ring of %u bytes: ask for a larger ring or a smaller snaplen",
			       m->name, vcap_ring_writer_snaplen(&c->w), c->w.size);
		consumer_destroy(c);
		return 0;
	}
	rc = account_check_filter(d, ss->acct, c->filter, NULL, err, sizeof(err));
	if (rc) {
		vcap_msg_error(reply, m, rc, "host:%s: %s", m->name, err);
		consumer_destroy(c);
		return 0;
	}
	c->cluster_id = o->cluster_id;
	c->cluster_mode = o->cluster_mode;
	c->cost_budget_ns = policy_cost_budget(d, ss, &c->cost_key);
	rc = roster_attach(c, err, sizeof(err));
	if (rc) {
		vcap_msg_error(reply, m, rc, "host:%s: %s", m->name, err);
		consumer_destroy(c);
		return 0;
	}
	session_add_ring(ss, c);

	vcap_msg_reply(reply, m);
	rr->ring_id = c->id;
	rr->ring_size = c->w.size;
	rr->map_size = c->place.map_size;
	rr->snaplen = vcap_ring_writer_snaplen(&c->w);
	rr->linktype = s->linktype;
	rr->region_off = c->place.region_off;
	rr->vector = c->place.vector;
	/* what was granted: every flag vcapd knows (unknown ones were refused above) */
	rr->flags = (c->want_hash ? VCAP_OPENF_FLOW_HASH : 0) | (c->want_meta ? VCAP_OPENF_META : 0);
	rr->rule_max = d->rules_limits.max_rules;
	rr->flow_max = d->rules_limits.max_flows;
	memcpy(fds, c->place.give, (size_t)c->place.n_give * sizeof(*fds));
	vlog(LOG_INFO, "ring %u: %s (pid %d%s%s) opened %s, %u bytes%s%s%s", c->id, ss->client,
	     (int)ss->cred.pid, ss->tenant ? ", tenant " : "", ss->tenant ? ss->tenant->name : "",
	     s->name, c->w.size, c->filter_text[0] ? ", filter " : "", c->filter_text,
	     c->cluster_id ? ", in a cluster" : "");
	vlan_hint(ss, s, c->filter, c->filter_text);
	return c->place.n_give;
}

/*
 * CLOSE is answered once the ring's pages are given back (off the control
 * thread), so that a program that closes and opens again finds its memory
 * free, and so that what it kept of the ring (its memfd) is already empty.
 */
static void closed(void *arg)
{
	static struct vcap_msg reply;
	struct req_job *r = arg;

	if (r->ss) {
		vcap_msg_reply(&reply, &r->req);
		session_answer(r->ss, &reply, NULL, 0);
	}
	free(r);
	requests_retry();
}

int requests_close(struct session *ss, struct consumer *c, const struct vcap_msg *m,
		   struct vcap_msg *reply)
{
	struct req_job *r = calloc(1, sizeof(*r));

	vlog(LOG_INFO, "ring %u: closed", c->id);
	if (r) {
		r->req = *m;
		r->ss = ss;
		r->d = ss->d;
		ss->busy = r; /* requests_abandon() if the session ends first */
	}
	if (session_close_ring(ss, c, r ? closed : NULL, r))
		return VCAP_SERVE_LATER;
	ss->busy = NULL;
	free(r);
	vcap_msg_reply(reply, m);
	return 0;
}

int requests_set_filter(struct session *ss, struct consumer *c, const struct vcap_msg *m,
			struct vcap_msg *reply)
{
	struct req_job *r;

	if (!account_may_start_job(ss->acct))
		return park(ss, m, reply);
	r = calloc(1, sizeof(*r));

	if (!r) {
		vcap_msg_error(reply, m, -ENOMEM, "vcapd is out of memory");
		return 0;
	}
	r->req = *m;
	r->c = c;
	r->linktype = c->src->linktype;
	if (start_job(ss, r, reply) != VCAP_SERVE_LATER) {
		free(r);
		return 0;
	}
	return VCAP_SERVE_LATER;
}

static void finish_set_filter(struct req_job *r, struct vcap_msg *reply)
{
	struct consumer *c = r->c;

	if (!r->rc)
		r->rc = account_check_filter(r->d, r->ss->acct, r->filter_f, c, r->err,
					     sizeof(r->err));
	if (r->rc) {
		filter_free(r->filter_f);
		vcap_msg_error(reply, &r->req, r->rc, "%s", r->err);
		return;
	}
	vlan_hint(r->ss, c->src, r->filter_f, r->req.text);
	filter_free(roster_refilter(c, r->filter_f));
	snprintf(c->filter_text, sizeof(c->filter_text), "%s", r->req.text);
	vcap_msg_reply(reply, &r->req);
}
