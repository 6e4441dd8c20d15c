/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * notify.h - tell a service manager (systemd's Type=notify) what vcapd is
 * doing: ready, reloading, stopping.
 *
 * Each call sends one datagram to the socket $NOTIFY_SOCKET names (a path,
 * or an abstract name written with a leading '@') and does nothing when
 * that variable is unset, so vcapd behaves the same without systemd.  A
 * failed send is logged once and otherwise ignored: the service manager's
 * bookkeeping is never a reason to stop capturing.
 */
#ifndef VCAP_DAEMON_NOTIFY_H
#define VCAP_DAEMON_NOTIFY_H

/*
 * Send the lines of msg ("KEY=VALUE\n..."), verbatim.
 * @return 0 if sent or there is no $NOTIFY_SOCKET, else -errno.
 */
int notify_send(const char *msg);

/*
 * READY=1 with MAINPID= (vcapd's pid now: after a fork into the
 * background it is not the pid systemd started) and STATUS= the formatted
 * text.  Call once the control socket listens and every source runs, and
 * again when a reload has finished.
 */
int notify_ready(const char *status_fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC now, as systemd asks:
 * it tells this reload from an earlier one).  Call when a reload starts;
 * notify_ready() when it has finished, whether it worked or not.
 */
int notify_reloading(void);

/* STOPPING=1: call when shutdown begins. */
int notify_stopping(void);

#endif /* VCAP_DAEMON_NOTIFY_H */
