/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcap.h - libvcap, the one capture API for host processes, containers and
 * virtual machines.
 *
 * Devices:
 *   "host:NAME"  source NAME of vcapd, the host capture daemon.  Packets are
 *                captured once on the host, filtered there, and written into
 *                a ring mapped into this process.  Works without
 *                CAP_NET_RAW, from any network namespace that can reach
 *                vcapd's socket.
 *   "eth0"       this process's own interface eth0, captured directly with
 *                AF_PACKET (TPACKET_V3); needs CAP_NET_RAW; no daemon.
 * The same program runs unchanged on a host, in a container or in a VM:
 * only the device name says where the packets come from.
 *
 * Conventions (as libbpf's):
 *   - functions returning int return 0 (or a count) on success and a
 *     negative errno on failure; functions returning a pointer return NULL
 *     and set errno.  Either way vcap_errmsg() then says what went wrong.
 *   - structs only ever grow, by fields added at the end, so that a program
 *     and a libvcap built from different versions of this header work
 *     together.  Two kinds can grow:
 *   - options structs (input) start with `sz` and are declared with
 *     VCAP_OPTS(), which zero-fills them, padding included; a NULL options
 *     pointer means all defaults.  A library newer than the program gives
 *     the fields the program's struct lacks their defaults; a library older
 *     than the program ignores the fields it does not know if they are 0,
 *     and refuses the call (-EOPNOTSUPP, the field's offset in
 *     vcap_errmsg()) if one is set.
 *   - structs the library fills (output: vcap_stats, vcap_info,
 *     vcap_source_desc) are passed with their size, sizeof(*ptr) as the
 *     program sees it.  The library fills the fields both sides know and
 *     zeroes the rest of the program's struct (fields the library is too
 *     old for read 0); it never writes beyond that size.  A size smaller
 *     than the struct's first published version is -EINVAL.
 *   - the other structs (vcap_pkt, vcap_rule, vcap_flow) carry no size and
 *     are fixed: a change to them would take new functions.
 *   - VCAP_VERSION is the version of this header, vcap_version() that of
 *     the library the program runs with.
 *   - a struct vcap is used by one thread at a time, except
 *     vcap_breakloop(), which any thread or signal handler may call.
 */
#ifndef VCAP_H
#define VCAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h> /* memset, for VCAP_OPTS */

#ifdef __cplusplus
extern "C" {
#endif

#define VCAP_API __attribute__((visibility("default")))

/*
 * The version of this header, meson's project version (the build checks
 * that they agree).  Compare VCAP_VERSION with vcap_version() to learn
 * whether the library is older than the header a program was built with.
 */
#define VCAP_VERSION_MAJOR 0
#define VCAP_VERSION_MINOR 1
#define VCAP_MKVERSION(major, minor) ((uint32_t)(major) << 16 | (uint32_t)(minor))
#define VCAP_VERSION VCAP_MKVERSION(VCAP_VERSION_MAJOR, VCAP_VERSION_MINOR)

/**
 * @brief The version of the libvcap this program runs with, as
 * VCAP_MKVERSION(major, minor): the library's VCAP_VERSION.
 */
VCAP_API uint32_t vcap_version(void);

/* An open capture handle. */
struct vcap;

/*
 * Declare an options struct NAME of type `struct TYPE`, zero-filled, with
 * sz set and the given designated initializers applied, e.g.
 *   VCAP_OPTS(vcap_open_opts, o, .filter = "udp", .ring_size = 1 << 26);
 * As libbpf's LIBBPF_OPTS: a GNU statement expression (gcc, clang) zeroes
 * the whole struct, padding included, which a plain initializer need not,
 * then assigns it a compound literal: so a newer library never mistakes
 * the padding after the program's last field for a field of its own.
 * (Copying a compound literal keeps the struct's padding zero with gcc
 * and clang at any -O; copying a declared variable does not, with clang
 * at -O0.)  C++: the designators must come in declaration order, and g++
 * would warn (-Wmissing-field-initializers) about the fields not named,
 * which is the point, so that warning is off for the declaration.
 */
#ifdef __cplusplus
#define VCAP_OPTS(TYPE, NAME, ...)                                                   \
	_Pragma("GCC diagnostic push")                                               \
	_Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"")          \
	struct TYPE NAME = ({                                                        \
		memset(&NAME, 0, sizeof(struct TYPE));                               \
		(struct TYPE){ .sz = sizeof(struct TYPE), __VA_ARGS__ };             \
	});                                                                          \
	_Pragma("GCC diagnostic pop")                                                \
	static_assert(sizeof(NAME) > 0, "VCAP_OPTS") /* takes the caller's `;` */
