/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bpfc.c - filters compiled in a child process with a budget (see bpfc.h).
 *
 * fork() without exec: the child only calls libpcap's compiler and
 * writes the result to a pipe, then _exit()s.  It closes every other
 * descriptor first, so a client's socket or a ring's memfd never outlives
 * vcapd's own copy in it, even for the budget's length.
 */
#include "bpfc.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "filter.h"
#include "jobs.h"

/* The child's answer: this header, then n instructions. */
struct bpfc_result {
	int32_t rc;
	uint32_t n;
	char err[256];
};

/* The optimizer's working set is the child's own; past this it fails, not the host. */
#define CHILD_MEMORY (512ull << 20)
/* A cancelled job is noticed within this. */
#define POLL_SLICE_MS 20

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Cap the child's address space at what vcapd maps now plus CHILD_MEMORY. */
static void cap_memory(void)
{
#ifndef SANITIZED /* the sanitizers reserve terabytes of shadow */
	char buf[64] = "";
	unsigned long long pages = 0;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		(void)!read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (sscanf(buf, "%llu", &pages) == 1) {
		rlim_t lim = (rlim_t)(pages * (unsigned long long)sysconf(_SC_PAGESIZE) +
				      CHILD_MEMORY);
		struct rlimit rl = { lim, lim };

		(void)setrlimit(RLIMIT_AS, &rl);
	}
#endif
}

static _Noreturn void child(int wfd, const char *text, uint32_t linktype)
{
	struct bpfc_result r = { 0 };
	struct bpf_program prog = { 0 };
	pcap_t *p;

	if (wfd != 3 && dup2(wfd, 3) != 3)
		_exit(1);
	close_range(4, ~0u, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* the job thread that waits for it */
	(void)setpriority(PRIO_PROCESS, 0, 10);
	cap_memory();
	p = pcap_open_dead((int)linktype, 65535);
	if (!p) {
		r.rc = -ENOMEM;
		snprintf(r.err, sizeof(r.err), "out of memory");
	} else if (pcap_compile(p, &prog, text, 1, PCAP_NETMASK_UNKNOWN)) {
		r.rc = -EINVAL;
		snprintf(r.err, sizeof(r.err), "%s", pcap_geterr(p));
	} else {
		r.n = prog.bf_len;
	}
	if (write_all(3, &r, sizeof(r)) ||
	    (r.n && write_all(3, prog.bf_insns, r.n * sizeof(*prog.bf_insns))))
		_exit(1);
	_exit(0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* CPU time the child has used, in ms (0 if it cannot be read). */
static uint64_t child_cpu_ms(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Read len bytes from the child's pipe fd within its budget.  The budget
 * is CPU time, the child's own (clk): on a busy host a niced compile waits
 * for a CPU, and a filter must not be refused for that.  Wall time is
 * capped too (deadline), far above, so that a starved compile still ends.
 * @return 0, -ETIMEDOUT, -ECANCELED, or -EPIPE (the child ended early: it
 * crashed or ran out of memory).
 */
static int read_by(int fd, void *buf, size_t len, const clockid_t *clk, uint64_t budget_ms,
		   uint64_t deadline, struct job *j)
{
	char *p = buf;

	while (len) {
		uint64_t now = now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int slice;

		if (j && job_cancelled(j))
			return -ECANCELED;
		if (now >= deadline || (clk && child_cpu_ms(*clk) >= budget_ms))
			return -ETIMEDOUT;
		slice = deadline - now < POLL_SLICE_MS ? (int)(deadline - now) : POLL_SLICE_MS;
		if (poll(&pfd, 1, slice) <= 0)
			continue;
		n = read(fd, p, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bpfc_compile(const char *text, uint32_t linktype, const struct bpfc_limits *lim,
		 struct job *j, struct filter **out, char *err, size_t err_len)
{
	struct bpfc_result r;
	struct bpf_insn *insns = NULL;
	/* wall time: ten budgets, and at least 30 s, for a host busy with other work */
	uint64_t wall = lim->budget_ms * 10ull > 30000 ? lim->budget_ms * 10ull : 30000;
	uint64_t deadline = now_ms() + wall;
	clockid_t clk, *have_clk = NULL;
	int pfd[2], rc;
	pid_t pid;

	*out = NULL;
	if (!text || !*text)
		return 0;
	if (pipe2(pfd, O_CLOEXEC)) {
		snprintf(err, err_len, "filter: pipe: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid == 0)
		child(pfd[1], text, linktype);
	close(pfd[1]);
	if (pid < 0) {
		rc = -errno;
		close(pfd[0]);
		snprintf(err, err_len, "filter: fork: %s", strerror(-rc));
		return rc;
	}
	if (clock_getcpuclockid(pid, &clk)) /* cannot happen for a child: then wall time */
		deadline = now_ms() + lim->budget_ms;
	else
		have_clk = &clk;
	rc = read_by(pfd[0], &r, sizeof(r), have_clk, lim->budget_ms, deadline, j);
	if (!rc && !r.rc && r.n == 0) {
		rc = -EPROTO; /* libpcap never compiles to nothing */
	} else if (!rc && !r.rc && r.n > lim->max_insns) {
		rc = -E2BIG;
	} else if (!rc && !r.rc) {
		insns = malloc(r.n * sizeof(*insns));
		rc = insns ? read_by(pfd[0], insns, r.n * sizeof(*insns), have_clk, lim->budget_ms,
				     deadline, j)
			   : -ENOMEM;
	}
	close(pfd[0]);
	if (rc)
		kill(pid, SIGKILL); /* not reaped yet: the pid is still the child's */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (rc) {
		free(insns);
		insns = NULL;
	}
	switch (rc) {
	case 0:
		break;
	case -ETIMEDOUT:
		snprintf(err, err_len,
			 "filter \"%.64s%s\": compiling it took more than %u ms of CPU time (limit "
			 "filter-compile-ms); simplify it",
			 text, strlen(text) > 64 ? "..." : "", lim->budget_ms);
		return rc;
	case -E2BIG:
		snprintf(err, err_len,
			 "filter \"%.64s%s\": %u BPF instructions, more than the limit of %u "
			 "(limit filter-insns)",
			 text, strlen(text) > 64 ? "..." : "", r.n, lim->max_insns);
		return rc;
	case -ECANCELED:
		snprintf(err, err_len, "filter: cancelled");
		return rc;
	default:
		snprintf(err, err_len, "filter \"%.64s%s\": the compiler failed (%s)", text,
			 strlen(text) > 64 ? "..." : "",
			 rc == -EPIPE ? "it ran out of memory or crashed" : strerror(-rc));
		return rc;
	}
	if (r.rc) {
		snprintf(err, err_len, "filter \"%s\": %.*s", text, (int)sizeof(r.err), r.err);
		return r.rc == -EINVAL ? -EINVAL : -ENOMEM;
	}
	rc = filter_from_insns(insns, r.n, linktype, out);
	free(insns);
	if (rc)
		snprintf(err, err_len, "filter \"%.64s\": the compiler returned an invalid program",
			 text);
	return rc;
}
