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
 *   - threads: the receive calls (vcap_recv, vcap_recv_burst,
 *     vcap_recv_timeout) and vcap_set_watermark of one handle are made by
 *     one thread at a time.  Every other call on a handle (filters, rules,
 *     flows, stats, info, vcap_pkt_meta) may come from any thread, also
 *     while another thread sleeps in a receive of the same handle: a
 *     worker thread can shunt a flow while the capture thread waits.
 *     vcap_breakloop() may be called from any thread and from a signal
 *     handler.  vcap_close() must be the last call on a handle.
 *   - byte order, said once for every struct here: byte arrays (MAC and IP
 *     addresses) are as on the wire, i.e. network byte order; every integer
 *     field (ports, VLAN ids, EtherTypes, lengths, counters) is in host
 *     byte order.  So the port of a TCP header is ntohs() of its bytes.
 *   - hang-ups: once vcapd is gone (it exited or was killed), a host:
 *     handle reports -EPIPE from then on, on every path: a receive (after
 *     the packets still in the ring were read), vcap_stats (which still
 *     fills in the last counters vcapd published), filter and rule calls.
 *     vcap_fd() polls readable when that happens, so an event loop learns
 *     it as it learns of packets.  Nothing clears it but vcap_close() --
 *     unless the handle was opened with VCAP_OPEN_RECONNECT, which
 *     reconnects instead (see there).
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
	/*
	 * Filter in tcpdump syntax, applied before packets enter the ring.
	 * As in tcpdump, "tcp" matches untagged frames only: write
	 * "tcp or (vlan and tcp)" to see VLAN-tagged traffic too.
	 */
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
	/*
	 * With VCAP_OPEN_RECONNECT: give up once vcapd has been away this long
	 * (ms, counted from the hang-up); the receive then reports -EPIPE for
	 * good, saying so.  0: never give up.
	 */
	uint32_t reconnect_ms;
	/* New fields go here, and vcap_open_opts__last_field names the last. */
};
#define vcap_open_opts__last_field reconnect_ms

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
/*
 * Records carry vcapd's parse of the headers and the packet's sequence
 * number (struct vcap_meta, read with vcap_pkt_meta()): vcapd parses each
 * packet once for all the consumers that ask, or need it anyway for rules,
 * clusters or hashes.  Costs 24 bytes of ring per packet.  Without it,
 * vcap_pkt_meta() parses in the caller's thread and has no sequence number.
 */
#define VCAP_OPEN_META 0x2
/*
 * Survive vcapd (or vcap-guestd) going away: when the ring's control
 * channel hangs up (vcapd died, or shut down: its rings end too), or a
 * configuration reload replaced the ring's source, the handle first
 * returns the packets still in the old ring, then connects again (at
 * once, then with a backoff of 5 ms doubling to 250 ms while nobody
 * answers; a timer, never a busy loop) and reopens a
 * ring with the same device, snaplen, ring size, flags, cluster id and
 * mode, the filter last set, the wildcard rules, flow rules and default
 * action in force, and goes on delivering.  Until then a receive waits as
 * it would for packets (its timeout bounds it, vcap_breakloop() ends it,
 * vcap_fd() polls readable when the next attempt is due); calls that need
 * vcapd (filters, rules, flows) return -EAGAIN, changing nothing.  It gives
 * up after vcap_open_opts.reconnect_ms (0: never), or at once if vcapd
 * refuses the reopen for good (no such source any more, or it has ended,
 * the filter is refused, permission denied): -EPIPE from then on, as without the flag, with the reason in
 * vcap_errmsg().  vcap_stats() counts the restarts and the gap.  A flow
 * rule with an idle timeout is reinstalled with its timer starting afresh;
 * one that expired in vcapd before the restart but was never asked about
 * since (vcap_flow_hits, vcap_flow_remove) comes back too.  Packets that
 * arrived while no vcapd captured were counted by no one and are not in any
 * counter.  Sequence numbers (vcap_meta.seq) and vcap_flow_add()'s
 * applied_at count within the current ring: they start from 0 again on
 * the new one.  A library-side flag: vcapd never sees it.  Ignored by
 * direct devices (there is no daemon to lose).
 */
#define VCAP_OPEN_RECONNECT 0x4

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
#define VCAP_WAIT 0x1 /* sleep until packets arrive (see watermark); vcap_recv_timeout bounds it */

