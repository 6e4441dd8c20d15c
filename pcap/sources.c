/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sources.c - what vcapd says about its sources, for the kernel's view of
 * vcap devices (netif.c: flags, MTU, interface lists).
 *
 * A program asks the kernel about its interface a few times, often in a
 * row (flags, then index, then MTU, then addresses), and some ask again
 * now and then; a fresh STATUS for each would be a connection to vcapd
 * per ioctl.  The list is kept for a second: long enough for a burst of
 * questions, short enough that a source's state (running, failed) is
 * current.
 */
#include "shim.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FRESH_NS 1000000000ull

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct vcap_source_desc *cached;
static int n_cached;              /* or -errno */
static char cached_err[256];      /* vcap_errmsg() when n_cached < 0 */
static uint64_t cached_at;
static bool have;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Ask vcapd again.  Called with the lock held. */
static void refresh(void)
{
	struct vcap_source_desc *descs = NULL;
	unsigned room = 16;
	int n;

	for (;;) {
		struct vcap_source_desc *more = realloc(descs, room * sizeof(*descs));

		if (!more) {
			n = -ENOMEM;
			snprintf(cached_err, sizeof(cached_err), "out of memory");
			break;
		}
		descs = more;
		n = vcap_list_sources(NULL, descs, room, sizeof(*descs));
		if (n < 0)
			snprintf(cached_err, sizeof(cached_err), "%s", vcap_errmsg());
		if (n <= (int)room)
			break;
		room = (unsigned)n; /* sources came while we asked: ask again */
	}
	free(cached);
	cached = n > 0 ? descs : NULL;
	if (n <= 0)
		free(descs);
	n_cached = n;
	cached_at = now_ns();
	have = true;
}

static void fresh(void)
{
	if (!have || now_ns() - cached_at > FRESH_NS)
		refresh();
}

int shim_source_find(const char *target, struct vcap_source_desc *out, char *why, size_t why_len)
{
	const char *name = target + strlen(SHIM_PREFIX);
	int rc = -ENOENT;
	size_t used;

	pthread_mutex_lock(&lock);
	fresh();
	if (n_cached < 0) {
		rc = n_cached;
		snprintf(why, why_len, "%s", cached_err);
		goto out;
	}
	for (int i = 0; i < n_cached; i++) {
		if (!strcmp(cached[i].name, name)) {
			*out = cached[i];
			rc = 0;
			goto out;
		}
	}
	/* as vcapd words it when OPEN names no source */
	used = (size_t)snprintf(why, why_len, "%s: no such source (vcapd has:", target);
	for (int i = 0; i < n_cached && used < why_len; i++)
		used += (size_t)snprintf(why + used, why_len - used, "%s %s", i ? "," : "",
					 cached[i].name);
	if (used < why_len)
		snprintf(why + used, why_len - used, "%s)", n_cached ? "" : " none");
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

int shim_sources(struct vcap_source_desc **out)
{
	int n;

	*out = NULL;
	pthread_mutex_lock(&lock);
	fresh();
	n = n_cached;
	if (n > 0) {
		*out = malloc((size_t)n * sizeof(**out));
		if (*out)
			memcpy(*out, cached, (size_t)n * sizeof(**out));
		else
			n = -ENOMEM;
	}
	pthread_mutex_unlock(&lock);
	return n;
}
