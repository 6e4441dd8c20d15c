/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_options.c - vcapd --help shows every option its spec parsers take,
 * read from the parsers' own tables (source_ops.options,
 * source_common_options, vm_options), so neither can drift from the other:
 *
 *   - each key of a kind's table appears as KEY= on that kind's spec line
 *     of --help (cpu=, taken by every kind, anywhere; a VM's on --vm's);
 *   - each key of a table is handled by its parser: KEY=bogus is refused
 *     for its value, naming KEY, not as an unknown option (a key in the
 *     table without its branch would be accepted and ignored);
 *   - a key outside the table is refused, and the message lists the table.
 * The parsers refuse any key not in their table (kv_known), so what they
 * accept is exactly the table.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "source.h"
#include "vm.h"

static char help[16384];

static void read_help(void)
{
	char cmd[512];
	const char *b = getenv("VCAP_BUILD_DIR");
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s/daemon/vcapd --help", b ? b : ".");
	p = popen(cmd, "r");
	CHECK(p, "popen %s", cmd);
	n = fread(help, 1, sizeof(help) - 1, p);
	help[n] = '\0';
	CHECK(pclose(p) == 0, "%s failed", cmd);
	CHECK(n > 0 && n < sizeof(help) - 1, "--help: %zu bytes", n);
}

/* The line of --help that starts (after blanks) with `start`. */
static void help_line(const char *start, char *line, size_t len)
{
	for (const char *l = help; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] == '\n')) {
		const char *w = l + strspn(l, " ");

		if (!strncmp(w, start, strlen(start))) {
			snprintf(line, len, "%.*s", (int)strcspn(w, "\n"), w);
			return;
		}
	}
	CHECK(0, "no line of vcapd --help starts with \"%s\":\n%s", start, help);
}

/* KEY= in line, as a whole key: after ':', ',', '[' or a blank. */
static bool shows_key(const char *line, const char *key)
{
	size_t k = strlen(key);

	for (const char *p = strstr(line, key); p; p = strstr(p + 1, key))
		if (p[k] == '=' && (p == line || strchr(":,[ ", p[-1])))
			return true;
	return false;
}

/* The first part of a spec of kind, before its options: pcap: and if: take a name. */
static const char *spec_head(const char *kind)
{
	if (!strcmp(kind, "pcap"))
		return "pcap:/nonexistent.pcap,";
	if (!strcmp(kind, "if"))
		return "if:lo,";
	if (!strcmp(kind, "xdp"))
		return "xdp:vcap-none0,"; /* no such device: nothing is attached anywhere */
	return "synth:";
}

/* KEY=bogus must be refused for the value, naming the key. */
static void check_handled(const char *kind, const char *key)
{
	char spec[256], err[512] = "";
	struct source *s = NULL;
	int rc;

	snprintf(spec, sizeof(spec), "t=%s%s=bogus", spec_head(kind), key);
	rc = source_create(spec, NULL, &s, err, sizeof(err));
	if (!rc)
		source_destroy(s);
	CHECK(rc == -EINVAL && !strstr(err, "unknown option") && strstr(err, key),
	      "%s: %s's parser does not handle \"%s\" (rc %d: %s)", spec, kind, key, rc, err);
}

static void check_kind(const struct source_ops *ops)
{
	char start[32], line[512], spec[256], err[512] = "";
	struct source *s = NULL;
	unsigned n = 0;

	snprintf(start, sizeof(start), "%s:", ops->kind);
	help_line(start, line, sizeof(line));
	CHECK(ops->options, "kind %s has no table of options", ops->kind);
	/* a vcapd built without libxdp has xdp: say so whatever the options */
	snprintf(spec, sizeof(spec), "t=%s", spec_head(ops->kind));
	spec[strlen(spec) - (spec[strlen(spec) - 1] == ',')] = '\0';
	if (source_create(spec, NULL, &s, err, sizeof(err)) == -ENOTSUP &&
	    strstr(err, "built without")) {
		for (const char *const *k = ops->options; *k; k++)
			CHECK(shows_key(line, *k), "vcapd --help does not show %s's option %s=",
			      ops->kind, *k);
		fprintf(stderr, "%s: not built in (%s)\n", ops->kind, err);
		return;
	}
	if (s)
		source_destroy(s);
	s = NULL;
	for (const char *const *k = ops->options; *k; k++, n++) {
		CHECK(shows_key(line, *k), "vcapd --help does not show %s's option %s= in \"%s\"",
		      ops->kind, *k, line);
		check_handled(ops->kind, *k);
	}
	/* a key outside the table: refused, the message listing the table */
	snprintf(spec, sizeof(spec), "t=%scolour=red", spec_head(ops->kind));
	CHECK(source_create(spec, NULL, &s, err, sizeof(err)) == -EINVAL, "%s accepted", spec);
	CHECK(strstr(err, "unknown option \"colour\""), "%s: %s", spec, err);
	for (const char *const *k = ops->options; *k; k++)
		CHECK(strstr(err, *k), "%s: the message does not list %s: %s", spec, *k, err);
	fprintf(stderr, "%s: %u options, all in --help: %s\n", ops->kind, n, line);
}

int main(void)
{
	char line[512], err[512];
	struct vm *vm = NULL;
	unsigned kinds = 0;

	read_help();
	for (const struct source_ops *const *k = source_kinds; *k; k++, kinds++)
		check_kind(*k);
	CHECK(kinds == 4, "%u kinds", kinds);

	for (const char *const *k = source_common_options; *k; k++) {
		CHECK(shows_key(help, *k), "vcapd --help does not show %s=, which every kind takes",
		      *k);
		check_handled("synth", *k);
	}

	help_line("--vm ", line, sizeof(line));
	for (const char *const *k = vm_options; *k; k++) {
		char spec[256];

		CHECK(shows_key(line, *k), "vcapd --help does not show --vm's %s= in \"%s\"", *k,
		      line);
		snprintf(spec, sizeof(spec), "v=/tmp/vcap-none.sock,%s=bogus", *k);
		err[0] = '\0';
		CHECK(vm_create(spec, &vm, err, sizeof(err)) == -EINVAL &&
			      !strstr(err, "unknown option") && strstr(err, *k),
		      "%s: the vm parser does not handle \"%s\": %s", spec, *k, err);
	}
	CHECK(vm_create("v=/tmp/vcap-none.sock,size=1Mi,colour=red", &vm, err, sizeof(err)) ==
			      -EINVAL && strstr(err, "unknown option \"colour\""),
	      "vm: %s", err);
	fprintf(stderr, "options: passed\n");
	return 0;
}
