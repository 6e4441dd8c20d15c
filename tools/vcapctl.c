/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcapctl - ask vcapd what it is doing.
 *
 *   vcapctl [--socket PATH] status [--json]
 *   vcapctl [--socket PATH] reload
 *   vcapctl [--socket PATH] upgrade [--binary PATH]
 *   vcapctl [--socket PATH] vm attach|detach NAME | vm list
 *
 * Lists every source and every ring with its counters: what PF_RING shows
 * under /proc/net/pf_ring.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "json.h"
#include "unix_carrier.h"
#include "vcap.h"

static const char *const state_names[] = { "idle", "running", "done", "failed" };

static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];
static struct vcap_msg req, reply;

static void usage(FILE *out)
{
	fprintf(out, "usage: vcapctl [--socket PATH] status [--json]\n"
		     "       vcapctl [--socket PATH] reload\n"
		     "       vcapctl [--socket PATH] upgrade [--binary PATH]\n"
		     "       vcapctl [--socket PATH] vm attach|detach NAME | vm list\n"
		     "\n"
		     "  --socket PATH  vcapd's socket (default $VCAP_SOCKET or %s)\n"
		     "  status         every source and ring with its counters\n"
		     "  --json         as one JSON object\n"
		     "  reload         make vcapd read its configuration file again and apply\n"
		     "                 what changed (as SIGHUP does); a bad file is refused with\n"
		     "                 FILE:LINE and the running configuration stays\n"
		     "  upgrade        make vcapd re-execute itself (or --binary PATH) and hand\n"
		     "                 every consumer, ring and socket to the new process (as\n"
		     "                 SIGUSR2 does); if the new one cannot take over, the old\n"
		     "                 one goes on and the reason is printed\n"
		     "  vm attach NAME plug VM NAME's device into its QEMU (vm ... qmp=PATH) and\n"
		     "                 wait until it is in; vm detach NAME: until the guest gave\n"
		     "                 it back; vm list: each VM's device state\n",
		VCAP_DEFAULT_SOCKET);
}

static bool soft_errors; /* call() returns error replies instead of exiting */

/* One request, one reply.  @return 0 or exits with a message. */
static void call(int sock, const char *path)
{
	static uint32_t seq;
	char why[160];
	ssize_t n;

	req.seq = ++seq;
	n = vcap_msg_encode(&req, buf, sizeof(buf));
	if (n < 0 || vcap_unix_send(sock, buf, (size_t)n, NULL, 0)) {
		fprintf(stderr, "vcapctl: %s: cannot send to vcapd\n", path);
		exit(1);
	}
	n = vcap_unix_recv(sock, buf, sizeof(buf), NULL, NULL);
	if (n <= 0) {
		fprintf(stderr, "vcapctl: %s: vcapd %s\n", path,
			n == 0 ? "closed the connection" : strerror((int)-n));
		exit(1);
	}
	if (vcap_msg_decode(buf, (size_t)n, &reply, why, sizeof(why))) {
		fprintf(stderr, "vcapctl: %s: bad reply: %s\n", path, why);
		exit(1);
	}
	if (reply.status < 0 && !soft_errors) {
		fprintf(stderr, "vcapctl: %s\n", reply.text);
		exit(1);
	}
}

