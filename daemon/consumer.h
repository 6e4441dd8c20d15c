/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * consumer.h - one ring for one consumer of one source.
 *
 * Ownership: a consumer is created and freed by the control thread; while
 * it is attached (roster.c), its ring writer, filters and rules belong to
 * the source's capture thread, and the control thread reads its counters
 * only through the private mirror.
 */
#ifndef VCAP_DAEMON_CONSUMER_H
#define VCAP_DAEMON_CONSUMER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "rules.h"
#include "vcap_proto.h"

struct cluster;
struct cost_bucket;
struct filter;
struct job;
struct session;
struct session_ops;
struct vcapd;
struct source;

/*
 * Where a ring lives and how its consumer is woken.  The session's carrier
 * fills it (session.h: ring_place); the rest of vcapd uses only map and
 * wake_fd.
 */
struct ring_place {
	uint32_t ring_id;
	size_t map_size;     /* asked for: vcap_ring_map_size(data size) */
	void *carrier;       /* what the carrier's ring_release needs (its VM) */
	uint32_t generation; /* the carrier's, when placed (a VM's region resets) */
	void *map;           /* vcapd's mapping of the ring */
	int wake_fd;         /* vcapd's end: writing 8 bytes wakes the consumer */
	/* the ring's own file, kept to hand over in an upgrade (upgrade.c); -1: none */
	int keep_fd;
	/* what the OPEN reply tells the consumer */
	uint64_t region_off; /* where in a shared region (0: the ring is its own file) */
	uint32_t vector;     /* the interrupt vector that wakes it (0: none) */
	int give[2];         /* descriptors sent with the reply, then closed here */
	int n_give;
};

struct consumer {
	uint32_t id;
	struct source *src;
	struct session *owner;
	const struct session_ops *carrier; /* placed the ring; outlives the session */
	struct ring_place place;

	bool want_hash;        /* fill in record hashes (VCAP_OPENF_FLOW_HASH) */
	bool want_meta;        /* records carry vcap_rec_meta (VCAP_OPENF_META) */
	uint32_t cluster_id;   /* 0: none */
	uint32_t cluster_mode; /* VCAP_CLUSTER_* */

	/*
	 * The source's capture threads only while attached.  With more than
	 * one lane, whichever writes (the ring is single-producer) or judges
	 * (rules count hits) holds wlock for its batch: a lane's whole share,
	 * so a consumer sees each lane's batch in one piece and each flow,
	 * which stays on one lane, in order.  One lane: never taken.
	 */
	pthread_mutex_t wlock;
	struct vcap_ring_writer w;
	struct filter *policy; /* the tenant's mandatory filter, or NULL */
	struct filter *filter; /* the consumer's own, or NULL */
	struct rules *rules;   /* never NULL */
	bool rules_trivial;    /* cached rules_trivial(rules) */
	struct cluster *cluster;
	uint16_t member;       /* index in cluster->members */
	struct cost_bucket *bucket; /* its owner's on this source, or NULL: no budget */
	const void *cost_key;  /* set before attach: the owner (NULL: none) */
	uint64_t cost_budget_ns; /* ... and its budget per packet (0: none) */
	uint64_t kernel_drops_base;

	/* written by the capture thread, read by the control thread */
	struct vcap_ring_stats mirror;
	_Atomic uint32_t rule_count;
	_Atomic uint32_t flow_count;
	/*
	 * ns the capture thread spent on this ring's packets (judging and
	 * copying; deliver.c), cumulative: STATUS's filter_ns.  Not under the
	 * mirror's seqlock, so it may be a batch ahead of `received`.
	 */
	_Atomic uint64_t filter_ns;
	/* packets skipped while its account's cost budget was spent (of dropped); as filter_ns */
	_Atomic uint64_t over_budget;

	/* control thread only */
	struct vcapd *charged; /* its place counts in this vcapd's ring memory, or NULL */
	char filter_text[VCAP_FILTER_MAX + 1];
	char policy_text[VCAP_FILTER_MAX + 1];
	struct consumer *next_in_session;
	struct consumer *next_global;
};

/* What a consumer asks for when it is created. */
struct consumer_req {
	struct session *session; /* its carrier decides where the ring goes */
	uint32_t data_size;
	uint32_t snaplen;
	const struct rules_limits *limits;
};

/*
 * Create a consumer of s with the ring req asks for, placed but not
 * populated, without filters (compiled elsewhere: bpfc.h); does not
 * attach it.
 */
int consumer_create(struct source *s, uint32_t id, const struct consumer_req *req,
		    struct consumer **out, char *err, size_t err_len);
/*
 * Fault in every page of the ring, so no packet pays for one.  Slow for a
 * large ring: on a job thread (j, polled for cancellation; may be NULL).
 * @return 0 or -errno with err.
 */
int consumer_populate(struct consumer *c, struct job *j, char *err, size_t err_len);
/*
 * Free c; its ring's pages are given back off the control thread (and
 * stay charged until they are).
 */
void consumer_destroy(struct consumer *c);
/*
 * The same, and @return true if the pages are given back later: then
 * released(arg) is called on the control thread once they are.
 */
bool consumer_destroy_then(struct consumer *c, void (*released)(void *arg), void *arg);
/*
 * In a new vcapd taking over (upgrade.c): a consumer of s for session ss
 * around an inherited ring (memfd, map_size bytes, woken through wake_fd),
 * its writer state w as the old vcapd left it.  Owns both descriptors on
 * success; not attached.  @return 0 or -errno with err.
 */
int consumer_adopt(struct source *s, uint32_t id, struct session *ss, int memfd, int wake_fd,
		   size_t map_size, const struct vcap_ring_writer *w,
		   const struct rules_limits *limits, struct consumer **out, char *err,
		   size_t err_len);
/*
 * The same for a ring placed by its carrier (a VM's ring in its region,
 * vm_adopt_ring): place says where it is mapped and owns its wake_fd once
 * this succeeds.  @return 0 or -errno with err.
 */
int consumer_adopt_placed(struct source *s, uint32_t id, struct session *ss,
			  const struct ring_place *place, const struct vcap_ring_writer *w,
			  const struct rules_limits *limits, struct consumer **out, char *err,
			  size_t err_len);
/* The OPEN reply handed place.give[] over: close vcapd's copies. */
void consumer_gave(struct consumer *c);
/* Wake the consumer (its wait request was granted).  Never blocks. */
void consumer_signal(struct consumer *c);

#endif /* VCAP_DAEMON_CONSUMER_H */
