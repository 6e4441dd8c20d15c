/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcap.c - the public entry points: option checking, error messages, and
 * dispatch to the kind of handle the device name asks for.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define HOST_PREFIX "host:"

static _Thread_local char errmsg[512];

int vcap_set_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return err;
}

void vcap_program_name(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/comm", "re");

	if (!f || !fgets(buf, (int)len, f))
		snprintf(buf, len, "libvcap");
	buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

VCAP_API const char *vcap_errmsg(void)
{
	return errmsg;
}

#ifdef VCAP_PROJECT_VERSION_MAJOR /* from lib/meson.build */
_Static_assert(VCAP_VERSION_MAJOR == VCAP_PROJECT_VERSION_MAJOR &&
		       VCAP_VERSION_MINOR == VCAP_PROJECT_VERSION_MINOR,
	       "VCAP_VERSION_MAJOR/MINOR of include/vcap.h differ from meson.build's version");
#endif

VCAP_API uint32_t vcap_version(void)
{
	return VCAP_VERSION;
}

/*
 * The bytes of struct vcap_open_opts this library knows, and the largest
 * sz it takes for one: an options struct of a later vcap.h may be larger,
 * but a sz of pages is no options struct (an uninitialised one, most
 * likely), and looking for set bytes in it would read far past it.
 */
#define OPTS_KNOWN VCAP_OFFSETOFEND(struct vcap_open_opts, vcap_open_opts__last_field)
#define OPTS_MAX 4096

/*
 * libbpf's OPTS_VALID: sz must cover sz itself; fields the caller's struct
 * lacks take their defaults (VCAP_OPT); options from a newer vcap.h are
 * fine as long as every byte this library does not know is zero.  Known
 * ends at the last field, not at sizeof: the tail padding of our struct is
 * where the next field of a newer vcap.h goes.
 */
static int check_opts(const struct vcap_open_opts *o)
{
	const uint8_t *b = (const uint8_t *)o;

	if (!o)
		return 0;
	if (o->sz < VCAP_OFFSETOFEND(struct vcap_open_opts, sz) || o->sz > OPTS_MAX)
		return vcap_set_err(-EINVAL,
				    "vcap_open_opts.sz is %zu, not the size of an options struct: "
				    "declare it with VCAP_OPTS()",
				    o->sz);
	for (size_t i = OPTS_KNOWN; i < o->sz; i++)
		if (b[i])
			return vcap_set_err(-EOPNOTSUPP,
					    "vcap_open_opts: an option at byte %zu is set, but this "
					    "libvcap %d.%d knows only the first %zu bytes (up to "
					    "." VCAP_STR(vcap_open_opts__last_field)
					    "): upgrade libvcap, or leave the option 0",
					    i, VCAP_VERSION_MAJOR, VCAP_VERSION_MINOR,
					    (size_t)OPTS_KNOWN);
	return 0;
}

VCAP_API struct vcap *vcap_open(const char *device, const struct vcap_open_opts *o)
{
	struct vcap *h;
	int rc;

	if (!device || !*device) {
		errno = EINVAL;
		vcap_set_err(-EINVAL, "vcap_open: no device given");
		return NULL;
	}
	rc = check_opts(o);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	if (VCAP_OPT(o, flags, 0) & ~(VCAP_OPEN_FLOW_HASH | VCAP_OPEN_META | VCAP_OPEN_RECONNECT)) {
		errno = EINVAL;
		vcap_set_err(-EINVAL, "%s: unknown open flags 0x%x", device, VCAP_OPT(o, flags, 0));
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		errno = ENOMEM;
		vcap_set_err(-ENOMEM, "%s: out of memory", device);
		return NULL;
	}
	snprintf(h->device, sizeof(h->device), "%s", device);
	h->watermark = VCAP_OPT(o, watermark, 1);
	h->timeout_ms = VCAP_OPT(o, timeout_ms, 100);
	h->wake_fd = h->data_fd = h->tick_fd = h->ep_fd = -1;
	pthread_mutex_init(&h->ctl_lock, NULL);
	h->break_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->break_fd < 0) {
		rc = vcap_set_err(-errno, "%s: eventfd: %s", device, strerror(errno));
		goto fail;
	}
	if ((rc = vcap_ev_init(h)) != 0)
		goto fail;
	if (!strncmp(device, HOST_PREFIX, strlen(HOST_PREFIX)))
		rc = vcap_ring_open(h, device + strlen(HOST_PREFIX), o);
	else
		rc = vcap_direct_open(h, device, o);
	if (rc)
		goto fail;
	return h;
fail:
	vcap_ev_close(h);
	if (h->break_fd >= 0)
		close(h->break_fd);
	pthread_mutex_destroy(&h->ctl_lock);
	free(h);
	errno = -rc;
	return NULL;
}

int64_t vcap_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vcap_ms_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - vcap_mono_ms();
	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

