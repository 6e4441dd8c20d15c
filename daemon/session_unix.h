/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * session_unix.h - the unix-socket carrier: vcapd's listening sockets (the
 * main one and each tenant's own) and the sessions they accept.
 */
#ifndef VCAP_DAEMON_SESSION_UNIX_H
#define VCAP_DAEMON_SESSION_UNIX_H

#include <stdbool.h>
#include <stddef.h>

struct loop;
struct socket_perm;
struct tenant;
struct vcapd;
struct session;
struct ucred;

/*
 * Listen on path with perm's owner, group and mode, set before anyone but
 * root can connect.  @return the socket, or -errno with err.
 */
int unix_listen(const char *path, const struct socket_perm *perm, char *err, size_t err_len);

/*
 * Serve sessions on the listening socket fd (made by vcap_unix_listen);
 * each one accepted is classified by policy, as coming through tenant
 * `via` (NULL: the main socket).  @return 0 or -errno.
 */
int unix_serve(struct vcapd *d, struct loop *l, int listen_fd, struct tenant *via);

/* Stop serving the listening socket fd (the caller closes it). */
void unix_unserve(int listen_fd);

/*
 * A reload changed the tenants: end every session that policy would now
 * place with another tenant (or none), or whose tenant changed(t) says
 * changed, saying why.  They end from their own handlers, later in the
 * loop.  @return how many.
 */
unsigned unix_reclassify(struct vcapd *d, bool (*changed)(const struct tenant *t),
			 const char *why);

/*
 * Upgrade (upgrade.c).  unix_each: call fn for every connection, with its
 * socket and the tenant whose socket it came through (NULL: the main one).
 * unix_adopt: in the new vcapd, a session around an inherited connection
 * fd of the peer cred, classified and charged as accept would, served
 * from l; the caller restores what its HELLO negotiated.  @return it or
 * NULL (out of memory, or l refused it).
 */
void unix_each(void (*fn)(void *arg, struct session *ss, int fd, struct tenant *via), void *arg);
struct session *unix_adopt(struct vcapd *d, struct loop *l, int fd, struct tenant *via,
			   const struct ucred *cred);

/* End every unix session (shutdown). */
void unix_end_all(void);

#endif /* VCAP_DAEMON_SESSION_UNIX_H */
