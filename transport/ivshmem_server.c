/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshmem_server.c - the ivshmem server protocol for one VM (see the header).
 */
#include "ivshmem_server.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define TAG_LISTEN UINT64_MAX

/*
 * Descriptors that messages queued for a slow client refer to.  Counted
 * references rather than dup()s, so a queue costs memory, not descriptors,
 * and a peer that leaves while another client's queue still announces it
 * keeps its eventfds open until that announcement is sent.
 */
struct ivs_fds {
	unsigned refs, n;
	int fd[];
};

/* One message waiting for a slow client: val, with fds->fd[idx] if fds. */
struct ivs_msg {
	int64_t val;
	struct ivs_fds *fds;
	unsigned idx;
};

struct ivs_peer {
	int conn;                  /* -1: slot free */
	uint16_t id;
	pid_t pid;
	bool want_out;             /* EPOLLOUT armed: the queue is not empty */
	const char *doomed;        /* set: drop at the next reap, this is why */
	struct ivs_fds *efds;      /* eventfds that interrupt this peer's vectors */
	struct ivs_msg *q;         /* ring of unsent messages */
	unsigned q_head, q_len, q_cap;
};

struct ivshmem_server {
	int lsock, ep;
	int spare;                 /* given up to refuse a client when out of descriptors */
	struct ivs_fds *shm;       /* one descriptor: the memfd */
	size_t shm_size;
	unsigned vectors, max_peers;
	uint16_t self_id;
	unsigned next_id;          /* see new_id() */
	struct ivs_fds *self;      /* vcapd's own eventfds, one per vector */
	ivshmem_server_cb *cb;
	void *cb_arg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ivs_peer *peers;
};

static int fail(char *err, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void report(struct ivshmem_server *s, enum ivshmem_server_event_type type, int peer,
		   pid_t pid, const char *why)
{
	struct ivshmem_server_event ev = { .type = type, .peer = peer, .pid = pid, .why = why };

	if (s->cb)
		s->cb(s->cb_arg, &ev);
}

/* ------------------------------------------------------------------ descriptors */

static struct ivs_fds *fds_new(unsigned n)
{
	struct ivs_fds *f = malloc(sizeof(*f) + sizeof(int) * n);

	if (!f)
		return NULL;
	f->refs = 1;
	f->n = n;
	for (unsigned i = 0; i < n; i++)
		f->fd[i] = -1;
	return f;
}

/* n eventfds, or NULL. */
static struct ivs_fds *eventfds_new(unsigned n)
{
	struct ivs_fds *f = fds_new(n);

	for (unsigned i = 0; f && i < n; i++) {
		f->fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (f->fd[i] < 0) {
			for (unsigned j = 0; j < i; j++)
				close(f->fd[j]);
			free(f);
			return NULL;
		}
	}
	return f;
}

static void fds_put(struct ivs_fds *f)
{
	if (!f || --f->refs)
		return;
	for (unsigned i = 0; i < f->n; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	free(f);
}

/* ------------------------------------------------------------------ sending */

static int send_now(int sock, int64_t val, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	int64_t le = (int64_t)htole64((uint64_t)val);
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		ctl.h.cmsg_level = SOL_SOCKET;
		ctl.h.cmsg_type = SCM_RIGHTS;
		ctl.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&ctl.h), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/*
	 * 8 bytes on a stream socket go whole or not at all in practice; a
	 * short write would leave the client mid-message with no way to
	 * resynchronise, so it ends the connection like any error.
	 */
	return n == (ssize_t)sizeof(le) ? 0 : -EPROTO;
}

static void arm_out(struct ivshmem_server *s, struct ivs_peer *p, bool out)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0),
		.data.u64 = (uint64_t)(p - s->peers),
	};

	if (p->want_out == out)
		return;
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, p->conn, &ev) == 0)
		p->want_out = out;
	else if (!p->doomed)
		p->doomed = "epoll_ctl failed";
}

static int enqueue(struct ivs_peer *p, int64_t val, struct ivs_fds *fds, unsigned idx)
{
	struct ivs_msg *m;

	if (p->q_len == p->q_cap) {
		unsigned cap = p->q_cap ? p->q_cap * 2 : 64;
		struct ivs_msg *q;

		if (p->q_len >= IVSHMEM_SERVER_QUEUE_MAX)
			return -ENOBUFS;
		q = malloc(sizeof(*q) * cap);
		if (!q)
			return -ENOMEM;
		/* Unroll the ring into the new array, oldest first. */
		for (unsigned i = 0; i < p->q_len; i++)
			q[i] = p->q[(p->q_head + i) % p->q_cap];
		free(p->q);
		p->q = q;
		p->q_cap = cap;
		p->q_head = 0;
	}
	m = &p->q[(p->q_head + p->q_len) % p->q_cap];
	m->val = val;
	m->fds = fds;
	m->idx = idx;
	if (fds)
		fds->refs++;
	p->q_len++;
	return 0;
}

