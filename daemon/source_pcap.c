/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * source_pcap.c - `pcap:` sources: replay a capture file through libpcap.
 *
 *   pcap:FILE[,speed=1|N|max][,loop=N][,consumers=N]
 *
 * speed=1 keeps the file's inter-packet gaps, N replays N times faster and
 * max as fast as consumers are served.  loop=0 repeats forever.  Packets keep
 * the timestamps and lengths the file records, so what a consumer writes
 * out again matches the input.
 */
#include "source.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "util.h"

#define ARENA_SIZE (8u << 20) /* packet bytes copied out per batch */
#define PCAP_TS_SEC_MAX 0xffffffffu /* 2106: a classic file's unsigned reading */

struct pcap_src {
	char path[PATH_MAX];
	pcap_t *p;
	double speed;       /* 0: max */
	uint64_t loops;     /* 0: forever */
	uint64_t loops_done;
	/* a packet read from the file but not yet due; libpcap keeps it valid */
	struct pcap_pkthdr *hdr;
	const u_char *bytes;
	/* pacing: file time ts0 corresponds to monotonic time t0 */
	uint64_t ts0, t0;
	uint8_t *arena;
	size_t used;
	bool failed; /* a read error ended the replay: never read that handle again */
	bool ng; /* pcapng: its records' sizes are not known from their headers (no upgrade) */
};

static int reopen_file(struct pcap_src *f, char *err, size_t err_len)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	uint32_t magic = 0;
	FILE *peek = fopen(f->path, "r");

	if (peek) {
		f->ng = fread(&magic, 4, 1, peek) == 1 && magic == 0x0a0d0d0a; /* its SHB */
		fclose(peek);
	}
	if (f->p)
		pcap_close(f->p);
	f->hdr = NULL;
	f->p = pcap_open_offline_with_tstamp_precision(f->path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!f->p) {
		/* name the file, unless libpcap's message already does */
		if (strstr(errbuf, f->path))
			snprintf(err, err_len, "pcap: %s", errbuf);
		else
			snprintf(err, err_len, "pcap: %s: %s", f->path, errbuf);
		return -EINVAL;
	}
	return 0;
}

/* What pcap_src_open() takes after FILE; kv_known() refuses anything else. */
static const char *const pcap_options[] = { "speed", "loop", "consumers", NULL };

/*
 * The largest packet the file may hold above its link header: its snapshot
 * length (what a frame can be, without reading the whole file first), at
 * most an IP packet's 65535 bytes.
 */
static uint32_t file_mtu(pcap_t *p)
{
	int snap = pcap_snapshot(p), hdr = pcap_datalink(p) == DLT_EN10MB ? 14 : 0;
	uint32_t mtu = snap > hdr ? (uint32_t)(snap - hdr) : 0;

	return mtu < 65535 ? mtu : 65535;
}

static int pcap_src_open(struct source *s, const char *args, char *err, size_t err_len)
{
	struct pcap_src *f = calloc(1, sizeof(*f));
	const char *comma = strchr(args, ',');
	size_t len = comma ? (size_t)(comma - args) : strlen(args);
	struct kv kv;
	int rc = 0;

	if (!f)
		return -ENOMEM;
	f->speed = 1;
	f->loops = 1;
	if (len == 0 || len >= sizeof(f->path)) {
		snprintf(err, err_len, "pcap: expected pcap:FILE[,speed=1|N|max][,loop=N]");
		free(f);
		return -EINVAL;
	}
	memcpy(f->path, args, len);
	args += len;
	while (!rc && (rc = kv_next(&args, &kv, err, err_len)) > 0) {
		uint64_t v;

		rc = kv_known(&kv, pcap_options, "pcap", err, err_len);
		if (rc)
			break;
		if (!strcmp(kv.key, "speed")) {
			if (!strcmp(kv.val, "max"))
				f->speed = 0;
			else if (!(rc = kv_u64(&kv, 1, 1000000, &v, err, err_len)))
				f->speed = (double)v;
		} else if (!strcmp(kv.key, "loop")) {
			rc = kv_u64(&kv, 0, UINT64_MAX, &f->loops, err, err_len);
		} else if (!strcmp(kv.key, "consumers")) {
			rc = kv_u64(&kv, 1, 4096, &v, err, err_len);
			s->start_after = (uint32_t)v;
		}
	}
	f->arena = malloc(ARENA_SIZE);
	if (!rc && !f->arena)
		rc = -ENOMEM;
	if (!rc)
		rc = reopen_file(f, err, err_len);
	if (rc) {
		if (f->p)
			pcap_close(f->p);
		free(f->arena);
		free(f);
		return rc;
	}
	s->priv = f;
	s->linktype = (uint32_t)pcap_datalink(f->p);
	atomic_store(&s->mtu, file_mtu(f->p));
	return 0;
}