static const char *state_name(uint32_t s)
{
	return s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

#define FIELD(f) (int)strnlen(f, sizeof(f)), f

static const char *mode_name(uint32_t m)
{
	static const char *const names[] = { "5-tuple", "4-tuple", "2-tuple", "round-robin" };

	return m < 4 ? names[m] : "?";
}

static void print_source(const struct vcap_status_source *e, bool json, bool first)
{
	if (!json) {
		printf("%-12.*s %-8s %5u %14llu %12llu  %.*s%s%.*s\n", FIELD(e->name),
		       state_name(e->state), e->n_rings, (unsigned long long)e->received,
		       (unsigned long long)e->kernel_drops, FIELD(e->spec), e->error[0] ? "  ! " : "",
		       FIELD(e->error));
		if (e->kernel_drop_all)
			printf("%-12s kernel filter: drop all (nobody listens)\n", "");
		else if (e->kernel_filter[0])
			printf("%-12s kernel filter: %.*s\n", "", FIELD(e->kernel_filter));
		return;
	}
	printf("%s{\"name\":", first ? "" : ",");
	json_str(stdout, e->name, sizeof(e->name));
	printf(",\"spec\":");
	json_str(stdout, e->spec, sizeof(e->spec));
	printf(",\"state\":\"%s\",\"rings\":%u,\"linktype\":%u,\"ifindex\":%u,\"mtu\":%u",
	       state_name(e->state), e->n_rings, e->linktype, e->ifindex, e->mtu);
	printf(",\"received\":%llu,\"kernel_drops\":%llu,\"error\":",
	       (unsigned long long)e->received, (unsigned long long)e->kernel_drops);
	json_str(stdout, e->error, sizeof(e->error));
	printf(",\"kernel_filter\":");
	json_str(stdout, e->kernel_filter, sizeof(e->kernel_filter));
	printf(",\"kernel_drop_all\":%s}", e->kernel_drop_all ? "true" : "false");
}

/*
 * What a ring costs the capture thread it shares with every other ring of
 * its source, per packet offered to it: "cost N ns/pkt", "cost - ns/pkt"
 * before its first packet.
 */
static void cost_text(const struct vcap_status_ring *e, char *buf, size_t len)
{
	int n;

	if (e->received)
		n = snprintf(buf, len, "cost %llu ns/pkt",
			     (unsigned long long)(e->filter_ns / e->received));
	else
		n = snprintf(buf, len, "cost - ns/pkt");
	if (e->over_budget && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", %llu over budget",
			 (unsigned long long)e->over_budget);
}

static void print_ring(const struct vcap_status_ring *e, bool json, bool first)
{
	if (!json) {
		char extra[224], cost[80];

		cost_text(e, cost, sizeof(cost));
		snprintf(extra, sizeof(extra), " [%s]", cost);
		if (e->cluster_id)
			snprintf(extra, sizeof(extra), " [cluster %u %s]", e->cluster_id,
				 mode_name(e->cluster_mode));
		/* what the rules dropped is part of FILTERED: shown beside the rules */
		if (e->rules || e->flows || e->shunted)
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
				 " [%u rules, %u flows, %llu shunted]", e->rules, e->flows,
				 (unsigned long long)e->shunted);
		if (e->tenant[0])
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
				 " [tenant %.*s]", FIELD(e->tenant));
		printf("%5u %-12.*s %-16.*s %7u %10u %4.0f%% %12llu %12llu %10llu %10llu  %.*s%s\n",
		       e->ring_id, FIELD(e->source), FIELD(e->client), e->pid, e->ring_size,
		       100.0 * e->used / (e->ring_size ? e->ring_size : 1),
		       (unsigned long long)e->received, (unsigned long long)e->delivered,
		       (unsigned long long)e->dropped, (unsigned long long)e->filtered,
		       FIELD(e->filter), extra);
		if (e->policy[0])
			printf("%5s policy: %.*s\n", "", FIELD(e->policy));
		return;
	}
	printf("%s{\"id\":%u,\"source\":", first ? "" : ",", e->ring_id);
	json_str(stdout, e->source, sizeof(e->source));
	printf(",\"client\":");
	json_str(stdout, e->client, sizeof(e->client));
	printf(",\"pid\":%u,\"uid\":%u,\"ring_size\":%u,\"used\":%u", e->pid, e->uid, e->ring_size,
	       e->used);
	printf(",\"received\":%llu,\"delivered\":%llu,\"dropped\":%llu,\"filtered\":%llu"
	       ",\"shunted\":%llu",
	       (unsigned long long)e->received, (unsigned long long)e->delivered,
	       (unsigned long long)e->dropped, (unsigned long long)e->filtered,
	       (unsigned long long)e->shunted);
	printf(",\"filter\":");
	json_str(stdout, e->filter, sizeof(e->filter));
	printf(",\"policy\":");
	json_str(stdout, e->policy, sizeof(e->policy));
	printf(",\"tenant\":");
	json_str(stdout, e->tenant, sizeof(e->tenant));
	printf(",\"cluster\":%u,\"cluster_mode\":\"%s\",\"rules\":%u,\"flows\":%u",
	       e->cluster_id, mode_name(e->cluster_mode), e->rules, e->flows);
	printf(",\"filter_ns\":%llu,\"over_budget\":%llu}", (unsigned long long)e->filter_ns,
	       (unsigned long long)e->over_budget);
}

