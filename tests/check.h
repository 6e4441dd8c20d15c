/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check.h - the few assertions vcap's C tests use.  A failed CHECK prints
 * where and what, then exits 1; meson counts the test as failed.
 */
#ifndef VCAP_TESTS_CHECK_H
#define VCAP_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                                                           \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, \
				#cond);                                            \
			fprintf(stderr, __VA_ARGS__);                              \
			fputc('\n', stderr);                                       \
			exit(1);                                                   \
		}                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                 \
	CHECK((unsigned long long)(a) == (unsigned long long)(b), "%s = %llu, %s = %llu", \
	      #a, (unsigned long long)(a), #b, (unsigned long long)(b))

#define SKIP(...)                                       \
	do {                                            \
		fprintf(stderr, "SKIP: " __VA_ARGS__); \
		fputc('\n', stderr);                    \
		exit(77);                               \
	} while (0)

/* xorshift64*: reproducible pseudo-random numbers for tests */
static inline unsigned long long test_rand(unsigned long long *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

#endif /* VCAP_TESTS_CHECK_H */
