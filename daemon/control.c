/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control.c - the control thread: accepts sessions on the unix socket and
 * answers their requests (vcap_proto.h).
 *
 * A session is one connection.  Its rings live exactly as long as it does:
 * when the peer closes or dies (SIGKILL included, the kernel closes the
 * socket for it) every ring it held is detached and freed.  A message that
 * does not decode gets an error reply and the connection is closed; a
 * well-formed request that cannot be granted gets an error reply and the
 * session goes on.  Nothing a client sends can block this thread: sockets
 * are non-blocking and replies are small.
 */
#include "vcapd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "codec.h"
#include "vcap_shm.h"
#include "vm.h"
#include "policy.h"
#include "wire.h"
#include "unix_carrier.h"

#define SNAPLEN_MAX 262144u

/* One request being answered: what handlers fill in besides the reply. */
struct answer {
	struct vcap_msg reply;
	int fds[2];
	int nfds;
};

static struct vcap_msg req_msg;
static struct answer ans;
static _Alignas(8) uint8_t rx_buf[VCAP_MSG_MAX];
static _Alignas(8) uint8_t tx_buf[VCAP_MSG_MAX];
static _Alignas(8) uint8_t status_scratch[VCAP_MSG_MAX];

static struct session *sessions;

static struct consumer *session_ring(struct session *ss, uint32_t id)
{
	for (struct consumer *c = ss->consumers; c; c = c->next_in_session)
		if (c->id == id)
			return c;
	return NULL;
}

static void unlink_global(struct vcapd *d, struct consumer *c)
{
	for (struct consumer **pp = &d->consumers; *pp; pp = &(*pp)->next_global) {
		if (*pp == c) {
			*pp = c->next_global;
			return;
		}
	}
}

static void free_ring(struct vcapd *d, struct session *ss, struct consumer *c)
{
	for (struct consumer **pp = &ss->consumers; *pp; pp = &(*pp)->next_in_session) {
		if (*pp == c) {
			*pp = c->next_in_session;
			break;
		}
	}
	roster_detach(c);
	/* a consumer still there (a guest after a reset) wakes up to a clear end */
	vcap_ring_writer_set_state(&c->w, VCAP_RING_STATE_DEAD);
	consumer_signal(c);
	unlink_global(d, c);
	c->src->n_consumers--;
	ss->n_rings--;
	if (!ss->vm)
		d->ring_memory -= c->map_size;
	consumer_destroy(c);
}

/* ---- request handlers: each fills ans.reply ------------------------------ */

static void do_hello(struct vcapd *d, struct session *ss, const struct vcap_msg *m)
{
	const struct vcap_msg_hello *h = &m->u.hello;
	struct vcap_msg_hello_reply *r = &ans.reply.u.hello_reply;

	if (h->version_min > VCAP_PROTO_VERSION || h->version_max < VCAP_PROTO_VERSION) {
		vcap_msg_error(&ans.reply, m, -EPROTO,
			       "client speaks protocol versions %u..%u, vcapd speaks %u",
			       h->version_min, h->version_max, VCAP_PROTO_VERSION);
		return;
	}
	ss->hello = true;
	if (ss->vm) /* the guest program, and whose guest it is */
		snprintf(ss->client, sizeof(ss->client), "%s/%s", vm_name(ss->vm), m->name);
	else
		snprintf(ss->client, sizeof(ss->client), "%s", m->name);
	vcap_msg_reply(&ans.reply, m);
	r->version = VCAP_PROTO_VERSION;
	r->daemon_pid = (uint32_t)getpid();
	r->max_rings = policy_max_rings(d, ss);
	r->ring_size_min = d->limits.ring_size_min;
	r->ring_size_max = d->limits.ring_size_max;
	r->filter_max = VCAP_FILTER_MAX;
	if (ss->vm) {
		/* a VM is bounded by its vectors and its region, too */
		if (r->max_rings > vm_max_rings(ss->vm))
			r->max_rings = vm_max_rings(ss->vm);
		if (r->ring_size_max > vm_ring_size_max(ss->vm))
			r->ring_size_max = vm_ring_size_max(ss->vm);
	}
}

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

