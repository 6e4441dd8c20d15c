/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_upgrade.c - vcapd re-executes itself and hands everything over
 * (UPGRADE, SIGUSR2) while consumers read, on a real vcapd with real
 * consumer processes.  One scenario per run: `test_upgrade NAME`.
 *
 *   synth    a paced synth: source read by a host consumer, a filtered one
 *            (a filter that passes half) and a tenant's (its own socket,
 *            as a container connects); two upgrades in a row during the
 *            traffic: each consumer gets exactly its packets, in order,
 *            numbered without a gap (VCAP_OPEN_META's seq and the
 *            generator's own number in the payload), none dropped; ring
 *            ids and filters are the same after; received = delivered +
 *            dropped + filtered per ring
 *   if       the same on an if: source (a veth pair in private namespaces,
 *            vcapsend paced): every frame sent is delivered once, the
 *            kernel dropped none
 *   fanout   the same on if:,fanout=2 (two lanes, two sockets handed over):
 *            each flow in order rather than the whole stream, and the host
 *            consumer's flow and wildcard rules hit exactly
 *   pcap     the same on a pcap: source replayed at the file's pace (frames
 *            of the generator, written by the test): the replay goes on
 *            at the next packet of the file
 *   refused  --binary /bin/false, a binary that reads another state format
 *            version (an old vcapd reading a new state), and a
 *            configuration made bad before the upgrade: each refused with a
 *            reply naming the problem; the old vcapd serves on, its
 *            consumer loses nothing, and it holds no more descriptors than
 *            before
 *   sigusr2  SIGUSR2 upgrades as UPGRADE does; the metrics endpoint (a
 *            unix: one) is handed over too and answers after
 *   vm       a VM with its QEMU connected (the test plays QEMU on the
 *            ivshmem socket and the guest on the region's control queues):
 *            two upgrades in a row; QEMU's connection sees nothing (no
 *            hang-up, no setup again), the region is not reset (same
 *            generation), the new vcapd beats in the same memory and
 *            answers a request through the same queues and doorbell
 *            eventfd (tests/test_hotplug.sh upgrade does it with a real
 *            guest and traffic)
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "harness.h"
#include "netns.h"
#include "shm_queue.h"
#include "synth.h"
#include "vcap.h"
#include "vcap_shm.h"

#define VM_SIZE (4u << 20)
#define VM_VECTORS 4
#define FLOWS 1000 /* ipv6=50: flows f with f % 100 < 50 are IPv6: "ip6" passes half */

static struct vcapd_proc d;
static char conf[200], sock_t[200];

/* Write the configuration file anew. */
#define write_conf(...) harness_write(conf, __VA_ARGS__)

static void paths(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/vcap-upgrade-XXXXXX");
	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(conf, sizeof(conf), "%s/vcapd.conf", dir);
	snprintf(sock_t, sizeof(sock_t), "%s/t.sock", dir);
}

static void cleanup(void)
{
	char dir[200];

	unlink(conf);
	snprintf(dir, sizeof(dir), "%s", conf);
	*strrchr(dir, '/') = '\0';
	CHECK(rmdir(dir) == 0, "%s left files behind: %s", dir, strerror(errno));
}

/* ---- consumers: separate processes ---------------------------------------- */

struct result {
	uint64_t got;
	uint64_t seq_gaps;     /* a seq that was not the one expected */
	uint64_t payload_bad;  /* the generator's number in the payload is not the seq */
	uint64_t filter_bad;   /* a packet the filter should not have passed */
	uint64_t dropped, received, delivered, filtered;
	uint64_t flow_hits, rule_hits; /* with_rules: of its flow rule and wildcard rule */
	int rc;                /* the last receive's, 0 if it stopped at its count */
	char err[160];
};

struct consumer {
	pid_t pid;
	int fd; /* the result comes back here */
	uint32_t ring_id;
};

/*
 * A source with lanes (fanout) keeps each flow in order, not the whole
 * stream: check that each flow's packets (n, n + FLOWS, ...) come in
 * order and every one exactly once.
 */
static bool per_flow;

/* Is synth/vcapsend packet n one of the IPv6 flows ("ip6")? */
static bool is_v6(uint64_t n)
{
	return (n % FLOWS) % 100 < 50;
}

/* The generator's number of a UDP packet: the payload's first 8 bytes (synth.h). */
static bool payload_n(const struct vcap_pkt *p, const struct vcap_meta *m, uint64_t *n)
{
	if (!(m->flags & VCAP_META_PORTS) || m->proto != 17 || (uint32_t)m->l4_off + 16 > p->caplen)
		return false;
	memcpy(n, p->data + m->l4_off + 8, 8);
	*n = le64toh(*n);
	return true;
}

