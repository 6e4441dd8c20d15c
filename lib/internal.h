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

#include "ring.h"
#include "vcap.h"

struct vcap_msg;

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
	/* Readable (hang-up) once vcapd is gone; -1 if the channel cannot tell. */
	int hup_fd;
	uint32_t seq;
};

/* Connect to vcapd at path and say HELLO.  @return 0 or -errno (message set). */
int vcap_ctl_unix_open(const char *path, struct vcap_ctl **out);

struct vcap_ops {
	int (*recv_burst)(struct vcap *h, struct vcap_pkt *pkts, unsigned n, int flags);
	int (*set_filter)(struct vcap *h, const char *filter);
	int (*stats)(struct vcap *h, struct vcap_stats *st);
	int (*fd)(struct vcap *h);
	void (*close)(struct vcap *h);
};

struct vcap_afp;

struct vcap {
	const struct vcap_ops *ops;
	char device[80];
	struct vcap_info info;
	uint32_t watermark;
	uint32_t timeout_ms;
	atomic_int brk;
	int break_fd; /* eventfd written by vcap_breakloop() */

	/* ring handles */
	struct vcap_ctl *ctl;
	struct vcap_ring_reader rd;
	void *map;
	size_t map_size;
	int wake_fd;
	bool armed;

	/* direct handles */
	struct vcap_afp *afp;
};

/* Open "host:NAME" (NAME given) over vcapd's unix socket. */
int vcap_ring_open(struct vcap *h, const char *source, const struct vcap_open_opts *o);
/* Open a local interface directly. */
int vcap_direct_open(struct vcap *h, const char *ifname, const struct vcap_open_opts *o);

/* Read an option field only if the caller's struct has it (libbpf's OPTS_GET). */
#define VCAP_OPT(o, field, def)                                                         \
	(((o) && (o)->sz >= offsetof(struct vcap_open_opts, field) + sizeof((o)->field) && \
	  (o)->field)                                                                    \
		 ? (o)->field                                                            \
		 : (def))

/* Remember a message for vcap_errmsg().  @return err (a negative errno). */
int vcap_set_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Wait for fd (and the handle's break and hang-up fds).  @return 0 or -EINTR/-EPIPE. */
int vcap_wait(struct vcap *h, int fd, int hup_fd);

#endif /* VCAP_LIB_INTERNAL_H */
