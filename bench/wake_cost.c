/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wake_cost - what one sleep and wake-up costs the sleeper, in CPU time,
 * on this machine: the floor under a sparse consumer's CPU, whose every
 * wake-up is one of these whatever it then reads.
 *
 * A waker process on one CPU writes an eventfd every PERIOD; the sleeper,
 * on another, waits for it in epoll_wait as libvcap does (vcap_wait) and
 * reads it.  The sleeper's CPU time (getrusage: the scheduler's exact run
 * time) over the number of wake-ups is the cost of one.  On bare metal
 * that is a few microseconds; in a virtual machine a vCPU that went idle
 * must be woken by the hypervisor first, and the longer it idled, the more.
 *
 *   usage: wake_cost [-c WAKER_CPU] [-C SLEEPER_CPU]
 *   prints one JSON object per line: {"period_us":P, "wakes":N, "us_per_wake":X}
 */
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const struct {
	unsigned period_us, wakes;
} points[] = { { 100, 20000 }, { 1000, 3000 }, { 10000, 300 }, { 100000, 30 } };

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("wake_cost: sched_setaffinity (measuring unpinned)");
}

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* The waker: one eventfd write per period, on absolute deadlines. */
static void waker(int efd, unsigned period_us, unsigned wakes, int cpu)
{
	struct timespec t;
	uint64_t one = 1;

	pin(cpu);
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (unsigned i = 0; i < wakes; i++) {
		t.tv_nsec += (long)period_us * 1000;
		while (t.tv_nsec >= 1000000000) {
			t.tv_nsec -= 1000000000;
			t.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
		if (write(efd, &one, sizeof(one)) != sizeof(one))
			_exit(1);
	}
	_exit(0);
}

static int measure(unsigned period_us, unsigned wakes, int waker_cpu)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	double t0;
	unsigned got = 0;
	pid_t pid;

	if (efd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev)) {
		perror("wake_cost: eventfd/epoll");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("wake_cost: fork");
		return 1;
	}
	if (pid == 0)
		waker(efd, period_us, wakes, waker_cpu);
	t0 = cpu_us();
	while (got < wakes) {
		uint64_t v;

		if (epoll_wait(ep, &ev, 1, 1000) <= 0) {
			fprintf(stderr, "wake_cost: no wake-up within a second at %u us\n",
				period_us);
			kill(pid, SIGKILL);
			break;
		}
		if (read(efd, &v, sizeof(v)) == sizeof(v))
			got += (unsigned)v;
	}
	printf("{\"period_us\":%u,\"wakes\":%u,\"us_per_wake\":%.2f}\n", period_us, got,
	       got ? (cpu_us() - t0) / got : 0.0);
	fflush(stdout);
	waitpid(pid, NULL, 0);
	close(efd);
	close(ep);
	return got == wakes ? 0 : 1;
}

int main(int argc, char **argv)
{
	int waker_cpu = 0, sleeper_cpu = 1, opt, rc = 0;

	while ((opt = getopt(argc, argv, "c:C:")) != -1) {
		if (opt == 'c')
			waker_cpu = atoi(optarg);
		else if (opt == 'C')
			sleeper_cpu = atoi(optarg);
		else {
			fprintf(stderr, "usage: wake_cost [-c WAKER_CPU] [-C SLEEPER_CPU]\n");
			return 2;
		}
	}
	pin(sleeper_cpu);
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++)
		rc |= measure(points[i].period_us, points[i].wakes, waker_cpu);
	return rc;
}