#else
#define VCAP_OPTS(TYPE, NAME, ...)                                                   \
	struct TYPE NAME = ({                                                        \
		memset(&NAME, 0, sizeof(struct TYPE));                               \
		(struct TYPE){ .sz = sizeof(struct TYPE), __VA_ARGS__ };             \
	})
#endif

struct vcap_open_opts {
	size_t sz; /* sizeof(struct vcap_open_opts) */
	/*
	 * Bytes of packet records in the ring, a power of two between 4 KiB
	 * and 1 GiB.  0: 16 MiB.  A 128 MiB ring holds 1.39 million 64-byte
	 * packets.  For direct devices: the TPACKET_V3 ring size.
	 */
	uint32_t ring_size;
	/* Bytes kept of each packet.  0: 65535 (whole packets). */
	uint32_t snaplen;
	/* Filter in tcpdump syntax, applied before packets enter the ring. */
	const char *filter;
	/* Wake a waiting vcap_recv() once this many packets wait.  0: 1. */
	uint32_t watermark;
	/* ... or once the first waiting packet is this old.  0: 100 ms. */
	uint32_t timeout_ms;
	/* vcapd's socket.  NULL: $VCAP_SOCKET, else VCAP_DEFAULT_SOCKET. */
	const char *socket_path;
	/* VCAP_OPEN_* */
	uint32_t flags;
	/*
	 * Join cluster cluster_id (0: none) of the source: its members share
	 * the source's packets, each packet going to exactly one member, chosen
	 * by cluster_mode (VCAP_CLUSTER_*).  All members must use the same mode.
	 */
	uint32_t cluster_id;
	uint32_t cluster_mode;
	/* New fields go here, and vcap_open_opts__last_field names the last. */
};
#define vcap_open_opts__last_field cluster_mode

/*
 * How a cluster spreads packets.  The hash modes are symmetric: both
 * directions of a conversation go to the same member.  A member that leaves
 * gives its share to the others; no packet is delivered twice.
 */
#define VCAP_CLUSTER_5TUPLE 0      /* addresses, ports, IP protocol (default) */
#define VCAP_CLUSTER_4TUPLE 1      /* addresses and ports */
#define VCAP_CLUSTER_2TUPLE 2      /* addresses */
#define VCAP_CLUSTER_ROUND_ROBIN 3 /* packet by packet */

/*
 * Fill vcap_pkt.hash with the symmetric 5-tuple flow hash (both directions
 * of a flow hash alike).  vcapd computes it once per packet for all the
 * consumers that ask; without this flag hash is 0 and nobody pays for it.
 */
#define VCAP_OPEN_FLOW_HASH 0x1

#define VCAP_DEFAULT_SOCKET "/run/vcap/vcapd.sock"

/* One received packet.  `data` points into the ring: zero copy. */
struct vcap_pkt {
	const uint8_t *data;
	uint64_t ts_ns;   /* capture time, ns since the Unix epoch */
	uint32_t caplen;  /* bytes at data */
	uint32_t wirelen; /* bytes the packet had on the wire */
	uint32_t ifindex; /* capturing interface on its host (0: none) */
	uint32_t hash;    /* symmetric flow hash (0: not asked for) */
};

/* Flags for vcap_recv() and vcap_recv_burst(). */
#define VCAP_WAIT 0x1 /* sleep until packets arrive (see watermark) */