/* Send what the socket takes now; arm EPOLLOUT for the rest. */
static void flush(struct ivshmem_server *s, struct ivs_peer *p)
{
	while (p->q_len && !p->doomed) {
		struct ivs_msg *m = &p->q[p->q_head];
		int rc = send_now(p->conn, m->val, m->fds ? m->fds->fd[m->idx] : -1);

		if (rc == -EAGAIN)
			break;
		if (rc) {
			p->doomed = rc == -EPIPE || rc == -ECONNRESET ? "hung up" : "send failed";
			break;
		}
		fds_put(m->fds);
		p->q_head = (p->q_head + 1) % p->q_cap;
		p->q_len--;
	}
	if (!p->q_len) {
		/* A backlog is rare (a client starting up): do not keep its memory. */
		free(p->q);
		p->q = NULL;
		p->q_head = p->q_cap = 0;
	}
	arm_out(s, p, p->q_len != 0 && !p->doomed);
}

/*
 * Send one message to p, with fds->fd[idx] if fds: now if the socket takes
 * it, else after what is queued.
 */
static void send_msg(struct ivshmem_server *s, struct ivs_peer *p, int64_t val,
		     struct ivs_fds *fds, unsigned idx)
{
	int rc;

	if (p->doomed)
		return;
	if (!p->q_len) {
		rc = send_now(p->conn, val, fds ? fds->fd[idx] : -1);
		if (rc == 0)
			return;
		if (rc != -EAGAIN) {
			p->doomed = rc == -EPIPE || rc == -ECONNRESET ? "hung up" : "send failed";
			return;
		}
	}
	rc = enqueue(p, val, fds, idx);
	if (rc) {
		p->doomed = rc == -ENOBUFS ? "does not read its socket (queue full)"
					    : "out of memory for its queue";
		return;
	}
	arm_out(s, p, true);
}

/* Connect notifications: every vector of peer `id` (its eventfds efds) to p. */
static void send_peer_fds(struct ivshmem_server *s, struct ivs_peer *p, uint16_t id,
			  struct ivs_fds *efds)
{
	for (unsigned v = 0; v < s->vectors; v++)
		send_msg(s, p, id, efds, v);
}

/* ------------------------------------------------------------------ peers */

static struct ivs_peer *find_peer(const struct ivshmem_server *s, unsigned id)
{
	for (unsigned i = 0; i < s->max_peers; i++)
		if (s->peers[i].conn >= 0 && s->peers[i].id == id)
			return &s->peers[i];
	return NULL;
}

static void free_peer(struct ivshmem_server *s, struct ivs_peer *p)
{
	/*
	 * Explicitly: close() alone leaves the registration in place while a
	 * forked child still holds the socket, and the slot may be reused.
	 */
	epoll_ctl(s->ep, EPOLL_CTL_DEL, p->conn, NULL);
	close(p->conn);
	p->conn = -1;
	fds_put(p->efds);
	p->efds = NULL;
	for (unsigned i = 0; i < p->q_len; i++)
		fds_put(p->q[(p->q_head + i) % p->q_cap].fds);
	free(p->q);
	p->q = NULL;
	p->q_head = p->q_len = p->q_cap = 0;
	p->want_out = false;
	p->doomed = NULL;
}

/*
 * Drop every doomed peer and tell the others it left.  Telling them may
 * doom another (its socket failed), hence the loop.
 */
static void reap(struct ivshmem_server *s)
{
	bool again = true;

	while (again) {
		again = false;
		for (unsigned i = 0; i < s->max_peers; i++) {
			struct ivs_peer *p = &s->peers[i];
			const char *why = p->doomed;
			uint16_t id = p->id;
			pid_t pid = p->pid;

			if (p->conn < 0 || !why)
				continue;
			free_peer(s, p);
			for (unsigned j = 0; j < s->max_peers; j++)
				if (s->peers[j].conn >= 0)
					send_msg(s, &s->peers[j], id, NULL, 0);
			report(s, IVSHMEM_PEER_LEFT, id, pid, why);
			again = true;
		}
	}
}

