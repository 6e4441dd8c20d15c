/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client.h - what the tests that read through libvcap share: opening a
 * device or failing the test, and a generator to predict what arrives.
 */
#ifndef VCAP_TESTS_CLIENT_H
#define VCAP_TESTS_CLIENT_H

#include <vcap.h>

#include "check.h"
#include "synth.h"

static inline struct vcap *open_or_die(const char *dev, const struct vcap_open_opts *o)
{
	struct vcap *h = vcap_open(dev, o);

	CHECK(h, "vcap_open %s: %s", dev, vcap_errmsg());
	return h;
}

/* The generator of a synth: source with these options (the test's oracle). */
static inline void synth_of(struct vcap_synth *g, uint32_t size, uint32_t flows, uint32_t proto)
{
	struct vcap_synth_cfg cfg = { .size = size, .flows = flows, .proto = proto };
	char err[128];

	CHECK(vcap_synth_init(g, &cfg, err, sizeof(err)) == 0, "%s", err);
}

#endif /* VCAP_TESTS_CLIENT_H */
