/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_reload.c - vcapd reads its configuration file again, without a
 * restart (`vcapctl reload`'s RELOAD request, and SIGHUP), on a real vcapd
 * with real consumers.  One scenario per run: `test_reload NAME`.
 *
 *   keep      a reload that removes a source, adds one and changes a
 *             tenant's limits: consumers of the unchanged source (the
 *             admin's and a tenant's) get every packet of its count, none
 *             dropped; the removed source's consumer sees its ring dropped;
 *             the added source opens, the removed one does not; the
 *             tenant's new limit is applied; the reply counts all of it
 *   refused   bad files (a syntax error, an interface that does not exist,
 *             a moved main socket, a tenant of a missing VM) are refused
 *             with FILE:LINE; vcapd runs on the old configuration: its
 *             consumers lose nothing, its sockets stay, no descriptor leaks
 *   tenants   a tenant whose policy changed has its session ended, a removed
 *             tenant's socket is gone and its session ended, an added
 *             tenant's socket serves, an unchanged tenant keeps its ring;
 *             a tenant may not reload vcapd
 *   sighup    SIGHUP applies a changed file as RELOAD does
 *   vm        a VM added by a reload is served (QEMU's side of the ivshmem
 *             protocol gets the region); removed, its socket goes and the
 *             connected "QEMU" sees the server hang up
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "harness.h"
#include "vcap.h"

#define N_KEEP 100000u

static struct vcapd_proc d;
static char conf[160], sock_t[160], sock_u[160], sock_w[160], sock_vm[160];

/* Write the configuration file anew. */
#define write_conf(...) harness_write(conf, __VA_ARGS__)

static void paths(void)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/vcap-reload-XXXXXX");
	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(conf, sizeof(conf), "%s/vcapd.conf", dir);
	snprintf(sock_t, sizeof(sock_t), "%s/t.sock", dir);
	snprintf(sock_u, sizeof(sock_u), "%s/u.sock", dir);
	snprintf(sock_w, sizeof(sock_w), "%s/w.sock", dir);
	snprintf(sock_vm, sizeof(sock_vm), "%s/vm.sock", dir);
}

static void cleanup(void)
{
	char dir[160];

	unlink(conf);
	snprintf(dir, sizeof(dir), "%s", conf);
	*strrchr(dir, '/') = '\0';
	CHECK(rmdir(dir) == 0, "%s left files behind: %s", dir, strerror(errno));
}

/* RELOAD over a raw session on sock; @return its status, with the reply in *r. */
static int reload_on(const char *sock, struct vcap_msg *r)
{
	static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];
	struct vcapd_proc on = d;
	struct vcap_msg m;
	char why[128];
	int fd;
	ssize_t n;

	snprintf(on.sock, sizeof(on.sock), "%s", sock);
	fd = raw_session(&on);
	vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_RELOAD);
	n = vcap_msg_encode(&m, buf, sizeof(buf));
	CHECK(vcap_unix_send(fd, buf, (size_t)n, NULL, 0) == 0, "send reload");
	n = vcap_unix_recv(fd, buf, sizeof(buf), NULL, NULL);
	CHECK(n > 0 && vcap_msg_decode(buf, (size_t)n, r, why, sizeof(why)) == 0, "reload: %s",
	      why);
	close(fd);
	return r->status;
}

static struct vcap_msg_reload_reply reload_ok(void)
{
	struct vcap_msg r;

	CHECK(reload_on(d.sock, &r) == 0, "reload refused: %s", r.text);
	return r.u.reload_reply;
}

/* A refused reload: its reason names the file and line. */
static void reload_refused(unsigned line, const char *what)
{
	struct vcap_msg r;
	char where[200];

	CHECK(reload_on(d.sock, &r) < 0, "a bad file was accepted (%s)", what);
	snprintf(where, sizeof(where), "%s:%u: ", conf, line);
	if (line)
		CHECK(strstr(r.text, where), "\"%s\" does not name %s", r.text, where);
	CHECK(strstr(r.text, what), "\"%s\" does not say \"%s\"", r.text, what);
	fprintf(stderr, "refused: %s\n", r.text);
}

