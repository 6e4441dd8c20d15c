/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jobs.c - a thread per job, completions back through the loop (see
 * jobs.h).
 *
 * A thread per job rather than a pool: jobs are rare (an OPEN, a filter),
 * a thread costs tens of microseconds next to the milliseconds a job
 * takes, and no job can queue behind another tenant's slow one.  How many
 * run at once is bounded by the sessions that may ask (each waits for its
 * own) and each account's limits.
 */
#include "jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;
static struct job *finished; /* run() returned, done() not yet called */
static unsigned running;     /* started, done() not yet called */
static int done_fd = -1;     /* readable while finished is not empty */

static struct loop_watch done_watch;

static void reap(void)
{
	struct job *list;

	pthread_mutex_lock(&lock);
	list = finished;
	finished = NULL;
	pthread_mutex_unlock(&lock);
	while (list) {
		struct job *j = list;

		list = j->next;
		pthread_mutex_lock(&lock);
		running--;
		pthread_mutex_unlock(&lock);
		j->done(j);
	}
}

static void on_done(struct loop_watch *w, uint32_t events)
{
	uint64_t n;

	(void)w;
	(void)events;
	(void)!read(done_fd, &n, sizeof(n));
	reap();
}

int jobs_init(struct loop *l)
{
	done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (done_fd < 0)
		return -errno;
	done_watch.on_event = on_done;
	return loop_add(l, done_fd, EPOLLIN, &done_watch);
}

static void *job_thread(void *arg)
{
	struct job *j = arg;

	j->run(j);
	pthread_mutex_lock(&lock);
	j->next = finished;
	finished = j;
	pthread_cond_broadcast(&idle);
	pthread_mutex_unlock(&lock);
	(void)!write(done_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
	return NULL;
}

int job_start(struct job *j)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	atomic_init(&j->cancelled, false);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&lock);
	running++;
	pthread_mutex_unlock(&lock);
	rc = pthread_create(&t, &attr, job_thread, j);
	pthread_attr_destroy(&attr);
	if (rc) {
		pthread_mutex_lock(&lock);
		running--;
		pthread_mutex_unlock(&lock);
		return -rc;
	}
	return 0;
}

void job_cancel(struct job *j)
{
	atomic_store_explicit(&j->cancelled, true, memory_order_relaxed);
}

unsigned jobs_running(void)
{
	unsigned n;

	pthread_mutex_lock(&lock);
	n = running;
	pthread_mutex_unlock(&lock);
	return n;
}

/* Under lock. */
static unsigned count_finished(void)
{
	unsigned n = 0;

	for (struct job *j = finished; j; j = j->next)
		n++;
	return n;
}

void jobs_drain(void)
{
	for (;;) {
		bool any;

		pthread_mutex_lock(&lock);
		while (running > count_finished())
			pthread_cond_wait(&idle, &lock);
		any = finished != NULL;
		pthread_mutex_unlock(&lock);
		if (!any)
			break;
		reap(); /* done() may start another job (a release): look again */
	}
}
