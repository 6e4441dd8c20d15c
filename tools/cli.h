/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cli.h - what the tools' command lines share: numbers that must be
 * numbers, and running on one CPU.
 */
#ifndef VCAP_TOOLS_CLI_H
#define VCAP_TOOLS_CLI_H

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tool's name for messages; each tool sets it first thing in main(). */
static const char *cli_prog = "vcap";

/* An unsigned number (decimal, 0x hex), or exit 2 naming what was wrong. */
static inline unsigned long long cli_number(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-') {
		fprintf(stderr, "%s: %s \"%s\" is not a number\n", cli_prog, what, s);
		exit(2);
	}
	return v;
}

/* Run this process on CPU `cpu` only (PF_RING tools' -g), or exit 1. */
static inline void cli_pin(const char *cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET((int)cli_number(cpu, "cpu"), &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "%s: cpu %s: %s\n", cli_prog, cpu, strerror(errno));
		exit(1);
	}
}

#endif /* VCAP_TOOLS_CLI_H */
