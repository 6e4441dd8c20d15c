/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bpfc.h - compile a tenant's filter where it cannot hurt anyone else.
 *
 * libpcap's optimizer can take tens of seconds (and much memory) on a
 * filter well under the 8 KiB text limit, such as a long chain of "or".
 * The text comes from a tenant; so the compile runs in a child process,
 * niced, with a memory cap, and is killed when it takes longer than the
 * budget (`limit filter-compile-ms`).  What comes back is only bytecode,
 * which vcapd checks with bpf_validate before its interpreter runs it, so
 * even a child subverted by hostile text hands over nothing unsafe.
 */
#ifndef VCAP_DAEMON_BPFC_H
#define VCAP_DAEMON_BPFC_H

#include <stddef.h>
#include <stdint.h>

struct filter;
struct job;

struct bpfc_limits {
	unsigned budget_ms; /* wall time for one compile */
	unsigned max_insns; /* instructions in the compiled program */
};

/*
 * Compile text ("" or NULL: *out = NULL) for linktype.  Blocks up to
 * budget_ms: call it on a job thread; j (may be NULL) is polled, and a
 * cancelled job kills the compile.
 * @return 0, or -errno with err: -EINVAL the compiler's message,
 * -ETIMEDOUT over budget, -E2BIG too many instructions, -ECANCELED, or a
 * system error.
 */
int bpfc_compile(const char *text, uint32_t linktype, const struct bpfc_limits *lim,
		 struct job *j, struct filter **out, char *err, size_t err_len);

#endif /* VCAP_DAEMON_BPFC_H */