/*
 * The rules a consumer holds across upgrades, both passing (its packets
 * stay exact): a flow rule for flow RULE_FLOW (IPv4, UDP: synth.h's
 * addresses and ports), then a wildcard rule for all UDP.  A packet the
 * flow rule judged is not looked at by the wildcard rule.
 */
#define RULE_FLOW 57u

static struct vcap_flow rule_flow(void)
{
	struct vcap_flow f = { .family = 4, .proto = 17, .port_a = 1024 + RULE_FLOW,
			       .port_b = 80 /* ports[57 % 8] */ };

	memcpy(f.addr_a, (uint8_t[]){ 10, 1, 0, RULE_FLOW }, 4);
	memcpy(f.addr_b, (uint8_t[]){ 10, 2, 0, RULE_FLOW % 16 + 1 }, 4);
	return f;
}

static int add_rules(struct vcap *h)
{
	struct vcap_rule r = { .id = 1, .fields = VCAP_RULE_PROTO, .action = VCAP_PASS,
			       .proto = 17 };
	struct vcap_flow f = rule_flow();
	uint64_t at;

	return vcap_flow_add(h, &f, VCAP_PASS, 0, &at) ?: vcap_rule_add(h, &r);
}

static void consume(const char *sock, const char *dev, const char *filter, bool with_rules,
		    uint64_t expect, uint64_t offered, int ready_fd, int out_fd)
{
	VCAP_OPTS(vcap_open_opts, o, .socket_path = sock, .ring_size = 32u << 20,
		  .filter = filter, .flags = VCAP_OPEN_META, .watermark = 64, .timeout_ms = 5);
	struct result r = { 0 };
	struct vcap *h = vcap_open(dev, &o);
	struct vcap_stats st;
	uint64_t next_seq = 0, deadline = mono_ms() + 60000;
	uint8_t *seen = per_flow ? calloc(offered, 1) : NULL; /* generator numbers had */
	struct vcap_info info;
	uint32_t id = h && vcap_info(h, &info, sizeof(info)) == 0 ? info.ring_id : 0;

	if (h && with_rules && add_rules(h)) {
		snprintf(r.err, sizeof(r.err), "rules: %s", vcap_errmsg());
		id = 0;
	}

	(void)!write(ready_fd, &id, sizeof(id));
	close(ready_fd);
	if (!h || !id) {
		if (!h)
			snprintf(r.err, sizeof(r.err), "open %s: %s", dev, vcap_errmsg());
		r.rc = -1;
		(void)!write(out_fd, &r, sizeof(r));
		_exit(1);
	}
	while (r.got < expect && mono_ms() < deadline) {
		struct vcap_pkt p;
		struct vcap_meta m;
		uint64_t n;
		int rc = vcap_recv_timeout(h, &p, 1, 200);

		if (rc == 0)
			continue;
		if (rc < 0) {
			r.rc = rc;
			snprintf(r.err, sizeof(r.err), "%s", vcap_errmsg());
			break;
		}
		r.got++;
		if (vcap_pkt_meta(h, &p, &m, sizeof(m)) || !(m.flags & VCAP_META_SEQ)) {
			r.seq_gaps++;
			continue;
		}
		if (per_flow) {
			/*
			 * Lanes: the ring numbers what it was offered without a
			 * gap, and each flow comes in order; across flows the
			 * lanes interleave (docs/architecture.md, "Lanes").
			 */
			r.seq_gaps += m.seq < next_seq;
			next_seq = m.seq + 1;
			if (!payload_n(&p, &m, &n) || n >= offered || seen[n] ||
			    (n >= FLOWS && !seen[n - FLOWS])) {
				r.payload_bad++;
				continue;
			}
			seen[n] = 1;
			r.filter_bad += filter && !is_v6(n);
			continue;
		}
		if (filter) {
			/* only the IPv6 flows, in order, none skipped */
			while (!is_v6(next_seq))
				next_seq++;
			r.filter_bad += !is_v6(m.seq);
		}
		r.seq_gaps += m.seq != next_seq;
		next_seq = m.seq + 1;
		if (!payload_n(&p, &m, &n) || n != m.seq)
			r.payload_bad++;
	}
	free(seen);
	if (with_rules) {
		struct vcap_flow f = rule_flow();

		if (vcap_flow_hits(h, &f, &r.flow_hits) || vcap_rule_hits(h, 1, &r.rule_hits))
			snprintf(r.err, sizeof(r.err), "hits: %s", vcap_errmsg());
	}
	/*
	 * The packets after its last one that the filter rejected are counted
	 * with the batch that judged them: wait for the count of all offered.
	 */
	deadline = mono_ms() + 10000;
	while (vcap_stats(h, &st, sizeof(st)) == 0 && st.received < offered && mono_ms() < deadline)
		sleep_ms(5);
	if (vcap_stats(h, &st, sizeof(st)) == 0) {
		r.received = st.received;
		r.delivered = st.delivered;
		r.dropped = st.dropped;
		r.filtered = st.filtered;
	}
	(void)!write(out_fd, &r, sizeof(r));
	vcap_close(h);
	_exit(0);
}

