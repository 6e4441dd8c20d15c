/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * main.c - vcapd, the vcap host daemon: options, start-up, shut-down.
 *
 * Everything that can be wrong with the command line or the configuration
 * is found before vcapd forks into the background, so a bad start fails
 * loudly on the terminal that started it.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "options.h"
#include "unix_carrier.h"
#include "vcap.h"
#include "vcapd.h"

/* What vcapd serves when it is given no source at all: a demo generator. */
#define DEFAULT_SOURCE "synth=synth:size=64,pps=1M,flows=1024"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vcapd [--socket PATH] [--source NAME=SPEC]... [--config FILE]\n"
		"             [--foreground] [--help]\n"
		"\n"
		"Capture packets once on the host and deliver them, filtered, into a\n"
		"shared-memory ring per consumer (host:NAME in libvcap).\n"
		"\n"
		"  --socket PATH        control socket (default %s)\n"
		"  --source NAME=SPEC   a source; SPEC is one of\n"
		"        synth:size=64,pps=0,count=0,flows=1024,proto=mix,ipv6=0,vlan=0,consumers=1\n"
		"                       packet generator; pps=0 is flat out, count=0 forever;\n"
		"                       starts once `consumers` consumers are attached\n"
		"        pcap:FILE[,speed=1|N|max][,loop=N]\n"
		"                       replay a capture file (loop=0: forever)\n"
		"        if:IFACE[,promisc=1][,ring=SIZE][,snaplen=N]\n"
		"                       live capture with AF_PACKET TPACKET_V3\n"
		"                       any SPEC may add cpu=N to pin its capture thread\n"
		"                       without any source: %s\n"
		"  --config FILE        read sources and limits from FILE\n"
		"  --max-ring-memory N  bytes all rings may take together (default 4Gi)\n"
		"  --foreground         stay in the foreground and log to stderr\n"
		"  --help               this text\n",
		VCAP_DEFAULT_SOCKET, DEFAULT_SOURCE);
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "source", required_argument, NULL, 'S' },
		{ "config", required_argument, NULL, 'c' },
		{ "max-ring-memory", required_argument, NULL, 'M' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vcapd d = {
		.limits = { .max_rings = 64,
			    .ring_size_min = VCAP_RING_DATA_MIN,
			    .ring_size_max = VCAP_RING_DATA_MAX,
			    .ring_size_default = 16u << 20,
			    .ring_memory_max = 4ull << 30,
			    .max_sessions = 1024 },
	};
	const char *socket_opt = NULL;
	struct source **tail = &d.sources, *s;
	bool foreground = false;
	char err[512];
	sigset_t mask;
	int opt, listen_fd, rc;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_opt = optarg;
			break;
		case 'S':
			rc = source_create(optarg, &s, err, sizeof(err));
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
			if (config_load(&d, optarg, err, sizeof(err))) {
				fprintf(stderr, "vcapd: %s\n", err);
				return 1;
			}
			while (*tail)
				tail = &(*tail)->next;
			break;
		case 'M':
			if (parse_u64(optarg, "--max-ring-memory", 1u << 16, 1ull << 40,
				      &d.limits.ring_memory_max, err, sizeof(err))) {
				fprintf(stderr, "vcapd: %s\n", err);
				return 2;
			}
			break;
		case 'f':
			foreground = true;
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
	if (socket_opt)
		d.socket_path = socket_opt;
	if (!d.socket_path)
		d.socket_path = VCAP_DEFAULT_SOCKET;
	if (!d.sources) {
		rc = source_create(DEFAULT_SOURCE, &d.sources, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "vcapd: default source: %s\n", err);
			return 1;
		}
	}

	listen_fd = vcap_unix_listen(d.socket_path);
	if (listen_fd < 0) {
		fprintf(stderr, "vcapd: %s: %s\n", d.socket_path,
			listen_fd == -EADDRINUSE ? "another vcapd is already listening there"
						 : strerror(-listen_fd));
		return 1;
	}
	if (!foreground && (rc = daemonize())) {
		fprintf(stderr, "vcapd: cannot daemonize: %s\n", strerror(-rc));
		return 1;
	}
	vlog_init(!foreground);

	/* Only the control thread takes signals (signalfd); threads inherit this mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

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

	rc = control_run(&d, listen_fd);
	if (rc)
		vlog(LOG_ERR, "control loop failed: %s", strerror(-rc));
	vlog(LOG_NOTICE, "shutting down");

	while ((s = d.sources)) {
		d.sources = s->next;
		source_destroy(s);
	}
	close(listen_fd);
	unlink(d.socket_path);
	config_free(&d);
	return rc ? 1 : 0;
}