/*
 * Counters of one handle.  For host: devices they are vcapd's, and
 * received == delivered + dropped + filtered always holds.
 */
struct vcap_stats {
	uint64_t received;     /* packets the source offered to this handle */
	uint64_t delivered;    /* put into the ring */
	uint64_t dropped;      /* lost because the ring was full */
	uint64_t filtered;     /* rejected by the filter */
	uint64_t kernel_drops; /* lost by the source's kernel socket */
};

struct vcap_info {
	uint32_t linktype;  /* DLT_* of the packets (1: Ethernet) */
	uint32_t snaplen;
	uint32_t ring_size; /* bytes of records actually granted */
	uint32_t ring_id;   /* vcapd's ring id (0 for direct devices) */
};

/**
 * @brief Open a capture device.
 * @param device "host:NAME" or a local interface name (see top of file).
 * @param opts options, or NULL for defaults.
 * @return a handle, or NULL with errno set: ENOENT (no such source or
 * interface), ECONNREFUSED (vcapd not running), EACCES (policy or
 * permissions), EINVAL (bad option or filter), ENOMEM, EPROTO (vcapd speaks
 * another protocol), EOPNOTSUPP (unknown options set).
 * Blocks while talking to vcapd.
 */
VCAP_API struct vcap *vcap_open(const char *device, const struct vcap_open_opts *opts);

/**
 * @brief Receive the next packet, zero copy.
 * The packet stays valid until the next vcap_recv(), vcap_recv_burst() or
 * vcap_close() on this handle, which releases it back to the producer.
 * @param flags 0 (return at once) or VCAP_WAIT.
 * @return 1 with *pkt filled; 0 if no packet is waiting and VCAP_WAIT was
 * not given; -ENODATA when a finite source (pcap file, counted generator)
 * has ended and everything was read; -EINTR if interrupted by a signal or
 * vcap_breakloop(); -EPIPE if vcapd went away; -EPROTO on a corrupt ring.
 * Makes no system call unless it sleeps.
 */
VCAP_API int vcap_recv(struct vcap *h, struct vcap_pkt *pkt, int flags);

/**
 * @brief Receive up to n packets, zero copy.
 * They stay valid until the next receive call or vcap_close(), which
 * releases all of them with one store.
 * @return the number received (0..n), or a negative errno as vcap_recv().
 * With VCAP_WAIT, returns once at least one packet is there.
 */
VCAP_API int vcap_recv_burst(struct vcap *h, struct vcap_pkt *pkts, unsigned n, int flags);

/**
 * @brief Replace the filter; NULL or "" removes it.
 * For host: devices vcapd compiles and runs it, before the ring; for
 * direct devices the kernel runs it (SO_ATTACH_FILTER).
 * @return 0, or -EINVAL with the compiler's message in vcap_errmsg().
 */
VCAP_API int vcap_set_filter(struct vcap *h, const char *filter);

/**
 * @brief Set when a waiting receive wakes: once `packets` wait, or once
 * the first waiting packet is timeout_ms old.  0 means 1 packet / 100 ms.
 * Whatever these say, it also wakes once the ring is more than half full.
 * @return 0.  No system call: the values live in the ring.
 */
VCAP_API int vcap_set_watermark(struct vcap *h, uint32_t packets, uint32_t timeout_ms);

/**
 * @brief Read the handle's counters.
 * @param sz sizeof(*st): the library fills what it knows of the first sz
 * bytes and zeroes the rest (see Conventions at the top).
 * @return 0, -EINVAL (st NULL or sz below the first struct vcap_stats), or
 * another negative errno.
 */
VCAP_API int vcap_stats(struct vcap *h, struct vcap_stats *st, size_t sz);

/**
 * @brief Describe the handle.
 * @param sz sizeof(*info), as for vcap_stats().
 * @return 0, or -EINVAL (info NULL or sz below the first struct vcap_info).
 */
VCAP_API int vcap_info(struct vcap *h, struct vcap_info *info, size_t sz);