/* Start a consumer process; @return once its ring is open. */
static struct consumer start_consumer(const char *sock, const char *dev, const char *filter,
				      bool with_rules, uint64_t expect, uint64_t offered)
{
	struct consumer c;
	int ready[2], out[2];

	CHECK(pipe(ready) == 0 && pipe(out) == 0, "pipe");
	c.pid = fork();
	CHECK(c.pid >= 0, "fork");
	if (c.pid == 0) {
		close(ready[0]);
		close(out[0]);
		consume(sock, dev, filter, with_rules, expect, offered, ready[1], out[1]);
	}
	close(ready[1]);
	close(out[1]);
	CHECK(read(ready[0], &c.ring_id, sizeof(c.ring_id)) == sizeof(c.ring_id), "consumer ready");
	close(ready[0]);
	if (!c.ring_id) {
		struct result r = { 0 };

		(void)!read(out[0], &r, sizeof(r));
		CHECK(0, "the consumer of %s could not open it: %s", dev, r.err);
	}
	c.fd = out[0];
	return c;
}

static struct result finish_consumer(struct consumer *c, const char *who)
{
	struct result r;
	int status;

	CHECK(read(c->fd, &r, sizeof(r)) == sizeof(r), "%s: no result", who);
	close(c->fd);
	CHECK(waitpid(c->pid, &status, 0) == c->pid, "waitpid %s", who);
	fprintf(stderr,
		"%s: got %llu (received %llu, delivered %llu, dropped %llu, filtered %llu), "
		"seq gaps %llu, payload mismatches %llu, filter misses %llu%s%s\n",
		who, (unsigned long long)r.got, (unsigned long long)r.received,
		(unsigned long long)r.delivered, (unsigned long long)r.dropped,
		(unsigned long long)r.filtered, (unsigned long long)r.seq_gaps,
		(unsigned long long)r.payload_bad, (unsigned long long)r.filter_bad,
		r.err[0] ? ": " : "", r.err);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s exited 0x%x", who, status);
	return r;
}

/* Every packet it should have had, exactly once, in order, none dropped. */
static struct result check_exact(struct consumer *c, const char *who, uint64_t expect,
				 uint64_t offered)
{
	struct result r = finish_consumer(c, who);

	CHECK_EQ(r.rc, 0);
	CHECK_EQ(r.got, expect);
	CHECK_EQ(r.seq_gaps, 0);
	CHECK_EQ(r.payload_bad, 0);
	CHECK_EQ(r.filter_bad, 0);
	CHECK_EQ(r.dropped, 0);
	CHECK_EQ(r.delivered, expect);
	CHECK_EQ(r.received, offered);
	CHECK_EQ(r.received, r.delivered + r.dropped + r.filtered);
	return r;
}

/* Its rules were in force all along: every packet of the flow, every other one by the wildcard. */
static void check_hits(const struct result *r, uint64_t offered)
{
	fprintf(stderr, "rules: flow rule %llu hits, wildcard rule %llu hits\n",
		(unsigned long long)r->flow_hits, (unsigned long long)r->rule_hits);
	CHECK_EQ(r->flow_hits, offered / FLOWS);
	CHECK_EQ(r->rule_hits, offered - offered / FLOWS);
}

/* ---- talking to vcapd ------------------------------------------------------ */

/* UPGRADE on socket sock; @return its status, the reply in *r. */
static int upgrade_req_on(const char *sock, const char *binary, struct vcap_msg *r)
{
	static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];
	struct vcapd_proc on = d;
	struct vcap_msg m;
	char why[128];
	int fd;
	ssize_t n;

	snprintf(on.sock, sizeof(on.sock), "%s", sock);
	fd = raw_session(&on);
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_UPGRADE);
	snprintf(m.text, sizeof(m.text), "%s", binary ? binary : "");
	n = vcap_msg_encode(&m, buf, sizeof(buf));
	CHECK(vcap_unix_send(fd, buf, (size_t)n, NULL, 0) == 0, "send upgrade");
	n = vcap_unix_recv(fd, buf, sizeof(buf), NULL, NULL);
	CHECK(n > 0 && vcap_msg_decode(buf, (size_t)n, r, why, sizeof(why)) == 0, "upgrade: %s",
	      why);
	close(fd);
	return r->status;
}

/* ... as root on the main socket. */
static int upgrade_req(const char *binary, struct vcap_msg *r)
{
	return upgrade_req_on(d.sock, binary, r);
}

