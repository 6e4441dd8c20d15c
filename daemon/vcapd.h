/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcapd.h - the daemon's state: what it serves and the limits it keeps.
 *
 * The parts, each behind its own header (docs/architecture.md draws them):
 *   source.h    sources: backends and their capture threads
 *   capture.h   what a capture thread serves: mailbox, roster, deliver
 *   consumer.h  one ring of one consumer
 *   filter.h    BPF filters;  rules.h  wildcard and flow rules
 *   session.h   one client and its rings, over any carrier
 *   session_unix.h, vm.h   the carriers: unix sockets, VM guests
 *   policy.h    tenants;  status.h  the STATUS reply
 *   loop.h      the control thread's event loop
 *   config.h, options.h    the configuration file and option lists
 *   util.h      logging and clocks
 */
#ifndef VCAP_DAEMON_VCAPD_H
#define VCAP_DAEMON_VCAPD_H

#include <stdint.h>

#include "rules.h"
#include "vcap_ring.h"

struct consumer;
struct source;
struct source_ops;
struct tenant;
struct vm;

struct vcapd_limits {
	uint32_t max_rings;      /* per session */
	uint32_t ring_size_min;
	uint32_t ring_size_max;
	uint32_t ring_size_default;
	uint64_t ring_memory_max; /* all rings together */
	uint32_t max_sessions;
	uint32_t filter_compile_ms; /* budget for compiling one filter (bpfc.h) */
	uint32_t filter_insns_max;  /* BPF instructions in one compiled filter */
	uint32_t cost_ns;           /* what a tenant's rings may cost a capture thread per packet */
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
	uint64_t ring_memory_opening; /* ... and of rings placed for an OPEN not answered yet */
	uint32_t next_ring_id;
	struct consumer *consumers; /* all of them, newest first */
	unsigned n_sessions;
	/*
	 * The backends configuration lines may name (NULL-terminated; NULL:
	 * the real ones, source_kinds).  The config fuzz target passes
	 * stand-ins that open nothing.
	 */
	const struct source_ops *const *source_kinds;
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
			    .max_sessions = 1024,                                        \
			    .filter_compile_ms = 1000,                                   \
			    .filter_insns_max = 4096,                                    \
			    .cost_ns = 500 },                                            \
	}

#endif /* VCAP_DAEMON_VCAPD_H */
