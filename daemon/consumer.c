/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * consumer.c - one ring for one consumer of one source.
 *
 * The ring is a memfd sealed against shrinking and growing before it is
 * handed out: the consumer holds the descriptor, and if it could truncate
 * the file, vcapd's next write into the mapping would die of SIGBUS.
 *
 * The wake-up channel is a pipe, not an eventfd: an eventfd's O_NONBLOCK
 * flag lives in the open file description both sides share, so a consumer
 * could clear it, fill the counter, and make vcapd's next signal block the
 * capture thread.  With a pipe vcapd keeps the write end to itself; a
 * consumer that never reads only fills the pipe, and vcapd's non-blocking
 * write then fails harmlessly (the consumer is not asleep anyway).
 */
#include "vcapd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void set_err(char *err, size_t len, const char *what, int e)
{
	snprintf(err, len, "ring: %s: %s", what, strerror(e));
}

int consumer_create(struct source *s, uint32_t id, uint32_t data_size, uint32_t snaplen,
		    const char *filter, struct consumer **out, char *err, size_t err_len)
{
	struct consumer *c = calloc(1, sizeof(*c));
	char name[32];
	int pipefd[2], rc;

	if (!c) {
		set_err(err, err_len, "consumer", ENOMEM);
		return -ENOMEM;
	}
	c->id = id;
	c->src = s;
	c->memfd = c->wake_rd = c->wake_wr = -1;
	c->map = MAP_FAILED;

	rc = filter_compile(filter, s->linktype, &c->filter, err, err_len);
	if (rc)
		goto fail;
	if (filter)
		snprintf(c->filter_text, sizeof(c->filter_text), "%s", filter);

	snprintf(name, sizeof(name), "vcap-ring-%u", id);
	c->map_size = vcap_ring_map_size(data_size);
	c->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (c->memfd < 0 || ftruncate(c->memfd, (off_t)c->map_size) ||
	    fcntl(c->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		rc = -errno;
		set_err(err, err_len, "memfd", errno);
		goto fail;
	}
	c->map = mmap(NULL, c->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->memfd, 0);
	if (c->map == MAP_FAILED) {
		rc = -errno;
		set_err(err, err_len, "mmap", errno);
		goto fail;
	}
	rc = vcap_ring_writer_init(&c->w, c->map, data_size, snaplen, s->linktype, id);
	if (rc) {
		snprintf(err, err_len, "ring: size %u with snaplen %u is not valid", data_size,
			 snaplen);
		goto fail;
	}
	c->w.mirror = &c->mirror;

	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK)) {
		rc = -errno;
		set_err(err, err_len, "pipe", errno);
		goto fail;
	}
	c->wake_rd = pipefd[0];
	c->wake_wr = pipefd[1];
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
	if (c->map != MAP_FAILED)
		munmap(c->map, c->map_size);
	if (c->memfd >= 0)
		close(c->memfd);
	if (c->wake_rd >= 0)
		close(c->wake_rd);
	if (c->wake_wr >= 0)
		close(c->wake_wr);
	free(c);
}

void consumer_signal(struct consumer *c)
{
	static const char token = 1;

	/* EAGAIN: a token is already waiting, which is all a sleeper needs */
	(void)!write(c->wake_wr, &token, 1);
}