/* The old vcapd exited 0 and the new one (reparented to us: subreaper) serves. */
static void took_over(pid_t new_pid)
{
	int status;

	CHECK(new_pid > 0 && new_pid != d.pid, "new pid %d", (int)new_pid);
	CHECK(waitpid(d.pid, &status, 0) == d.pid, "waitpid old vcapd");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "old vcapd exit 0x%x", status);
	CHECK(kill(new_pid, 0) == 0, "new vcapd %d is not running", (int)new_pid);
	d.pid = new_pid;
	harness_vcapd_pid = new_pid;
}

static void upgrade_ok(void)
{
	struct vcap_msg r;

	CHECK(upgrade_req(NULL, &r) == 0, "upgrade refused: %s", r.text);
	fprintf(stderr, "upgraded: pid %u, capture paused %.3f ms\n", r.u.upgrade_reply.pid,
		(double)r.u.upgrade_reply.paused_ns / 1e6);
	took_over((pid_t)r.u.upgrade_reply.pid);
}

/* STATUS's entry for ring id. */
static struct vcap_status_ring ring_status(uint32_t id)
{
	const struct vcap_msg *r = status_query(&d);

	for (uint32_t i = 0; i < r->u.status_reply.n_rings; i++)
		if (r->rings[i].ring_id == id)
			return r->rings[i];
	CHECK(0, "no ring %u in STATUS", id);
	return r->rings[0];
}

static void wait_received(const char *source, uint64_t at_least)
{
	uint64_t deadline = mono_ms() + 30000;

	while (status_source(&d, source).received < at_least) {
		CHECK(mono_ms() < deadline, "source %s never reached %llu packets", source,
		      (unsigned long long)at_least);
		sleep_ms(10);
	}
}

/* ---- synth ----------------------------------------------------------------- */

#define N_SYNTH 600000u

static void synth(void)
{
	struct consumer host, filtered, tenant;
	struct vcap_status_ring st;
	struct vcap_msg refusal;
	struct result r;
	int fds;

	paths();
	write_conf("source syn synth:size=128,pps=200000,count=%u,flows=%u,proto=udp,ipv6=50,"
		   "consumers=3\n"
		   "tenant t socket %s\n"
		   "tenant t allow syn\n",
		   N_SYNTH, FLOWS, sock_t);
	vcapd_start(&d, "--config", conf);
	host = start_consumer(d.sock, "host:syn", NULL, true, N_SYNTH, N_SYNTH);
	filtered = start_consumer(d.sock, "host:syn", "ip6", false, N_SYNTH / 2, N_SYNTH);
	tenant = start_consumer(sock_t, "host:syn", NULL, false, N_SYNTH, N_SYNTH);

	wait_received("syn", N_SYNTH / 6);
	/* a tenant may not upgrade vcapd */
	CHECK(upgrade_req_on(sock_t, NULL, &refusal) == -EPERM, "a tenant's UPGRADE: %d %s",
	      refusal.status, refusal.text);
	fds = settled_fds(d.pid);
	upgrade_ok();
	/* the new vcapd holds what the old one held: the handover's own descriptors are gone */
	CHECK_EQ(settled_fds(d.pid), fds);
	/* the rings, their ids and filters are the new vcapd's now */
	st = ring_status(filtered.ring_id);
	CHECK(!strcmp(st.filter, "ip6"), "ring %u's filter after the upgrade: \"%s\"",
	      filtered.ring_id, st.filter);
	CHECK_EQ(st.received, st.delivered + st.dropped + st.filtered);
	ring_status(host.ring_id);
	ring_status(tenant.ring_id);
	wait_received("syn", N_SYNTH / 2);
	upgrade_ok(); /* two in a row */

	r = check_exact(&host, "host consumer", N_SYNTH, N_SYNTH);
	check_hits(&r, N_SYNTH);
	check_exact(&filtered, "filtered consumer", N_SYNTH / 2, N_SYNTH);
	check_exact(&tenant, "tenant consumer", N_SYNTH, N_SYNTH);
	vcapd_stop(&d);
	cleanup();
}

/* ---- if: ------------------------------------------------------------------- */

#define N_IF 400000u

static const char *if_spec = "if:veth0,ring=128Mi,block=256Ki";

