/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm_plug.c - plug and unplug a VM's ivshmem-doorbell device over QMP
 * (vm_plug.h).
 *
 * One step at a time, each a QMP command or the wait for DEVICE_DELETED;
 * when a step ends, converge() looks at what is wanted and what is there
 * and starts the next.  Every way to get to the device starts with its
 * removal (device_del answered DeviceNotFound if there is none), so a
 * device left by an earlier vcapd, or by a plug that failed half-way, is
 * never in the way.
 */
#include "vm_plug.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "qmp.h"
#include "util.h"
#include "vcap_proto.h"

#define TICK_MS 200u
#define RETRY_MIN_MS 200u

enum step { IDLE, DEL, WAIT_DELETED, CHR_REMOVE, CHR_ADD, DEV_ADD };

struct vm_plug {
	char vm[65];
	char qmp_path[108];
	char port[64];
	char socket[108];
	unsigned vectors;
	char dev_id[80], chr_id[80];
	struct loop *l;
	struct loop_watch tick;
	bool ticking;

	struct qmp *q;
	bool ready;
	uint64_t retry_at_ns;
	unsigned backoff_ms;
	char connect_err[200]; /* last connect failure, logged once */

	bool want;         /* plugged? */
	bool adopted;      /* vm_plug_cfg.adopt: plugged until QMP says otherwise */
	bool stuck;        /* an error: do not retry until asked again */
	unsigned state;    /* VCAP_VM_* */
	enum step step;
	uint64_t deleted_deadline_ns;
	char detail[320];

	vm_plug_done_fn done;
	void *done_arg;
};

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

static void converge(struct vm_plug *p);
static void qmp_ready(void *arg);
static void qmp_event(void *arg, const struct qmp_msg *m);
static void qmp_down(void *arg, const char *why);

static const struct qmp_ops plug_qmp_ops = {
	.ready = qmp_ready,
	.event = qmp_event,
	.down = qmp_down,
};

static void answer(struct vm_plug *p, int rc, const char *why)
{
	vm_plug_done_fn done = p->done;

	if (!done)
		return;
	p->done = NULL;
	done(p->done_arg, rc, why);
}

static void fail(struct vm_plug *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct vm_plug *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
	p->state = VCAP_VM_ERROR;
	p->step = IDLE;
	p->stuck = true;
	vlog(LOG_ERR, "vm %s: %s", p->vm, p->detail);
	answer(p, -EIO, p->detail);
}

static void done_step(struct vm_plug *p)
{
	p->step = IDLE;
	converge(p);
}

static void send_cmd(struct vm_plug *p, enum step s, const char *execute, const char *args,
		     qmp_reply_fn cb)
{
	int rc;

	p->step = s; /* first: the connection may end within qmp_command (qmp_down: IDLE) */
	rc = qmp_command(p->q, execute, args, PLUG_COMMAND_MS, cb, p);
	if (rc)
		fail(p, "QMP %s: %s", execute, strerror(-rc));
}

static int id_args(struct vm_plug *p, char *buf, size_t cap, const char *id)
{
	size_t pos = (size_t)snprintf(buf, cap, "{\"id\":");

	if (qmp_json_quote(buf, cap, &pos, id) || pos + 2 > cap)
		return -1;
	buf[pos++] = '}';
	buf[pos] = '\0';
	(void)p;
	return 0;
}

/* device_add's answer: the device is in the guest's PCI tree (its pciehp sees it). */
static void dev_added(void *arg, const struct qmp_msg *m, const char *why)
{
	struct vm_plug *p = arg;
	char args[160];

	if (!m) {
		fail(p, "device_add: %s", why);
		return;
	}
	if (m->has_error) {
		/* do not leave the chardev connected with no device behind it */
		if (!id_args(p, args, sizeof(args), p->chr_id))
			(void)qmp_command(p->q, "chardev-remove", args, PLUG_COMMAND_MS, NULL, NULL);
		fail(p, "QEMU refused device_add of %s on bus %s: %s", p->dev_id, p->port,
		     m->err_desc);
		return;
	}
	p->state = VCAP_VM_PLUGGED;
	p->detail[0] = '\0';
	vlog(LOG_NOTICE, "vm %s: device %s plugged into %s", p->vm, p->dev_id, p->port);
	done_step(p);
}

