/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_config.c - vcapd's configuration file parser (daemon/config.c) on
 * arbitrary files.
 *
 * Attacks: config_load(), and under it the source factory
 * (daemon/source.c), the number and key=value parsers (daemon/options.c)
 * and the tenant filters' compilation (daemon/filter.c, libpcap).  The
 * input is the file: it is written to a memfd and loaded through
 * /proc/self/fd/N, so config_load() runs exactly as vcapd runs it, fopen()
 * included.  Sources get the stand-in backends of fake_backends.c (through
 * struct vcapd's source_kinds): the parser is the target, and nothing a
 * line names is opened for real.  VMs are the real ones: parsing a `vm`
 * line creates nothing until vcapd starts the VM.
 *
 * Asserts, beyond "no crash":
 *   - it returns 0 or a negative errno, and an error's message starts with
 *     "FILE:LINE: " (LINE a line the file has) or "FILE: ";
 *   - no leak on either path (LeakSanitizer): whatever a failed load
 *     created is on the lists the caller frees, as vcapd's exit frees them;
 *   - a successful load leaves a configuration vcapd can run: limits that
 *     pass config_check_limits(), source and VM names unique, every tenant
 *     recognisable (uid, socket or vm) and allowed some source, socket
 *     paths absolute, the socket a single word.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "policy.h"
#include "source.h"
#include "util.h"
#include "vm.h"

#define ERR_LEN 512 /* as vcapd's main() */

extern const struct source_ops *const fake_source_kinds[]; /* fake_backends.c */

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	vlog_set_level(-1); /* a bad input is logged once per input, millions of times */
	fd = memfd_create("vcapd.conf", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0, "memfd_create");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

/* Lines getline() sees in the input. */
static unsigned count_lines(const uint8_t *data, size_t size)
{
	unsigned n = 0;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size && data[size - 1] != '\n');
}

static void check_error(const char *err, int rc, unsigned lines)
{
	size_t plen = strlen(path);
	const char *p = err + plen + 1;
	unsigned long line;
	char *end;

	FUZZ_CHECK(rc < 0 && rc > -4096, "returned %d", rc);
	FUZZ_CHECK(!strncmp(err, path, plen) && err[plen] == ':', "message \"%s\"", err);
	if (*p == ' ') {
		FUZZ_CHECK(p[1], "empty message \"%s\"", err);
		return;
	}
	FUZZ_CHECK(isdigit((unsigned char)*p), "neither FILE:LINE: nor FILE: in \"%s\"", err);
	line = strtoul(p, &end, 10);
	FUZZ_CHECK(end[0] == ':' && end[1] == ' ' && end[2], "no message after the line: \"%s\"",
		   err);
	FUZZ_CHECK(line >= 1 && line <= lines, "line %lu of a %u-line file: \"%s\"", line, lines,
		   err);
}

static void check_loaded(const struct vcapd *d)
{
	char why[256];

	FUZZ_CHECK(d->config_path == path, "config_path not set");
	FUZZ_CHECK(config_check_limits(&d->limits, why, sizeof(why)) == 0, "limits: %s", why);
	if (d->socket_path)
		FUZZ_CHECK(d->socket_path[0] && !strpbrk(d->socket_path, " \t"),
			   "socket \"%s\"", d->socket_path);
	for (const struct source *s = d->sources; s; s = s->next) {
		FUZZ_CHECK(s->name[0] && strlen(s->name) <= VCAP_NAME_MAX, "source name");
		FUZZ_CHECK(source_find(d->sources, s->name) == s, "source %s is defined twice",
			   s->name);
	}
	for (struct vm *v = d->vms; v; v = vm_next(v))
		FUZZ_CHECK(vm_find(d->vms, vm_name(v)) == v, "vm %s is defined twice", vm_name(v));
	for (const struct tenant *t = d->tenants; t; t = t->next) {
		FUZZ_CHECK(t->name[0], "a tenant without a name");
		FUZZ_CHECK(t->uid >= 0 || t->socket[0] || t->vm[0], "tenant %s: unrecognisable",
			   t->name);
		FUZZ_CHECK(t->n_allow > 0 && t->n_allow <= TENANT_MAX_ALLOW, "tenant %s allow",
			   t->name);
		FUZZ_CHECK(!t->socket[0] || t->socket[0] == '/', "tenant %s socket", t->name);
		for (const struct tenant *o = t->next; o; o = o->next)
			FUZZ_CHECK(strcmp(o->name, t->name), "tenant %s twice", t->name);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vcapd d = VCAPD_DEFAULTS;
	char *err = malloc(ERR_LEN);

	d.source_kinds = fake_source_kinds;
	int rc;

	FUZZ_CHECK(err, "malloc");
	FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate");
	FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size, "pwrite");
	memset(err, 0, ERR_LEN);
	rc = config_load(&d, path, err, ERR_LEN);
	if (rc)
		check_error(err, rc, count_lines(data, size));
	else
		check_loaded(&d);

	/* what vcapd frees on exit: a failed load leaves its partial lists too */
	while (d.sources) {
		struct source *s = d.sources;

		d.sources = s->next;
		source_destroy(s);
	}
	while (d.vms) {
		struct vm *v = d.vms;

		d.vms = vm_next(v);
		vm_destroy(v);
	}
	config_free(&d);
	free(err);
	return 0;
}
