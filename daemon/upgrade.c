/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * upgrade.c - vcapd hands every descriptor and its state to a new vcapd
 * (the sequence: upgrade.h; the state's format: upgrade_state.h).
 *
 * Why fork + exec rather than exec in place: a new binary that cannot take
 * over (another state format, a bad configuration, a crash) must leave the
 * old one serving untouched.  The old process therefore never closes,
 * shuts down or punches anything it hands over: it parks its capture
 * threads, and either exits (its copies of the descriptors go; the new
 * process holds the same open files, so no peer sees a hang-up) or unparks.
 */
#include "upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "consumer.h"
#include "filter.h"
#include "jobs.h"
#include "metrics.h"
#include "notify.h"
#include "policy.h"
#include "requests.h"
#include "session.h"
#include "session_unix.h"
#include "source.h"
#include "unix_carrier.h"
#include "upgrade_state.h"
#include "util.h"
#include "vcapd.h"
#include "vm.h"

#define READY_MS 10000      /* a new vcapd not ready by then is killed */
#define BACKEND_MAX (64u << 10) /* the largest backend state (if:'s kernel filter) */

/* ---- what the old process knows from its start ---------------------------- */

static char exe_path[PATH_MAX];
static char start_cwd[PATH_MAX];
static char **args; /* argv[1..] without any --takeover */
static int n_args;
static int main_listen_fd = -1;

void upgrade_init(struct vcapd *d, int main_fd, int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);

	(void)d; /* the state is read from it at upgrade time */
	exe_path[n > 0 ? n : 0] = '\0';
	/* a package upgrade replaces the file: its path names the new binary */
	if (n > 10 && !strcmp(exe_path + n - 10, " (deleted)"))
		exe_path[n - 10] = '\0';
	if (!getcwd(start_cwd, sizeof(start_cwd)))
		strcpy(start_cwd, "/");
	main_listen_fd = main_fd;
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		return;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--takeover")) {
			i++; /* and its descriptor: the next upgrade gets its own */
			continue;
		}
		if (!strncmp(argv[i], "--takeover=", 11))
			continue;
		args[n_args++] = argv[i];
	}
}

/* ---- the old side: what cannot be handed over yet ------------------------ */

struct busy_scan {
	const struct session *busy;
	unsigned n;
};

static void scan_busy(void *arg, struct session *ss, int fd, struct tenant *via)
{
	struct busy_scan *b = arg;

	(void)fd;
	(void)via;
	b->n++;
	if (ss->busy)
		b->busy = ss;
}

/*
 * The VMs being served, described once the control thread is in the
 * upgrade: nothing of them changes until it leaves (their descriptors are
 * inherited, their queue positions written with the state).
 */
struct saved_vm {
	struct vm *vm;
	struct vm_saved sv;
};
static struct saved_vm *saved_vms;
static unsigned n_saved_vms;

static int save_vms(struct vcapd *d, char *err, size_t err_len)
{
	unsigned n = 0;
	int rc;

	for (struct vm *vm = d->vms; vm; vm = vm_next(vm))
		n++;
	free(saved_vms);
	n_saved_vms = 0;
	saved_vms = n ? calloc(n, sizeof(*saved_vms)) : NULL;
	if (n && !saved_vms) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	for (struct vm *vm = d->vms; vm; vm = vm_next(vm)) {
		if (!vm_serving(vm))
			continue; /* a reload removed it: nothing of it is handed over */
		rc = vm_save(vm, &saved_vms[n_saved_vms].sv, err, err_len);
		if (rc)
			return rc;
		saved_vms[n_saved_vms++].vm = vm;
	}
	return 0;
}

/* Is ss a VM's guest session? */
static struct vm *vm_owner(const struct session *ss)
{
	for (unsigned i = 0; i < n_saved_vms; i++)
		if (vm_session(saved_vms[i].vm) == ss)
			return saved_vms[i].vm;
	return NULL;
}

/*
 * Refuse, naming the piece, anything this version does not hand over: a
 * half-working upgrade would lose what it left out.
 */
static int refuse_unsupported(struct vcapd *d, char *err, size_t err_len)
{
	struct busy_scan b = { 0 };
	unsigned n_active = 0, n_rings = 0;

	unsigned n_vm_sessions = 0;
	int rc;

	rc = save_vms(d, err, err_len);
	if (rc)
		return rc;
	for (unsigned i = 0; i < n_saved_vms; i++)
		n_vm_sessions += saved_vms[i].vm && vm_session(saved_vms[i].vm) ? 1 : 0;
	for (struct source *s = d->sources; s; s = s->next) {
		if (!s->ops->save || !s->ops->restore) {
			snprintf(err, err_len, "source %s (%s:): handover not supported yet", s->name,
				 s->ops->kind);
			return -ENOTSUP;
		}
	}
	for (struct consumer *c = d->consumers; c; c = c->next_global) {
		n_rings++;
		if (c->place.keep_fd < 0 && !vm_owner(c->owner)) {
			snprintf(err, err_len, "ring %u: handover not supported yet for its carrier",
				 c->id);
			return -ENOTSUP;
		}
	}
	for (struct source *s = d->sources; s; s = s->next)
		n_active += s->n_consumers;
	if (n_active != n_rings) {
		snprintf(err, err_len, "rings of a source a reload removed are still open: try "
				       "again once they are closed");
		return -EAGAIN;
	}
	unix_each(scan_busy, &b);
	if (b.busy || jobs_running()) {
		snprintf(err, err_len, "requests are being answered (%s): try again",
			 b.busy ? b.busy->client : "rings given back");
		return -EAGAIN;
	}
	if (b.n + n_vm_sessions != d->n_sessions) {
		snprintf(err, err_len, "a session of another carrier: handover not supported yet");
		return -ENOTSUP;
	}
	return 0;
}

/* ---- the old side: the state --------------------------------------------- */

#define SOURCE_FDS_MAX 64 /* sources with a descriptor (if:) an upgrade hands over */

struct handed {
	int *fds; /* inherited across exec (fixed while the control thread is in here) */
	unsigned n, cap;
	int src_fds[SOURCE_FDS_MAX]; /* sent after parking: a capture thread may reopen its socket */
	unsigned n_src;
	bool oom;
	struct session **sessions;
	unsigned n_sessions, cap_sessions;
};

static void hand(struct handed *h, int fd)
{
	if (fd < 0)
		return;
	if (h->n == h->cap) {
		unsigned cap = h->cap ? 2 * h->cap : 64;
		int *f = realloc(h->fds, cap * sizeof(*f));

		if (!f) {
			h->oom = true;
			return;
		}
		h->fds = f;
		h->cap = cap;
	}
	h->fds[h->n++] = fd;
}

static void hand_fd(void *arg, int fd)
{
	hand(arg, fd);
}

static void hand_session(void *arg, struct session *ss, int fd, struct tenant *via)
{
	(void)ss;
	(void)via;
	hand(arg, fd);
}

struct state_ctx {
	struct ust_writer *w;
	struct handed *h;
};

