/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcap-guestd - inside a VM, own the ivshmem device that leads to vcapd and
 * serve vcapd's unix-socket protocol to the guest's programs, so that any
 * number of them capture at once and libvcap takes its ordinary path.
 *
 *   vcap-guestd [--socket PATH] [--device PCI_ADDR] [--no-vfio] [--foreground]
 *               [--log-stderr]
 *
 * Why a relay: VFIO admits one opener of a device group, and a region has
 * one pair of control queues.  Without vcap-guestd one program at a time
 * can capture (libvcap's in-process guest mode, lib/guest.c).
 *
 * What it does with each request of a client (a SOCK_SEQPACKET session on
 * PATH, default VCAP_DEFAULT_SOCKET):
 *   HELLO       answered here, with the limits vcapd gave our own HELLO;
 *   OPEN        relayed; the reply gets two descriptors, as from vcapd on a
 *               host: [0] something to mmap the ring from (the VFIO device,
 *               or BAR2's sysfs resource2 in polling mode), with region_off
 *               rewritten to the ring's offset in that file, and [1] the
 *               ring's MSI-X eventfd (left out when polled: the client then
 *               polls the ring);
 *   CLOSE, SET_FILTER, STATS, RULE_*, FLOW_*
 *               relayed if the ring is the client's own, else refused as
 *               vcapd refuses another session's rings;
 *   STATUS      relayed; rings of our clients show the client's pid, uid
 *               and name instead of ours.
 * Requests go to vcapd one at a time under our own seq numbers
 * (lib/ctl_shm.c), each answered within a few hundred microseconds.
 *
 * Lifetimes: vcapd knows one session, ours; we know which client holds
 * which ring.  A client that hangs up or dies gets its rings CLOSEd.  If
 * vcapd resets the region (it dropped this guest), every ring is gone: all
 * clients are hung up, so their receives end with -EPIPE, and we attach to
 * the region again as soon as it is valid.
 *
 * Hot-unplug (vcapd replugs the device through QMP after a restart, or
 * `vcapctl vm detach`): the kernel asks for the device back through VFIO's
 * request IRQ (or, polling through sysfs, the device just goes).  We hang
 * up every client (they must unmap their rings: a mapping holds the device
 * too), close the device, wait for that device to be gone, and take the
 * next ivshmem device that appears, then serve again.
 *
 * Trust: a client is decoded exactly as vcapd decodes it (malformed: an
 * error reply, then hang-up) and never blocks us (non-blocking sockets; a
 * client that does not read its replies is dropped).  It does get the whole
 * of BAR2 (and with VFIO the device) to map its ring: ivshmem has one BAR,
 * so the socket is root's only (mode 0600).
 *
 * Without --foreground it returns once it serves (status 0) or has failed
 * (1), so `vcap-guestd && program` needs no waiting.  Logs go to stderr
 * with --foreground or --log-stderr, else to syslog.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <unistd.h>

#include "codec.h"
#include "internal.h"
#include "ivshmem_guest.h"
#include "serve.h"
#include "unix_carrier.h"
#include "vcap_shm.h"

#define MAX_CLIENTS 1024
#define TICK_S 1 /* look for a reset region, or retry attaching, this often */
#define SEEK_MS 100 /* without a device: look for the replugged one this often */
#define STATUS_RINGS_MAX (VCAP_MSG_MAX / sizeof(struct vcap_status_ring) + 1)

struct client {
	struct client *next;
	int fd;
	struct ucred cred;
	struct vcap_peer peer; /* the request core's (HELLO, features) */
	char name[VCAP_NAME_MAX + 1];
};

/* A ring vcapd opened for one of our clients. */
struct owned_ring {
	uint32_t id;
	struct client *owner;
};

struct guestd {
	const char *sock_path;
	const char *pci_addr;
	bool foreground;
	bool no_vfio;
	bool keep_stderr;

	struct vcap_ivshmem *dev;
	struct vcap_ctl *ctl; /* NULL while the region is unusable */
	struct vcap_msg_hello_reply limits;
	int shm_file;         /* what clients mmap rings from */
	uint64_t shm_file_off; /* where BAR2 starts in it */
	char lost_why[256];   /* why ctl is NULL */
	int stale_fd;         /* the device we gave back, until it is gone; else -1 */
	uint64_t last_beat;   /* the region's heartbeat at the last tick without ctl */

	int lock_fd;          /* VCAP_GUEST_LOCK, held for good */
	int listen_fd, ep, sig_fd, tick_fd;
	struct client *clients;
	unsigned n_clients;
	struct owned_ring *rings;
	unsigned n_rings, cap_rings;
};

/* Big and used one request at a time: a client's, and our own to vcapd. */
static struct vcap_serve_buf serve_buf;
static struct vcap_msg own_req, own_reply;
static _Alignas(8) uint8_t io_buf[VCAP_MSG_MAX];
static struct vcap_status_ring status_rings[STATUS_RINGS_MAX];
static bool log_stderr = true;

static void glog(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void glog(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (log_stderr) {
		fprintf(stderr, "vcap-guestd: ");
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(prio, fmt, ap);
	}
	va_end(ap);
}

/* ---- rings and their owners --------------------------------------------- */

static struct owned_ring *ring_find(struct guestd *g, uint32_t id)
{
	for (unsigned i = 0; i < g->n_rings; i++)
		if (g->rings[i].id == id)
			return &g->rings[i];
	return NULL;
}

static int ring_add(struct guestd *g, uint32_t id, struct client *cl)
{
	if (g->n_rings == g->cap_rings) {
		unsigned cap = g->cap_rings ? g->cap_rings * 2 : 16;
		struct owned_ring *r = realloc(g->rings, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		g->rings = r;
		g->cap_rings = cap;
	}
	g->rings[g->n_rings++] = (struct owned_ring){ .id = id, .owner = cl };
	return 0;
}

static void ring_forget(struct guestd *g, struct owned_ring *r)
{
	*r = g->rings[--g->n_rings];
}

/* ---- the region ----------------------------------------------------------- */

/* Open the channel, and close what programs before us left in vcapd. */
static int attach_region(struct guestd *g)
{
	int rc = vcap_ctl_shm_open(g->dev, "vcap-guestd", &g->ctl, &g->limits);

	if (!rc) {
		rc = vcap_ctl_shm_reclaim(g->ctl);
		if (rc > 0)
			glog(LOG_INFO, "closed %d ring(s) left in vcapd by earlier programs", rc);
		if (rc < 0)
			g->ctl->close(g->ctl);
	}
	if (rc < 0) {
		g->ctl = NULL;
		snprintf(g->lost_why, sizeof(g->lost_why), "%s", vcap_errmsg());
		return rc;
	}
	g->lost_why[0] = '\0';
	return 0;
}

/* Tell vcapd a ring is no longer wanted; it may already be gone. */
static void close_ring_in_vcapd(struct guestd *g, uint32_t id)
{
	int rc;

	if (!g->ctl)
		return;
	vcap_msg_init(&own_req, VCAP_APP_CAPTURE, VCAP_MSG_CLOSE);
	own_req.u.close.ring_id = id;
	rc = vcap_ctl_shm_exchange(g->ctl, &own_req, &own_reply);
	if (rc || own_reply.status)
		glog(LOG_WARNING, "ring %u: CLOSE: %s", id, rc ? vcap_errmsg() : own_reply.text);
}

static void client_drop(struct guestd *g, struct client *cl, const char *why, bool close_rings);

/*
 * Has the region's heartbeat moved since the last look (moved: any value
 * but the last seen)?  Attaching to a region whose vcapd is gone would
 * wait seconds for a HELLO reply, while the kernel may be asking for the
 * device back.
 */
static bool beating(struct guestd *g)
{
	const struct vcap_shm_hdr *h = vcap_ivshmem_shm(g->dev, NULL);
	uint64_t beat = atomic_load_explicit(&h->heartbeat, memory_order_relaxed);
	bool moved = beat != g->last_beat;

	g->last_beat = beat;
	return moved;
}

/*
 * vcapd reset the region: our session and every ring in it are gone.  Hang
 * up every client (their rings died with it) and attach again.
 */
static void region_lost(struct guestd *g, const char *why)
{
	glog(LOG_ERR, "%s; hanging up %u client(s)", why, g->n_clients);
	snprintf(g->lost_why, sizeof(g->lost_why), "%s", why);
	while (g->clients)
		client_drop(g, g->clients, "its rings went with the region", false);
	g->n_rings = 0;
	g->ctl->close(g->ctl);
	g->ctl = NULL;
	/* attached again at the next tick if vcapd's heartbeat goes on meanwhile */
	(void)beating(g);
	glog(LOG_INFO, "attaching again once vcapd's heartbeat goes on (or to a replugged device)");
}

static int req_tag; /* epoll tag of the device's release eventfd */

/* Tick every period_ms from now. */
static void set_tick(struct guestd *g, unsigned period_ms)
{
	struct timespec t = { .tv_sec = period_ms / 1000, .tv_nsec = (period_ms % 1000) * 1000000L };
	struct itimerspec its = { .it_interval = t, .it_value = t };

	if (g->tick_fd >= 0)
		timerfd_settime(g->tick_fd, 0, &its, NULL);
}

/* Open the device (the one asked for, or the first) and watch for its unplug. */
static int device_open(struct guestd *g, bool quiet)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &req_tag };
	char err[320];
	int rc = vcap_ivshmem_open(&g->dev, g->pci_addr, 0,
				   g->no_vfio ? VCAP_IVSHMEM_NO_VFIO : 0, err, sizeof(err));

	if (rc) {
		if (!quiet)
			glog(LOG_ERR, "%s", err);
		snprintf(g->lost_why, sizeof(g->lost_why), "%s", err);
		g->dev = NULL;
		return rc;
	}
	if (*vcap_ivshmem_why(g->dev))
		glog(LOG_INFO, "ivshmem device %s: no interrupts, polling (%s)",
		     vcap_ivshmem_pci_addr(g->dev), vcap_ivshmem_why(g->dev));
	else
		glog(LOG_INFO, "ivshmem device %s: %s, %u interrupt vectors",
		     vcap_ivshmem_pci_addr(g->dev), vcap_ivshmem_mode(g->dev),
		     vcap_ivshmem_vectors(g->dev));
	g->shm_file = vcap_ivshmem_shm_file(g->dev, &g->shm_file_off);
	if (g->ep >= 0 && vcap_ivshmem_release_fd(g->dev) >= 0)
		epoll_ctl(g->ep, EPOLL_CTL_ADD, vcap_ivshmem_release_fd(g->dev), &ev);
	return 0;
}

/*
 * The device is being unplugged (or is gone): hang up every client, close
 * it, and remember it, so that we wait for it to go before taking the next.
 */
static void device_release(struct guestd *g, const char *why)
{
	glog(LOG_WARNING, "ivshmem device %s: %s; hanging up %u client(s) and giving it back",
	     vcap_ivshmem_pci_addr(g->dev), why, g->n_clients);
	snprintf(g->lost_why, sizeof(g->lost_why), "the ivshmem device was unplugged (%s)", why);
	while (g->clients)
		client_drop(g, g->clients, "the device is being unplugged", false);
	g->n_rings = 0;
	if (g->ctl)
		g->ctl->close(g->ctl);
	g->ctl = NULL;
	if (g->stale_fd >= 0)
		close(g->stale_fd);
	g->stale_fd = vcap_ivshmem_watch(g->dev);
	vcap_ivshmem_close(g->dev); /* closing its release eventfd leaves the epoll set */
	g->dev = NULL;
	g->shm_file = -1;
	set_tick(g, SEEK_MS); /* the new device comes within a second of the old one's going */
}

/* No device: once the old one is gone, take the next that appears. */
static void device_retry(struct guestd *g)
{
	if (g->stale_fd >= 0) {
		if (!vcap_ivshmem_watch_gone(g->stale_fd))
			return;
		close(g->stale_fd);
		g->stale_fd = -1;
		glog(LOG_INFO, "the old ivshmem device is gone; waiting for a new one");
	}
	if (device_open(g, true))
		return;
	set_tick(g, TICK_S * 1000);
	if (attach_region(g) == 0)
		glog(LOG_INFO, "serving again on the new device (vcapd's limits: %u rings, "
		     "%u..%u bytes)", g->limits.max_rings, g->limits.ring_size_min,
		     g->limits.ring_size_max);
	else
		glog(LOG_ERR, "%s; trying again every %d s", g->lost_why, TICK_S);
}

static void tick(struct guestd *g)
{
	char prev[sizeof(g->lost_why)];
	uint64_t n;

	(void)!read(g->tick_fd, &n, sizeof(n));
	if (!g->dev) {
		device_retry(g);
		return;
	}
	if (vcap_ivshmem_gone(g->dev)) { /* sysfs polling has no release IRQ */
		device_release(g, "it was removed");
		return;
	}
	if (g->ctl) {
		if (vcap_ctl_shm_check(g->ctl))
			region_lost(g, vcap_errmsg());
		return;
	}
	if (!beating(g))
		return; /* vcapd is not there (yet): look again next tick */
	snprintf(prev, sizeof(prev), "%s", g->lost_why);
	if (attach_region(g) == 0)
		glog(LOG_INFO, "attached to the region again");
	else if (strcmp(prev, g->lost_why))
		glog(LOG_ERR, "%s; trying again every %d s", g->lost_why, TICK_S);
}

/* ---- clients ---------------------------------------------------------------- */

static void client_drop(struct guestd *g, struct client *cl, const char *why, bool close_rings)
{
	unsigned closed = 0;

	for (unsigned i = 0; i < g->n_rings;) {
		struct owned_ring *r = &g->rings[i];

		if (r->owner != cl) {
			i++;
			continue;
		}
		if (close_rings)
			close_ring_in_vcapd(g, r->id);
		ring_forget(g, r);
		closed++;
	}
	if (closed || why)
		glog(LOG_INFO, "client %s (pid %d) %s; %u ring(s) %s", cl->name, (int)cl->cred.pid,
		     why ? why : "hung up", closed, close_rings ? "closed" : "lost");
	for (struct client **pp = &g->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	close(cl->fd); /* also leaves the epoll set */
	g->n_clients--;
	free(cl);
}

static void client_accept(struct guestd *g)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct ucred cred;
	struct client *cl;
	int fd;

	while ((fd = vcap_unix_accept(g->listen_fd, &cred)) >= 0) {
		if (g->n_clients >= MAX_CLIENTS || !(cl = calloc(1, sizeof(*cl)))) {
			glog(LOG_WARNING, "refusing a client: %u clients", g->n_clients);
			close(fd);
			continue;
		}
		cl->fd = fd;
		cl->cred = cred;
		snprintf(cl->name, sizeof(cl->name), "pid %d", (int)cl->cred.pid);
		ev.data.ptr = cl;
		if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(cl);
			continue;
		}
		cl->next = g->clients;
		g->clients = cl;
		g->n_clients++;
	}
}

