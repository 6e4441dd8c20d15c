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
	NULL,
};

/* The options every kind takes, before its own (kept in step with common_options()). */
const char *const source_common_options[] = { "cpu", NULL };

/*
 * Take the options every kind shares out of args, copying the rest:
 * cpu=N pins the capture thread (as PF_RING tools bind their cores).
 */
static int common_options(struct source *s, const char *args, char *rest, size_t rest_len,
			  char *err, size_t err_len)
{
	size_t off = 0;

	s->cpu = -1;
	while (*args) {
		size_t len = strcspn(args, ",");

		if (!strncmp(args, "cpu=", 4)) {
			char num[16];
			uint64_t v;
			int rc;

			snprintf(num, sizeof(num), "%.*s", (int)(len - 4), args + 4);
			rc = parse_u64(num, "cpu", 0, CPU_SETSIZE - 1, &v, err, err_len);
			if (rc)
				return rc;
			s->cpu = (int)v;
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
			 "source \"%.*s\": unknown kind \"%.*s\" (expected synth:, pcap: or if:)",
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
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (s->wake_fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "source %s: eventfd: %s", s->name, strerror(errno));
		source_destroy(s);
		return rc;
	}
	rc = common_options(s, colon ? colon + 1 : "", rest, sizeof(rest), why, sizeof(why));
	if (!rc)
		rc = ops->open(s, rest, why, sizeof(why));
	if (rc) {
		snprintf(err, err_len, "source %s: %s", s->name, why);
		s->ops = NULL; /* nothing to close */
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

int source_start(struct source *s)
{
	int rc = pthread_create(&s->thread, NULL, capture_main, s);

	if (rc)
		return -rc;
	if (s->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(s->cpu, &set);
		rc = pthread_setaffinity_np(s->thread, sizeof(set), &set);
		if (rc)
			vlog(LOG_WARNING, "source %s: cannot pin to cpu %d: %s", s->name, s->cpu,
			     strerror(rc));
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
	(void)!write(s->wake_fd, &one, sizeof(one));
	pthread_join(s->thread, NULL);
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
	if (s->wake_fd >= 0)
		close(s->wake_fd);
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
