/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spsc_bare.c - the upper bound for the shared-memory benchmark: the fastest
 * a producer process can hand fixed-size packets to a consumer process
 * through a plain single-producer/single-consumer ring, with nothing else
 * (no daemon, no metadata, no wake-ups, no variable-length records).
 *
 *   usage: spsc_bare -l SIZE -d SECONDS [-n SLOTS] [-P CPU] [-C CPU]
 *   prints: {"size":SIZE,"mpps":X,"seconds":D}
 *
 * Layout: one MAP_SHARED|MAP_ANONYMOUS mapping made before fork(), so the
 * two processes see it at the same address:
 *
 *   offset   line           writer  reader
 *   0x000    struct prod    P       C       head: records published
 *   0x040    struct cons    C       P       tail: records released
 *   0x080    struct ctl     C       P       stop flag and the result
 *   0x0c0    slots[SLOTS]   P       C       fixed-size records
 *
 * A record is an 8-byte header (len, seq) followed by SIZE payload bytes,
 * rounded up to 8.  head and tail are free-running u32 record counters;
 * record i lives in slot i & (SLOTS - 1), and head - tail (mod 2^32) is the
 * number of records in the ring.  SLOTS defaults to 1024, the default
 * memif ring size (rsize=10), so both reference points have as many
 * packets in flight.
 *
 * Memory ordering (C11, the same pairs as vcap_ring.h):
 *
 *   producer                             consumer
 *   write records                        load-acquire head
 *   store-release head      ---->            read records in [tail, head)
 *   load-acquire tail       <----        store-release tail
 *
 * Both ends batch: the producer publishes head every BATCH records and the
 * consumer releases tail every BATCH records, so the two index lines bounce
 * between the CPUs once per batch instead of once per packet.  Either end
 * also flushes a partial batch before it waits, which keeps the pair from
 * waiting on each other with unpublished work.
 *
 * The consumer reads each record's header and the first 8 bytes of its
 * payload and checks both carry the expected sequence number, so a record
 * is really fetched into its cache; it times the run itself, from the first
 * record it sees until SECONDS have passed, and then raises the stop flag.
 *
 * Both ends spin, so each should own its CPU for the whole run.  Each
 * measures its CPU time against the wall clock; if either got less than
 * 90% (another task ran on that CPU), a warning goes to stderr, since the
 * rate is then no upper bound.  stdout always carries just the JSON line.
 */
#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE		64	/* cache line */
#define BATCH		32	/* records per head publish / tail release */
#define CLOCK_EVERY	4096	/* records between two clock reads */
#define PKT_SIZE_MIN	8	/* the payload carries a 64-bit sequence */
#define PKT_SIZE_MAX	65536
#define SLOTS_DEFAULT	1024
#define SECONDS_MAX	3600
#define SHARE_MIN	0.9	/* below this CPU share a run is contended */

struct rec {
	uint32_t len;		/* payload bytes */
	uint32_t seq;		/* low 32 bits of the record number */
	uint8_t payload[];	/* first 8 bytes: the full record number */
};

struct shm {
	_Alignas(LINE) struct {
		_Atomic uint32_t head;
	} prod;
	_Alignas(LINE) struct {
		_Atomic uint32_t tail;
	} cons;
	_Alignas(LINE) struct {
		_Atomic uint32_t stop;	/* consumer -> producer: time is up */
		uint64_t pkts;		/* result, valid once the consumer exited */
		uint64_t errors;
		uint64_t ns;		/* the window, wall clock */
		uint64_t cpu_ns;	/* consumer CPU time in the window */
	} ctl;
	_Alignas(LINE) uint8_t slots[];
};

_Static_assert(offsetof(struct shm, cons) == LINE, "one line per index");
_Static_assert(offsetof(struct shm, slots) == 3 * LINE, "slots after the control lines");
_Static_assert(sizeof(struct rec) == 8, "8-byte record header");