/*
 * Send m to vcapd under our seq and leave its answer in *reply under the
 * client's seq; a failure to get one becomes an error reply.
 * @return 0, or -EPIPE if the region was reset (the caller must not use
 * the client afterwards: region_lost has hung it up).
 */
static int relay(struct guestd *g, const struct vcap_msg *req, struct vcap_msg *reply)
{
	int rc;

	if (!g->ctl) {
		vcap_msg_error(reply, req, -ECONNREFUSED, "vcapd does not serve this VM now: %s",
			       g->lost_why);
		return 0;
	}
	own_req = *req; /* the channel stamps its own seq on it */
	rc = vcap_ctl_shm_exchange(g->ctl, &own_req, reply);
	if (rc == -EPIPE) {
		region_lost(g, vcap_errmsg());
		return -EPIPE;
	}
	if (rc)
		vcap_msg_error(reply, req, rc, "%s", vcap_errmsg());
	reply->seq = req->seq;
	return 0;
}

/* Our clients' rings carry their pid, uid and name rather than ours. */
static void rewrite_status(struct guestd *g, struct vcap_msg *reply)
{
	uint32_t n = reply->u.status_reply.n_rings;

	if (reply->status < 0 || !n || n > STATUS_RINGS_MAX)
		return;
	memcpy(status_rings, reply->rings, n * sizeof(status_rings[0]));
	for (uint32_t i = 0; i < n; i++) {
		struct vcap_status_ring *e = &status_rings[i];
		struct owned_ring *r = ring_find(g, e->ring_id);

		if (!r)
			continue;
		e->pid = (uint32_t)r->owner->cred.pid;
		e->uid = r->owner->cred.uid;
		memset(e->client, 0, sizeof(e->client));
		memcpy(e->client, r->owner->name, strnlen(r->owner->name, sizeof(e->client)));
	}
	reply->rings = status_rings;
}

