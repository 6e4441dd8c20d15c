/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * upgrade_state.h - the state one vcapd hands to the next across an
 * upgrade (upgrade.h), in a sealed memfd:
 *
 *   header  magic "VCAPSTAT", state format version, header size, the
 *           writer's vcapd version string, body length, FNV-1a 64 of body
 *   body    records: u16 type, u16 0, u32 length, then that many bytes of
 *           fields (little-endian integers, u16-counted strings, u32-counted
 *           blobs), one record per object (records below)
 *
 * Descriptors travel as numbers: the old process clears FD_CLOEXEC on
 * exactly those in the child it forks, so the new one finds them open.
 * Decoding is bounds-checked everywhere: a corrupted or foreign state
 * gives a message, never a read outside the memfd.
 */
#ifndef VCAP_DAEMON_UPGRADE_STATE_H
#define VCAP_DAEMON_UPGRADE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bumped whenever a record's fields or a saved struct's layout change. */
/* 2: REC_VM, and a ring's region offset and vector; 3: a source's sockets, one per lane */
#define UPGRADE_STATE_VERSION 3u

enum upgrade_rec {
	REC_DAEMON = 1,   /* settings, next ring id, the descriptors of the handover itself */
	REC_LISTENER = 2, /* a listening socket: path, fd */
	REC_SOURCE = 3,   /* name, spec, counters, backend state and its descriptor */
	REC_SESSION = 4,  /* a client: carrier fd, who, HELLO's outcome */
	REC_RING = 5,     /* a ring: memfd (or a VM's region offset and vector), wake fd, writer, filters */
	/*
	 * A VM (after the unix sessions): name, socket, region memfd, its
	 * generation, the control queues' private positions, the device's plug
	 * state, the ivshmem server's descriptors (listening socket, its memfd,
	 * vcapd's eventfds, each QEMU's connection, id, pid and eventfds), then
	 * the connected peer and, if one is, its guest session's index and
	 * HELLO outcome.  The QMP connection is not handed over: the new vcapd
	 * connects again and takes the device as it was (vm_adopt_device).
	 */
	REC_VM = 6,
};

/* Writing: a growing buffer of records. */
struct ust_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t rec_at; /* where the open record's header is */
	bool oom;
};

void ust_begin(struct ust_writer *w, enum upgrade_rec type);
void ust_end(struct ust_writer *w); /* closes the record: fills its length */
void ust_u8(struct ust_writer *w, uint8_t v);
void ust_u32(struct ust_writer *w, uint32_t v);
void ust_u64(struct ust_writer *w, uint64_t v);
void ust_i32(struct ust_writer *w, int32_t v);
void ust_str(struct ust_writer *w, const char *s);
void ust_blob(struct ust_writer *w, const void *p, uint32_t len);
/*
 * Put the header in front and seal it all into a memfd (not close-on-exec
 * cleared here: the caller does that in the child).  @return its fd or -errno.
 */
int ust_seal(struct ust_writer *w, const char *vcapd_version);
void ust_free(struct ust_writer *w);

/* Reading: the memfd mapped and checked, then records in order. */
struct ust_reader {
	const uint8_t *map;
	size_t map_len;
	const uint8_t *body;
	size_t body_len, off;
	/* the record being read */
	uint32_t type;
	const uint8_t *rec;
	size_t rec_len, rec_off;
	bool bad; /* a field ran past its record */
	char writer_version[32];
};

/*
 * Map fd and check the header against want_version.  @return 0, or -errno
 * with err ("state format version 2, this vcapd reads 1", "checksum ...").
 */
int ust_open(struct ust_reader *r, int fd, uint32_t want_version, char *err, size_t err_len);
/* Next record: @return 1 (r->type set), 0 at the end, -EBADMSG if it overruns the body. */
int ust_next(struct ust_reader *r);
uint8_t ust_get_u8(struct ust_reader *r);
uint32_t ust_get_u32(struct ust_reader *r);
uint64_t ust_get_u64(struct ust_reader *r);
int32_t ust_get_i32(struct ust_reader *r);
/* A string into buf (cut to fit, NUL-terminated). */
void ust_get_str(struct ust_reader *r, char *buf, size_t len);
/* A blob of exactly len bytes into buf (r->bad if the size differs). */
void ust_get_blob(struct ust_reader *r, void *buf, uint32_t len);
/* A blob of at most max bytes: @return its length (r->bad if longer). */
uint32_t ust_get_blob_max(struct ust_reader *r, void *buf, uint32_t max);
/* A blob where it lies in the state (any alignment): @return it, its length in *len. */
const void *ust_get_blob_ref(struct ust_reader *r, uint32_t *len);
void ust_close(struct ust_reader *r);

#endif /* VCAP_DAEMON_UPGRADE_STATE_H */
