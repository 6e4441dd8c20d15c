/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * list.c - vcap_list_sources(): which host: devices vcapd offers, for
 * device pickers (pcap_findalldevs through the libpcap shim, tool usage
 * messages).
 *
 * It is one STATUS exchange over a fresh control channel: the same request
 * vcapctl makes, read only as far as the sources, which come first.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static const char *const state_names[] = { "idle", "running", "done", "failed" };

/* Copy a NUL-padded protocol field (no NUL when full) into a C string. */
static void field_copy(char *dst, size_t dst_len, const char *src, size_t src_len)
{
	size_t len = strnlen(src, src_len);

	if (len >= dst_len)
		len = dst_len - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void describe(struct vcap_source_desc *d, const struct vcap_status_source *e)
{
	memset(d, 0, sizeof(*d));
	field_copy(d->name, sizeof(d->name), e->name, sizeof(e->name));
	field_copy(d->spec, sizeof(d->spec), e->spec, sizeof(e->spec));
	field_copy(d->error, sizeof(d->error), e->error, sizeof(e->error));
	snprintf(d->state, sizeof(d->state), "%s",
		 e->state < sizeof(state_names) / sizeof(state_names[0]) ? state_names[e->state]
									 : "?");
	d->linktype = e->linktype;
}

VCAP_API int vcap_list_sources(const char *socket_path, struct vcap_source_desc *out, unsigned n)
{
	const char *env = getenv("VCAP_SOCKET");
	struct vcap_msg *req = malloc(sizeof(*req)), *reply = malloc(sizeof(*reply));
	struct vcap_ctl *ctl = NULL;
	uint32_t first = 0;
	int total = 0, rc;

	if (!socket_path)
		socket_path = env && *env ? env : VCAP_DEFAULT_SOCKET;
	if (!req || !reply) {
		rc = vcap_set_err(-ENOMEM, "out of memory");
		goto out;
	}
	rc = vcap_ctl_unix_open(socket_path, &ctl);
	if (rc)
		goto out;
	/*
	 * Sources are numbered before rings, so the listing is complete once
	 * a page holds a ring or is the last one.
	 */
	do {
		const struct vcap_msg_status_reply *r = &reply->u.status_reply;

		vcap_msg_init(req, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
		req->u.status.first = first;
		rc = ctl->call(ctl, req, reply, NULL, NULL);
		if (rc)
			goto out;
		for (uint32_t i = 0; i < r->n_sources; i++, total++)
			if ((unsigned)total < n)
				describe(&out[total], &reply->sources[i]);
		if (r->n_rings)
			break;
		first = r->next;
	} while (first);
	rc = total;
out:
	if (ctl)
		ctl->close(ctl);
	free(req);
	free(reply);
	return rc;
}
