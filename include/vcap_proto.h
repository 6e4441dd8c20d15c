/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcap_proto.h - the vcap control protocol: every message a consumer and
 * vcapd exchange, on any carrier.
 *
 * Carriers.  The same bytes travel over
 *   - a SOCK_SEQPACKET unix socket (host processes, containers): one message
 *     per datagram; file descriptors ride along as SCM_RIGHTS, and
 *   - the two control queues of a VM's shared region (vcap_shm.h), where no
 *     descriptor can travel and rings are named by their offset instead.
 * The codec (proto/codec.h) never touches a carrier.
 *
 * Layers, as in the vNPlug-CTRL stack of the vPF_RING paper:
 *
 *   +---------------------------+  struct vcap_msg_hdr   (framework: magic,
 *   | framework header  16 B    |  version, which application, length, seq)
 *   +---------------------------+  struct vcap_app_hdr   (application: type,
 *   | application header  8 B   |  reply flag, status)
 *   +---------------------------+
 *   | payload                   |  fixed struct for the type, then the
 *   +---------------------------+  strings it announces, back to back
 *
 * Rules every message obeys (the codec rejects anything else with -EPROTO or
 * -EBADMSG and a reason):
 *   - hdr.magic == VCAP_PROTO_MAGIC and hdr.version == VCAP_PROTO_VERSION
 *     (HELLO alone may carry a different version: it negotiates);
 *   - hdr.len == the bytes received, and VCAP_MSG_MIN <= len <= VCAP_MSG_MAX;
 *   - the payload is exactly the type's fixed struct plus the string lengths
 *     it announces; a string holds no NUL byte and is not NUL-terminated on
 *     the wire;
 *   - a request has app.status == 0; a reply has VCAP_MSGF_REPLY set and
 *     echoes the request's hdr.seq.  A reply with status < 0 (a negative
 *     errno) carries struct vcap_msg_error as its payload instead of the
 *     type's own.
 *
 * Direction: C2D = consumer to vcapd, D2C = vcapd to consumer.  All integers
 * are little-endian; every struct is a multiple of 8 bytes with explicit
 * padding, pinned by _Static_asserts.
 */
#ifndef VCAP_PROTO_H
#define VCAP_PROTO_H

#include <stdint.h>

#include "vcap_ring.h" /* struct vcap_ring_counters */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vcap shared memory and messages are little-endian; big-endian hosts are not supported"
#endif

#define VCAP_PROTO_MAGIC 0x50414356u /* "VCAP" read as little-endian bytes */
/*
 * 3: OPEN's reply carries the flags granted and the rule limits, counters
 * carry `shunted`, STATUS ring entries too; FLOW_HITS and FLOW_LIST.
 */
#define VCAP_PROTO_VERSION 3u

#define VCAP_MSG_MIN 24u    /* both headers, empty payload */
#define VCAP_MSG_MAX 65536u /* no message is longer */

#define VCAP_NAME_MAX 64u     /* source names, client names */
#define VCAP_FILTER_MAX 8192u /* filter expressions */
#define VCAP_REASON_MAX 512u  /* error reasons */

/* ---- framework layer --------------------------------------------------- */

struct vcap_msg_hdr {
	uint32_t magic;   /* VCAP_PROTO_MAGIC */
	uint16_t version; /* VCAP_PROTO_VERSION */
	uint16_t app;     /* VCAP_APP_*: which application header follows */
	uint32_t len;     /* whole message, both headers included */
	uint32_t seq;     /* chosen by the requester, echoed in the reply */
};

#define VCAP_APP_FRAMEWORK 1u /* session: HELLO */
#define VCAP_APP_CAPTURE 2u   /* rings, filters, stats, status */

/* ---- application layer ------------------------------------------------- */

struct vcap_app_hdr {
	uint16_t type;   /* VCAP_MSG_* of this application */
	uint16_t flags;  /* VCAP_MSGF_* */
	int32_t status;  /* replies: 0 or -errno; requests: 0 */
};

#define VCAP_MSGF_REPLY 0x0001u

