/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl.c - what every control channel (ctl_unix.c, ctl_shm.c) does once it
 * is open: the HELLO that tells vcapd who we are and which protocol we speak.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
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

int vcap_gone_err(struct vcap *h)
{
	if (vcap_keep_failed(h))
		return vcap_away_err(h); /* the reason it gave up */
	return vcap_set_err(-EPIPE, "%s: vcapd went away (it exited or was killed)", h->device);
}

int vcap_set_gone(struct vcap *h)
{
	atomic_store(&h->gone, true);
	return vcap_gone_err(h);
}

/* -EPIPE for good, or for a handle that reconnects -EAGAIN while it does. */
static int gone_or_away(struct vcap *h)
{
	return h->keep ? vcap_away_err(h) : vcap_gone_err(h);
}

int vcap_ctl_alive_locked(struct vcap *h)
{
	struct pollfd p = { .fd = h->ctl ? h->ctl->hup_fd : -1, .events = POLLRDHUP };
	int rc;

	if (!h->ctl)
		return gone_or_away(h);
	if (atomic_load(&h->gone))
		return gone_or_away(h);
	if (p.fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR))) {
		atomic_store(&h->gone, true);
		return gone_or_away(h);
	}
	if (h->ctl->alive && (rc = h->ctl->alive(h->ctl)) != 0) {
		atomic_store(&h->gone, true);
		return h->keep ? vcap_away_err(h) : rc;
	}
	return 0;
}

int vcap_ctl_alive(struct vcap *h)
{
	int rc;

	pthread_mutex_lock(&h->ctl_lock);
	rc = vcap_ctl_alive_locked(h);
	pthread_mutex_unlock(&h->ctl_lock);
	return rc;
}

static int ctl_call(struct vcap *h, struct vcap_msg *req, struct vcap_msg *reply, int *fds,
		    int *nfds, void (*take)(const struct vcap_msg *, void *), void *arg)
{
	uint32_t id;
	int rc;

	if (atomic_load(&h->gone))
		return gone_or_away(h);
	pthread_mutex_lock(&h->ctl_lock);
	if (!h->ctl) { /* between rings: reconnecting */
		pthread_mutex_unlock(&h->ctl_lock);
		return gone_or_away(h);
	}
	if (h->keep && vcap_msg_ring_id(req, &id) && id != h->info.ring_id) {
		/* built for the ring before a reconnect: its id means nothing now */
		pthread_mutex_unlock(&h->ctl_lock);
		return vcap_set_err(-EAGAIN, "%s: vcapd restarted and the ring was reopened "
					     "meanwhile: try again", h->device);
	}
	rc = h->ctl->call(h->ctl, req, reply, fds, nfds);
	if (h->keep)
		vcap_keep_note(h, req, rc); /* to set it again on the next ring */
	if (!rc && take)
		take(reply, arg); /* entries may point into the channel's buffer */
	pthread_mutex_unlock(&h->ctl_lock);
	/*
	 * -EPIPE from the channel itself is vcapd's end (a refusal that vcapd
	 * sent carries its own reason and leaves the connection up).
	 */
	if (rc == -EPIPE && vcap_ctl_alive(h))
		return gone_or_away(h);
	return rc;
}

uint32_t vcap_ring_id(struct vcap *h)
{
	uint32_t id;

	pthread_mutex_lock(&h->ctl_lock);
	id = h->info.ring_id;
	pthread_mutex_unlock(&h->ctl_lock);
	return id;
}

int vcap_ctl_call(struct vcap *h, struct vcap_msg *req, struct vcap_msg *reply, int *fds,
		  int *nfds)
{
	return ctl_call(h, req, reply, fds, nfds, NULL, NULL);
}

int vcap_ctl_call_take(struct vcap *h, struct vcap_msg *req, struct vcap_msg *reply,
		       void (*take)(const struct vcap_msg *reply, void *arg), void *arg)
{
	return ctl_call(h, req, reply, NULL, NULL, take, arg);
}
