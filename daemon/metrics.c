/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics.c - serve GET /metrics over HTTP/1.0 and 1.1 on the control
 * thread's loop (metrics.h).
 *
 * One request per connection, answered with "Connection: close": a scrape
 * a few seconds apart gains nothing from keep-alive, and a connection that
 * ends after one answer is one a client cannot hold open by asking again.
 * What protects the control thread, whose every other job is some
 * consumer's:
 *   - nothing blocks: sockets are non-blocking, an answer the client reads
 *     slowly is written as its socket drains (EPOLLOUT);
 *   - a request is read into a fixed buffer of METRICS_REQUEST_MAX bytes;
 *     a request line that cannot be HTTP is refused (400) as soon as it is
 *     seen, not at the deadline;
 *   - every connection is closed METRICS_DEADLINE_MS after it was accepted,
 *     whatever state it is in (a sweep every 100 ms), so a slowloris holds
 *     a slot, never the thread;
 *   - at most METRICS_MAX_CONNS connections: the next is answered 503 and
 *     closed at once;
 *   - after the answer, the write side is shut and what the client still
 *     sends is read and dropped until it closes (or the deadline): closing
 *     with unread input would reset the connection and could destroy the
 *     answer before the client read it.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "loop.h"
#include "upgrade.h"
#include "util.h"
#include "vcapd.h"

#define SWEEP_MS 100
#define DRAIN_MAX_MS 1000 /* after the answer, at most this long for the client to close */

enum conn_state { READING, WRITING, DRAINING };

/*
 * A connection's slot.  Slots are static, never freed: an event for a
 * connection closed earlier in the same round of the loop finds fd -1
 * (or, if the slot was taken again meanwhile, an ordinary wake-up of
 * the new connection: the handlers act on what recv and send say, not
 * on the event's bits).
 */
struct mconn {
	struct loop_watch watch;
	int fd;                 /* -1: free */
	enum conn_state state;
	uint64_t deadline_ns;
	char req[METRICS_REQUEST_MAX];
	size_t req_len;
	struct mbuf out;
	size_t out_off;
};

static struct {
	struct loop_watch listen_watch;
	struct loop_watch sweep_watch;
	struct loop *loop;
	struct vcapd *d;
	int fd;             /* the listener; -1: not serving */
	int timer_fd;       /* the sweep's */
	bool listen_paused; /* out of descriptors: accept again at the next sweep */
	bool is_unix;
	char path[108];     /* a unix socket's, removed at stop */
	struct mconn conns[METRICS_MAX_CONNS];
	struct metrics_self self; /* kept across restarts: vcapd's counters, not the socket's */
} m = { .fd = -1, .timer_fd = -1 };

/* ---- the address --------------------------------------------------------------- */

static int parse_port(const char *s, struct metrics_addr *out, char *err, size_t err_len,
		      const char *listen)
{
	char *end;
	unsigned long port;

	errno = 0;
	port = strtoul(s, &end, 10);
	if (!*s || *end || errno || port > 65535 || *s == '-' || *s == '+') {
		snprintf(err, err_len, "metrics %s: \"%s\" is not a port (0-65535)", listen, s);
		return -EINVAL;
	}
	if (out->sa.ss_family == AF_INET)
		((struct sockaddr_in *)&out->sa)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&out->sa)->sin6_port = htons((uint16_t)port);
	return 0;
}

