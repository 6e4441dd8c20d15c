/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * source.h - a source of packets: a backend (source_synth.c, source_pcap.c,
 * source_if.c) and the capture thread that delivers what it produces
 * (capture.c) to the consumers attached to it (capture.h).
 */
#ifndef VCAP_DAEMON_SOURCE_H
#define VCAP_DAEMON_SOURCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "vcap_proto.h"

struct bpf_insn;
struct consumer;
struct vcap_flow;
struct source;

/* The most instructions the kernel takes in a socket filter (BPF_MAXINSNS). */
#define SOURCE_KFILTER_MAX 4096

/*
 * The most lanes a source has.  A lane is one stream of packets from the
 * backend (a fanout socket, a NIC queue) with a capture thread of its own;
 * most backends have one.  See "Lanes" in docs/architecture.md.
 */
#define SOURCE_LANES_MAX 16

/*
 * A backend produces packets for a source, in s->n_lanes lanes (open() sets
 * it; 1 unless the backend has queues).  next(), release() and wait() run
 * on the lane's own capture thread, concurrently with other lanes; every
 * other call runs with all lanes stopped between two batches (lane 0's
 * thread, or the control thread before start and after stop).
 */
struct source_ops {
	const char *kind; /* "synth", "pcap", "if", "xdp" */
	/*
	 * Only produce while somebody listens (a generator or a file), rather
	 * than capture all the time (a live interface).
	 */
	bool pull;
	/*
	 * The option keys open() takes (NULL-terminated); it refuses any
	 * other.  vcapd --help must show each (tests/test_options.c).
	 */
	const char *const *options;
	/* Check the options after "kind:" and prepare.  Runs at startup. */
	int (*open)(struct source *s, const char *args, char *err, size_t err_len);
	/*
	 * Take up to n packets: meta[i], data[i] stay valid until release().
	 * @return the number taken; 0 if none is ready now; -ENODATA when a
	 * finite source is finished; -ENETDOWN etc. when it failed.
	 */
	int (*next)(struct source *s, unsigned lane, struct vcap_pkt_meta *meta,
		    const uint8_t **data, unsigned n, uint64_t now_ns);
	void (*release)(struct source *s, unsigned lane);
	/*
	 * Sleep until next() may have something, wake_fd is readable, or
	 * max_ns passed.
	 */
	void (*wait)(struct source *s, unsigned lane, int wake_fd, uint64_t max_ns);
	/* Packets lost before vcapd saw them (kernel socket drops), all lanes. */
	uint64_t (*kernel_drops)(struct source *s);
	/* Try to recover after next() failed.  @return 0 when running again. */
	int (*reopen)(struct source *s, char *err, size_t err_len);
	/*
	 * Optional: let the kernel filter before vcapd sees a packet.  The n
	 * instructions at insns pass what every consumer would (compiled
	 * already: recompiling a tenant's text could take as long as its
	 * first compile, here on the capture thread); n == 0 passes all;
	 * drop_all while nobody listens.  Best effort: @return 0 or -errno.
	 */
	int (*kernel_filter)(struct source *s, const struct bpf_insn *insns, unsigned n,
			     bool drop_all);
	/*
	 * Optional, for a backend that filters before vcapd (xdp:): what the
	 * consumers may want changed (roster.c, after an attach, a detach, a
	 * filter or a rule; see want.h).  flow: only this flow rule was added,
	 * all else is as before; NULL: anything may have changed.
	 */
	void (*want_changed)(struct source *s, const struct vcap_flow *flow);
	/*
	 * Optional, with want_changed: the packets the backend left out as
	 * nobody's since open (it counts them; capture.c counts them as
	 * filtered for every consumer, deliver_unwanted()).
	 */
	uint64_t (*unwanted)(struct source *s);
	void (*close)(struct source *s);
	/*
	 * Optional, for an upgrade (upgrade.c); a backend without them makes
	 * an upgrade refuse.  save: with the capture threads parked at a batch
	 * boundary, write where the backend is (at most cap bytes at buf; its
	 * descriptors, one per lane at most, in fds[], their number in
	 * *n_fds) and @return the bytes written, or 0 if it cannot.  restore:
	 * in the new process, after open() with the same spec, go on from
	 * there with the inherited descriptors (n_fds 0: none).
	 */
	size_t (*save)(struct source *s, void *buf, size_t cap, int fds[SOURCE_LANES_MAX],
		       unsigned *n_fds);
	int (*restore)(struct source *s, const void *buf, size_t len, const int *fds,
		       unsigned n_fds, char *err, size_t err_len);
};

struct mail;

/*
 * Consumers of one source that joined the same cluster id: each packet goes
 * to one member (roster.c keeps them, deliver.c picks).  A cluster id is
 * the account's (account.h): another account's cluster 7 is another cluster.
 */
#define BATCH 256

struct account;

struct cluster {
	const struct account *acct; /* whose cluster id it is */
	uint32_t id;
	uint32_t mode; /* VCAP_CLUSTER_* */
	struct consumer **members;
	unsigned n;
	unsigned cap;
	uint64_t rr[SOURCE_LANES_MAX];          /* round robin position, per lane */
	uint32_t unwanted_next; /* the member the next unwanted packet counts for (lane 0's) */
	uint16_t pick[SOURCE_LANES_MAX][BATCH]; /* member per packet of each lane's batch */
};

/*
 * What one owner (an account: a tenant, a VM...) may cost this source's
 * capture thread: budget_ns per packet offered, on average.  Its rings'
 * time (deliver.c measures it per batch) is taken from credit, which each
 * batch refills; while it is spent, the owner's rings skip their batches
 * and count them as dropped, so an expensive tenant loses its own packets
 * rather than everyone's.
 */