/*
 * The id for a new client.  QEMU 7.2 frees a peer's eventfd table when told
 * the peer left and writes into the freed table if that id connects again,
 * so an id is never reused while any client that saw it leave is still
 * connected: ids count up from 1 and start over only when nobody is
 * connected.  With one client per socket a VM therefore always gets the
 * same id, which a QEMU reconnecting after a server restart relies on.
 * Id 0 is never used: to a QEMU that reconnects, the protocol version (0)
 * reads as "peer 0 left".
 */
static int new_id(struct ivshmem_server *s)
{
	bool anyone = false;

	for (unsigned i = 0; i < s->max_peers; i++)
		anyone |= s->peers[i].conn >= 0;
	if (!anyone)
		s->next_id = 1;
	while (s->next_id <= UINT16_MAX) {
		unsigned id = s->next_id++;

		if (id != s->self_id)
			return (int)id;
	}
	return -1;
}

static pid_t peer_pid(int sock)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &l))
		return 0;
	return cr.pid;
}

static void accept_one(struct ivshmem_server *s, int conn)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	pid_t pid = peer_pid(conn);
	struct ivs_peer *p = NULL;
	int id;

	for (unsigned i = 0; i < s->max_peers && !p; i++)
		if (s->peers[i].conn < 0)
			p = &s->peers[i];
	if (!p) {
		close(conn);
		report(s, IVSHMEM_PEER_REFUSED, -1, pid, "peer limit reached");
		return;
	}
	id = new_id(s);
	if (id < 0) {
		close(conn);
		report(s, IVSHMEM_PEER_REFUSED, -1, pid,
		       "peer ids used up while clients stay connected");
		return;
	}
	p->efds = eventfds_new(s->vectors);
	if (!p->efds) {
		close(conn);
		report(s, IVSHMEM_PEER_REFUSED, -1, pid, "cannot create its eventfds");
		return;
	}
	ev.data.u64 = (uint64_t)(p - s->peers);
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, conn, &ev)) {
		fds_put(p->efds);
		p->efds = NULL;
		close(conn);
		report(s, IVSHMEM_PEER_REFUSED, -1, pid, "epoll_ctl failed");
		return;
	}
	p->conn = conn;
	p->id = (uint16_t)id;
	p->pid = pid;

	/* Steps 1-3: version, id, shared memory. */
	send_msg(s, p, IVSHMEM_PROTOCOL_VERSION, NULL, 0);
	send_msg(s, p, p->id, NULL, 0);
	send_msg(s, p, -1, s->shm, 0);
	/* Step 4: the other peers, vcapd first. */
	send_peer_fds(s, p, s->self_id, s->self);
	for (unsigned i = 0; i < s->max_peers; i++) {
		struct ivs_peer *o = &s->peers[i];

		if (o != p && o->conn >= 0)
			send_peer_fds(s, p, o->id, o->efds);
	}
	/* Step 5: its own interrupt eventfds. */
	send_peer_fds(s, p, p->id, p->efds);
	/* And the newcomer to everybody else. */
	for (unsigned i = 0; i < s->max_peers; i++) {
		struct ivs_peer *o = &s->peers[i];

		if (o != p && o->conn >= 0)
			send_peer_fds(s, o, p->id, p->efds);
	}
	/* Even if a send already failed: the reap that follows reports it left. */
	report(s, IVSHMEM_PEER_JOINED, p->id, pid, NULL);
}

static void accept_all(struct ivshmem_server *s)
{
	/* A bounded batch: a connect storm must not starve the caller's loop. */
	for (int i = 0; i < 16; i++) {
		int conn = accept4(s->lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (conn < 0 && (errno == EMFILE || errno == ENFILE) && s->spare >= 0) {
			/*
			 * Out of descriptors: the connection would stay pending and
			 * the level-triggered listening socket would spin the caller's
			 * loop.  Give up the spare descriptor to refuse it properly.
			 */
			close(s->spare);
			conn = accept4(s->lsock, NULL, NULL, SOCK_CLOEXEC);
			if (conn >= 0) {
				pid_t pid = peer_pid(conn);

				close(conn);
				report(s, IVSHMEM_PEER_REFUSED, -1, pid, "out of file descriptors");
			}
			s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
			continue;
		}
		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN: done */
		}
		accept_one(s, conn);
	}
}