/*
 * Hand the client the ring vcapd opened: descriptors to map it from and to
 * sleep on.  @return the number of descriptors, or 0 with *reply turned
 * into an error (the ring closed again).
 */
static int grant_ring(struct guestd *g, struct client *cl, const struct vcap_msg *m,
		      struct vcap_msg *reply, int *fds)
{
	struct vcap_msg_open_reply *r = &reply->u.open_reply;
	uint32_t id = r->ring_id;
	int nfds = 0, vfd, rc;
	void *mem;

	rc = vcap_ctl_shm_ring(g->ctl, r, &mem);
	if (!rc && ring_add(g, id, cl))
		rc = vcap_set_err(-ENOMEM, "vcap-guestd is out of memory");
	if (rc) {
		char why[VCAP_REASON_MAX];

		snprintf(why, sizeof(why), "%s", vcap_errmsg());
		glog(LOG_ERR, "ring %u: %s", id, why);
		close_ring_in_vcapd(g, id);
		vcap_msg_error(reply, m, rc, "%s", why);
		return 0;
	}
	fds[nfds++] = g->shm_file;
	vfd = r->vector ? vcap_ivshmem_vector_fd(g->dev, r->vector) : -1;
	if (vfd >= 0)
		fds[nfds++] = vfd;
	r->region_off += g->shm_file_off;
	glog(LOG_INFO, "ring %u: %s (pid %d) opened %s, %u bytes%s%s, %s", id, cl->name,
	     (int)cl->cred.pid, m->name, r->ring_size, m->text[0] ? ", filter " : "", m->text,
	     vfd >= 0 ? "interrupts" : "polled");
	return nfds;
}

