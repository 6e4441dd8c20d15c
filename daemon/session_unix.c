/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * session_unix.c - sessions on unix sockets (host processes, containers).
 *
 * A connection is a SOCK_SEQPACKET socket: one request per datagram, the
 * reply back the same way, descriptors as SCM_RIGHTS.  Sockets are
 * non-blocking and replies are small, so nothing a client does blocks the
 * control thread; a client that does not read its replies fills its socket
 * and is dropped.
 *
 * A ring is a memfd sealed against shrinking and growing before it is
 * handed out: the consumer holds the descriptor, and if it could truncate
 * the file, vcapd's next write into the mapping would die of SIGBUS.
 *
 * The wake-up channel is a pipe, not an eventfd: an eventfd's O_NONBLOCK
 * flag lives in the open file description both sides share, so a consumer
 * could clear it, fill the counter, and make vcapd's next signal block the
 * capture thread.  With a pipe vcapd keeps the write end to itself; a
 * consumer that never reads only fills the pipe, and vcapd's non-blocking
 * write then fails harmlessly (the consumer is not asleep anyway).
 *
 * A connection is charged to its account (account.h) when accepted; one
 * over its account's session limit is answered, at its HELLO, with an
 * error naming the limit, then closed.  A connection that has not said
 * HELLO within `limit hello-timeout-ms` is closed: one timer sweeps them
 * all.  When a ring is freed its pages are punched out of the memfd, so a
 * consumer that kept the descriptor holds an empty file, not vcapd's
 * memory.
 */
#include "session_unix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "codec.h"
#include "consumer.h"
#include "loop.h"
#include "policy.h"
#include "session.h"
#include "unix_carrier.h"
#include "util.h"
#include "vcapd.h"

struct listener {
	struct loop_watch watch;
	struct vcapd *d;
	struct loop *loop;
	int fd;
	struct tenant *via;
	struct listener *next;
};

struct conn {
	struct loop_watch watch;
	struct loop *loop;
	int fd;
	struct session *ss;
	struct tenant *via;            /* the tenant whose socket it came through, or NULL */
	uint64_t since_ns;             /* accepted at */
	const char *closing;           /* the sweep shut it down: why (conn_event ends it) */
	char refuse[VCAP_REASON_MAX];  /* over its account's session limit: why */
	struct conn *next;
};

static struct listener *listeners;
static struct conn *conns;
static _Alignas(8) uint8_t rx_buf[VCAP_MSG_MAX];
static struct vcapd *sweep_d;
/*
 * vcapd is shutting down: rings are freed but not punched, so a consumer
 * still reads what its ring held and then a clear end (as after SIGKILL).
 */
static atomic_bool shutting_down; /* read by release jobs */
static struct loop_watch sweep_watch;

/* ---- the carrier's operations --------------------------------------------- */

static int unix_send(struct session *ss, const void *buf, size_t len, const int *fds, int nfds)
{
	struct conn *cn = ss->carrier;

	return vcap_unix_send(cn->fd, buf, len, fds, nfds);
}

static void set_err(char *err, size_t len, const char *what, int e)
{
	snprintf(err, len, "ring: %s: %s", what, strerror(e));
}

/* A ring in a sealed memfd, and a pipe to wake its consumer; both handed over. */
static int unix_ring_place(struct session *ss, struct ring_place *p, char *err, size_t err_len)
{
	char name[32];
	int memfd, pipefd[2] = { -1, -1 }, rc;
	void *map = MAP_FAILED;

	(void)ss;
	snprintf(name, sizeof(name), "vcap-ring-%u", p->ring_id);
	memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, (off_t)p->map_size) ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		rc = -errno;
		set_err(err, err_len, "memfd", errno);
		goto fail;
	}
	/* populated off the control thread (consumer_populate), before it is handed out */
	map = mmap(NULL, p->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		set_err(err, err_len, "mmap", errno);
		goto fail;
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK)) {
		rc = -errno;
		set_err(err, err_len, "pipe", errno);
		goto fail;
	}
	/* kept, so that an upgrade can hand the ring to the next vcapd (upgrade.c) */
	p->keep_fd = fcntl(memfd, F_DUPFD_CLOEXEC, 3);
	if (p->keep_fd < 0) {
		rc = -errno;
		set_err(err, err_len, "dup", errno);
		close(pipefd[0]);
		close(pipefd[1]);
		goto fail;
	}
	p->map = map;
	p->wake_fd = pipefd[1];
	p->region_off = 0;
	p->vector = 0;
	p->give[0] = memfd;    /* the consumer maps the ring from it */
	p->give[1] = pipefd[0]; /* and sleeps on it */
	p->n_give = 2;
	return 0;