/* The client's socket is readable or hung up: either way it is leaving. */
static void conn_event(struct ivs_peer *p, uint32_t events)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} ctl;
	char byte[64];
	struct iovec iov = { .iov_base = byte, .iov_len = sizeof(byte) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	ssize_t n;

	if (p->doomed || !(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	do
		n = recvmsg(p->conn, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	/* Never keep a descriptor a client pushed at us. */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
	if (n > 0)
		p->doomed = "sent data (QEMU never writes to an ivshmem server)";
	else if (n == 0)
		p->doomed = "hung up";
	else if (errno != EAGAIN)
		p->doomed = errno == ECONNRESET ? "hung up" : "recv failed";
	else if (events & (EPOLLHUP | EPOLLERR))
		p->doomed = "hung up";
}

int ivshmem_server_dispatch(struct ivshmem_server *s)
{
	struct epoll_event evs[32];
	int n;

	for (int round = 0; round < 8; round++) {
		n = epoll_wait(s->ep, evs, 32, 0);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		for (int i = 0; i < n; i++) {
			struct ivs_peer *p;

			if (evs[i].data.u64 == TAG_LISTEN) {
				accept_all(s);
				continue;
			}
			p = &s->peers[evs[i].data.u64];
			if (p->conn < 0)
				continue; /* freed earlier in this batch */
			if (evs[i].events & EPOLLOUT)
				flush(s, p);
			conn_event(p, evs[i].events);
		}
		reap(s);
		if (n < 32)
			break;
	}
	return 0;
}

/* ------------------------------------------------------------------ setup */

static int check_shm(int fd, size_t *size, char *err, size_t len)
{
	const int want = F_SEAL_SHRINK | F_SEAL_GROW;
	struct stat st;
	int fl, seals;

	if (fd < 0 || fstat(fd, &st))
		return fail(err, len, -EBADF, "shared memory: bad descriptor %d", fd);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
		return fail(err, len, -EINVAL,
			    "shared memory: descriptor must be open read-write (QEMU maps it so)");
	if (st.st_size < (off_t)IVSHMEM_SERVER_SHM_MIN || (st.st_size & (st.st_size - 1)))
		return fail(err, len, -EINVAL,
			    "shared memory: size %lld is not a power of two of at least %u bytes "
			    "(it becomes PCI BAR2, and QEMU maps only power-of-two BARs)",
			    (long long)st.st_size, IVSHMEM_SERVER_SHM_MIN);
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & want) != want) {
		/* QEMU gets this very descriptor: a truncate would SIGBUS vcapd. */
		if (fcntl(fd, F_ADD_SEALS, want))
			return fail(err, len, -EPERM,
				    "shared memory: cannot seal it against resizing (%s); create "
				    "it with memfd_create(MFD_ALLOW_SEALING)",
				    strerror(errno));
	}
	*size = (size_t)st.st_size;
	return 0;
}

static int check_limits(const struct ivshmem_server_cfg *cfg, unsigned peers, char *err,
			size_t len)
{
	/* listen, epoll, shm, spare + own eventfds + per client (socket + eventfds) */
	unsigned long need = 4 + cfg->vectors + (unsigned long)peers * (1 + cfg->vectors);
	struct rlimit rl;

	if (cfg->vectors < 1 || cfg->vectors > IVSHMEM_SERVER_MAX_VECTORS)
		return fail(err, len, -EINVAL, "vectors %u out of range 1..%u", cfg->vectors,
			    IVSHMEM_SERVER_MAX_VECTORS);
	if (peers > IVSHMEM_SERVER_MAX_PEERS)
		return fail(err, len, -EINVAL, "max_peers %u out of range 1..%u", peers,
			    IVSHMEM_SERVER_MAX_PEERS);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    need + 16 > rl.rlim_cur)
		return fail(err, len, -EMFILE,
			    "%u peers x %u vectors need about %lu descriptors; RLIMIT_NOFILE "
			    "is %llu: raise it or use fewer",
			    peers, cfg->vectors, need + 16, (unsigned long long)rl.rlim_cur);
	return 0;
}