static void do_open(struct vcapd *d, struct session *ss, const struct vcap_msg *m)
{
	const struct vcap_msg_open *o = &m->u.open;
	struct vcap_msg_open_reply *r = &ans.reply.u.open_reply;
	uint32_t size = o->ring_size ? o->ring_size : d->limits.ring_size_default;
	uint32_t snaplen = o->snaplen ? o->snaplen : 65535;
	struct source *s = source_find(d->sources, m->name);
	struct consumer_req req;
	struct consumer *c;
	char err[VCAP_REASON_MAX];
	int rc;

	if (!s) {
		char names[256];

		source_names(d, ss, names, sizeof(names));
		vcap_msg_error(&ans.reply, m, -ENOENT, "host:%s: no such source (vcapd has: %s)",
			       m->name, names);
		return;
	}
	rc = policy_may_open(d, ss, s, err, sizeof(err));
	if (rc) {
		vcap_msg_error(&ans.reply, m, rc, "%s", err);
		return;
	}
	if (o->flags & ~VCAP_OPENF_ALL) {
		vcap_msg_error(&ans.reply, m, -EINVAL, "unknown open flags 0x%x", o->flags);
		return;
	}
	if (o->cluster_mode > VCAP_CLUSTER_ROUND_ROBIN) {
		vcap_msg_error(&ans.reply, m, -EINVAL, "unknown cluster mode %u", o->cluster_mode);
		return;
	}
	if (!is_pow2(size) || size < d->limits.ring_size_min || size > d->limits.ring_size_max) {
		vcap_msg_error(&ans.reply, m, -EINVAL,
			       "ring size %u is not a power of two within [%u, %u]", size,
			       d->limits.ring_size_min, d->limits.ring_size_max);
		return;
	}
	if (snaplen > SNAPLEN_MAX)
		snaplen = SNAPLEN_MAX;
	if (vcap_rec_size(snaplen) > size / 4)
		snaplen = size / 4 - (uint32_t)sizeof(struct vcap_rec) - VCAP_REC_ALIGN;
	if (ss->n_rings >= policy_max_rings(d, ss)) {
		vcap_msg_error(&ans.reply, m, -EMFILE, "this session already holds %u rings, the limit",
			       ss->n_rings);
		return;
	}
	if (!ss->vm && d->ring_memory + vcap_ring_map_size(size) > d->limits.ring_memory_max) {
		vcap_msg_error(&ans.reply, m, -ENOMEM,
			       "a ring of %u bytes would exceed vcapd's ring memory limit (%llu of "
			       "%llu bytes in use)",
			       size, (unsigned long long)d->ring_memory,
			       (unsigned long long)d->limits.ring_memory_max);
		return;
	}

	req = (struct consumer_req){ .session = ss,
				     .data_size = size,
				     .snaplen = snaplen,
				     .filter = m->text[0] ? m->text : NULL,
				     .policy = policy_filter(ss)[0] ? policy_filter(ss) : NULL,
				     .limits = &d->rules_limits };
	rc = consumer_create(s, ++d->next_ring_id, &req, &c, err, sizeof(err));
	if (rc) {
		vcap_msg_error(&ans.reply, m, rc, "host:%s: %s", m->name, err);
		return;
	}
	atomic_store_explicit(&c->w.r->c.watermark, o->watermark, memory_order_relaxed);
	atomic_store_explicit(&c->w.r->c.timeout_ms, o->timeout_ms, memory_order_relaxed);
	c->want_hash = o->flags & VCAP_OPENF_FLOW_HASH;
	c->cluster_id = o->cluster_id;
	c->cluster_mode = o->cluster_mode;
	c->owner = ss;
	rc = roster_attach(c, err, sizeof(err));
	if (rc) {
		vcap_msg_error(&ans.reply, m, rc, "host:%s: %s", m->name, err);
		consumer_destroy(c);
		return;
	}
	c->next_in_session = ss->consumers;
	ss->consumers = c;
	c->next_global = d->consumers;
	d->consumers = c;
	ss->n_rings++;
	s->n_consumers++;
	if (!ss->vm)
		d->ring_memory += c->map_size; /* a VM's rings live in its own region */

	vcap_msg_reply(&ans.reply, m);
	r->ring_id = c->id;
	r->ring_size = size;
	r->map_size = c->map_size;
	r->snaplen = c->w.snaplen;
	r->linktype = s->linktype;
	if (ss->vm) {
		/* in the VM's region: where, and which doorbell vector wakes it */
		r->region_off = c->region_off;
		r->vector = c->vector;
	} else {
		ans.fds[0] = c->memfd;
		ans.fds[1] = c->wake_rd;
		ans.nfds = 2;
	}
	vlog(LOG_INFO, "ring %u: %s (pid %d%s%s) opened %s, %u bytes%s%s%s", c->id, ss->client,
	     (int)ss->cred.pid, ss->tenant ? ", tenant " : "", ss->tenant ? ss->tenant->name : "",
	     s->name, size, c->filter_text[0] ? ", filter " : "", c->filter_text,
	     c->cluster_id ? ", in a cluster" : "");
}

