/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * source.c - sources: "NAME=KIND:ARGS" on the command line becomes a
 * backend plus a capture thread.
 */
#include "capture.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "options.h"
#include "source.h"
#include "util.h"

bool source_adopting;

const struct source_ops *const source_kinds[] = {
	&source_synth_ops,
	&source_pcap_ops,
	&source_if_ops,
	&source_xdp_ops,
	NULL,
};

/* The options every kind takes, before its own (kept in step with common_options()). */
const char *const source_common_options[] = { "cpu", NULL };

/*
 * Take the options every kind shares out of args, copying the rest:
 * cpu=N pins the capture thread (as PF_RING tools bind their cores);
 * cpu=A:B:.. pins lane k's to the k-th (round again if there are fewer).
 */
static int common_options(struct source *s, const char *args, char *rest, size_t rest_len,
			  char *err, size_t err_len)
{
	size_t off = 0;

	s->n_cpus = 0;
	while (*args) {
		size_t len = strcspn(args, ",");

		if (!strncmp(args, "cpu=", 4)) {
			const char *p = args + 4, *end = args + len;

			s->n_cpus = 0;
			while (p <= end) {
				size_t one = strcspn(p, ":,");
				char num[16];
				uint64_t v;
				int rc;

				if (p + one > end)
					one = (size_t)(end - p);
				if (s->n_cpus == SOURCE_LANES_MAX) {
					snprintf(err, err_len, "cpu: at most %d CPUs, one per lane",
						 SOURCE_LANES_MAX);
					return -EINVAL;
				}
				snprintf(num, sizeof(num), "%.*s", (int)one, p);
				rc = parse_u64(num, "cpu", 0, CPU_SETSIZE - 1, &v, err, err_len);
				if (rc)
					return rc;
				s->cpus[s->n_cpus++] = (int)v;
				p += one + 1;
			}
		} else {
			if (off + len + 2 > rest_len)
				return -E2BIG;
			if (off)
				rest[off++] = ',';
			memcpy(rest + off, args, len);
			off += len;
		}
		args += len + (args[len] == ',');
	}
	rest[off] = '\0';
	return 0;
}