VCAP_API int vcap_recv_timeout(struct vcap *h, struct vcap_pkt *pkts, unsigned n, int timeout_ms)
{
	if (timeout_ms < -1)
		return vcap_set_err(-EINVAL, "%s: timeout of %d ms (-1: no limit, 0: no wait)",
				    h->device, timeout_ms);
	if (!n)
		return vcap_set_err(-EINVAL, "%s: room for no packets", h->device);
	return h->ops->recv_burst(h, pkts, n, timeout_ms);
}

VCAP_API int vcap_recv_burst(struct vcap *h, struct vcap_pkt *pkts, unsigned n, int flags)
{
	if (flags & ~VCAP_WAIT)
		return vcap_set_err(-EINVAL, "%s: unknown receive flags 0x%x", h->device, flags);
	return vcap_recv_timeout(h, pkts, n, flags & VCAP_WAIT ? -1 : 0);
}

VCAP_API int vcap_recv(struct vcap *h, struct vcap_pkt *pkt, int flags)
{
	return vcap_recv_burst(h, pkt, 1, flags);
}

VCAP_API int vcap_set_filter(struct vcap *h, const char *filter)
{
	return h->ops->set_filter(h, filter ? filter : "");
}

VCAP_API int vcap_set_watermark(struct vcap *h, uint32_t packets, uint32_t timeout_ms)
{
	h->watermark = packets ? packets : 1;
	h->timeout_ms = timeout_ms ? timeout_ms : 100;
	return 0;
}

/*
 * Output structs: the bytes their first published version had.  A caller's
 * struct may be anything from that up (the convention at the top of
 * vcap.h).
 */
#define STATS_SIZE_0_1 VCAP_OFFSETOFEND(struct vcap_stats, kernel_drops)
#define INFO_SIZE_0_1 VCAP_OFFSETOFEND(struct vcap_info, ring_id)

static int check_out(const struct vcap *h, const void *out, size_t sz, size_t min, const char *what)
{
	if (!out)
		return vcap_set_err(-EINVAL, "%s: no struct %s given", h->device, what);
	if (sz < min)
		return vcap_set_err(-EINVAL,
				    "%s: struct %s of %zu bytes, the first version had %zu: pass "
				    "sizeof(struct %s)",
				    h->device, what, sz, min, what);
	return 0;
}

/*
 * VCAP_0.2: vcap_stats(h, st, sz).  Defined under its own name and bound to
 * the symbol by .symver, as libbpf does, because the 0.1 symbol
 * (vcap_stats_0_1) lives on for programs built before sz was added.
 */
VCAP_API int vcap_stats_0_2(struct vcap *h, struct vcap_stats *st, size_t sz)
{
	struct vcap_stats mine = { 0 };
	int rc = check_out(h, st, sz, STATS_SIZE_0_1, "vcap_stats");

	if (rc)
		return rc;
	rc = h->ops->stats(h, &mine);
	/* after a hang-up: the last counters vcapd published, with -EPIPE */
	if (rc && rc != -EPIPE)
		return rc;
	vcap_fill_out(st, sz, &mine, sizeof(mine));
	return rc;
}
VCAP_SYMVER_DEFAULT(vcap_stats_0_2, vcap_stats, VCAP_0.2);
VCAP_SAME_TYPE(vcap_stats_0_2, vcap_stats);

VCAP_API int vcap_info_0_2(struct vcap *h, struct vcap_info *info, size_t sz)
{
	int rc = check_out(h, info, sz, INFO_SIZE_0_1, "vcap_info");

	if (rc)
		return rc;
	pthread_mutex_lock(&h->ctl_lock); /* a reconnect may be rewriting it */
	vcap_fill_out(info, sz, &h->info, sizeof(h->info));
	pthread_mutex_unlock(&h->ctl_lock);
	return 0;
}
VCAP_SYMVER_DEFAULT(vcap_info_0_2, vcap_info, VCAP_0.2);
VCAP_SAME_TYPE(vcap_info_0_2, vcap_info);

/*
 * VCAP_0.1, for programs built before sz: their structs are the first
 * versions, whose sizeof is STATS_SIZE_0_1 and INFO_SIZE_0_1 (no tail
 * padding).
 */
VCAP_API int vcap_stats_0_1(struct vcap *h, struct vcap_stats *st)
{
	return vcap_stats_0_2(h, st, STATS_SIZE_0_1);
}
VCAP_SYMVER_COMPAT(vcap_stats_0_1, vcap_stats, VCAP_0.1);

VCAP_API int vcap_info_0_1(struct vcap *h, struct vcap_info *info)
{
	return vcap_info_0_2(h, info, INFO_SIZE_0_1);
}
VCAP_SYMVER_COMPAT(vcap_info_0_1, vcap_info, VCAP_0.1);

VCAP_API int vcap_fd(struct vcap *h)
{
	return h->ep_fd;
}

VCAP_API void vcap_breakloop(struct vcap *h)
{
	uint64_t one = 1;

	atomic_store(&h->brk, 1);
	(void)!write(h->break_fd, &one, sizeof(one));
}

VCAP_API void vcap_close(struct vcap *h)
{
	if (!h)
		return;
	h->ops->close(h);
	vcap_ev_close(h);
	close(h->break_fd);
	pthread_mutex_destroy(&h->ctl_lock);
	free(h);
}
