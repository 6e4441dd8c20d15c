/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_upgrade_state.c - the state an upgrade hands over (upgrade_state.h):
 * what is written is read back; and a state from another format version,
 * with a flipped byte, cut short, or with a record or a field that claims
 * more bytes than there are, is refused with a message, never read past.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "upgrade_state.h"

#define HDR 64 /* magic 8, version 4, size 4, vcapd version 32, length 8, checksum 8 */

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* A state of two records: one of every field type, then one more. */
static int sample(void)
{
	struct ust_writer w = { 0 };
	uint8_t blob[5] = { 1, 2, 3, 4, 5 };
	int fd;

	ust_begin(&w, REC_SESSION);
	ust_u8(&w, 7);
	ust_u32(&w, 0xdeadbeef);
	ust_u64(&w, 1ull << 40);
	ust_i32(&w, -3);
	ust_str(&w, "host:syn");
	ust_str(&w, "");
	ust_blob(&w, blob, sizeof(blob));
	ust_end(&w);
	ust_begin(&w, REC_RING);
	ust_u32(&w, 42);
	ust_end(&w);
	fd = ust_seal(&w, "test");
	ust_free(&w);
	CHECK(fd >= 0, "seal: %s", strerror(-fd));
	return fd;
}

/* The bytes of a state, to tamper with. */
static uint8_t *bytes_of(int fd, size_t *len)
{
	struct stat st;
	uint8_t *b;

	CHECK(fstat(fd, &st) == 0, "fstat");
	*len = (size_t)st.st_size;
	b = malloc(*len);
	CHECK(b && pread(fd, b, *len, 0) == (ssize_t)*len, "read state");
	return b;
}

static int memfd_of(const uint8_t *b, size_t len)
{
	int fd = memfd_create("tampered", MFD_CLOEXEC);

	CHECK(fd >= 0 && write(fd, b, len) == (ssize_t)len, "memfd");
	return fd;
}

/* Fix the checksum after a change to the body, so only the change is tested. */
static void reseal(uint8_t *b, size_t len)
{
	uint64_t sum = fnv1a(b + HDR, len - HDR);

	memcpy(b + HDR - 8, &sum, 8);
}

static void round_trip(void)
{
	struct ust_reader r;
	char err[256], s[32];
	uint8_t blob[8];
	int fd = sample();

	CHECK(ust_open(&r, fd, UPGRADE_STATE_VERSION, err, sizeof(err)) == 0, "%s", err);
	CHECK(!strcmp(r.writer_version, "test"), "writer %s", r.writer_version);
	CHECK_EQ(ust_next(&r), 1);
	CHECK_EQ(r.type, REC_SESSION);
	CHECK_EQ(ust_get_u8(&r), 7);
	CHECK_EQ(ust_get_u32(&r), 0xdeadbeef);
	CHECK_EQ(ust_get_u64(&r), 1ull << 40);
	CHECK_EQ(ust_get_i32(&r), -3);
	ust_get_str(&r, s, sizeof(s));
	CHECK(!strcmp(s, "host:syn"), "str %s", s);
	ust_get_str(&r, s, sizeof(s));
	CHECK(!strcmp(s, ""), "empty str %s", s);
	CHECK_EQ(ust_get_blob_max(&r, blob, sizeof(blob)), 5);
	CHECK(blob[4] == 5 && !r.bad, "blob");
	/* past the record's end: zero, and marked bad */
	CHECK_EQ(ust_get_u32(&r), 0);
	CHECK(r.bad, "reading past a record is noticed");
	r.bad = false;
	CHECK_EQ(ust_next(&r), 1);
	CHECK_EQ(r.type, REC_RING);
	CHECK_EQ(ust_get_u32(&r), 42);
	CHECK_EQ(ust_next(&r), 0);
	ust_close(&r);
	close(fd);
}

static void refused(const uint8_t *b, size_t len, uint32_t version, int want_rc,
		    const char *want_msg)
{
	struct ust_reader r;
	char err[256] = "";
	int fd = memfd_of(b, len), rc = ust_open(&r, fd, version, err, sizeof(err));

	fprintf(stderr, "refused (%d): %s\n", rc, err);
	CHECK_EQ(rc, want_rc);
	CHECK(strstr(err, want_msg), "\"%s\" does not say \"%s\"", err, want_msg);
	ust_close(&r);
	close(fd);
}

static void tampered(void)
{
	struct ust_reader r;
	char err[256], s[8];
	uint32_t huge = 1u << 30;
	size_t len;
	int fd = sample();
	uint8_t *b = bytes_of(fd, &len);

	close(fd);
	refused(b, len, UPGRADE_STATE_VERSION + 1, -EPROTO, "this vcapd reads version");
	b[HDR + 10] ^= 0x40;
	refused(b, len, UPGRADE_STATE_VERSION, -EBADMSG, "checksum");
	b[HDR + 10] ^= 0x40;
	refused(b, len - 3, UPGRADE_STATE_VERSION, -EBADMSG, "does not match");
	refused(b, 10, UPGRADE_STATE_VERSION, -EBADMSG, "is not a state");
	memcpy(b, "NOTSTATE", 8);
	refused(b, len, UPGRADE_STATE_VERSION, -EBADMSG, "magic");
	memcpy(b, "VCAPSTAT", 8);

	/* a record that claims more than the state holds */
	memcpy(b + HDR + 4, &huge, 4);
	reseal(b, len);
	fd = memfd_of(b, len);
	CHECK(ust_open(&r, fd, UPGRADE_STATE_VERSION, err, sizeof(err)) == 0, "%s", err);
	CHECK_EQ(ust_next(&r), -EBADMSG);
	ust_close(&r);
	close(fd);
	free(b);

	/* a string that claims more than its record holds */
	fd = sample();
	b = bytes_of(fd, &len);
	close(fd);
	{
		uint16_t long_str = 60000;

		/* the first string's length: after type, pad, len (8), u8, u32, u64, i32 */
		memcpy(b + HDR + 8 + 1 + 4 + 8 + 4, &long_str, 2);
	}
	reseal(b, len);
	fd = memfd_of(b, len);
	CHECK(ust_open(&r, fd, UPGRADE_STATE_VERSION, err, sizeof(err)) == 0, "%s", err);
	CHECK_EQ(ust_next(&r), 1);
	ust_get_u8(&r);
	ust_get_u32(&r);
	ust_get_u64(&r);
	ust_get_i32(&r);
	ust_get_str(&r, s, sizeof(s));
	CHECK(r.bad && !s[0], "an overlong string is noticed");
	ust_close(&r);
	close(fd);
	free(b);
}

int main(void)
{
	round_trip();
	tampered();
	fprintf(stderr, "upgrade state: passed\n");
	return 0;
}