int metrics_parse_listen(const char *listen, struct metrics_addr *out, char *err,
			 size_t err_len)
{
	static const char expect[] = "expected HOST:PORT (an IPv4 address), [IPv6]:PORT or "
				     "unix:/PATH";
	char host[64];
	const char *colon;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (!strncmp(listen, "unix:", 5)) {
		const char *path = listen + 5;

		if (*path != '/' || strlen(path) >= sizeof(out->path)) {
			snprintf(err, err_len, "metrics %s: unix: takes an absolute path under %zu "
				 "bytes", listen, sizeof(out->path));
			return -EINVAL;
		}
		out->is_unix = true;
		snprintf(out->path, sizeof(out->path), "%s", path);
		return 0;
	}
	if (*listen == '[') {
		const char *close = strchr(listen, ']');
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->sa;

		hlen = close ? (size_t)(close - listen - 1) : 0;
		if (!close || close[1] != ':' || hlen >= sizeof(host)) {
			snprintf(err, err_len, "metrics %s: %s", listen, expect);
			return -EINVAL;
		}
		memcpy(host, listen + 1, hlen);
		host[hlen] = '\0';
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
			snprintf(err, err_len, "metrics %s: \"%s\" is not an IPv6 address", listen,
				 host);
			return -EINVAL;
		}
		out->sa_len = sizeof(*s6);
		return parse_port(close + 2, out, err, err_len, listen);
	}
	colon = strrchr(listen, ':');
	hlen = colon ? (size_t)(colon - listen) : 0;
	if (!colon || hlen >= sizeof(host) || memchr(listen, ':', hlen)) {
		snprintf(err, err_len, "metrics %s: %s", listen, expect);
		return -EINVAL;
	}
	memcpy(host, listen, hlen);
	host[hlen] = '\0';
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out->sa;

		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
			snprintf(err, err_len, "metrics %s: \"%s\" is not an IPv4 address (names are "
				 "not resolved; 0.0.0.0 listens on all)", listen, host);
			return -EINVAL;
		}
		out->sa_len = sizeof(*s4);
	}
	return parse_port(colon + 1, out, err, err_len, listen);
}