/*
 * Counters of one handle.  For host: devices they are vcapd's, and
 * received == delivered + dropped + filtered always holds.
 */
struct vcap_stats {
	uint64_t received;     /* packets the source offered to this handle */
	uint64_t delivered;    /* put into the ring */
	uint64_t dropped;      /* lost because the ring was full */
	uint64_t filtered;     /* rejected: by the policy, the filter or a rule */
	uint64_t kernel_drops; /* lost by the source's kernel socket */
	/*
	 * Of `filtered`, those a rule dropped (a flow rule, a wildcard rule
	 * or the default action) rather than the policy or the BPF filter:
	 * what shunting saved.  filtered - shunted is what the filters
	 * rejected.
	 */
	uint64_t shunted;
	/*
	 * Reconnects (VCAP_OPEN_RECONNECT): every counter above is the total
	 * over all the rings this handle has had, so received == delivered +
	 * dropped + filtered holds for the handle's whole life.
	 *
	 * restarts: how many times the handle reopened its ring after vcapd
	 * went away (0 without the flag).
	 */
	uint64_t restarts;
	/*
	 * Nanoseconds, summed over the restarts, from the moment the handle
	 * found vcapd gone (with the old ring read to its end) until a new
	 * ring was in place: how long the consumer had no ring.  Packets that
	 * reached the source then were captured by no one; nothing counts
	 * them, here or in vcapd.  (Nor those of the moments before, between
	 * vcapd's death and its last counters: only what follows is known.)
	 */
	uint64_t gap_ns;
	/*
	 * Packets certainly lost to the restarts: those an old ring's last
	 * counters show vcapd had taken but not yet judged (received -
	 * delivered - dropped - filtered of its last snapshot, a snapshot cut
	 * short by the crash), and those it delivered into an old ring that
	 * could not be read any more.  They are counted in `dropped` too (and
	 * in `received` where vcapd had not counted them), which keeps the
	 * sum above.
	 */
	uint64_t restart_lost;
};

struct vcap_info {
	uint32_t linktype;  /* DLT_* of the packets (1: Ethernet) */
	uint32_t snaplen;
	uint32_t ring_size; /* bytes of records actually granted */
	uint32_t ring_id;   /* vcapd's ring id (0 for direct devices) */
	/* The most wildcard rules and flow rules this handle may hold (0: no rules). */
	uint32_t rule_max;
	uint32_t flow_max;
	uint32_t flags;     /* VCAP_OPEN_* in force (a flag vcapd could not grant is absent) */
};

/**
 * @brief Open a capture device.
 * @param device "host:NAME" or a local interface name (see top of file).
 * @param opts options, or NULL for defaults.
 * @return a handle, or NULL with errno set: ENOENT (no such source or
 * interface), ECONNREFUSED (vcapd not running), EACCES (policy or
 * permissions), EINVAL (bad option or filter), ENOMEM, EPROTO (vcapd speaks
 * another protocol), EOPNOTSUPP (unknown options set), ENODATA (a finite
 * source, a pcap file or a counted generator, has ended: it never starts
 * again, so there is nothing left to open).
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
 * vcap_breakloop(); -EPIPE if vcapd went away (sticky, see Conventions);
 * -EPROTO on a corrupt ring.
 * Makes no system call while packets are waiting.
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
 * @brief Receive up to n packets, waiting at most timeout_ms for them: a
 * bounded wait, for tools that must also do periodic work (print stats,
 * expire state) when traffic stops.  libpcap's to_ms means this.
 * The wait ends at the first of: the watermark or the watermark timeout is
 * reached (vcap_set_watermark), the deadline passes (then whatever is
 * waiting is returned, fewer than the watermark or none), a break, or a
 * hang-up.
 * @param timeout_ms 0: do not wait (VCAP_WAIT not given); -1: no limit
 * (VCAP_WAIT); otherwise milliseconds, measured on CLOCK_MONOTONIC.
 * @return the number received (0..n), 0 once the deadline passed with
 * nothing there, or a negative errno as vcap_recv().
 */