/* Message types.  The application a type belongs to is in its name. */
#define VCAP_MSG_HELLO 1u      /* FRAMEWORK */
#define VCAP_MSG_OPEN 1u       /* CAPTURE */
#define VCAP_MSG_CLOSE 2u      /* CAPTURE */
#define VCAP_MSG_SET_FILTER 3u /* CAPTURE */
#define VCAP_MSG_STATS 4u      /* CAPTURE */
#define VCAP_MSG_STATUS 5u     /* CAPTURE */
#define VCAP_MSG_RULE_ADD 6u   /* CAPTURE */
#define VCAP_MSG_RULE_REMOVE 7u /* CAPTURE */
#define VCAP_MSG_RULE_DEFAULT 8u /* CAPTURE */
#define VCAP_MSG_RULE_HITS 9u  /* CAPTURE */
#define VCAP_MSG_FLOW_ADD 10u  /* CAPTURE */
#define VCAP_MSG_FLOW_REMOVE 11u /* CAPTURE */
#define VCAP_MSG_FLOW_HITS 12u /* CAPTURE */
#define VCAP_MSG_FLOW_LIST 13u /* CAPTURE */
#define VCAP_MSG_RELOAD 14u    /* CAPTURE */
#define VCAP_MSG_UPGRADE 15u   /* CAPTURE */
#define VCAP_MSG_VM_ATTACH 16u /* CAPTURE */
#define VCAP_MSG_VM_DETACH 17u /* CAPTURE */

/* ---- payloads ---------------------------------------------------------- */

/*
 * Reply payload whenever app.status < 0, for any type.
 * Followed by reason_len bytes of text (no NUL) saying what was wrong.
 */
struct vcap_msg_error {
	uint16_t reason_len; /* <= VCAP_REASON_MAX */
	uint16_t pad[3];
};

/*
 * HELLO, C2D, first message of a session; reply D2C.
 * Request: the versions the client speaks, and its name (client_len bytes)
 * for vcapctl status.  Reply: the version chosen and vcapd's limits.
 * Every other request before a successful HELLO is refused with -EPROTO.
 */
struct vcap_msg_hello {
	uint16_t version_min;
	uint16_t version_max;
	uint16_t client_len; /* <= VCAP_NAME_MAX */
	uint16_t pad;
	uint32_t pid;        /* informative; vcapd trusts SO_PEERCRED instead */
	uint32_t features;   /* VCAP_FEAT_* the client can use */
};

struct vcap_msg_hello_reply {
	uint16_t version;       /* chosen: VCAP_PROTO_VERSION */
	uint16_t pad;
	uint32_t daemon_pid;
	uint32_t max_rings;     /* rings one session may hold open */
	uint32_t ring_size_min; /* bytes of records */
	uint32_t ring_size_max;
	uint32_t filter_max;    /* longest filter expression */
	uint32_t features;      /* VCAP_FEAT_* both sides use from now on */
	uint32_t pad2;
};

/*
 * Feature bits.  A version changes what every message looks like; a
 * feature is an optional behaviour within a version, in force for a session
 * only if both sides set it in HELLO (the reply carries the intersection).
 * A peer ignores bits it does not know, so either side may be newer.
 * Version 3 defines none yet; bits are only ever added.
 */
#define VCAP_FEATURES 0u /* every feature this header knows */

/*
 * OPEN, C2D: attach a new ring to source `source` (source_len bytes),
 * with an optional filter (filter_len bytes, tcpdump syntax, compiled and
 * run by vcapd before a packet enters the ring).
 * Reply D2C: the ring.  On a unix socket it carries two descriptors as
 * SCM_RIGHTS: [0] the ring's memfd (map map_size bytes from offset 0),
 * [1] the eventfd vcapd signals.  In a VM region it carries none: the ring
 * starts region_off bytes into the region and `vector` is its doorbell.
 */