fail:
	if (map != MAP_FAILED)
		munmap(map, p->map_size);
	if (memfd >= 0)
		close(memfd);
	return rc;
}

#define UNMAP_STEP (2u << 20) /* a multiple of the page size */

static void unix_ring_unmap(struct ring_place *p)
{
	/*
	 * Punch the ring's pages out of its memfd (vcapd no longer holds the
	 * descriptor, only this shared mapping: MADV_REMOVE punches the file's
	 * range as fallocate(PUNCH_HOLE) would).  A consumer that kept the
	 * descriptor after CLOSE then holds an empty file; what it touches
	 * again is allocated to, and charged to, itself.
	 */
	bool keep = atomic_load_explicit(&shutting_down, memory_order_relaxed);

	/*
	 * In steps: each holds the process's mmap lock while it frees pages
	 * (~0.2 s a GiB), and the control thread's own page faults wait for
	 * that lock.
	 */
	for (size_t off = 0; off < p->map_size; off += UNMAP_STEP) {
		size_t n = p->map_size - off < UNMAP_STEP ? p->map_size - off : UNMAP_STEP;

		if (!keep && madvise((char *)p->map + off, n, MADV_REMOVE))
			vlog(LOG_WARNING, "ring %u: could not free its pages: %s", p->ring_id,
			     strerror(errno));
		munmap((char *)p->map + off, n);
	}
}

static void unix_ring_release(struct ring_place *p)
{
	if (p->keep_fd >= 0)
		close(p->keep_fd);
	p->keep_fd = -1;
	close(p->wake_fd);
	p->map = NULL;
	p->wake_fd = -1;
}

static void unix_ended(struct session *ss)
{
	struct conn *cn = ss->carrier;

	for (struct conn **pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == cn) {
			*pp = cn->next;
			break;
		}
	}
	/*
	 * Out of the epoll set first: closing does that only when no other
	 * descriptor shares the socket, and a filter compile's child
	 * (bpfc.c) holds copies of all of vcapd's for a moment after fork.
	 * A registration that outlived the close would report the peer's
	 * hang-up to a freed conn, or to the next one allocated there.
	 */
	loop_del(cn->loop, cn->fd);
	close(cn->fd);
	free(cn);
}

/*
 * While a request is answered off the control thread, the connection is
 * watched for its hang-up only: the next request waits in the socket.
 */
static void unix_pause(struct session *ss, bool paused)
{
	struct conn *cn = ss->carrier;

	loop_mod(cn->loop, cn->fd, paused ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP, &cn->watch);
}

static void unix_fail(struct session *ss, const char *why)
{
	session_end(ss, why);
}

static const struct session_ops unix_ops = {
	.kind = "unix",
	.charges_ring_memory = true,
	.send = unix_send,
	.ring_place = unix_ring_place,
	.ring_unmap = unix_ring_unmap,
	.ring_release = unix_ring_release,
	.pause = unix_pause,
	.fail = unix_fail,
	.ended = unix_ended,
};

/* ---- connections ------------------------------------------------------------ */

/* A connection over its account's session limit: its HELLO gets the reason, then it ends. */
static void refuse(struct conn *cn, const void *buf, size_t len)
{
	static _Alignas(8) uint8_t tx[VCAP_MSG_MAX];
	struct vcap_msg req, reply;
	char why[128];
	ssize_t n;

	if (!vcap_msg_decode(buf, len, &req, why, sizeof(why))) {
		vcap_msg_error(&reply, &req, -EMFILE, "%s", cn->refuse);
		n = vcap_msg_encode(&reply, tx, sizeof(tx));
		if (n > 0)
			(void)vcap_unix_send(cn->fd, tx, (size_t)n, NULL, 0);
	}
	session_end(cn->ss, cn->refuse);
}