VCAP_API int vcap_recv_timeout(struct vcap *h, struct vcap_pkt *pkts, unsigned n,
			       int timeout_ms);

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
 * This timeout counts from the first waiting packet and so never ends a
 * wait on an idle source: that is what vcap_recv_timeout()'s bound is for.
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
 * @brief A descriptor for poll/epoll loops (level-triggered, EPOLLIN).
 * It polls readable when
 *   - packets are waiting, once a receive without waiting returned 0 (that
 *     call asks the producer for a wake-up, as the watermark says);
 *   - vcap_breakloop() was called: the next receive returns -EINTR;
 *   - vcapd is gone: the next receive returns -EPIPE once the ring is read;
 *   - in a VM whose device has no interrupts (a polled ring), at least
 *     every 10 ms while a wake-up is asked for, so the loop looks again.
 * It stays readable until a receive call has taken care of the reason: so
 * after a wake-up, call a receive until it returns 0 (or an error).  Do not
 * read from it or add it to another epoll set with EPOLLET.  The same
 * descriptor for the handle's life.
 * @return the descriptor, or a negative errno.
 */
VCAP_API int vcap_fd(struct vcap *h);

/**
 * @brief Make the receive that sleeps, or else the next receive call on h,
 * return -EINTR, and make vcap_fd() poll readable until it has.
 * The latch: one -EINTR answers every vcap_breakloop() made before it;
 * that receive takes no packet (even if packets are waiting) and clears
 * the latch, so the receive after it returns packets again.
 * Async-signal-safe; callable from any thread.
 */
VCAP_API void vcap_breakloop(struct vcap *h);

/** @brief Release the ring and everything the handle holds.  NULL is a no-op. */
VCAP_API void vcap_close(struct vcap *h);

/* ---- parsed headers ------------------------------------------------------ */

/*
 * What a packet's headers say, parsed once (by vcapd for handles opened
 * with VCAP_OPEN_META, else by vcap_pkt_meta() itself).  Offsets are
 * from pkt->data; a header counts as present only if it is whole within
 * caplen.  Integers in host order (see Conventions).
 */
struct vcap_meta {
	/*
	 * The packet's number among all the packets the source offered this
	 * handle (received, whatever became of them), from 0; valid with
	 * VCAP_META_SEQ.  Compare it with vcap_flow_add()'s applied_at: a
	 * packet with seq >= applied_at was judged with the rule in force.
	 */
	uint64_t seq;
	uint16_t l3_off;     /* IPv4/IPv6 header (0: not IP, or cut off) */
	uint16_t l4_off;     /* transport header (0: none, a fragment, or cut off) */
	uint16_t ethertype;  /* after up to two VLAN tags (0: not Ethernet or cut off) */
	uint16_t vlan;       /* VLAN id of the outer tag; valid with VCAP_META_VLAN */
	uint8_t ip_version;  /* 4, 6, or 0 */
	uint8_t proto;       /* IP protocol, after IPv6 extension headers */
	uint8_t tcp_flags;   /* valid with VCAP_META_PORTS and proto 6 */
	uint8_t pad;
	uint32_t flags;      /* VCAP_META_* */
};

#define VCAP_META_SEQ 0x01      /* seq is valid (VCAP_OPEN_META on a host: device) */
#define VCAP_META_VLAN 0x02     /* the frame had a VLAN tag */
#define VCAP_META_FRAGMENT 0x04 /* an IP fragment (first or later) */
#define VCAP_META_PORTS 0x08    /* a whole TCP/UDP/SCTP header is at l4_off */
#define VCAP_META_VCAPD 0x10    /* vcapd's parse, carried in the record */

/**
 * @brief Parsed headers and sequence number of a packet.
 * @param pkt a packet the last receive call on h returned (still valid).
 * @param sz sizeof(*m): filled as vcap_stats() fills its struct.
 * @return 0, or -EINVAL (m NULL, sz too small, or pkt not from h's ring).
 * No system call; reading vcapd's parse costs a copy of 24 bytes, parsing
 * here about 5 ns.
 */
VCAP_API int vcap_pkt_meta(struct vcap *h, const struct vcap_pkt *pkt, struct vcap_meta *m,
			   size_t sz);

struct vcap_flow;

/**
 * @brief The 5-tuple of a packet, as the flow rule that names its
 * conversation: addresses and ports of the packet (source as addr_a,
 * port_a), ports 0 for protocols without them.
 * @param m what vcap_pkt_meta() said of pkt.
 * @return 0, or -ENOENT if pkt has no 5-tuple: not IP, or a TCP/UDP/SCTP
 * packet whose ports are not there (a fragment, or cut off).
 */