/**
 * @brief A descriptor for poll/epoll loops.
 * It becomes readable when packets are waiting, once vcap_recv() or
 * vcap_recv_burst() without VCAP_WAIT has returned 0 (that call asks the
 * producer for a wake-up).  Do not read from it: the next receive call
 * takes care of it.
 */
VCAP_API int vcap_fd(struct vcap *h);

/**
 * @brief Make a receive that sleeps (or the next one) return -EINTR.
 * Async-signal-safe; callable from any thread.
 */
VCAP_API void vcap_breakloop(struct vcap *h);

/** @brief Release the ring and everything the handle holds.  NULL is a no-op. */
VCAP_API void vcap_close(struct vcap *h);

/**
 * @brief What the last failing vcap call of this thread said, e.g.
 * "host:eth9: no such source (vcapd has: eth0, synth)".  Never NULL.
 */
VCAP_API const char *vcap_errmsg(void);

/* ---- rules: early filtering beyond BPF, run by vcapd (host: devices) -------
 *
 * A packet reaches the ring if it passes, in this order: the policy filter
 * vcapd's configuration imposes on the tenant, the handle's BPF filter, and
 * the handle's rules.  Rules decide by the first that matches: exact flow
 * rules first, then wildcard rules by increasing id, then the default
 * action (VCAP_PASS unless changed).  Every packet a rule drops counts as
 * filtered.  Rules take effect before the call that installs them returns.
 * Direct devices have no rules (-EOPNOTSUPP).
 *
 * Wildcard rules: fields not named in `fields` are ignored (pad must be 0);
 * a VLAN rule, VLAN 0 included, matches tagged frames only; port fields
 * match TCP, UDP and SCTP packets that are not fragments; address fields
 * match packets of the rule's family only.  Evaluation costs about 2.5 ns
 * per rule: meant for tens of rules, not thousands.
 *
 * Flow rules: a protocol without ports (ICMP...) is named with both ports
 * 0 and matches all its packets between the two addresses; TCP and UDP
 * fragments match no flow rule (they fall through to the wildcard rules).
 * A rule that expired is gone: adding the flow again succeeds.
 */

#define VCAP_PASS 1
#define VCAP_DROP 2

/* Which fields of a struct vcap_rule must match; unset fields match all. */
#define VCAP_RULE_SMAC 0x001u      /* source MAC address */
#define VCAP_RULE_DMAC 0x002u      /* destination MAC address */
#define VCAP_RULE_VLAN 0x004u      /* 802.1Q VLAN id of the outer tag */
#define VCAP_RULE_ETHERTYPE 0x008u /* EtherType after any VLAN tags */
#define VCAP_RULE_PROTO 0x010u     /* IP protocol (IPv4 or IPv6 next header) */
#define VCAP_RULE_SADDR 0x020u     /* source address within saddr/saddr_prefix */
#define VCAP_RULE_DADDR 0x040u     /* destination address within daddr/daddr_prefix */
#define VCAP_RULE_SPORT 0x080u     /* TCP/UDP/SCTP source port in [sport_lo, sport_hi] */
#define VCAP_RULE_DPORT 0x100u     /* destination port in [dport_lo, dport_hi] */
#define VCAP_RULE_TCP_FLAGS 0x200u /* (TCP flags & tcp_flags_mask) == tcp_flags */

/* A wildcard rule, like PF_RING's. */
struct vcap_rule {
	uint32_t id;     /* order of evaluation, and the name to remove it by */
	uint32_t fields; /* VCAP_RULE_* */
	uint32_t action; /* VCAP_PASS or VCAP_DROP */
	uint8_t smac[6];
	uint8_t dmac[6];
	uint16_t vlan;
	uint16_t ethertype;
	uint8_t proto;
	uint8_t family;        /* 4 or 6: the kind of address in saddr/daddr */
	uint8_t saddr_prefix;  /* bits of saddr that must match (0..32 or 0..128) */
	uint8_t daddr_prefix;
	uint8_t saddr[16];     /* IPv4 in the first 4 bytes; network byte order */
	uint8_t daddr[16];
	uint16_t sport_lo, sport_hi;
	uint16_t dport_lo, dport_hi;
	uint8_t tcp_flags;
	uint8_t tcp_flags_mask;
	uint8_t pad[2];
};