/* ---- the request core's view of a client (proto/serve.h) ------------------ */

static struct guestd *the_guestd; /* one per process; the core passes clients */

static void serve_hello(void *ctx, const struct vcap_msg *req, struct vcap_msg_hello_reply *r)
{
	struct client *cl = ctx;
	uint32_t features = r->features;

	if (req->name[0])
		snprintf(cl->name, sizeof(cl->name), "%s", req->name);
	*r = the_guestd->limits;               /* what vcapd gave our own HELLO */
	r->features = features & the_guestd->limits.features; /* a relay: vcapd's too */
}

static bool serve_owns_ring(void *ctx, uint32_t id)
{
	struct owned_ring *r = ring_find(the_guestd, id);

	return r && r->owner == ctx;
}

static int serve_request(void *ctx, const struct vcap_msg *m, struct vcap_msg *reply, int *fds)
{
	struct guestd *g = the_guestd;
	struct owned_ring *r;
	uint32_t id = 0;

	if (relay(g, m, reply))
		return -1; /* the region was reset: every client is gone */
	if (reply->status < 0)
		return 0;
	if (m->type == VCAP_MSG_OPEN)
		return grant_ring(g, ctx, m, reply, fds);
	if (m->type == VCAP_MSG_CLOSE && vcap_msg_ring_id(m, &id) && (r = ring_find(g, id))) {
		glog(LOG_INFO, "ring %u: closed", id);
		ring_forget(g, r);
	}
	if (m->type == VCAP_MSG_STATUS)
		rewrite_status(g, reply);
	return 0;
}

