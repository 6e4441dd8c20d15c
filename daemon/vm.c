/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm.c - VM guests: the region, the ivshmem server, the control queues and
 * the guest's session (see vm.h).
 *
 * Everything in the region is the guest's to scribble on.  vcapd keeps the
 * layout, the queue positions, where every ring is and which vectors are
 * taken in this struct, writes the region's header only when it resets the
 * region, and reads only the g2h queue (through shm_queue.c, which
 * validates) and each ring's consumer line (through the ring writer, which
 * clamps).
 */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "consumer.h"
#include "ivshmem_server.h"
#include "loop.h"
#include "options.h"
#include "policy.h"
#include "region.h"
#include "session.h"
#include "serve.h"
#include "shm_queue.h"
#include "util.h"
#include "vcap_ring.h"
#include "vcap_shm.h"
#include "vcapd.h"
#include "vm_admin.h"
#include "vm_plug.h"

#define VM_SIZE_MIN (1ull << 20)
#define VM_SIZE_MAX (1ull << 30) /* a guest pays BAR2/512 of its RAM in page tables */
#define VM_VECTORS_DEFAULT 16
#define BATCH_MSGS 64 /* requests handled per doorbell before others get a turn */
#define PAGE 4096ull

struct vm {
	char name[VCAP_NAME_MAX + 1];
	char socket[108];
	uint64_t size;
	unsigned vectors;
	char qmp[108];           /* qmp=: vcapd plugs the device through QEMU's QMP */
	char port[64];           /* port=: the pcie-root-port it goes into */
	bool plug_manual;        /* plug=manual: only on vcapctl vm attach */
	bool plug_manual_set;    /* plug= given */
	bool adopt_device;       /* vm_adopt_device(): the plugged device is live */
	bool adopt_absent;       /* handed over detached: it stays out until an attach */
	struct vm_plug *plug;    /* with qmp=, once started */
	struct session *asker;   /* whose VM_ATTACH/VM_DETACH waits for the plug */
	struct vcap_msg ask;     /* ... that request (seq, type) */
	bool asking;             /* in vm_plug_request: an answer now is the reply itself */
	int asked_rc;            /* ... and what it was */
	char asked_why[VCAP_REASON_MAX];

	int memfd;
	uint8_t *map;
	struct vcap_shm_hdr *hdr;
	uint64_t g2h_off, h2g_off, rings_off; /* vcapd's copy of the layout */
	struct shm_queue g2h; /* vcapd consumes */
	struct shm_queue h2g; /* vcapd produces */
	struct region rings;
	uint64_t vectors_used; /* bit v: vector v is a ring's (bit 0: control) */
	uint32_t generation;

	struct ivshmem_server *server;
	int peer;                /* the connected guest, -1: none */
	struct session *session; /* while a guest is connected */
	struct tenant *tenant;
	struct account acct;     /* pays for its sessions without a tenant line */
	bool keep_pages;         /* shutting down: free rings without wiping them */
	struct vcapd *d;
	struct loop_watch server_watch; /* QEMUs connect or leave */
	struct loop_watch bell_watch;   /* vector 0: requests wait in g2h */
	struct loop_watch beat_watch;   /* every VCAP_SHM_HEARTBEAT_MS */
	uint64_t restarts;       /* control channel resets since the guest connected */
	uint64_t last_log_ns;
	struct loop *loop;       /* serves it (vm_start) */
	bool from_config;        /* a `vm` line, not --vm: a reload may change it */
	struct vm *next;
};

static _Alignas(8) uint8_t rx_buf[VCAP_MSG_MAX];

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

static struct session *new_session(struct vm *vm, pid_t qemu_pid);
static void server_event(struct loop_watch *w, uint32_t events);
static void doorbell(struct loop_watch *w, uint32_t events);
static void heartbeat(struct loop_watch *w, uint32_t events);

static uint64_t page_up(uint64_t v)
{
	return (v + PAGE - 1) & ~(PAGE - 1);
}

/*
 * Give len bytes of the region at off back to the host: a later guest (or
 * ring) reads zeros there, never what an earlier one had.
 */
static void wipe(struct vm *vm, uint64_t off, uint64_t len)
{
	if (fallocate(vm->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		      (off_t)len))
		vlog(LOG_WARNING, "vm %s: could not wipe %llu bytes of its region: %s", vm->name,
		     (unsigned long long)len, strerror(errno));
}