/**
 * @brief Add a wildcard rule.
 * @return 0; -EEXIST (the id is taken), -EINVAL (a field out of range),
 * -ENOSPC (too many rules), -EOPNOTSUPP (not a host: device).
 */
VCAP_API int vcap_rule_add(struct vcap *h, const struct vcap_rule *r);

/** @brief Remove wildcard rule id.  @return 0 or -ENOENT. */
VCAP_API int vcap_rule_remove(struct vcap *h, uint32_t id);

/** @brief What happens to a packet no rule matched: VCAP_PASS or VCAP_DROP. */
VCAP_API int vcap_rule_default(struct vcap *h, uint32_t action);

/** @brief How many packets wildcard rule id has matched.  @return 0 or -ENOENT. */
VCAP_API int vcap_rule_hits(struct vcap *h, uint32_t id, uint64_t *hits);

/*
 * One conversation: a 5-tuple that matches both directions.  Addresses in
 * network byte order (IPv4 in the first 4 bytes), ports in host order.
 */
struct vcap_flow {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;  /* IP protocol */
	uint16_t port_a;
	uint16_t port_b;
	uint16_t pad;
	uint8_t addr_a[16];
	uint8_t addr_b[16];
};

/**
 * @brief Add an exact flow rule, e.g. shunt a conversation an IDS has
 * judged benign (VCAP_DROP) so it never reaches this consumer again.
 * @param idle_timeout_ms remove the rule once no packet matched it for this
 * long (0: never).
 * @param applied_at if not NULL, set to how many packets the source had
 * delivered to this handle's filters when the rule took effect: a
 * packet of the flow counted after that point was judged by the rule.
 * @return 0; -EEXIST, -EINVAL, -ENOSPC, -EOPNOTSUPP.
 */
VCAP_API int vcap_flow_add(struct vcap *h, const struct vcap_flow *f, uint32_t action,
			   uint32_t idle_timeout_ms, uint64_t *applied_at);

/**
 * @brief Remove a flow rule (either direction names it).
 * @param hits if not NULL, set to the packets it matched.
 * @return 0 or -ENOENT (never added, or already expired).
 */
VCAP_API int vcap_flow_remove(struct vcap *h, const struct vcap_flow *f, uint64_t *hits);

/* ---- vcapd's sources (lib/list.c) ------------------------------------ */

/* One source of vcapd: what "host:NAME" can open. */
struct vcap_source_desc {
	char name[65];      /* NAME of "host:NAME" */
	char spec[193];     /* KIND:OPTIONS, as vcapd was given it */
	char state[16];     /* "idle", "running", "done" (a finite source ended), "failed" */
	char error[65];     /* its last problem (e.g. link down), "" if none */
	uint32_t linktype;  /* DLT_* of its packets */
};

/**
 * @brief List vcapd's sources.
 * @param socket_path vcapd's socket; NULL: $VCAP_SOCKET, else VCAP_DEFAULT_SOCKET.
 * @param out room for n descriptions, filled in vcapd's order (NULL if n is 0).
 * @param sz sizeof(*out): the stride of the array; each element is filled
 * as vcap_stats() fills its struct (see Conventions at the top).
 * @return how many sources vcapd has, which may be more than n (only n are
 * filled then), -EINVAL (sz below the first struct vcap_source_desc, or
 * out NULL with n > 0), or a negative errno as vcap_open() (-ECONNREFUSED:
 * vcapd is not running) with vcap_errmsg() set.  Blocks while talking to
 * vcapd.
 */
VCAP_API int vcap_list_sources(const char *socket_path, struct vcap_source_desc *out, unsigned n,
			       size_t sz);

/* ---- end of vcapd's sources -------------------------------------------- */

#ifdef __cplusplus
}
#endif

#endif /* VCAP_H */