struct cost_bucket {
	const void *key;   /* the owner */
	uint64_t budget_ns;
	_Atomic int64_t credit; /* ns; may go below 0 by a batch's overrun per lane */
	unsigned refs;     /* rings of the owner attached here */
};

struct source {
	char name[VCAP_NAME_MAX + 1];
	char spec[192];
	const struct source_ops *ops;
	void *priv;           /* the backend's */
	uint32_t linktype;    /* DLT_* */
	_Atomic uint32_t ifindex; /* an if: source's changes on reconnect */
	/* largest packet above the link header (STATUS's mtu); an if: source's changes on reconnect */
	_Atomic uint32_t mtu;
	uint32_t start_after; /* pull sources: consumers needed before starting */
	/* pin lane k's capture thread to cpus[k % n_cpus] (cpu=A:B:..; none: don't) */
	int cpus[SOURCE_LANES_MAX];
	unsigned n_cpus;

	/*
	 * Lanes: lane 0's thread is "the capture thread": it reads the
	 * mailbox and does what needs all lanes stopped; with more lanes it
	 * takes lanes_lock to write (every lane holds it to read for one
	 * batch at a time) and kicks the others' wake_fd so none sleeps on it.
	 */
	unsigned n_lanes;
	struct source_lane {
		struct source *src;
		unsigned index;
		pthread_t thread;
		int wake_fd; /* eventfd: shutdown, a kick; lane 0's also mail */
		_Atomic uint64_t received;
	} lanes[SOURCE_LANES_MAX];
	pthread_rwlock_t lanes_lock;
	atomic_bool want_exclusive; /* lane 0 waits for lanes_lock: do not sleep holding it */
	bool lanes_lock_made;
	bool thread_started;

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
	struct cost_bucket **buckets;
	unsigned n_buckets;
	unsigned cap_buckets;
	unsigned n_want_hash;   /* active consumers that asked for flow hashes */
	unsigned n_want_meta;   /* ... for records meta (VCAP_OPENF_META) */
	/* active consumers whose rules are not trivial; lane 0 also changes it (expire_rules) */
	_Atomic unsigned n_with_rules;
	char kernel_filter[VCAP_FILTER_MAX * 2 + 16]; /* what the kernel runs now */
	bool kernel_drop_all;
	bool started;
	bool finished;
	/*
	 * Upgrade (upgrade.c): parked, the thread waits for mail only, between
	 * two batches; kfilter_frozen keeps the kernel filter the old process
	 * left while the new one attaches its consumers one by one.
	 */
	bool parked;
	bool kfilter_frozen;

	/* written by the capture thread, read by anyone */
	_Atomic uint32_t state; /* VCAP_SOURCE_* */
	_Atomic uint64_t received;
	_Atomic uint64_t kernel_drops;
	uint64_t unwanted_seen; /* lane 0's: ops->unwanted() already counted */
	_Atomic uint64_t left_out; /* of received, what the backend left out (xdp:) */
	/* a frame it delivered carried a VLAN tag (sampled: only for a hint, requests.c) */
	atomic_bool seen_vlan;
	char error[64]; /* under lock */
	/* what the kernel filters, for STATUS; under lock (kernel_filter is the thread's) */
	char kernel_filter_shown[128];
	bool kernel_drop_all_shown;

	/* control thread only */
	unsigned n_consumers;
	unsigned n_objects; /* consumers made for it, attached or not (consumer.c) */
	bool from_config;   /* a `source` line, not --source: a reload may change it */
	bool retired;       /* a reload removed it (reload.c): nobody may attach */
	struct source *next;
};

/*
 * Make source NAME=KIND:OPTIONS with the backend of KIND among kinds (a
 * NULL-terminated list; NULL: source_kinds, the real ones), opening it.
 * @return 0 or -errno with err.
 */
int source_create(const char *name_eq_spec, const struct source_ops *const *kinds,
		  struct source **out, char *err, size_t err_len);
int source_start(struct source *s);
void source_stop(struct source *s); /* joins the thread, closes the backend */
void source_destroy(struct source *s);
struct source *source_find(struct source *list, const char *name);
void source_set_error(struct source *s, const char *msg);
/* Wake every lane but lane 0 from wait() (to stop, or to let lane 0 write-lock). */
void source_kick_lanes(struct source *s);
/*
 * Say why nobody may attach to s any more: it is a finite source (a file, a
 * counted generator) that has ended, and an ended source never starts again.
 */
void source_ended_why(struct source *s, char *err, size_t err_len);

/*
 * Set while a new vcapd takes over from an old one (upgrade.c): a backend
 * whose open() would take a kernel resource (if:'s socket and its ring)
 * leaves that to restore(), which is given the inherited one, or nothing
 * (len 0) for a source the old vcapd did not have.
 */
extern bool source_adopting;

extern const struct source_ops *const source_kinds[]; /* synth, pcap, if; NULL-terminated */
extern const char *const source_common_options[];    /* what every kind takes: cpu */
extern const struct source_ops source_synth_ops;
extern const struct source_ops source_pcap_ops;
extern const struct source_ops source_if_ops;
extern const struct source_ops source_xdp_ops; /* built with libxdp, else one that says so */

/* The capture thread of one lane (capture.c): arg is its struct source_lane. */
void *capture_main(void *lane);

#endif /* VCAP_DAEMON_SOURCE_H */