/* Lay the region out afresh: header, empty queues, every ring slot free. */
static void reset_region(struct vm *vm)
{
	struct vcap_shm_hdr *h = vm->hdr;

	region_fini(&vm->rings);
	region_init(&vm->rings, vm->rings_off, vm->size);
	vm->vectors_used = 1; /* vector 0: control */
	shm_queue_attach(&vm->g2h, vm->map + vm->g2h_off, VCAP_SHM_QUEUE_SIZE);
	shm_queue_attach(&vm->h2g, vm->map + vm->h2g_off, VCAP_SHM_QUEUE_SIZE);
	shm_queue_reset(&vm->g2h);
	shm_queue_reset(&vm->h2g);

	memset(h, 0, VCAP_SHM_HDR_SIZE);
	h->magic = VCAP_SHM_MAGIC;
	h->version = VCAP_SHM_VERSION;
	h->hdr_size = VCAP_SHM_HDR_SIZE;
	h->region_size = vm->size;
	h->host_peer = vm->server ? ivshmem_server_self_id(vm->server) : IVSHMEM_SERVER_SELF_ID;
	h->vectors = vm->vectors;
	h->g2h_off = vm->g2h_off;
	h->h2g_off = vm->h2g_off;
	h->queue_size = VCAP_SHM_QUEUE_SIZE;
	h->rings_off = vm->rings_off;
	memcpy(h->vm_name, vm->name, strnlen(vm->name, sizeof(h->vm_name)));
	/* last, so a guest that sees the new generation sees the rest */
	atomic_store_explicit(&h->generation, ++vm->generation, memory_order_release);
}

/* kv_known() refuses anything else; vcapd --help shows each (tests/test_options.c) */
const char *const vm_options[] = { "size", "vectors", "qmp", "port", "plug", NULL };

#define VM_PORT_DEFAULT "vcap-port"

/* A QMP id: QEMU takes letters, digits, '-', '.', '_', starting with a letter. */
static bool qemu_id(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
			return false;
	return true;
}

int vm_create(const char *spec, struct vm **out, char *err, size_t err_len)
{
	const char *eq = strchr(spec, '='), *p;
	struct vm *vm;
	struct kv kv;
	uint64_t v;
	size_t len;
	int rc = 0;

	if (!eq || eq == spec || (size_t)(eq - spec) > VCAP_NAME_MAX) {
		snprintf(err, err_len, "vm \"%s\": expected NAME=SOCKET,size=SIZE[,vectors=N]", spec);
		return -EINVAL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->memfd = -1;
	vm->peer = -1;
	vm->map = MAP_FAILED;
	vm->vectors = VM_VECTORS_DEFAULT;
	snprintf(vm->port, sizeof(vm->port), "%s", VM_PORT_DEFAULT);
	memcpy(vm->name, spec, (size_t)(eq - spec));
	p = eq + 1;
	len = strcspn(p, ",");
	if (len == 0 || len >= sizeof(vm->socket) || *p != '/') {
		snprintf(err, err_len, "vm %s: the socket must be an absolute path under %zu bytes",
			 vm->name, sizeof(vm->socket));
		rc = -EINVAL;
		goto fail;
	}
	memcpy(vm->socket, p, len);
	p += len;
	while ((rc = kv_next(&p, &kv, err, err_len)) > 0) {
		rc = kv_known(&kv, vm_options, NULL, err, err_len);
		if (rc)
			break;
		if (!strcmp(kv.key, "size")) {
			rc = kv_u64(&kv, VM_SIZE_MIN, VM_SIZE_MAX, &vm->size, err, err_len);
			if (!rc && (vm->size & (vm->size - 1))) {
				snprintf(err, err_len, "size=%s: QEMU needs a power of two", kv.val);
				rc = -EINVAL;
			}
		} else if (!strcmp(kv.key, "vectors")) {
			rc = kv_u64(&kv, 2, VCAP_IVSHMEM_MAX_VECTORS, &v, err, err_len);
			vm->vectors = (unsigned)v;
		} else if (!strcmp(kv.key, "qmp")) {
			if (kv.val[0] != '/' || strlen(kv.val) >= sizeof(vm->qmp)) {
				snprintf(err, err_len,
					 "qmp=%s: QEMU's QMP socket must be an absolute path under "
					 "%zu bytes", kv.val, sizeof(vm->qmp));
				rc = -EINVAL;
			} else {
				snprintf(vm->qmp, sizeof(vm->qmp), "%s", kv.val);
			}
		} else if (!strcmp(kv.key, "plug")) {
			if (strcmp(kv.val, "auto") && strcmp(kv.val, "manual")) {
				snprintf(err, err_len, "plug=%s: auto (when vcapd starts) or manual "
					 "(vcapctl vm attach)", kv.val);
				rc = -EINVAL;
			}
			vm->plug_manual = !strcmp(kv.val, "manual");
			vm->plug_manual_set = true;
		} else if (!strcmp(kv.key, "port")) {
			if (!qemu_id(kv.val) || strlen(kv.val) >= sizeof(vm->port)) {
				snprintf(err, err_len,
					 "port=%s: the pcie-root-port's QEMU id (letters, digits, "
					 "'-', '.', '_'; a letter first; under %zu bytes)", kv.val,
					 sizeof(vm->port));
				rc = -EINVAL;
			} else {
				snprintf(vm->port, sizeof(vm->port), "%s", kv.val);
			}
		}
		if (rc)
			break;
	}
	if (!rc && !vm->qmp[0] && (strcmp(vm->port, VM_PORT_DEFAULT) || vm->plug_manual_set)) {
		snprintf(err, err_len, "port= and plug= only mean something with qmp=PATH");
		rc = -EINVAL;
	}
	if (!rc && vm->qmp[0] && !qemu_id(vm->name)) {
		snprintf(err, err_len, "with qmp=, the name becomes QEMU's device id vcap-%s: "
			 "letters, digits, '-', '.', '_' only", vm->name);
		rc = -EINVAL;
	}
	if (!rc && !vm->size) {
		snprintf(err, err_len, "size=SIZE is required (a power of two, 1Mi..1Gi)");
		rc = -EINVAL;
	}
	if (rc) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, err_len, "vm %s: %s", vm->name, why);
		goto fail;
	}

	vm->g2h_off = VCAP_SHM_HDR_SIZE;
	vm->h2g_off = vm->g2h_off + page_up(VCAP_SHM_QUEUE_SIZE);
	vm->rings_off = vm->h2g_off + page_up(VCAP_SHM_QUEUE_SIZE);
	if (vm->rings_off + (256u << 10) > vm->size) {
		snprintf(err, err_len, "vm %s: size leaves no room for rings", vm->name);
		rc = -EINVAL;
		goto fail;
	}
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return rc < 0 ? rc : -EINVAL;
}