/*
 * Fetch every page of STATUS.  Sources come first, so print them as pages
 * arrive, keep the rings, and print those last.
 */
static int status(int sock, const char *path, bool json)
{
	struct vcap_status_ring *rings = NULL;
	size_t n_rings = 0;
	uint32_t first = 0;
	bool any_source = false;

	if (json)
		printf("{\"sources\":[");
	else
		printf("%-12s %-8s %5s %14s %12s  %s\n", "SOURCE", "STATE", "RINGS", "RECEIVED",
		       "KERNEL-DROPS", "SPEC");
	do {
		vcap_msg_init(&req, VCAP_APP_CAPTURE, VCAP_MSG_STATUS);
		req.u.status.first = first;
		call(sock, path);
		for (uint32_t i = 0; i < reply.u.status_reply.n_sources; i++) {
			print_source(&reply.sources[i], json, !any_source);
			any_source = true;
		}
		if (reply.u.status_reply.n_rings) {
			size_t k = reply.u.status_reply.n_rings;
			struct vcap_status_ring *r = realloc(rings, (n_rings + k) * sizeof(*r));

			if (!r) {
				fprintf(stderr, "vcapctl: out of memory\n");
				return 1;
			}
			rings = r;
			memcpy(rings + n_rings, reply.rings, k * sizeof(*r));
			n_rings += k;
		}
		first = reply.u.status_reply.next;
	} while (first);

	if (json)
		printf("],\"rings\":[");
	else
		printf("\n%5s %-12s %-16s %7s %10s %5s %12s %12s %10s %10s  %s\n", "RING", "SOURCE",
		       "CLIENT", "PID", "SIZE", "USED", "RECEIVED", "DELIVERED", "DROPPED",
		       "FILTERED", "FILTER");
	for (size_t i = 0; i < n_rings; i++)
		print_ring(&rings[i], json, i == 0);
	if (json)
		printf("]}\n");
	free(rings);
	return 0;
}

/* RELOAD: what changed, or (call() exits) why the file was refused. */
static int reload(int sock, const char *path)
{
	const struct vcap_msg_reload_reply *r = &reply.u.reload_reply;

	vcap_msg_init(&req, VCAP_APP_CAPTURE, VCAP_MSG_RELOAD);
	call(sock, path);
	printf("reloaded: sources +%u -%u (%u unchanged), tenants +%u -%u (%u changed), "
	       "vms +%u -%u; %u ring(s) of removed sources and %u session(s) ended\n",
	       r->sources_added, r->sources_removed, r->sources_kept, r->tenants_added,
	       r->tenants_removed, r->tenants_changed, r->vms_added, r->vms_removed,
	       r->rings_ended, r->sessions_ended);
	return 0;
}

/*
 * UPGRADE: the new vcapd's pid and the pause, or why it did not take over.
 * vcapd refuses while requests are being answered (-EAGAIN): asked again
 * for up to 10 s.
 */
