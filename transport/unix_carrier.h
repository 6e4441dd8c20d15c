/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * unix_carrier.h - carry vcap control messages over a SOCK_SEQPACKET unix
 * socket: one message per datagram, descriptors as SCM_RIGHTS.
 *
 * SEQPACKET keeps message boundaries and reports a peer that went away
 * (EOF, POLLHUP) the moment its last descriptor closes, which is how vcapd
 * notices a consumer that was SIGKILLed.
 */
#ifndef VCAP_TRANSPORT_UNIX_CARRIER_H
#define VCAP_TRANSPORT_UNIX_CARRIER_H

#include <stddef.h>
#include <sys/socket.h> /* struct ucred */
#include <sys/types.h>

#define VCAP_UNIX_MAX_FDS 4

/*
 * Bind and listen on path, creating its directory (mode 0755) if missing
 * and replacing a stale socket file that nobody answers on.
 * @return the listening descriptor, or -errno (-EADDRINUSE: a live vcapd
 * already listens there).
 */
int vcap_unix_listen(const char *path);

/*
 * Take the next connection waiting on listen_fd (non-blocking, close-on-
 * exec) and who is on its other end (SO_PEERCRED: the kernel's word, not
 * the client's).  @return the socket, or -EAGAIN when none waits, or -errno.
 */
int vcap_unix_accept(int listen_fd, struct ucred *peer);

/* @return a connected descriptor, or -errno (-ENOENT, -ECONNREFUSED, ...). */
int vcap_unix_connect(const char *path);

/* Send one message with nfds descriptors.  @return 0 or -errno. */
int vcap_unix_send(int sock, const void *buf, size_t len, const int *fds, int nfds);

/*
 * Receive one message into buf (cap bytes) and up to VCAP_UNIX_MAX_FDS
 * descriptors into fds (*nfds set; pass NULL to refuse descriptors: any
 * that arrive are closed).
 * @return the message length; 0 if the peer closed; -EMSGSIZE if the
 * message or its descriptors did not fit (whatever arrived is closed);
 * other -errno.
 */
ssize_t vcap_unix_recv(int sock, void *buf, size_t cap, int *fds, int *nfds);

#endif /* VCAP_TRANSPORT_UNIX_CARRIER_H */
