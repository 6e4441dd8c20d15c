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

/* The bytes of the first struct vcap_source_desc (vcap 0.1). */
#define DESC_SIZE_0_1 VCAP_OFFSETOFEND(struct vcap_source_desc, linktype)

/* Fill the caller's description d, sz bytes (the convention of vcap.h). */
static void describe(void *d, size_t sz, const struct vcap_status_source *e)
{
	struct vcap_source_desc mine;

	memset(&mine, 0, sizeof(mine));
	field_copy(mine.name, sizeof(mine.name), e->name, sizeof(e->name));
	field_copy(mine.spec, sizeof(mine.spec), e->spec, sizeof(e->spec));
	field_copy(mine.error, sizeof(mine.error), e->error, sizeof(e->error));
	snprintf(mine.state, sizeof(mine.state), "%s",
		 e->state < sizeof(state_names) / sizeof(state_names[0]) ? state_names[e->state]
									 : "?");
	mine.linktype = e->linktype;
	mine.mtu = e->mtu;
	vcap_fill_out(d, sz, &mine, sizeof(mine));
}

/*
 * VCAP_0.2: vcap_list_sources(..., sz), sz the caller's element size and so
 * the stride of out (see vcap_stats_0_2 in vcap.c for the .symver).
 */
VCAP_API int vcap_list_sources_0_2(const char *socket_path, struct vcap_source_desc *out,
				   unsigned n, size_t sz)
{
	const char *env = getenv("VCAP_SOCKET");
	struct vcap_msg *req, *reply;
	struct vcap_ctl *ctl = NULL;
	uint32_t first = 0;
	int total = 0, rc;

	if (sz < DESC_SIZE_0_1)
		return vcap_set_err(-EINVAL,
				    "vcap_list_sources: struct vcap_source_desc of %zu bytes, the "
				    "first version had %zu: pass sizeof(struct vcap_source_desc)",
				    sz, (size_t)DESC_SIZE_0_1);
	if (!out && n)
		return vcap_set_err(-EINVAL, "vcap_list_sources: room for %u given, but no array",
				    n);
	req = malloc(sizeof(*req));
	reply = malloc(sizeof(*reply));
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
				describe((char *)out + (size_t)total * sz, sz, &reply->sources[i]);
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
VCAP_SYMVER_DEFAULT(vcap_list_sources_0_2, vcap_list_sources, VCAP_0.2);
VCAP_SAME_TYPE(vcap_list_sources_0_2, vcap_list_sources);

/*
 * VCAP_0.1, for programs built before sz: their array is of the first
 * version, whose sizeof is DESC_SIZE_0_1 (it has no tail padding).
 */
VCAP_API int vcap_list_sources_0_1(const char *socket_path, struct vcap_source_desc *out,
				   unsigned n)
{
	return vcap_list_sources_0_2(socket_path, out, n, DESC_SIZE_0_1);
}
VCAP_SYMVER_COMPAT(vcap_list_sources_0_1, vcap_list_sources, VCAP_0.1);
