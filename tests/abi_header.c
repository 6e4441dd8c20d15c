/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * abi_header.c - vcap.h and VCAP_OPTS as a program uses them, compiled by
 * each compiler there is (tests/meson.build: gcc and clang as C11, g++ and
 * clang++ as C++) with -Wall -Wextra -Werror.  Compiled, not run.
 */
#include <vcap.h>

int abi_header_use(void);

int abi_header_use(void)
{
	VCAP_OPTS(vcap_open_opts, none);
	VCAP_OPTS(vcap_open_opts, some, .ring_size = 1u << 20, .filter = "udp");
	VCAP_OPTS(vcap_open_opts, all, .ring_size = 1u << 20, .snaplen = 96, .filter = "udp",
		  .watermark = 64, .timeout_ms = 10, .socket_path = "/run/vcap/vcapd.sock",
		  .flags = VCAP_OPEN_FLOW_HASH, .cluster_id = 1,
		  .cluster_mode = VCAP_CLUSTER_ROUND_ROBIN);
	struct vcap *h = vcap_open("host:eth0", &some);
	struct vcap_stats st;
	struct vcap_info info;
	struct vcap_source_desc descs[4];

	if (!h)
		return vcap_list_sources(NULL, descs, 4, sizeof(descs[0]));
	vcap_stats(h, &st, sizeof(st));
	vcap_info(h, &info, sizeof(info));
	vcap_close(h);
	return (int)(none.sz + all.sz + st.received + info.linktype) +
	       (vcap_version() >= VCAP_VERSION);
}