struct vcap_msg_open {
	uint32_t ring_size;  /* bytes of records, power of two; 0: vcapd's default */
	uint32_t snaplen;    /* 0: whole packets */
	uint32_t watermark;  /* initial wake-up watermark, packets (0: 1) */
	uint32_t timeout_ms; /* initial wake-up timeout (0: vcapd's default) */
	uint32_t flags;      /* VCAP_OPENF_* */
	uint16_t source_len; /* 1..VCAP_NAME_MAX */
	uint16_t filter_len; /* 0..VCAP_FILTER_MAX */
	uint32_t cluster_id; /* 0: none */
	uint32_t cluster_mode; /* VCAP_CLUSTER_* of vcap.h */
};

#define VCAP_OPENF_FLOW_HASH 0x1u /* fill vcap_rec.hash */
#define VCAP_OPENF_META 0x2u      /* records carry struct vcap_rec_meta (vcap_ring.h) */
#define VCAP_OPENF_ALL 0x3u

struct vcap_msg_open_reply {
	uint32_t ring_id;
	uint32_t ring_size;  /* bytes of records, as granted */
	uint64_t region_off; /* VM regions: ring offset; unix sockets: 0 */
	uint64_t map_size;   /* bytes to map: header plus records */
	uint32_t snaplen;
	uint32_t linktype;   /* DLT_* */
	uint32_t vector;     /* VM regions: doorbell vector; unix sockets: 0 */
	uint32_t flags;      /* VCAP_OPENF_* in force: those asked for that vcapd granted */
	uint32_t rule_max;   /* wildcard rules the ring may hold */
	uint32_t flow_max;   /* flow rules the ring may hold */
};

/* CLOSE, C2D: detach and free a ring.  Reply: empty payload. */
struct vcap_msg_close {
	uint32_t ring_id;
	uint32_t pad;
};

/*
 * SET_FILTER, C2D: replace a ring's filter; filter_len == 0 removes it.
 * Reply: empty payload, or -EINVAL with the compiler's message.
 */
struct vcap_msg_set_filter {
	uint32_t ring_id;
	uint16_t filter_len;
	uint16_t pad;
};

/* STATS, C2D: one ring's counters.  Reply: struct vcap_msg_stats_reply. */
struct vcap_msg_stats {
	uint32_t ring_id;
	uint32_t pad;
};

struct vcap_msg_stats_reply {
	struct vcap_ring_counters counters; /* vcap_ring.h */
};

/*
 * A wildcard rule on the wire: the fields of struct vcap_rule (vcap.h),
 * which vcapd validates.
 */
struct vcap_wire_rule {
	uint32_t id;
	uint32_t fields;
	uint32_t action;
	uint8_t smac[6];
	uint8_t dmac[6];
	uint16_t vlan;
	uint16_t ethertype;
	uint8_t proto;
	uint8_t family;
	uint8_t saddr_prefix;
	uint8_t daddr_prefix;
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint16_t sport_lo, sport_hi;
	uint16_t dport_lo, dport_hi;
	uint8_t tcp_flags;
	uint8_t tcp_flags_mask;
	uint8_t pad[6];
};

/* A bidirectional 5-tuple on the wire: struct vcap_flow of vcap.h. */
struct vcap_wire_flow {
	uint8_t family;
	uint8_t proto;
	uint16_t port_a;
	uint16_t port_b;
	uint16_t pad;
	uint8_t addr_a[16];
	uint8_t addr_b[16];
};

/* RULE_ADD, C2D: add a wildcard rule to a ring.  Reply: empty, or -errno and why. */
struct vcap_msg_rule_add {
	uint32_t ring_id;
	uint32_t pad;
	struct vcap_wire_rule rule;
};

/*
 * RULE_REMOVE, RULE_HITS, C2D: name a wildcard rule.  RULE_DEFAULT, C2D:
 * `arg` is the action for packets no rule matches.  Replies: RULE_HITS
 * carries struct vcap_msg_count_reply (hits); the others are empty.
 */
struct vcap_msg_rule_ref {
	uint32_t ring_id;
	uint32_t arg; /* rule id, or the default action */
};

/* FLOW_ADD, C2D.  Reply: struct vcap_msg_count_reply (applied_at, see vcap.h). */
struct vcap_msg_flow_add {
	uint32_t ring_id;
	uint32_t action;
	uint32_t idle_timeout_ms;
	uint32_t pad;
	struct vcap_wire_flow flow;
};

