/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * upgrade.h - vcapd re-executes itself (or a new binary) and hands over
 * every descriptor and the state, so that no consumer notices more than a
 * pause: `vcapctl upgrade` (UPGRADE) and SIGUSR2.
 *
 *   old vcapd                                new vcapd (--takeover FD)
 *   refuse what cannot be handed over yet;
 *   fork, clear FD_CLOEXEC on exactly the
 *   listening sockets, sessions and rings,
 *   exec  ------------------------------->  load, read the configuration
 *         <---------------------- "LOADED"
 *   park every capture thread at a batch
 *   boundary; write the state (upgrade_state.h)
 *   into a sealed memfd; send it and the
 *   sources' sockets (SCM_RIGHTS) ------->  check the header, rebuild
 *                                           sources, sessions and rings
 *                                           around the inherited descriptors
 *         <------------------- "READY pid"  (after MAINPID= to systemd)
 *   "GO" -------------------------------->  start capture threads, serve
 *   _exit(0), closing nothing the peers see
 *
 * A child that fails (exec fails, it refuses, dies, or is not ready in
 * 10 s) is killed and the old vcapd unparks and goes on where it was; the
 * child's messages (its stderr, through a pipe) are the reason given.
 */
#ifndef VCAP_DAEMON_UPGRADE_H
#define VCAP_DAEMON_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct vcapd;
struct vm;

/* At start: what a later upgrade re-executes (the path vcapd was started as) and with which arguments. */
void upgrade_init(struct vcapd *d, int main_fd, int argc, char **argv);

/*
 * Old side: hand everything to binary (NULL: the one vcapd was started
 * as).  @return 0 once the new vcapd took over (the caller may send one
 * reply, then must _exit(0) at once), with its pid and the pause; or
 * -errno with err, and everything as it was.
 */
int upgrade_run(struct vcapd *d, const char *binary, uint32_t *new_pid, uint64_t *paused_ns,
		char *err, size_t err_len);

/*
 * New side: --takeover FD (the socket to the old vcapd), seen first: from
 * then on sources wait for their state.  @return 0 or -errno with err.
 */
int upgrade_takeover_arg(const char *fd_arg, char *err, size_t err_len);
/*
 * Once the configuration is read: tell the old vcapd (which parks its
 * capture threads then), receive the state, check it.  @return 0 or
 * -errno with err.
 */
int upgrade_takeover_open(char *err, size_t err_len);
bool upgrade_taking_over(void);
/*
 * Start vm (main.c's start_vms): around what the old vcapd handed over for
 * it, or afresh (vm_start) if it had none by that name.  @return 0 or
 * -errno with err.
 */
int upgrade_start_vm(struct vm *vm, struct vcapd *d, struct loop *l, char *err, size_t err_len);
/* The inherited listening socket bound to path, or -1 (then listen anew). */
int upgrade_listener(const char *path);
/*
 * Rebuild sources' positions, sessions and rings around the inherited
 * descriptors (after the configuration is loaded and the sockets served
 * from l).  @return 0 or -errno with err.
 */
int upgrade_adopt(struct vcapd *d, struct loop *l, char *err, size_t err_len);
/*
 * Tell systemd and the old vcapd that this one is ready, and wait for the
 * old one to let go.  Returns only once it did (stderr is the log again).
 */
void upgrade_ready(void);

#endif /* VCAP_DAEMON_UPGRADE_H */
