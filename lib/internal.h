/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * internal.h - what the parts of libvcap share.
 *
 * A handle is one of two kinds behind the same API:
 *   ring handles (ring_handle.c): packets arrive in a vcap ring that vcapd
 *     fills; the ring was obtained over a control channel (ctl_unix.c for
 *     host processes and containers);
 *   direct handles (direct.c): the caller's own interface via TPACKET_V3.
 */
#ifndef VCAP_LIB_INTERNAL_H
#define VCAP_LIB_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "ring.h"
#include "vcap.h"

struct vcap;
struct vcap_msg;
struct vcap_msg_hello_reply;
struct vcap_msg_open_reply;
struct vcap_msg_open;
struct vcap_ivshmem;

/*
 * A control channel to vcapd: one request, one reply.  The channel does
 * the HELLO itself when it is created.
 */
struct vcap_ctl {
	/*
	 * Send req (its seq is filled in) and wait for the reply; descriptors
	 * that come with it land in fds (room for VCAP_UNIX_MAX_FDS, or NULL
	 * to refuse them).  A reply with status < 0 is returned as that
	 * status, with vcapd's reason already stored for vcap_errmsg().
	 */
	int (*call)(struct vcap_ctl *ctl, struct vcap_msg *req, struct vcap_msg *reply, int *fds,
		    int *nfds);
	void (*close)(struct vcap_ctl *ctl);
	/*
	 * Make h read the ring an OPEN reply on this channel describes, for
	 * channels whose rings come without descriptors (a guest's region);
	 * NULL: map the descriptors the reply carried.  @return 0 or -errno.
	 */
	int (*attach)(struct vcap_ctl *ctl, struct vcap *h, const struct vcap_msg_open_reply *r);
	/*
	 * For channels without a hang-up (hup_fd -1) that can tell otherwise:
	 * 0 while vcapd still serves our rings, else -EPIPE (message set).
	 * Asked when a ring runs empty, so it must cost next to nothing.
	 */
	int (*alive)(struct vcap_ctl *ctl);
	/* Readable (hang-up) once vcapd is gone; -1 if the channel cannot tell. */
	int hup_fd;
	uint32_t seq;
};

/*
 * Say HELLO on a channel just opened, as `client` (NULL: this program's
 * name); vcapd's answer goes to *hello (if not NULL).  ctl.c.
 * @return 0 or -errno (message set).
 */
int vcap_ctl_hello(struct vcap_ctl *ctl, const char *client, struct vcap_msg_hello_reply *hello);

/*
 * One request on h's channel, from any thread (h->ctl_lock), or -EPIPE at
 * once if vcapd is known to be gone; a channel that breaks marks it gone.
 */
int vcap_ctl_call(struct vcap *h, struct vcap_msg *req, struct vcap_msg *reply, int *fds,
		  int *nfds);
/*
 * vcap_ctl_call, then take(reply, arg) before another thread's request
 * can reuse the channel's buffer: for replies whose entries point into it
 * (FLOW_LIST).  take runs only for a successful reply.
 */
int vcap_ctl_call_take(struct vcap *h, struct vcap_msg *req, struct vcap_msg *reply,
		       void (*take)(const struct vcap_msg *reply, void *arg), void *arg);
/* 0 while vcapd serves h, else -EPIPE (sticky, message set).  A system call. */
int vcap_ctl_alive(struct vcap *h);

/* Connect to vcapd at path and say HELLO.  @return 0 or -errno (message set). */
int vcap_ctl_unix_open(const char *path, struct vcap_ctl **out);

/*
 * ctl_shm.c: a channel through the control queues of the vcap region behind
 * an open ivshmem device (a VM guest; include/vcap_shm.h).  Says HELLO as
 * `client` (NULL: this program's name) and stores vcapd's answer in *hello
 * (if not NULL).  The channel uses dev but does not own it; one channel per
 * region at a time.  Not thread-safe.  @return 0 or -errno (message set).
 */