/*
 * FLOW_REMOVE, FLOW_HITS, C2D: name a flow rule (either direction).
 * Reply: struct vcap_msg_count_reply (hits: FLOW_REMOVE's up to its
 * removal, FLOW_HITS' so far), or -ENOENT if the ring has no live rule for
 * the flow.
 */
struct vcap_msg_flow_remove {
	uint32_t ring_id;
	uint32_t pad;
	struct vcap_wire_flow flow;
};

struct vcap_msg_count_reply {
	uint64_t count;
};

/*
 * FLOW_LIST, C2D: a page of a ring's flow rules.  The first request has
 * cursor 0, each next one the cursor its predecessor's reply gave, until
 * a reply's `next` is 0.  The cursor is vcapd's (a place in its table, not
 * a count): rules present for the whole listing are reported at least
 * once, rules added or removed meanwhile may be missed, and a rule may be
 * reported twice if the table was resized in between.
 * Reply: struct vcap_msg_flow_list_reply, then `count` struct
 * vcap_wire_flow_stat.
 */
struct vcap_msg_flow_list {
	uint32_t ring_id;
	uint32_t max;    /* entries wanted in this page (vcapd may send fewer); 0: only total */
	uint64_t cursor;
};

struct vcap_msg_flow_list_reply {
	/*
	 * Flow rules the ring holds now: rules idle past their timeout count
	 * until vcapd's sweep reclaims them (within about a second), though
	 * no page lists them.
	 */
	uint32_t total;
	uint32_t count;  /* entries in this page, <= VCAP_FLOW_LIST_MAX and the request's max */
	uint64_t next;   /* cursor of the next page; 0: none left */
};

/* One flow rule: struct vcap_flow_stat of vcap.h.  The codec checks each. */
struct vcap_wire_flow_stat {
	struct vcap_wire_flow flow; /* as added: family 4 or 6, pad 0 */
	uint32_t action;            /* VCAP_PASS or VCAP_DROP */
	uint32_t idle_timeout_ms;
	uint64_t hits;
	uint64_t idle_ms;           /* since it last matched, or was added */
};

/* The most entries one FLOW_LIST reply can carry. */
#define VCAP_FLOW_LIST_MAX                                                              \
	((VCAP_MSG_MAX - VCAP_MSG_MIN - sizeof(struct vcap_msg_flow_list_reply)) /      \
	 sizeof(struct vcap_wire_flow_stat))

/*
 * VM_ATTACH, VM_DETACH, C2D: plug the named VM's ivshmem-doorbell device
 * into its QEMU through QMP (`vm ... qmp=PATH`), or unplug it; root on the
 * main socket only.  Answered once the device is in (QEMU accepted
 * device_add) or gone (QEMU sent DEVICE_DELETED), or with QEMU's error.
 * With VCAP_VM_QUERY nothing is done: the reply reports the state, of
 * every VM when name is empty.  The reply's text has one line per VM:
 * "NAME STATE[ DETAIL]" (STATE one of absent, plugging, plugged,
 * unplugging, error, manual: a VM without qmp=).
 */
#define VCAP_VM_QUERY 0x1u

struct vcap_msg_vm {
	uint16_t name_len; /* 1..VCAP_NAME_MAX; 0 only with VCAP_VM_QUERY */
	uint16_t flags;    /* VCAP_VM_* */
	uint32_t pad;
};

#define VCAP_VM_ABSENT 0u
#define VCAP_VM_PLUGGING 1u
#define VCAP_VM_PLUGGED 2u
#define VCAP_VM_UNPLUGGING 3u
#define VCAP_VM_ERROR 4u
#define VCAP_VM_MANUAL 5u /* no qmp=: QEMU's command line has the device */

struct vcap_msg_vm_reply {
	uint32_t state;    /* VCAP_VM_*: the named VM's (the first's for a list) */
	uint16_t text_len; /* <= VCAP_FILTER_MAX */
	uint16_t pad;
};