static int upgrade(int sock, const char *path, const char *binary)
{
	const struct vcap_msg_upgrade_reply *r = &reply.u.upgrade_reply;

	if (binary && strlen(binary) > VCAP_FILTER_MAX) {
		fprintf(stderr, "vcapctl: --binary: path too long\n");
		return 2;
	}
	soft_errors = true;
	for (int tries = 0;; tries++) {
		vcap_msg_init(&req, VCAP_APP_CAPTURE, VCAP_MSG_UPGRADE);
		snprintf(req.text, sizeof(req.text), "%s", binary ? binary : "");
		call(sock, path);
		if (reply.status != -EAGAIN || tries >= 100)
			break;
		usleep(100000);
	}
	if (reply.status < 0) {
		fprintf(stderr, "vcapctl: upgrade failed: %s\n", reply.text);
		return 1;
	}
	printf("upgraded: vcapd pid %u serves now; capture paused %.3f ms\n", r->pid,
	       (double)r->paused_ns / 1e6);
	return 0;
}

/* VM_ATTACH, VM_DETACH (or a query): the device's state, or (call() exits) QEMU's error. */
static int vm_cmd(int sock, const char *path, int argc, char **argv)
{
	bool list = argc == 1 && !strcmp(argv[0], "list");

	if (!list && (argc != 2 || (strcmp(argv[0], "attach") && strcmp(argv[0], "detach")))) {
		fprintf(stderr, "vcapctl: expected vm attach NAME, vm detach NAME or vm list\n");
		return 2;
	}
	if (!list && strlen(argv[1]) > VCAP_NAME_MAX) {
		fprintf(stderr, "vcapctl: vm name longer than %u bytes\n", VCAP_NAME_MAX);
		return 2;
	}
	vcap_msg_init(&req, VCAP_APP_CAPTURE,
		      list || !strcmp(argv[0], "attach") ? VCAP_MSG_VM_ATTACH : VCAP_MSG_VM_DETACH);
	if (list)
		req.u.vm.flags = VCAP_VM_QUERY;
	else
		snprintf(req.name, sizeof(req.name), "%s", argv[1]);
	call(sock, path);
	fputs(reply.text, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("VCAP_SOCKET");
	const char *binary = NULL;
	bool json = false;
	int opt, sock, rc;

	if (!path || !*path)
		path = VCAP_DEFAULT_SOCKET;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc || (strcmp(argv[optind], "status") && strcmp(argv[optind], "reload") &&
			       strcmp(argv[optind], "upgrade") && strcmp(argv[optind], "vm"))) {
		if (optind < argc)
			fprintf(stderr, "vcapctl: unknown command \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	for (int i = optind + 1; i < argc && strcmp(argv[optind], "vm"); i++) {
		if (!strcmp(argv[i], "--json") && !strcmp(argv[optind], "status")) {
			json = true;
		} else if (!strcmp(argv[i], "--binary") && i + 1 < argc &&
			   !strcmp(argv[optind], "upgrade")) {
			binary = argv[++i];
		} else {
			fprintf(stderr, "vcapctl: unexpected argument \"%s\"\n", argv[i]);
			return 2;
		}
	}

	sock = vcap_unix_connect(path);
	if (sock < 0) {
		fprintf(stderr, "vcapctl: %s: %s\n", path,
			sock == -ENOENT || sock == -ECONNREFUSED ? "vcapd is not running"
								 : strerror(-sock));
		return 1;
	}
	vcap_msg_init(&req, VCAP_APP_FRAMEWORK, VCAP_MSG_HELLO);
	req.u.hello.version_min = req.u.hello.version_max = VCAP_PROTO_VERSION;
	req.u.hello.pid = (uint32_t)getpid();
	strcpy(req.name, "vcapctl");
	call(sock, path);
	if (!strcmp(argv[optind], "upgrade"))
		rc = upgrade(sock, path, binary);
	else if (!strcmp(argv[optind], "vm"))
		rc = vm_cmd(sock, path, argc - optind - 1, argv + optind + 1);
	else
		rc = strcmp(argv[optind], "reload") ? status(sock, path, json) : reload(sock, path);
	close(sock);
	return rc;
}