static void on_peer(void *arg, const struct ivshmem_server_event *ev)
{
	struct vm *vm = arg;

	switch (ev->type) {
	case IVSHMEM_PEER_JOINED:
		if (vm->session)
			vm_disconnect(vm, "replaced");
		vm->peer = ev->peer;
		vm->restarts = 0;
		wipe(vm, 0, vm->size); /* a new guest: nothing of the last one's */
		reset_region(vm);
		vm->session = new_session(vm, ev->pid);
		vlog(LOG_NOTICE, "vm %s: guest connected (peer %d, QEMU pid %d)", vm->name, ev->peer,
		     (int)ev->pid);
		break;
	case IVSHMEM_PEER_LEFT:
		if (ev->peer == vm->peer)
			vm_disconnect(vm, ev->why ? ev->why : "left");
		break;
	case IVSHMEM_PEER_REFUSED:
		vlog(LOG_WARNING, "vm %s: refused a connection: %s", vm->name,
		     ev->why ? ev->why : "limits");
		break;
	}
}

/* The region QEMU maps as BAR2: a sealed memfd, laid out fresh. */
static int make_region(struct vm *vm, char *err, size_t err_len)
{
	int rc;

	vm->memfd = memfd_create(vm->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (vm->memfd < 0 || ftruncate(vm->memfd, (off_t)vm->size) ||
	    fcntl(vm->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW)) {
		rc = -errno;
		snprintf(err, err_len, "vm %s: region of %llu bytes: %s", vm->name,
			 (unsigned long long)vm->size, strerror(errno));
		return rc;
	}
	vm->map = mmap(NULL, vm->size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->memfd, 0);
	if (vm->map == MAP_FAILED) {
		rc = -errno;
		snprintf(err, err_len, "vm %s: mmap: %s", vm->name, strerror(errno));
		return rc;
	}
	vm->hdr = (struct vcap_shm_hdr *)vm->map;
	reset_region(vm);
	return 0;
}

static struct ivshmem_server_cfg server_cfg(struct vm *vm)
{
	struct ivshmem_server_cfg cfg = {
		.path = vm->socket,
		.vectors = vm->vectors,
		.max_peers = 1, /* one VM per socket: a stable peer id */
		.mode = 0600,   /* whoever connects gets the region: root's QEMU only */
		.cb = on_peer,
		.cb_arg = vm,
	};

	return cfg;
}

/* The server is open: serve it, its doorbell and heartbeat from l, and plug the device. */
static int serve(struct vm *vm, struct vcapd *d, struct loop *l, char *err, size_t err_len)
{
	int rc;

	vm->d = d;
	{
		char name[VCAP_NAME_MAX + 8];

		snprintf(name, sizeof(name), "vm %s", vm->name);
		account_setup(&vm->acct, name, d->tenant_limits);
	}
	vm->loop = l;
	vm->server_watch.on_event = server_event;
	vm->bell_watch.on_event = doorbell;
	vm->beat_watch.on_event = heartbeat;
	rc = loop_add(l, ivshmem_server_fd(vm->server), EPOLLIN, &vm->server_watch);
	if (!rc)
		rc = loop_add(l, ivshmem_server_self_fd(vm->server, 0), EPOLLIN, &vm->bell_watch);
	if (!rc)
		rc = loop_every(l, VCAP_SHM_HEARTBEAT_MS, &vm->beat_watch);
	if (!rc && vm->qmp[0]) {
		struct vm_plug_cfg pc = { .vm = vm->name, .qmp = vm->qmp, .port = vm->port,
					  .socket = vm->socket, .vectors = vm->vectors,
					  .manual = vm->plug_manual || vm->adopt_absent,
					  .adopt = vm->adopt_device };

		vm->plug = vm_plug_start(&pc, l);
		if (!vm->plug)
			rc = -ENOMEM;
	}
	if (rc)
		snprintf(err, err_len, "vm %s: %s", vm->name, strerror(-rc));
	return rc;
}

int vm_start(struct vm *vm, struct vcapd *d, struct loop *l, char *err, size_t err_len)
{
	struct ivshmem_server_cfg cfg = server_cfg(vm);
	char why[256];
	int rc = make_region(vm, err, err_len);

	if (rc)
		return rc;
	cfg.shm_fd = vm->memfd;
	rc = ivshmem_server_open(&vm->server, &cfg, why, sizeof(why));
	if (rc) {
		snprintf(err, err_len, "vm %s: %s", vm->name, why);
		return rc;
	}
	reset_region(vm); /* now host_peer is the server's id */
	return serve(vm, d, l, err, err_len);
}

void vm_adopt_device(struct vm *vm)
{
	vm->adopt_device = true;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	vm_plug_free(vm->plug);
	if (vm->server)
		ivshmem_server_close(vm->server);
	region_fini(&vm->rings);
	if (vm->map != MAP_FAILED)
		munmap(vm->map, vm->size);
	if (vm->memfd >= 0)
		close(vm->memfd);
	free(vm);
}

const char *vm_name(const struct vm *vm)
{
	return vm->name;
}

struct vm *vm_next(const struct vm *vm)
{
	return vm->next;
}

void vm_set_next(struct vm *vm, struct vm *next)
{
	vm->next = next;
}

struct vm *vm_find(struct vm *list, const char *name)
{
	for (; list; list = list->next)
		if (!strcmp(list->name, name))
			return list;
	return NULL;
}

void vm_accounts_setup(struct vm *list, const uint64_t defaults[])
{
	for (; list; list = list->next) {
		char name[sizeof(list->acct.name)];

		snprintf(name, sizeof(name), "%s", list->acct.name);
		account_setup(&list->acct, name, defaults);
	}
}

bool vm_same(const struct vm *a, const struct vm *b)
{
	return !strcmp(a->name, b->name) && !strcmp(a->socket, b->socket) &&
	       a->size == b->size && a->vectors == b->vectors && !strcmp(a->qmp, b->qmp) &&
	       !strcmp(a->port, b->port) && a->plug_manual == b->plug_manual;
}

bool vm_from_config(const struct vm *vm)
{
	return vm->from_config;
}

void vm_set_from_config(struct vm *vm)
{
	vm->from_config = true;
}

void vm_stop(struct vm *vm, const char *why)
{
	if (!vm->server)
		return;
	if (vm->asker) {
		static struct vcap_msg r;
		struct session *ss = vm->asker;

		vm->asker = NULL;
		ss->waiting_cancel = NULL;
		ss->waiting_on = NULL;
		vm_plug_forget(vm->plug, vm);
		vcap_msg_error(&r, &vm->ask, -ENOENT, "vm %s was removed", vm->name);
		session_answer(ss, &r, NULL, 0);
	}
	vm_plug_free(vm->plug); /* the device stays in QEMU, with nothing behind it */
	vm->plug = NULL;
	vm_disconnect(vm, why);
	loop_del(vm->loop, ivshmem_server_fd(vm->server));
	loop_del(vm->loop, ivshmem_server_self_fd(vm->server, 0));
	loop_cancel(vm->loop, &vm->beat_watch);
	ivshmem_server_close(vm->server); /* QEMU sees its chardev close; the socket goes */
	vm->server = NULL;
	wipe(vm, 0, vm->size); /* its pages go back now; the struct lives until exit */
}

struct tenant *vm_tenant(const struct vm *vm)
{
	return vm->tenant;
}

void vm_set_tenant(struct vm *vm, struct tenant *t)
{
	vm->tenant = t;
}

void vm_disconnect(struct vm *vm, const char *why)
{
	if (!why) { /* shutdown: QMP closes while the loop is still there (the device stays) */
		vm_plug_free(vm->plug);
		vm->plug = NULL;
	}
	vm->keep_pages = !why;
	if (vm->session) {
		session_end(vm->session, why);
		vm->session = NULL;
	}
	if (why)
		vlog(LOG_NOTICE, "vm %s: guest gone (%s); its region is reset%s", vm->name, why,
		     vm->restarts ? " (it broke its control channel before)" : "");
	vm->peer = -1;
	reset_region(vm);
}

/*
 * The guest broke its control channel: it loses its rings and starts over
 * with a reset region (its library sees the generation change), but its
 * QEMU stays connected.
 */
static void restart_session(struct vm *vm, const char *why)
{
	pid_t pid = vm->session ? vm->session->cred.pid : 0;
	uint64_t now = mono_ns();

	/* a guest that does this in a loop must not flood the log: once a second */
	vm->restarts++;
	if (now - vm->last_log_ns >= 1000000000ull) {
		vlog(LOG_WARNING, "vm %s: %s; its rings are freed and its region reset (%llu times "
		     "so far)", vm->name, why, (unsigned long long)vm->restarts);
		vm->last_log_ns = now;
	}
	if (vm->session)
		session_end(vm->session, NULL);
	reset_region(vm);
	vm->session = new_session(vm, pid);
}

static void doorbell(struct loop_watch *w, uint32_t events)
{
	struct vm *vm = container_of(w, struct vm, bell_watch);
	char why[160];
	int handled = 0;

	(void)events;
	if (!vm->server) /* stopped (vm_stop) earlier in this loop round */
		return;
	ivshmem_server_self_drain(vm->server, 0);
	if (!vm->session || vm->session->busy)
		return; /* nobody connected, or its last request is still being answered */
	while (handled < BATCH_MSGS) {
		ssize_t n = shm_queue_recv(&vm->g2h, rx_buf, sizeof(rx_buf), why, sizeof(why));

		if (n == 0)
			return;
		if (n < 0) {
			restart_session(vm, why);
			return;
		}
		if (session_request(vm->session, rx_buf, (size_t)n)) {
			restart_session(vm, "malformed request or no room for the reply");
			return;
		}
		if (vm->session->busy)
			return; /* answered later; vm_pause rings again then */
		handled++;
	}
	/* more may be queued: ring our own bell so others get a turn first */
	(void)!write(ivshmem_server_self_fd(vm->server, 0), &(uint64_t){ 1 }, sizeof(uint64_t));
}

/* Count the region's heartbeat up, so a guest can tell vcapd still runs. */
static void heartbeat(struct loop_watch *w, uint32_t events)
{
	struct vm *vm = container_of(w, struct vm, beat_watch);

	(void)events;
	atomic_fetch_add_explicit(&vm->hdr->heartbeat, 1, memory_order_relaxed);
}

static void server_event(struct loop_watch *w, uint32_t events)
{
	struct vm *vm = container_of(w, struct vm, server_watch);

	(void)events;
	if (!vm->server) /* stopped (vm_stop) earlier in this loop round */
		return;
	if (ivshmem_server_dispatch(vm->server))
		vlog(LOG_ERR, "vm %s: the ivshmem server failed", vm->name);
}

/* ---- the carrier's operations (session.h) ----------------------------------- */

/*
 * Post a reply into h2g, and ring the guest's vector 0 only if it asked
 * (h2g's wait_seq odd): the guest's side of this Dekker pair is in
 * lib/ctl_shm.c (store wait_seq, fence, look at the queue again).
 */
static int vm_send(struct session *ss, const void *msg, size_t len, const int *fds, int nfds)
{
	struct vm *vm = ss->carrier;
	int rc;

	(void)fds; /* never any: a VM's rings are named by offset */
	(void)nfds;
	if (vm->peer < 0)
		return -ENOTCONN;
	rc = shm_queue_send(&vm->h2g, msg, len);
	if (rc)
		return rc;
	if (!shm_queue_peer_waiting(&vm->h2g))
		return 0;
	return ivshmem_server_notify(vm->server, (unsigned)vm->peer, VCAP_SHM_VECTOR_CTRL);
}

/*
 * A ring in the region, woken through a vector of its own: a dup of the
 * eventfd QEMU turns into the guest's MSI-X interrupt.
 */
static int vm_ring_place(struct session *ss, struct ring_place *p, char *err, size_t err_len)
{
	struct vm *vm = ss->carrier;
	uint64_t off;
	unsigned v;
	int fd;

	for (v = 1; v < vm->vectors; v++)
		if (!(vm->vectors_used & (1ull << v)))
			break;
	if (v == vm->vectors) {
		snprintf(err, err_len,
			 "vm %s has no free interrupt vector: %u vectors allow %u rings at once",
			 vm->name, vm->vectors, vm->vectors - 1);
		return -ENOSPC;
	}
	if (region_alloc(&vm->rings, p->map_size, &off)) {
		snprintf(err, err_len,
			 "a ring of %zu bytes does not fit in vm %s's region (largest free: %llu of "
			 "%llu bytes)",
			 p->map_size, vm->name, (unsigned long long)region_largest(&vm->rings),
			 (unsigned long long)vm->size);
		return -ENOSPC;
	}
	fd = vm->peer >= 0 ? ivshmem_server_peer_fd(vm->server, (unsigned)vm->peer, v) : -ENOTCONN;
	if (fd >= 0)
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		region_free(&vm->rings, off, p->map_size);
		snprintf(err, err_len, "vm %s: no interrupt descriptor for vector %u", vm->name, v);
		return -EIO;
	}
	vm->vectors_used |= 1ull << v;
	p->carrier = vm;
	p->generation = vm->generation;
	p->map = vm->map + off;
	p->wake_fd = fd;
	p->region_off = off;
	p->vector = v;
	p->n_give = 0;
	return 0; /* populated off the control thread (consumer_populate), as a memfd ring */
}