static void live_if(void)
{
	static struct wire w;
	struct consumer host, filtered, tenant;
	char args[160];
	struct vcap_status_source src;
	pid_t sender;

	paths();
	wire_up(&w);
	/*
	 * Blocks of 256 KiB fill (about 1300 frames) before the kernel's 10 ms
	 * retire timer closes them, so the ring's 512 blocks hold the whole
	 * run: a pause stretched by a busy machine still loses nothing.
	 */
	write_conf("source wire %s\n"
		   "tenant t socket %s\n"
		   "tenant t allow wire\n",
		   if_spec, sock_t);
	vcapd_start_in(&d, w.cap, "--config", conf);
	/* with lanes, the host consumer's rules count hits from two threads */
	host = start_consumer(d.sock, "host:wire", NULL, per_flow, N_IF, N_IF);
	filtered = start_consumer(d.sock, "host:wire", "ip6", false, N_IF / 2, N_IF);
	tenant = start_consumer(sock_t, "host:wire", NULL, false, N_IF, N_IF);

	/* the traffic, paced, from its own process while vcapd is upgraded twice */
	snprintf(args, sizeof(args), "-l 128 -n %u -r %s --flows %u --ipv6 50", N_IF,
		 getenv("VCAP_UPGRADE_PPS") ? getenv("VCAP_UPGRADE_PPS") : "200k", FLOWS);
	sender = fork();
	CHECK(sender >= 0, "fork");
	if (sender == 0) {
		wire_to_clean = NULL; /* the parent deletes the namespaces */
		wire_send(&w, args);
		_exit(0);
	}
	wait_received("wire", N_IF / 6);
	upgrade_ok();
	wait_received("wire", N_IF / 2);
	upgrade_ok();
	{
		int status;

		CHECK(waitpid(sender, &status, 0) == sender && WIFEXITED(status) &&
			      WEXITSTATUS(status) == 0,
		      "vcapsend failed");
	}
	/* the kernel's ring held what arrived during the pauses: it dropped nothing */
	src = status_source(&d, "wire");
	CHECK_EQ(src.kernel_drops, 0);
	{
		struct result r = check_exact(&host, "host consumer", N_IF, N_IF);

		if (per_flow)
			check_hits(&r, N_IF);
	}
	check_exact(&filtered, "filtered consumer", N_IF / 2, N_IF);
	check_exact(&tenant, "tenant consumer", N_IF, N_IF);
	vcapd_stop(&d);
	cleanup();
}

/* ---- pcap: ----------------------------------------------------------------- */

#define N_PCAP 200000u

/* A capture file of the generator's frames n = 0..count-1, 10 us apart. */
static void write_pcap(const char *path, unsigned count)
{
	struct vcap_synth_cfg cfg = { .size = 128, .flows = FLOWS, .proto = VCAP_SYNTH_UDP,
				      .ipv6_pct = 50 };
	struct vcap_synth gen;
	uint32_t hdr[6] = { 0xa1b2c3d4, 2 | 4u << 16, 0, 0, 65535, 1 /* Ethernet */ };
	uint8_t frame[128];
	char err[128];
	FILE *f = fopen(path, "w");

	CHECK(f, "%s", path);
	CHECK(vcap_synth_init(&gen, &cfg, err, sizeof(err)) == 0, "synth: %s", err);
	CHECK(fwrite(hdr, sizeof(hdr), 1, f) == 1, "write");
	for (unsigned n = 0; n < count; n++) {
		uint64_t us = 1000000ull + (uint64_t)n * 10;
		uint32_t rec[4] = { (uint32_t)(us / 1000000), (uint32_t)(us % 1000000), 128, 128 };

		vcap_synth_frame(&gen, n, frame);
		CHECK(fwrite(rec, sizeof(rec), 1, f) == 1 && fwrite(frame, 128, 1, f) == 1, "write");
	}
	CHECK(fclose(f) == 0, "write %s", path);
}

static void pcap_file(void)
{
	struct consumer host, filtered;
	char file[220];

	paths();
	snprintf(file, sizeof(file), "%s.pcap", conf);
	write_pcap(file, N_PCAP);
	write_conf("source file pcap:%s,consumers=2\n", file);
	vcapd_start(&d, "--config", conf);
	host = start_consumer(d.sock, "host:file", NULL, false, N_PCAP, N_PCAP);
	filtered = start_consumer(d.sock, "host:file", "ip6", false, N_PCAP / 2, N_PCAP);
	wait_received("file", N_PCAP / 4);
	upgrade_ok();
	wait_received("file", N_PCAP / 2);
	upgrade_ok();
	check_exact(&host, "host consumer", N_PCAP, N_PCAP);
	check_exact(&filtered, "filtered consumer", N_PCAP / 2, N_PCAP);
	vcapd_stop(&d);
	unlink(file);
	cleanup();
}

/* ---- refused --------------------------------------------------------------- */

static void refused_with(const char *binary, const char *what)
{
	struct vcap_msg r;
	int fds = settled_fds(d.pid);

	CHECK(upgrade_req(binary, &r) < 0, "an upgrade to %s was accepted", binary);
	fprintf(stderr, "refused: %s\n", r.text);
	CHECK(strstr(r.text, what), "\"%s\" does not say \"%s\"", r.text, what);
	CHECK(kill(d.pid, 0) == 0, "the old vcapd is gone");
	CHECK_EQ(settled_fds(d.pid), fds);
}

