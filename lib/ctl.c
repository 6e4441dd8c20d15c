/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl.c - what every control channel (ctl_unix.c, ctl_shm.c) does once it
 * is open: the HELLO that tells vcapd who we are and which protocol we speak.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "codec.h"
#include "internal.h"

int vcap_ctl_hello(struct vcap_ctl *ctl, const char *client, struct vcap_msg_hello_reply *hello)
{
	struct vcap_msg *req = malloc(sizeof(*req)), *reply = malloc(sizeof(*reply));
	int rc;

	if (!req || !reply) {
		rc = vcap_set_err(-ENOMEM, "out of memory");
		goto out;
	}
	vcap_msg_init(req, VCAP_APP_FRAMEWORK, VCAP_MSG_HELLO);
	req->u.hello.version_min = VCAP_PROTO_VERSION;
	req->u.hello.version_max = VCAP_PROTO_VERSION;
	req->u.hello.pid = (uint32_t)getpid();
	if (client)
		snprintf(req->name, sizeof(req->name), "%s", client);
	else
		vcap_program_name(req->name, sizeof(req->name));
	rc = ctl->call(ctl, req, reply, NULL, NULL);
	if (!rc && hello)
		*hello = reply->u.hello_reply;
out:
	free(req);
	free(reply);
	return rc;
}