static void write_session(void *arg, struct session *ss, int fd, struct tenant *via)
{
	struct state_ctx *x = arg;
	struct handed *h = x->h;
	struct ust_writer *w = x->w;

	if (h->n_sessions == h->cap_sessions) {
		unsigned cap = h->cap_sessions ? 2 * h->cap_sessions : 64;
		struct session **p = realloc(h->sessions, cap * sizeof(*p));

		if (!p) {
			h->oom = true;
			return;
		}
		h->sessions = p;
		h->cap_sessions = cap;
	}
	ust_begin(w, REC_SESSION);
	ust_u32(w, h->n_sessions);
	ust_i32(w, fd);
	ust_str(w, via ? via->name : "");
	ust_i32(w, ss->cred.pid);
	ust_u32(w, ss->cred.uid);
	ust_u32(w, ss->cred.gid);
	ust_u8(w, ss->peer.hello);
	ust_u32(w, ss->peer.features);
	ust_str(w, ss->peer.name);
	ust_str(w, ss->client);
	ust_str(w, ss->origin);
	ust_end(w);
	h->sessions[h->n_sessions++] = ss;
}

/*
 * A VM: its name and socket (the new configuration must have the same),
 * the region, the control queues' positions, the ivshmem server's
 * descriptors and, if a guest is connected, its session (an index among
 * the sessions, as a unix one's; its rings are REC_RING records).
 */
static void write_vm(struct state_ctx *x, const struct saved_vm *v)
{
	struct ust_writer *w = x->w;
	struct handed *h = x->h;
	const struct vm_saved *sv = &v->sv;
	struct session *ss = vm_session(v->vm);

	ust_begin(w, REC_VM);
	ust_str(w, sv->name);
	ust_str(w, sv->socket);
	ust_i32(w, sv->memfd);
	ust_u32(w, sv->generation);
	ust_u32(w, sv->g2h_pos);
	ust_u32(w, sv->h2g_pos);
	ust_u64(w, sv->restarts);
	ust_u32(w, sv->plug);
	ust_u8(w, sv->plug_wanted);
	ust_i32(w, sv->srv.lsock);
	ust_i32(w, sv->srv.shm_fd);
	ust_u32(w, sv->srv.vectors);
	ust_u32(w, sv->srv.max_peers);
	ust_u32(w, sv->srv.self_id);
	ust_u32(w, sv->srv.next_id);
	for (unsigned vv = 0; vv < sv->srv.vectors; vv++)
		ust_i32(w, sv->srv.self_fds[vv]);
	ust_u32(w, sv->srv.n_peers);
	for (unsigned i = 0; i < sv->srv.n_peers; i++) {
		ust_i32(w, sv->srv.peers[i].conn);
		ust_u32(w, sv->srv.peers[i].id);
		ust_i32(w, sv->srv.peers[i].pid);
		for (unsigned vv = 0; vv < sv->srv.vectors; vv++)
			ust_i32(w, sv->srv.peers[i].efds[vv]);
	}
	ust_i32(w, ss ? sv->peer : -1);
	if (ss) {
		if (h->n_sessions == h->cap_sessions) {
			unsigned cap = h->cap_sessions ? 2 * h->cap_sessions : 64;
			struct session **p = realloc(h->sessions, cap * sizeof(*p));

			if (!p) {
				h->oom = true;
				ust_end(w);
				return;
			}
			h->sessions = p;
			h->cap_sessions = cap;
		}
		ust_u32(w, h->n_sessions);
		ust_i32(w, sv->qemu_pid);
		ust_u8(w, ss->peer.hello);
		ust_u32(w, ss->peer.features);
		ust_str(w, ss->peer.name);
		h->sessions[h->n_sessions++] = ss;
	}
	ust_end(w);
}

static void write_filter(struct ust_writer *w, const struct filter *f, const char *text)
{
	unsigned n = filter_insns(f);
	struct bpf_insn *insns = n ? calloc(n, sizeof(*insns)) : NULL;
	int got = 0;

	ust_str(w, text);
	if (n && !insns)
		w->oom = true;
	if (insns)
		got = filter_chain(f, NULL, insns, n);
	if (got < 0)
		w->oom = true; /* cannot happen for one filter that was chainable alone */
	ust_blob(w, insns, got > 0 ? (uint32_t)got * (uint32_t)sizeof(*insns) : 0);
	free(insns);
}

/* A ring's rules: the default, the wildcard rules as compiled, every flow rule with its hits. */
static void write_rules(struct ust_writer *w, const struct rules *r)
{
	struct vcap_flow_stat page[256];
	uint64_t cursor = 0, now = mono_ns();
	size_t len;
	const void *wild = rules_wild_export(r, &len);
	uint32_t n = rules_flow_count(r), written = 0;

	ust_u8(w, rules_default_pass(r));
	ust_blob(w, wild, (uint32_t)len);
	ust_u32(w, n);
	do {
		uint32_t got = rules_flow_list(r, cursor, now, page, 256, &cursor);

		for (uint32_t i = 0; i < got && written < n; i++, written++)
			ust_blob(w, &page[i], sizeof(page[i]));
	} while (cursor);
	while (written++ < n) /* cannot happen while the thread is parked: keep the count true */
		w->oom = true;
}

static unsigned session_index(const struct handed *h, const struct session *ss)
{
	for (unsigned i = 0; i < h->n_sessions; i++)
		if (h->sessions[i] == ss)
			return i;
	return UINT32_MAX;
}

/*
 * With every capture thread parked.  Descriptors are written as their
 * numbers (the child inherited them: collect_fds), but the sources'
 * sockets as indexes among those sent with the state (h->src_fds).
 */
