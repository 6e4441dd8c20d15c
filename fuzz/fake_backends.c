/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fake_backends.c - source backends for fuzz_config only.
 *
 * THE PARSER IS THE TARGET; SOURCE CREATION IS TESTED ELSEWHERE
 * (tests/test_vcapd.c, test_capture.c, fuzz_pcap.c).
 *
 * A configuration file names sources, and creating them for real would
 * open them: an `if:` line opens an AF_PACKET socket on a real interface,
 * a `pcap:` line opens whatever path the line names (a FIFO would block),
 * a `synth:` line allocates frames and flow tables as large as its options
 * ask.  A fuzzer must do none of that millions of times, so fuzz_config
 * runs the real parser, the real source factory (names, kinds, the shared
 * cpu= option) and the real VM parser (a `vm` line creates nothing until
 * vcapd starts it) with these backends, passed in as struct vcapd's
 * source_kinds: each open() only checks its argument string as the real
 * one reads it (a `key=value,...` list; pcap: a path first; if: an
 * interface name first) and allocates nothing.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "source.h"

/* The rest of a backend's arguments: a well-formed key=value list. */
static int kv_list(const char *args, char *err, size_t err_len)
{
	struct kv kv;
	int rc;

	while ((rc = kv_next(&args, &kv, err, err_len)) > 0)
		;
	return rc;
}

static int fake_synth_open(struct source *s, const char *args, char *err, size_t err_len)
{
	(void)s;
	return kv_list(args, err, err_len);
}

/* The first word up to a comma, as pcap: and if: take it: non-empty, under max. */
static int first_word(const char **args, size_t max, const char *what, char *err, size_t err_len)
{
	size_t len = strcspn(*args, ",");

	if (len == 0 || len >= max) {
		snprintf(err, err_len, "%s: expected a %s of 1..%zu bytes", what, what, max - 1);
		return -EINVAL;
	}
	*args += len;
	return 0;
}

static int fake_pcap_open(struct source *s, const char *args, char *err, size_t err_len)
{
	int rc = first_word(&args, PATH_MAX, "pcap", err, err_len);

	(void)s;
	return rc ? rc : kv_list(args, err, err_len);
}

static int fake_if_open(struct source *s, const char *args, char *err, size_t err_len)
{
	int rc = first_word(&args, IFNAMSIZ, "if", err, err_len);

	(void)s;
	return rc ? rc : kv_list(args, err, err_len);
}

static void fake_close(struct source *s)
{
	(void)s;
}

static const struct source_ops fake_synth_ops = {
	.kind = "synth", .pull = true, .open = fake_synth_open, .close = fake_close
};
static const struct source_ops fake_pcap_ops = {
	.kind = "pcap", .pull = true, .open = fake_pcap_open, .close = fake_close
};
static const struct source_ops fake_if_ops = {
	.kind = "if", .open = fake_if_open, .close = fake_close
};

/* Given to config_load() as struct vcapd's source_kinds. */
const struct source_ops *const fake_source_kinds[] = {
	&fake_synth_ops,
	&fake_pcap_ops,
	&fake_if_ops,
	NULL,
};
