/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * install_client - a program as a user writes it against an installed
 * libvcap: only <vcap.h> and `pkg-config --cflags --libs libvcap`, nothing
 * from this source tree.  tests/test_install.sh builds it against the
 * installed tree and runs it.
 *
 *   install_client DEVICE SECONDS
 *
 * Reads DEVICE (host:NAME, a finite source) until it ends and prints
 * "received N".  Exit status: 0 the source ended, 1 an error, 3 the
 * deadline passed first.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <vcap.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct vcap_pkt pkts[256];
	unsigned long long received = 0;
	double deadline;
	struct vcap *h;
	int n;

	if (argc != 3) {
		fprintf(stderr, "usage: install_client DEVICE SECONDS\n");
		return 2;
	}
	deadline = now() + atof(argv[2]);
	h = vcap_open(argv[1], NULL);
	if (!h) {
		fprintf(stderr, "install_client: %s: %s\n", argv[1], vcap_errmsg());
		return 1;
	}
	/* bounded waits, so a source that never ends cannot hang the test */
	while ((n = vcap_recv_timeout(h, pkts, 256, 100)) >= 0 || n == -EINTR) {
		if (n > 0)
			received += (unsigned)n;
		if (now() > deadline) {
			fprintf(stderr, "install_client: deadline passed at %llu packets\n", received);
			vcap_close(h);
			return 3;
		}
	}
	printf("received %llu\n", received);
	if (n != -ENODATA) {
		fprintf(stderr, "install_client: %s\n", vcap_errmsg());
		vcap_close(h);
		return 1;
	}
	vcap_close(h);
	return 0;
}