static int write_state(struct vcapd *d, struct ust_writer *w, struct handed *h, int log_fd,
		       char *err, size_t err_len)
{
	struct state_ctx x = { w, h };
	uint8_t *backend = malloc(BACKEND_MAX);

	if (!backend) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ust_begin(w, REC_DAEMON);
	ust_u32(w, d->next_ring_id);
	ust_i32(w, -1); /* was the handover's socket: --takeover names it now */
	ust_i32(w, log_fd);
	ust_str(w, d->config_path);
	ust_str(w, d->socket_path);
	ust_end(w);

	ust_begin(w, REC_LISTENER);
	ust_str(w, d->socket_path);
	ust_i32(w, main_listen_fd);
	ust_end(w);
	if (metrics_listen_fd() >= 0 && d->metrics_listen) {
		char key[200];

		snprintf(key, sizeof(key), METRICS_UPGRADE_KEY "%s", d->metrics_listen);
		ust_begin(w, REC_LISTENER);
		ust_str(w, key);
		ust_i32(w, metrics_listen_fd());
		ust_end(w);
	}
	for (struct tenant *t = d->tenants; t; t = t->next) {
		if (t->listen_fd < 0)
			continue;
		ust_begin(w, REC_LISTENER);
		ust_str(w, t->socket);
		ust_i32(w, t->listen_fd);
		ust_end(w);
	}

	/* the capture threads are parked: their side of each source holds still */
	for (struct source *s = d->sources; s; s = s->next) {
		int fds[SOURCE_LANES_MAX];
		unsigned n_fds = 0;
		size_t n = s->ops->save(s, backend, BACKEND_MAX, fds, &n_fds);

		if (!n) {
			snprintf(err, err_len, "source %s (%s): handover of where it is not "
				 "supported for it yet", s->name, s->spec);
			free(backend);
			return -EIO;
		}
		ust_begin(w, REC_SOURCE);
		ust_str(w, s->name);
		ust_str(w, s->spec);
		ust_u64(w, atomic_load(&s->received));
		ust_u64(w, atomic_load(&s->kernel_drops));
		ust_u32(w, atomic_load(&s->state));
		ust_u8(w, s->started);
		ust_u8(w, s->finished);
		ust_u8(w, s->kernel_drop_all);
		ust_str(w, s->kernel_filter);
		if (h->n_src + n_fds > SOURCE_FDS_MAX) {
			snprintf(err, err_len, "more than %u source sockets: handover not "
				 "supported", SOURCE_FDS_MAX);
			free(backend);
			return -ENOTSUP;
		}
		/* each an index among the descriptors sent with the state, not a number */
		ust_u32(w, n_fds);
		for (unsigned i = 0; i < n_fds; i++) {
			ust_i32(w, (int32_t)h->n_src);
			h->src_fds[h->n_src++] = fds[i];
		}
		ust_blob(w, backend, (uint32_t)n);
		ust_end(w);
	}
	free(backend);

	unix_each(write_session, &x);
	for (unsigned i = 0; i < n_saved_vms; i++)
		write_vm(&x, &saved_vms[i]);

	/* rings in each capture thread's order: a cluster's members keep their places */
	for (struct source *s = d->sources; s; s = s->next) {
		for (unsigned k = 0; k < s->n_active; k++) {
			struct consumer *c = s->active[k];
			unsigned idx = session_index(h, c->owner);

			if (idx == UINT32_MAX) {
				snprintf(err, err_len, "ring %u: its session is not handed over", c->id);
				return -ENOTSUP;
			}
			ust_begin(w, REC_RING);
			ust_u32(w, idx);
			ust_u32(w, c->id);
			ust_str(w, s->name);
			ust_i32(w, c->place.keep_fd);
			ust_i32(w, c->place.wake_fd);
			ust_u64(w, c->place.map_size);
			/* a VM's ring: where in its region, and its vector (0, 0: a memfd ring) */
			ust_u64(w, c->place.region_off);
			ust_u32(w, c->place.vector);
			ust_u8(w, c->want_hash);
			ust_u8(w, c->want_meta);
			ust_u32(w, c->cluster_id);
			ust_u32(w, c->cluster_mode);
			write_filter(w, c->filter, c->filter_text);
			write_filter(w, c->policy, c->policy_text);
			write_rules(w, c->rules);
			ust_blob(w, &c->w, sizeof(c->w));
			ust_blob(w, &c->mirror, sizeof(c->mirror));
			ust_u64(w, atomic_load(&c->filter_ns));
			ust_u64(w, atomic_load(&c->over_budget));
			ust_u64(w, c->kernel_drops_base);
			ust_end(w);
		}
	}
	if (w->oom || h->oom) {
		snprintf(err, err_len, "out of memory writing the state");
		return -ENOMEM;
	}
	return 0;
}

/* ---- the old side: the new process --------------------------------------- */

/*
 * Keep the head of what the child says: its refusal comes first, and what
 * may follow (a sanitizer's report at exit) must not push it out.
 */
static void keep(char *buf, size_t cap, size_t *len, const char *p, size_t n)
{
	if (n > cap - 1 - *len)
		n = cap - 1 - *len;
	memcpy(buf + *len, p, n);
	*len += n;
	buf[*len] = '\0';
}

/*
 * Why the child did not take over: its own "vcapd: " line (its refusal;
 * not a log line of a lesser level, and not a sanitizer's report that may
 * follow), else the first thing it said.
 */
static void reason_of(char *out, size_t out_len, const char *text)
{
	static const char *const chatter[] = { "vcapd: info: ", "vcapd: notice: ",
					       "vcapd: debug: " };
	const char *line = text, *pick = NULL, *end;

	for (; *line && !pick; line = (end = strchr(line, '\n')) ? end + 1 : line + strlen(line)) {
		bool chat = false;

		if (strncmp(line, "vcapd: ", 7))
			continue;
		for (size_t i = 0; i < sizeof(chatter) / sizeof(chatter[0]); i++)
			chat |= !strncmp(line, chatter[i], strlen(chatter[i]));
		if (!chat)
			pick = line;
	}
	if (!pick)
		for (pick = text; *pick == '\n'; pick++)
			;
	end = strchr(pick, '\n');
	snprintf(out, out_len, "%.*s", (int)(end ? end - pick : (ptrdiff_t)strlen(pick)), pick);
}

/* What upgrade_run() needs to talk to its child. */
struct child {
	pid_t pid;
	int sock;  /* our end of the SOCK_SEQPACKET pair: LOADED, STATE, READY, GO */
	int err_r; /* the child's stderr */
	bool sock_eof, err_eof;
	char said[1024];
	size_t said_len;
	uint64_t deadline;
};

/*
 * Every descriptor the child inherits: fixed while the control thread is
 * in here (nothing accepts, opens or closes a session or ring meanwhile),
 * so they are known before parking.  Sources' sockets are not: a capture
 * thread reopens its own (they go with the state, write_state()).
 */
static void collect_fds(struct vcapd *d, struct handed *h)
{
	hand(h, main_listen_fd);
	hand(h, metrics_listen_fd());
	for (struct tenant *t = d->tenants; t; t = t->next)
		hand(h, t->listen_fd);
	unix_each(hand_session, h);
	for (unsigned i = 0; i < n_saved_vms; i++)
		vm_saved_fds(&saved_vms[i].sv, hand_fd, h);
	for (struct consumer *c = d->consumers; c; c = c->next_global) {
		hand(h, c->place.keep_fd);
		hand(h, c->place.wake_fd);
	}
}

/* fork + exec binary --takeover SOCK with the original arguments.  @return 0 or -errno. */
static int start_child(const char *binary, const struct handed *h, int child_sock, int err_w,
		       struct child *ch, char *err, size_t err_len)
{
	char fd_arg[16];
	char **argv = calloc((size_t)n_args + 4, sizeof(*argv));
	int rc;

	if (!argv) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	snprintf(fd_arg, sizeof(fd_arg), "%d", child_sock);
	argv[0] = (char *)binary;
	argv[1] = "--takeover";
	argv[2] = fd_arg;
	for (int i = 0; i < n_args; i++)
		argv[3 + i] = args[i];

