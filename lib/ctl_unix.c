/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_unix.c - the control channel of host processes and containers: one
 * SOCK_SEQPACKET connection to vcapd per handle.  Closing it (or dying) is
 * all it takes for vcapd to free the handle's ring.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "unix_carrier.h"

struct ctl_unix {
	struct vcap_ctl ctl;
	int sock;
	char path[108];
	_Alignas(8) uint8_t buf[VCAP_MSG_MAX];
};

static int unix_call(struct vcap_ctl *ctl, struct vcap_msg *req, struct vcap_msg *reply,
		     int *fds, int *nfds)
{
	struct ctl_unix *u = (struct ctl_unix *)ctl;
	char why[160];
	int got[VCAP_UNIX_MAX_FDS], ngot = 0, rc;
	ssize_t len;

	if (nfds)
		*nfds = 0;
	req->seq = ++ctl->seq;
	len = vcap_msg_encode(req, u->buf, sizeof(u->buf));
	if (len < 0)
		return vcap_set_err((int)len, "vcapd request %s cannot be encoded",
				    vcap_msg_name(req->app, req->type));
	rc = vcap_unix_send(u->sock, u->buf, (size_t)len, NULL, 0);
	if (rc)
		return vcap_set_err(rc == -EPIPE ? -EPIPE : rc, "%s: send: %s", u->path,
				    strerror(-rc));
	len = vcap_unix_recv(u->sock, u->buf, sizeof(u->buf), got, &ngot);
	if (len == 0)
		return vcap_set_err(-EPIPE, "%s: vcapd closed the connection", u->path);
	if (len < 0)
		return vcap_set_err((int)len, "%s: receive: %s", u->path, strerror((int)-len));
	rc = vcap_msg_decode(u->buf, (size_t)len, reply, why, sizeof(why));
	if (!rc && (!(reply->flags & VCAP_MSGF_REPLY) || reply->seq != req->seq)) {
		snprintf(why, sizeof(why), "reply does not answer request %u", req->seq);
		rc = -EPROTO;
	}
	if (!rc && reply->status < 0)
		rc = vcap_set_err(reply->status, "%s", reply->text);
	else if (rc)
		rc = vcap_set_err(rc, "%s: bad reply from vcapd: %s", u->path, why);
	if (rc || !fds) {
		for (int i = 0; i < ngot; i++)
			close(got[i]);
		return rc;
	}
	memcpy(fds, got, sizeof(int) * (size_t)ngot);
	*nfds = ngot;
	return 0;
}

static void unix_close(struct vcap_ctl *ctl)
{
	struct ctl_unix *u = (struct ctl_unix *)ctl;

	close(u->sock);
	free(u);
}

int vcap_ctl_unix_open(const char *path, struct vcap_ctl **out)
{
	struct ctl_unix *u = calloc(1, sizeof(*u));
	int rc;

	if (!u)
		return vcap_set_err(-ENOMEM, "out of memory");
	snprintf(u->path, sizeof(u->path), "%s", path);
	u->sock = vcap_unix_connect(path);
	if (u->sock < 0) {
		rc = u->sock;
		free(u);
		if (rc == -ENOENT || rc == -ECONNREFUSED)
			return vcap_set_err(-ECONNREFUSED,
					    "%s: vcapd is not running (no one listens there; "
					    "set VCAP_SOCKET if it uses another socket)",
					    path);
		return vcap_set_err(rc, "%s: %s", path, strerror(-rc));
	}
	u->ctl.call = unix_call;
	u->ctl.close = unix_close;
	u->ctl.hup_fd = u->sock;

	rc = vcap_ctl_hello(&u->ctl, NULL, NULL);
	if (rc) {
		unix_close(&u->ctl);
		return rc;
	}
	*out = &u->ctl;
	return 0;
}
