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
 *   policy.h    tenants;  account.h  what each tenant may hold;  status.h  STATUS
 *   metrics.h   the same counters for Prometheus, over HTTP
 *   loop.h      the control thread's event loop
 *   config.h, options.h    the configuration file and option lists
 *   util.h      logging and clocks
 */
#ifndef VCAP_DAEMON_VCAPD_H
#define VCAP_DAEMON_VCAPD_H

#include <stdbool.h>
#include <stdint.h>

#include "account.h"
#include "rules.h"
#include "vcap_ring.h"

struct consumer;
struct loop;
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
	uint32_t hello_timeout_ms;  /* a connection without HELLO by then is closed */
	uint32_t filter_compile_ms; /* budget for compiling one filter (bpfc.h) */
	uint32_t filter_insns;      /* most BPF instructions in one filter */
	uint32_t cost_ns;           /* what an account's rings may cost a capture thread per packet */
};

/* Who may connect to a socket vcapd listens on: applied before anyone can. */
struct socket_perm {
	long uid;      /* -1: root */
	long gid;      /* -1: root */
	unsigned mode; /* 0600 unless configured */
};

#define SOCKET_PERM_DEFAULT { .uid = -1, .gid = -1, .mode = 0600 }

/* What vcapd serves when it is given no source at all: a demo generator. */
#define VCAPD_DEFAULT_SOURCE "synth=synth:size=64,pps=1M,flows=1024"

struct vcapd {
	const char *socket_path;
	struct socket_perm socket_perm; /* of the main socket */
	char config_socket[108]; /* the config's `socket` line (socket_path may point here) */
	const char *config_path; /* for messages; "" without --config */
	/* given on the command line: a reload of the file does not change them */
	bool cmdline_socket;
	uint64_t cmdline_ring_memory; /* --max-ring-memory, 0: none */
	struct loop *loop; /* the control thread's */
	const char *metrics_listen;     /* --metrics, `metrics`: where metrics.h serves; NULL: off */
	char config_metrics[160];       /* the config's `metrics` line (metrics_listen may point here) */
	bool cmdline_metrics;           /* --metrics: a reload does not change it */
	struct socket_perm metrics_perm; /* of a unix: metrics socket */
	struct source *sources;
	struct tenant *tenants;
	struct vm *vms;
	struct rules_limits rules_limits;
	struct vcapd_limits limits;
	uint64_t ring_memory; /* bytes of rings allocated now */
	uint64_t ring_memory_opening; /* ... and of rings placed for an OPEN not answered yet */
	uint64_t ring_memory_releasing; /* of ring_memory: pages being given back now */
	uint32_t next_ring_id;
	struct consumer *consumers; /* all of them, newest first */
	unsigned n_sessions;
	uint64_t tenant_limits[ACCT_N]; /* every account's but the admin's, by default */
	struct account admin;           /* root on the main socket */
	struct account *uid_accounts;   /* anyone else on it, by uid (account.c) */
	/*
	 * The backends configuration lines may name (NULL-terminated; NULL:
	 * the real ones, source_kinds).  The config fuzz target passes
	 * stand-ins that open nothing.
	 */
	const struct source_ops *const *source_kinds;
	/*
	 * Removed by a reload (reload.c) but still named by what was under way
	 * then (a ring being opened or given back, a session ending): freed once
	 * nothing does, at the next reload or at exit.
	 */
	struct source *retired_sources;
	struct tenant *retired_tenants;
	struct vm *retired_vms;
};

/*
 * What protects a host with 64 tenants: 4 GiB of rings / 64, and per
 * tenant what vcapd allows one ring (wildcard rules), or a share of it.
 */
#define TENANT_LIMITS_DEFAULT                                                            \
	{                                                                                \
		[ACCT_SESSIONS] = 16, [ACCT_RINGS] = 16, [ACCT_RING_MEMORY] = 64ull << 20, \
		[ACCT_WILDCARD_RULES] = 1024, [ACCT_FLOW_RULES] = 65536,                  \
		[ACCT_FILTER_INSNS] = 16384, [ACCT_JOBS] = 2,                             \
	}

/* vcapd's settings before the command line and the configuration file. */
#define VCAPD_DEFAULTS                                                                   \
	{                                                                                \
		.config_path = "",                                                       \
		.socket_perm = SOCKET_PERM_DEFAULT,                                      \
		.metrics_perm = SOCKET_PERM_DEFAULT,                                     \
		.tenant_limits = TENANT_LIMITS_DEFAULT,                                  \
		.admin = { .name = "admin", .unlimited = true },                         \
		.rules_limits = { .max_rules = 1024, .max_flows = 1u << 20 },            \
		.limits = { .max_rings = 64,                                             \
			    .ring_size_min = VCAP_RING_DATA_MIN,                         \
			    .ring_size_max = VCAP_RING_DATA_MAX,                         \
			    .ring_size_default = 16u << 20,                              \
			    .ring_memory_max = 4ull << 30,                               \
			    .max_sessions = 1024,                                        \
			    .hello_timeout_ms = 2000,                                    \
			    .filter_compile_ms = 1000,                                   \
			    .filter_insns = 4096,                                        \
			    .cost_ns = 500 },                                            \
	}

#endif /* VCAP_DAEMON_VCAPD_H */