	ch->pid = fork();
	if (ch->pid < 0) {
		rc = -errno;
		snprintf(err, err_len, "fork: %s", strerror(errno));
		free(argv);
		return rc;
	}
	if (ch->pid == 0) {
		/* the child: only what is async-signal-safe, then exec */
		static const char pre[] = "cannot execute ";

		for (unsigned i = 0; i < h->n; i++)
			(void)fcntl(h->fds[i], F_SETFD, 0);
		(void)fcntl(child_sock, F_SETFD, 0);
		(void)dup2(err_w, 2); /* what it says is the reason it gives */
		if (chdir(start_cwd)) { /* relative paths in argv mean what they meant at start */
		}
		execv(binary, argv);
		{
			const char *e = strerror(errno);

			(void)!write(2, pre, sizeof(pre) - 1);
			(void)!write(2, binary, strlen(binary));
			(void)!write(2, ": ", 2);
			(void)!write(2, e, strlen(e));
			(void)!write(2, "\n", 1);
		}
		_exit(127);
	}
	free(argv);
	return 0;
}

/*
 * Wait for the child's next message on ch->sock (into msg), collecting
 * what it says on stderr meanwhile.  @return its length, or 0 if it is
 * gone (both closed) or the deadline passed.
 */
static size_t child_says(struct child *ch, char *msg, size_t cap)
{
	while (!(ch->sock_eof && ch->err_eof)) {
		struct pollfd p[2] = { { .fd = ch->sock_eof ? -1 : ch->sock, .events = POLLIN },
				       { .fd = ch->err_eof ? -1 : ch->err_r, .events = POLLIN } };
		uint64_t now = mono_ns();
		char buf[512];
		ssize_t n;

		if (now >= ch->deadline)
			return 0;
		if (poll(p, 2, (int)((ch->deadline - now) / 1000000ull) + 1) < 0 && errno != EINTR)
			return 0;
		if (p[1].revents) {
			n = read(ch->err_r, buf, sizeof(buf));
			if (n > 0)
				keep(ch->said, sizeof(ch->said), &ch->said_len, buf, (size_t)n);
			else if (n == 0 || errno != EINTR)
				ch->err_eof = true;
		}
		if (p[0].revents) {
			n = recv(ch->sock, msg, cap - 1, MSG_DONTWAIT);
			if (n > 0) {
				msg[n] = '\0';
				return (size_t)n;
			}
			if (n == 0 || (errno != EINTR && errno != EAGAIN))
				ch->sock_eof = true;
		}
	}
	return 0;
}

/* The child did not take over: make sure it never does, then say why. */
static int child_failed(struct child *ch, const char *binary, char *err, size_t err_len)
{
	char why[512];
	int status = 0;
	bool late = !(ch->sock_eof && ch->err_eof) && mono_ns() >= ch->deadline;

	kill(ch->pid, SIGKILL);
	while (waitpid(ch->pid, &status, 0) < 0 && errno == EINTR)
		;
	/* what it said on its way out, to the end */
	while (!ch->err_eof) {
		char buf[512];
		ssize_t n = read(ch->err_r, buf, sizeof(buf));

		if (n > 0)
			keep(ch->said, sizeof(ch->said), &ch->said_len, buf, (size_t)n);
		else if (n == 0 || errno != EINTR)
			ch->err_eof = true;
	}
	reason_of(why, sizeof(why), ch->said);
	if (why[0])
		snprintf(err, err_len, "the new vcapd (%s) did not take over: %s", binary, why);
	else if (late)
		snprintf(err, err_len, "the new vcapd (%s) was not ready within %d s", binary,
			 READY_MS / 1000);
	else if (WIFEXITED(status))
		snprintf(err, err_len, "the new vcapd (%s) exited with status %d before it was ready",
			 binary, WEXITSTATUS(status));
	else
		snprintf(err, err_len, "the new vcapd (%s) died of signal %d before it was ready",
			 binary, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return -ECHILD;
}

/* The state's memfd and the sources' sockets, four descriptors a message. */
static int send_state(int sock, int state_fd, const struct handed *h)
{
	int fds[VCAP_UNIX_MAX_FDS], n = 0, rc;
	char msg[32];

	snprintf(msg, sizeof(msg), "STATE %u", h->n_src);
	fds[n++] = state_fd;
	for (unsigned i = 0; i <= h->n_src; i++) {
		if (i < h->n_src && n < VCAP_UNIX_MAX_FDS) {
			fds[n++] = h->src_fds[i];
			continue;
		}
		rc = vcap_unix_send(sock, msg, strlen(msg), fds, n);
		if (rc)
			return rc;
		snprintf(msg, sizeof(msg), "FDS");
		n = 0;
		if (i < h->n_src)
			fds[n++] = h->src_fds[i];
	}
	return 0;
}

int upgrade_run(struct vcapd *d, const char *binary, uint32_t *new_pid, uint64_t *paused_ns,
		char *err, size_t err_len)
{
	struct ust_writer w = { 0 };
	struct handed h = { 0 };
	struct child ch = { .pid = -1 };
	int rp[2] = { -1, -1 }, ep[2] = { -1, -1 }, log_fd = -1, state_fd = -1, rc;
	char msg[64];
	bool parked = false;
	uint64_t t0 = 0;

	if (!binary || !*binary)
		binary = exe_path;
	if (!args || !binary[0]) {
		snprintf(err, err_len, "vcapd does not know which binary it runs");
		return -ENOENT;
	}
	if (access(binary, X_OK)) {
		rc = -errno;
		snprintf(err, err_len, "cannot execute %s: %s", binary, strerror(errno));
		return rc;
	}
	rc = refuse_unsupported(d, err, err_len);
	if (rc)
		return rc;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rp) || pipe2(ep, O_CLOEXEC) ||
	    (log_fd = fcntl(2, F_DUPFD_CLOEXEC, 3)) < 0) {
		rc = -errno;
		snprintf(err, err_len, "upgrade: %s", strerror(errno));
		goto out;
	}
	collect_fds(d, &h);
	hand(&h, log_fd);
	if (h.oom) {
		rc = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	/*
	 * The child starts, loads its libraries and reads the configuration
	 * while capture goes on: only what must be consistent is done parked.
	 */
	rc = start_child(binary, &h, rp[1], ep[1], &ch, err, err_len);
	if (rc)
		goto out;
	close(ep[1]);
	close(rp[1]);
	ep[1] = rp[1] = -1;
	ch.sock = rp[0];
	ch.err_r = ep[0];
	ch.deadline = mono_ns() + READY_MS * 1000000ull;
	if (!child_says(&ch, msg, sizeof(msg)) || strcmp(msg, "LOADED")) {
		rc = child_failed(&ch, binary, err, err_len);
		goto out;
	}

	t0 = mono_ns();
	for (struct source *s = d->sources; s; s = s->next)
		capture_park(s);
	parked = true;
	vlog(LOG_DEBUG, "upgrade: capture threads parked in %llu us",
	     (unsigned long long)((mono_ns() - t0) / 1000));
	rc = write_state(d, &w, &h, log_fd, err, err_len);
	if (!rc) {
		state_fd = ust_seal(&w, VCAPD_VERSION);
		if (state_fd < 0) {
			rc = state_fd;
			snprintf(err, err_len, "upgrade state: %s", strerror(-rc));
		}
	}
	if (!rc && (rc = send_state(rp[0], state_fd, &h)))
		snprintf(err, err_len, "upgrade: sending the state: %s", strerror(-rc));
	if (rc) {
		(void)child_failed(&ch, binary, msg, sizeof(msg)); /* ours is the reason */
		goto out;
	}
	vlog(LOG_DEBUG, "upgrade: state of %zu bytes sent after %llu us", w.len,
	     (unsigned long long)((mono_ns() - t0) / 1000));
	if (!child_says(&ch, msg, sizeof(msg)) || sscanf(msg, "READY %d", &rc) != 1 ||
	    rc != ch.pid || send(rp[0], "GO", 2, MSG_NOSIGNAL) != 2) {
		rc = child_failed(&ch, binary, err, err_len);
		goto out;
	}
	rc = 0;
	*new_pid = (uint32_t)ch.pid;
	*paused_ns = mono_ns() - t0;
	if (ch.said_len) /* warnings it gave on the way */
		vlog(LOG_NOTICE, "new vcapd (pid %d) said: %s", (int)ch.pid, ch.said);
	vlog(LOG_NOTICE, "upgrade: vcapd pid %d (%s) took over after %llu us", (int)ch.pid,
	     binary, (unsigned long long)(*paused_ns / 1000));
out:
	if (rc) {
		char mainpid[32];

		/* the child may have told systemd it was the main process: it is not */
		snprintf(mainpid, sizeof(mainpid), "MAINPID=%d", (int)getpid());
		(void)notify_send(mainpid);
		if (parked)
			for (struct source *s = d->sources; s; s = s->next)
				capture_unpark(s);
		vlog(LOG_ERR, "upgrade to %s refused: %s; this vcapd goes on", binary, err);
	}
	if (state_fd >= 0)
		close(state_fd);
	for (int i = 0; i < 2; i++) {
		if (ep[i] >= 0)
			close(ep[i]);
		if (rp[i] >= 0 && (rc || i == 1))
			close(rp[i]);
	}
	if (log_fd >= 0)
		close(log_fd);
	ust_free(&w);
	free(h.fds);
	free(h.sessions);
	return rc;
}

