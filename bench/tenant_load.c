/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tenant_load - a tenant that costs the shared capture thread as much as
 * vcapd lets it (bench/tenants.sh): one ring of DEVICE with a long BPF
 * filter and N wildcard rules that never match, under default action
 * DROP, so every packet walks the whole filter and then every rule, and
 * nothing reaches the ring (the consumer itself never wakes: all the cost
 * is vcapd's, none is this process's CPU).
 *
 *   usage: tenant_load -d host:SOURCE -f FILTER_FILE [-n RULES]
 *   prints "ready" on stdout once the ring and its rules are in place, then
 *   holds them until stdin closes (or SIGTERM).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vcap.h"

static char *read_file(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		perror(path);
		exit(1);
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	return buf;
}

int main(int argc, char **argv)
{
	const char *dev = NULL, *filter_file = NULL;
	unsigned rules = 1024;
	struct vcap *h;
	char line[16];
	int opt, rc;

	while ((opt = getopt(argc, argv, "d:f:n:")) != -1) {
		switch (opt) {
		case 'd':
			dev = optarg;
			break;
		case 'f':
			filter_file = optarg;
			break;
		case 'n':
			rules = (unsigned)strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: tenant_load -d host:SOURCE -f FILTER_FILE [-n RULES]\n");
			return 2;
		}
	}
	if (!dev || !filter_file) {
		fprintf(stderr, "usage: tenant_load -d host:SOURCE -f FILTER_FILE [-n RULES]\n");
		return 2;
	}
	{
		VCAP_OPTS(vcap_open_opts, o, .filter = read_file(filter_file), .ring_size = 1u << 20);

		h = vcap_open(dev, &o);
	}
	if (!h) {
		fprintf(stderr, "tenant_load: %s: %s\n", dev, vcap_errmsg());
		return 1;
	}
	/*
	 * Default DROP first, so no packet reaches the ring while the rules go
	 * in.  Each rule names a source address in 198.18.0.0/15 (RFC 2544
	 * benchmarking space), which the generator never sends from: each is
	 * tried, none matches.
	 */
	rc = vcap_rule_default(h, VCAP_DROP);
	for (unsigned i = 0; !rc && i < rules; i++) {
		struct vcap_rule r = { .id = i + 1, .fields = VCAP_RULE_SADDR, .action = VCAP_PASS,
				       .family = 4, .saddr_prefix = 32,
				       .saddr = { 198, 18, (uint8_t)(i >> 8), (uint8_t)i } };

		rc = vcap_rule_add(h, &r);
	}
	if (rc) {
		fprintf(stderr, "tenant_load: rules: %s\n", vcap_errmsg());
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	/* hold the ring until the script lets go */
	while (fgets(line, sizeof(line), stdin))
		;
	vcap_close(h);
	return 0;
}
