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
#include "rules.h"
#include "vcap_proto.h"

struct filter;
struct session;
struct source;
struct tenant;
struct vm;

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
	/*
	 * Optional: let the kernel filter before vcapd sees a packet.  `text`
	 * (tcpdump syntax) passes what every consumer would; NULL passes all;
	 * drop_all while nobody listens.  Best effort: @return 0 or -errno.
	 */
	int (*kernel_filter)(struct source *s, const char *text, bool drop_all);
	void (*close)(struct source *s);
};

struct mail;

/*
 * Consumers of one source that joined the same cluster id: each packet goes
 * to one member (roster.c keeps them, deliver.c picks).
 */
#define BATCH 256

struct cluster {
	uint32_t id;
	uint32_t mode; /* VCAP_CLUSTER_* */
	struct consumer **members;
	unsigned n;
	unsigned cap;
	uint64_t rr;           /* round robin position */
	uint16_t pick[BATCH];  /* member index per packet of the current batch */
};

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

	/* capture thread only (roster.c, deliver.c) */
	struct consumer **active;
	unsigned n_active;
	unsigned cap_active;
	struct cluster **clusters;
	unsigned n_clusters;
	unsigned cap_clusters;
	unsigned n_want_hash;   /* active consumers that asked for flow hashes */
	unsigned n_with_rules;  /* active consumers whose rules are not trivial */
	char kernel_filter[VCAP_FILTER_MAX * 2 + 16]; /* what the kernel runs now */
	bool kernel_drop_all;
	bool started;
	bool finished;

	/* written by the capture thread, read by anyone */
	_Atomic uint32_t state; /* VCAP_SOURCE_* */
	_Atomic uint64_t received;
	_Atomic uint64_t kernel_drops;
	char error[64]; /* under lock */
	/* what the kernel filters, for STATUS; under lock (kernel_filter is the thread's) */
	char kernel_filter_shown[128];
	bool kernel_drop_all_shown;

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

	/*
	 * The ring: a sealed memfd mapped here and in a host consumer, or a
	 * piece of a VM's region (consumer.c).
	 */
	void *map;
	size_t map_size;
	int memfd;           /* unix: kept only until the OPEN reply is sent */
	struct vm *vm;       /* VM: the region the ring was carved from */
	uint64_t region_off; /* VM: where */
	uint32_t vector;     /* VM: the guest's interrupt vector for this ring */
	int wake_rd;         /* unix: the pipe's read end, handed to the consumer */
	int wake_wr;         /* the pipe's write end, or a dup of the VM vector's eventfd */
	bool wake_eventfd;   /* wake_wr is an eventfd: write 8 bytes */

	bool want_hash;        /* fill in record hashes (VCAP_OPENF_FLOW_HASH) */
	uint32_t cluster_id;   /* 0: none */
	uint32_t cluster_mode; /* VCAP_CLUSTER_* */

	/* capture thread only while attached */
	struct vcap_ring_writer w;
	struct filter *policy; /* the tenant's mandatory filter, or NULL */
	struct filter *filter; /* the consumer's own, or NULL */
	struct rules *rules;   /* never NULL */
	bool rules_trivial;    /* cached rules_trivial(rules) */
	struct cluster *cluster;
	uint16_t member;       /* index in cluster->members */
	uint64_t kernel_drops_base;

	/* written by the capture thread, read by the control thread */
	struct vcap_ring_stats mirror;
	_Atomic uint32_t rule_count;
	_Atomic uint32_t flow_count;

	/* control thread only */
	char filter_text[VCAP_FILTER_MAX + 1];
	char policy_text[VCAP_FILTER_MAX + 1];
	struct consumer *next_in_session;
	struct consumer *next_global;
};

/* What a consumer asks for when it is created. */
struct consumer_req {
	struct session *session; /* decides where the ring goes */
	uint32_t data_size;
	uint32_t snaplen;
	const char *filter;   /* NULL: none */
	const char *policy;   /* the tenant's mandatory filter; NULL: none */
	const struct rules_limits *limits;
};

/* Create a consumer of s with the ring and filters req asks for; does not attach it. */
int consumer_create(struct source *s, uint32_t id, const struct consumer_req *req,
		    struct consumer **out, char *err, size_t err_len);
void consumer_destroy(struct consumer *c);
/* Wake the consumer (its wait request was granted).  Never blocks. */
void consumer_signal(struct consumer *c);

/* ---- filters (filter.c) -------------------------------------------------- */

int filter_compile(const char *text, uint32_t linktype, struct filter **out, char *err,
		   size_t err_len);
bool filter_match(const struct filter *f, const struct vcap_pkt_meta *m, const uint8_t *data);
void filter_free(struct filter *f);

/* Combine policy and own filter texts into one expression ("(a) and (b)"). */
void filter_and(char *out, size_t out_len, const char *a, const char *b);

/* ---- mailbox (mailbox.c) --------------------------------------------------- */

/*
 * Control thread: run fn(s, arg) on s's capture thread between two
 * batches, and wait until it has run.
 */