static void vm_ring_release(struct ring_place *p)
{
	struct vm *vm = p->carrier;

	/* a region reset since (the guest went, or broke its channel) forgot it already */
	if (p->generation == vm->generation) {
		if (!vm->keep_pages) /* the guest reads what is left and a clear end, as after SIGKILL */
			wipe(vm, p->region_off, page_up(p->map_size));
		region_free(&vm->rings, p->region_off, p->map_size);
		vm->vectors_used &= ~(1ull << p->vector);
	}
	close(p->wake_fd);
	p->map = NULL;
	p->wake_fd = -1;
}

/* A VM is bounded by its vectors and its region, too. */
static void vm_limits(struct session *ss, struct vcap_msg_hello_reply *r)
{
	struct vm *vm = ss->carrier;
	uint64_t room = vm->size - vm->rings_off - VCAP_RING_HDR_SIZE, p = VCAP_RING_DATA_MAX;

	while (p > room)
		p >>= 1;
	if (r->max_rings > vm->vectors - 1) /* one per vector but vector 0 */
		r->max_rings = vm->vectors - 1;
	if (r->ring_size_max > p)
		r->ring_size_max = (uint32_t)p;
}

/*
 * While a request is answered off the control thread the guest's next
 * requests wait in g2h; going on rings vcapd's own doorbell, so they are
 * read from the loop as if the guest had just rung.
 */
