/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshmem_server.h - vcapd's end of QEMU's stock `ivshmem-doorbell` device:
 * an ivshmem server for one VM on one unix socket.
 *
 * QEMU's ivshmem-doorbell device does not take its shared memory from the
 * command line: it connects to a server (`-chardev socket,path=SOCK,id=ivs
 * -device ivshmem-doorbell,chardev=ivs,vectors=N`), which hands it the
 * shared memory and the eventfds that carry interrupts.  vcapd is that
 * server, so the memory a guest sees as BAR2 is a memfd vcapd owns.
 *
 * Protocol (QEMU docs/specs/ivshmem-spec.rst).  The socket is SOCK_STREAM;
 * the server only ever sends, each message an 8-byte little-endian signed
 * number, some with one descriptor as SCM_RIGHTS.  To a client (a QEMU) that
 * connects, in this order:
 *
 *   1. 0                           protocol version
 *   2. ID                          the client's peer id (0..65535)
 *   3. -1 + shm fd                 the shared memory; QEMU maps it as BAR2
 *   4. P + eventfd, N times        for every other peer P (vcapd itself and
 *                                  any other client): the eventfds that
 *                                  interrupt P, vector 0..N-1 in order
 *   5. ID + eventfd, N times       the client's own eventfds: QEMU turns a
 *                                  write to the V-th into MSI-X vector V
 *
 * and to every client already connected, step 4 for the newcomer.  When a
 * client hangs up, the others get its ID with no descriptor (disconnect).
 * QEMU reads up to step 3 synchronously while it creates the device, before
 * the guest starts, and the rest from its main loop.
 *
 * vcapd is a peer too: it has its own id (cfg.self_id) and N eventfds that
 * every client learns in step 4.  A guest that writes (self_id << 16) | V
 * to BAR0 offset 12 (Doorbell) makes QEMU write vcapd's V-th eventfd, which
 * vcapd polls (ivshmem_server_self_fd).  vcapd interrupts vector V of guest
 * peer P by writing P's V-th eventfd (ivshmem_server_notify); the guest
 * reads its own id in BAR0 offset 8 (IVPosition).
 *
 * Event loop: nothing here blocks.  The server keeps its sockets in an epoll
 * set of its own; the caller adds that one descriptor (ivshmem_server_fd) to
 * its epoll and calls ivshmem_server_dispatch whenever it is readable, which
 * accepts clients, sends what is due, and notices hang-ups, reporting each
 * peer that joined or left through the callback.  A message a slow client
 * cannot take yet is queued and sent when its socket drains (the queue holds
 * counted references to the descriptors, not duplicates, so a peer leaving
 * meanwhile cannot change what a queued message carries, and queues cost no
 * descriptors); a client that lets its queue grow past
 * IVSHMEM_SERVER_QUEUE_MAX messages is dropped.
 *
 * Trust: QEMU never writes to this socket, so any byte (or descriptor) it
 * sends is a protocol error and the connection is dropped; a hang-up (QEMU
 * killed with SIGKILL included) frees the peer and its eventfds and tells
 * the other peers.  The guest itself cannot reach this socket at all: it can
 * only ring doorbells, i.e. make eventfds count.  The eventfds are shared
 * with QEMU, open file description and all; a compromised QEMU could clear
 * their O_NONBLOCK and saturate a counter to block vcapd in notify, so call
 * notify from a thread that may stall if QEMU is not trusted that far.
 *
 * Shared memory: the caller's memfd, whose size must be a power of two of
 * at least 4 KiB (QEMU maps it as a PCI BAR; a BAR is a power of two, and
 * QEMU 7.2 aborts on any other size).  It is sealed against shrinking and
 * growing (F_SEAL_SHRINK | F_SEAL_GROW, added here if missing) because QEMU
 * gets the same descriptor and a truncated memfd would SIGBUS vcapd.
 *
 * Peer ids.  vcapd is IVSHMEM_SERVER_SELF_ID (1) unless configured; clients
 * get 1, 2, 3, ... skipping vcapd's id (so 2, 3, ... by default), and the
 * count starts over whenever nobody is connected, so with one VM per socket
 * (max_peers 1) a VM always gets id 2.  Id 0 is never used, and an id is
 * never reused while a client that saw it leave is still connected:
 * QEMU 7.2 frees a peer's eventfd table when told that peer left and writes
 * into the freed table if the same id connects again (heap corruption, seen
 * crashing QEMU), and after a server restart the protocol version (0) reads
 * to QEMU as "peer 0 left".
 *
 * Server restart: QEMU cannot take a new shared memory object or new
 * eventfds for peers it already has, and `reconnect=` on the chardev hangs
 * QEMU 7.2 at start-up; see guest/run-vm.sh for what was measured.  The
 * memfd and the eventfds must outlive the server process (keep them across
 * a re-exec or in systemd's descriptor store) or the VM must be restarted.
 */
#ifndef VCAP_TRANSPORT_IVSHMEM_SERVER_H
#define VCAP_TRANSPORT_IVSHMEM_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IVSHMEM_PROTOCOL_VERSION 0
#define IVSHMEM_SERVER_MAX_PEERS 16   /* clients (QEMUs) on one socket */
#define IVSHMEM_SERVER_MAX_VECTORS 64 /* interrupt vectors per peer */
#define IVSHMEM_SERVER_QUEUE_MAX 4096 /* unsent messages before a client is dropped */
#define IVSHMEM_SERVER_SHM_MIN 4096u
#define IVSHMEM_SERVER_SELF_ID 1      /* vcapd's peer id unless configured */

struct ivshmem_server;

enum ivshmem_server_event_type {
	IVSHMEM_PEER_JOINED,  /* a client got its setup messages; peer is valid */
	IVSHMEM_PEER_LEFT,    /* a client hung up or was dropped; its eventfds are closed */
	IVSHMEM_PEER_REFUSED, /* a connection was refused (limits); peer is -1 */
};

struct ivshmem_server_event {
	enum ivshmem_server_event_type type;
	int peer;        /* peer id, -1 for REFUSED */
	pid_t pid;       /* the client's process (SO_PEERCRED), 0 if unknown */
	const char *why; /* for LEFT and REFUSED: what happened, e.g. "hung up" */
};

typedef void ivshmem_server_cb(void *arg, const struct ivshmem_server_event *ev);

struct ivshmem_server_cfg {
	const char *path;      /* unix socket to listen on; its directory must exist */
	int shm_fd;            /* memfd, O_RDWR, power-of-two size; duplicated */
	unsigned vectors;      /* interrupt vectors per peer, 1..IVSHMEM_SERVER_MAX_VECTORS */
	unsigned max_peers;    /* clients at once, 1..IVSHMEM_SERVER_MAX_PEERS (0: 1) */
	uint16_t self_id;      /* vcapd's peer id (0: IVSHMEM_SERVER_SELF_ID); see "Peer ids" */
	mode_t mode;           /* chmod of the socket file (0: leave it to the umask) */
	ivshmem_server_cb *cb; /* may be NULL */
	void *cb_arg;
};

/*
 * Validate cfg, listen on cfg->path (a stale socket file that nobody answers
 * on is replaced) and create vcapd's own eventfds.
 * @return 0, or -errno with a sentence in err (-EADDRINUSE: a live server
 * listens there; -EINVAL: bad size, vectors or peers; -EMFILE: RLIMIT_NOFILE
 * too low for vectors * (max_peers + 1) eventfds).
 */
int ivshmem_server_open(struct ivshmem_server **out, const struct ivshmem_server_cfg *cfg,
			char *err, size_t len);

/*
 * Close every connection (clients keep what they have: the guest's memory
 * and eventfds stay valid), the eventfds and the socket, and unlink it.
 */
void ivshmem_server_close(struct ivshmem_server *s);

/* The server's epoll descriptor: poll it for EPOLLIN, then call dispatch. */
int ivshmem_server_fd(const struct ivshmem_server *s);

/*
 * Accept clients, flush queued messages and reap hung-up or misbehaving
 * clients, calling cfg.cb for each peer that joins, leaves or is refused.
 * Never blocks.  @return 0, or -errno if the server itself failed (epoll).
 */
int ivshmem_server_dispatch(struct ivshmem_server *s);

uint16_t ivshmem_server_self_id(const struct ivshmem_server *s);

/*
 * vcapd's eventfd for vector v (O_NONBLOCK): readable when a guest rang
 * Doorbell with (self_id << 16) | v.  @return the fd, or -EINVAL.
 */
int ivshmem_server_self_fd(const struct ivshmem_server *s, unsigned v);

/* Read and reset vector v's doorbell count.  @return rings since last time (0: none). */
uint64_t ivshmem_server_self_drain(struct ivshmem_server *s, unsigned v);

/*
 * Raise MSI-X vector v in peer `peer` (write its v-th eventfd).  An already
 * pending interrupt absorbs this one.  @return 0, -ENOENT (no such peer),
 * -EINVAL (v out of range) or -errno.
 */
int ivshmem_server_notify(struct ivshmem_server *s, unsigned peer, unsigned v);

/*
 * The eventfd that raises vector v in peer `peer`, for a caller that wants
 * its own dup() of it (e.g. to signal from another thread without looking
 * the peer up).  @return the fd (owned by the server), -ENOENT or -EINVAL.
 */
int ivshmem_server_peer_fd(const struct ivshmem_server *s, unsigned peer, unsigned v);

/* Ids of the connected clients, up to max of them.  @return how many there are. */
unsigned ivshmem_server_peers(const struct ivshmem_server *s, uint16_t *ids, unsigned max);

/*
 * Handing a live server to another process (vcapd's upgrade): every
 * descriptor it holds, so that QEMU keeps the very same socket, memfd and
 * eventfds (it cannot take new ones for a peer it knows), and the new
 * process serves them without anything being sent or re-created.
 */
struct ivshmem_server_saved {
	int lsock;                 /* the listening socket (its file stays in place) */
	int shm_fd;                /* the server's own dup of the memfd */
	unsigned vectors, max_peers;
	uint16_t self_id;
	unsigned next_id;
	int self_fds[IVSHMEM_SERVER_MAX_VECTORS];
	unsigned n_peers;
	struct {
		int conn;
		uint16_t id;
		pid_t pid;
		int efds[IVSHMEM_SERVER_MAX_VECTORS];
	} peers[IVSHMEM_SERVER_MAX_PEERS];
};

/*
 * Describe s into out (nothing changes in s).  @return 0, or -EAGAIN with
 * a sentence in err while a client's setup is still being sent or a
 * client is being dropped (try again: nothing queued may be lost).
 */
int ivshmem_server_save(const struct ivshmem_server *s, struct ivshmem_server_saved *out,
			char *err, size_t len);

/*
 * A server around the descriptors of st (inherited; this server owns them
 * now), with cfg's callback and mode; cfg->path must be the socket st's
 * listening socket is bound to.  Nothing is sent to the clients.
 * @return 0, or -errno with a sentence in err.
 */
int ivshmem_server_adopt(struct ivshmem_server **out, const struct ivshmem_server_cfg *cfg,
			 const struct ivshmem_server_saved *st, char *err, size_t len);

#endif /* VCAP_TRANSPORT_IVSHMEM_SERVER_H */
