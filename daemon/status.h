/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * status.h - the STATUS reply: every source and ring a session may see,
 * with counters from vcapd's private mirrors.
 */
#ifndef VCAP_DAEMON_STATUS_H
#define VCAP_DAEMON_STATUS_H

#include <stddef.h>
#include <stdint.h>

struct session;
struct vcap_msg;

/* Fill a STATUS reply for ss starting at entry `first`; entries go into scratch. */
void status_fill(struct session *ss, uint32_t first, struct vcap_msg *reply, void *scratch,
		 size_t scratch_len);

#endif /* VCAP_DAEMON_STATUS_H */