static void vm_pause(struct session *ss, bool paused)
{
	struct vm *vm = ss->carrier;

	if (!paused)
		(void)!write(ivshmem_server_self_fd(vm->server, 0), &(uint64_t){ 1 },
			     sizeof(uint64_t));
}

static void vm_fail(struct session *ss, const char *why)
{
	restart_session(ss->carrier, why);
}

static const struct session_ops vm_ops = {
	.kind = "vm",
	.charges_ring_memory = false, /* rings live in the VM's own region */
	.send = vm_send,
	.ring_place = vm_ring_place,
	.ring_release = vm_ring_release,
	.pause = vm_pause,
	.fail = vm_fail,
	.limits = vm_limits,
};

static struct session *new_session(struct vm *vm, pid_t qemu_pid)
{
	struct session *ss = session_new(vm->d, &vm_ops, vm);

	if (!ss)
		return NULL;
	ss->cred.pid = qemu_pid;
	ss->cred.uid = (uid_t)-1;
	ss->tenant = vm->tenant;
	/* the operator attached it: charged, never refused for its account's session count */
	ss->acct = vm->tenant ? &vm->tenant->acct : &vm->acct;
	account_session_charge(ss->acct);
	ss->operator_attached = true; /* without a tenant it may open any source */
	snprintf(ss->origin, sizeof(ss->origin), "%s/", vm->name);
	snprintf(ss->client, sizeof(ss->client), "vm %s", vm->name);
	return ss;
}

