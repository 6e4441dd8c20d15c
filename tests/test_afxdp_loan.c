/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_afxdp_loan.c - an AF_XDP socket lends the kernel only the frames its
 * rate needs (source/afxdp.c, "Frames on loan"), on a real veth pair in
 * private namespaces with vcap's XDP program taking everything and real
 * traffic (vcapsend).  The reader here is this test, which reads when it
 * chooses, so every step is exact and nothing depends on timing:
 *
 *   1. a new socket lends 2048 frames: 3000 packets sent while nobody
 *      reads fill 2048 frames and the kernel drops 952 (counted);
 *   2. reading them finds the whole loan used, more than half: the loan
 *      doubles to 4096, and 3000 more packets unread all find a frame;
 *      their 3000 are over half of 4096 again: 8192, which 2000 leave be;
 *   3. releases that each find little in use (packets read one by one),
 *      each 2 s the socket looks back over, halve it, to 4096 and then
 *      2048, never less, and the kernel still finds a frame for every
 *      packet;
 *   4. every packet read is one that was sent, whole.
 */
#include <fcntl.h>
#include <sched.h>
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

	snprintf(args, sizeof(args), "-n %u -r 100000 -l %d", n, SIZE);
	wire_send(&w, args);
}

int main(void)
{
	struct vcap_xsk_opts o = { .zerocopy = VCAP_XSK_ZC_OFF };
	struct vcap_xdp_prog *p;
	char err[256], path[128];
	int fd;

	wire_up(&w);
	snprintf(path, sizeof(path), "/run/netns/%s", w.cap);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && setns(fd, CLONE_NEWNET) == 0, "entering %s: %s", w.cap, strerror(errno));
	close(fd);
	CHECK(vcap_xdp_prog_attach(&p, "veth0", false, err, sizeof(err)) == 0, "attach: %s", err);
	CHECK(vcap_xsk_open(&x, "veth0", 0, &o, err, sizeof(err)) == 0, "socket: %s", err);
	CHECK(vcap_xdp_prog_socket(p, 0, vcap_xsk_fd(x)) == 0, "socket map");
	CHECK(vcap_xdp_prog_want(p, true, NULL, 0, NULL, 0) == 0, "want all");
	CHECK_EQ(vcap_xsk_ring(x), 16384); /* 64 MiB of 2 KiB frames, two an entry */

	/* 1: the first loan */
	CHECK_EQ(vcap_xsk_lend(x), 2048);
	send_frames(3000);
	settle(2048, 952);

	/* 2: all of it used: it doubles, and now holds 3000 */
	take(2048, 256);
	CHECK_EQ(vcap_xsk_lend(x), 4096);
	send_frames(3000);
	settle(3000, 952);
	take(3000, 256); /* 3000 of 4096: over half again, so 8192 */
	CHECK_EQ(vcap_xsk_lend(x), 8192);
	send_frames(2000);
	settle(2000, 952);
	take(2000, 256); /* 2000 of 8192: it stays */
	CHECK_EQ(vcap_xsk_lend(x), 8192);

	/* 3: at most 300 in use at each release, for as long as it takes (the
	 * first look may still see step 2's peak; then a halving every 2 s):
	 * back to 2048, 30 s at most */
	uint64_t end = mono_ms() + 30000;
	unsigned rounds = 0;

	while (vcap_xsk_lend(x) > 2048 && mono_ms() < end) {
		send_frames(300);
		settle(300, 952);
		take(300, 1);
		rounds++;
	}
	CHECK_EQ(vcap_xsk_lend(x), 2048);
	send_frames(2000);
	settle(2000, 952);
	take(2000, 256);

	vcap_xsk_close(x);
	vcap_xdp_prog_detach(p);
	fprintf(stderr, "loan: 2048, 4096 and 8192 after full ones, 2048 after %u rounds of light "
			"releases\n",
		rounds);
	return 0;
}
