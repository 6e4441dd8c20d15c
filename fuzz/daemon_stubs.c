/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daemon_stubs.c - what the daemon files a fuzz target links need from
 * the rest of vcapd, without its side effects (daemon/util.c would log to
 * stderr on every input and sleep in wait_readable()).
 */
#include <stdlib.h>

#include "source.h"
#include "util.h"

/* Silent: a corrupt pcap file is logged once per input, millions of times. */
void vlog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

/* A fuzz target never sleeps: "nothing became readable". */
int wait_readable(int fd1, int fd2, uint64_t max_ns)
{
	(void)fd1;
	(void)fd2;
	(void)max_ns;
	return 0;
}

/* daemon/source.c names it for source_start(), which no fuzz target calls. */
void *capture_main(void *source)
{
	(void)source;
	abort();
}
