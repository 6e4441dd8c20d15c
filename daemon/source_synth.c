/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * source_synth.c - `synth:` sources: the packet generator (source/synth.h)
 * flat out or paced, for demos, tests and benchmarks.
 *
 *   synth:size=64,pps=0,count=0,flows=1024,proto=mix,ipv6=0,vlan=0,consumers=1,coalesce=50
 *
 * Paced, it releases packets the way a NIC with interrupt moderation hands
 * them to its driver: when COALESCE_BATCH are due or `coalesce` us after
 * the last release, whichever comes first (coalesce=0: each as it falls
 * due).  Without that, a consumer behind a paced generator could never
 * sleep, and CPU figures would measure spinning.
 *
 * A generator only runs while someone listens, and starts once `consumers`
 * consumers are attached, so that a test can attach all of its consumers
 * before packet 0 and then expect exact counts.
 */
#include "source.h"

#include <errno.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "synth.h"
#include "util.h"

#define SLOTS 256            /* frames handed out per batch; >= capture.c's BATCH */
#define SPIN_NS 10000ull     /* shorter waits are spun, longer ones slept */
#define BACKLOG_NS 100000000ull /* fell further behind than this: stop catching up */
#define COALESCE_BATCH 64         /* this many due packets go out without waiting */

struct synth_src {
	struct vcap_synth gen;
	uint64_t pps;    /* 0: flat out */
	uint64_t count;  /* 0: forever */
	uint64_t n;      /* number of the next packet */
	uint64_t t0, n0; /* pacing: packet n0 was due at monotonic time t0 */
	uint64_t coalesce_ns;
	uint64_t released_at; /* monotonic time of the last release */
	uint32_t stride; /* bytes between slots */
	uint8_t *slots;
};

/* What synth_open() takes; kv_known() refuses anything else. */
static const char *const synth_options[] = {
	"size", "pps", "count", "flows", "proto", "ipv6", "vlan", "consumers", "coalesce", NULL,
};

static int synth_open(struct source *s, const char *args, char *err, size_t err_len)
{
	struct vcap_synth_cfg cfg = { .size = 64, .flows = 1024, .proto = VCAP_SYNTH_MIX };
	struct synth_src *g = calloc(1, sizeof(*g));
	struct kv kv;
	uint64_t v;
	int rc;

	if (!g)
		return -ENOMEM;
	g->coalesce_ns = 50000; /* a typical NIC's rx-usecs */
	while ((rc = kv_next(&args, &kv, err, err_len)) > 0) {
		rc = kv_known(&kv, synth_options, NULL, err, err_len);
		if (rc)
			break;
		if (!strcmp(kv.key, "size")) {
			rc = kv_u64(&kv, 60, VCAP_SYNTH_SIZE_MAX, &v, err, err_len);
			cfg.size = (uint32_t)v;
		} else if (!strcmp(kv.key, "pps")) {
			rc = kv_u64(&kv, 0, 1000000000ull, &g->pps, err, err_len);
		} else if (!strcmp(kv.key, "count")) {
			rc = kv_u64(&kv, 0, UINT64_MAX, &g->count, err, err_len);
		} else if (!strcmp(kv.key, "flows")) {
			rc = kv_u64(&kv, 1, 1000000, &v, err, err_len);
			cfg.flows = (uint32_t)v;
		} else if (!strcmp(kv.key, "ipv6")) {
			rc = kv_u64(&kv, 0, 100, &v, err, err_len);
			cfg.ipv6_pct = (uint32_t)v;
		} else if (!strcmp(kv.key, "vlan")) {
			rc = kv_u64(&kv, 0, 4094, &v, err, err_len);
			cfg.vlan = (uint16_t)v;
		} else if (!strcmp(kv.key, "coalesce")) {
			rc = kv_u64(&kv, 0, 100000, &v, err, err_len);
			g->coalesce_ns = v * 1000;
		} else if (!strcmp(kv.key, "consumers")) {
			rc = kv_u64(&kv, 1, 4096, &v, err, err_len);
			s->start_after = (uint32_t)v;
		} else if (!strcmp(kv.key, "proto")) {
			cfg.proto = !strcmp(kv.val, "udp")   ? VCAP_SYNTH_UDP
				    : !strcmp(kv.val, "tcp") ? VCAP_SYNTH_TCP
				    : !strcmp(kv.val, "mix") ? VCAP_SYNTH_MIX
							     : 0;
			if (!cfg.proto) {
				snprintf(err, err_len, "proto=%s: expected udp, tcp or mix", kv.val);
				rc = -EINVAL;
			}
		}
		if (rc)
			break;
	}
	if (!rc)
		rc = vcap_synth_init(&g->gen, &cfg, err, err_len);
	if (!rc) {
		g->stride = (cfg.size + 63) & ~63u;
		g->slots = aligned_alloc(64, (size_t)g->stride * SLOTS);
		if (!g->slots)
			rc = -ENOMEM;
	}
	if (rc) {
		free(g);
		return rc < 0 ? rc : -EINVAL;
	}
	/* Every slot holds a frame of this generator, so patching it suffices. */
	for (unsigned i = 0; i < SLOTS; i++)
		vcap_synth_frame(&g->gen, i, g->slots + (size_t)i * g->stride);
	s->priv = g;
	s->linktype = DLT_EN10MB;
	/* every frame is cfg.size bytes: the MTU is what follows the Ethernet header (and tag) */
	atomic_store(&s->mtu, cfg.size - (cfg.vlan ? 18u : 14u));
	return 0;
}

