// SPDX-License-Identifier: BSD-3-Clause
/*
 * test_abi_cpp.cpp - vcap.h from C++ (built with the project's warnings,
 * -Wall -Wextra -Werror): VCAP_OPTS compiles without warnings, zeroes the
 * struct's padding, and the library takes the result.
 */
#include <vcap.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, \
				     #cond);                                         \
			std::exit(1);                                                \
		}                                                                    \
	} while (0)

static volatile unsigned char sink;

static __attribute__((noinline)) void scribble_stack(unsigned char v)
{
	volatile unsigned char junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = v;
	sink = junk[v];
}

static __attribute__((noinline)) void declare(unsigned char *out)
{
	VCAP_OPTS(vcap_open_opts, o, .ring_size = 1u << 20, .filter = "udp",
		  .cluster_mode = VCAP_CLUSTER_4TUPLE);

	std::memcpy(out, &o, sizeof(o));
}

int main()
{
	const size_t last = offsetof(vcap_open_opts, vcap_open_opts__last_field) +
			    sizeof(((vcap_open_opts *)0)->vcap_open_opts__last_field);
	unsigned char b[sizeof(vcap_open_opts)];
	vcap_open_opts o;

	scribble_stack(0xa5);
	declare(b);
	std::memcpy(&o, b, sizeof(o));
	CHECK(o.sz == sizeof(o));
	CHECK(o.ring_size == 1u << 20);
	CHECK(!std::strcmp(o.filter, "udp"));
	CHECK(o.snaplen == 0 && o.flags == 0 && o.cluster_id == 0 && !o.socket_path);
	CHECK(o.cluster_mode == VCAP_CLUSTER_4TUPLE);
	for (size_t i = last; i < sizeof(b); i++)
		CHECK(b[i] == 0);

	// the library takes it: it fails on the device, not on the options
	VCAP_OPTS(vcap_open_opts, bad, .snaplen = 96);
	errno = 0;
	CHECK(!vcap_open("", &bad) && errno == EINVAL);
	CHECK(!vcap_open("host:x", &bad));
	CHECK(errno != EOPNOTSUPP && errno != EINVAL);
	CHECK(vcap_version() == VCAP_VERSION);
	std::puts("C++: passed");
	return 0;
}