/* A unix stream socket at path: born 0600 (umask), then given perm, as vcapd's others. */
static int listen_unix(const char *path, const struct socket_perm *perm, char *err,
		       size_t err_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc && errno == EADDRINUSE) {
		/* a socket file is there: refuse if someone answers, else replace it */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && !connect(probe, (struct sockaddr *)&sa, sizeof(sa));
		struct stat st;

		if (probe >= 0)
			close(probe);
		if (live) {
			umask(old);
			close(fd);
			snprintf(err, err_len, "metrics unix:%s: something already listens there",
				 path);
			return -EADDRINUSE;
		}
		if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
			unlink(path);
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	umask(old);
	if (rc || listen(fd, 64))
		goto fail;
	if (chown(path, (uid_t)perm->uid, (gid_t)perm->gid) || chmod(path, perm->mode)) {
		rc = -errno;
		snprintf(err, err_len, "metrics unix:%s: owner %ld, group %ld, mode %04o: %s", path,
			 perm->uid, perm->gid, perm->mode, strerror(errno));
		close(fd);
		unlink(path);
		return rc;
	}
	return fd;
fail:
	rc = -errno;
	snprintf(err, err_len, "metrics unix:%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

static int listen_inet(const struct metrics_addr *a, const char *spec, char *err,
		       size_t err_len)
{
	int one = 1, rc;
	int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		goto fail;
	/* a restart must not wait for the last scrape's TIME_WAIT */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->sa, a->sa_len) || listen(fd, 64))
		goto fail;
	return fd;
fail:
	rc = -errno;
	snprintf(err, err_len, "metrics %s: %s", spec,
		 errno == EADDRINUSE ? "address already in use" : strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- connections ---------------------------------------------------------------- */

/* Close c and free its slot. */
static void conn_close(struct mconn *c)
{
	m.self.connections--;
	loop_del(m.loop, c->fd);
	close(c->fd);
	c->fd = -1;
	mbuf_free(&c->out);
}

/* The answer is out: shut the write side and wait (briefly) for the client to close. */
static void conn_drain(struct mconn *c)
{
	uint64_t until = mono_ns() + DRAIN_MAX_MS * 1000000ull;

	shutdown(c->fd, SHUT_WR);
	c->state = DRAINING;
	if (until < c->deadline_ns)
		c->deadline_ns = until;
	if (loop_mod(m.loop, c->fd, EPOLLIN, &c->watch))
		conn_close(c);
}

static void conn_write(struct mconn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* EPOLLOUT says when there is room */
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	conn_drain(c);
}

/* Answer with status k (METRICS_CODE_*) and body; the body is left out for HEAD. */
static void respond(struct mconn *c, int k, const char *reason, const char *extra_headers,
		    const struct mbuf *body, bool head)
{
	const char *type = k == METRICS_CODE_200 ? "text/plain; version=0.0.4; charset=utf-8"
						 : "text/plain; charset=utf-8";

	m.self.responses[k]++;
	mbuf_printf(&c->out,
		    "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		    "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
		    metrics_codes[k], reason, type, body->len, extra_headers);
	if (!head)
		mbuf_append(&c->out, body->p, body->len);
	if (c->out.failed) {
		conn_close(c); /* out of memory: the client sees the connection close */
		return;
	}
	c->state = WRITING;
	if (loop_mod(m.loop, c->fd, EPOLLOUT, &c->watch)) {
		conn_close(c);
		return;
	}
	conn_write(c);
}

static void respond_text(struct mconn *c, int k, const char *reason, const char *text,
			 const char *extra_headers)
{
	struct mbuf body = { 0 };

	mbuf_printf(&body, "%s\n", text);
	respond(c, k, reason, extra_headers, &body, false);
	mbuf_free(&body);
}

/* A token of the request line: printable, no blank. */
static bool is_token(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return n > 0;
}

/*
 * Check the request line (what precedes the first \n).  @return true if it
 * can be an HTTP/1.x request; then method and target point into it.
 */
static bool parse_request_line(char *line, size_t len, char **method, char **target,
			       bool *v10)
{
	char *sp1, *sp2;

	if (len && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	sp1 = memchr(line, ' ', len);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
	if (!sp1 || !sp2 || !is_token(line, (size_t)(sp1 - line)) ||
	    !is_token(sp1 + 1, (size_t)(sp2 - sp1 - 1)))
		return false;
	if (strcmp(sp2 + 1, "HTTP/1.1") && strcmp(sp2 + 1, "HTTP/1.0"))
		return false;
	*sp1 = *sp2 = '\0';
	*method = line;
	*target = sp1 + 1;
	*v10 = !strcmp(sp2 + 1, "HTTP/1.0");
	return true;
}

/* The whole head of a request is in: answer it. */
static void answer(struct mconn *c, size_t line_len)
{
	char *method, *target;
	bool v10;
	size_t path_len;

	if (!parse_request_line(c->req, line_len, &method, &target, &v10)) {
		respond_text(c, METRICS_CODE_400, "Bad Request", "bad request", "");
		return;
	}
	(void)v10; /* both are answered alike: one response, then close */
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		respond_text(c, METRICS_CODE_405, "Method Not Allowed", "only GET is served",
			     "Allow: GET, HEAD\r\n");
		return;
	}
	path_len = strcspn(target, "?");
	if (path_len != strlen("/metrics") || strncmp(target, "/metrics", path_len)) {
		respond_text(c, METRICS_CODE_404, "Not Found", "not found: try /metrics", "");
		return;
	}
	{
		struct mbuf body = { 0 };

		metrics_render(m.d, &m.self, &body);
		if (body.failed) {
			mbuf_free(&body);
			vlog(LOG_ERR, "metrics: out of memory for a scrape");
			conn_close(c);
			return;
		}
		respond(c, METRICS_CODE_200, "OK", "", &body, !strcmp(method, "HEAD"));
		mbuf_free(&body);
	}
}

/* Where the head of the request ends (after its blank line), or 0 if not yet in. */
static size_t head_end(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static void conn_read(struct mconn *c)
{
	for (;;) {
		size_t room = sizeof(c->req) - 1 - c->req_len;
		ssize_t n = recv(c->fd, c->req + c->req_len, room, MSG_DONTWAIT);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* closed before asking anything complete, or failed */
			conn_close(c);
			return;
		}
		c->req_len += (size_t)n;
		nl = memchr(c->req, '\n', c->req_len);
		/*
		 * The request line must look like HTTP from its first bytes:
		 * binary garbage (a TLS hello, a port scan) is refused now, not
		 * held until the deadline.
		 */
		for (size_t i = 0; i < (nl ? (size_t)(nl - c->req) : c->req_len); i++) {
			unsigned char ch = (unsigned char)c->req[i];

			if ((ch < ' ' && ch != '\r' && ch != '\t') || ch == 0x7f) {
				respond_text(c, METRICS_CODE_400, "Bad Request", "bad request", "");
				return;
			}
		}
		if (nl) {
			char *method, *target, line[METRICS_REQUEST_MAX];
			size_t len = (size_t)(nl - c->req);
			bool v10;

			memcpy(line, c->req, len);
			if (!parse_request_line(line, len, &method, &target, &v10)) {
				respond_text(c, METRICS_CODE_400, "Bad Request", "bad request", "");
				return;
			}
			if (head_end(c->req, c->req_len)) {
				answer(c, len);
				return;
			}
		}
		if (c->req_len == sizeof(c->req) - 1) {
			respond_text(c, METRICS_CODE_431, "Request Header Fields Too Large",
				     "request too large", "");
			return;
		}
	}
}

/* What the client sends after its answer: read and dropped until it closes. */
static void conn_discard(struct mconn *c)
{
	char sink[4096];

	/* a bounded helping per event: a client sending flat out cannot keep the loop here */
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);

		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		conn_close(c); /* end of file, or an error: done either way */
		return;
	}
}