/* ---- the administrator's requests (vm_admin.h) ------------------------------ */

static const char *const state_names[] = { "absent", "plugging", "plugged", "unplugging",
					   "error", "manual" };

static unsigned device_state(const struct vm *vm, const char **detail)
{
	if (!vm->plug) {
		*detail = "";
		return VCAP_VM_MANUAL;
	}
	return vm_plug_state(vm->plug, detail);
}

/* "NAME STATE[ DETAIL]\n" for vm, appended to text. */
static void describe(const struct vm *vm, char *text, size_t cap)
{
	size_t n = strlen(text);
	const char *detail;
	unsigned st = device_state(vm, &detail);

	if (n < cap)
		snprintf(text + n, cap - n, "%s %s%s%s\n", vm->name, state_names[st],
			 detail[0] ? " " : "", detail);
}

static void plug_answered(void *arg, int rc, const char *why)
{
	struct vm *vm = arg;
	struct session *ss = vm->asker;
	static struct vcap_msg reply;
	const char *detail;

	if (!ss)
		return;
	vm->asker = NULL;
	ss->waiting_cancel = NULL;
	ss->waiting_on = NULL;
	if (vm->asking) { /* answered within the request: vm_admin_request replies */
		vm->asked_rc = rc;
		snprintf(vm->asked_why, sizeof(vm->asked_why), "%s", why ? why : "");
		return;
	}
	if (rc) {
		vcap_msg_error(&reply, &vm->ask, rc, "vm %s: %s", vm->name, why);
	} else {
		vcap_msg_reply(&reply, &vm->ask);
		reply.u.vm_reply.state = device_state(vm, &detail);
		reply.text[0] = '\0';
		describe(vm, reply.text, sizeof(reply.text));
	}
	session_answer(ss, &reply, NULL, 0);
}

static void asker_gone(struct session *ss)
{
	struct vm *vm = ss->waiting_on;

	vm->asker = NULL;
	if (vm->plug)
		vm_plug_forget(vm->plug, vm);
	ss->waiting_cancel = NULL;
	ss->waiting_on = NULL;
}

