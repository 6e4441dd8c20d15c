/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * synth_oracle - how many of the first N generator frames a tcpdump filter
 * passes, by libpcap's own filter engine: the expected count for tests that
 * run a consumer somewhere they cannot link against (a VM guest).
 *
 *   synth_oracle -n N [-f FILTER] [--size S] [--flows F] [--proto udp|tcp|mix]
 */
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 'S' },
		{ "flows", required_argument, NULL, 'F' },
		{ "proto", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct vcap_synth_cfg cfg = { .size = 64, .flows = 1024, .proto = VCAP_SYNTH_MIX };
	const char *filter = "";
	unsigned long long n = 0, pass = 0;
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	struct bpf_program prog;
	struct vcap_synth g;
	uint8_t frame[VCAP_SYNTH_SIZE_MAX];
	char err[256];
	int opt;

	while ((opt = getopt_long(argc, argv, "n:f:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': n = strtoull(optarg, NULL, 0); break;
		case 'f': filter = optarg; break;
		case 'S': cfg.size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'F': cfg.flows = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'P':
			cfg.proto = !strcmp(optarg, "udp") ? VCAP_SYNTH_UDP
				    : !strcmp(optarg, "tcp") ? VCAP_SYNTH_TCP : VCAP_SYNTH_MIX;
			break;
		default: return 2;
		}
	}
	if (vcap_synth_init(&g, &cfg, err, sizeof(err)) ||
	    pcap_compile(dead, &prog, filter, 1, PCAP_NETMASK_UNKNOWN)) {
		fprintf(stderr, "synth_oracle: %s\n", err[0] ? err : pcap_geterr(dead));
		return 2;
	}
	for (unsigned long long i = 0; i < n; i++) {
		struct pcap_pkthdr ph = { .caplen = cfg.size, .len = cfg.size };

		vcap_synth_frame(&g, i, frame);
		pass += pcap_offline_filter(&prog, &ph, frame) != 0;
	}
	printf("%llu\n", pass);
	pcap_freecode(&prog);
	pcap_close(dead);
	return 0;
}