/*
 * A packet's time in ns since the epoch.  Opened with nanosecond precision,
 * tv_usec holds nanoseconds.  libpcap hands both fields on signed and
 * unchecked (a classic file stores them as signed 32-bit; pcapng may say
 * anything), so a corrupt or pre-1970 stamp is clamped: seconds to
 * [0, PCAP_TS_SEC_MAX], the fraction to [0, 1e9).  Every difference of two
 * stamps then fits in 63 bits, and pacing arithmetic cannot overflow.
 */
static uint64_t pcap_ts_ns(const struct pcap_pkthdr *h)
{
	int64_t sec = h->ts.tv_sec, ns = h->ts.tv_usec;

	sec = sec < 0 ? 0 : sec > (int64_t)PCAP_TS_SEC_MAX ? (int64_t)PCAP_TS_SEC_MAX : sec;
	ns = ns < 0 ? 0 : ns > 999999999 ? 999999999 : ns;
	return (uint64_t)sec * 1000000000ull + (uint64_t)ns;
}

/* Make f->hdr the next packet of the file, looping as asked.  @return 1, 0 at the end, -errno. */
static int peek_packet(struct source *s, struct pcap_src *f)
{
	char err[128];

	if (f->failed)
		return 0;
	while (!f->hdr) {
		int rc = pcap_next_ex(f->p, &f->hdr, &f->bytes);

		if (rc == 1)
			return 1;
		f->hdr = NULL;
		if (rc == PCAP_ERROR) {
			/* a truncated or corrupt file ends the replay, loudly */
			f->failed = true;
			snprintf(err, sizeof(err), "%s", pcap_geterr(f->p));
			source_set_error(s, err);
			vlog(LOG_ERR, "source %s: pcap:%s: %s", s->name, f->path, err);
			return 0;
		}
		if (f->loops && ++f->loops_done >= f->loops)
			return 0;
		if (reopen_file(f, err, sizeof(err))) {
			source_set_error(s, err);
			return 0;
		}
		f->t0 = 0; /* each round keeps the file's own pacing */
	}
	return 1;
}

static int pcap_src_next(struct source *s, unsigned lane, struct vcap_pkt_meta *meta,
			 const uint8_t **data, unsigned n_max, uint64_t now)
{
	struct pcap_src *f = s->priv;
	unsigned n = 0;

	(void)lane; /* one lane */
	while (n < n_max) {
		uint64_t ts;
		uint32_t caplen;

		if (peek_packet(s, f) <= 0)
			return n ? (int)n : -ENODATA;
		ts = pcap_ts_ns(f->hdr);
		if (f->speed > 0) {
			if (!f->t0) {
				f->t0 = now;
				f->ts0 = ts;
			}
			if (ts > f->ts0 && (double)(ts - f->ts0) / f->speed > (double)(now - f->t0))
				break; /* not due yet */
		}
		caplen = f->hdr->caplen;
		if (f->used + caplen > ARENA_SIZE)
			break;
		memcpy(f->arena + f->used, f->bytes, caplen);
		meta[n] = (struct vcap_pkt_meta){ .ts_ns = ts, .caplen = caplen,
						  .wirelen = f->hdr->len };
		data[n++] = f->arena + f->used;
		f->used += (caplen + 63) & ~(size_t)63;
		f->hdr = NULL;
	}
	return (int)n;
}