int vm_admin_request(struct session *ss, const struct vcap_msg *m, struct vcap_msg *reply)
{
	bool attach = m->type == VCAP_MSG_VM_ATTACH;
	char why[VCAP_REASON_MAX];
	const char *detail;
	struct vm *vm;
	int rc;

	if (m->u.vm.flags & ~VCAP_VM_QUERY) {
		vcap_msg_error(reply, m, -EINVAL, "unknown vm request flags 0x%x", m->u.vm.flags);
		return 0;
	}
	if ((m->u.vm.flags & VCAP_VM_QUERY) && !m->name[0]) {
		vcap_msg_reply(reply, m);
		reply->text[0] = '\0';
		for (vm = ss->d->vms; vm; vm = vm->next)
			if (vm->server)
				describe(vm, reply->text, sizeof(reply->text));
		vm = ss->d->vms;
		reply->u.vm_reply.state = vm ? device_state(vm, &detail) : VCAP_VM_ABSENT;
		return 0;
	}
	vm = vm_find(ss->d->vms, m->name);
	if (!vm || !vm->server) {
		vcap_msg_error(reply, m, -ENOENT, "no vm named \"%s\"", m->name);
		return 0;
	}
	if (m->u.vm.flags & VCAP_VM_QUERY) {
		vcap_msg_reply(reply, m);
		reply->text[0] = '\0';
		describe(vm, reply->text, sizeof(reply->text));
		reply->u.vm_reply.state = device_state(vm, &detail);
		return 0;
	}
	if (!vm->plug) {
		vcap_msg_error(reply, m, -EOPNOTSUPP,
			       "vm %s has no qmp=PATH: vcapd cannot %s its device (QEMU's command "
			       "line has it)", vm->name, attach ? "attach" : "detach");
		return 0;
	}
	if (vm->asker) {
		vcap_msg_error(reply, m, -EBUSY, "vm %s: another attach or detach is under way",
			       vm->name);
		return 0;
	}
	vm->asker = ss;
	vm->ask = *m;
	ss->waiting_cancel = asker_gone;
	ss->waiting_on = vm;
	vlog(LOG_NOTICE, "vm %s: %s asked by %s (pid %d)", vm->name, attach ? "attach" : "detach",
	     ss->client, (int)ss->cred.pid);
	vm->asking = true;
	vm->asked_rc = 1; /* not answered */
	rc = vm_plug_request(vm->plug, attach, plug_answered, vm, why, sizeof(why));
	vm->asking = false;
	if (rc) {
		vm->asker = NULL;
		ss->waiting_cancel = NULL;
		ss->waiting_on = NULL;
		vcap_msg_error(reply, m, rc, "%s", why);
		return 0;
	}
	if (vm->asked_rc == 1)
		return VCAP_SERVE_LATER; /* plug_answered() replies */
	/* answered at once: it already was so, or QEMU could not be asked */
	if (vm->asked_rc) {
		vcap_msg_error(reply, m, vm->asked_rc, "vm %s: %s", vm->name, vm->asked_why);
		return 0;
	}
	vcap_msg_reply(reply, m);
	reply->text[0] = '\0';
	describe(vm, reply->text, sizeof(reply->text));
	reply->u.vm_reply.state = device_state(vm, &detail);
	return 0;
}

/* ---- an upgrade hands the VM over (vm.h) ------------------------------------ */

int vm_save(const struct vm *vm, struct vm_saved *out, char *err, size_t err_len)
{
	const char *detail;
	char why[200];
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", vm->name);
	snprintf(out->socket, sizeof(out->socket), "%s", vm->socket);
	if (vm->session && vm->session->busy) {
		snprintf(err, err_len, "vm %s: a request of its guest is being answered: try again",
			 vm->name);
		return -EAGAIN;
	}
	if (vm->asker) {
		snprintf(err, err_len, "vm %s: an attach or detach is under way: try again",
			 vm->name);
		return -EAGAIN;
	}
	out->plug = device_state(vm, &detail);
	out->plug_wanted = vm->plug ? vm_plug_wanted(vm->plug) : false;
	if (out->plug != VCAP_VM_PLUGGED && out->plug != VCAP_VM_ABSENT &&
	    out->plug != VCAP_VM_MANUAL && vm->session) {
		/*
		 * Plugging, unplugging, or a failure being retried while a guest
		 * is connected: QMP is mid-way, and the new vcapd could only
		 * replug (the guest would lose its device).  Without a guest the
		 * new vcapd simply starts plugging again.
		 */
		snprintf(err, err_len, "vm %s: its device is %s: try again once it is plugged or "
			 "absent", vm->name, state_names[out->plug]);
		return -EAGAIN;
	}
	rc = ivshmem_server_save(vm->server, &out->srv, why, sizeof(why));
	if (rc) {
		snprintf(err, err_len, "vm %s: %s", vm->name, why);
		return rc;
	}
	out->memfd = vm->memfd;
	out->generation = vm->generation;
	out->g2h_pos = vm->g2h.pos;
	out->h2g_pos = vm->h2g.pos;
	out->restarts = vm->restarts;
	out->peer = vm->session ? vm->peer : -1;
	out->qemu_pid = vm->session ? (int32_t)vm->session->cred.pid : 0;
	return 0;
}