static void conn_event(struct loop_watch *w, uint32_t events)
{
	struct conn *cn = (struct conn *)w;
	ssize_t n;

	if (cn->closing) {
		session_end(cn->ss, cn->closing);
		return;
	}
	/*
	 * Read before looking at HUP: a client may send its last request and
	 * exit; it still gets handled.
	 */
	if (!(events & EPOLLIN)) {
		session_end(cn->ss, NULL);
		return;
	}
	n = vcap_unix_recv(cn->fd, rx_buf, sizeof(rx_buf), NULL, NULL);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		session_end(cn->ss, n == 0 ? NULL : "receive failed (or unasked-for descriptors)");
		return;
	}
	if (cn->refuse[0]) {
		refuse(cn, rx_buf, (size_t)n);
		return;
	}
	if (session_request(cn->ss, rx_buf, (size_t)n))
		session_end(cn->ss, "malformed message or failed reply");
	/* a request answered later paused the connection (unix_pause) */
}

static void accept_all(struct loop_watch *w, uint32_t events)
{
	struct listener *li = (struct listener *)w;
	struct vcapd *d = li->d;
	struct ucred cred;
	struct session *ss;
	struct conn *cn;
	int fd;

	(void)events;
	if (li->fd < 0) /* unix_unserve'd earlier in this loop round */
		return;
	while ((fd = vcap_unix_accept(li->fd, &cred)) >= 0) {
		if (d->n_sessions >= d->limits.max_sessions) {
			vlog(LOG_WARNING, "refusing a session: %u sessions is the limit",
			     d->limits.max_sessions);
			close(fd);
			continue;
		}
		cn = calloc(1, sizeof(*cn));
		ss = cn ? session_new(d, &unix_ops, cn) : NULL;
		if (!ss) {
			free(cn);
			close(fd);
			continue;
		}
		cn->fd = fd;
		cn->loop = li->loop;
		cn->ss = ss;
		cn->via = li->via;
		cn->since_ns = mono_ns();
		cn->watch.on_event = conn_event;
		ss->cred = cred;
		snprintf(ss->client, sizeof(ss->client), "pid %d", (int)ss->cred.pid);
		policy_classify(d, ss, li->via);
		if (!ss->acct) {
			session_end(ss, "out of memory for its account");
			continue;
		}
		if (account_session_begin(ss->acct, cn->refuse, sizeof(cn->refuse))) {
			vlog(LOG_WARNING, "refusing a session of pid %d: %s", (int)cred.pid,
			     cn->refuse);
			account_release(d, ss->acct);
			ss->acct = NULL; /* never charged */
		}
		if (loop_add(li->loop, fd, EPOLLIN | EPOLLRDHUP, &cn->watch)) {
			session_end(ss, NULL); /* closes fd, frees cn */
			continue;
		}
		cn->next = conns;
		conns = cn;
	}
}

void unix_each(void (*fn)(void *arg, struct session *ss, int fd, struct tenant *via), void *arg)
{
	for (struct conn *cn = conns; cn; cn = cn->next)
		fn(arg, cn->ss, cn->fd, cn->via);
}

struct session *unix_adopt(struct vcapd *d, struct loop *l, int fd, struct tenant *via,
			   const struct ucred *cred)
{
	struct conn *cn = calloc(1, sizeof(*cn));
	struct session *ss = cn ? session_new(d, &unix_ops, cn) : NULL;

	if (!ss) {
		free(cn);
		return NULL;
	}
	cn->fd = fd;
	cn->loop = l;
	cn->ss = ss;
	cn->via = via;
	cn->since_ns = mono_ns();
	cn->watch.on_event = conn_event;
	ss->cred = *cred;
	snprintf(ss->client, sizeof(ss->client), "pid %d", (int)cred->pid);
	policy_classify(d, ss, via);
	if (!ss->acct || loop_add(l, fd, EPOLLIN | EPOLLRDHUP, &cn->watch)) {
		/* nothing charged yet: the caller closes fd */
		if (ss->acct)
			account_release(d, ss->acct);
		d->n_sessions--;
		free(ss);
		free(cn);
		return NULL;
	}
	/* it was admitted once: the account's limit is not asked again */
	account_session_charge(ss->acct);
	cn->next = conns;
	conns = cn;
	return ss;
}

