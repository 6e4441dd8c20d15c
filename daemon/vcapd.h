/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcapd.h - the parts of the host daemon and how they meet.
 *
 *   control thread (control.c)             one capture thread per source
 *   --------------------------             (capture.c)
 *   accepts sessions, decodes requests,    takes batches from its backend
 *   creates and frees consumers,           (source_synth.c, source_pcap.c,
 *   answers STATUS                         source_if.c), filters them per
 *            |                             consumer, copies them into each
 *            |  mailbox (mailbox.c):       consumer's ring, publishes,
 *            +--------------------------->  signals sleepers.  Never blocks
 *               add / remove / refilter     on a consumer.
 *               a consumer; the control
 *               thread waits for the
 *               capture thread to apply it
 *
 * Ownership: a consumer is created and freed by the control thread; while
 * it is attached, its ring writer and filter belong to the capture thread.
 * The control thread reads its counters only through the private mirror.
 */
#ifndef VCAP_DAEMON_VCAPD_H
#define VCAP_DAEMON_VCAPD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* struct ucred */
#include <sys/types.h>
#include <syslog.h> /* LOG_* levels for vlog() */

#include "ring.h"
#include "vcap_proto.h"

struct filter;
struct session;
struct source;

/* ---- sources ------------------------------------------------------------ */

/*
 * A backend produces packets for a source.  All calls but parse() run on
 * the source's capture thread.
 */
struct source_ops {
	const char *kind; /* "synth", "pcap", "if" */
	/*
	 * Only produce while somebody listens (a generator or a file), rather
	 * than capture all the time (a live interface).
	 */
	bool pull;
	/* Check the options after "kind:" and prepare.  Runs at startup. */
	int (*open)(struct source *s, const char *args, char *err, size_t err_len);
	/*
	 * Take up to n packets: meta[i], data[i] stay valid until release().
	 * @return the number taken; 0 if none is ready now; -ENODATA when a
	 * finite source is finished; -ENETDOWN etc. when it failed.
	 */
	int (*next)(struct source *s, struct vcap_pkt_meta *meta, const uint8_t **data, unsigned n,
		    uint64_t now_ns);
	void (*release)(struct source *s);
	/*
	 * Sleep until next() may have something, wake_fd is readable, or
	 * max_ns passed.
	 */
	void (*wait)(struct source *s, int wake_fd, uint64_t max_ns);
	/* Packets lost before vcapd saw them (kernel socket drops). */
	uint64_t (*kernel_drops)(struct source *s);
	/* Try to recover after next() failed.  @return 0 when running again. */
	int (*reopen)(struct source *s, char *err, size_t err_len);
	void (*close)(struct source *s);
};

struct mail;

struct source {
	char name[VCAP_NAME_MAX + 1];
	char spec[192];
	const struct source_ops *ops;
	void *priv;           /* the backend's */
	uint32_t linktype;    /* DLT_* */
	uint32_t ifindex;
	uint32_t start_after; /* pull sources: consumers needed before starting */
	int cpu;              /* pin the capture thread here (-1: don't) */

	pthread_t thread;
	bool thread_started;
	int wake_fd; /* eventfd: mail or shutdown for the capture thread */

	/* mailbox, filled by the control thread (mailbox.c) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct mail *mail;
	atomic_bool mail_pending;
	atomic_bool stopping;

	/* capture thread only */
	struct consumer **active;
	unsigned n_active;
	unsigned cap_active;
	unsigned n_want_hash; /* active consumers that asked for flow hashes */
	bool started;
	bool finished;

	/* written by the capture thread, read by anyone */
	_Atomic uint32_t state; /* VCAP_SOURCE_* */
	_Atomic uint64_t received;
	_Atomic uint64_t kernel_drops;
	char error[64]; /* under lock */

	/* control thread only */
	unsigned n_consumers;
	struct source *next;
};

int source_create(const char *name_eq_spec, struct source **out, char *err, size_t err_len);
int source_start(struct source *s);
void source_stop(struct source *s); /* joins the thread, closes the backend */
void source_destroy(struct source *s);
struct source *source_find(struct source *list, const char *name);
void source_set_error(struct source *s, const char *msg);