void vm_saved_fds(const struct vm_saved *sv, void (*fn)(void *arg, int fd), void *arg)
{
	fn(arg, sv->memfd);
	fn(arg, sv->srv.lsock);
	fn(arg, sv->srv.shm_fd);
	for (unsigned v = 0; v < sv->srv.vectors && v < IVSHMEM_SERVER_MAX_VECTORS; v++)
		fn(arg, sv->srv.self_fds[v]);
	for (unsigned i = 0; i < sv->srv.n_peers && i < IVSHMEM_SERVER_MAX_PEERS; i++) {
		fn(arg, sv->srv.peers[i].conn);
		for (unsigned v = 0; v < sv->srv.vectors && v < IVSHMEM_SERVER_MAX_VECTORS; v++)
			fn(arg, sv->srv.peers[i].efds[v]);
	}
}

bool vm_serving(const struct vm *vm)
{
	return vm->server != NULL;
}

struct session *vm_session(const struct vm *vm)
{
	return vm->session;
}

int vm_start_adopted(struct vm *vm, const struct vm_saved *sv, struct vcapd *d, struct loop *l,
		     char *err, size_t err_len)
{
	struct ivshmem_server_cfg cfg = server_cfg(vm);
	struct stat st;
	char why[256];
	int rc;

	if (strcmp(sv->socket, vm->socket)) {
		snprintf(err, err_len, "vm %s moved from %s to %s: upgrade first, then reload",
			 vm->name, sv->socket, vm->socket);
		return -EINVAL;
	}
	if (fstat(sv->memfd, &st) || (uint64_t)st.st_size != vm->size) {
		snprintf(err, err_len, "vm %s: the handed-over region is not of size %llu: restart "
			 "the VM to change its size", vm->name, (unsigned long long)vm->size);
		return -EINVAL;
	}
	vm->memfd = sv->memfd;
	/* the pages are the guest's and its rings': mapped again, never laid out or wiped */
	vm->map = mmap(NULL, vm->size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->memfd, 0);
	if (vm->map == MAP_FAILED) {
		rc = -errno;
		snprintf(err, err_len, "vm %s: mmap: %s", vm->name, strerror(errno));
		return rc;
	}
	vm->hdr = (struct vcap_shm_hdr *)vm->map;
	vm->generation = sv->generation;
	region_init(&vm->rings, vm->rings_off, vm->size);
	vm->vectors_used = 1;
	if (shm_queue_attach(&vm->g2h, vm->map + vm->g2h_off, VCAP_SHM_QUEUE_SIZE) ||
	    shm_queue_attach(&vm->h2g, vm->map + vm->h2g_off, VCAP_SHM_QUEUE_SIZE)) {
		snprintf(err, err_len, "vm %s: its control queues do not fit", vm->name);
		return -EINVAL;
	}
	vm->g2h.pos = sv->g2h_pos;
	vm->h2g.pos = sv->h2g_pos;
	vm->restarts = sv->restarts;
	rc = ivshmem_server_adopt(&vm->server, &cfg, &sv->srv, why, sizeof(why));
	if (rc) {
		snprintf(err, err_len, "vm %s: %s", vm->name, why);
		return rc;
	}
	/*
	 * As it was: plugged stays plugged (nothing unplugged); one detached
	 * stays out until an attach; otherwise (absent because QEMU is not
	 * there, or in error without a guest) plugging starts again.
	 */
	vm->adopt_device = sv->plug == VCAP_VM_PLUGGED;
	vm->adopt_absent = sv->plug != VCAP_VM_MANUAL && !sv->plug_wanted;
	rc = serve(vm, d, l, err, err_len);
	if (rc)
		return rc;
	if (sv->peer >= 0) {
		vm->peer = sv->peer;
		vm->session = new_session(vm, (pid_t)sv->qemu_pid);
		if (!vm->session) {
			snprintf(err, err_len, "vm %s: out of memory", vm->name);
			return -ENOMEM;
		}
	}
	return 0;
}

int vm_adopt_ring(struct vm *vm, uint64_t off, size_t len, unsigned vector, int wake_fd,
		  struct ring_place *p, char *err, size_t err_len)
{
	if (!vm->session || vector == 0 || vector >= vm->vectors ||
	    (vm->vectors_used & (1ull << vector)) || off < vm->rings_off ||
	    off + len > vm->size || region_reserve(&vm->rings, off, len)) {
		snprintf(err, err_len, "vm %s: a handed-over ring (%zu bytes at %llu, vector %u) "
			 "does not fit its region", vm->name, len, (unsigned long long)off, vector);
		return -EINVAL;
	}
	vm->vectors_used |= 1ull << vector;
	memset(p, 0, sizeof(*p));
	p->map_size = len;
	p->carrier = vm;
	p->generation = vm->generation;
	p->map = vm->map + off;
	p->wake_fd = wake_fd;
	p->keep_fd = -1;
	p->region_off = off;
	p->vector = vector;
	p->give[0] = p->give[1] = -1;
	return 0;
}

void vm_adopted(struct vm *vm)
{
	/* what the guest asked meanwhile waits in g2h: read it as if it had just rung */
	if (vm->server)
		(void)!write(ivshmem_server_self_fd(vm->server, 0), &(uint64_t){ 1 },
			     sizeof(uint64_t));
}