/*
 * Shut down connections past their HELLO deadline.  Shut down, not ended
 * here: another connection's event may wait later in this loop round, so
 * each ends from its own handler (loop.h), which the shutdown wakes.
 */
static void sweep(struct loop_watch *w, uint32_t events)
{
	uint64_t now = mono_ns(), deadline = sweep_d->limits.hello_timeout_ms * 1000000ull;

	(void)w;
	(void)events;
	for (struct conn *cn = conns; cn; cn = cn->next) {
		if (cn->closing || cn->ss->peer.hello || now - cn->since_ns < deadline)
			continue;
		cn->closing = "no HELLO within limit hello-timeout-ms";
		shutdown(cn->fd, SHUT_RDWR);
	}
}

int unix_listen(const char *path, const struct socket_perm *perm, char *err, size_t err_len)
{
	/* born 0600 (umask), then given away: never a moment anyone else may connect */
	mode_t old = umask(0177);
	int fd = vcap_unix_listen(path);

	umask(old);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", path,
			 fd == -EADDRINUSE ? "another vcapd is already listening there"
					   : strerror(-fd));
		return fd;
	}
	if (chown(path, (uid_t)perm->uid, (gid_t)perm->gid) || chmod(path, perm->mode)) {
		int rc = -errno;

		snprintf(err, err_len, "%s: owner %ld, group %ld, mode %04o: %s", path, perm->uid,
			 perm->gid, perm->mode, strerror(errno));
		close(fd);
		unlink(path);
		return rc;
	}
	return fd;
}

int unix_serve(struct vcapd *d, struct loop *l, int listen_fd, struct tenant *via)
{
	struct listener *li = calloc(1, sizeof(*li));
	int rc;

	if (!li)
		return -ENOMEM;
	if (!sweep_d) {
		unsigned period = d->limits.hello_timeout_ms / 4;

		sweep_watch.on_event = sweep;
		rc = loop_every(l, period < 10 ? 10 : period > 1000 ? 1000 : period, &sweep_watch);
		if (rc) {
			free(li);
			return rc;
		}
		sweep_d = d;
	}
	*li = (struct listener){ .watch.on_event = accept_all, .d = d, .loop = l, .fd = listen_fd,
				 .via = via };
	rc = loop_add(l, listen_fd, EPOLLIN, &li->watch);
	if (rc) {
		free(li);
		return rc;
	}
	li->next = listeners;
	listeners = li;
	return 0;
}

static void free_listener(void *li)
{
	free(li);
}

void unix_unserve(int listen_fd)
{
	for (struct listener **pp = &listeners; *pp; pp = &(*pp)->next) {
		struct listener *li = *pp;

		if (li->fd != listen_fd)
			continue;
		*pp = li->next;
		loop_del(li->loop, listen_fd);
		li->fd = -1;
		/* an event of this round may still name it (loop.h) */
		if (loop_after(li->loop, free_listener, li))
			vlog(LOG_ERR, "out of memory: a listener is leaked");
		return;
	}
}

unsigned unix_reclassify(struct vcapd *d, bool (*changed)(const struct tenant *t),
			 const char *why)
{
	unsigned n = 0;

	for (struct conn *cn = conns; cn; cn = cn->next) {
		struct tenant *now = policy_tenant_of(d, cn->ss->cred.uid, cn->via);

		if (cn->closing || (now == cn->ss->tenant && !(now && changed(now))))
			continue;
		/* ended from its own handler, which the shutdown wakes (loop.h) */
		cn->closing = why;
		shutdown(cn->fd, SHUT_RDWR);
		n++;
	}
	return n;
}

void unix_end_all(void)
{
	atomic_store(&shutting_down, true);
	while (conns)
		session_end(conns->ss, NULL);
	while (listeners) {
		struct listener *li = listeners;

		listeners = li->next;
		free(li); /* the socket is main.c's */
	}
	sweep_d = NULL;
}
