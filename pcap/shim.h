/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shim.h - what the parts of libvcap-pcap share.
 *
 * libvcap-pcap is preloaded into unmodified libpcap programs (tcpdump,
 * dumpcap, ...).  It defines libpcap's entry points; for a vcap device
 * ("host:NAME") it serves them from a vcap handle, and hands every other
 * device, unchanged, to the real libpcap found behind it (RTLD_NEXT).
 *
 * A vcap device's pcap_t is a genuine libpcap handle made by
 * pcap_open_dead(), so whatever this library does not intercept
 * (pcap_geterr, pcap_perror, pcap_dump, ...) works on it as libpcap
 * wants.  A side table maps that pcap_t to a struct mapped: the vcap
 * handle and everything libpcap would keep inside its own struct.
 */
#ifndef VCAP_PCAP_SHIM_H
#define VCAP_PCAP_SHIM_H

#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vcap.h"

#define SHIM_PREFIX "host:"
#define SHIM_BURST 256          /* packets taken from the ring at a time */
#define SHIM_SNAPLEN_MAX 262144 /* libpcap's MAXIMUM_SNAPLEN, tcpdump's default */

/* The real libpcap behind this library.  Filled in before main() runs. */
struct real_pcap {
	pcap_t *(*create)(const char *, char *);
	int (*activate)(pcap_t *);
	pcap_t *(*open_live)(const char *, int, int, int, char *);
	pcap_t *(*open_dead_with_tstamp_precision)(int, int, u_int);
	void (*close)(pcap_t *);
	int (*set_snaplen)(pcap_t *, int);
	int (*set_promisc)(pcap_t *, int);
	int (*set_timeout)(pcap_t *, int);
	int (*set_buffer_size)(pcap_t *, int);
	int (*set_immediate_mode)(pcap_t *, int);
	int (*set_tstamp_precision)(pcap_t *, int);
	int (*set_tstamp_type)(pcap_t *, int);
	int (*set_rfmon)(pcap_t *, int);
	int (*can_set_rfmon)(pcap_t *);
	int (*set_protocol_linux)(pcap_t *, int);
	int (*get_tstamp_precision)(pcap_t *);
	int (*next_ex)(pcap_t *, struct pcap_pkthdr **, const u_char **);
	const u_char *(*next)(pcap_t *, struct pcap_pkthdr *);
	int (*dispatch)(pcap_t *, int, pcap_handler, u_char *);
	int (*loop)(pcap_t *, int, pcap_handler, u_char *);
	void (*breakloop)(pcap_t *);
	int (*stats)(pcap_t *, struct pcap_stat *);
	int (*get_selectable_fd)(pcap_t *);
	int (*fileno)(pcap_t *);
	int (*setnonblock)(pcap_t *, int, char *);
	int (*getnonblock)(pcap_t *, char *);
	int (*compile)(pcap_t *, struct bpf_program *, const char *, int, bpf_u_int32);
	void (*freecode)(struct bpf_program *);
	int (*setfilter)(pcap_t *, struct bpf_program *);
	int (*setdirection)(pcap_t *, pcap_direction_t);
	int (*inject)(pcap_t *, const void *, size_t);
	int (*sendpacket)(pcap_t *, const u_char *, int);
	int (*datalink)(pcap_t *);
	int (*datalink_ext)(pcap_t *);
	int (*list_datalinks)(pcap_t *, int **);
	int (*set_datalink)(pcap_t *, int);
	int (*snapshot)(pcap_t *);
	pcap_dumper_t *(*dump_open)(pcap_t *, const char *);
	pcap_dumper_t *(*dump_open_append)(pcap_t *, const char *);
	pcap_dumper_t *(*dump_fopen)(pcap_t *, FILE *);
	char *(*geterr)(pcap_t *);
	int (*findalldevs)(pcap_if_t **, char *);
	void (*freealldevs)(pcap_if_t *);
	int (*lookupnet)(const char *, bpf_u_int32 *, bpf_u_int32 *, char *);
};
extern struct real_pcap real;

/*
 * Device names (names.c).  A vcap device is "host:NAME" or an alias of
 * one (VCAP_PCAP_DEVICES=ALIAS=host:NAME,...: vcap-pcap --device).
 */