struct ring {
	struct shm *s;
	uint32_t mask;		/* slots - 1 */
	size_t stride;		/* bytes per slot */
	uint32_t size;		/* payload bytes per record */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static inline struct rec *slot(const struct ring *r, uint32_t i)
{
	return (struct rec *)(r->s->slots + (size_t)(i & r->mask) * r->stride);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		fprintf(stderr, "spsc_bare: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
		return -1;
	}
	return 0;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/*
 * Producer: fill the ring flat out until the consumer raises stop.  Every
 * record gets its full payload written (a copy from a template packet, as a
 * real capture path copies the frame) and the record number in its header
 * and first payload word.
 */
static void produce(const struct ring *r)
{
	struct shm *s = r->s;
	uint32_t slots = r->mask + 1;
	uint32_t head = 0, tail_cached = 0, pending = 0;
	uint8_t tmpl[PKT_SIZE_MAX];

	memset(tmpl, 0xa5, r->size);
	for (;;) {
		if (head - tail_cached == slots) {
			/* Full: publish what we have, then look for space. */
			if (pending) {
				atomic_store_explicit(&s->prod.head, head, memory_order_release);
				pending = 0;
			}
			tail_cached = atomic_load_explicit(&s->cons.tail, memory_order_acquire);
			if (head - tail_cached == slots) {
				if (atomic_load_explicit(&s->ctl.stop, memory_order_relaxed))
					return;
				cpu_relax();
				continue;
			}
		}

		struct rec *rec = slot(r, head);
		uint64_t seq = head;

		memcpy(rec->payload, tmpl, r->size);
		memcpy(rec->payload, &seq, sizeof(seq));
		rec->len = r->size;
		rec->seq = head;
		head++;

		if (++pending == BATCH) {
			atomic_store_explicit(&s->prod.head, head, memory_order_release);
			pending = 0;
			if (atomic_load_explicit(&s->ctl.stop, memory_order_relaxed))
				return;
		}
	}
}

/*
 * Consumer: drain the ring for `seconds`, timed from the first record, then
 * raise stop and leave the count in the control line.
 */
static void consume(const struct ring *r, unsigned int seconds)
{
	struct shm *s = r->s;
	uint32_t tail = 0, head_cached = 0, pending = 0;
	uint64_t pkts = 0, errors = 0, t0, t = 0, c0;
	uint64_t window = (uint64_t)seconds * 1000000000u;

	/* Wait for the producer's first batch, then start the clock. */
	while (atomic_load_explicit(&s->prod.head, memory_order_acquire) == 0)
		cpu_relax();
	t0 = now_ns();
	c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);

	for (;;) {
		if (tail == head_cached) {
			/* Empty: release what we have, then look for records. */
			if (pending) {
				atomic_store_explicit(&s->cons.tail, tail, memory_order_release);
				pending = 0;
			}
			head_cached = atomic_load_explicit(&s->prod.head, memory_order_acquire);
			if (tail == head_cached) {
				t = now_ns();
				if (t - t0 >= window)
					break;
				cpu_relax();
				continue;
			}
		}

		const struct rec *rec = slot(r, tail);
		uint64_t seq;

		/* Touch the packet: header and first payload word. */
		memcpy(&seq, rec->payload, sizeof(seq));
		if (rec->seq != tail || (uint32_t)seq != tail || rec->len != r->size)
			errors++;
		tail++;
		pkts++;

		if (++pending == BATCH) {
			atomic_store_explicit(&s->cons.tail, tail, memory_order_release);
			pending = 0;
		}
		if (pkts % CLOCK_EVERY == 0) {
			t = now_ns();
			if (t - t0 >= window)
				break;
		}
	}

	s->ctl.pkts = pkts;
	s->ctl.errors = errors;
	s->ctl.ns = t - t0;
	s->ctl.cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
	atomic_store_explicit(&s->ctl.stop, 1, memory_order_release);
}

static void on_alarm(int sig)
{
	static const char msg[] = "spsc_bare: timed out\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: spsc_bare -l SIZE -d SECONDS [-n SLOTS] [-P CPU] [-C CPU]\n"
		"  -l SIZE     payload bytes per packet (%d..%d)\n"
		"  -d SECONDS  measurement time\n"
		"  -n SLOTS    ring slots, a power of two (default %d)\n"
		"  -P CPU      producer CPU (default 0)\n"
		"  -C CPU      consumer CPU (default 1)\n",
		PKT_SIZE_MIN, PKT_SIZE_MAX, SLOTS_DEFAULT);
	exit(2);
}