static void chr_added(void *arg, const struct qmp_msg *m, const char *why)
{
	struct vm_plug *p = arg;
	char args[512];
	size_t pos = 0;
	int n;

	if (!m) {
		fail(p, "chardev-add: %s", why);
		return;
	}
	if (m->has_error) {
		fail(p, "QEMU refused chardev-add of %s (socket %s): %s", p->chr_id, p->socket,
		     m->err_desc);
		return;
	}
	n = snprintf(args, sizeof(args), "{\"driver\":\"ivshmem-doorbell\",\"vectors\":%u,\"id\":",
		     p->vectors);
	pos = (size_t)n;
	if (qmp_json_quote(args, sizeof(args), &pos, p->dev_id) ||
	    (pos += (size_t)snprintf(args + pos, sizeof(args) - pos, ",\"bus\":")) >= sizeof(args) ||
	    qmp_json_quote(args, sizeof(args), &pos, p->port) ||
	    (pos += (size_t)snprintf(args + pos, sizeof(args) - pos, ",\"chardev\":")) >=
		    sizeof(args) ||
	    qmp_json_quote(args, sizeof(args), &pos, p->chr_id) || pos + 2 > sizeof(args)) {
		fail(p, "device_add: arguments too long");
		return;
	}
	args[pos++] = '}';
	args[pos] = '\0';
	send_cmd(p, DEV_ADD, "device_add", args, dev_added);
}

static void add_chardev(struct vm_plug *p)
{
	char args[512];
	size_t pos = (size_t)snprintf(args, sizeof(args), "{\"id\":");

	if (qmp_json_quote(args, sizeof(args), &pos, p->chr_id) ||
	    (pos += (size_t)snprintf(args + pos, sizeof(args) - pos,
				     ",\"backend\":{\"type\":\"socket\",\"data\":{\"server\":false,"
				     "\"addr\":{\"type\":\"unix\",\"data\":{\"path\":")) >=
		    sizeof(args) ||
	    qmp_json_quote(args, sizeof(args), &pos, p->socket) || pos + 5 > sizeof(args)) {
		fail(p, "chardev-add: arguments too long");
		return;
	}
	memcpy(args + pos, "}}}}}", 6);
	send_cmd(p, CHR_ADD, "chardev-add", args, chr_added);
}

static void chr_removed(void *arg, const struct qmp_msg *m, const char *why)
{
	struct vm_plug *p = arg;

	if (!m) {
		fail(p, "chardev-remove: %s", why);
		return;
	}
	/* "Chardev 'x' not found": nothing was left; anything else is in the way */
	if (m->has_error && !strstr(m->err_desc, "not found")) {
		fail(p, "QEMU refused chardev-remove of %s: %s", p->chr_id, m->err_desc);
		return;
	}
	if (!p->want) {
		p->state = VCAP_VM_ABSENT;
		p->detail[0] = '\0';
		vlog(LOG_NOTICE, "vm %s: device %s unplugged", p->vm, p->dev_id);
		done_step(p);
		return;
	}
	add_chardev(p);
}

static void remove_chardev(struct vm_plug *p)
{
	char args[160];

	if (id_args(p, args, sizeof(args), p->chr_id)) {
		fail(p, "chardev-remove: id too long");
		return;
	}
	send_cmd(p, CHR_REMOVE, "chardev-remove", args, chr_removed);
}