void mailbox_call(struct source *s, void (*fn)(struct source *s, void *arg), void *arg);
/* Capture thread: run all posted letters. */
void mailbox_apply(struct source *s);

/* ---- roster (roster.c): what a capture thread serves, changed by letters -- */

/* Attach c (joining its cluster, if any); @return 0 or -EINVAL (cluster mode differs). */
int roster_attach(struct consumer *c, char *err, size_t err_len);
/* Detach c; afterwards the capture thread never touches it. */
void roster_detach(struct consumer *c);
/* Swap c's filter for f; @return the old one, to free. */
struct filter *roster_refilter(struct consumer *c, struct filter *f);
int roster_rule_add(struct consumer *c, const struct vcap_rule *r, char *err, size_t err_len);
int roster_rule_remove(struct consumer *c, uint32_t id);
int roster_rule_default(struct consumer *c, uint32_t action);
int roster_rule_hits(struct consumer *c, uint32_t id, uint64_t *hits);
int roster_flow_add(struct consumer *c, const struct vcap_flow *f, uint32_t action,
		    uint32_t idle_ms, uint64_t *applied_at, char *err, size_t err_len);
int roster_flow_remove(struct consumer *c, const struct vcap_flow *f, uint64_t *hits);
/* Capture thread: after c's rules changed (or expired), refresh what depends on them. */
void roster_rules_changed(struct consumer *c);

/* ---- the packet path (deliver.c) ----------------------------------------- */

/* Filter a batch per consumer and copy what passes into each ring. */
void deliver(struct source *s, struct vcap_pkt_meta *meta, const uint8_t **data, unsigned n,
	     uint64_t now_ns);
/* Let idle flow rules expire, a bounded amount of work per call. */
void expire_rules(struct source *s, uint64_t now_ns);

/* ---- the control thread's event loop (control.c) --------------------------- */

/* What an epoll event is about. */
struct ep_tag {
	enum { TAG_LISTEN, TAG_SIGNAL, TAG_TENANT, TAG_SESSION, TAG_VM_SERVER, TAG_VM_DOORBELL } kind;
	void *ptr;
};

/* ---- sessions (control.c) ------------------------------------------------ */

/*
 * One client and the rings it holds: a connection on a unix socket (host
 * process, container), or a VM's control queues (vm.c).  Both carry the same
 * requests; only how replies travel and where rings go differ.
 */
struct session {
	struct ep_tag tag;
	struct vm *vm;     /* NULL: a unix socket connection */
	int fd;            /* the connection (unix only) */
	struct ucred cred; /* SO_PEERCRED: who is on the other end */
	bool hello;
	bool admin;             /* root on the main socket: may do anything */
	struct tenant *tenant;  /* NULL: not a tenant */
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
	const char *config_path; /* for messages; "" without --config */
	struct source *sources;
	struct tenant *tenants;
	struct vm *vms;
	struct rules_limits rules_limits;
	struct vcapd_limits limits;
	uint64_t ring_memory; /* bytes of rings allocated now */
	uint32_t next_ring_id;
	struct consumer *consumers; /* all of them, newest first */
	unsigned n_sessions;
};

/* vcapd's settings before the command line and the configuration file. */
#define VCAPD_DEFAULTS                                                                   \
	{                                                                                \
		.config_path = "",                                                       \
		.rules_limits = { .max_rules = 1024, .max_flows = 1u << 20 },            \
		.limits = { .max_rings = 64,                                             \
			    .ring_size_min = VCAP_RING_DATA_MIN,                         \
			    .ring_size_max = VCAP_RING_DATA_MAX,                         \
			    .ring_size_default = 16u << 20,                              \
			    .ring_memory_max = 4ull << 30,                               \
			    .max_sessions = 1024 },                                      \
	}

int control_run(struct vcapd *d, int listen_fd);

/*
 * Handle one request a session sent (len bytes at buf) and send the reply.
 * @return 0, or -1 if the session must end (a malformed message, or the
 * reply could not be sent).
 */
int session_message(struct vcapd *d, struct session *ss, const void *buf, size_t len);
/* A new VM session (vm.c calls this when a guest's QEMU connects). */
struct session *session_new_vm(struct vcapd *d, struct vm *vm, pid_t qemu_pid);
/* Free every ring of ss and ss itself. */
void session_end(struct vcapd *d, struct session *ss, const char *why);

/* Fill a STATUS reply starting at entry `first` (status.c). */
struct vcap_msg;
void status_fill(struct vcapd *d, struct session *ss, uint32_t first, struct vcap_msg *reply,
		 void *scratch, size_t scratch_len);

/* Logging: stderr in the foreground, syslog once daemonized (util.c). */
void vlog_init(bool use_syslog);
void vlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic and wall clocks in ns (clock.c). */
uint64_t mono_ns(void);
uint64_t wall_ns(void);
/*
 * Sleep until fd1 or fd2 (-1: none) is readable or max_ns passed.
 * @return 1 if one is readable, 0 on timeout or signal.
 */
int wait_readable(int fd1, int fd2, uint64_t max_ns);

#endif /* VCAP_DAEMON_VCAPD_H */
