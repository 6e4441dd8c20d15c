/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * upgrade_state.c - encoding and bounds-checked decoding of the state an
 * upgrade hands over (format: upgrade_state.h).
 */
#include "upgrade_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "VCAPSTAT"
#define STATE_MAX (256u << 20) /* far above any real state: a bigger one is corrupt */

struct ust_header {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
	char vcapd_version[32];
	uint64_t body_len;
	uint64_t checksum;
};

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ---- writing -------------------------------------------------------------- */

static void put(struct ust_writer *w, const void *p, size_t n)
{
	if (w->oom || !n)
		return;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		uint8_t *b;

		while (cap < w->len + n)
			cap *= 2;
		b = realloc(w->buf, cap);
		if (!b) {
			w->oom = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void ust_begin(struct ust_writer *w, enum upgrade_rec type)
{
	uint16_t t = (uint16_t)type, z = 0;
	uint32_t len = 0;

	w->rec_at = w->len;
	put(w, &t, 2);
	put(w, &z, 2);
	put(w, &len, 4);
}

void ust_end(struct ust_writer *w)
{
	uint32_t len = (uint32_t)(w->len - w->rec_at - 8);

	if (!w->oom)
		memcpy(w->buf + w->rec_at + 4, &len, 4);
}

void ust_u8(struct ust_writer *w, uint8_t v)
{
	put(w, &v, 1);
}

void ust_u32(struct ust_writer *w, uint32_t v)
{
	put(w, &v, 4);
}

void ust_u64(struct ust_writer *w, uint64_t v)
{
	put(w, &v, 8);
}

void ust_i32(struct ust_writer *w, int32_t v)
{
	put(w, &v, 4);
}

void ust_str(struct ust_writer *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	uint16_t len = (uint16_t)(n > 65535 ? 65535 : n);

	put(w, &len, 2);
	put(w, s, len);
}

void ust_blob(struct ust_writer *w, const void *p, uint32_t len)
{
	put(w, &len, 4);
	put(w, p, len);
}

int ust_seal(struct ust_writer *w, const char *vcapd_version)
{
	struct ust_header h = { .version = UPGRADE_STATE_VERSION, .hdr_size = sizeof(h) };
	int fd, rc;

	if (w->oom)
		return -ENOMEM;
	memcpy(h.magic, MAGIC, 8);
	snprintf(h.vcapd_version, sizeof(h.vcapd_version), "%s", vcapd_version);
	h.body_len = w->len;
	h.checksum = fnv1a(w->buf, w->len);
	fd = memfd_create("vcapd-upgrade-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    (w->len && write(fd, w->buf, w->len) != (ssize_t)w->len) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)) {
		rc = errno ? -errno : -EIO;
		close(fd);
		return rc;
	}
	return fd;
}

void ust_free(struct ust_writer *w)
{
	free(w->buf);
	*w = (struct ust_writer){ 0 };
}

/* ---- reading -------------------------------------------------------------- */

int ust_open(struct ust_reader *r, int fd, uint32_t want_version, char *err, size_t err_len)
{
	struct ust_header h;
	struct stat st;

	*r = (struct ust_reader){ 0 };
	if (fstat(fd, &st)) {
		snprintf(err, err_len, "upgrade state (fd %d): %s", fd, strerror(errno));
		return -EBADF;
	}
	if ((size_t)st.st_size < sizeof(h) || (uint64_t)st.st_size > STATE_MAX) {
		snprintf(err, err_len, "upgrade state (fd %d): %lld bytes is not a state", fd,
			 (long long)st.st_size);
		return -EBADMSG;
	}
	r->map_len = (size_t)st.st_size;
	r->map = mmap(NULL, r->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		snprintf(err, err_len, "upgrade state: mmap: %s", strerror(errno));
		return -errno;
	}
	memcpy(&h, r->map, sizeof(h));
	snprintf(r->writer_version, sizeof(r->writer_version), "%.*s",
		 (int)sizeof(h.vcapd_version), h.vcapd_version);
	if (memcmp(h.magic, MAGIC, 8)) {
		snprintf(err, err_len, "upgrade state: bad magic: not a vcapd state");
		return -EBADMSG;
	}
	if (h.version != want_version) {
		snprintf(err, err_len,
			 "upgrade state format version %u (written by vcapd %s), this vcapd reads "
			 "version %u: restart vcapd instead",
			 h.version, r->writer_version, want_version);
		return -EPROTO;
	}
	if (h.hdr_size != sizeof(h) || h.body_len != r->map_len - sizeof(h)) {
		snprintf(err, err_len, "upgrade state: length %llu does not match the file's %zu",
			 (unsigned long long)h.body_len, r->map_len - sizeof(h));
		return -EBADMSG;
	}
	r->body = r->map + sizeof(h);
	r->body_len = (size_t)h.body_len;
	if (fnv1a(r->body, r->body_len) != h.checksum) {
		snprintf(err, err_len, "upgrade state: bad checksum (corrupted)");
		return -EBADMSG;
	}
	return 0;
}

int ust_next(struct ust_reader *r)
{
	uint16_t t;
	uint32_t len;

	if (r->off == r->body_len)
		return 0;
	if (r->body_len - r->off < 8)
		return -EBADMSG;
	memcpy(&t, r->body + r->off, 2);
	memcpy(&len, r->body + r->off + 4, 4);
	if (len > r->body_len - r->off - 8)
		return -EBADMSG;
	r->type = t;
	r->rec = r->body + r->off + 8;
	r->rec_len = len;
	r->rec_off = 0;
	r->off += 8 + (size_t)len;
	return 1;
}

static bool take(struct ust_reader *r, void *out, size_t n)
{
	if (r->bad || r->rec_len - r->rec_off < n) {
		r->bad = true;
		memset(out, 0, n);
		return false;
	}
	memcpy(out, r->rec + r->rec_off, n);
	r->rec_off += n;
	return true;
}

uint8_t ust_get_u8(struct ust_reader *r)
{
	uint8_t v;

	take(r, &v, 1);
	return v;
}

uint32_t ust_get_u32(struct ust_reader *r)
{
	uint32_t v;

	take(r, &v, 4);
	return v;
}

uint64_t ust_get_u64(struct ust_reader *r)
{
	uint64_t v;

	take(r, &v, 8);
	return v;
}

int32_t ust_get_i32(struct ust_reader *r)
{
	int32_t v;

	take(r, &v, 4);
	return v;
}

void ust_get_str(struct ust_reader *r, char *buf, size_t len)
{
	uint16_t n = 0;

	buf[0] = '\0';
	if (!take(r, &n, 2))
		return;
	if (r->rec_len - r->rec_off < n) {
		r->bad = true;
		return;
	}
	snprintf(buf, len, "%.*s", (int)n, (const char *)r->rec + r->rec_off);
	r->rec_off += n;
}

uint32_t ust_get_blob_max(struct ust_reader *r, void *buf, uint32_t max)
{
	uint32_t n = 0;

	if (!take(r, &n, 4))
		return 0;
	if (n > max || r->rec_len - r->rec_off < n) {
		r->bad = true;
		return 0;
	}
	memcpy(buf, r->rec + r->rec_off, n);
	r->rec_off += n;
	return n;
}

void ust_get_blob(struct ust_reader *r, void *buf, uint32_t len)
{
	if (ust_get_blob_max(r, buf, len) != len)
		r->bad = true;
}

const void *ust_get_blob_ref(struct ust_reader *r, uint32_t *len)
{
	const void *p;
	uint32_t n = 0;

	*len = 0;
	if (!take(r, &n, 4))
		return NULL;
	if (r->rec_len - r->rec_off < n) {
		r->bad = true;
		return NULL;
	}
	p = r->rec + r->rec_off;
	r->rec_off += n;
	*len = n;
	return p;
}

void ust_close(struct ust_reader *r)
{
	if (r->map)
		munmap((void *)r->map, r->map_len);
	r->map = NULL;
}