static long parse(const char *arg, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	long size = -1, seconds = -1, slots = SLOTS_DEFAULT;
	int pcpu = 0, ccpu = 1, opt, status;
	struct ring r;
	size_t len;
	uint64_t t0, c0;
	double pshare, cshare;
	pid_t child;

	while ((opt = getopt(argc, argv, "l:d:n:P:C:h")) != -1) {
		switch (opt) {
		case 'l':
			size = parse(optarg, PKT_SIZE_MIN, PKT_SIZE_MAX);
			break;
		case 'd':
			seconds = parse(optarg, 1, SECONDS_MAX);
			break;
		case 'n':
			slots = parse(optarg, BATCH, 1L << 24);
			break;
		case 'P':
			pcpu = (int)parse(optarg, 0, CPU_SETSIZE - 1);
			break;
		case 'C':
			ccpu = (int)parse(optarg, 0, CPU_SETSIZE - 1);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || size < 0 || seconds < 0 || (slots & (slots - 1)))
		usage();

	r.size = (uint32_t)size;
	r.stride = sizeof(struct rec) + (((size_t)size + 7) & ~(size_t)7);
	r.mask = (uint32_t)slots - 1;
	len = sizeof(struct shm) + (size_t)slots * r.stride;
	r.s = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r.s == MAP_FAILED) {
		fprintf(stderr, "spsc_bare: mmap %zu bytes: %s\n", len, strerror(errno));
		return 1;
	}
	/* Fault every page in now, not during the measurement. */
	memset(r.s, 0, len);

	/* Bounded: a stuck pair (a peer died mid-run) ends here. */
	signal(SIGALRM, on_alarm);
	alarm((unsigned int)seconds + 10);

	child = fork();
	if (child < 0) {
		fprintf(stderr, "spsc_bare: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		/* The consumer dies with the producer, and vice versa below. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1 || pin(ccpu) < 0) {
			atomic_store_explicit(&r.s->ctl.stop, 1, memory_order_release);
			_exit(1);
		}
		consume(&r, (unsigned int)seconds);
		_exit(0);
	}

	if (pin(pcpu) < 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return 1;
	}
	t0 = now_ns();
	c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	produce(&r);
	pshare = (double)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)(now_ns() - t0);
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "spsc_bare: consumer failed\n");
		return 1;
	}
	if (r.s->ctl.errors) {
		fprintf(stderr, "spsc_bare: %llu records out of sequence\n",
			(unsigned long long)r.s->ctl.errors);
		return 1;
	}

	/*
	 * Both ends spin, so each should have had its CPU all the time.  If
	 * not, something else ran there and the rate is no upper bound: say
	 * so (stdout keeps its one JSON line).
	 */
	cshare = (double)r.s->ctl.cpu_ns / (double)r.s->ctl.ns;
	if (pshare < SHARE_MIN || cshare < SHARE_MIN)
		fprintf(stderr, "spsc_bare: warning: CPUs contended (producer on CPU %.0f%%, "
			"consumer %.0f%% of the time); the rate understates the bound\n",
			pshare * 100, cshare * 100);

	printf("{\"size\":%ld,\"mpps\":%.3f,\"seconds\":%.3f}\n", size,
	       (double)r.s->ctl.pkts * 1e3 / (double)r.s->ctl.ns, (double)r.s->ctl.ns / 1e9);
	return 0;
}