static void do_close(struct vcapd *d, struct session *ss, const struct vcap_msg *m)
{
	struct consumer *c = session_ring(ss, m->u.close.ring_id);

	if (!c) {
		vcap_msg_error(&ans.reply, m, -ENOENT, "ring %u is not open in this session",
			       m->u.close.ring_id);
		return;
	}
	vlog(LOG_INFO, "ring %u: closed", c->id);
	free_ring(d, ss, c);
	vcap_msg_reply(&ans.reply, m);
}

static void do_set_filter(struct session *ss, const struct vcap_msg *m)
{
	struct consumer *c = session_ring(ss, m->u.set_filter.ring_id);
	struct filter *f;
	char err[VCAP_REASON_MAX];
	int rc;

	if (!c) {
		vcap_msg_error(&ans.reply, m, -ENOENT, "ring %u is not open in this session",
			       m->u.set_filter.ring_id);
		return;
	}
	rc = filter_compile(m->text, c->src->linktype, &f, err, sizeof(err));
	if (rc) {
		vcap_msg_error(&ans.reply, m, rc, "%s", err);
		return;
	}
	filter_free(roster_refilter(c, f));
	snprintf(c->filter_text, sizeof(c->filter_text), "%s", m->text);
	vcap_msg_reply(&ans.reply, m);
}

static void do_stats(struct session *ss, const struct vcap_msg *m)
{
	struct consumer *c = session_ring(ss, m->u.stats.ring_id);
	struct vcap_msg_stats_reply *r = &ans.reply.u.stats_reply;
	struct vcap_ring_counters cnt;

	if (!c) {
		vcap_msg_error(&ans.reply, m, -ENOENT, "ring %u is not open in this session",
			       m->u.stats.ring_id);
		return;
	}
	vcap_ring_stats_read(&c->mirror, &cnt);
	vcap_msg_reply(&ans.reply, m);
	*r = (struct vcap_msg_stats_reply){ .received = cnt.received,
					    .delivered = cnt.delivered,
					    .dropped = cnt.dropped,
					    .filtered = cnt.filtered,
					    .kernel_drops = cnt.kernel_drops };
}

/* The ring a rule or flow request names, or an error reply. */
static struct consumer *ring_of(struct session *ss, const struct vcap_msg *m, uint32_t id)
{
	struct consumer *c = session_ring(ss, id);

	if (!c)
		vcap_msg_error(&ans.reply, m, -ENOENT, "ring %u is not open in this session", id);
	return c;
}

static void do_rules(struct session *ss, const struct vcap_msg *m)
{
	char err[VCAP_REASON_MAX] = "";
	struct vcap_rule rule;
	struct vcap_flow flow;
	struct consumer *c;
	uint64_t count = 0;
	int rc;

	switch (m->type) {
	case VCAP_MSG_RULE_ADD:
		if (!(c = ring_of(ss, m, m->u.rule_add.ring_id)))
			return;
		vcap_rule_from_wire(&m->u.rule_add.rule, &rule);
		rc = roster_rule_add(c, &rule, err, sizeof(err));
		break;
	case VCAP_MSG_RULE_REMOVE:
		if (!(c = ring_of(ss, m, m->u.rule_ref.ring_id)))
			return;
		rc = roster_rule_remove(c, m->u.rule_ref.arg);
		if (rc)
			snprintf(err, sizeof(err), "ring %u has no rule %u", c->id, m->u.rule_ref.arg);
		break;
	case VCAP_MSG_RULE_DEFAULT:
		if (!(c = ring_of(ss, m, m->u.rule_ref.ring_id)))
			return;
		rc = roster_rule_default(c, m->u.rule_ref.arg);
		if (rc)
			snprintf(err, sizeof(err), "default action %u is neither PASS nor DROP",
				 m->u.rule_ref.arg);
		break;
	case VCAP_MSG_RULE_HITS:
		if (!(c = ring_of(ss, m, m->u.rule_ref.ring_id)))
			return;
		rc = roster_rule_hits(c, m->u.rule_ref.arg, &count);
		if (rc)
			snprintf(err, sizeof(err), "ring %u has no rule %u", c->id, m->u.rule_ref.arg);
		break;
	case VCAP_MSG_FLOW_ADD:
		if (!(c = ring_of(ss, m, m->u.flow_add.ring_id)))
			return;
		vcap_flow_from_wire(&m->u.flow_add.flow, &flow);
		rc = roster_flow_add(c, &flow, m->u.flow_add.action, m->u.flow_add.idle_timeout_ms,
				     &count, err, sizeof(err));
		break;
	default: /* VCAP_MSG_FLOW_REMOVE */
		if (!(c = ring_of(ss, m, m->u.flow_remove.ring_id)))
			return;
		vcap_flow_from_wire(&m->u.flow_remove.flow, &flow);
		rc = roster_flow_remove(c, &flow, &count);
		if (rc)
			snprintf(err, sizeof(err), "ring %u has no rule for that flow", c->id);
		break;
	}
	if (rc) {
		vcap_msg_error(&ans.reply, m, rc, "%s", err[0] ? err : strerror(-rc));
		return;
	}
	vcap_msg_reply(&ans.reply, m);
	ans.reply.u.count_reply.count = count;
}

