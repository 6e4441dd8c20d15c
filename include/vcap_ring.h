/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcap_ring.h - layout and memory ordering of a vcap packet ring.
 *
 * A ring is one contiguous piece of shared memory: a 256-byte header made of
 * four 64-byte lines, then `data_size` bytes of variable-length records.  It
 * lives in a memfd (host processes and containers) or is carved out of a VM's
 * ivshmem region; nothing in it is a pointer, so it means the same thing at
 * any address in any process or guest.
 *
 * Exactly one producer (vcapd) and one consumer (a libvcap handle) use a ring.
 *
 *   offset   line                    writer  reader  contents
 *   0x000    struct vcap_ring_info   P once  C       magic, version, sizes
 *   0x040    struct vcap_ring_prod   P       C       prod index, packet count
 *   0x080    struct vcap_ring_cons   C       P       cons index, wait request
 *   0x0c0    struct vcap_ring_stats  P       C       counters under a seqlock
 *   0x100    data[data_size]         P       C       records
 *
 * Index model (as DPDK's rte_ring): `prod` and `cons` are free-running u32
 * byte counters; a record at index i starts at data + (i & (data_size - 1)).
 * data_size is a power of two no larger than 2^30, so prod - cons (mod 2^32)
 * is the number of bytes in use and is never more than data_size.
 *
 * Records are 8-byte aligned and never wrap: when a record does not fit in
 * the bytes left before the end of the data area, the producer fills them
 * with a pad record (VCAP_REC_PAD) and writes the record at offset 0.  Every
 * gap is a multiple of 8 and so can hold the 8 bytes a pad record needs.
 *
 * Memory ordering (C11 atomics only; labels pair a release with its acquire):
 *
 *   producer (vcapd)                     consumer (libvcap)
 *   write records                        A1: load-acquire prod
 *   R1: store-release prod      ---->        read records in [cons, prod)
 *   A2: load-acquire cons       <----    R2: store-release cons
 *       (only when its cached free       (one store releases a whole burst)
 *        space runs out)
 *
 * Sleeping (the PF_RING poll watermark, without a syscall per packet): the
 * consumer that finds the ring empty publishes a wait request and sleeps on
 * its eventfd; vcapd signals that eventfd only while a request is pending and
 * either `watermark` packets are waiting, the oldest has waited `timeout_ms`,
 * or the ring is more than half full.  A store-load (Dekker) pair keeps a
 * wake-up from being lost:
 *
 *   consumer                             producer
 *   store wait_seq (odd: asleep)         R1: store-release prod
 *   F1: seq_cst fence                    F2: seq_cst fence
 *   load prod; data? -> cancel, no sleep load wait_seq; odd -> maybe signal
 *
 * vcapd signals at most once per odd wait_seq and records which one in
 * `signalled` before it does, so a consumer that wakes up for another
 * reason knows whether a wake-up token is in flight and needs draining
 * (one system call per sleep, none per packet).
 *
 * Trust: the consumer line (struct vcap_ring_cons) is written by the consumer
 * and may hold anything.  vcapd reads each word there once per use, clamps
 * cons into [prod - data_size, prod] and never derives an address from it,
 * so no value makes it write outside the data area; a bad value only costs
 * that consumer its own packets.  vcapd keeps its own copy of every counter
 * and of prod, and never reads them back from shared memory.
 *
 * All fields are little-endian fixed-width integers; the layout is pinned by
 * the _Static_asserts at the end of this file.
 */
#ifndef VCAP_RING_H
#define VCAP_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vcap shared memory and messages are little-endian; big-endian hosts are not supported"
#endif

#define VCAP_RING_MAGIC 0x47525056u /* "VPRG" read as little-endian bytes */
#define VCAP_RING_VERSION 1u

#define VCAP_RING_LINE 64u
#define VCAP_RING_HDR_SIZE 256u      /* offset of data[] from the ring start */
#define VCAP_RING_DATA_MIN (1u << 12) /* 4 KiB */
#define VCAP_RING_DATA_MAX (1u << 30) /* 1 GiB: keeps prod - cons unambiguous */
#define VCAP_REC_ALIGN 8u

/* Line 0: written once by the producer before the ring is handed out. */
struct vcap_ring_info {
	uint32_t magic;        /* VCAP_RING_MAGIC */
	uint16_t version;      /* VCAP_RING_VERSION */
	uint16_t hdr_size;     /* VCAP_RING_HDR_SIZE: where data[] starts */
	uint32_t data_size;    /* bytes of records, power of two */
	/*
	 * hdr_len of every record of this ring: the writer's sizeof(struct
	 * vcap_rec), plus sizeof(struct vcap_rec_meta) on rings that carry it.
	 */
	uint16_t rec_hdr_size;
	uint16_t reserved0;
	uint32_t snaplen;      /* no record holds more packet bytes than this */
	uint32_t linktype;     /* DLT_* of the packets, e.g. 1 = Ethernet */
	uint32_t ring_id;      /* vcapd's id for this ring (vcapctl status) */
	uint32_t reserved[9];
};

/* Line 1: producer-written, consumer-read. */
struct vcap_ring_prod {
	_Atomic uint32_t prod;  /* R1: one past the last published record */
	_Atomic uint32_t pkts;  /* packets published, free-running; stored before R1 */
	_Atomic uint32_t state; /* VCAP_RING_STATE_*, stored before R1 */
	_Atomic uint32_t signalled; /* the odd wait_seq last signalled */
	uint32_t reserved[12];
};

/* Values of vcap_ring_prod.state. */
#define VCAP_RING_STATE_LIVE 0u /* the source is producing */
#define VCAP_RING_STATE_EOF 1u  /* a finite source ended: nothing follows prod */
#define VCAP_RING_STATE_DEAD 2u /* vcapd dropped the ring (source removed) */

/*
 * Line 2: consumer-written, producer-read.  UNTRUSTED.
 *
 * wait_seq is even while the consumer runs and odd while it asks to be
 * woken.  Before making it odd the consumer stores `seen_pkts` (the packets it
 * has consumed, counted as vcap_ring_prod.pkts counts them), `watermark` and
 * `timeout_ms`; vcapd signals once per odd value, when
 * prod.pkts - seen_pkts >= watermark, when that difference has been
 * non-zero for timeout_ms, or when it is non-zero and more than half the
 * ring's bytes are in use.  vcapd clamps watermark to [1, ring capacity] and
 * timeout_ms to [1, VCAP_RING_TIMEOUT_MAX_MS].
 */
struct vcap_ring_cons {
	_Atomic uint32_t cons;       /* R2: first byte not yet released */
	_Atomic uint32_t wait_seq;   /* odd: asleep, please signal */
	_Atomic uint32_t seen_pkts;  /* stored before wait_seq becomes odd */
	_Atomic uint32_t watermark;  /* packets; stored before wait_seq */
	_Atomic uint32_t timeout_ms; /* stored before wait_seq */
	uint32_t reserved[11];
};

#define VCAP_RING_TIMEOUT_MAX_MS 60000u

/*
 * Line 3: counters, producer-written under a seqlock (seq odd while an
 * update is in progress), published once per batch.  For every ring,
 * received == delivered + dropped + filtered in any consistent snapshot,
 * and shunted <= filtered.
 */
/*
 * A ring's counters as one plain snapshot: what the producer keeps
 * privately, what a seqlock read of struct vcap_ring_stats yields, and what
 * a STATS reply carries (vcap_proto.h).  vcap.h's struct vcap_stats is the
 * API's own, growable copy.
 */
struct vcap_ring_counters {
	uint64_t received;     /* packets the source offered to this ring */
	uint64_t delivered;    /* written into the ring */
	uint64_t dropped;      /* no room in the ring */
	uint64_t filtered;     /* rejected by this consumer's filters or rules */
	uint64_t kernel_drops; /* dropped by the source's kernel socket */
	uint64_t shunted;      /* of filtered, those a rule (or the default action) dropped */
};

/* The same counters in shared memory, each word atomic, under a seqlock. */
struct vcap_ring_stats {
	_Atomic uint32_t seq;
	uint32_t reserved0;
	_Atomic uint64_t received;  /* packets the source offered to this ring */
	_Atomic uint64_t delivered; /* written into the ring */
	_Atomic uint64_t dropped;   /* no room in the ring */
	_Atomic uint64_t filtered;  /* rejected by this consumer's filter */
	_Atomic uint64_t kernel_drops; /* dropped by the source's kernel socket */
	/*
	 * Of filtered, those a rule dropped.  Was reserved[0], always 0: a
	 * reader of an older writer sees no shunting, which is what it did.
	 */
	_Atomic uint64_t shunted;
	uint64_t reserved[1];
};

struct vcap_ring {
	_Alignas(64) struct vcap_ring_info info;
	_Alignas(64) struct vcap_ring_prod p;
	_Alignas(64) struct vcap_ring_cons c;
	_Alignas(64) struct vcap_ring_stats s;
	_Alignas(64) uint8_t data[];
};

/*
 * One record: this header, then caplen packet bytes, then padding to
 * VCAP_REC_ALIGN.  A pad record has only its first 8 bytes (len, flags)
 * and covers the rest of the data area up to the wrap.
 */
struct vcap_rec {
	uint32_t len;      /* whole record in bytes, multiple of VCAP_REC_ALIGN */
	uint16_t flags;    /* VCAP_REC_* */
	/*
	 * Packet bytes start here.  A newer writer may put fields after the
	 * ones below (hdr_len grows, in multiples of 8); a reader uses the
	 * fields it knows and skips the rest, so records can be extended
	 * without a new ring version.
	 */
	uint16_t hdr_len;
	uint64_t ts_ns;    /* capture time, ns since the Unix epoch */
	uint32_t caplen;   /* packet bytes in this record */
	uint32_t wirelen;  /* length of the packet on the wire */
	uint32_t ifindex;  /* interface index of the source (0: not an interface) */
	uint32_t hash;     /* symmetric flow hash (0: not computed) */
};

/* Bits of vcap_rec.flags. */
#define VCAP_REC_PAD 0x0001u       /* skip to the start of the data area */
#define VCAP_REC_TRUNCATED 0x0002u /* caplen < wirelen */
#define VCAP_REC_META 0x0004u      /* struct vcap_rec_meta follows the header */

/*
 * What a record carries after struct vcap_rec on a ring opened with
 * VCAP_OPENF_META (vcap_proto.h): the packet's number, and vcapd's parse of
 * its headers, which it makes once per packet for every consumer.  Offsets
 * are from the packet's first byte; 0 means "not there".  A reader must
 * not trust them more than any other record field: each is checked
 * against caplen before use.
 */
struct vcap_rec_meta {
	uint64_t seq;        /* packets offered to this ring before this one */
	uint16_t l3_off;     /* IPv4/IPv6 header */
	uint16_t l4_off;     /* transport header (not for fragments) */
	uint16_t ethertype;  /* after up to two VLAN tags */
	uint16_t vlan;       /* outer VLAN id (with VCAP_RMETA_VLAN) */
	uint8_t ip_version;  /* 4, 6, 0 */
	uint8_t proto;       /* IP protocol */
	uint8_t tcp_flags;
	uint8_t flags;       /* VCAP_RMETA_* */
	uint32_t reserved;
};

#define VCAP_RMETA_PARSED 0x01   /* the header fields are set (else only seq) */
#define VCAP_RMETA_VLAN 0x02
#define VCAP_RMETA_FRAGMENT 0x04
#define VCAP_RMETA_PORTS 0x08    /* a whole TCP/UDP/SCTP header at l4_off */

/* Bytes a record with a hdr_len-byte header and caplen packet bytes takes. */
static inline uint32_t vcap_rec_size_hdr(uint32_t hdr_len, uint32_t caplen)
{
	return (hdr_len + caplen + VCAP_REC_ALIGN - 1) & ~(VCAP_REC_ALIGN - 1);
}

/* Bytes a record carrying caplen packet bytes takes in the ring (plain header). */
static inline uint32_t vcap_rec_size(uint32_t caplen)
{
	return vcap_rec_size_hdr(sizeof(struct vcap_rec), caplen);
}

/* Bytes a ring with data_size bytes of records takes in memory. */
static inline size_t vcap_ring_map_size(uint32_t data_size)
{
	return (size_t)VCAP_RING_HDR_SIZE + data_size;
}

_Static_assert(sizeof(struct vcap_ring_info) == 64, "info is one line");
_Static_assert(sizeof(struct vcap_ring_prod) == 64, "prod is one line");
_Static_assert(sizeof(struct vcap_ring_cons) == 64, "cons is one line");
_Static_assert(sizeof(struct vcap_ring_stats) == 64, "stats is one line");
_Static_assert(offsetof(struct vcap_ring, p) == 0x40, "prod line offset");
_Static_assert(offsetof(struct vcap_ring, c) == 0x80, "cons line offset");
_Static_assert(offsetof(struct vcap_ring, s) == 0xc0, "stats line offset");
_Static_assert(offsetof(struct vcap_ring, data) == VCAP_RING_HDR_SIZE, "data offset");
_Static_assert(sizeof(struct vcap_rec) == 32, "record header size");
_Static_assert(offsetof(struct vcap_rec, ts_ns) == 8, "record ts offset");
_Static_assert(sizeof(struct vcap_rec_meta) == 24, "record meta size");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && sizeof(_Atomic uint64_t) == 8,
	       "atomics have the size of their integers");

#endif /* VCAP_RING_H */