static struct vcap *open_on(const char *sock, const char *dev)
{
	VCAP_OPTS(vcap_open_opts, o, .socket_path = sock, .ring_size = 16u << 20);

	return vcap_open(dev, &o);
}

/* Read h until its source's count arrived (EOF) or rc < 0; @return packets read. */
static uint64_t read_until(struct vcap *h, uint64_t stop_at, int *rc)
{
	struct vcap_pkt p[256];
	uint64_t got = 0, deadline = mono_ms() + 60000;

	*rc = 0;
	while (got < stop_at && mono_ms() < deadline) {
		int n = vcap_recv_timeout(h, p, 256, 100);

		if (n < 0) {
			*rc = n;
			break;
		}
		got += (uint64_t)n;
	}
	return got;
}

/* vcapd ended h's ring or session: its receive fails.  @return the error. */
static int see_session_end(struct vcap *h, const char *who)
{
	uint64_t deadline = mono_ms() + 10000;
	struct vcap_pkt p[64];
	int n;

	do
		n = vcap_recv_timeout(h, p, 64, 100);
	while (n >= 0 && mono_ms() < deadline);
	CHECK(n < 0, "%s: its session did not end", who);
	fprintf(stderr, "%s: %s\n", who, vcap_errmsg());
	return n;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* ---- keep ---------------------------------------------------------------- */

static void keep(void)
{
	struct vcap *admin, *tenant, *doomed, *added, *again;
	struct vcap_msg_reload_reply sum;
	struct vcap_stats st;
	uint64_t got_a, got_t;
	int rc;

	paths();
	write_conf("source keep synth:size=64,pps=50000,count=%u,consumers=2\n"
		   "source gone synth:size=64,pps=1000\n"
		   "tenant t socket %s\n"
		   "tenant t allow keep,new\n",
		   N_KEEP, sock_t);
	vcapd_start(&d, "--config", conf);
	admin = open_on(d.sock, "host:keep");
	tenant = open_on(sock_t, "host:keep");
	doomed = open_on(d.sock, "host:gone");
	CHECK(admin && tenant && doomed, "open: %s", vcap_errmsg());
	got_a = read_until(admin, 10000, &rc);
	CHECK(rc == 0, "read: %s", vcap_errmsg());

	write_conf("source keep synth:size=64,pps=50000,count=%u,consumers=2\n"
		   "source new synth:size=64,pps=1000\n"
		   "tenant t socket %s\n"
		   "tenant t allow keep,new\n"
		   "tenant t rings 1\n",
		   N_KEEP, sock_t);
	sum = reload_ok();
	CHECK_EQ(sum.sources_kept, 1);
	CHECK_EQ(sum.sources_added, 1);
	CHECK_EQ(sum.sources_removed, 1);
	CHECK_EQ(sum.rings_ended, 1);
	CHECK_EQ(sum.tenants_changed, 0);
	CHECK_EQ(sum.sessions_ended, 0);

	/* the removed source's ring is dropped; the source cannot be opened */
	CHECK_EQ(see_session_end(doomed, "the removed source's consumer"), -EPIPE);
	vcap_close(doomed);
	again = open_on(d.sock, "host:gone");
	CHECK(!again && strstr(vcap_errmsg(), "no such source"), "%s", vcap_errmsg());
	added = open_on(d.sock, "host:new");
	CHECK(added, "the added source: %s", vcap_errmsg());
	vcap_close(added);
	/* the tenant's new limit: it holds one ring, its limit is 1 now */
	again = open_on(sock_t, "host:new");
	CHECK(!again && strstr(vcap_errmsg(), "tenant t rings"), "%s", vcap_errmsg());

	/* the unchanged source's consumers: every packet of its count, none dropped */
	got_a += read_until(admin, N_KEEP - got_a, &rc);
	got_t = read_until(tenant, N_KEEP, &rc);
	fprintf(stderr, "kept consumers: admin %llu, tenant %llu of %u\n",
		(unsigned long long)got_a, (unsigned long long)got_t, N_KEEP);
	CHECK_EQ(got_a, N_KEEP);
	CHECK_EQ(got_t, N_KEEP);
	CHECK(vcap_stats(admin, &st, sizeof(st)) == 0, "stats");
	CHECK_EQ(st.received, N_KEEP);
	CHECK_EQ(st.dropped, 0);
	CHECK(vcap_stats(tenant, &st, sizeof(st)) == 0, "stats");
	CHECK_EQ(st.delivered, N_KEEP);
	CHECK_EQ(st.dropped, 0);
	vcap_close(admin);
	vcap_close(tenant);
	vcapd_stop(&d);
	cleanup();
}

/* ---- refused ------------------------------------------------------------- */

/* vcapd on the socket its file names (the harness gives --socket, which a file cannot move). */
static void start_from_file(const char *sock)
{
	char bin[512];
	uint64_t deadline = mono_ms() + 10000;

	snprintf(d.dir, sizeof(d.dir), "/tmp/vcap-test-XXXXXX");
	CHECK(mkdtemp(d.dir), "mkdtemp");
	snprintf(d.sock, sizeof(d.sock), "%s", sock);
	snprintf(bin, sizeof(bin), "%s/daemon/vcapd", build_dir());
	d.pid = fork();
	CHECK(d.pid >= 0, "fork");
	if (d.pid == 0) {
		execl(bin, bin, "--foreground", "--config", conf, (char *)NULL);
		_exit(127);
	}
	harness_vcapd_pid = d.pid;
	if (!harness_owner) {
		harness_owner = getpid();
		atexit(harness_kill_vcapd);
	}
	for (;;) {
		int fd = vcap_unix_connect(d.sock);

		if (fd >= 0) {
			close(fd);
			return;
		}
		CHECK(mono_ms() < deadline && waitpid(d.pid, NULL, WNOHANG) == 0,
		      "vcapd did not come up on %s", d.sock);
		sleep_ms(10);
	}
}

static void refused(void)
{
	static const char good[] = "socket %s\n"
				   "source s synth:size=64,pps=20000,count=%u\n"
				   "tenant t socket %s\n"
				   "tenant t allow s\n";
	char main_sock[160];
	struct vcap *h;
	uint64_t got;
	int fds, rc;

	paths();
	snprintf(main_sock, sizeof(main_sock), "%s", sock_vm); /* a free name in the directory */
	write_conf(good, main_sock, N_KEEP, sock_t);
	start_from_file(main_sock);
	h = open_on(sock_t, "host:s");
	CHECK(h, "open: %s", vcap_errmsg());
	got = read_until(h, 1000, &rc);
	fds = settled_fds(d.pid);

	write_conf("socket %s\n"
		   "source s synth:size=64,pps=20000,count=%u\n"
		   "tenant t socket %s\n"
		   "tenant t allow s\n"
		   "limit rings-per-session many\n",
		   main_sock, N_KEEP, sock_t);
	reload_refused(5, "not a number");
	write_conf("socket %s\n"
		   "source s synth:size=64,pps=20000,count=%u\n"
		   "source x if:vcapnosuch0\n"
		   "tenant t socket %s\n"
		   "tenant t allow s\n",
		   main_sock, N_KEEP, sock_t);
	reload_refused(3, "vcapnosuch0");
	write_conf("socket %s.moved\n"
		   "source s synth:size=64,pps=20000,count=%u\n",
		   main_sock, N_KEEP);
	reload_refused(0, "cannot move without a restart");
	write_conf("socket %s\n"
		   "source s synth:size=64,pps=20000,count=%u\n"
		   "tenant t socket %s\n"
		   "tenant t allow s\n"
		   "tenant t vm nosuchvm\n",
		   main_sock, N_KEEP, sock_t);
	reload_refused(3, "no vm nosuchvm");
	/* a new tenant whose socket cannot be made: nothing of the file is applied */
	write_conf("socket %s\n"
		   "source s synth:size=64,pps=20000,count=%u\n"
		   "source s2 synth:size=64\n"
		   "tenant t socket %s\n"
		   "tenant t allow s\n"
		   "tenant u socket %s/u.sock\n"
		   "tenant u allow s\n",
		   main_sock, N_KEEP, sock_t, conf); /* under a file: no directory */
	reload_refused(6, "u.sock: Not a directory");
	/* SIGHUP with a bad file: refused too, vcapd runs on */
	write_conf("nonsense\n");
	CHECK(kill(d.pid, SIGHUP) == 0, "kill");

	/* still the old configuration: the tenant's socket, its consumer, one source */
	CHECK(exists(sock_t), "the tenant's socket went");
	CHECK_EQ(status_query(&d)->u.status_reply.n_sources, 1);
	got += read_until(h, N_KEEP - got, &rc);
	CHECK_EQ(got, N_KEEP);
	CHECK_EQ(settled_fds(d.pid), fds);
	vcap_close(h);
	write_conf(good, main_sock, N_KEEP, sock_t);
	vcapd_stop(&d);
	cleanup();
}

/* ---- tenants ------------------------------------------------------------- */

static void tenants(void)
{
	struct vcap *ht, *hu, *hx, *hw;
	struct vcap_msg_reload_reply sum;
	struct vcap_msg r;
	uint64_t got;
	int rc;

	paths();
	write_conf("source s synth:size=64,pps=20000,count=%u,consumers=3\n"
		   "source s2 synth:size=64,pps=1000\n"
		   "tenant t socket %s\n"
		   "tenant t allow s\n"
		   "tenant u socket %s\n"
		   "tenant u allow s\n"
		   "tenant x uid 4242\n"
		   "tenant x allow s\n",
		   N_KEEP, sock_t, sock_u);
	vcapd_start(&d, "--config", conf);
	/* the admin's ring on s is the unchanged consumer (root on the main socket) */
	hx = open_on(d.sock, "host:s");
	ht = open_on(sock_t, "host:s");
	hu = open_on(sock_u, "host:s");
	CHECK(hx && ht && hu, "open: %s", vcap_errmsg());
	CHECK(reload_on(sock_t, &r) == -EPERM, "a tenant reloaded vcapd: %s", r.text);

	/* t may now open s2 as well (policy changed), u is gone, w is new */
	write_conf("source s synth:size=64,pps=20000,count=%u,consumers=3\n"
		   "source s2 synth:size=64,pps=1000\n"
		   "tenant t socket %s\n"
		   "tenant t allow s,s2\n"
		   "tenant w socket %s\n"
		   "tenant w allow s2\n"
		   "tenant x uid 4242\n"
		   "tenant x allow s\n",
		   N_KEEP, sock_t, sock_w);
	sum = reload_ok();
	CHECK_EQ(sum.tenants_added, 1);
	CHECK_EQ(sum.tenants_removed, 1);
	CHECK_EQ(sum.tenants_changed, 1);
	CHECK_EQ(sum.sessions_ended, 2);
	see_session_end(ht, "changed tenant t");
	see_session_end(hu, "removed tenant u");
	CHECK(!exists(sock_u), "the removed tenant's socket is still there");
	vcap_close(ht);
	vcap_close(hu);
	/* t starts over under its new policy; w is served */
	ht = open_on(sock_t, "host:s2");
	CHECK(ht, "t under its new policy: %s", vcap_errmsg());
	hw = open_on(sock_w, "host:s2");
	CHECK(hw, "the added tenant: %s", vcap_errmsg());
	CHECK(!open_on(sock_w, "host:s") && strstr(vcap_errmsg(), "tenant w may not"), "%s",
	      vcap_errmsg());
	/* the unchanged consumer lost nothing */
	got = read_until(hx, N_KEEP, &rc);
	CHECK_EQ(got, N_KEEP);
	vcap_close(ht);
	vcap_close(hw);
	vcap_close(hx);
	vcapd_stop(&d);
	CHECK(!exists(sock_t) && !exists(sock_w), "tenant sockets left behind");
	cleanup();
}

/* ---- sighup -------------------------------------------------------------- */

static void sighup(void)
{
	uint64_t deadline;
	bool seen = false;

	paths();
	write_conf("source a synth:size=64,pps=1000\n");
	vcapd_start(&d, "--config", conf);
	write_conf("source a synth:size=64,pps=1000\n"
		   "source b synth:size=64,pps=1000\n");
	CHECK(kill(d.pid, SIGHUP) == 0, "kill");
	for (deadline = mono_ms() + 10000; !seen && mono_ms() < deadline;) {
		seen = status_query(&d)->u.status_reply.n_sources == 2;
		if (!seen)
			sleep_ms(20);
	}
	CHECK(seen, "SIGHUP did not add source b");
	CHECK(!strcmp(status_source(&d, "b").spec, "synth:size=64,pps=1000"), "spec");
	vcapd_stop(&d);
	cleanup();
}

/* ---- vm ------------------------------------------------------------------ */

/* Connect to a VM socket as QEMU does; @return the socket once the region came. */
static int qemu_side(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint64_t deadline = mono_ms() + 10000;

	CHECK(sock >= 0, "socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_vm);
	CHECK(connect(sock, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s", sock_vm,
	      strerror(errno));
	/* ivshmem-spec.rst: version, our id, then the shared memory (-1 with a descriptor) */
	while (mono_ms() < deadline) {
		int fd;
		bool shm = ivshmem_msg(sock, &fd) == -1 && fd >= 0;

		if (fd >= 0)
			close(fd);
		if (shm)
			return sock;
	}
	CHECK(0, "no shared memory from vcapd's ivshmem server");
	return -1;
}

static void vm(void)
{
	struct vcap_msg_reload_reply sum;
	char buf[64];
	ssize_t n;
	int q;

	paths();
	write_conf("source a synth:size=64,pps=1000\n");
	vcapd_start(&d, "--config", conf);
	write_conf("source a synth:size=64,pps=1000\n"
		   "vm g %s size=4Mi\n",
		   sock_vm);
	sum = reload_ok();
	CHECK_EQ(sum.vms_added, 1);
	q = qemu_side();

	write_conf("source a synth:size=64,pps=1000\n");
	sum = reload_ok();
	CHECK_EQ(sum.vms_removed, 1);
	CHECK(!exists(sock_vm), "the removed VM's socket is still there");
	/* QEMU's chardev sees the server hang up (what is left queued, then EOF) */
	while ((n = recv(q, buf, sizeof(buf), 0)) > 0)
		;
	CHECK(n == 0, "the removed VM's QEMU connection: %s", strerror(errno));
	close(q);
	/* and back again: a VM may be added once more under the same name */
	write_conf("source a synth:size=64,pps=1000\n"
		   "vm g %s size=4Mi\n",
		   sock_vm);
	sum = reload_ok();
	CHECK_EQ(sum.vms_added, 1);
	close(qemu_side());
	vcapd_stop(&d);
	CHECK(!exists(sock_vm), "VM socket left behind");
	cleanup();
}

int main(int argc, char **argv)
{
	static const struct scenario list[] = { { "keep", keep },       { "refused", refused },
						{ "tenants", tenants }, { "sighup", sighup },
						{ "vm", vm } };

	return RUN_SCENARIOS(argc, argv, list);
}