static void dispatch(struct vcapd *d, struct session *ss, const struct vcap_msg *m)
{
	ans.nfds = 0;
	if (m->flags & VCAP_MSGF_REPLY) {
		vcap_msg_error(&ans.reply, m, -EPROTO, "vcapd takes requests, not replies");
		return;
	}
	if (m->app == VCAP_APP_FRAMEWORK && m->type == VCAP_MSG_HELLO) {
		do_hello(d, ss, m);
		return;
	}
	if (!ss->hello) {
		vcap_msg_error(&ans.reply, m, -EPROTO, "%s before HELLO",
			       vcap_msg_name(m->app, m->type));
		return;
	}
	switch (m->type) {
	case VCAP_MSG_OPEN:
		do_open(d, ss, m);
		break;
	case VCAP_MSG_CLOSE:
		do_close(d, ss, m);
		break;
	case VCAP_MSG_SET_FILTER:
		do_set_filter(ss, m);
		break;
	case VCAP_MSG_STATS:
		do_stats(ss, m);
		break;
	case VCAP_MSG_STATUS:
		vcap_msg_reply(&ans.reply, m);
		status_fill(d, ss, m->u.status.first, &ans.reply, status_scratch,
			    sizeof(status_scratch));
		break;
	default:
		do_rules(ss, m);
		break;
	}
}

/* ---- sessions ------------------------------------------------------------ */

/* Send one encoded reply the way the session's requests came. */
static int session_send(struct session *ss, const void *buf, size_t len, const int *fds,
			int nfds)
{
	if (ss->vm)
		return vm_send(ss->vm, buf, len);
	return vcap_unix_send(ss->fd, buf, len, fds, nfds);
}

int session_message(struct vcapd *d, struct session *ss, const void *buf, size_t n)
{
	char why[160];
	ssize_t out;

	if (vcap_msg_decode(buf, n, &req_msg, why, sizeof(why))) {
		/* Malformed: say why (echoing the seq if there was one), then end it. */
		struct vcap_msg_hdr h = { 0 };
		struct vcap_app_hdr a = { 0 };

		if (n >= VCAP_MSG_MIN) {
			memcpy(&h, buf, sizeof(h));
			memcpy(&a, (const uint8_t *)buf + sizeof(h), sizeof(a));
		}
		vcap_msg_init(&req_msg, h.app, a.type);
		req_msg.seq = h.seq;
		vcap_msg_error(&ans.reply, &req_msg, -EBADMSG, "malformed message: %s", why);
		out = vcap_msg_encode(&ans.reply, tx_buf, sizeof(tx_buf));
		if (out > 0)
			session_send(ss, tx_buf, (size_t)out, NULL, 0);
		vlog(LOG_WARNING, "session %s (pid %d): malformed message: %s", ss->client,
		     (int)ss->cred.pid, why);
		return -1;
	}
	dispatch(d, ss, &req_msg);
	out = vcap_msg_encode(&ans.reply, tx_buf, sizeof(tx_buf));
	if (out < 0 || session_send(ss, tx_buf, (size_t)out, ans.fds, ans.nfds))
		return -1;
	if (ans.nfds) {
		/* The consumer holds them now; vcapd keeps its mapping and write end. */
		struct consumer *c = session_ring(ss, ans.reply.u.open_reply.ring_id);

		close(c->memfd);
		close(c->wake_rd);
		c->memfd = c->wake_rd = -1;
	}
	return 0;
}

void session_end(struct vcapd *d, struct session *ss, const char *why)
{
	if (ss->n_rings || why)
		vlog(LOG_INFO, "session %s (pid %d): %s; freeing %u ring(s)", ss->client,
		     (int)ss->cred.pid, why ? why : "closed", ss->n_rings);
	while (ss->consumers)
		free_ring(d, ss, ss->consumers);
	if (!ss->vm) {
		for (struct session **pp = &sessions; *pp; pp = &(*pp)->next) {
			if (*pp == ss) {
				*pp = ss->next;
				break;
			}
		}
		close(ss->fd); /* also removes it from the epoll set */
		d->n_sessions--;
	}
	free(ss);
}