#define N_REFUSED 300000u

static void refused(void)
{
	char wrapper[200], bin[256], vm_sock[220];
	struct consumer host;
	FILE *f;

	paths();
	snprintf(vm_sock, sizeof(vm_sock), "%s.vm", conf);
	write_conf("source syn synth:size=128,pps=100000,count=%u,flows=%u,proto=udp,ipv6=50\n"
		   "vm g %s size=4Mi\n",
		   N_REFUSED, FLOWS, vm_sock);
	vcapd_start(&d, "--config", conf);
	host = start_consumer(d.sock, "host:syn", NULL, false, N_REFUSED, N_REFUSED);
	wait_received("syn", 10000);

	refused_with("/bin/false", "exited with status 1");
	/* vcapctl says why and exits 1 */
	CHECK(sh("%s/tools/vcapctl --socket %s upgrade --binary /bin/false 2>&1 | "
		 "grep -q 'upgrade failed: .*exited with status 1' && "
		 "! %s/tools/vcapctl --socket %s upgrade --binary /bin/false 2>/dev/null",
		 build_dir(), d.sock, build_dir(), d.sock) == 0,
	      "vcapctl upgrade --binary /bin/false");
	refused_with("/nonexistent/vcapd", "cannot execute /nonexistent/vcapd");

	/* a vcapd that reads another state format */
	snprintf(wrapper, sizeof(wrapper), "%s.other-version", conf);
	snprintf(bin, sizeof(bin), "%s/daemon/vcapd", build_dir());
	f = fopen(wrapper, "w");
	CHECK(f, "%s", wrapper);
	fprintf(f, "#!/bin/sh\nVCAPD_STATE_VERSION=99 exec %s \"$@\"\n", bin);
	CHECK(fclose(f) == 0 && chmod(wrapper, 0755) == 0, "write %s", wrapper);
	refused_with(wrapper, "this vcapd reads version 99");
	unlink(wrapper);

	/* a configuration made bad meanwhile: the new vcapd refuses it, naming the line */
	write_conf("source syn synth:size=128,pps=100000,count=%u,flows=%u,proto=udp,ipv6=50\n"
		   "bogus line\n",
		   N_REFUSED, FLOWS);
	refused_with(NULL, ":2:");
	/* ... and a source whose spec changed is not silently restarted */
	write_conf("source syn synth:size=64\nvm g %s size=4Mi\n", vm_sock);
	refused_with(NULL, "source syn changed");
	/* ... nor a VM the configuration no longer has silently dropped */
	write_conf("source syn synth:size=128,pps=100000,count=%u,flows=%u,proto=udp,ipv6=50\n",
		   N_REFUSED, FLOWS);
	refused_with(NULL, "vm g is no longer configured");
	write_conf("source syn synth:size=128,pps=100000,count=%u,flows=%u,proto=udp,ipv6=50\n"
		   "vm g %s size=4Mi\n",
		   N_REFUSED, FLOWS, vm_sock);

	check_exact(&host, "consumer of the refusing vcapd", N_REFUSED, N_REFUSED);
	vcapd_stop(&d);
	unlink(vm_sock);
	cleanup();
}

/* ---- vm -------------------------------------------------------------------- */

/*
 * QEMU's side of a VM's ivshmem socket, and its guest's side of the control
 * queues, played by the test: what an upgrade must keep is checked on the
 * very descriptors and memory a QEMU holds.
 */
struct fake_qemu {
	int sock;
	int shm;
	uint8_t *map;
	struct vcap_shm_hdr *hdr;
	int bell[VM_VECTORS]; /* vcapd's eventfds: QEMU writes them on the guest's doorbell */
	int own[VM_VECTORS];  /* ours: vcapd writes them to raise our MSI-X vectors */
	int64_t id;
	struct shm_queue g2h, h2g;
};

