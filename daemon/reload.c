/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reload.c - apply a changed configuration file to a running vcapd (see
 * reload.h for what changes and what stays).
 *
 * Runs on the control thread, like every request: nothing else changes
 * sources, tenants or VMs meanwhile.  What a reload removes may still be
 * named by work under way (a ring being opened on a job thread names its
 * source, a session ending later in this loop round names its tenant, a
 * ring being given back names its VM's region), so removed objects are
 * retired, not freed: reload_sweep() frees them once nothing does.
 */
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"
#include "notify.h"
#include "consumer.h"
#include "policy.h"
#include "session.h"
#include "session_unix.h"
#include "source.h"
#include "util.h"
#include "vcapd.h"
#include "vm.h"

/* ---- parsing the new file into a vcapd of its own ----------------------- */

static void discard(struct vcapd *nd)
{
	struct source *s;

	while ((s = nd->sources)) {
		nd->sources = s->next;
		source_destroy(s);
	}
	while (nd->vms) {
		struct vm *vm = nd->vms;

		nd->vms = vm_next(vm);
		vm_destroy(vm);
	}
	for (struct tenant *t = nd->tenants; t; t = t->next)
		if (t->listen_fd >= 0) {
			close(t->listen_fd);
			unlink(t->socket);
		}
	config_free(nd);
}

/*
 * What the command line gave stays: its sources and VMs must not be
 * defined again by the file, the main socket stays where it is.
 */
static int check_against_running(const struct vcapd *d, struct vcapd *nd, char *err,
				 size_t err_len)
{
	const char *sock = nd->socket_path ? nd->socket_path : VCAP_DEFAULT_SOCKET;

	for (struct source *s = d->sources; s; s = s->next)
		if (!s->from_config && source_find(nd->sources, s->name)) {
			snprintf(err, err_len, "%s: source %s is given on the command line already",
				 d->config_path, s->name);
			return -EINVAL;
		}
	for (struct vm *vm = d->vms; vm; vm = vm_next(vm))
		if (!vm_from_config(vm) && vm_find(nd->vms, vm_name(vm))) {
			snprintf(err, err_len, "%s: vm %s is given on the command line already",
				 d->config_path, vm_name(vm));
			return -EINVAL;
		}
	if (!d->cmdline_socket && strcmp(sock, d->socket_path)) {
		snprintf(err, err_len, "%s: socket %s: the main socket (%s) cannot move without a "
			 "restart", d->config_path, sock, d->socket_path);
		return -EINVAL;
	}
	for (struct tenant *t = nd->tenants; t; t = t->next) {
		if (t->vm[0] && !vm_find(nd->vms, t->vm) && !vm_find(d->vms, t->vm)) {
			snprintf(err, err_len, "%s:%u: tenant %s: no vm %s", d->config_path,
				 t->lineno, t->name, t->vm);
			return -ENOENT;
		}
	}
	return 0;
}

/* A tenant's identity and policy: what its sessions were admitted under. */
static bool same_policy(const struct tenant *a, const struct tenant *b)
{
	if (a->uid != b->uid || strcmp(a->socket, b->socket) || strcmp(a->vm, b->vm) ||
	    strcmp(a->filter, b->filter) || a->n_allow != b->n_allow)
		return false;
	for (unsigned i = 0; i < a->n_allow; i++)
		if (strcmp(a->allow[i], b->allow[i]))
			return false;
	return true;
}

static struct tenant *tenant_find(struct tenant *list, const char *name)
{
	for (; list; list = list->next)
		if (!strcmp(list->name, name))
			return list;
	return NULL;
}

/*
 * Make what can fail before anything changes: the sockets of new tenants
 * (and of tenants whose socket moved).  @return 0 or -errno with err.
 */
static int prepare_tenants(struct vcapd *d, struct vcapd *nd, char *err, size_t err_len)
{
	char why[512];

	for (struct tenant *n = nd->tenants; n; n = n->next) {
		struct tenant *o = tenant_find(d->tenants, n->name);

		if (!n->socket[0] || (o && !strcmp(o->socket, n->socket)))
			continue;
		n->listen_fd = unix_listen(n->socket, &n->socket_perm, why, sizeof(why));
		if (n->listen_fd < 0) {
			int rc = n->listen_fd;

			snprintf(err, err_len, "%s:%u: tenant %s: %s", d->config_path, n->lineno,
				 n->name, why);
			return rc;
		}
	}
	return 0;
}

/* ---- applying it -------------------------------------------------------- */

/*
 * End the rings of a source being removed, its thread stopped: each
 * consumer reads what is left, then a clear end (VCAP_RING_STATE_DEAD).
 * The rings stay the sessions' until they close them, so their memory is
 * not pulled from under a reader; the retired source lives until then.
 */
static unsigned end_rings_of(struct vcapd *d, struct source *s)
{
	unsigned n = 0;

	for (struct consumer *c = d->consumers; c; c = c->next_global) {
		if (c->src != s)
			continue;
		vcap_ring_writer_set_state(&c->w, VCAP_RING_STATE_DEAD);
		consumer_signal(c);
		n++;
	}
	return n;
}

static void apply_sources(struct vcapd *d, struct vcapd *nd, struct vcap_msg_reload_reply *sum)
{
	struct source *keep = NULL, **keep_tail = &keep, *s, *n;

	/* the command line's first, in their order, then the file's, in its order */
	for (struct source **pp = &d->sources; (s = *pp);) {
		if (s->from_config) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		s->next = NULL;
		*keep_tail = s;
		keep_tail = &s->next;
	}
	while ((n = nd->sources)) {
		nd->sources = n->next;
		n->next = NULL;
		s = source_find(d->sources, n->name);
		if (s && !strcmp(s->spec, n->spec)) { /* unchanged: keep it running */
			for (struct source **pp = &d->sources; *pp; pp = &(*pp)->next)
				if (*pp == s) {
					*pp = s->next;
					break;
				}
			s->next = NULL;
			source_destroy(n);
			n = s;
			sum->sources_kept++;
		} else {
			int rc = source_start(n);

			if (rc) {
				vlog(LOG_ERR, "source %s: cannot start its thread: %s", n->name,
				     strerror(-rc));
				source_set_error(n, "no thread");
			}
			vlog(LOG_INFO, "source %s: %s%s", n->name, n->spec, s ? " (changed)" : "");
			sum->sources_added++;
		}
		*keep_tail = n;
		keep_tail = &n->next;
	}
	/* what is left in d->sources was removed or changed */
	while ((s = d->sources)) {
		d->sources = s->next;
		source_stop(s);
		s->retired = true;
		sum->rings_ended += end_rings_of(d, s);
		s->next = d->retired_sources;
		d->retired_sources = s;
		vlog(LOG_NOTICE, "source %s: removed", s->name);
		sum->sources_removed++;
	}
	d->sources = keep;
}

/* Reload marked a tenant changed or removed: its sessions start over. */
static bool marked(const struct tenant *t)
{
	return t->reload_changed;
}

static void close_listener(struct tenant *t)
{
	if (t->listen_fd < 0)
		return;
	unix_unserve(t->listen_fd);
	close(t->listen_fd);
	unlink(t->socket);
	t->listen_fd = -1;
}

static void apply_tenants(struct vcapd *d, struct vcapd *nd, struct vcap_msg_reload_reply *sum)
{
	struct tenant *list = NULL, **tail = &list, *o, *n;

	for (o = d->tenants; o; o = o->next)
		o->reload_changed = true; /* until found unchanged below */
	while ((n = nd->tenants)) {
		nd->tenants = n->next;
		n->next = NULL;
		o = tenant_find(d->tenants, n->name);
		if (!o) { /* new: listening already (prepare_tenants) */
			if (n->listen_fd >= 0 && unix_serve(d, d->loop, n->listen_fd, n))
				vlog(LOG_ERR, "tenant %s: cannot serve %s", n->name, n->socket);
			*tail = n;
			tail = &n->next;
			sum->tenants_added++;
			continue;
		}
		/* the same object stays: sessions and listeners point at it */
		for (struct tenant **pp = &d->tenants; *pp; pp = &(*pp)->next)
			if (*pp == o) {
				*pp = o->next;
				break;
			}
		o->next = NULL;
		o->reload_changed = !same_policy(o, n);
		if (strcmp(o->socket, n->socket)) {
			close_listener(o);
			o->listen_fd = n->listen_fd;
			n->listen_fd = -1;
			if (o->listen_fd >= 0 && unix_serve(d, d->loop, o->listen_fd, o))
				vlog(LOG_ERR, "tenant %s: cannot serve %s", n->name, n->socket);
		} else if (o->listen_fd >= 0 &&
			   (o->socket_perm.uid != n->socket_perm.uid ||
			    o->socket_perm.gid != n->socket_perm.gid ||
			    o->socket_perm.mode != n->socket_perm.mode)) {
			/* who may connect from now on; connected sessions stay */
			if (chown(o->socket, (uid_t)n->socket_perm.uid, (gid_t)n->socket_perm.gid) ||
			    chmod(o->socket, n->socket_perm.mode))
				vlog(LOG_ERR, "tenant %s: %s: %s", o->name, o->socket, strerror(errno));
		}
		if (o->reload_changed)
			sum->tenants_changed++;
		o->uid = n->uid;
		snprintf(o->socket, sizeof(o->socket), "%s", n->socket);
		o->socket_perm = n->socket_perm;
		memcpy(o->allow, n->allow, sizeof(o->allow));
		o->n_allow = n->n_allow;
		snprintf(o->filter, sizeof(o->filter), "%s", n->filter);
		snprintf(o->vm, sizeof(o->vm), "%s", n->vm);
		o->lineno = n->lineno;
		memcpy(o->acct.limit, n->acct.limit, sizeof(o->acct.limit));
		o->acct.own = n->acct.own;
		free(n);
		*tail = o;
		tail = &o->next;
	}
	/* the rest were removed: no more sessions through them */
	while ((o = d->tenants)) {
		d->tenants = o->next;
		close_listener(o);
		o->next = d->retired_tenants;
		d->retired_tenants = o;
		vlog(LOG_NOTICE, "tenant %s: removed", o->name);
		sum->tenants_removed++;
	}
	d->tenants = list;
	sum->sessions_ended += unix_reclassify(d, marked,
					       "its tenant changed in a configuration reload");
}

static void apply_vms(struct vcapd *d, struct vcapd *nd, struct vcap_msg_reload_reply *sum)
{
	struct vm *list = NULL, *vm, *n;
	char err[512];

	/* removed or changed: stopped first, so that a changed one can take its socket again */
	while ((vm = d->vms)) {
		d->vms = vm_next(vm);
		n = vm_find(nd->vms, vm_name(vm));
		if (!vm_from_config(vm) || (n && vm_same(vm, n))) { /* kept */
			vm_set_next(vm, list);
			list = vm;
			continue;
		}
		vm_stop(vm, "a configuration reload removed or changed its vm line");
		vm_set_next(vm, d->retired_vms);
		d->retired_vms = vm;
		vlog(LOG_NOTICE, "vm %s: removed", vm_name(vm));
		sum->vms_removed++;
	}
	while ((n = nd->vms)) {
		nd->vms = vm_next(n);
		vm = vm_find(list, vm_name(n));
		if (vm) { /* unchanged */
			vm_destroy(n);
			continue;
		}
		if (vm_start(n, d, d->loop, err, sizeof(err))) {
			vlog(LOG_ERR, "reload: %s", err);
			vm_stop(n, NULL);
			vm_destroy(n);
			continue;
		}
		vm_set_next(n, list);
		list = n;
		vlog(LOG_INFO, "vm %s: added", vm_name(n));
		sum->vms_added++;
	}
	d->vms = list;
	/* each VM's tenant, as the new tenant lines say; a guest whose changed starts over */
	for (vm = d->vms; vm; vm = vm_next(vm)) {
		struct tenant *t = NULL;

		for (struct tenant *c = d->tenants; c && !t; c = c->next)
			if (!strcmp(c->vm, vm_name(vm)))
				t = c;
		if (t != vm_tenant(vm) || (t && t->reload_changed)) {
			vm_set_tenant(vm, t);
			vm_disconnect(vm, "its tenant changed in a configuration reload");
			sum->sessions_ended++;
		}
	}
}

/* New limits for every account but the admin's, except those a tenant line sets. */
static void apply_limits(struct vcapd *d, const struct vcapd *nd)
{
	char name[sizeof(d->admin.name)];

	d->limits = nd->limits;
	if (d->cmdline_ring_memory)
		d->limits.ring_memory_max = d->cmdline_ring_memory;
	d->rules_limits = nd->rules_limits;
	memcpy(d->tenant_limits, nd->tenant_limits, sizeof(d->tenant_limits));
	for (struct account *a = d->uid_accounts; a; a = a->next) {
		snprintf(name, sizeof(name), "%s", a->name);
		account_setup(a, name, d->tenant_limits);
	}
	vm_accounts_setup(d->vms, d->tenant_limits);
}

/* A changed `metrics` line: serve where it says now (or stop). */
static void apply_metrics(struct vcapd *d, const struct vcapd *nd)
{
	const char *was = d->metrics_listen ? d->metrics_listen : "";
	const char *now = nd->metrics_listen ? nd->metrics_listen : "";
	char err[512];

	if (d->cmdline_metrics ||
	    (!strcmp(was, now) && !memcmp(&d->metrics_perm, &nd->metrics_perm,
					  sizeof(d->metrics_perm))))
		return;
	metrics_stop();
	snprintf(d->config_metrics, sizeof(d->config_metrics), "%s", now);
	d->metrics_listen = *now ? d->config_metrics : NULL;
	d->metrics_perm = nd->metrics_perm;
	if (d->metrics_listen && metrics_start(d, d->loop, err, sizeof(err)))
		vlog(LOG_ERR, "reload: metrics: %s", err);
}

int reload(struct vcapd *d, struct vcap_msg_reload_reply *sum, char *err, size_t err_len)
{
	struct vcap_msg_reload_reply none;
	struct vcapd nd = VCAPD_DEFAULTS;
	int rc;

	if (!sum)
		sum = &none;
	memset(sum, 0, sizeof(*sum));
	if (!d->config_path[0]) {
		snprintf(err, err_len, "vcapd was started without --config: there is no file to "
			 "read again");
		return -ENOENT;
	}
	nd.source_kinds = d->source_kinds;
	notify_reloading(); /* systemd's Type=notify: READY=1 again when done, either way */
	rc = config_load(&nd, d->config_path, err, err_len);
	if (!rc)
		rc = check_against_running(d, &nd, err, err_len);
	if (!rc && !nd.sources) {
		bool cmdline = false;

		for (struct source *s = d->sources; s; s = s->next)
			cmdline |= !s->from_config;
		if (!cmdline) { /* as at start: no source at all serves the demo */
			rc = source_create(VCAPD_DEFAULT_SOURCE, d->source_kinds, &nd.sources, err,
					   err_len);
			if (!rc)
				nd.sources->from_config = true;
		}
	}
	if (!rc)
		rc = prepare_tenants(d, &nd, err, err_len);
	if (rc) {
		discard(&nd);
		vlog(LOG_ERR, "reload refused, the running configuration stays: %s", err);
		notify_ready("reload refused: %s", err);
		return rc;
	}

	reload_sweep(d, 0);
	if (!d->cmdline_socket && (nd.socket_perm.uid != d->socket_perm.uid ||
				   nd.socket_perm.gid != d->socket_perm.gid ||
				   nd.socket_perm.mode != d->socket_perm.mode)) {
		if (chown(d->socket_path, (uid_t)nd.socket_perm.uid, (gid_t)nd.socket_perm.gid) ||
		    chmod(d->socket_path, nd.socket_perm.mode))
			vlog(LOG_ERR, "%s: %s", d->socket_path, strerror(errno));
		d->socket_perm = nd.socket_perm;
	}
	apply_limits(d, &nd);
	apply_metrics(d, &nd);
	apply_sources(d, &nd, sum);
	apply_tenants(d, &nd, sum);
	apply_vms(d, &nd, sum);
	for (struct tenant *t = d->tenants; t; t = t->next)
		t->reload_changed = false;
	discard(&nd);
	vlog(LOG_NOTICE,
	     "configuration reloaded from %s: sources +%u -%u (%u kept), tenants +%u -%u ~%u, "
	     "vms +%u -%u; %u ring(s) and %u session(s) ended",
	     d->config_path, sum->sources_added, sum->sources_removed, sum->sources_kept,
	     sum->tenants_added, sum->tenants_removed, sum->tenants_changed, sum->vms_added,
	     sum->vms_removed, sum->rings_ended, sum->sessions_ended);
	notify_ready("listening on %s; configuration reloaded", d->socket_path);
	return 0;
}

void reload_sweep(struct vcapd *d, int at_exit)
{
	for (struct source **pp = &d->retired_sources; *pp;) {
		struct source *s = *pp;

		if (!at_exit && (s->n_consumers || s->n_objects)) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		source_destroy(s);
	}
	for (struct tenant **pp = &d->retired_tenants; *pp;) {
		struct tenant *t = *pp;

		if (!at_exit && (t->acct.sessions || t->acct.jobs)) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		free(t);
	}
	/*
	 * A stopped VM's region was wiped and its pages punched (vm_stop), but
	 * a ring of it being given back on a job thread still checks the
	 * region's generation when done: kept until exit, a few hundred bytes.
	 */
	while (at_exit && d->retired_vms) {
		struct vm *vm = d->retired_vms;

		d->retired_vms = vm_next(vm);
		vm_destroy(vm);
	}
}