static int serve_send(void *ctx, const void *buf, size_t len, const int *fds, int nfds)
{
	struct client *cl = ctx;

	return vcap_unix_send(cl->fd, buf, len, fds, nfds);
}

/* The descriptors we send (BAR2's file, vector eventfds) stay ours: no sent_fds. */
static const struct vcap_server_ops guestd_server = {
	.name = "vcap-guestd",
	.hello = serve_hello,
	.owns_ring = serve_owns_ring,
	.request = serve_request,
	.send = serve_send,
};

static void client_readable(struct guestd *g, struct client *cl)
{
	ssize_t n = vcap_unix_recv(cl->fd, io_buf, sizeof(io_buf), NULL, NULL);
	char why[96];
	int rc;

	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		client_drop(g, cl, n == 0 ? NULL : "receive failed", true);
		return;
	}
	rc = vcap_serve(&guestd_server, cl, &cl->peer, &serve_buf, io_buf, (size_t)n);
	switch (rc) {
	case 0:
	case -ENOTCONN: /* the region was reset: every client is gone */
		return;
	case -EBADMSG:
		glog(LOG_WARNING, "client %s (pid %d): %s", cl->name, (int)cl->cred.pid,
		     serve_buf.reply.text);
		client_drop(g, cl, "sent a malformed message", true);
		return;
	default: /* a full socket: the client sends requests without reading replies */
		snprintf(why, sizeof(why), "could not take a reply (%s)", strerror(-rc));
		client_drop(g, cl, why, true);
		return;
	}
}