static void dev_deleting(void *arg, const struct qmp_msg *m, const char *why)
{
	struct vm_plug *p = arg;

	if (!m) {
		fail(p, "device_del: %s", why);
		return;
	}
	if (m->has_error && !strcmp(m->err_class, "DeviceNotFound")) {
		remove_chardev(p); /* no device: the chardev may still be there */
		return;
	}
	/* a device_del under way already (an earlier vcapd's): wait for it */
	if (m->has_error && !strstr(m->err_desc, "in the process of unplug")) {
		fail(p, "QEMU refused device_del of %s: %s", p->dev_id, m->err_desc);
		return;
	}
	vlog(LOG_INFO, "vm %s: device %s is being unplugged; waiting for the guest to let go",
	     p->vm, p->dev_id);
	p->step = WAIT_DELETED;
	p->deleted_deadline_ns = mono_ns() + PLUG_DELETE_MS * 1000000ull;
}

static void start_delete(struct vm_plug *p)
{
	char args[160];

	p->state = p->want ? VCAP_VM_PLUGGING : VCAP_VM_UNPLUGGING;
	if (id_args(p, args, sizeof(args), p->dev_id)) {
		fail(p, "device_del: id too long");
		return;
	}
	send_cmd(p, DEL, "device_del", args, dev_deleting);
}

static void converge(struct vm_plug *p)
{
	if (!p->ready || p->step != IDLE)
		return;
	if ((p->want && p->state == VCAP_VM_PLUGGED) || (!p->want && p->state == VCAP_VM_ABSENT)) {
		answer(p, 0, NULL);
		return;
	}
	if (p->stuck)
		return;
	start_delete(p);
}

static void qmp_ready(void *arg)
{
	struct vm_plug *p = arg;

	p->ready = true;
	p->backoff_ms = RETRY_MIN_MS;
	p->connect_err[0] = '\0';
	p->stuck = false;
	/* after a failure, said again only once it works again */
	vlog(p->state == VCAP_VM_ERROR ? LOG_DEBUG : LOG_INFO, "vm %s: QMP connected (%s)", p->vm,
	     p->qmp_path);
	if (p->adopted) { /* handed over live: keep it (DEVICE_DELETED would say it went) */
		p->adopted = false;
		p->state = VCAP_VM_PLUGGED;
	} else {
		p->state = VCAP_VM_ABSENT; /* not known until device_del says: converge finds out */
	}
	if (p->want)
		converge(p);
	else
		answer(p, 0, NULL);
}

static void qmp_event(void *arg, const struct qmp_msg *m)
{
	struct vm_plug *p = arg;

	if (strcmp(m->event, "DEVICE_DELETED") || strcmp(m->device, p->dev_id))
		return;
	if (p->step == WAIT_DELETED) {
		vlog(LOG_INFO, "vm %s: the guest gave %s back (DEVICE_DELETED)", p->vm, p->dev_id);
		remove_chardev(p);
		return;
	}
	/* gone without our asking (the guest ejected it, or someone else's device_del) */
	vlog(LOG_NOTICE, "vm %s: device %s was removed (not by vcapd)", p->vm, p->dev_id);
	if (p->step == IDLE) {
		p->state = VCAP_VM_ABSENT;
		converge(p);
	}
}

static void free_qmp(void *arg)
{
	qmp_free(arg);
}

static void qmp_down(void *arg, const char *why)
{
	struct vm_plug *p = arg;
	bool was_ready = p->ready;

	p->ready = false;
	/* freed after this loop round: the connection's own event may still name it */
	if (loop_after(p->l, free_qmp, p->q))
		vlog(LOG_WARNING, "vm %s: out of memory; a QMP connection leaks", p->vm);
	p->q = NULL;
	p->step = IDLE;
	p->retry_at_ns = mono_ns() + p->backoff_ms * 1000000ull;
	/* said once, not at every retry of a QMP socket that keeps doing the same */
	vlog(strcmp(p->detail, why) ? LOG_WARNING : LOG_DEBUG, "vm %s: %s", p->vm, why);
	snprintf(p->detail, sizeof(p->detail), "%s", why);
	if (was_ready && strstr(why, "closed")) {
		p->state = VCAP_VM_ABSENT; /* QEMU went: its devices went with it */
	} else {
		p->state = VCAP_VM_ERROR; /* not QMP, or broke it: try again, slowly */
		p->backoff_ms = PLUG_RETRY_MAX_MS;
	}
	answer(p, -EIO, why);
}