static void conn_event(struct loop_watch *w, uint32_t events)
{
	struct mconn *c = (struct mconn *)w;

	if (c->fd < 0) /* closed earlier in this round */
		return;
	(void)events; /* send and recv say what happened (EPIPE, end of file) */
	switch (c->state) {
	case READING:
		conn_read(c);
		break;
	case WRITING:
		conn_write(c);
		break;
	case DRAINING:
		conn_discard(c);
		break;
	}
}

/* Over the cap: say so in one write to an empty socket buffer, and close. */
static void refuse_busy(int fd)
{
	static const char body[] = "too many connections\n";
	char head[256], sink[1024];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; "
			 "charset=utf-8\r\nContent-Length: %zu\r\nRetry-After: 1\r\n"
			 "Connection: close\r\n\r\n%s", sizeof(body) - 1, body);

	m.self.responses[METRICS_CODE_503]++;
	(void)!send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(fd, SHUT_WR);
	/* what already arrived, read so the close does not reset the answer away */
	(void)!recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
	close(fd);
}

static void on_accept(struct loop_watch *w, uint32_t events)
{
	(void)w;
	(void)events;
	while (m.fd >= 0) {
		int fd = accept4(m.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct mconn *c = NULL;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* level-triggered: stop watching until the sweep, not spin */
				vlog(LOG_WARNING, "metrics: cannot accept: %s", strerror(errno));
				if (!loop_mod(m.loop, m.fd, 0, &m.listen_watch))
					m.listen_paused = true;
			}
			return;
		}
		for (unsigned i = 0; i < METRICS_MAX_CONNS && !c; i++)
			if (m.conns[i].fd < 0)
				c = &m.conns[i];
		if (!c) {
			refuse_busy(fd);
			continue;
		}
		c->fd = fd;
		c->req_len = 0;
		c->out_off = 0;
		c->state = READING;
		c->deadline_ns = mono_ns() + METRICS_DEADLINE_MS * 1000000ull;
		if (loop_add(m.loop, fd, EPOLLIN, &c->watch)) {
			close(fd);
			c->fd = -1;
			continue;
		}
		m.self.connections++;
	}
}

/* Close whatever is past its deadline; accept again after running out of descriptors. */
static void sweep(struct loop_watch *w, uint32_t events)
{
	uint64_t now = mono_ns(), n;

	(void)w;
	(void)events;
	if (m.timer_fd < 0) /* stopped earlier in this round */
		return;
	(void)!read(m.timer_fd, &n, sizeof(n));
	for (unsigned i = 0; i < METRICS_MAX_CONNS; i++) {
		struct mconn *c = &m.conns[i];

		if (c->fd < 0 || now < c->deadline_ns)
			continue;
		if (c->state != DRAINING) /* a client that only lingered after its answer is fine */
			m.self.timeouts++;
		conn_close(c);
	}
	if (m.listen_paused && !loop_mod(m.loop, m.fd, EPOLLIN, &m.listen_watch))
		m.listen_paused = false;
}