/* Packets due by `now` under pacing, at most `max`. */
static uint64_t due(struct synth_src *g, uint64_t now, uint64_t max)
{
	uint64_t owed;

	if (!g->pps)
		return max;
	if (!g->t0) {
		g->t0 = now; /* start the schedule */
		g->n0 = g->n;
	}
	owed = g->n0 + (uint64_t)((double)(now - g->t0) * (double)g->pps / 1e9);
	if (owed <= g->n)
		return 0;
	if ((double)(owed - g->n) * 1e9 / (double)g->pps > (double)BACKLOG_NS) {
		/* We were idle or could not keep up: restart rather than burst. */
		g->t0 = now;
		g->n0 = g->n;
		g->released_at = now;
		return 1;
	}
	if (owed - g->n < COALESCE_BATCH && now - g->released_at < g->coalesce_ns)
		return 0; /* moderate: not enough due, not waited long enough */
	g->released_at = now;
	return owed - g->n < max ? owed - g->n : max;
}

/* When the next release is due (monotonic ns), by due()'s rules. */
static uint64_t next_release(const struct synth_src *g)
{
	double per = 1e9 / (double)g->pps;
	uint64_t first = g->t0 + (uint64_t)((double)(g->n + 1 - g->n0) * per);
	uint64_t batch = g->t0 + (uint64_t)((double)(g->n + COALESCE_BATCH - g->n0) * per);
	uint64_t moderated = g->released_at + g->coalesce_ns;
	uint64_t at = batch < moderated ? batch : moderated;

	return at > first ? at : first;
}

static int synth_next(struct source *s, unsigned lane, struct vcap_pkt_meta *meta,
		      const uint8_t **data, unsigned n_max, uint64_t now)
{
	struct synth_src *g = s->priv;
	uint32_t size = g->gen.cfg.size;
	uint64_t take, ts;

	(void)lane; /* one lane */
	if (g->count && g->n >= g->count)
		return -ENODATA;
	take = due(g, now, n_max < SLOTS ? n_max : SLOTS);
	if (g->count && take > g->count - g->n)
		take = g->count - g->n;
	if (!take)
		return 0;
	ts = wall_ns();
	for (unsigned i = 0; i < take; i++) {
		/*
		 * Packet n always goes to slot n % SLOTS: with the usual flow
		 * counts a slot then keeps one header layout (IP version and
		 * protocol), and patching it touches only the fields that vary.
		 */
		uint8_t *frame = g->slots + (size_t)((g->n + i) % SLOTS) * g->stride;

		vcap_synth_patch(&g->gen, g->n + i, frame);
		meta[i] = (struct vcap_pkt_meta){ .ts_ns = ts, .caplen = size, .wirelen = size };
		data[i] = frame;
	}
	g->n += take;
	return (int)take;
}

static void synth_release(struct source *s, unsigned lane)
{
	(void)s; /* slots are reused by the next batch */
	(void)lane;
}

static void synth_wait(struct source *s, unsigned lane, int wake_fd, uint64_t max_ns)
{
	struct synth_src *g = s->priv;
	uint64_t now, next_at, wait;

	(void)lane;
	if (!g->pps)
		return;
	now = mono_ns();
	next_at = next_release(g);
	if (next_at <= now)
		return;
	wait = next_at - now;
	if (wait > max_ns)
		wait = max_ns;
	if (wait > SPIN_NS)
		wait_readable(wake_fd, -1, wait - SPIN_NS / 2);
}

static int synth_reopen(struct source *s, char *err, size_t err_len)
{
	(void)s;
	(void)err;
	(void)err_len;
	return 0; /* a generator cannot fail */
}

static void synth_close(struct source *s)
{
	struct synth_src *g = s->priv;

	if (g)
		free(g->slots);
	free(g);
}

/* Where the generator is and its pacing schedule (source.h: save, restore). */
struct synth_saved {
	uint64_t n, t0, n0, released_at;
};

static size_t synth_save(struct source *s, void *buf, size_t cap, int fds[SOURCE_LANES_MAX],
			 unsigned *n_fds)
{
	struct synth_src *g = s->priv;
	struct synth_saved v = { g->n, g->t0, g->n0, g->released_at };

	(void)fds;
	*n_fds = 0;
	if (cap < sizeof(v))
		return 0;
	memcpy(buf, &v, sizeof(v));
	return sizeof(v);
}

static int synth_restore(struct source *s, const void *buf, size_t len, const int *fds,
			 unsigned n_fds, char *err, size_t err_len)
{
	struct synth_src *g = s->priv;
	struct synth_saved v;

	(void)fds;
	(void)n_fds;
	if (!len)
		return 0; /* new in this configuration: from its start */
	if (len != sizeof(v)) {
		snprintf(err, err_len, "synth: the saved state does not fit this vcapd");
		return -EINVAL;
	}
	memcpy(&v, buf, sizeof(v));
	/*
	 * CLOCK_MONOTONIC is the machine's, not the process's: the schedule
	 * goes on where it was (a pause past BACKLOG_NS restarts it, as after
	 * any stall, rather than bursting).
	 */
	g->n = v.n;
	g->t0 = v.t0;
	g->n0 = v.n0;
	g->released_at = v.released_at;
	return 0;
}

const struct source_ops source_synth_ops = {
	.kind = "synth",
	.pull = true,
	.options = synth_options,
	.open = synth_open,
	.next = synth_next,
	.release = synth_release,
	.wait = synth_wait,
	.reopen = synth_reopen,
	.close = synth_close,
	.save = synth_save,
	.restore = synth_restore,
};
