/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fake_backends.c - source backends and VMs for fuzz_config only.
 *
 * THE PARSER IS THE TARGET; SOURCE AND VM CREATION ARE TESTED ELSEWHERE
 * (tests/test_vcapd.c, test_capture.c, test_ivshmem.c, fuzz_pcap.c).
 *
 * A configuration file names sources and VMs, and loading it for real would
 * create them: an `if:` line opens an AF_PACKET socket on a real interface,
 * a `pcap:` line opens whatever path the line names (a FIFO would block),
 * a `synth:` line allocates frames and flow tables as large as its options
 * ask, a `vm` line creates a memfd region of up to 1 GiB.  A fuzzer must do
 * none of that millions of times, so fuzz_config links the real parser
 * (daemon/config.c), the real source factory (daemon/source.c: names,
 * kinds, the shared cpu= option) and the real option parsers
 * (daemon/options.c), with these stand-ins for what they would create:
 *
 *   - backends whose open() only checks its argument string as the real
 *     one reads it (a `key=value,...` list; pcap: a path first; if: an
 *     interface name first) and allocates nothing;
 *   - vm_create() that checks "NAME=SOCKET,size=SIZE[,vectors=N]" as
 *     daemon/vm.c does, and allocates only the name.
 *
 * Nothing here is linked into vcapd.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "source.h"
#include "util.h"
#include "vm.h"

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

const struct source_ops source_synth_ops = {
	.kind = "synth", .pull = true, .open = fake_synth_open, .close = fake_close
};
const struct source_ops source_pcap_ops = {
	.kind = "pcap", .pull = true, .open = fake_pcap_open, .close = fake_close
};
const struct source_ops source_if_ops = {
	.kind = "if", .open = fake_if_open, .close = fake_close
};

/* ---- VMs ------------------------------------------------------------------ */

struct vm {
	char name[VCAP_NAME_MAX + 1];
	struct vm *next;
};

int vm_create(const char *spec, struct vm **out, char *err, size_t err_len)
{
	const char *eq = strchr(spec, '='), *p;
	uint64_t size = 0, v;
	struct vm *vm;
	struct kv kv;
	size_t len;
	int rc;

	if (!eq || eq == spec || (size_t)(eq - spec) > VCAP_NAME_MAX) {
		snprintf(err, err_len, "vm \"%s\": expected NAME=SOCKET,size=SIZE[,vectors=N]", spec);
		return -EINVAL;
	}
	p = eq + 1;
	len = strcspn(p, ",");
	if (len == 0 || len >= 108 || *p != '/') {
		snprintf(err, err_len, "vm: the socket must be an absolute path under 108 bytes");
		return -EINVAL;
	}
	p += len;
	while ((rc = kv_next(&p, &kv, err, err_len)) > 0) {
		if (!strcmp(kv.key, "size"))
			rc = kv_u64(&kv, 1ull << 20, 1ull << 30, &size, err, err_len);
		else if (!strcmp(kv.key, "vectors"))
			rc = kv_u64(&kv, 2, 64, &v, err, err_len);
		else
			rc = -EINVAL;
		if (rc) {
			snprintf(err, err_len, "vm: bad option \"%s\"", kv.key);
			return rc;
		}
	}
	if (rc)
		return rc;
	if (!size || (size & (size - 1))) {
		snprintf(err, err_len, "vm: size=SIZE is required, a power of two");
		return -EINVAL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	memcpy(vm->name, spec, (size_t)(eq - spec));
	*out = vm;
	return 0;
}

void vm_destroy(struct vm *vm)
{
	free(vm);
}

const char *vm_name(const struct vm *vm)
{
	return vm->name;
}

struct vm *vm_next(const struct vm *vm)
{
	return vm->next;
}

void vm_set_next(struct vm *vm, struct vm *next)
{
	vm->next = next;
}

struct vm *vm_find(struct vm *list, const char *name)
{
	for (; list; list = list->next)
		if (!strcmp(list->name, name))
			return list;
	return NULL;
}