/* ---- start and stop --------------------------------------------------------------- */

void metrics_stop(void)
{
	if (m.fd < 0)
		return;
	for (unsigned i = 0; i < METRICS_MAX_CONNS; i++)
		if (m.conns[i].fd >= 0)
			conn_close(&m.conns[i]);
	loop_del(m.loop, m.timer_fd);
	close(m.timer_fd);
	m.timer_fd = -1;
	loop_del(m.loop, m.fd);
	close(m.fd);
	m.fd = -1;
	if (m.is_unix)
		unlink(m.path);
	m.is_unix = false;
	m.listen_paused = false;
}

/* "127.0.0.1:9100", "[::1]:9100" or "unix:/run/..." as bound (the port, if it was 0). */
static void describe(int fd, const struct metrics_addr *a, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->is_unix || getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		snprintf(buf, len, "unix:%s", a->path);
		return;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}

/* The sweep's timer: a timerfd of its own, so that stopping can take it away. */
static int start_sweep(struct loop *l)
{
	struct itimerspec its = { .it_interval = { 0, SWEEP_MS * 1000000L },
				  .it_value = { 0, SWEEP_MS * 1000000L } };
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = loop_add(l, fd, EPOLLIN, &m.sweep_watch);
	if (rc) {
		close(fd);
		return rc;
	}
	m.timer_fd = fd;
	return 0;
}

int metrics_listen_fd(void)
{
	return m.fd;
}

int metrics_start(struct vcapd *d, struct loop *l, char *err, size_t err_len)
{
	char key[200];

	struct metrics_addr a;
	char where[160];
	int fd, rc;

	metrics_stop();
	if (!d->metrics_listen || !d->metrics_listen[0])
		return 0;
	if (!m.conns[0].watch.on_event)
		for (unsigned i = 0; i < METRICS_MAX_CONNS; i++)
			m.conns[i] = (struct mconn){ .watch.on_event = conn_event, .fd = -1 };
	rc = metrics_parse_listen(d->metrics_listen, &a, err, err_len);
	if (rc)
		return rc;
	/* an upgrade hands the socket over: bound already, and clients may be connecting */
	snprintf(key, sizeof(key), METRICS_UPGRADE_KEY "%s", d->metrics_listen);
	fd = upgrade_listener(key);
	if (fd >= 0 && fcntl(fd, F_SETFL, O_NONBLOCK))
		fd = -1;
	if (fd < 0)
		fd = a.is_unix ? listen_unix(a.path, &d->metrics_perm, err, err_len)
			       : listen_inet(&a, d->metrics_listen, err, err_len);
	if (fd < 0)
		return fd;
	m.d = d;
	m.loop = l;
	m.fd = fd;
	m.is_unix = a.is_unix;
	snprintf(m.path, sizeof(m.path), "%s", a.path);
	m.listen_watch.on_event = on_accept;
	m.sweep_watch.on_event = sweep;
	rc = loop_add(l, fd, EPOLLIN, &m.listen_watch);
	if (rc) {
		snprintf(err, err_len, "metrics: epoll: %s", strerror(-rc));
		goto fail;
	}
	rc = start_sweep(l);
	if (rc) {
		loop_del(l, fd);
		snprintf(err, err_len, "metrics: timer: %s", strerror(-rc));
		goto fail;
	}
	describe(fd, &a, where, sizeof(where));
	vlog(LOG_NOTICE, "metrics on %s (GET /metrics)", where);
	return 0;
fail:
	close(fd);
	m.fd = -1;
	if (a.is_unix)
		unlink(a.path);
	m.is_unix = false;
	return rc;
}
