/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * source_xdp_none.c - `xdp:` in a vcapd built without libxdp, libbpf or
 * clang (meson option xdp): a source that says so, naming the fallback.
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>

static const char *const xdp_options[] = { "queues", "mode", "zerocopy", "pass", "ring",
					   "coalesce", NULL };

static int xdp_open(struct source *s, const char *args, char *err, size_t err_len)
{
	(void)s;
	snprintf(err, err_len, "xdp:%s: this vcapd was built without AF_XDP support (libxdp, "
		 "libbpf and clang at build time: meson option xdp); use if:", args);
	return -ENOTSUP;
}

const struct source_ops source_xdp_ops = {
	.kind = "xdp",
	.options = xdp_options,
	.open = xdp_open,
};