/* Connect as QEMU does and take the whole setup (ivshmem-spec.rst). */
static void fake_qemu_connect(struct fake_qemu *q, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, nb = 0, no = 0;
	int64_t v;

	q->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(q->sock >= 0, "socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* vcapd opens the VM's socket after its main one: vcapd_start waited for that */
	for (uint64_t deadline = mono_ms() + 10000;
	     connect(q->sock, (struct sockaddr *)&sa, sizeof(sa));) {
		CHECK((errno == ENOENT || errno == ECONNREFUSED) && mono_ms() < deadline,
		      "connect %s: %s", path, strerror(errno));
		usleep(10000);
	}
	CHECK_EQ(ivshmem_msg(q->sock, &fd), 0); /* the protocol version */
	q->id = ivshmem_msg(q->sock, &fd);
	CHECK(ivshmem_msg(q->sock, &q->shm) == -1 && q->shm >= 0, "no shared memory");
	q->map = mmap(NULL, VM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, q->shm, 0);
	CHECK(q->map != MAP_FAILED, "mmap the region");
	q->hdr = (struct vcap_shm_hdr *)q->map;
	/*
	 * Ours, and the one other peer's: vcapd's.  Which id is vcapd's is
	 * checked against the region's header below, once it is laid out.
	 */
	int64_t host = -1;

	while (nb < VM_VECTORS || no < VM_VECTORS) {
		v = ivshmem_msg(q->sock, &fd);
		CHECK(fd >= 0, "peer %lld without a descriptor", (long long)v);
		if (v == q->id && no < VM_VECTORS) {
			q->own[no++] = fd;
		} else if ((host < 0 || v == host) && nb < VM_VECTORS) {
			host = v;
			q->bell[nb++] = fd;
		} else {
			CHECK(0, "an eventfd of unknown peer %lld", (long long)v);
		}
	}
	/*
	 * vcapd lays the region out afresh for a guest that joins, right after
	 * sending the setup, in the same turn of its loop: a request over the
	 * main socket answered means that is done.
	 */
	(void)status_query(&d);
	CHECK_EQ(q->hdr->magic, VCAP_SHM_MAGIC);
	CHECK(host == (int64_t)q->hdr->host_peer, "the doorbells are peer %lld's, vcapd is %u",
	      (long long)host, q->hdr->host_peer);
	/* the guest's ends of the queues: producer of g2h, consumer of h2g (index 0: fresh) */
	CHECK(shm_queue_attach(&q->g2h, q->map + q->hdr->g2h_off, q->hdr->queue_size) == 0, "g2h");
	CHECK(shm_queue_attach(&q->h2g, q->map + q->hdr->h2g_off, q->hdr->queue_size) == 0, "h2g");
}

/* A request through g2h and the guest's doorbell; its reply from h2g. */
static void fake_guest_call(struct fake_qemu *q, struct vcap_msg *m, struct vcap_msg *reply)
{
	static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];
	uint64_t deadline = mono_ms() + 10000;
	char why[128];
	ssize_t n = vcap_msg_encode(m, buf, sizeof(buf));

	CHECK(n > 0 && shm_queue_send(&q->g2h, buf, (size_t)n) == 0, "g2h send");
	CHECK(write(q->bell[VCAP_SHM_VECTOR_CTRL], &(uint64_t){ 1 }, 8) == 8, "ring the doorbell");
	while ((n = shm_queue_recv(&q->h2g, buf, sizeof(buf), why, sizeof(why))) == 0) {
		struct pollfd p = { .fd = q->own[VCAP_SHM_VECTOR_CTRL], .events = POLLIN };

		CHECK(mono_ms() < deadline, "no reply in h2g");
		(void)poll(&p, 1, 10); /* vcapd raises vector 0 only if we said we wait */
	}
	CHECK(n > 0, "h2g: %s", why);
	CHECK(vcap_msg_decode(buf, (size_t)n, reply, why, sizeof(why)) == 0, "reply: %s", why);
	CHECK(reply->seq == m->seq, "reply to %u, asked %u", reply->seq, m->seq);
}

static void fake_guest_hello(struct fake_qemu *q, const char *name)
{
	struct vcap_msg m, r;

	vcap_msg_init(&m, VCAP_APP_FRAMEWORK, VCAP_MSG_HELLO);
	m.u.hello.version_min = VCAP_PROTO_VERSION;
	m.u.hello.version_max = VCAP_PROTO_VERSION;
	m.u.hello.pid = 1;
	snprintf(m.name, sizeof(m.name), "%s", name);
	fake_guest_call(q, &m, &r);
	CHECK(r.status == 0, "HELLO through the region: %d %s", r.status, r.text);
}