static bool valid_name(const char *name, size_t len)
{
	if (len == 0 || len > VCAP_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		if (!(ch == '-' || ch == '_' || ch == '.' || (ch >= '0' && ch <= '9') ||
		      (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
			return false;
	}
	return true;
}

/*
 * Each lane's wake-up (lane 0's also carries the mailbox's kicks), and the
 * lock that lets lane 0 stop the others.  Writers first: a lane going round its loop must
 * not keep lane 0, with a letter from the control thread, waiting.
 */
static int lanes_init(struct source *s, char *err, size_t err_len)
{
	pthread_rwlockattr_t attr;
	int rc;

	if (s->n_lanes < 1 || s->n_lanes > SOURCE_LANES_MAX) {
		snprintf(err, err_len, "source %s: %u lanes (1..%d)", s->name, s->n_lanes,
			 SOURCE_LANES_MAX);
		return -EINVAL;
	}
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	rc = pthread_rwlock_init(&s->lanes_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (rc) {
		snprintf(err, err_len, "source %s: lanes lock: %s", s->name, strerror(rc));
		return -rc;
	}
	s->lanes_lock_made = true;
	for (unsigned k = 0; k < s->n_lanes; k++) {
		s->lanes[k].wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->lanes[k].wake_fd < 0) {
			rc = -errno;
			snprintf(err, err_len, "source %s: eventfd: %s", s->name, strerror(errno));
			return rc;
		}
	}
	return 0;
}

int source_create(const char *arg, const struct source_ops *const *kinds, struct source **out,
		  char *err, size_t err_len)
{
	const char *eq = strchr(arg, '='), *spec, *colon;
	const struct source_ops *ops = NULL;
	struct source *s;
	char rest[256], why[256];
	size_t kind_len;
	int rc;

	if (!eq || !valid_name(arg, (size_t)(eq - arg))) {
		snprintf(err, err_len,
			 "source \"%s\": expected NAME=KIND:OPTIONS with NAME of letters, digits, "
			 "'-', '_' or '.' (at most %u)",
			 arg, VCAP_NAME_MAX);
		return -EINVAL;
	}
	spec = eq + 1;
	colon = strchr(spec, ':');
	kind_len = colon ? (size_t)(colon - spec) : strlen(spec);
	if (!kinds)
		kinds = source_kinds;
	for (size_t i = 0; kinds[i]; i++)
		if (strlen(kinds[i]->kind) == kind_len && !strncmp(spec, kinds[i]->kind, kind_len))
			ops = kinds[i];
	if (!ops) {
		snprintf(err, err_len,
			 "source \"%.*s\": unknown kind \"%.*s\" (expected synth:, pcap:, if: or xdp:)",
			 (int)(eq - arg), arg, (int)kind_len, spec);
		return -EINVAL;
	}
	if (strlen(spec) >= sizeof(s->spec)) {
		snprintf(err, err_len, "source \"%.*s\": spec longer than %zu bytes",
			 (int)(eq - arg), arg, sizeof(s->spec) - 1);
		return -EINVAL;
	}

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memcpy(s->name, arg, (size_t)(eq - arg));
	strcpy(s->spec, spec);
	s->ops = ops;
	s->start_after = 1;
	s->n_lanes = 1;
	for (unsigned k = 0; k < SOURCE_LANES_MAX; k++) {
		s->lanes[k].src = s;
		s->lanes[k].index = k;
		s->lanes[k].wake_fd = -1;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	rc = common_options(s, colon ? colon + 1 : "", rest, sizeof(rest), why, sizeof(why));
	if (!rc)
		rc = ops->open(s, rest, why, sizeof(why));
	if (rc) {
		snprintf(err, err_len, "source %s: %s", s->name, why);
		s->ops = NULL; /* nothing to close */
		source_destroy(s);
		return rc;
	}
	rc = lanes_init(s, err, err_len);
	if (rc) {
		source_destroy(s);
		return rc;
	}
	if (ops->kernel_filter && ops->kernel_filter(s, NULL, 0, true) == 0) {
		/* nobody listens yet: the kernel drops everything until someone does */
		s->kernel_drop_all = s->kernel_drop_all_shown = true;
	}
	*out = s;
	return 0;
}

void source_kick_lanes(struct source *s)
{
	uint64_t one = 1;

	for (unsigned k = 1; k < s->n_lanes; k++)
		(void)!write(s->lanes[k].wake_fd, &one, sizeof(one));
}

/*
 * Start every lane's thread, lane 0 last: it joins the others when it
 * stops (capture.c), so they must all exist by then.
 */
int source_start(struct source *s)
{
	for (unsigned i = s->n_lanes; i-- > 0;) {
		struct source_lane *l = &s->lanes[i];
		int rc = pthread_create(&l->thread, NULL, capture_main, l);

		if (rc) {
			/* the lanes already running wait for lane 0 (never coming): stop them */
			atomic_store(&s->stopping, true);
			source_kick_lanes(s);
			for (unsigned k = i + 1; k < s->n_lanes; k++)
				pthread_join(s->lanes[k].thread, NULL);
			atomic_store(&s->stopping, false);
			return -rc;
		}
		if (s->n_cpus) {
			int cpu = s->cpus[i % s->n_cpus];
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			rc = pthread_setaffinity_np(l->thread, sizeof(set), &set);
			if (rc)
				vlog(LOG_WARNING, "source %s: cannot pin lane %u to cpu %d: %s",
				     s->name, i, cpu, strerror(rc));
		}
	}
	s->thread_started = true;
	return 0;
}

void source_stop(struct source *s)
{
	uint64_t one = 1;

	if (!s->thread_started)
		return;
	atomic_store(&s->stopping, true);
	for (unsigned k = 0; k < s->n_lanes; k++)
		(void)!write(s->lanes[k].wake_fd, &one, sizeof(one));
	pthread_join(s->lanes[0].thread, NULL); /* which joined the other lanes */
	pthread_mutex_lock(&s->lock);
	s->thread_started = false;
	pthread_mutex_unlock(&s->lock);
}

void source_destroy(struct source *s)
{
	if (!s)
		return;
	source_stop(s);
	if (s->ops)
		s->ops->close(s);
	for (unsigned k = 0; k < SOURCE_LANES_MAX; k++)
		if (s->lanes[k].wake_fd >= 0)
			close(s->lanes[k].wake_fd);
	if (s->lanes_lock_made)
		pthread_rwlock_destroy(&s->lanes_lock);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->active);
	for (unsigned i = 0; i < s->n_clusters; i++) {
		free(s->clusters[i]->members);
		free(s->clusters[i]);
	}
	free(s->clusters);
	for (unsigned i = 0; i < s->n_buckets; i++)
		free(s->buckets[i]);
	free(s->buckets);
	free(s);
}

struct source *source_find(struct source *list, const char *name)
{
	for (; list; list = list->next)
		if (!strcmp(list->name, name))
			return list;
	return NULL;
}

void source_set_error(struct source *s, const char *msg)
{
	pthread_mutex_lock(&s->lock);
	snprintf(s->error, sizeof(s->error), "%s", msg);
	pthread_mutex_unlock(&s->lock);
}

void source_ended_why(struct source *s, char *err, size_t err_len)
{
	char why[sizeof(s->error)];

	pthread_mutex_lock(&s->lock);
	snprintf(why, sizeof(why), "%s", s->error); /* a read error that ended a file */
	pthread_mutex_unlock(&s->lock);
	snprintf(err, err_len,
		 "source %s has ended after %llu packets%s%s%s and will produce no more "
		 "(a finished source does not start again)",
		 s->name, (unsigned long long)atomic_load(&s->received), why[0] ? " (" : "", why,
		 why[0] ? ")" : "");
}
