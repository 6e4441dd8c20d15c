/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * main.c - vcapd, the vcap host daemon: options, start-up, shut-down.
 *
 * Everything that can be wrong with the command line or the configuration
 * is found before vcapd forks into the background, so a bad start fails
 * loudly on the terminal that started it.
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "jobs.h"
#include "loop.h"
#include "metrics.h"
#include "notify.h"
#include "options.h"
#include "reload.h"
#include "policy.h"
#include "session_unix.h"
#include "source.h"
#include "unix_carrier.h"
#include "upgrade.h"
#include "util.h"
#include "vcap.h"
#include "vcapd.h"
#include "vm.h"


/*
 * Every option a source or VM parser takes (their tables: source_ops.options,
 * source_common_options, vm_options) must be shown here: tests/test_options.c
 * checks it.
 */
static void usage(FILE *out)
{
	fprintf(out,
		"usage: vcapd [--socket PATH] [--source NAME=SPEC]... [--vm NAME=SOCKET,size=SIZE]...\n"
		"             [--config FILE] [--metrics LISTEN] [--foreground] [--help]\n"
		"\n"
		"Capture packets once on the host and deliver them, filtered, into a\n"
		"shared-memory ring per consumer (host:NAME in libvcap).\n"
		"\n"
		"  --socket PATH        control socket (default %s)\n"
		"  --source NAME=SPEC   a source; SPEC is one of\n"
		"        synth:size=64,pps=0,count=0,flows=1024,proto=mix,ipv6=0,vlan=0,"
		"consumers=1,coalesce=50\n"
		"                       packet generator: frames of `size` bytes over `flows`\n"
		"                       5-tuples, proto=udp|tcp|mix, ipv6=percent of flows on\n"
		"                       IPv6, vlan=ID tags every frame; pps=0 is flat out,\n"
		"                       count=0 forever; starts once `consumers` consumers are\n"
		"                       attached; coalesce=US: paced, it releases packets 64 at a\n"
		"                       time or US microseconds after the last release, like a\n"
		"                       NIC's interrupt moderation (0: each as it falls due)\n"
		"        pcap:FILE[,speed=1|N|max][,loop=N][,consumers=1]\n"
		"                       replay a capture file at its own pace, N times faster or\n"
		"                       flat out (loop=0: forever); starts once `consumers`\n"
		"                       consumers are attached\n"
		"        if:IFACE[,promisc=1][,ring=SIZE][,block=SIZE][,snaplen=N][,fanout=N]\n"
		"                       live capture with AF_PACKET TPACKET_V3: ring= the kernel\n"
		"                       ring's bytes (64Mi), block= its block size (1Mi);\n"
		"                       fanout=N: N sockets in a PACKET_FANOUT_HASH group, one\n"
		"                       capture thread (lane) each, a flow's packets on one lane\n"
		"        xdp:IFACE[,queues=all|Q:Q][,mode=native|generic][,zerocopy=auto|on|off][,pass=1][,ring=N][,coalesce=US][,loan=auto|all]\n"
		"                       live capture with AF_XDP, a socket and a lane per RX\n"
		"                       queue; vcap's XDP program drops (pass=1: hands to the\n"
		"                       stack) what no consumer's rules name or filter accepts;\n"
		"                       loan=all: every frame lent to the kernel, for bursts,\n"
		"                       not only what the rate needs (auto)\n"
		"                       any SPEC may add cpu=N to pin its capture thread, or\n"
		"                       cpu=A:B:.. to pin lane k's to the k-th;\n"
		"                       a source that has ended (its count sent, its file\n"
		"                       replayed) does not start again: opening it fails\n"
		"                       without any source: %s\n"
		"  --vm NAME=SOCKET,size=SIZE[,vectors=N][,qmp=PATH[,port=ID][,plug=auto|manual]]\n"
		"                       serve a VM guest: vcapd is the ivshmem server on SOCKET\n"
		"                       for QEMU's ivshmem-doorbell device; SIZE (a power of two,\n"
		"                       1Mi..1Gi) is the region its rings are carved from; with\n"
		"                       qmp= vcapd plugs the device into pcie-root-port ID\n"
		"                       (vcap-port) through QEMU's QMP socket PATH, at start\n"
		"                       (auto) or on vcapctl vm attach (manual): docs/vm-hotplug.md\n"
		"  --config FILE        read sources, VMs, tenants and limits from FILE (its\n"
		"                       lines: daemon/config.h, docs/security.md); sockets are\n"
		"                       root's, mode 0600, unless a socket line says otherwise\n"
		"  --max-ring-memory N  bytes all rings may take together (default 4Gi)\n"
		"  --log-level LEVEL    log messages of LEVEL or more urgent: error, warning,\n"
		"                       notice, info (default) or debug\n"
		"  --metrics LISTEN     serve Prometheus metrics (GET /metrics) on LISTEN:\n"
		"                       HOST:PORT, [V6]:PORT or unix:PATH; off by default\n"
		"  --foreground         stay in the foreground and log to stderr\n"
		"  --help               this text\n",
		VCAP_DEFAULT_SOCKET, VCAPD_DEFAULT_SOURCE);
}

