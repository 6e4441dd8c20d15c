/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics.h - vcapd's counters for Prometheus: GET /metrics over HTTP on
 * the control thread (metrics.c), in the text exposition format 0.0.4
 * (metrics_text.c).  docs/metrics.md lists every metric.
 *
 *   --metrics LISTEN   or a `metrics LISTEN [owner=] [group=] [mode=]` line
 *   LISTEN: HOST:PORT (IPv4), [V6]:PORT, or unix:PATH (a stream socket;
 *   root's, 0600, unless the line says otherwise).  Off unless given.
 *
 * Serving must never hold up the control thread, whose sessions every
 * consumer depends on: sockets are non-blocking, a request may be at most
 * METRICS_REQUEST_MAX bytes, a connection lives at most
 * METRICS_DEADLINE_MS whatever its client does (slowloris), at most
 * METRICS_MAX_CONNS are served at once (the next is answered 503 and
 * closed), and a reply the client is slow to read is written as it drains.
 */
#ifndef VCAP_DAEMON_METRICS_H
#define VCAP_DAEMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct vcapd;

#define METRICS_REQUEST_MAX 8192
#define METRICS_DEADLINE_MS 5000
#define METRICS_MAX_CONNS 16

/* Where metrics are served, parsed. */
struct metrics_addr {
	bool is_unix;
	char path[108];              /* is_unix */
	struct sockaddr_storage sa;  /* else: an IPv4 or IPv6 address and port */
	socklen_t sa_len;
};

/*
 * Parse LISTEN (HOST:PORT, [V6]:PORT or unix:PATH; numeric addresses
 * only, port 0: any free one).  @return 0, or -EINVAL with err.
 */
int metrics_parse_listen(const char *listen, struct metrics_addr *out, char *err,
			 size_t err_len);

/*
 * Serve d->metrics_listen (with d->metrics_perm for a unix socket) from
 * loop l; nothing if it is NULL or "".  A server already running is
 * stopped first, so a configuration reload calls this again.  Logs where
 * it listens (the port, when it was 0).  @return 0, or -errno with err
 * (then nothing is served).
 */
int metrics_start(struct vcapd *d, struct loop *l, char *err, size_t err_len);

/*
 * Stop serving: the listener and every connection are closed (a unix
 * socket's file removed).  Safe from any callback of the loop and when
 * not running.
 */
void metrics_stop(void);
/*
 * Upgrade (upgrade.c): the listening socket (-1: not serving), and the key
 * it is handed over under ("metrics:" and the LISTEN it was opened for).
 * Connections being served are not handed over: a scrape in flight fails.
 */
int metrics_listen_fd(void);
#define METRICS_UPGRADE_KEY "metrics:"

/* ---- the exposition (metrics_text.c) ----------------------------------- */

/* A growing text buffer; `failed` once an allocation failed. */
struct mbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

/* What the HTTP side counts about itself, exposed with the rest. */
struct metrics_self {
	uint64_t responses[6]; /* by METRICS_CODE_* */
	uint64_t timeouts;     /* connections closed at their deadline */
	unsigned connections;  /* open now */
};

enum { METRICS_CODE_200, METRICS_CODE_400, METRICS_CODE_404, METRICS_CODE_405,
       METRICS_CODE_431, METRICS_CODE_503 };
extern const unsigned metrics_codes[6];

/*
 * Append every metric of d to b in the text format, from a consistent
 * snapshot of each ring's counters (received = delivered + dropped +
 * filtered holds per ring in what is written).  Control thread only.
 */
void metrics_render(struct vcapd *d, const struct metrics_self *self, struct mbuf *b);

/* Append to b (printf-style); on failure b->failed is set. */
void mbuf_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append n bytes at p. */
void mbuf_append(struct mbuf *b, const void *p, size_t n);
/* Append a label value, escaped (\\, \", \n) and made valid UTF-8. */
void mbuf_label_value(struct mbuf *b, const char *v, size_t max);
void mbuf_free(struct mbuf *b);

#endif /* VCAP_DAEMON_METRICS_H */
