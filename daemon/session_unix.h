/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * session_unix.h - the unix-socket carrier: vcapd's listening sockets (the
 * main one and each tenant's own) and the sessions they accept.
 */
#ifndef VCAP_DAEMON_SESSION_UNIX_H
#define VCAP_DAEMON_SESSION_UNIX_H

struct loop;
struct tenant;
struct vcapd;

/*
 * Serve sessions on the listening socket fd (made by vcap_unix_listen);
 * each one accepted is classified by policy, as coming through tenant
 * `via` (NULL: the main socket).  @return 0 or -errno.
 */
int unix_serve(struct vcapd *d, struct loop *l, int listen_fd, struct tenant *via);

/* End every unix session (shutdown). */
void unix_end_all(void);

#endif /* VCAP_DAEMON_SESSION_UNIX_H */
