/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * consumer.c - one ring for one consumer of one source.
 *
 * Where the ring lives is the session's carrier's business (session.h):
 * a sealed memfd and a pipe for a unix session (session_unix.c), a piece
 * of the region and an interrupt vector for a VM (vm.c).  Here: the
 * filters, the rules and the ring's layout, whatever the place.
 */
#include "consumer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter.h"
#include "session.h"
#include "source.h"

static void set_err(char *err, size_t len, const char *what, int e)
{
	snprintf(err, len, "ring: %s: %s", what, strerror(e));
}

int consumer_create(struct source *s, uint32_t id, const struct consumer_req *req,
		    struct consumer **out, char *err, size_t err_len)
{
	struct consumer *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		set_err(err, err_len, "consumer", ENOMEM);
		return -ENOMEM;
	}
	c->id = id;
	c->src = s;
	c->owner = req->session;
	c->place = (struct ring_place){ .wake_fd = -1, .give = { -1, -1 } };

	c->rules = rules_new(req->limits);
	if (!c->rules) {
		rc = -ENOMEM;
		set_err(err, err_len, "rules", ENOMEM);
		goto fail;
	}
	c->rules_trivial = true;
	rc = filter_compile(req->policy, s->linktype, &c->policy, err, err_len);
	if (rc)
		goto fail;
	rc = filter_compile(req->filter, s->linktype, &c->filter, err, err_len);
	if (rc)
		goto fail;
	snprintf(c->filter_text, sizeof(c->filter_text), "%s", req->filter ? req->filter : "");
	snprintf(c->policy_text, sizeof(c->policy_text), "%s", req->policy ? req->policy : "");

	c->place.ring_id = id;
	c->place.map_size = vcap_ring_map_size(req->data_size);
	rc = c->owner->ops->ring_place(c->owner, &c->place, err, err_len);
	if (rc) {
		c->place.map = NULL; /* ring_place cleaned up after itself */
		goto fail;
	}
	rc = vcap_ring_writer_init(&c->w, c->place.map, req->data_size, req->snaplen, s->linktype,
				   id);
	if (rc) {
		snprintf(err, err_len, "ring: size %u with snaplen %u is not valid", req->data_size,
			 req->snaplen);
		goto fail;
	}
	vcap_ring_writer_set_mirror(&c->w, &c->mirror);
	*out = c;
	return 0;
fail:
	consumer_destroy(c);
	return rc;
}

void consumer_destroy(struct consumer *c)
{
	if (!c)
		return;
	filter_free(c->filter);
	filter_free(c->policy);
	if (c->rules)
		rules_free(c->rules);
	if (c->place.map)
		c->owner->ops->ring_release(c->owner, &c->place);
	consumer_gave(c);
	free(c);
}

void consumer_gave(struct consumer *c)
{
	for (int i = 0; i < c->place.n_give; i++)
		if (c->place.give[i] >= 0)
			close(c->place.give[i]);
	c->place.n_give = 0;
}

void consumer_signal(struct consumer *c)
{
	static const uint64_t one = 1;

	/*
	 * Eight bytes, whatever the descriptor: an eventfd (a VM's vector,
	 * which QEMU turns into MSI-X) counts them, a pipe just holds them
	 * until the consumer drains it.  EAGAIN: a token is already waiting,
	 * which is all a sleeper needs.
	 */
	(void)!write(c->place.wake_fd, &one, sizeof(one));
}