static void pcap_src_release(struct source *s, unsigned lane)
{
	struct pcap_src *f = s->priv;

	(void)lane;
	f->used = 0;
}

static void pcap_src_wait(struct source *s, unsigned lane, int wake_fd, uint64_t max_ns)
{
	struct pcap_src *f = s->priv;
	uint64_t now = mono_ns(), ts;
	double left;

	(void)lane;
	if (f->speed == 0 || !f->hdr || !f->t0)
		return;
	ts = pcap_ts_ns(f->hdr);
	if (ts <= f->ts0)
		return;
	/* in double until clamped: a gap of years over speed must not overflow */
	left = (double)(ts - f->ts0) / f->speed - (double)(now - f->t0);
	if (left > 0)
		wait_readable(wake_fd, -1, left < (double)max_ns ? (uint64_t)left : max_ns);
}

static int pcap_src_reopen(struct source *s, char *err, size_t err_len)
{
	(void)s;
	(void)err;
	(void)err_len;
	return 0; /* next() never fails: a bad file ends the replay */
}

static void pcap_src_close(struct source *s)
{
	struct pcap_src *f = s->priv;

	if (!f)
		return;
	if (f->p)
		pcap_close(f->p);
	free(f->arena);
	free(f);
}

/*
 * Where the replay is (source.h: save, restore): the file offset of the
 * next packet to deliver (the one peeked and not yet due, if any: a
 * classic record is a 16-byte header and caplen bytes), the round, the
 * pacing.  libpcap reads a savefile record by record through its stdio
 * stream, so that offset is where to seek the new handle.  Read only
 * here, not per packet: ftell() is a system call.
 */
struct pcap_saved {
	int64_t offset;
	uint64_t loops_done, ts0, t0;
	uint8_t failed, pad[7];
};

static size_t pcap_src_save(struct source *s, void *buf, size_t cap,
			    int fds[SOURCE_LANES_MAX], unsigned *n_fds)
{
	struct pcap_src *f = s->priv;
	struct pcap_saved v = { .loops_done = f->loops_done, .ts0 = f->ts0, .t0 = f->t0,
				.failed = f->failed };

	(void)fds;
	*n_fds = 0;
	if (f->ng || cap < sizeof(v))
		return 0;
	v.offset = ftell(pcap_file(f->p));
	if (f->hdr)
		v.offset -= 16 + (int64_t)f->hdr->caplen;
	if (v.offset < 0)
		return 0;
	memcpy(buf, &v, sizeof(v));
	return sizeof(v);
}

static int pcap_src_restore(struct source *s, const void *buf, size_t len, const int *fds,
			    unsigned n_fds, char *err, size_t err_len)
{
	struct pcap_src *f = s->priv;
	struct pcap_saved v;

	(void)fds;
	(void)n_fds;
	if (!len)
		return 0; /* new in this configuration: from its start */
	if (len != sizeof(v)) {
		snprintf(err, err_len, "pcap:%s: the saved state does not fit this vcapd", f->path);
		return -EINVAL;
	}
	memcpy(&v, buf, sizeof(v));
	/* open() read the header afresh; the file's rounds restart at the same place */
	if (v.offset < 0 || fseek(pcap_file(f->p), (long)v.offset, SEEK_SET)) {
		snprintf(err, err_len, "pcap:%s: cannot go back to offset %lld: %s", f->path,
			 (long long)v.offset, strerror(errno));
		return -EINVAL;
	}
	f->loops_done = v.loops_done;
	f->ts0 = v.ts0;
	f->t0 = v.t0;
	f->failed = v.failed;
	return 0;
}

const struct source_ops source_pcap_ops = {
	.kind = "pcap",
	.pull = true,
	.options = pcap_options,
	.open = pcap_src_open,
	.next = pcap_src_next,
	.release = pcap_src_release,
	.wait = pcap_src_wait,
	.reopen = pcap_src_reopen,
	.close = pcap_src_close,
	.save = pcap_src_save,
	.restore = pcap_src_restore,
};