int vcap_ctl_shm_open(struct vcap_ivshmem *dev, const char *client, struct vcap_ctl **out,
		      struct vcap_msg_hello_reply *hello);
/*
 * One request and its reply, like call() except that a reply with
 * status < 0 is a success too: @return 0 once vcapd answered (*reply holds
 * the answer, whatever its status), or -errno (message set) if it did not.
 */
int vcap_ctl_shm_exchange(struct vcap_ctl *ctl, struct vcap_msg *req, struct vcap_msg *reply);
/* 0, or -EPIPE (message set) if vcapd has reset the region since the channel opened. */
int vcap_ctl_shm_check(struct vcap_ctl *ctl);
/*
 * Close every ring vcapd holds for this VM: the rings of guest programs
 * that ended without closing them.  Only for the program that holds the
 * guest lock (vcap_guest_lock), just after opening the channel.
 * @return how many were closed, or -errno (message set).
 */
int vcap_ctl_shm_reclaim(struct vcap_ctl *ctl);
/*
 * Where the ring of an OPEN reply lives in this guest's mapping of the
 * region, checked against the region's layout.  @return 0 or -EPROTO.
 */
int vcap_ctl_shm_ring(struct vcap_ctl *ctl, const struct vcap_msg_open_reply *r, void **mem);

/*
 * guest.c: open a channel to vcapd through this VM's ivshmem device, for
 * when no unix socket answers (no vcap-guestd).  The process opens the
 * device once, however many handles use it.  @return 0; -ENODEV if this
 * is not a guest with an ivshmem device (no message set: the caller keeps
 * its own); other -errno with the message set.
 */
int vcap_guest_ctl_open(const char *socket_path, struct vcap_ctl **out);
/*
 * Take the guest's lock on its ivshmem device: one program at a time
 * drives the region (guest.c in-process, or vcap-guestd for everyone).
 * @return the descriptor holding it, or -EBUSY (someone has it) or another
 * -errno, message set.
 */
#define VCAP_GUEST_LOCK_DIR "/run/vcap"
#define VCAP_GUEST_LOCK VCAP_GUEST_LOCK_DIR "/ivshmem.lock"
int vcap_guest_lock(void);

struct vcap_ops {
	/* timeout_ms: 0 do not wait, -1 no limit, else a bound (vcap_recv_timeout) */
	int (*recv_burst)(struct vcap *h, struct vcap_pkt *pkts, unsigned n, int timeout_ms);
	int (*set_filter)(struct vcap *h, const char *filter);
	int (*stats)(struct vcap *h, struct vcap_stats *st);
	void (*close)(struct vcap *h);
};

struct vcap_afp;

struct vcap {
	const struct vcap_ops *ops;
	char device[80];
	struct vcap_info info;
	uint32_t watermark;
	uint32_t timeout_ms;
	atomic_int brk; /* vcap_breakloop()'s latch */
	/*
	 * Sticky: set once vcapd is known to be gone, and from then on every
	 * call reports -EPIPE (vcap.h, Conventions).  Any thread may set it.
	 */
	atomic_bool gone;
	int break_fd; /* eventfd written by vcap_breakloop() */
	int ep_fd;    /* the handle's epoll set (events.c): vcap_fd() */
	int data_fd;  /* its VCAP_EV_DATA member, -1: none */
	int tick_fd;  /* its VCAP_EV_TICK member, -1: none */
	/*
	 * Serialises control calls (filters, rules, flows), which any thread
	 * may make while another receives: one request and reply at a time on
	 * the channel.  The receive path never takes it.
	 */
	pthread_mutex_t ctl_lock;

	/* ring handles */
	struct vcap_ctl *ctl;
	struct vcap_ring_reader rd;
	void *map;
	size_t map_size;
	int wake_fd;   /* -1: no wake-ups, the ring is polled */
	bool armed;
	uint32_t poll_us; /* polled rings: the current sleep */
	uint64_t spin_ns; /* how long to poll before sleeping (adapts) */