static int daemonize(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0); /* the socket already listens: clients may connect now */
	if (setsid() < 0)
		return -errno;
	if (!freopen("/dev/null", "r", stdin) || !freopen("/dev/null", "w", stdout) ||
	    !freopen("/dev/null", "w", stderr))
		return -errno;
	return chdir("/") ? -errno : 0;
}

/*
 * Open every tenant's own socket, with the owner, group and mode its
 * `tenant NAME socket` line gives (root only by default): whoever may
 * connect to it is that tenant.  Uid tenants reach the main socket only if
 * its `socket` line lets them.
 */
static int listen_tenants(struct vcapd *d)
{
	char err[512];

	for (struct tenant *t = d->tenants; t; t = t->next) {
		if (!t->socket[0])
			continue;
		t->listen_fd = upgrade_listener(t->socket); /* an upgrade hands it over */
		if (t->listen_fd < 0)
			t->listen_fd = unix_listen(t->socket, &t->socket_perm, err, sizeof(err));
		if (t->listen_fd < 0) {
			fprintf(stderr, "vcapd: tenant %s: %s\n", t->name, err);
			return t->listen_fd;
		}
	}
	return 0;
}

/* Give each VM its tenant and open its ivshmem socket, served from l. */
static int start_vms(struct vcapd *d, struct loop *l)
{
	char err[512];
	int rc;

	for (struct tenant *t = d->tenants; t; t = t->next) {
		struct vm *vm;

		if (!t->vm[0])
			continue;
		vm = vm_find(d->vms, t->vm);
		if (!vm) {
			fprintf(stderr, "vcapd: %s:%u: tenant %s: no vm %s\n", d->config_path,
				t->lineno, t->name, t->vm);
			return -ENOENT;
		}
		vm_set_tenant(vm, t);
	}
	for (struct vm *vm = d->vms; vm; vm = vm_next(vm)) {
		rc = upgrade_taking_over() ? upgrade_start_vm(vm, d, l, err, sizeof(err))
					   : vm_start(vm, d, l, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "vcapd: %s\n", err);
			return rc;
		}
	}
	return 0;
}

/* The main socket and every tenant's, served from l. */
static int serve_sockets(struct vcapd *d, struct loop *l, int main_fd)
{
	int rc = unix_serve(d, l, main_fd, NULL);

	for (struct tenant *t = d->tenants; t && !rc; t = t->next)
		if (t->listen_fd >= 0)
			rc = unix_serve(d, l, t->listen_fd, t);
	if (rc)
		fprintf(stderr, "vcapd: epoll: %s\n", strerror(-rc));
	return rc;
}

struct signal_watch {
	struct loop_watch watch;
	struct vcapd *d;
	int fd;
};

/*
 * SIGUSR2: hand everything to the binary vcapd was started as (upgrade.h),
 * as nginx does; on success this process leaves at once.  While requests
 * are being answered off the control thread it cannot (-EAGAIN): it tries
 * again every 100 ms, for up to 10 s, as vcapctl upgrade does.
 */
#define UPGRADE_RETRY_MS 100
#define UPGRADE_RETRIES 100

static struct upgrade_retry {
	struct loop_watch watch;
	struct vcapd *d;
	unsigned left; /* tries left; 0: none pending */
} upgrade_retry;

static void upgrade_try(struct upgrade_retry *r)
{
	char err[512];
	uint32_t pid;
	uint64_t paused;
	int rc = upgrade_run(r->d, NULL, &pid, &paused, err, sizeof(err));

	if (rc == 0)
		_exit(0);
	if (rc == -EAGAIN && r->left) {
		if (r->left == UPGRADE_RETRIES) {
			if (loop_every(r->d->loop, UPGRADE_RETRY_MS, &r->watch)) {
				r->left = 0; /* no timer: this signal is done with */
				return;
			}
			vlog(LOG_NOTICE, "SIGUSR2: %s; trying again for %u s", err,
			     UPGRADE_RETRIES * UPGRADE_RETRY_MS / 1000);
		}
		r->left--;
		return;
	}
	/* upgrade_run logged why; this vcapd goes on */
	if (r->left < UPGRADE_RETRIES)
		loop_cancel(r->d->loop, &r->watch);
	r->left = 0;
}

static void upgrade_retry_tick(struct loop_watch *w, uint32_t events)
{
	(void)events;
	upgrade_try((struct upgrade_retry *)w);
}