static int listen_on(struct ivshmem_server *s, const char *path, mode_t mode, char *err,
		     size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return fail(err, len, -ENAMETOOLONG, "socket path missing or longer than %zu bytes",
			    sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, len, -errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int probe;

		rc = -errno;
		if (rc != -EADDRINUSE)
			goto fail;
		/* A socket file is there: refuse if someone answers, else reuse it. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			return fail(err, len, -EADDRINUSE, "%s: another server is listening there",
				    path);
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			rc = -errno;
			goto fail;
		}
	}
	if (mode && chmod(path, mode)) {
		rc = -errno;
		unlink(path);
		goto fail;
	}
	if (listen(fd, 16)) {
		rc = -errno;
		unlink(path);
		goto fail;
	}
	s->lsock = fd;
	strcpy(s->path, path);
	return 0;
fail:
	close(fd);
	return fail(err, len, rc, "%s: %s", path, strerror(-rc));
}

/*
 * A server with no descriptors yet but its spare (what open and adopt
 * share): peers slots empty, the callbacks of cfg.  NULL: out of memory.
 */
static struct ivshmem_server *server_alloc(const struct ivshmem_server_cfg *cfg, unsigned peers,
					   size_t shm_size, unsigned vectors)
{
	struct ivshmem_server *s = calloc(1, sizeof(*s));

	if (s)
		s->peers = calloc(peers, sizeof(*s->peers));
	if (!s || !s->peers) {
		free(s);
		return NULL;
	}
	s->lsock = s->ep = -1;
	s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->shm_size = shm_size;
	s->vectors = vectors;
	s->max_peers = peers;
	s->cb = cfg->cb;
	s->cb_arg = cfg->cb_arg;
	for (unsigned i = 0; i < peers; i++)
		s->peers[i].conn = -1;
	return s;
}

int ivshmem_server_open(struct ivshmem_server **out, const struct ivshmem_server_cfg *cfg,
			char *err, size_t len)
{
	unsigned peers = cfg->max_peers ? cfg->max_peers : 1;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_LISTEN };
	struct ivshmem_server *s;
	size_t shm_size = 0;
	int rc;

	*out = NULL;
	rc = check_limits(cfg, peers, err, len);
	if (rc)
		return rc;
	rc = check_shm(cfg->shm_fd, &shm_size, err, len);
	if (rc)
		return rc;

	s = server_alloc(cfg, peers, shm_size, cfg->vectors);
	if (!s)
		return fail(err, len, -ENOMEM, "out of memory");
	s->self_id = cfg->self_id ? cfg->self_id : IVSHMEM_SERVER_SELF_ID;

	s->shm = fds_new(1);
	if (!s->shm) {
		rc = fail(err, len, -ENOMEM, "out of memory");
		goto fail;
	}
	s->shm->fd[0] = fcntl(cfg->shm_fd, F_DUPFD_CLOEXEC, 0);
	if (s->shm->fd[0] < 0) {
		rc = fail(err, len, -errno, "dup shared memory: %s", strerror(errno));
		goto fail;
	}
	s->self = eventfds_new(s->vectors);
	if (!s->self) {
		rc = fail(err, len, -errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0) {
		rc = fail(err, len, -errno, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	rc = listen_on(s, cfg->path, cfg->mode, err, len);
	if (rc)
		goto fail;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lsock, &ev)) {
		rc = fail(err, len, -errno, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	ivshmem_server_close(s);
	return rc;
}

void ivshmem_server_close(struct ivshmem_server *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->max_peers; i++)
		if (s->peers[i].conn >= 0)
			free_peer(s, &s->peers[i]);
	fds_put(s->self);
	if (s->lsock >= 0) {
		close(s->lsock);
		if (s->path[0])
			unlink(s->path);
	}
	if (s->ep >= 0)
		close(s->ep);
	if (s->spare >= 0)
		close(s->spare);
	fds_put(s->shm);
	free(s->peers);
	free(s);
}

/* ------------------------------------------------------------------ accessors */

int ivshmem_server_fd(const struct ivshmem_server *s)
{
	return s->ep;
}

uint16_t ivshmem_server_self_id(const struct ivshmem_server *s)
{
	return s->self_id;
}

int ivshmem_server_self_fd(const struct ivshmem_server *s, unsigned v)
{
	return v < s->vectors ? s->self->fd[v] : -EINVAL;
}

uint64_t ivshmem_server_self_drain(struct ivshmem_server *s, unsigned v)
{
	uint64_t n;

	if (v >= s->vectors || read(s->self->fd[v], &n, sizeof(n)) != (ssize_t)sizeof(n))
		return 0;
	return n;
}

int ivshmem_server_notify(struct ivshmem_server *s, unsigned peer, unsigned v)
{
	const uint64_t one = 1;
	struct ivs_peer *p;
	ssize_t n;

	if (v >= s->vectors)
		return -EINVAL;
	p = find_peer(s, peer);
	if (!p || p->doomed)
		return -ENOENT;
	do
		n = write(p->efds->fd[v], &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the counter is saturated, so an interrupt is pending anyway. */
	if (n < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int ivshmem_server_peer_fd(const struct ivshmem_server *s, unsigned peer, unsigned v)
{
	struct ivs_peer *p;

	if (v >= s->vectors)
		return -EINVAL;
	p = find_peer(s, peer);
	if (!p || p->doomed)
		return -ENOENT;
	return p->efds->fd[v];
}

unsigned ivshmem_server_peers(const struct ivshmem_server *s, uint16_t *ids, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->max_peers; i++) {
		if (s->peers[i].conn < 0)
			continue;
		if (n < max)
			ids[n] = s->peers[i].id;
		n++;
	}
	return n;
}

/* ------------------------------------------------------------------ handover */

int ivshmem_server_save(const struct ivshmem_server *s, struct ivshmem_server_saved *out,
			char *err, size_t len)
{
	memset(out, 0, sizeof(*out));
	out->lsock = s->lsock;
	out->shm_fd = s->shm->fd[0];
	out->vectors = s->vectors;
	out->max_peers = s->max_peers;
	out->self_id = s->self_id;
	out->next_id = s->next_id;
	for (unsigned v = 0; v < s->vectors; v++)
		out->self_fds[v] = s->self->fd[v];
	for (unsigned i = 0; i < s->max_peers; i++) {
		const struct ivs_peer *p = &s->peers[i];

		if (p->conn < 0)
			continue;
		/* a queued message would be lost, a doomed peer reported twice */
		if (p->q_len || p->doomed)
			return fail(err, len, -EAGAIN, "peer %u is %s: try again", p->id,
				    p->doomed ? "leaving" : "still being sent its setup");
		out->peers[out->n_peers].conn = p->conn;
		out->peers[out->n_peers].id = p->id;
		out->peers[out->n_peers].pid = p->pid;
		for (unsigned v = 0; v < s->vectors; v++)
			out->peers[out->n_peers].efds[v] = p->efds->fd[v];
		out->n_peers++;
	}
	return 0;
}

int ivshmem_server_adopt(struct ivshmem_server **out, const struct ivshmem_server_cfg *cfg,
			 const struct ivshmem_server_saved *st, char *err, size_t len)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_LISTEN };
	unsigned peers = cfg->max_peers ? cfg->max_peers : 1;
	struct ivshmem_server *s;
	size_t shm_size = 0;
	int rc;

	*out = NULL;
	if (st->vectors != cfg->vectors || st->max_peers != peers || st->n_peers > peers ||
	    st->vectors > IVSHMEM_SERVER_MAX_VECTORS)
		return fail(err, len, -EINVAL, "handed-over server has %u vectors and %u peers, "
			    "the configuration %u and %u", st->vectors, st->max_peers,
			    cfg->vectors, peers);
	rc = check_shm(st->shm_fd, &shm_size, err, len);
	if (rc)
		return rc;
	s = server_alloc(cfg, peers, shm_size, st->vectors);
	if (!s)
		return fail(err, len, -ENOMEM, "out of memory");
	s->self_id = st->self_id;
	s->next_id = st->next_id;
	s->shm = fds_new(1);
	s->self = fds_new(s->vectors);
	if (!s->shm || !s->self) {
		rc = fail(err, len, -ENOMEM, "out of memory");
		goto fail;
	}
	s->shm->fd[0] = st->shm_fd;
	for (unsigned v = 0; v < s->vectors; v++)
		s->self->fd[v] = st->self_fds[v];
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0) {
		rc = fail(err, len, -errno, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	s->lsock = st->lsock;
	snprintf(s->path, sizeof(s->path), "%s", cfg->path);
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lsock, &ev)) {
		rc = fail(err, len, -errno, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	for (unsigned i = 0; i < st->n_peers; i++) {
		struct ivs_peer *p = &s->peers[i];
		struct epoll_event pev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = i };

		p->efds = fds_new(s->vectors);
		if (!p->efds) {
			rc = fail(err, len, -ENOMEM, "out of memory");
			goto fail;
		}
		for (unsigned v = 0; v < s->vectors; v++)
			p->efds->fd[v] = st->peers[i].efds[v];
		p->conn = st->peers[i].conn;
		p->id = st->peers[i].id;
		p->pid = st->peers[i].pid;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, p->conn, &pev)) {
			rc = fail(err, len, -errno, "epoll_ctl: %s", strerror(errno));
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	/*
	 * The descriptors are the old vcapd's too, which goes on serving when
	 * this fails: close our copies, but never unlink its socket file.
	 */
	s->path[0] = '\0';
	ivshmem_server_close(s);
	return rc;
}