extern const struct source_ops source_synth_ops;
extern const struct source_ops source_pcap_ops;
extern const struct source_ops source_if_ops;

/* The capture thread (capture.c). */
void *capture_main(void *source);

/* ---- consumers ---------------------------------------------------------- */

struct consumer {
	uint32_t id;
	struct source *src;
	struct session *owner;

	/* the ring: a sealed memfd mapped here and in the consumer */
	void *map;
	size_t map_size;
	int memfd;   /* kept only until the OPEN reply is sent */
	int wake_rd; /* read end, handed to the consumer */
	int wake_wr; /* write end, vcapd's alone (see consumer.c) */

	bool want_hash; /* fill in record hashes (VCAP_OPENF_FLOW_HASH) */

	/* capture thread only while attached */
	struct vcap_ring_writer w;
	struct filter *filter;
	uint64_t kernel_drops_base;

	/* written by the capture thread, read by the control thread */
	struct vcap_ring_stats mirror;

	/* control thread only */
	char filter_text[VCAP_FILTER_MAX + 1];
	struct consumer *next_in_session;
	struct consumer *next_global;
};

/*
 * Create a consumer of s with a ring of data_size bytes and the given
 * filter (NULL: none); does not attach it.
 */
int consumer_create(struct source *s, uint32_t id, uint32_t data_size, uint32_t snaplen,
		    const char *filter, struct consumer **out, char *err, size_t err_len);
void consumer_destroy(struct consumer *c);
/* Wake the consumer (its wait request was granted).  Never blocks. */
void consumer_signal(struct consumer *c);

/* ---- filters (filter.c) -------------------------------------------------- */

int filter_compile(const char *text, uint32_t linktype, struct filter **out, char *err,
		   size_t err_len);
bool filter_match(const struct filter *f, const struct vcap_pkt_meta *m, const uint8_t *data);
void filter_free(struct filter *f);

/* ---- mailbox (mailbox.c) --------------------------------------------------- */

/* Control thread: attach c to its source and wait until the capture thread has. */
void mailbox_attach(struct consumer *c);
/* Control thread: detach c and wait; afterwards the capture thread never touches it. */
void mailbox_detach(struct consumer *c);
/* Control thread: swap c's filter for f and wait; @return the old one to free. */
struct filter *mailbox_refilter(struct consumer *c, struct filter *f);
/* Capture thread: apply all posted mail. */
void mailbox_apply(struct source *s);

/* ---- sessions (control.c) ------------------------------------------------ */

/* One client connection and the rings it holds. */
struct session {
	int fd;
	struct ucred cred; /* SO_PEERCRED: who is on the other end */
	bool hello;
	char client[VCAP_NAME_MAX + 1];
	struct consumer *consumers;
	unsigned n_rings;
	struct session *next;
};

/* ---- the daemon ----------------------------------------------------------- */

struct vcapd_limits {
	uint32_t max_rings;      /* per session */
	uint32_t ring_size_min;
	uint32_t ring_size_max;
	uint32_t ring_size_default;
	uint64_t ring_memory_max; /* all rings together */
	uint32_t max_sessions;
};

struct vcapd {
	const char *socket_path;
	struct source *sources;
	struct vcapd_limits limits;
	uint64_t ring_memory; /* bytes of rings allocated now */
	uint32_t next_ring_id;
	struct consumer *consumers; /* all of them, newest first */
	unsigned n_sessions;
};

int control_run(struct vcapd *d, int listen_fd);

/* Fill a STATUS reply starting at entry `first` (status.c). */
struct vcap_msg;
void status_fill(struct vcapd *d, uint32_t first, struct vcap_msg *reply, void *scratch,
		 size_t scratch_len);

/* Logging: stderr in the foreground, syslog once daemonized (log.c). */
void vlog_init(bool use_syslog);
void vlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic and wall clocks in ns (util.c). */
uint64_t mono_ns(void);
uint64_t wall_ns(void);
/*
 * Sleep until fd1 or fd2 (-1: none) is readable or max_ns passed.
 * @return 1 if one is readable, 0 on timeout or signal.
 */
int wait_readable(int fd1, int fd2, uint64_t max_ns);

#endif /* VCAP_DAEMON_VCAPD_H */