/* ---- start-up and the loop --------------------------------------------- */

static int run(struct guestd *g)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[32];
	static int listen_tag, sig_tag, tick_tag;

	ev.data.ptr = &listen_tag;
	epoll_ctl(g->ep, EPOLL_CTL_ADD, g->listen_fd, &ev);
	ev.data.ptr = &sig_tag;
	epoll_ctl(g->ep, EPOLL_CTL_ADD, g->sig_fd, &ev);
	ev.data.ptr = &tick_tag;
	epoll_ctl(g->ep, EPOLL_CTL_ADD, g->tick_fd, &ev);
	for (;;) {
		int n = epoll_wait(g->ep, evs, 32, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &sig_tag)
				return 0;
			if (tag == &listen_tag) {
				client_accept(g);
			} else if (tag == &req_tag) {
				if (g->dev)
					device_release(g, "the kernel asks for it back (hot-unplug)");
				break; /* it dropped clients the other events may name */
			} else if (tag == &tick_tag) {
				tick(g);
				break; /* it may have dropped clients the other events name */
			} else {
				struct client *cl = tag;

				/* Read before HUP: the last request still gets an answer. */
				if (evs[i].events & EPOLLIN)
					client_readable(g, cl);
				else
					client_drop(g, cl, NULL, true);
				break; /* a reset may have freed clients named further on */
			}
		}
	}
}

/*
 * Without --foreground: fork, and let the parent exit once the child is
 * serving (status 0) or has failed (its message went to stderr, status 1),
 * so that `vcap-guestd && program` never races the socket.
 */
static int daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) == 1 && c == 0)
			_exit(0);
		_exit(1);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
	return 0;
}

static void detach_stdio(bool keep_stderr)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	if (!keep_stderr)
		dup2(fd, 2);
	if (fd > 2)
		close(fd);
	if (keep_stderr)
		return;
	log_stderr = false;
	openlog("vcap-guestd", LOG_PID, LOG_DAEMON);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vcap-guestd [--socket PATH] [--device PCI_ADDR] [--no-vfio]\n"
		"                   [--foreground] [--log-stderr]\n"
		"\n"
		"Inside a VM: serve vcapd's protocol on PATH to the guest's programs, through\n"
		"the VM's ivshmem device.\n"
		"\n"
		"  --socket PATH      where to listen (default $VCAP_SOCKET or %s)\n"
		"  --device PCI_ADDR  the ivshmem device (default: the first one)\n"
		"  --no-vfio          no interrupts: poll the region and the rings\n"
		"  --foreground       stay in the foreground and log to stderr\n"
		"  --log-stderr       log to stderr in the background too (not syslog)\n",
		VCAP_DEFAULT_SOCKET);
}

/* QEMU's vectors= and vcapd's differ: say so once, rather than poll silently. */
static void warn_vectors(struct guestd *g)
{
	const struct vcap_shm_hdr *h = vcap_ivshmem_shm(g->dev, NULL);
	unsigned have = vcap_ivshmem_vectors(g->dev);

	if (have && have < h->vectors)
		glog(LOG_WARNING, "the device has %u interrupt vectors, vcapd uses %u: rings "
		     "on the others are polled (QEMU's ivshmem-doorbell vectors= should be %u)",
		     have, h->vectors, h->vectors);
}

