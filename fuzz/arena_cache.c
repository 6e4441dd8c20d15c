/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * arena_cache.c - the pcap target's malloc() and free(), for speed only.
 *
 * daemon/source_pcap.c allocates an 8 MiB arena for every file it opens.
 * Under AddressSanitizer a block that large is a fresh mmap whose 1 MiB of
 * shadow is written (and faulted in) on every malloc and unmapped on every
 * free: 80% of the target's time, 780 inputs a second.  The pcap target is
 * therefore compiled with -Dmalloc=fuzz_malloc -Dfree=fuzz_free (see
 * meson.build), and blocks of exactly that size are kept here between
 * inputs, one at a time.  While it is "free" the cached block stays
 * poisoned, so a use after free is still reported; its bounds are those
 * of a real block of that size.  Every other size goes straight to the
 * real allocator.
 */
#undef malloc
#undef free

#include <stdbool.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

#define CACHED_SIZE (8u << 20) /* source_pcap.c's ARENA_SIZE */

void *fuzz_malloc(size_t len);
void fuzz_free(void *p);

static void *cached;
static bool cached_in_use;

void *fuzz_malloc(size_t len)
{
	if (len != CACHED_SIZE || cached_in_use)
		return malloc(len);
	if (!cached) {
		cached = malloc(len);
		if (!cached)
			return NULL;
	}
	ASAN_UNPOISON_MEMORY_REGION(cached, len);
	cached_in_use = true;
	return cached;
}

void fuzz_free(void *p)
{
	if (p && p == cached) {
		ASAN_POISON_MEMORY_REGION(cached, CACHED_SIZE);
		cached_in_use = false;
		return;
	}
	free(p);
}