static void upgrade_on_signal(struct vcapd *d)
{
	vlog(LOG_NOTICE, "SIGUSR2: upgrading");
	if (upgrade_retry.left)
		return; /* one is pending already */
	upgrade_retry = (struct upgrade_retry){ .watch.on_event = upgrade_retry_tick, .d = d,
						.left = UPGRADE_RETRIES };
	upgrade_try(&upgrade_retry);
}

/* SIGHUP reloads the configuration file; SIGINT and SIGTERM end the loop. */
static void on_signal(struct loop_watch *w, uint32_t events)
{
	struct signal_watch *sw = (struct signal_watch *)w;
	struct signalfd_siginfo si;
	char err[512];

	(void)events;
	while (read(sw->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR2) {
			upgrade_on_signal(sw->d);
			continue;
		}
		if (si.ssi_signo != SIGHUP) {
			loop_stop(sw->d->loop);
			return;
		}
		vlog(LOG_NOTICE, "SIGHUP: reloading %s", sw->d->config_path);
		(void)reload(sw->d, NULL, err, sizeof(err)); /* it logs what it did or why not */
	}
}

static void block_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGUSR2);
}

/* Signals are blocked in every thread and read here, by the control loop. */
static int watch_signals(struct vcapd *d)
{
	static struct signal_watch sw = { .watch.on_event = on_signal };
	sigset_t mask;

	block_signals(&mask);
	sw.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sw.fd < 0)
		return -errno;
	sw.d = d;
	return loop_add(d->loop, sw.fd, EPOLLIN, &sw.watch);
}

/*
 * What the command line and a configuration file made before one of them
 * failed: freed, so that a refusal to start leaks nothing (the sanitizers
 * of the tests' builds would fail the run otherwise).
 */
