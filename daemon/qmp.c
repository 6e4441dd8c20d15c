/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qmp.c - QEMU's QMP protocol, client side, on the control loop (qmp.h).
 *
 * QMP sends one JSON object per line ("\r\n"-terminated): first a greeting
 * ({"QMP": ...}), and after the client's qmp_capabilities, replies
 * ({"return": ...} or {"error": ...}, carrying the command's "id") and
 * events ({"event": ...}) in any order.
 */
#include "qmp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

#define MAX_PENDING 4
#define OUT_MAX 4096u
#define TICK_MS 100u
#define CAPS_ID 0u /* qmp_capabilities; commands count from 1 */

struct pending {
	bool used;
	uint64_t id;
	uint64_t deadline_ns;
	qmp_reply_fn cb;
	void *arg;
};

struct qmp {
	int fd;
	struct loop *l;
	const struct qmp_ops *ops;
	void *arg;
	struct loop_watch io, tick;
	bool ticking;
	bool greeted, ready, dead;
	uint64_t greeting_deadline_ns;
	uint64_t next_id;
	struct pending pending[MAX_PENDING];
	char out[OUT_MAX];
	size_t out_len;
	char *in; /* QMP_MSG_MAX bytes */
	size_t in_len;
};

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* End the connection: fail what is pending, then tell the owner. */
static void down(struct qmp *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void down(struct qmp *q, const char *fmt, ...)
{
	char why[320];
	va_list ap;

	if (q->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	q->dead = true;
	q->ready = false;
	if (q->fd >= 0) {
		loop_del(q->l, q->fd);
		close(q->fd);
		q->fd = -1;
	}
	memset(q->pending, 0, sizeof(q->pending)); /* dropped: ops->down says why */
	q->ops->down(q->arg, why);
}

static int watch(struct qmp *q)
{
	return loop_mod(q->l, q->fd, EPOLLIN | EPOLLRDHUP | (q->out_len ? EPOLLOUT : 0), &q->io);
}

static void flush(struct qmp *q)
{
	while (q->out_len) {
		ssize_t n = send(q->fd, q->out, q->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			down(q, "QMP write: %s", n < 0 ? strerror(errno) : "nothing written");
			return;
		}
		memmove(q->out, q->out + n, q->out_len - (size_t)n);
		q->out_len -= (size_t)n;
	}
	if (watch(q))
		down(q, "QMP: cannot watch the socket");
}

static int queue(struct qmp *q, const char *execute, const char *args, uint64_t id)
{
	int n;

	n = snprintf(q->out + q->out_len, OUT_MAX - q->out_len,
		     "{\"execute\":\"%s\"%s%s%s,\"id\":%llu}\n", execute, args ? ",\"arguments\":" : "",
		     args ? args : "", "", (unsigned long long)id);
	if (n < 0 || (size_t)n >= OUT_MAX - q->out_len) {
		q->out[q->out_len] = '\0';
		return -EMSGSIZE;
	}
	q->out_len += (size_t)n;
	return 0;
}

static struct pending *take(struct qmp *q, uint64_t id)
{
	for (int i = 0; i < MAX_PENDING; i++)
		if (q->pending[i].used && q->pending[i].id == id)
			return &q->pending[i];
	return NULL;
}

static void caps_done(void *arg, const struct qmp_msg *m, const char *why)
{
	struct qmp *q = arg;

	if (!m)
		return; /* down() says why */
	if (m->has_error) {
		down(q, "QEMU refused qmp_capabilities: %s", m->err_desc);
		return;
	}
	q->ready = true;
	(void)why;
	q->ops->ready(q->arg);
}

static void message(struct qmp *q, const char *line, size_t len)
{
	struct qmp_msg m;
	char why[128];
	struct pending *p;

	if (qmp_json_parse(line, len, &m, why, sizeof(why))) {
		down(q, "QMP: the other end sent something that is not JSON (%s): not QEMU's QMP?",
		     why);
		return;
	}
	if (!q->greeted) {
		if (!m.greeting) {
			down(q, "QMP: the first message is not QEMU's greeting ({\"QMP\": ...})");
			return;
		}
		q->greeted = true;
		p = &q->pending[0];
		*p = (struct pending){ .used = true, .id = CAPS_ID,
				       .deadline_ns = mono_ns() + QMP_GREETING_MS * 1000000ull,
				       .cb = caps_done, .arg = q };
		if (queue(q, "qmp_capabilities", NULL, CAPS_ID))
			down(q, "QMP: cannot queue qmp_capabilities");
		else
			flush(q);
		return;
	}
	if (m.event[0]) {
		if (q->ready)
			q->ops->event(q->arg, &m);
		return;
	}
	if (!m.has_return && !m.has_error) {
		down(q, "QMP: a message that is neither a reply nor an event");
		return;
	}
	if (!m.has_id || !(p = take(q, m.id))) {
		/* a reply to a command given up on (timed out): not an error */
		vlog(LOG_DEBUG, "QMP: a reply to no command under way (id %llu)",
		     (unsigned long long)m.id);
		return;
	}
	p->used = false;
	if (p->cb)
		p->cb(p->arg, &m, NULL);
}

static void on_io(struct loop_watch *w, uint32_t events)
{
	struct qmp *q = container_of(w, struct qmp, io);

	if (q->dead)
		return;
	if (events & EPOLLOUT)
		flush(q);
	if (q->dead || !(events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t n = recv(q->fd, q->in + q->in_len, QMP_MSG_MAX - q->in_len, MSG_DONTWAIT);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			down(q, "QMP connection closed%s%s", n < 0 ? ": " : " by the other end",
			     n < 0 ? strerror(errno) : " (QEMU exited?)");
			return;
		}
		q->in_len += (size_t)n;
		while (!q->dead && (nl = memchr(q->in, '\n', q->in_len)) != NULL) {
			size_t len = (size_t)(nl - q->in) + 1;

			message(q, q->in, len);
			if (q->dead)
				return;
			memmove(q->in, q->in + len, q->in_len - len);
			q->in_len -= len;
		}
		if (q->in_len == QMP_MSG_MAX) {
			down(q, "QMP: a message longer than %u bytes", QMP_MSG_MAX);
			return;
		}
		/* one read per event: a flood cannot hold the loop */
		return;
	}
}

static void on_tick(struct loop_watch *w, uint32_t events)
{
	struct qmp *q = container_of(w, struct qmp, tick);
	uint64_t now = mono_ns();

	(void)events;
	if (q->dead)
		return;
	if (!q->greeted && now > q->greeting_deadline_ns) {
		down(q, "QMP: no greeting within %u ms: not QEMU's QMP, or QEMU hangs",
		     QMP_GREETING_MS);
		return;
	}
	for (int i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &q->pending[i];

		if (p->used && now > p->deadline_ns) {
			p->used = false;
			if (p->id == CAPS_ID) {
				down(q, "QMP: no answer to qmp_capabilities: QEMU hangs");
				return;
			}
			if (p->cb)
				p->cb(p->arg, NULL, "QEMU did not answer in time");
			if (q->dead)
				return;
		}
	}
}

int qmp_connect(struct qmp **out, const char *path, struct loop *l, const struct qmp_ops *ops,
		void *arg, char *err, size_t err_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct qmp *q;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "QMP socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path));
	q = calloc(1, sizeof(*q));
	if (!q || !(q->in = malloc(QMP_MSG_MAX))) {
		free(q);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	q->l = l;
	q->ops = ops;
	q->arg = arg;
	q->next_id = CAPS_ID + 1;
	q->io.on_event = on_io;
	q->tick.on_event = on_tick;
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* a unix stream connect completes or fails at once: it never blocks */
	if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		snprintf(err, err_len, "QMP socket %s: %s", path, strerror(errno));
		goto fail;
	}
	q->greeting_deadline_ns = mono_ns() + QMP_GREETING_MS * 1000000ull;
	rc = loop_add(l, q->fd, EPOLLIN | EPOLLRDHUP, &q->io);
	if (!rc) {
		rc = loop_every(l, TICK_MS, &q->tick);
		if (rc)
			loop_del(l, q->fd);
		else
			q->ticking = true;
	}
	if (rc) {
		snprintf(err, err_len, "QMP socket %s: %s", path, strerror(-rc));
		goto fail;
	}
	*out = q;
	return 0;
fail:
	if (q->fd >= 0)
		close(q->fd);
	free(q->in);
	free(q);
	return rc;
}

int qmp_command(struct qmp *q, const char *execute, const char *args_json, unsigned timeout_ms,
		qmp_reply_fn cb, void *arg)
{
	struct pending *p = NULL;
	int rc;

	if (!q->ready || q->dead)
		return -ENOTCONN;
	for (int i = 0; i < MAX_PENDING && !p; i++)
		if (!q->pending[i].used)
			p = &q->pending[i];
	if (!p)
		return -EBUSY;
	rc = queue(q, execute, args_json, q->next_id);
	if (rc)
		return rc;
	*p = (struct pending){ .used = true, .id = q->next_id++,
			       .deadline_ns = mono_ns() + timeout_ms * 1000000ull, .cb = cb,
			       .arg = arg };
	flush(q);
	return 0;
}

void qmp_free(struct qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0) {
		loop_del(q->l, q->fd);
		close(q->fd);
	}
	if (q->ticking)
		loop_cancel(q->l, &q->tick);
	free(q->in);
	free(q);
}