	/* direct handles */
	struct vcap_afp *afp;

	/*
	 * VCAP_OPEN_RECONNECT (reconnect.c): what the ring was opened with and
	 * what has been set on it since, to set it again on a new vcapd; and
	 * the totals of the rings before.  NULL without the flag.  Changed
	 * under ctl_lock; the ring (ctl, rd, map) is swapped under it too.
	 */
	struct vcap_keep *keep;
};

/* Open "host:NAME" (NAME given) over vcapd's unix socket. */
int vcap_ring_open(struct vcap *h, const char *source, const struct vcap_open_opts *o);
/*
 * Connect (socket as vcap_open_opts.socket_path: NULL for the default
 * search) and open a ring of source as *open asks, with filter: h reads it
 * from now on.  With ctl_lock held, or before anyone else has h.
 * @return 0 or -errno (message set); on failure h has no ring.
 */
int vcap_ring_connect(struct vcap *h, const char *socket, const char *source,
		      const struct vcap_msg_open *open, const char *filter);
/* Give up h's ring: unmap it, close its descriptors and channel.  h->ctl is NULL after. */
void vcap_ring_release(struct vcap *h);

/*
 * The ring id to name in a request: read under ctl_lock, since a reconnect
 * in the receiving thread may be replacing it (ctl.c refuses a request
 * whose id went stale before it was sent).
 */
uint32_t vcap_ring_id(struct vcap *h);

/* ---- reconnect.c: VCAP_OPEN_RECONNECT ---- */

/* Remember how h was opened (o, source) to reopen it the same way.  @return 0 or -ENOMEM. */
int vcap_keep_init(struct vcap *h, const char *source, const struct vcap_open_opts *o);
void vcap_keep_free(struct vcap *h);
/*
 * The receive found vcapd gone and the ring read to its end: get a new
 * ring, waiting up to deadline (vcap_mono_ms; -1: no limit; 0 try only if
 * an attempt is due).  @return 0 with a new ring in place; -EAGAIN not yet
 * (deadline reached, come back); -EINTR (a break or a signal); -EPIPE for
 * good (given up; message says why).
 */
int vcap_reconnect(struct vcap *h, int64_t deadline);
/* Away between rings (h->ctl NULL): the answer a control call gets. */
int vcap_away_err(struct vcap *h);
/* Has the handle given up reconnecting (message kept)? */
bool vcap_keep_failed(const struct vcap *h);
/* Add the totals of the rings before to st (the current ring's counters). */
void vcap_keep_stats(struct vcap *h, struct vcap_stats *st);
/*
 * A control request succeeded (called under ctl_lock): remember what it
 * set, to set it again on a new ring.  ok: vcapd said yes; rc its status.
 */
void vcap_keep_note(struct vcap *h, const struct vcap_msg *req, int rc);
/* Read packets from the ring at mem (map_size bytes): a ring handle from now on. */
int vcap_ring_attach_mem(struct vcap *h, void *mem, size_t map_size);
extern const struct vcap_ops ring_ops;

/* Open a local interface directly. */
int vcap_direct_open(struct vcap *h, const char *ifname, const struct vcap_open_opts *o);

/* The offset of the first byte after field of struct type. */
#define VCAP_OFFSETOFEND(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/*
 * Read an option field only if the caller's struct has it, and it is set
 * (libbpf's OPTS_GET).  vcap_open() has checked the struct (check_opts in
 * vcap.c): sz covers at least sz itself, and whatever lies beyond the
 * fields this library knows is zero.
 */
#define VCAP_OPT(o, field, def)                                                      \
	(((o) && (o)->sz >= VCAP_OFFSETOFEND(struct vcap_open_opts, field) && (o)->field) \
		 ? (o)->field                                                         \
		 : (def))

#define VCAP_STR_(x) #x
#define VCAP_STR(x) VCAP_STR_(x)