static void free_parsed(struct vcapd *d)
{
	struct source *s;

	while ((s = d->sources)) {
		d->sources = s->next;
		source_destroy(s);
	}
	while (d->vms) {
		struct vm *vm = d->vms;

		d->vms = vm_next(vm);
		vm_destroy(vm);
	}
	config_free(d);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "source", required_argument, NULL, 'S' },
		{ "config", required_argument, NULL, 'c' },
		{ "vm", required_argument, NULL, 'V' },
		{ "max-ring-memory", required_argument, NULL, 'M' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		/* not for people: an upgrading vcapd runs the next one with it (upgrade.h) */
		{ "takeover", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct vcapd d = VCAPD_DEFAULTS;
	const char *socket_opt = NULL, *metrics_opt = NULL;
	struct source **tail = &d.sources, *s;
	bool foreground = false;
	static char config_abs[PATH_MAX];
	char err[512];
	struct loop *loop;
	sigset_t mask;
	int opt, listen_fd, rc;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_opt = optarg;
			break;
		case 'S':
			rc = source_create(optarg, NULL, &s, err, sizeof(err));
			if (rc) {
				fprintf(stderr, "vcapd: %s\n", err);
				return 1;
			}
			if (source_find(d.sources, s->name)) {
				fprintf(stderr, "vcapd: source %s is defined twice\n", s->name);
				return 1;
			}
			*tail = s;
			tail = &s->next;
			break;
		case 'c':
			/* a reload reads it again after daemonize() moved to / */
			if (!realpath(optarg, config_abs)) {
				fprintf(stderr, "vcapd: %s: %s\n", optarg, strerror(errno));
				free_parsed(&d);
				return 1;
			}
			if (config_load(&d, config_abs, err, sizeof(err))) {
				fprintf(stderr, "vcapd: %s\n", err);
				free_parsed(&d);
				return 1;
			}
			while (*tail)
				tail = &(*tail)->next;
			break;
		case 'V': {
			struct vm *vm;

			if (vm_create(optarg, &vm, err, sizeof(err))) {
				fprintf(stderr, "vcapd: %s\n", err);
				return 1;
			}
			if (vm_find(d.vms, vm_name(vm))) {
				fprintf(stderr, "vcapd: vm %s is defined twice\n", vm_name(vm));
				return 1;
			}
			vm_set_next(vm, d.vms);
			d.vms = vm;
			break;
		}
		case 'M':
			if (parse_u64(optarg, "--max-ring-memory", 1u << 16, 1ull << 40,
				      &d.cmdline_ring_memory, err, sizeof(err))) {
				fprintf(stderr, "vcapd: %s\n", err);
				return 2;
			}
			break;
		case 'L':
			rc = vlog_level_of(optarg);
			if (rc < 0 || rc < LOG_ERR) {
				fprintf(stderr, "vcapd: --log-level %s: expected error, warning, notice, "
					"info or debug\n", optarg);
				return 2;
			}
			vlog_set_level(rc);
			break;
		case 'm': {
			struct metrics_addr addr;

			if (metrics_parse_listen(optarg, &addr, err, sizeof(err))) {
				fprintf(stderr, "vcapd: --%s\n", err);
				return 2;
			}
			metrics_opt = optarg;
			break;
		}
		case 'f':
			foreground = true;
			break;
		case 'T':
			if (upgrade_takeover_arg(optarg, err, sizeof(err))) {
				fprintf(stderr, "vcapd: %s\n", err);
				return 1;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vcapd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* an upgrade: the old vcapd parks now, and hands over its state */
	if (upgrade_taking_over() && upgrade_takeover_open(err, sizeof(err))) {
		fprintf(stderr, "vcapd: %s\n", err);
		return 1;
	}
	if (socket_opt) {
		d.socket_path = socket_opt;
		d.cmdline_socket = true;
	}
	if (metrics_opt) {
		d.metrics_listen = metrics_opt;
		d.cmdline_metrics = true;
	}
	if (!d.socket_path)
		d.socket_path = VCAP_DEFAULT_SOCKET;
	if (d.cmdline_ring_memory)
		d.limits.ring_memory_max = d.cmdline_ring_memory;
	if (!d.sources) {
		rc = source_create(VCAPD_DEFAULT_SOURCE, NULL, &d.sources, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "vcapd: default source: %s\n", err);
			return 1;
		}
		d.sources->from_config = true; /* a reload that brings sources replaces it */
	}

	listen_fd = upgrade_listener(d.socket_path); /* an upgrade hands it over */
	if (listen_fd < 0)
		listen_fd = unix_listen(d.socket_path, &d.socket_perm, err, sizeof(err));
	if (listen_fd < 0) {
		fprintf(stderr, "vcapd: %s\n", err);
		return 1;
	}
	loop = loop_new();
	if (!loop) {
		fprintf(stderr, "vcapd: epoll: %s\n", strerror(errno));
		return 1;
	}
	d.loop = loop;
	rc = jobs_init(loop);
	if (!rc)
		rc = listen_tenants(&d);
	if (!rc)
		rc = serve_sockets(&d, loop, listen_fd);
	if (!rc)
		rc = start_vms(&d, loop);
	if (!rc && upgrade_taking_over() && (rc = upgrade_adopt(&d, loop, err, sizeof(err))))
		fprintf(stderr, "vcapd: %s\n", err);
	if (!rc && (rc = metrics_start(&d, loop, err, sizeof(err))))
		fprintf(stderr, "vcapd: %s\n", err);
	if (rc)
		return 1;
	upgrade_init(&d, listen_fd, argc, argv);
	if (upgrade_taking_over()) {
		/* already in the background if the old one was; the old one's stderr is the log */
		if (!foreground && chdir("/"))
			return 1;
	} else if (!foreground && (rc = daemonize())) {
		fprintf(stderr, "vcapd: cannot daemonize: %s\n", strerror(-rc));
		return 1;
	}
	vlog_init(!foreground);

	/* Only the control thread takes signals (signalfd); threads inherit this mask. */
	block_signals(&mask);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (upgrade_taking_over())
		upgrade_ready(); /* returns once the old vcapd let go of everything */
	for (s = d.sources; s; s = s->next) {
		rc = source_start(s);
		if (rc) {
			vlog(LOG_ERR, "source %s: cannot start its thread: %s", s->name,
			     strerror(-rc));
			return 1;
		}
		vlog(LOG_INFO, "source %s: %s", s->name, s->spec);
	}
	vlog(LOG_NOTICE, "listening on %s", d.socket_path);

	rc = watch_signals(&d);
	if (!rc) /* systemd's Type=notify: the socket listens, sources run, SIGTERM is heard */
		notify_ready("listening on %s", d.socket_path);
	if (!rc)
		rc = loop_run(loop);
	if (rc)
		vlog(LOG_ERR, "control loop failed: %s", strerror(-rc));
	vlog(LOG_NOTICE, "shutting down");
	notify_stopping();
	unix_end_all();
	for (struct vm *vm = d.vms; vm; vm = vm_next(vm))
		vm_disconnect(vm, NULL);
	jobs_drain(); /* the requests of those sessions were cancelled: let them clean up */
	metrics_stop();
	loop_free(loop);
	reload_sweep(&d, 1);

	while ((s = d.sources)) {
		d.sources = s->next;
		source_destroy(s);
	}
	close(listen_fd);
	unlink(d.socket_path);
	for (struct tenant *t = d.tenants; t; t = t->next) {
		if (t->listen_fd >= 0) {
			close(t->listen_fd);
			unlink(t->socket);
		}
	}
	while (d.vms) {
		struct vm *vm = d.vms;

		d.vms = vm_next(vm);
		vm_destroy(vm);
	}
	config_free(&d);
	return rc ? 1 : 0;
}
