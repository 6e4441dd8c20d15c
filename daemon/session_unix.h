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

/* End every unix session (shutdown). */
void unix_end_all(void);

#endif /* VCAP_DAEMON_SESSION_UNIX_H */
