/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rule_common.h - what the wildcard rules (wildcard.c) and the flow table
 * (flowtab.c) both need: which protocols have ports, and how a refused rule
 * says why.  Kept here rather than in either, so neither depends on the other.
 */
#ifndef VCAP_DAEMON_RULE_COMMON_H
#define VCAP_DAEMON_RULE_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_SCTP_ 132

static inline bool proto_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_ || proto == IPPROTO_SCTP_;
}

/*
 * Put the message into err (if any) and return rc.  Inline only so that a
 * file not using it owes no definition: it is never on a per-packet path.
 */
static inline int rule_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline int rule_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

#endif /* VCAP_DAEMON_RULE_COMMON_H */