static void try_connect(struct vm_plug *p)
{
	char err[200];

	if (!qmp_connect(&p->q, p->qmp_path, p->l, &plug_qmp_ops, p, err, sizeof(err)))
		return; /* the greeting comes as an event */
	p->q = NULL;
	if (strcmp(err, p->connect_err)) { /* say it once, not every retry */
		vlog(LOG_INFO, "vm %s: %s; retrying while vcapd runs", p->vm, err);
		snprintf(p->connect_err, sizeof(p->connect_err), "%s", err);
	}
	snprintf(p->detail, sizeof(p->detail), "%s", err);
	p->retry_at_ns = mono_ns() + p->backoff_ms * 1000000ull;
	p->backoff_ms = p->backoff_ms * 2 > PLUG_RETRY_MAX_MS ? PLUG_RETRY_MAX_MS : p->backoff_ms * 2;
}

static void on_tick(struct loop_watch *w, uint32_t events)
{
	struct vm_plug *p = container_of(w, struct vm_plug, tick);
	uint64_t now = mono_ns();

	(void)events;
	if (!p->q && now >= p->retry_at_ns)
		try_connect(p);
	if (p->step == WAIT_DELETED && now > p->deleted_deadline_ns)
		fail(p, "the guest did not give %s back within %u s (no DEVICE_DELETED): does "
		     "its kernel have pciehp, and does the program holding the device let go?",
		     p->dev_id, PLUG_DELETE_MS / 1000);
}

struct vm_plug *vm_plug_start(const struct vm_plug_cfg *cfg, struct loop *l)
{
	struct vm_plug *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	snprintf(p->vm, sizeof(p->vm), "%s", cfg->vm);
	snprintf(p->qmp_path, sizeof(p->qmp_path), "%s", cfg->qmp);
	snprintf(p->port, sizeof(p->port), "%s", cfg->port);
	snprintf(p->socket, sizeof(p->socket), "%s", cfg->socket);
	snprintf(p->dev_id, sizeof(p->dev_id), "vcap-%s", cfg->vm);
	snprintf(p->chr_id, sizeof(p->chr_id), "vcapchr-%s", cfg->vm);
	p->vectors = cfg->vectors;
	p->l = l;
	p->want = !cfg->manual || cfg->adopt;
	p->state = cfg->adopt ? VCAP_VM_PLUGGED : VCAP_VM_ABSENT;
	p->adopted = cfg->adopt;
	p->backoff_ms = RETRY_MIN_MS;
	p->tick.on_event = on_tick;
	if (loop_every(l, TICK_MS, &p->tick)) {
		free(p);
		return NULL;
	}
	p->ticking = true;
	try_connect(p);
	return p;
}

void vm_plug_free(struct vm_plug *p)
{
	if (!p)
		return;
	if (p->ticking)
		loop_cancel(p->l, &p->tick);
	if (p->q && loop_after(p->l, free_qmp, p->q))
		qmp_free(p->q);
	free(p);
}

int vm_plug_request(struct vm_plug *p, bool want, vm_plug_done_fn done, void *arg, char *why,
		    size_t why_len)
{
	if (p->done) {
		snprintf(why, why_len, "vm %s: another attach or detach is under way", p->vm);
		return -EBUSY;
	}
	if (!p->ready) {
		snprintf(why, why_len, "vm %s: QMP is not connected (%s)", p->vm,
			 p->detail[0] ? p->detail : "connecting");
		return -ENOTCONN;
	}
	p->want = want;
	p->stuck = false; /* asked again: try again */
	p->done = done;
	p->done_arg = arg;
	converge(p);
	return 0;
}

void vm_plug_forget(struct vm_plug *p, void *arg)
{
	if (p->done && p->done_arg == arg)
		p->done = NULL;
}

unsigned vm_plug_state(const struct vm_plug *p, const char **detail)
{
	*detail = p->detail;
	return p->state;
}

bool vm_plug_wanted(const struct vm_plug *p)
{
	return p->want;
}