#define SHIM_ALIASES_MAX 32
#define SHIM_IFINDEX_BASE 0x56430000u /* "VC": interface indexes far above the kernel's */
struct shim_alias {
	char name[16];   /* an interface name: 1..15 bytes, no ':', '/' or spaces */
	char target[72]; /* "host:NAME" */
};
/* Is this a device name vcap serves? */
bool shim_is_vcap_device(const char *device);
/* "host:NAME" with a NAME? */
bool shim_is_host_name(const char *device);
/* The host: device that device stands for (itself, or an alias's), or NULL. */
const char *shim_vcap_target(const char *device);
/* The alias of that name, or NULL; the i-th alias, or NULL past the last. */
const struct shim_alias *shim_alias(const char *name);
const struct shim_alias *shim_alias_at(unsigned i);
/* The interface index of vcap device name (0: not one, or too long for an interface name). */
unsigned shim_ifindex(const char *name);
/* The vcap device of an index shim_ifindex() gave, into name[IF_NAMESIZE].  @return found? */
bool shim_ifname(unsigned index, char name[16]);

/*
 * vcapd's sources (sources.c), asked at most once a second.  Find one by
 * its host: name: 0, or -errno with why saying what is wrong (as vcapd
 * would: "host:x: no such source (vcapd has: a, b)").  Or all of them, in
 * a malloc'd copy: their number or -errno.
 */
int shim_source_find(const char *target, struct vcap_source_desc *out, char *why,
		     size_t why_len);
int shim_sources(struct vcap_source_desc **out);
/*
 * Set while the real pcap_findalldevs() runs on this thread: libpcap
 * enumerates interfaces with getifaddrs(), which must then not list vcap
 * devices (pcap_findalldevs appends them itself, with descriptions).
 */
extern _Thread_local bool shim_in_findalldevs;

/* A libpcap handle of a vcap device. */
struct mapped {
	pcap_t *key;  /* the handle the program holds (a dead one) */
	/*
	 * The dead handle libpcap's own code reads linktype, snapshot length
	 * and time stamp precision from (pcap_compile, pcap_dump_open, ...).
	 * pcap_create() must return before they are known, so after
	 * pcap_activate() this may be a second dead handle; else it is key.
	 */
	pcap_t *dead;
	char device[72]; /* "host:" and a source name of up to 64 bytes */
	char called[72]; /* the name the program gave: device, or an alias of it */

	/* what pcap_set_*() asked for, until pcap_activate() */
	int snaplen, timeout_ms, buffer_size, precision;
	bool immediate, rfmon, activated;

	struct vcap *vh;
	struct vcap_info info;
	/*
	 * The selectable descriptor: an epoll set of vcap_fd() and ready_fd.
	 * vcap_fd() is ready when vcapd announces packets (after a receive
	 * found the ring empty and asked for a wake-up: "armed" it), a break
	 * or a hang-up; packets the shim holds in its burst are announced by
	 * nobody, so ready_fd is kept readable while there are some.  select()
	 * and poll() on the set are thus level-triggered, as on a packet
	 * socket.
	 */
	int epfd, ready_fd;
	bool ready, armed, ended, nonblock;
	char failure[256]; /* why reading cannot go on ("": it can) */
	atomic_int brk; /* pcap_breakloop() was called */

	/* the burst being handed out: zero copy, valid until the next receive */
	struct vcap_pkt burst[SHIM_BURST];
	unsigned n, next;
	struct pcap_pkthdr hdr; /* pcap_next_ex()'s */

	/*
	 * In-process filtering: always, when vcapd does not run the filter
	 * (prog_always), or else only over what was already in the ring when
	 * a new filter went to vcapd (until the ring is next seen empty).
	 */
	struct bpf_insn *prog;
	bool prog_always;
	uint64_t proc_filtered;
	bool warned;
};

/* Find the struct mapped of p, or NULL.  Async-signal-safe. */
struct mapped *shim_find(pcap_t *p);
/* Register m.  @return 0, or -1 if the table is full. */
int shim_insert(struct mapped *m);
void shim_remove(struct mapped *m);

/* printf into the handle's libpcap error buffer (what pcap_geterr returns). */
void shim_err(struct mapped *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copy m->dead's error buffer to m->key's after a libpcap call on m->dead failed. */
void shim_copy_err(struct mapped *m);
/* Say something on stderr, once per handle. */
void shim_warn_once(struct mapped *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set the error for a call on a handle not yet activated. @return PCAP_ERROR_NOT_ACTIVATED. */
int shim_not_activated(struct mapped *m);

/* Keep ready_fd in step with whether unannounced packets may wait. */
void shim_sync_ready(struct mapped *m);

/* Stop in-process filtering of m (filter.c). */
void shim_filter_clear(struct mapped *m);

/* VCAP_PCAP_DEBUG=1 (stderr) or =/PATH (a file) traces the intercepted calls. */
extern bool shim_debug;
void shim_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define TRACE(...)                          \
	do {                                \
		if (shim_debug)             \
			shim_trace(__VA_ARGS__); \
	} while (0)

#endif /* VCAP_PCAP_SHIM_H */
