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
 *
 * A VM's ring is a piece of its region instead (vm.c), woken through the
 * guest's own interrupt vector: a dup of the eventfd QEMU turns into MSI-X.
 */
#include "vcapd.h"
#include "vm.h"

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

/* A ring in a sealed memfd, and a pipe to wake its consumer (unix sessions). */
static int place_in_memfd(struct consumer *c, char *err, size_t err_len)
{
	char name[32];
	int pipefd[2], rc;

	snprintf(name, sizeof(name), "vcap-ring-%u", c->id);
	c->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (c->memfd < 0 || ftruncate(c->memfd, (off_t)c->map_size) ||
	    fcntl(c->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		rc = -errno;
		set_err(err, err_len, "memfd", errno);
		return rc;
	}
	/*
	 * Populated now, at open, so that the capture thread's first pass
	 * through the ring does not take a page fault (and zero a page) every
	 * 4 KiB: that first pass is often all of a short capture.
	 */
	c->map = mmap(NULL, c->map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		      c->memfd, 0);
	if (c->map == MAP_FAILED) {
		rc = -errno;
		set_err(err, err_len, "mmap", errno);
		return rc;
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK)) {
		rc = -errno;
		set_err(err, err_len, "pipe", errno);
		return rc;
	}
	c->wake_rd = pipefd[0];
	c->wake_wr = pipefd[1];
	return 0;
}

/* A ring in the VM's region, woken through its own interrupt vector. */
static int place_in_vm(struct consumer *c, struct vm *vm, char *err, size_t err_len)
{
	void *mem;
	int rc = vm_ring_alloc(vm, c->map_size, &c->region_off, &mem, &c->vector, &c->wake_wr, err,
			       err_len);

	if (rc)
		return rc;
#ifdef MADV_POPULATE_WRITE
	/* as for a memfd ring; best effort (Linux 5.14+), a fault later is no error */
	(void)madvise(mem, c->map_size, MADV_POPULATE_WRITE);
#endif
	c->vm = vm;
	c->map = mem;
	c->wake_eventfd = true;
	return 0;
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
	c->memfd = c->wake_rd = c->wake_wr = -1;
	c->map = MAP_FAILED;

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

	c->map_size = vcap_ring_map_size(req->data_size);
	if (req->session && req->session->vm)
		rc = place_in_vm(c, req->session->vm, err, err_len);
	else
		rc = place_in_memfd(c, err, err_len);
	if (rc)
		goto fail;
	rc = vcap_ring_writer_init(&c->w, c->map, req->data_size, req->snaplen, s->linktype, id);
	if (rc) {
		snprintf(err, err_len, "ring: size %u with snaplen %u is not valid", req->data_size,
			 req->snaplen);
		goto fail;
	}
	c->w.mirror = &c->mirror;
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
	if (c->vm)
		vm_ring_free(c->vm, c->region_off, c->map_size, c->vector);
	else if (c->map != MAP_FAILED)
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
	static const uint64_t one = 1;

	/*
	 * EAGAIN: a token (or a count) is already waiting, which is all a
	 * sleeper needs.  A VM's eventfd becomes an MSI-X interrupt.
	 */
	if (c->wake_eventfd)
		(void)!write(c->wake_wr, &one, sizeof(one));
	else
		(void)!write(c->wake_wr, &token, 1);
}