/* ---- the new side ---------------------------------------------------------- */

struct inherited_listener {
	char path[108];
	int fd;
	bool used;
};

static struct ust_reader rd;
static bool taking_over;
static int state_fd = -1, ready_fd = -1, log_fd = -1;
static int src_fds[SOURCE_FDS_MAX]; /* the sources' sockets, sent with the state */
static unsigned n_src_fds;
static uint32_t next_ring_id;
static struct inherited_listener *listeners;
static unsigned n_listeners;

/* The VMs the old vcapd served, read with the listeners: start_vms needs them. */
struct taken_vm {
	struct vm_saved sv;
	struct vm *vm; /* the configured VM that took it over (upgrade_start_vm) */
};
static struct taken_vm *taken_vms;
static unsigned n_taken_vms;

bool upgrade_taking_over(void)
{
	return taking_over;
}

/* An inherited descriptor must be open; it goes back to close-on-exec. */
static bool take_fd(int fd)
{
	return fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

int upgrade_takeover_arg(const char *fd_arg, char *err, size_t err_len)
{
	char *end;
	long fd = strtol(fd_arg, &end, 10);

	if (*end || fd < 0 || fd > INT_MAX || !take_fd((int)fd)) {
		snprintf(err, err_len, "--takeover %s: not an open descriptor", fd_arg);
		return -EBADF;
	}
	ready_fd = (int)fd;
	taking_over = true;
	source_adopting = true; /* sources opened from now on wait for their state */
	return 0;
}

/* The state and the sources' sockets, as send_state() sent them. */
static int receive_state(char *err, size_t err_len)
{
	int fds[VCAP_UNIX_MAX_FDS], nfds;
	unsigned want = 0, got = 0;
	char msg[32];

	do {
		struct pollfd p = { .fd = ready_fd, .events = POLLIN };
		ssize_t n;

		nfds = VCAP_UNIX_MAX_FDS;
		if (poll(&p, 1, READY_MS) != 1) {
			snprintf(err, err_len, "upgrade: the old vcapd sent no state");
			return -ETIMEDOUT;
		}
		n = vcap_unix_recv(ready_fd, msg, sizeof(msg) - 1, fds, &nfds);
		if (n <= 0) {
			snprintf(err, err_len, "upgrade: receiving the state: %s",
				 n ? strerror((int)-n) : "the old vcapd hung up");
			return n ? (int)n : -EPIPE;
		}
		msg[n] = '\0';
		for (int i = 0; i < nfds; i++) {
			if (!got && !i && !strncmp(msg, "STATE ", 6)) {
				state_fd = fds[0];
				want = (unsigned)strtoul(msg + 6, NULL, 10);
				if (want > SOURCE_FDS_MAX)
					want = SOURCE_FDS_MAX;
				continue;
			}
			if (n_src_fds < SOURCE_FDS_MAX)
				src_fds[n_src_fds++] = fds[i];
			else
				close(fds[i]);
			got++;
		}
		if (state_fd < 0) {
			snprintf(err, err_len, "upgrade: the old vcapd sent \"%s\", not its state", msg);
			return -EPROTO;
		}
	} while (got < want);
	return 0;
}

/* A REC_VM up to its session's part (write_vm). */
static void read_vm(struct vm_saved *sv)
{
	memset(sv, 0, sizeof(*sv));
	ust_get_str(&rd, sv->name, sizeof(sv->name));
	ust_get_str(&rd, sv->socket, sizeof(sv->socket));
	sv->memfd = ust_get_i32(&rd);
	sv->generation = ust_get_u32(&rd);
	sv->g2h_pos = ust_get_u32(&rd);
	sv->h2g_pos = ust_get_u32(&rd);
	sv->restarts = ust_get_u64(&rd);
	sv->plug = ust_get_u32(&rd);
	sv->plug_wanted = ust_get_u8(&rd);
	sv->srv.lsock = ust_get_i32(&rd);
	sv->srv.shm_fd = ust_get_i32(&rd);
	sv->srv.vectors = ust_get_u32(&rd);
	sv->srv.max_peers = ust_get_u32(&rd);
	sv->srv.self_id = (uint16_t)ust_get_u32(&rd);
	sv->srv.next_id = ust_get_u32(&rd);
	if (sv->srv.vectors > IVSHMEM_SERVER_MAX_VECTORS) {
		rd.bad = true;
		return;
	}
	for (unsigned v = 0; v < sv->srv.vectors; v++)
		sv->srv.self_fds[v] = ust_get_i32(&rd);
	sv->srv.n_peers = ust_get_u32(&rd);
	if (sv->srv.n_peers > IVSHMEM_SERVER_MAX_PEERS) {
		rd.bad = true;
		return;
	}
	for (unsigned i = 0; i < sv->srv.n_peers; i++) {
		sv->srv.peers[i].conn = ust_get_i32(&rd);
		sv->srv.peers[i].id = (uint16_t)ust_get_u32(&rd);
		sv->srv.peers[i].pid = ust_get_i32(&rd);
		for (unsigned v = 0; v < sv->srv.vectors; v++)
			sv->srv.peers[i].efds[v] = ust_get_i32(&rd);
	}
	sv->peer = ust_get_i32(&rd);
}

static int read_taken_vm(void)
{
	struct taken_vm *t = realloc(taken_vms, (n_taken_vms + 1) * sizeof(*t));

	if (!t)
		return -ENOMEM;
	taken_vms = t;
	t += n_taken_vms++;
	t->vm = NULL;
	read_vm(&t->sv);
	return 0;
}

static void take_fd_cb(void *arg, int fd)
{
	bool *ok = arg;

	*ok &= take_fd(fd);
}

int upgrade_start_vm(struct vm *vm, struct vcapd *d, struct loop *l, char *err, size_t err_len)
{
	for (unsigned i = 0; i < n_taken_vms; i++) {
		struct taken_vm *t = &taken_vms[i];
		bool ok = true;

		if (t->vm || strcmp(t->sv.name, vm_name(vm)))
			continue;
		vm_saved_fds(&t->sv, take_fd_cb, &ok);
		if (!ok) {
			snprintf(err, err_len, "vm %s: a handed-over descriptor is not open",
				 vm_name(vm));
			return -EBADF;
		}
		t->vm = vm;
		return vm_start_adopted(vm, &t->sv, d, l, err, err_len);
	}
	return vm_start(vm, d, l, err, err_len); /* new in the configuration */
}

int upgrade_takeover_open(char *err, size_t err_len)
{
	const char *forced = getenv("VCAPD_STATE_VERSION"); /* tests: play another version */
	uint32_t want = forced && *forced ? (uint32_t)strtoul(forced, NULL, 10)
					  : UPGRADE_STATE_VERSION;
	int rc;

	/* libraries loaded, configuration read: the old vcapd may park and write the state */
	if (send(ready_fd, "LOADED", 6, MSG_NOSIGNAL) != 6) {
		snprintf(err, err_len, "upgrade: the old vcapd is gone");
		return -EPIPE;
	}
	rc = receive_state(err, err_len);
	if (rc)
		return rc;
	rc = ust_open(&rd, state_fd, want, err, err_len);
	if (rc)
		return rc;
	/* the records the start needs before the rest: the handover's own, the sockets */
	while ((rc = ust_next(&rd)) > 0) {
		if (rd.type == REC_DAEMON) {
			next_ring_id = ust_get_u32(&rd);
			(void)ust_get_i32(&rd); /* the old end of the pair: not ours */
			log_fd = ust_get_i32(&rd);
			if (!take_fd(log_fd))
				rd.bad = true;
		} else if (rd.type == REC_LISTENER) {
			struct inherited_listener *l =
				realloc(listeners, (n_listeners + 1) * sizeof(*l));

			if (!l) {
				snprintf(err, err_len, "out of memory");
				return -ENOMEM;
			}
			listeners = l;
			l += n_listeners++;
			ust_get_str(&rd, l->path, sizeof(l->path));
			l->fd = ust_get_i32(&rd);
			l->used = false;
			if (!take_fd(l->fd))
				rd.bad = true;
		} else if (rd.type == REC_VM) {
			if (read_taken_vm()) {
				snprintf(err, err_len, "out of memory");
				return -ENOMEM;
			}
		}
		if (rd.bad)
			break;
	}
	if (rc < 0 || rd.bad || log_fd < 0) {
		snprintf(err, err_len, "upgrade state: record %u is malformed or a descriptor is "
				       "not open", rd.type);
		return -EBADMSG;
	}
	return 0;
}

int upgrade_listener(const char *path)
{
	for (unsigned i = 0; i < n_listeners; i++) {
		if (!listeners[i].used && !strcmp(listeners[i].path, path)) {
			listeners[i].used = true;
			return listeners[i].fd;
		}
	}
	return -1;
}

static struct tenant *tenant_named(struct vcapd *d, const char *name)
{
	for (struct tenant *t = d->tenants; t; t = t->next)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

static int adopt_source(struct vcapd *d, uint8_t *backend, char *err, size_t err_len)
{
	char name[VCAP_NAME_MAX + 1], spec[sizeof(((struct source *)0)->spec)];
	char kfilter[sizeof(((struct source *)0)->kernel_filter)];
	uint64_t received, kdrops;
	uint32_t state, len;
	uint8_t started, finished, kdrop_all;
	struct source *s;
	int fds[SOURCE_LANES_MAX], rc;
	uint32_t n_fds;

	ust_get_str(&rd, name, sizeof(name));
	ust_get_str(&rd, spec, sizeof(spec));
	received = ust_get_u64(&rd);
	kdrops = ust_get_u64(&rd);
	state = ust_get_u32(&rd);
	started = ust_get_u8(&rd);
	finished = ust_get_u8(&rd);
	kdrop_all = ust_get_u8(&rd);
	ust_get_str(&rd, kfilter, sizeof(kfilter));
	n_fds = ust_get_u32(&rd);
	if (n_fds > SOURCE_LANES_MAX)
		return -EBADMSG;
	for (unsigned i = 0; i < n_fds; i++)
		fds[i] = ust_get_i32(&rd);
	len = ust_get_blob_max(&rd, backend, BACKEND_MAX);
	if (rd.bad)
		return -EBADMSG;
	s = source_find(d->sources, name);
	if (!s) {
		snprintf(err, err_len, "source %s is no longer configured: remove it with a "
				       "reload before upgrading", name);
		return -ENOENT;
	}
	if (strcmp(s->spec, spec)) {
		snprintf(err, err_len, "source %s changed from %s to %s: upgrade first, then reload",
			 name, spec, s->spec);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n_fds; i++) {
		if (fds[i] < 0 || fds[i] >= (int)n_src_fds) {
			snprintf(err, err_len, "source %s: its socket was not sent", name);
			return -EBADF;
		}
		fds[i] = src_fds[fds[i]]; /* an index among the descriptors sent with the state */
	}
	rc = s->ops->restore(s, backend, len, fds, n_fds, err, err_len);
	if (rc)
		return rc;
	atomic_store(&s->received, received);
	atomic_store(&s->kernel_drops, kdrops);
	atomic_store(&s->state, state);
	s->started = started;
	s->finished = finished;
	/* what the kernel filters stays as the old vcapd left it (source.h) */
	s->kernel_drop_all = kdrop_all;
	snprintf(s->kernel_filter, sizeof(s->kernel_filter), "%s", kfilter);
	snprintf(s->kernel_filter_shown, sizeof(s->kernel_filter_shown), "%s", kfilter);
	s->kernel_drop_all_shown = kdrop_all;
	s->kfilter_frozen = true;
	return 0;
}

struct adopted {
	struct session **ss;
	struct vm **vm; /* the session's VM, NULL: a unix one */
	unsigned n;
};

static int adopted_add(struct adopted *a, struct session *ss, struct vm *vm)
{
	struct session **p = realloc(a->ss, (a->n + 1) * sizeof(*p));
	struct vm **v;

	if (!p)
		return -ENOMEM;
	a->ss = p;
	v = realloc(a->vm, (a->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	a->vm = v;
	a->ss[a->n] = ss;
	a->vm[a->n++] = vm;
	return 0;
}

/* A VM's record again, in order: its guest's session takes its index. */
static int adopt_vm(struct vcapd *d, struct adopted *a, char *err, size_t err_len)
{
	struct vm_saved sv;
	struct vm *vm = NULL;
	struct session *ss;
	uint32_t idx;

	read_vm(&sv);
	if (rd.bad)
		return -EBADMSG;
	for (unsigned i = 0; i < n_taken_vms; i++)
		if (!strcmp(taken_vms[i].sv.name, sv.name))
			vm = taken_vms[i].vm;
	if (!vm) {
		snprintf(err, err_len, "vm %s is no longer configured: remove it with a reload "
				       "before upgrading", sv.name);
		return -ENOENT;
	}
	if (sv.peer < 0)
		return 0;
	idx = ust_get_u32(&rd);
	(void)ust_get_i32(&rd); /* QEMU's pid: vm_start_adopted had it */
	ss = vm_session(vm);
	if (rd.bad || idx != a->n || !ss)
		return -EBADMSG;
	if (adopted_add(a, ss, vm))
		return -ENOMEM;
	ss->peer.hello = ust_get_u8(&rd);
	ss->peer.features = ust_get_u32(&rd);
	ust_get_str(&rd, ss->peer.name, sizeof(ss->peer.name));
	(void)d;
	return rd.bad ? -EBADMSG : 0;
}

static int adopt_session(struct vcapd *d, struct loop *l, struct adopted *a, char *err,
			 size_t err_len)
{
	char via_name[VCAP_NAME_MAX + 1];
	struct tenant *via = NULL;
	struct session *ss;
	struct ucred cred;
	uint32_t idx = ust_get_u32(&rd);
	int fd = ust_get_i32(&rd);

	ust_get_str(&rd, via_name, sizeof(via_name));
	cred.pid = ust_get_i32(&rd);
	cred.uid = ust_get_u32(&rd);
	cred.gid = ust_get_u32(&rd);
	if (rd.bad || idx != a->n)
		return -EBADMSG;
	if (via_name[0] && !(via = tenant_named(d, via_name))) {
		snprintf(err, err_len, "the session of pid %d came through tenant %s's socket, "
				       "which the configuration no longer has",
			 (int)cred.pid, via_name);
		return -ENOENT;
	}
	if (!take_fd(fd)) {
		snprintf(err, err_len, "session of pid %d: descriptor %d is not open", (int)cred.pid,
			 fd);
		return -EBADF;
	}
	ss = unix_adopt(d, l, fd, via, &cred);
	if (!ss || adopted_add(a, ss, NULL)) {
		snprintf(err, err_len, "session of pid %d: out of memory", (int)cred.pid);
		return -ENOMEM;
	}
	ss->peer.hello = ust_get_u8(&rd);
	ss->peer.features = ust_get_u32(&rd);
	ust_get_str(&rd, ss->peer.name, sizeof(ss->peer.name));
	ust_get_str(&rd, ss->client, sizeof(ss->client));
	ust_get_str(&rd, ss->origin, sizeof(ss->origin));
	return rd.bad ? -EBADMSG : 0;
}

/* A filter from its text and the bytecode the old vcapd validated and ran. */
static int read_filter(struct source *s, char *text, size_t text_len, struct filter **out,
		       struct bpf_insn *insns)
{
	uint32_t bytes;

	*out = NULL;
	ust_get_str(&rd, text, text_len);
	bytes = ust_get_blob_max(&rd, insns, SOURCE_KFILTER_MAX * 16u * sizeof(*insns));
	if (rd.bad || bytes % sizeof(*insns))
		return -EBADMSG;
	if (!bytes)
		return text[0] ? -EBADMSG : 0;
	return filter_from_insns(insns, bytes / sizeof(*insns), s->linktype, out);
}

/* The rules write_rules() wrote, into a fresh set. */
static int read_rules(struct vcapd *d, struct source *s, struct rules **out, char *err,
		      size_t err_len)
{
	uint8_t default_pass = ust_get_u8(&rd);
	uint32_t len, n;
	const void *wild = ust_get_blob_ref(&rd, &len);
	struct rules *r = rules_new(&d->rules_limits);
	void *aligned = len ? malloc(len) : NULL;
	uint64_t now = mono_ns();
	int rc = 0;

	(void)s;
	*out = r;
	if (!r || (len && !aligned)) {
		free(aligned);
		return -ENOMEM;
	}
	if (rd.bad || default_pass > 1) {
		free(aligned);
		return -EBADMSG;
	}
	if (len)
		memcpy(aligned, wild, len);
	rc = rules_wild_import(r, aligned, len, default_pass);
	free(aligned);
	if (rc) {
		snprintf(err, err_len, "its wildcard rules do not fit this vcapd (%s)",
			 strerror(-rc));
		return rc;
	}
	n = ust_get_u32(&rd);
	for (uint32_t i = 0; i < n && !rd.bad; i++) {
		struct vcap_flow_stat st;

		ust_get_blob(&rd, &st, sizeof(st));
		if (!rd.bad && (rc = rules_flow_restore(r, &st, now, err, err_len)))
			return rc;
	}
	return rd.bad ? -EBADMSG : 0;
}

static int adopt_ring(struct vcapd *d, struct adopted *a, struct bpf_insn *insns, char *err,
		      size_t err_len)
{
	char src_name[VCAP_NAME_MAX + 1], why[256];
	struct vcap_ring_writer w;
	struct consumer *c = NULL;
	struct session *ss;
	struct source *s;
	uint32_t idx = ust_get_u32(&rd), id = ust_get_u32(&rd);
	uint64_t map_size, region_off;
	uint32_t vector;
	struct vm *vm;
	int memfd, wake_fd, rc;
	uint8_t want_hash, want_meta;
	uint32_t cluster_id, cluster_mode;
	struct filter *filter = NULL, *policy = NULL;
	struct rules *rules = NULL;
	char filter_text[VCAP_FILTER_MAX + 1], policy_text[VCAP_FILTER_MAX + 1];

	ust_get_str(&rd, src_name, sizeof(src_name));
	memfd = ust_get_i32(&rd);
	wake_fd = ust_get_i32(&rd);
	map_size = ust_get_u64(&rd);
	region_off = ust_get_u64(&rd);
	vector = ust_get_u32(&rd);
	want_hash = ust_get_u8(&rd);
	want_meta = ust_get_u8(&rd);
	cluster_id = ust_get_u32(&rd);
	cluster_mode = ust_get_u32(&rd);
	if (rd.bad || idx >= a->n)
		return -EBADMSG;
	ss = a->ss[idx];
	vm = a->vm[idx];
	s = source_find(d->sources, src_name);
	if (!s) {
		snprintf(err, err_len, "ring %u: source %s is no longer configured", id, src_name);
		return -ENOENT;
	}
	if ((!vm && !take_fd(memfd)) || (vm && memfd >= 0) || !take_fd(wake_fd)) {
		snprintf(err, err_len, "ring %u: its descriptors are not open", id);
		return -EBADF;
	}
	rc = read_filter(s, filter_text, sizeof(filter_text), &filter, insns);
	if (!rc)
		rc = read_filter(s, policy_text, sizeof(policy_text), &policy, insns);
	if (!rc)
		rc = read_rules(d, s, &rules, err, err_len);
	ust_get_blob(&rd, &w, sizeof(w));
	if (rc || rd.bad) {
		rules_free(rules);
		if (!err[0])
			snprintf(err, err_len, "ring %u: its filters or writer state are malformed",
				 id);
		filter_free(filter);
		filter_free(policy);
		if (memfd >= 0)
			close(memfd);
		close(wake_fd);
		return rc ? rc : -EBADMSG;
	}
	if (vm) {
		/* in the VM's region, woken through its vector: the same place as before */
		struct ring_place place;

		rc = vm_adopt_ring(vm, region_off, (size_t)map_size, vector, wake_fd, &place, err,
				   err_len);
		if (!rc)
			rc = consumer_adopt_placed(s, id, ss, &place, &w, &d->rules_limits, &c, err,
						   err_len);
	} else {
		rc = consumer_adopt(s, id, ss, memfd, wake_fd, (size_t)map_size, &w,
				    &d->rules_limits, &c, err, err_len);
	}
	if (rc) {
		rules_free(rules);
		filter_free(filter);
		filter_free(policy);
		if (memfd >= 0)
			close(memfd);
		close(wake_fd);
		return rc;
	}
	c->filter = filter;
	c->policy = policy;
	rules_free(c->rules);
	c->rules = rules;
	roster_rules_changed(c); /* not attached yet: the counts and the fast path */
	snprintf(c->filter_text, sizeof(c->filter_text), "%s", filter_text);
	snprintf(c->policy_text, sizeof(c->policy_text), "%s", policy_text);
	ust_get_blob(&rd, &c->mirror, sizeof(c->mirror));
	atomic_store(&c->filter_ns, ust_get_u64(&rd));
	atomic_store(&c->over_budget, ust_get_u64(&rd));
	c->kernel_drops_base = ust_get_u64(&rd);
	c->want_hash = want_hash;
	c->want_meta = want_meta;
	c->cluster_id = cluster_id;
	c->cluster_mode = cluster_mode;
	c->cost_budget_ns = policy_cost_budget(d, ss, &c->cost_key);
	if (rd.bad) {
		consumer_destroy(c);
		return -EBADMSG;
	}
	{
		/*
		 * A finite source that ended keeps its rings (they read to the
		 * end): attaching one again is what the old vcapd had, not a new
		 * consumer of an ended source.  No capture thread runs yet.
		 */
		bool finished = s->finished;

		s->finished = false;
		rc = roster_attach(c, why, sizeof(why));
		s->finished = finished;
	}
	if (rc) {
		snprintf(err, err_len, "ring %u: %s", id, why);
		consumer_destroy(c);
		return rc;
	}
	session_add_ring(ss, c);
	return 0;
}

int upgrade_adopt(struct vcapd *d, struct loop *l, char *err, size_t err_len)
{
	struct adopted a = { 0 };
	uint8_t *backend = malloc(BACKEND_MAX);
	struct bpf_insn *insns = calloc(SOURCE_KFILTER_MAX * 16u, sizeof(*insns));
	int rc = backend && insns ? 0 : -ENOMEM;

	snprintf(err, err_len, "out of memory");
	rd.off = 0; /* read again from the start: the sources first, then who uses them */
	while (!rc && (rc = ust_next(&rd)) > 0) {
		err[0] = '\0';
		switch (rd.type) {
		case REC_DAEMON:
		case REC_LISTENER:
			rc = 0; /* read by upgrade_takeover_open */
			break;
		case REC_SOURCE:
			rc = adopt_source(d, backend, err, err_len);
			break;
		case REC_SESSION:
			rc = adopt_session(d, l, &a, err, err_len);
			break;
		case REC_RING:
			rc = adopt_ring(d, &a, insns, err, err_len);
			break;
		case REC_VM:
			rc = adopt_vm(d, &a, err, err_len);
			break;
		default:
			snprintf(err, err_len, "upgrade state: unknown record type %u", rd.type);
			rc = -EBADMSG;
		}
		if (rc == -EBADMSG && !err[0])
			snprintf(err, err_len, "upgrade state: record %u is malformed", rd.type);
	}
	if (rc < 0 && !err[0])
		snprintf(err, err_len, "upgrade state: a record overruns the state");
	free(backend);
	free(insns);
	free(a.ss);
	free(a.vm);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < n_taken_vms; i++)
		vm_adopted(taken_vms[i].vm);
	free(taken_vms);
	taken_vms = NULL;
	n_taken_vms = 0;
	/* sources the old vcapd did not have open now (kfilter_frozen: restored above) */
	for (struct source *s = d->sources; s && rc >= 0; s = s->next)
		if (!s->kfilter_frozen && s->ops->restore)
			rc = s->ops->restore(s, NULL, 0, NULL, 0, err, err_len);
	source_adopting = false;
	if (rc < 0)
		return rc;
	for (struct source *s = d->sources; s; s = s->next)
		s->kfilter_frozen = false;
	if (next_ring_id > d->next_ring_id)
		d->next_ring_id = next_ring_id;
	ust_close(&rd);
	close(state_fd);
	state_fd = -1;
	return 0;
}

void upgrade_ready(void)
{
	char msg[64], go[8] = "";
	struct pollfd p = { .fd = ready_fd, .events = POLLIN };
	ssize_t n = 0;

	/* sockets the configuration no longer names (a tenant, metrics removed): closed */
	for (unsigned i = 0; i < n_listeners; i++)
		if (!listeners[i].used)
			close(listeners[i].fd);
	free(listeners);
	listeners = NULL;
	n_listeners = 0;
	/* systemd first: the old main pid exits as soon as it reads READY */
	snprintf(msg, sizeof(msg), "MAINPID=%d\nREADY=1", (int)getpid());
	(void)notify_send(msg);
	snprintf(msg, sizeof(msg), "READY %d", (int)getpid());
	if (send(ready_fd, msg, strlen(msg), MSG_NOSIGNAL) == (ssize_t)strlen(msg) &&
	    poll(&p, 1, READY_MS) == 1)
		n = recv(ready_fd, go, sizeof(go) - 1, 0);
	if (n != 2 || strncmp(go, "GO", 2)) {
		/* the old vcapd goes on: leave without touching anything it serves */
		fprintf(stderr, "vcapd: the old vcapd did not let go; exiting\n");
		_exit(1);
	}
	close(ready_fd);
	ready_fd = -1;
	dup2(log_fd, 2); /* the log is the old vcapd's stderr again, not its pipe */
	close(log_fd);
	log_fd = -1;
	taking_over = false;
}
