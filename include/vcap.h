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
 *   - options structs start with `sz` and are declared with VCAP_OPTS(),
 *     which zero-fills them; a NULL options pointer means all defaults.
 *     Fields are only ever added at the end, so programs built against an
 *     older vcap.h keep working; a library older than the header refuses
 *     options it does not know that are set (-EOPNOTSUPP).
 *   - a struct vcap is used by one thread at a time, except
 *     vcap_breakloop(), which any thread or signal handler may call.
 */
#ifndef VCAP_H
#define VCAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VCAP_API __attribute__((visibility("default")))

#define VCAP_VERSION_MAJOR 0
#define VCAP_VERSION_MINOR 1

/* An open capture handle. */
struct vcap;

/*
 * Declare an options struct NAME of type `struct TYPE`, zero-filled, with
 * sz set and the given designated initializers applied, e.g.
 *   VCAP_OPTS(vcap_open_opts, o, .filter = "udp", .ring_size = 1 << 26);
 */
#define VCAP_OPTS(TYPE, NAME, ...) struct TYPE NAME = { .sz = sizeof(struct TYPE), __VA_ARGS__ }

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
	size_t : 0;
};
#define vcap_open_opts__last_field flags

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
 * @return 0.  No system call: the values live in the ring.
 */
VCAP_API int vcap_set_watermark(struct vcap *h, uint32_t packets, uint32_t timeout_ms);

/** @brief Read the handle's counters.  @return 0 or a negative errno. */
VCAP_API int vcap_stats(struct vcap *h, struct vcap_stats *st);

/** @brief Describe the handle.  @return 0. */
VCAP_API int vcap_info(struct vcap *h, struct vcap_info *info);

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

#ifdef __cplusplus
}
#endif

#endif /* VCAP_H */