/*
 * RELOAD, C2D: read the configuration file again and apply what changed
 * (daemon/reload.h); root on the main socket only.  An error reply names
 * FILE:LINE and the problem, and the running configuration stays.  The
 * reply counts what changed.
 */
struct vcap_msg_reload {
	uint32_t flags; /* 0 */
	uint32_t pad;
};

struct vcap_msg_reload_reply {
	uint32_t sources_added;   /* new or changed lines, started */
	uint32_t sources_removed; /* removed or changed lines, ended */
	uint32_t sources_kept;    /* unchanged: their rings untouched */
	uint32_t tenants_added;
	uint32_t tenants_removed;
	uint32_t tenants_changed; /* identity or policy: their sessions start over */
	uint32_t vms_added;
	uint32_t vms_removed;
	uint32_t rings_ended;     /* of removed sources */
	uint32_t sessions_ended;  /* made to start over under the new policy */
	uint32_t pad[2];
};

/*
 * UPGRADE, C2D: vcapd re-executes a binary (binary_len bytes of path; 0:
 * the one it was started as) and hands every descriptor and its state to
 * it (daemon/upgrade.h); root on the main socket only.  The reply comes
 * from the old process once the new one took over: its pid and how long
 * the capture was paused.  An error reply says why the new one could not
 * take over; the old one then goes on exactly where it was.
 */
struct vcap_msg_upgrade {
	uint32_t flags;      /* 0 */
	uint16_t binary_len; /* 0..VCAP_FILTER_MAX (in `text`) */
	uint16_t pad;
};

struct vcap_msg_upgrade_reply {
	uint32_t pid;        /* of the vcapd that serves now */
	uint32_t pad;
	uint64_t paused_ns;  /* capture threads parked until the new one said ready */
};

/*
 * STATUS, C2D: every source and ring vcapd has, for vcapctl.  Entries are
 * numbered sources first, then rings; the request names the first wanted
 * and the reply holds as many as fit, with `next` the first left out
 * (0: none left).
 * Reply: struct vcap_msg_status_reply, then n_sources struct
 * vcap_status_source, then n_rings struct vcap_status_ring.
 */
struct vcap_msg_status {
	uint32_t first;
	uint32_t pad;
};

struct vcap_msg_status_reply {
	uint32_t n_sources;
	uint32_t n_rings;
	uint32_t next;
	uint32_t pad;
};

struct vcap_status_source {
	char name[VCAP_NAME_MAX];  /* NUL-padded (no NUL when full) */
	char spec[192];            /* as given on the command line, NUL-padded */
	uint32_t state;            /* VCAP_SOURCE_* */
	uint32_t n_rings;
	uint32_t linktype;
	uint32_t ifindex;
	uint64_t received;         /* packets the source produced or captured */
	uint64_t kernel_drops;     /* lost before vcapd saw them */
	char error[64];            /* last problem (e.g. link down), NUL-padded */
	char kernel_filter[128];   /* what the kernel filters for it ("" none), cut */
	uint32_t kernel_drop_all;  /* the kernel drops everything: nobody listens */
	/*
	 * The largest packet above the link header: the interface's MTU (if:),
	 * else the largest frame the source can produce, less its link
	 * header.  0 from a vcapd before this field (it was padding).
	 */
	uint32_t mtu;
};

#define VCAP_SOURCE_IDLE 0u    /* no consumer: not producing */
#define VCAP_SOURCE_RUNNING 1u
#define VCAP_SOURCE_DONE 2u    /* a finite source ended */
#define VCAP_SOURCE_FAILED 3u  /* waiting to retry; see error */

