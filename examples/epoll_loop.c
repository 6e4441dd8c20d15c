/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * epoll_loop - vcap in an event loop: the handle's descriptor (vcap_fd) in
 * one epoll set with a timerfd (stats every second) and a signalfd (SIGINT,
 * SIGTERM), as in a program that also serves sockets.  Nothing sleeps but
 * epoll_wait; packets are taken without waiting until none is left.
 *
 *   epoll_loop [-c COUNT] DEVICE        (host:NAME, or an interface of ours)
 *
 * Exit status: 0 done, 1 error, 2 usage, 3 vcapd went away.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <vcap.h>

#define BURST 256

enum { PACKETS, TIMER, SIGNALS }; /* the descriptors of the epoll set */

static unsigned long long packets, bytes, count;

/* Take every packet waiting; say why to stop, or NULL to go on. */
static const char *drain(struct vcap *h, int *rc)
{
	struct vcap_pkt pkts[BURST];
	int n;

	/* -EINTR answers a vcap_breakloop() (none here) and takes no packet: go on */
	while ((n = vcap_recv_burst(h, pkts, BURST, 0)) > 0 || n == -EINTR) {
		for (int i = 0; i < n; i++) {
			bytes += pkts[i].wirelen; /* a real program would read pkts[i].data */
			if (++packets == count)
				return "count";
		}
	}
	switch (n) {
	case 0: /* none left: vcap_fd() polls readable again when more come */
		return NULL;
	case -ENODATA: /* a finite source ended, and all of it was read */
		return "ended";
	case -EPIPE: /* vcapd exited or was killed */
		fprintf(stderr, "epoll_loop: lost vcapd: %s\n", vcap_errmsg());
		*rc = 3;
		return "vcapd-gone";
	default:
		fprintf(stderr, "epoll_loop: %s\n", vcap_errmsg());
		*rc = 1;
		return "error";
	}
}

static void print_stats(struct vcap *h, const char *what, const char *end)
{
	struct vcap_stats st = { 0 };

	vcap_stats(h, &st, sizeof(st)); /* after -EPIPE: the last counters vcapd published */
	printf("%s: packets=%llu bytes=%llu received=%llu delivered=%llu dropped=%llu"
	       " filtered=%llu%s%s\n", what, packets, bytes, (unsigned long long)st.received,
	       (unsigned long long)st.delivered, (unsigned long long)st.dropped,
	       (unsigned long long)st.filtered, end ? " end=" : "", end ? end : "");
	fflush(stdout);
}

/* An option's number into *v: 0, or 1 if it is not one. */
static int number(const char *s, unsigned long long *v)
{
	char *end;

	*v = strtoull(s, &end, 10);
	return !(*s >= '0' && *s <= '9' && !*end);
}

int main(int argc, char **argv)
{
	/* wake once 64 packets wait or the first has waited 10 ms, not per packet */
	VCAP_OPTS(vcap_open_opts, opts, .watermark = 64, .timeout_ms = 10);
	struct itimerspec second = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct epoll_event ev[3];
	const char *end = NULL;
	struct vcap *h;
	sigset_t sigs;
	int opt, fd[3], ep, bad = 0, rc = 0;

	while ((opt = getopt(argc, argv, "c:")) != -1)
		bad |= opt == 'c' ? number(optarg, &count) : 1;
	if (bad || optind != argc - 1) {
		fprintf(stderr, "usage: epoll_loop [-c COUNT] DEVICE\n"
				"  reads DEVICE (host:NAME or a local interface) until its end, COUNT\n"
				"  packets, SIGINT or SIGTERM, with stats every second\n");
		return 2;
	}
	sigemptyset(&sigs); /* signals come through the signalfd, never as handlers */
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	if (!(h = vcap_open(argv[optind], &opts)) || (fd[PACKETS] = vcap_fd(h)) < 0) {
		fprintf(stderr, "epoll_loop: %s\n", vcap_errmsg());
		return 1;
	}
	fd[TIMER] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	fd[SIGNALS] = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = PACKETS; i <= SIGNALS; i++) {
		/* level-triggered, as vcap_fd() needs; and nobody reads vcap_fd() */
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		if (fd[i] < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &e) ||
		    (i == TIMER && timerfd_settime(fd[TIMER], 0, &second, NULL))) {
			perror("epoll_loop: setting up the epoll set");
			return 1;
		}
	}

	while (!end) {
		int n = epoll_wait(ep, ev, 3, -1);
		uint64_t expirations;
		struct signalfd_siginfo si;

		if (n < 0 && errno != EINTR) {
			perror("epoll_loop: epoll_wait");
			end = "error";
			rc = 1;
		}
		for (int i = 0; i < n && !end; i++) {
			if (ev[i].data.u32 == PACKETS) /* packets, a break or a hang-up */
				end = drain(h, &rc);
			else if (ev[i].data.u32 == TIMER &&
				 read(fd[TIMER], &expirations, sizeof(expirations)) > 0)
				print_stats(h, "stats", NULL);
			else if (ev[i].data.u32 == SIGNALS && read(fd[SIGNALS], &si, sizeof(si)) > 0)
				end = "signal";
		}
	}
	print_stats(h, "summary", end);
	vcap_close(h);
	close(ep);
	close(fd[TIMER]);
	close(fd[SIGNALS]);
	return rc;
}
