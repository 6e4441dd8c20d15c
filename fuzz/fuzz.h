/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz.h - what every fuzz target shares: the libFuzzer entry points, an
 * assertion that turns a broken property into a crash, and a reader that
 * turns the fuzzer's bytes into a script of operations.
 *
 * Each target is built twice (fuzz/meson.build): with libFuzzer for long
 * runs, and with fuzz/runner.c as a plain program that replays the
 * committed corpus and crashers in `meson test --suite fuzz`.  Neither
 * build may depend on which one it is.
 */
#ifndef VCAP_FUZZ_FUZZ_H
#define VCAP_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: run once before the first input (fuzz/runner.c calls it too). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * Harness code with loops of its own (filling and checking message
 * patterns): not the code under test, so libFuzzer need not trace its
 * comparisons, which otherwise cost most of the time.  ASan still checks it.
 */
#if defined(__clang__)
#define FUZZ_NOTRACE __attribute__((no_sanitize("coverage")))
#else
#define FUZZ_NOTRACE
#endif

/*
 * A property that must hold.  abort() rather than exit(): libFuzzer saves
 * the input that aborts as a crash, and the sanitizers print a stack.
 */
#define FUZZ_CHECK(cond, ...)                                                          \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__,     \
				__LINE__, #cond);                                      \
			fprintf(stderr, __VA_ARGS__);                                  \
			fputc('\n', stderr);                                           \
			abort();                                                       \
		}                                                                      \
	} while (0)

/*
 * len bytes of heap that end exactly where the allocation ends, so that
 * AddressSanitizer reports a read even one byte past them.  Free with free().
 */
static inline uint8_t *fuzz_tail_copy(const void *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	if (!p)
		abort();
	if (len)
		memcpy(p, src, len);
	return p;
}

/*
 * The fuzzer's input read front to back as the arguments of a script.
 * Past the end every read yields zeros and `done` is set, so a script
 * always ends and never depends on bytes it was not given.
 */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline int fuzz_done(const struct fuzz_in *in)
{
	return in->left == 0;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);

	return (uint16_t)(lo | fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t lo = fuzz_u16(in);

	return lo | (uint32_t)fuzz_u16(in) << 16;
}

/* Copy up to len bytes into dst; the rest of dst (if the input ran out) is zero. */
static inline void fuzz_bytes(struct fuzz_in *in, void *dst, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	memcpy(dst, in->p, n);
	memset((uint8_t *)dst + n, 0, len - n);
	in->p += n;
	in->left -= n;
}

#endif /* VCAP_FUZZ_FUZZ_H */