/*
 * Symbol versions (lib/libvcap.map), as libbpf's: when a function's
 * signature changes, its new definition, named NAME_VERSION, becomes NAME
 * at the new version (the default, what programs link against from then
 * on), and the old one stays NAME at the old version for programs built
 * before.  Both versions must list NAME in libvcap.map.
 */
#define VCAP_SYMVER_DEFAULT(internal, api, version) \
	__asm__(".symver " #internal "," #api "@@" #version)
#define VCAP_SYMVER_COMPAT(internal, api, version) \
	__asm__(".symver " #internal "," #api "@" #version)
/* The new definition has the type vcap.h declares for the function. */
#define VCAP_SAME_TYPE(internal, api)                                                \
	_Static_assert(__builtin_types_compatible_p(__typeof__(internal), __typeof__(api)), \
		       #internal " does not match vcap.h's " #api)

/*
 * Give the caller's output struct of sz bytes what this library has in
 * ours (known bytes): copy what both know, zero the caller's fields we do
 * not know, never write past sz.  The convention at the top of vcap.h.
 */
static inline void vcap_fill_out(void *out, size_t sz, const void *ours, size_t known)
{
	memcpy(out, ours, sz < known ? sz : known);
	if (sz > known)
		memset((char *)out + known, 0, sz - known);
}

/* Our name in vcapd's status (HELLO): the program, as the kernel knows it. */
void vcap_program_name(char *buf, size_t len);

/* Remember a message for vcap_errmsg().  @return err (a negative errno). */
int vcap_set_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- events.c: the handle's epoll set (vcap_fd) ---- */

/* Members of the set, and what vcap_ev_poll() reports (bits). */
#define VCAP_EV_DATA 0x1   /* packets (a ring's wake descriptor, a packet socket) */
#define VCAP_EV_BREAK 0x2  /* vcap_breakloop(): the latch was taken */
#define VCAP_EV_HUP 0x4    /* vcapd is gone */
#define VCAP_EV_TICK 0x8   /* the periodic timer: look again */
#define VCAP_EV_SIGNAL 0x10 /* the wait was interrupted by a signal */

/* Make the set, with the break eventfd in it.  @return 0 or -errno (message set). */
int vcap_ev_init(struct vcap *h);
/* Add fd as VCAP_EV_DATA or VCAP_EV_HUP.  @return 0 or -errno (message set). */
int vcap_ev_add(struct vcap *h, int fd, uint32_t what);
/*
 * Add a timer that makes the set ready every period_ms: for rings that no
 * interrupt wakes, and channels whose end no hang-up tells.
 */
int vcap_ev_tick(struct vcap *h, uint32_t period_ms);
void vcap_ev_close(struct vcap *h);
/*
 * Wait up to timeout_ms (0: just look; -1: no limit) and take care of
 * what is ready: drain wake tokens and ticks, take the break latch.
 * @return VCAP_EV_* bits (0: timed out), or -errno.
 */
int vcap_ev_poll(struct vcap *h, int timeout_ms);
/* Make the set ready once, for no reason a receive reports (packets wait unannounced). */
void vcap_ev_kick(struct vcap *h);
/* Take vcap_breakloop()'s latch if it is set.  @return true if it was. */
bool vcap_take_break(struct vcap *h);

/* Monotonic milliseconds, for deadlines. */
int64_t vcap_mono_ms(void);
/* Milliseconds left until deadline (-1: none) for a wait: -1, or 0.. */
int vcap_ms_left(int64_t deadline);

/* -EPIPE with the message every path gives once vcapd is gone. */
int vcap_gone_err(struct vcap *h);
/* Record that vcapd is gone.  @return vcap_gone_err(h). */
int vcap_set_gone(struct vcap *h);
/* vcap_ctl_alive with ctl_lock held. */
int vcap_ctl_alive_locked(struct vcap *h);

#endif /* VCAP_LIB_INTERNAL_H */