struct session *session_new_vm(struct vcapd *d, struct vm *vm, pid_t qemu_pid)
{
	struct session *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return NULL;
	ss->vm = vm;
	ss->fd = -1;
	ss->cred.pid = qemu_pid;
	ss->cred.uid = (uid_t)-1;
	ss->tenant = vm_tenant(vm);
	snprintf(ss->client, sizeof(ss->client), "vm %s", vm_name(vm));
	(void)d;
	return ss;
}

static void session_accept(struct vcapd *d, int listen_fd, struct tenant *via, int ep)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	socklen_t len = sizeof(struct ucred);
	struct session *ss;
	int fd;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (d->n_sessions >= d->limits.max_sessions) {
			vlog(LOG_WARNING, "refusing a session: %u sessions is the limit",
			     d->limits.max_sessions);
			close(fd);
			continue;
		}
		ss = calloc(1, sizeof(*ss));
		if (!ss) {
			close(fd);
			continue;
		}
		ss->fd = fd;
		ss->tag = (struct ep_tag){ TAG_SESSION, ss };
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &ss->cred, &len);
		snprintf(ss->client, sizeof(ss->client), "pid %d", (int)ss->cred.pid);
		policy_classify(d, ss, via);
		ev.data.ptr = &ss->tag;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(ss);
			continue;
		}
		ss->next = sessions;
		sessions = ss;
		d->n_sessions++;
	}
}

static void session_readable(struct vcapd *d, struct session *ss)
{
	ssize_t n = vcap_unix_recv(ss->fd, rx_buf, sizeof(rx_buf), NULL, NULL);

	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		session_end(d, ss, n == 0 ? NULL : "receive failed (or unasked-for descriptors)");
		return;
	}
	if (session_message(d, ss, rx_buf, (size_t)n))
		session_end(d, ss, "malformed message or failed reply");
}

int control_run(struct vcapd *d, int listen_fd)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];
	static struct ep_tag listen_tag = { TAG_LISTEN, NULL }, signal_tag = { TAG_SIGNAL, NULL };
	sigset_t mask;
	int ep, sfd, rc = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0)
		return -errno;
	ev.data.ptr = &listen_tag;
	epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
	ev.data.ptr = &signal_tag;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	for (struct tenant *t = d->tenants; t; t = t->next) {
		if (t->listen_fd < 0)
			continue;
		t->tag = (struct ep_tag){ TAG_TENANT, t };
		ev.data.ptr = &t->tag;
		epoll_ctl(ep, EPOLL_CTL_ADD, t->listen_fd, &ev);
	}
	for (struct vm *vm = d->vms; vm; vm = vm_next(vm))
		vm_watch(vm, ep);

	for (uint64_t beat = mono_ns();;) {
		int n = epoll_wait(ep, evs, 64, d->vms ? (int)VCAP_SHM_HEARTBEAT_MS : -1);

		if (d->vms && mono_ns() - beat >= VCAP_SHM_HEARTBEAT_MS * 1000000ull) {
			for (struct vm *vm = d->vms; vm; vm = vm_next(vm))
				vm_heartbeat(vm);
			beat = mono_ns();
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		for (int i = 0; i < n; i++) {
			struct ep_tag *tag = evs[i].data.ptr;

			switch (tag->kind) {
			case TAG_SIGNAL:
				goto out;
			case TAG_LISTEN:
				session_accept(d, listen_fd, NULL, ep);
				break;
			case TAG_TENANT:
				session_accept(d, ((struct tenant *)tag->ptr)->listen_fd, tag->ptr, ep);
				break;
			case TAG_VM_SERVER:
				vm_server_event(d, tag->ptr);
				break;
			case TAG_VM_DOORBELL:
				vm_doorbell(d, tag->ptr);
				break;
			case TAG_SESSION:
				/*
				 * Read before looking at HUP: a client may send its
				 * last request and exit; it still gets handled.
				 */
				if (evs[i].events & EPOLLIN)
					session_readable(d, tag->ptr);
				else
					session_end(d, tag->ptr, NULL);
				break;
			}
		}
	}
out:
	while (sessions)
		session_end(d, sessions, NULL);
	for (struct vm *vm = d->vms; vm; vm = vm_next(vm))
		vm_disconnect(d, vm, NULL);
	close(sfd);
	close(ep);
	return rc;
}