VCAP_API int vcap_pkt_flow(const struct vcap_pkt *pkt, const struct vcap_meta *m,
			   struct vcap_flow *f);

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
 * filtered, and as shunted (struct vcap_stats).  Rules take effect before
 * the call that installs them returns.  Direct devices have no rules
 * (-EOPNOTSUPP).
 *
 * Cost: each call is one round trip to vcapd, which answers once the
 * capture thread has applied the change: tens of microseconds on an idle
 * host (docs/bench/rules.md has measured numbers), more while vcapd is
 * busy.  Any thread may make these calls, also while another thread
 * sleeps in a receive on the same handle (Conventions).
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

/* A wildcard rule, like PF_RING's.  Byte order: see Conventions. */
struct vcap_rule {
	uint32_t id;     /* order of evaluation, and the name to remove it by */
	uint32_t fields; /* VCAP_RULE_* */
	uint32_t action; /* VCAP_PASS or VCAP_DROP */
	uint8_t smac[6];
	uint8_t dmac[6];
	uint16_t vlan;         /* 0..4095, host order */
	uint16_t ethertype;    /* host order, e.g. 0x0800 */
	uint8_t proto;
	uint8_t family;        /* 4 or 6: the kind of address in saddr/daddr */
	uint8_t saddr_prefix;  /* bits of saddr that must match (0..32 or 0..128) */
	uint8_t daddr_prefix;
	uint8_t saddr[16];     /* IPv4 in the first 4 bytes; network byte order */
	uint8_t daddr[16];
	uint16_t sport_lo, sport_hi; /* host order, inclusive */
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
 * One conversation: a 5-tuple that matches both directions.  Addresses as
 * on the wire (IPv4 in the first 4 bytes, the rest 0), ports in host order
 * (Conventions); vcap_pkt_flow() fills one from a packet.
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
 * offered this handle (vcap_stats' received) when the rule took effect:
 * a packet whose vcap_meta.seq is at least that was judged by the rule;
 * those before it may still be waiting in the ring.
 * @return 0; -EEXIST, -EINVAL, -ENOSPC (vcap_info's flow_max reached),
 * -EOPNOTSUPP.
 */
VCAP_API int vcap_flow_add(struct vcap *h, const struct vcap_flow *f, uint32_t action,
			   uint32_t idle_timeout_ms, uint64_t *applied_at);

/**
 * @brief Remove a flow rule (either direction names it).
 * @param hits if not NULL, set to the packets it matched.
 * @return 0 or -ENOENT (never added, or already expired).
 */
VCAP_API int vcap_flow_remove(struct vcap *h, const struct vcap_flow *f, uint64_t *hits);

/**
 * @brief How many packets a live flow rule has matched (either direction
 * names it).  @return 0 or -ENOENT (never added, removed, or expired).
 */
VCAP_API int vcap_flow_hits(struct vcap *h, const struct vcap_flow *f, uint64_t *hits);

/* One flow rule, as vcap_flow_list() reports it. */
struct vcap_flow_stat {
	struct vcap_flow flow;    /* as added */
	uint32_t action;          /* VCAP_PASS or VCAP_DROP */
	uint32_t idle_timeout_ms; /* as added (0: never expires) */
	uint64_t hits;            /* packets matched so far */
	uint64_t idle_ms;         /* since it last matched (or was added) */
};

/**
 * @brief List the handle's flow rules.
 * @param out room for n entries (NULL if n is 0); sz sizeof(*out), the
 * stride, each entry filled as vcap_stats() fills its struct.
 * @return how many flow rules the handle has, which may be more than n
 * (only n are filled then), or a negative errno.  The listing is read in
 * pages of several hundred rules; rules added, removed or expired while
 * it is read may be missed or reported twice.
 */
VCAP_API int vcap_flow_list(struct vcap *h, struct vcap_flow_stat *out, unsigned n, size_t sz);

/* ---- vcapd's sources (lib/list.c) ------------------------------------ */

/* One source of vcapd: what "host:NAME" can open. */
struct vcap_source_desc {
	char name[65];      /* NAME of "host:NAME" */
	char spec[193];     /* KIND:OPTIONS, as vcapd was given it */
	char state[16];     /* "idle", "running", "done" (a finite source ended), "failed" */
	char error[65];     /* its last problem (e.g. link down), "" if none */
	uint32_t linktype;  /* DLT_* of its packets */
	/*
	 * The largest packet above the link header, as an interface's MTU:
	 * an if: source's interface MTU, else the largest frame a generator
	 * or file can produce less the link header.  0: vcapd did not say.
	 */
	uint32_t mtu;
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