static int setup(struct guestd *g)
{
	struct itimerspec its = { .it_interval = { TICK_S, 0 }, .it_value = { TICK_S, 0 } };
	sigset_t mask;
	mode_t old;
	int rc;

	/* The region's queues are one program's: no libvcap may drive them in-process. */
	g->lock_fd = vcap_guest_lock();
	if (g->lock_fd < 0) {
		glog(LOG_ERR, "%s", vcap_errmsg());
		return g->lock_fd;
	}
	rc = device_open(g, false);
	if (rc)
		return rc;
	rc = attach_region(g);
	if (rc) {
		glog(LOG_ERR, "%s", g->lost_why);
		return rc;
	}
	glog(LOG_INFO, "vcapd answered: up to %u rings of %u..%u bytes", g->limits.max_rings,
	     g->limits.ring_size_min, g->limits.ring_size_max);
	warn_vectors(g);

	/* Clients get the whole BAR to map their ring from: root only. */
	old = umask(077);
	g->listen_fd = vcap_unix_listen(g->sock_path);
	umask(old);
	if (g->listen_fd < 0) {
		glog(LOG_ERR, "%s: %s%s", g->sock_path, strerror(-g->listen_fd),
		     g->listen_fd == -EADDRINUSE ? " (another vcap-guestd or vcapd serves it)"
						 : "");
		return g->listen_fd;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	g->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	g->ep = epoll_create1(EPOLL_CLOEXEC);
	if (g->ep >= 0 && vcap_ivshmem_release_fd(g->dev) >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &req_tag };

		epoll_ctl(g->ep, EPOLL_CTL_ADD, vcap_ivshmem_release_fd(g->dev), &ev);
	}
	g->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (g->sig_fd < 0 || g->ep < 0 || g->tick_fd < 0 ||
	    timerfd_settime(g->tick_fd, 0, &its, NULL)) {
		glog(LOG_ERR, "signalfd/epoll/timerfd: %s", strerror(errno));
		return -errno;
	}
	glog(LOG_INFO, "serving %s", g->sock_path);
	return 0;
}

static void shutdown_all(struct guestd *g)
{
	while (g->clients)
		client_drop(g, g->clients, "vcap-guestd is stopping", true);
	if (g->listen_fd >= 0) {
		unlink(g->sock_path);
		close(g->listen_fd);
	}
	if (g->ctl)
		g->ctl->close(g->ctl);
	vcap_ivshmem_close(g->dev);
	if (g->stale_fd >= 0)
		close(g->stale_fd);
	if (g->lock_fd >= 0)
		close(g->lock_fd);
	free(g->rings);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "device", required_argument, NULL, 'd' },
		{ "no-vfio", no_argument, NULL, 'n' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-stderr", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct guestd g = { .lock_fd = -1, .listen_fd = -1, .ep = -1, .sig_fd = -1, .tick_fd = -1,
			    .stale_fd = -1 };
	const char *env = getenv("VCAP_SOCKET");
	int opt, ready = -1, rc;

	the_guestd = &g;
	g.sock_path = env && *env ? env : VCAP_DEFAULT_SOCKET;
	while ((opt = getopt_long(argc, argv, "s:d:nflh", opts, NULL)) != -1) {
		switch (opt) {
		case 's': g.sock_path = optarg; break;
		case 'd': g.pci_addr = optarg; break;
		case 'n': g.no_vfio = true; break;
		case 'f': g.foreground = true; break;
		case 'l': g.keep_stderr = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!g.foreground && daemonize(&ready)) {
		perror("vcap-guestd: fork");
		return 1;
	}
	rc = setup(&g);
	if (ready >= 0) {
		char c = rc ? 1 : 0;

		(void)!write(ready, &c, 1);
		close(ready);
		if (!rc)
			detach_stdio(g.keep_stderr);
	}
	if (rc) {
		shutdown_all(&g);
		return 1;
	}
	rc = run(&g);
	glog(LOG_INFO, "stopping: %u client(s), %u ring(s)", g.n_clients, g.n_rings);
	shutdown_all(&g);
	return rc ? 1 : 0;
}
