/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jobs.h - work that may take long, off the control thread.
 *
 * The control thread serves every session, every VM's doorbell and
 * heartbeat; nothing one tenant asks for may hold it.  What can take long
 * (compiling a filter, populating a ring's pages, giving them back) runs
 * as a job: run() on a thread of its own, then done() back on the control
 * thread, from the loop, where it may touch vcapd's state.  A job is
 * started by the request that needs it, and that session waits (its next
 * request is not read) while everyone else is served.
 *
 * A job whose requester went away is cancelled: run() sees job_cancelled()
 * and stops early where it can (a compile is killed); done() still runs,
 * to give back what the job holds.
 */
#ifndef VCAP_DAEMON_JOBS_H
#define VCAP_DAEMON_JOBS_H

#include <stdatomic.h>
#include <stdbool.h>

struct loop;

struct job {
	/* On a job thread: no vcapd state but what the job owns. */
	void (*run)(struct job *j);
	/* On the control thread, once run() returned; frees the job. */
	void (*done)(struct job *j);
	atomic_bool cancelled;
	struct job *next; /* jobs.c's */
};

/* Deliver completions through l.  @return 0 or -errno. */
int jobs_init(struct loop *l);
/* Wait for every running job and run the done() of all (at exit). */
void jobs_drain(void);

/* Run j->run on a new thread.  @return 0, or -errno (nothing ran). */
int job_start(struct job *j);
void job_cancel(struct job *j);
static inline bool job_cancelled(struct job *j)
{
	return atomic_load_explicit(&j->cancelled, memory_order_relaxed);
}

/* Jobs started and not yet done (for status and tests). */
unsigned jobs_running(void);

#endif /* VCAP_DAEMON_JOBS_H */