static void vm_handover(void)
{
	char vm_arg[300], vm_sock[220];
	struct fake_qemu q = { 0 };
	uint32_t gen;
	uint64_t beat;
	char byte;

	paths();
	snprintf(vm_sock, sizeof(vm_sock), "%s.vm", conf);
	snprintf(vm_arg, sizeof(vm_arg), "vm1=%s,size=%u,vectors=%u", vm_sock, VM_SIZE, VM_VECTORS);
	write_conf("source syn synth:size=64,pps=10000\n");
	vcapd_start(&d, "--config", conf, "--vm", vm_arg);
	fake_qemu_connect(&q, vm_sock);
	fake_guest_hello(&q, "before");
	gen = atomic_load(&q.hdr->generation);

	for (int round = 1; round <= 2; round++) {
		uint64_t deadline = mono_ms() + 10000;

		upgrade_ok();
		/* QEMU saw nothing: no hang-up, no new setup, no peer leaving */
		CHECK(recv(q.sock, &byte, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
		      "round %d: QEMU's connection saw something", round);
		/* the region was not reset: the guest's generation holds */
		CHECK_EQ(atomic_load(&q.hdr->generation), gen);
		/* the new vcapd beats in the same memory */
		beat = atomic_load(&q.hdr->heartbeat);
		while (atomic_load(&q.hdr->heartbeat) == beat) {
			CHECK(mono_ms() < deadline, "round %d: no heartbeat after the upgrade", round);
			usleep(10000);
		}
		/*
		 * The same queues, at the same positions, and the same doorbell
		 * eventfd: a request after the upgrade gets its reply.
		 */
		fake_guest_hello(&q, "after");
	}
	vcapd_stop(&d);
	munmap(q.map, VM_SIZE);
	close(q.shm);
	close(q.sock);
	for (int v = 0; v < VM_VECTORS; v++) {
		close(q.bell[v]);
		close(q.own[v]);
	}
	unlink(vm_sock);
	cleanup();
}

/* ---- SIGUSR2 --------------------------------------------------------------- */

/* A child of ours (the subreaper) other than except, named vcapd: the new one. */
static pid_t find_vcapd_child(pid_t except)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	CHECK(dir, "/proc");
	while (!found && (e = readdir(dir))) {
		char path[300], buf[512];
		int ppid = 0;
		pid_t pid = (pid_t)atoi(e->d_name);
		FILE *f;

		if (pid <= 0 || pid == except)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && strstr(buf, "(vcapd)") &&
		    sscanf(strrchr(buf, ')') + 2, "%*c %d", &ppid) == 1 && ppid == getpid())
			found = pid;
		fclose(f);
	}
	closedir(dir);
	return found;
}

#define N_SIG 300000u

/* GET /metrics on a unix: endpoint: @return true if it answered 200 with vcap's counters. */
static bool metrics_answers(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096] = "";
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, "GET /metrics HTTP/1.0\r\n\r\n", 26) != 26) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	return strstr(buf, " 200 ") && strstr(buf, "vcap_");
}

static void sigusr2(void)
{
	struct consumer host;
	uint64_t deadline;
	pid_t old, now = 0;
	int status;
	char metrics[220], metrics_arg[230];

	paths();
	snprintf(metrics, sizeof(metrics), "%s.metrics", conf);
	snprintf(metrics_arg, sizeof(metrics_arg), "unix:%s", metrics);
	write_conf("source syn synth:size=128,pps=100000,count=%u,flows=%u,proto=udp,ipv6=50\n",
		   N_SIG, FLOWS);
	vcapd_start(&d, "--config", conf, "--metrics", metrics_arg);
	/* it listens on its main socket first, then the metrics one: wait for that */
	deadline = mono_ms() + 5000;
	while (!metrics_answers(metrics) && mono_ms() < deadline)
		sleep_ms(10);
	CHECK(metrics_answers(metrics), "metrics before the upgrade");
	host = start_consumer(d.sock, "host:syn", NULL, false, N_SIG, N_SIG);
	wait_received("syn", 10000);
	old = d.pid;
	CHECK(kill(old, SIGUSR2) == 0, "kill");
	CHECK(waitpid(old, &status, 0) == old, "waitpid old vcapd");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "old vcapd exit 0x%x", status);
	deadline = mono_ms() + 5000;
	while (!(now = find_vcapd_child(old)) && mono_ms() < deadline)
		sleep_ms(10);
	CHECK(now > 0, "no new vcapd after SIGUSR2");
	d.pid = now;
	harness_vcapd_pid = now;
	status_rings(&d); /* it answers */
	CHECK(metrics_answers(metrics), "metrics after the upgrade");
	check_exact(&host, "consumer across SIGUSR2", N_SIG, N_SIG);
	vcapd_stop(&d);
	unlink(metrics);
	cleanup();
}

/* The if: scenario on two lanes: both sockets of the fanout group handed over. */
static void fanout(void)
{
	if_spec = "if:veth0,fanout=2,ring=64Mi,block=256Ki";
	per_flow = true;
	live_if();
}

int main(int argc, char **argv)
{
	static const struct scenario list[] = {
		{ "synth", synth },
		{ "if", live_if },
		{ "fanout", fanout },
		{ "pcap", pcap_file },
		{ "refused", refused },
		{ "sigusr2", sigusr2 },
		{ "vm", vm_handover },
	};

	/* the new vcapd is the old one's child: once the old one exits, it is ours */
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "subreaper");
	return run_scenario(argc, argv, list, sizeof(list) / sizeof(list[0]));
}
