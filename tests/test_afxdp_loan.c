/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_afxdp_loan.c - an AF_XDP socket lends the kernel only the frames its
 * rate needs (source/afxdp.c, "Frames on loan"), on a real veth pair in
 * private namespaces with vcap's XDP program taking everything and real
 * traffic (vcapsend).  The reader here is this test, which reads when it
 * chooses, so every step is exact:
 *
 *   1. a new socket lends 8192 frames: 10000 packets sent while nobody
 *      reads fill 8192 frames and the kernel drops 1808 (counted);
 *   2. reading them finds the loan used up: every frame (32768) is lent
 *      at once, and 10000 more packets unread all find a frame;
 *   3. releases that each find little in use (packets read one by one)
 *      halve the loan every 2 s, once the 10 s that running dry holds it
 *      are over, down to 8192, never less;
 *   4. 5000 packets, over half of 8192 and short of all of it, double the
 *      loan to 16384 (once the frames lent before it shrank are used);
 *   5. a socket opened with lend_all (loan=all) lends all 32768 from the
 *      start: 16000 unread (the RX ring holds 16384) all find one;
 *   and every packet read is one that was sent, whole.
 */
#include <string.h>
#include <time.h>

#include "afxdp.h"
#include "harness.h"
#include "netns.h"
#include "xdp_prog.h"

#define SIZE 128

static struct wire w;
static struct vcap_xsk *x;

/* Wait until the socket has `ready` packets and `drops` drops, 10 s at most. */
static void settle(unsigned ready, uint64_t drops)
{
	uint64_t end = mono_ms() + 10000;

	while ((vcap_xsk_ready(x, 65536) != ready || vcap_xsk_drops(x) != drops) &&
	       mono_ms() < end) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	CHECK_EQ(vcap_xsk_ready(x, 65536), ready);
	CHECK_EQ(vcap_xsk_drops(x), drops);
}

/* Read n packets, in batches of up to batch, releasing after each. */
static void take(unsigned n, unsigned batch)
{
	struct vcap_pkt_meta meta[256];
	const uint8_t *data[256];

	while (n) {
		int got = vcap_xsk_read(x, meta, data, n < batch ? n : batch);

		CHECK(got > 0, "%u packets still to read, none there", n);
		for (int i = 0; i < got; i++)
			CHECK_EQ(meta[i].caplen, SIZE);
		vcap_xsk_release(x);
		n -= (unsigned)got;
	}
}

static void send_frames(unsigned n)
{
	char args[96];

	snprintf(args, sizeof(args), "-n %u -r 200000 -l %d", n, SIZE);
	wire_send(&w, args);
}

int main(void)
{
	struct vcap_xsk_opts o = { .zerocopy = VCAP_XSK_ZC_OFF };
	struct vcap_xdp_prog *p;
	char err[256];
	unsigned rounds = 0;
	uint64_t t0;

	wire_up(&w);
	netns_enter(w.cap);
	CHECK(vcap_xdp_prog_attach(&p, "veth0", false, err, sizeof(err)) == 0, "attach: %s", err);
	CHECK(vcap_xsk_open(&x, "veth0", 0, &o, err, sizeof(err)) == 0, "socket: %s", err);
	CHECK(vcap_xdp_prog_socket(p, 0, vcap_xsk_fd(x)) == 0, "socket map");
	CHECK(vcap_xdp_prog_want(p, true, NULL, 0, NULL, 0) == 0, "want all");
	CHECK_EQ(vcap_xsk_ring(x), 16384); /* 64 MiB of 2 KiB frames, two an entry */

	/* 1: the first loan */
	CHECK_EQ(vcap_xsk_lend(x), 8192);
	CHECK_EQ(vcap_xsk_room(x), 8192); /* the loan, fewer than the ring's entries */
	send_frames(10000);
	settle(8192, 1808);

	/* 2: used up: every frame, and they hold 10000 */
	t0 = mono_ms(); /* the 10 s hold starts at the first release */
	take(8192, 256);
	CHECK_EQ(vcap_xsk_lend(x), 32768);
	CHECK_EQ(vcap_xsk_room(x), 16384); /* now the ring's entries are fewer */
	send_frames(10000);
	settle(10000, 1808);
	take(10000, 256);
	CHECK_EQ(vcap_xsk_lend(x), 32768);

	/* 3: at most 300 in use at each release, for as long as it takes (10 s
	 * of hold, then a halving every 2 s): back to 8192, 40 s at most */
	uint64_t end = mono_ms() + 40000;

	while (vcap_xsk_lend(x) > 8192 && mono_ms() < end) {
		send_frames(300);
		settle(300, 1808);
		take(300, 1);
		rounds++;
	}
	CHECK_EQ(vcap_xsk_lend(x), 8192);
	CHECK(mono_ms() - t0 >= 9900, "the loan shrank %llu ms after running dry",
	      (unsigned long long)(mono_ms() - t0));

	/* 4: over half, short of all: it doubles.  (Frames lent before the
	 * loan shrank come back only as the kernel uses them up: until then
	 * the loan is larger than lend says, and 5000 are not over half of it.
	 * Four rounds of 5000 use up what was lent before.) */
	for (int round = 0; round < 5 && vcap_xsk_lend(x) == 8192; round++) {
		send_frames(5000);
		settle(5000, 1808);
		take(5000, 256);
	}
	CHECK_EQ(vcap_xsk_lend(x), 16384);

	/* 5: lend_all (loan=all): every frame from the start, so 16000 unread
	 * all find one; and it never shrinks */
	CHECK_EQ(vcap_xdp_prog_socket(p, 0, -1), 0);
	vcap_xsk_close(x);
	o.lend_all = true;
	CHECK(vcap_xsk_open(&x, "veth0", 0, &o, err, sizeof(err)) == 0, "socket: %s", err);
	CHECK(vcap_xdp_prog_socket(p, 0, vcap_xsk_fd(x)) == 0, "socket map");
	CHECK_EQ(vcap_xsk_lend(x), 32768);
	send_frames(16000);
	settle(16000, 0);
	take(16000, 256);
	CHECK_EQ(vcap_xsk_lend(x), 32768);

	vcap_xsk_close(x);
	vcap_xdp_prog_detach(p);
	fprintf(stderr, "loan: 8192, all 32768 once used up, 8192 again after %u rounds of light "
			"releases, 16384 after one over half; loan=all: 32768\n", rounds);
	return 0;
}
