/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics_holder.c - a consumer for test_metrics.py that opens a ring on
 * each device it is given and holds them, reading nothing, until its
 * stdin closes: its rings' counters then stay put once their source
 * has ended, so a scrape can be compared with vcapctl exactly.  Its name
 * in vcapd (its /proc/self/comm) is whatever the test runs it as, which
 * is how the test gives it a hostile one.
 *
 *   metrics_holder DEVICE...     prints "ready" once every ring is open
 */
#include <stdio.h>
#include <unistd.h>

#include "vcap.h"

int main(int argc, char **argv)
{
	struct vcap *h[16];
	int n = 0;
	char c;

	if (argc < 2 || argc > 17) {
		fprintf(stderr, "usage: metrics_holder DEVICE... (at most 16)\n");
		return 2;
	}
	for (int i = 1; i < argc; i++, n++) {
		h[n] = vcap_open(argv[i], NULL);
		if (!h[n]) {
			printf("error %s: %s\n", argv[i], vcap_errmsg());
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	for (int i = 0; i < n; i++)
		vcap_close(h[i]);
	return 0;
}