struct vcap_status_ring {
	uint32_t ring_id;
	uint32_t pid;              /* consumer process (SO_PEERCRED) */
	uint32_t uid;
	uint32_t ring_size;
	uint32_t used;             /* bytes waiting in the ring */
	uint32_t pad;
	char source[VCAP_NAME_MAX];
	char client[VCAP_NAME_MAX];
	char filter[256];          /* NUL-padded; cut to fit with "..." */
	uint64_t received;
	uint64_t delivered;
	uint64_t dropped;
	uint64_t filtered;
	uint64_t shunted;          /* of filtered, dropped by the ring's rules */
	uint32_t cluster_id;       /* 0: none */
	uint32_t cluster_mode;
	uint32_t rules;            /* wildcard rules */
	uint32_t flows;            /* flow rules */
	char policy[128];          /* the tenant's mandatory filter, cut */
	char tenant[VCAP_NAME_MAX];
	/*
	 * ns vcapd's capture thread spent on this ring's packets, cumulative:
	 * judging them (the tenant's policy, the ring's filter and rules) and
	 * copying the ones that pass.  The thread is shared by every ring of
	 * the source, so this is what the ring costs the others; ns per packet
	 * = filter_ns / received.  Read apart from the counters: it may be a
	 * batch ahead of them.
	 */
	uint64_t filter_ns;
	/*
	 * Of dropped: packets the ring skipped because its account's budget
	 * per packet was spent (limit tenant-cost-ns), rather than for lack
	 * of room.  Read apart from the counters, as filter_ns.
	 */
	uint64_t over_budget;
};

_Static_assert(sizeof(struct vcap_msg_hdr) == 16, "framework header");
_Static_assert(sizeof(struct vcap_app_hdr) == 8, "application header");
_Static_assert(sizeof(struct vcap_msg_hdr) + sizeof(struct vcap_app_hdr) == VCAP_MSG_MIN,
	       "minimum message");
_Static_assert(sizeof(struct vcap_msg_error) == 8, "error");
_Static_assert(sizeof(struct vcap_msg_hello) == 16, "hello");
_Static_assert(sizeof(struct vcap_msg_hello_reply) == 32, "hello reply");
_Static_assert(sizeof(struct vcap_msg_open) == 32, "open");
_Static_assert(sizeof(struct vcap_wire_rule) == 80, "wire rule");
_Static_assert(sizeof(struct vcap_wire_flow) == 40, "wire flow");
_Static_assert(sizeof(struct vcap_msg_rule_add) == 88, "rule add");
_Static_assert(sizeof(struct vcap_msg_rule_ref) == 8, "rule ref");
_Static_assert(sizeof(struct vcap_msg_flow_add) == 56, "flow add");
_Static_assert(sizeof(struct vcap_msg_flow_remove) == 48, "flow remove");
_Static_assert(sizeof(struct vcap_msg_count_reply) == 8, "count reply");
_Static_assert(sizeof(struct vcap_msg_flow_list) == 16, "flow list");
_Static_assert(sizeof(struct vcap_msg_flow_list_reply) == 16, "flow list reply");
_Static_assert(sizeof(struct vcap_wire_flow_stat) == 64, "flow list entry");
_Static_assert(VCAP_FLOW_LIST_MAX == 1023, "flow list entries per reply");
_Static_assert(sizeof(struct vcap_msg_open_reply) == 48, "open reply");
_Static_assert(sizeof(struct vcap_msg_close) == 8, "close");
_Static_assert(sizeof(struct vcap_msg_set_filter) == 8, "set filter");
_Static_assert(sizeof(struct vcap_msg_stats) == 8, "stats");
_Static_assert(sizeof(struct vcap_msg_stats_reply) == 48, "stats reply");
_Static_assert(sizeof(struct vcap_msg_status) == 8, "status");
_Static_assert(sizeof(struct vcap_msg_status_reply) == 16, "status reply");
_Static_assert(sizeof(struct vcap_status_source) == 488, "status source entry");
_Static_assert(sizeof(struct vcap_status_ring) == 672, "status ring entry");
_Static_assert(sizeof(struct vcap_msg_reload) == 8, "reload");
_Static_assert(sizeof(struct vcap_msg_reload_reply) == 48, "reload reply");
_Static_assert(sizeof(struct vcap_msg_upgrade) == 8, "upgrade");
_Static_assert(sizeof(struct vcap_msg_upgrade_reply) == 16, "upgrade reply");
_Static_assert(sizeof(struct vcap_msg_vm) == 8, "vm attach/detach");
_Static_assert(sizeof(struct vcap_msg_vm_reply) == 8, "vm reply");

#endif /* VCAP_PROTO_H */
