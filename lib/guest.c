/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * guest.c - "host:NAME" inside a VM where no vcap-guestd serves the unix
 * socket: this process opens the VM's ivshmem device itself, talks to vcapd
 * through the region's control queues (ctl_shm.c) and reads its rings where
 * they lie in BAR2, without mapping anything more.
 *
 * One device per process, and one process per VM.  VFIO admits one opener
 * of a device group, and a region has one pair of control queues: two
 * programs reading replies from the same queue would take each other's.
 * So every handle of the process shares one link (device + channel),
 * counted, under one mutex, and the process holds an flock on
 * VCAP_GUEST_LOCK while it has the link (vcap-guestd holds it for good);
 * the last handle to close gives the device back for the next program.
 *
 * What the unix socket did for free has to be done by hand here: nothing
 * hangs up when a handle goes away, so closing it sends CLOSE for its ring.
 * A process that dies without closing leaves its ring in vcapd's session
 * for the VM; the next program to take the device closes it
 * (vcap_ctl_shm_reclaim).  vcap-guestd notices its clients hanging up.
 *
 * Replugging (vcapd, restarted, unplugs the dead device through QMP and
 * plugs a fresh one): the kernel asks for the device back (VFIO's request
 * IRQ) or it is gone, or vcapd's heartbeat stopped; every handle then
 * reports -EPIPE, and the device is given back when the last one closes
 * (its rings lie in the device's mapping, so not before).  The next open
 * waits for that device to be gone and takes the new one: until then it
 * fails with -EAGAIN, so that a program reopening in a loop never takes
 * the dead device again and holds up its removal.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "ivshmem_guest.h"
#include "vcap_shm.h"

/* The process's device and channel, shared by all its guest handles. */
struct guest_link {
	struct vcap_ivshmem *dev;
	struct vcap_ctl *ctl;
	int lock_fd;
	unsigned refs;
	bool dying; /* unplugged, or its vcapd gone: no new handle takes it */
};

static pthread_mutex_t link_lock = PTHREAD_MUTEX_INITIALIZER;
static struct guest_link *the_link;
/*
 * The device the last link gave back because it was dying, until it is
 * gone (or STALE_MS passed: vcapd may only have stalled, and then the
 * same device serves again).
 */
static int stale_fd = -1;
static int64_t stale_until_ms;
#define STALE_MS 30000

/* One handle's view: the shared link, and the ring to CLOSE at the end. */
struct guest_ctl {
	struct vcap_ctl ctl;
	struct guest_link *link;
	uint32_t ring_id;
	bool has_ring;
};

/* Is there an ivshmem device at all?  Only then is this worth a lock file. */
static bool have_ivshmem(void)
{
	char path[300], buf[16];
	struct dirent *e;
	bool found = false;
	DIR *dir = opendir("/sys/bus/pci/devices");

	if (!dir)
		return false;
	while (!found && (e = readdir(dir)) != NULL) {
		unsigned long id[2] = { 0, 0 };
		const char *attr[2] = { "vendor", "device" };

		for (int i = 0; i < 2; i++) {
			FILE *f;

			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", e->d_name,
				 attr[i]);
			f = fopen(path, "re");
			if (f && fgets(buf, sizeof(buf), f))
				id[i] = strtoul(buf, NULL, 16);
			if (f)
				fclose(f);
		}
		found = id[0] == VCAP_IVSHMEM_VENDOR && id[1] == VCAP_IVSHMEM_DEVICE;
	}
	closedir(dir);
	return found;
}

int vcap_guest_lock(void)
{
	int fd;

	if (mkdir(VCAP_GUEST_LOCK_DIR, 0755) && errno != EEXIST)
		return vcap_set_err(-errno, VCAP_GUEST_LOCK_DIR ": %s", strerror(errno));
	fd = open(VCAP_GUEST_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return vcap_set_err(-errno, VCAP_GUEST_LOCK ": %s", strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno;

		close(fd);
		if (err == EWOULDBLOCK)
			return vcap_set_err(-EBUSY,
					    "another program drives this VM's ivshmem device (it "
					    "holds " VCAP_GUEST_LOCK "); run vcap-guestd to let "
					    "programs share it");
		return vcap_set_err(-err, VCAP_GUEST_LOCK ": flock: %s", strerror(err));
	}
	return fd;
}

static void link_put(struct guest_link *l)
{
	pthread_mutex_lock(&link_lock);
	if (--l->refs == 0) {
		if (l->dying) {
			if (stale_fd >= 0)
				close(stale_fd);
			stale_fd = vcap_ivshmem_watch(l->dev);
			stale_until_ms = vcap_mono_ms() + STALE_MS;
		}
		l->ctl->close(l->ctl);
		vcap_ivshmem_close(l->dev);
		close(l->lock_fd);
		free(l);
		the_link = NULL;
	}
	pthread_mutex_unlock(&link_lock);
}

/*
 * Open the device and the channel, or take another reference.
 * VCAP_IVSHMEM_DEVICE names the device (PCI address) when a VM has more
 * than one; VCAP_IVSHMEM_NO_VFIO=1 forces polling (for tests).
 */
static int link_get(const char *socket_path, struct guest_link **out)
{
	const char *addr = getenv("VCAP_IVSHMEM_DEVICE");
	const char *novfio = getenv("VCAP_IVSHMEM_NO_VFIO");
	struct guest_link *l;
	char err[320];
	int rc;

	pthread_mutex_lock(&link_lock);
	if (the_link && the_link->dying) {
		rc = vcap_set_err(-EAGAIN, "%s: the VM's ivshmem device is being unplugged and "
				  "other handles of this process still hold it: close them first",
				  socket_path);
		goto out;
	}
	if (the_link) {
		the_link->refs++;
		*out = the_link;
		pthread_mutex_unlock(&link_lock);
		return 0;
	}
	if (stale_fd >= 0) {
		if (!vcap_ivshmem_watch_gone(stale_fd) && vcap_mono_ms() < stale_until_ms) {
			rc = vcap_set_err(-EAGAIN, "%s: the VM's ivshmem device is being replaced "
					  "(vcapd unplugs the old one and plugs a new one): try "
					  "again", socket_path);
			goto out;
		}
		close(stale_fd);
		stale_fd = -1;
	}
	if (!(addr && *addr) && !have_ivshmem()) {
		rc = -ENODEV; /* not a VM with ivshmem: the caller's message stands */
		goto out;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		rc = vcap_set_err(-ENOMEM, "out of memory");
		goto out;
	}
	/* Before the device: a second VFIO opener would quietly fall back to sysfs. */
	l->lock_fd = rc = vcap_guest_lock();
	if (rc < 0) {
		free(l);
		goto out;
	}
	rc = vcap_ivshmem_open(&l->dev, addr && *addr ? addr : NULL, 0,
			       novfio && !strcmp(novfio, "1") ? VCAP_IVSHMEM_NO_VFIO : 0, err,
			       sizeof(err));
	if (rc) {
		/*
		 * A file of the device missing (ENOENT) is a device being
		 * hot-plugged or unplugged right now (vcapd replugs it): worth
		 * trying again (-EAGAIN), unlike a device that is not there.
		 */
		rc = rc == -ENODEV ? -ECONNREFUSED : rc == -ENOENT ? -EAGAIN : rc;
		vcap_set_err(rc, "%s: vcapd is not running here, and the VM's ivshmem device cannot be "
			     "opened%s: %s", socket_path,
			     rc == -EAGAIN ? " (it is being plugged or unplugged)" : "", err);
		close(l->lock_fd);
		free(l);
		goto out;
	}
	rc = vcap_ctl_shm_open(l->dev, NULL, &l->ctl, NULL);
	if (!rc) {
		rc = vcap_ctl_shm_reclaim(l->ctl);
		if (rc > 0)
			rc = 0;
		if (rc)
			l->ctl->close(l->ctl);
	}
	if (rc) {
		vcap_ivshmem_close(l->dev);
		close(l->lock_fd);
		free(l);
		goto out;
	}
	l->refs = 1;
	the_link = l;
	*out = l;
out:
	pthread_mutex_unlock(&link_lock);
	return rc;
}

static int guest_call(struct vcap_ctl *ctl, struct vcap_msg *req, struct vcap_msg *reply,
		      int *fds, int *nfds)
{
	struct guest_ctl *g = (struct guest_ctl *)ctl;
	int rc;

	pthread_mutex_lock(&link_lock);
	rc = g->link->ctl->call(g->link->ctl, req, reply, fds, nfds);
	pthread_mutex_unlock(&link_lock);
	return rc;
}

/*
 * Read the ring in place, in the region this process already maps, and
 * keep a duplicate of its vector's eventfd: the handle closes its wake
 * descriptor, the device keeps its own.
 */
static int guest_attach(struct vcap_ctl *ctl, struct vcap *h, const struct vcap_msg_open_reply *r)
{
	struct guest_ctl *g = (struct guest_ctl *)ctl;
	void *mem;
	int rc, fd;

	g->ring_id = r->ring_id;
	g->has_ring = true; /* from now on closing the handle closes the ring */
	h->map = NULL;      /* the device's mapping: nothing of ours to unmap */
	h->wake_fd = -1;
	pthread_mutex_lock(&link_lock);
	rc = vcap_ctl_shm_ring(g->link->ctl, r, &mem);
	fd = -1;
	if (!rc && r->vector != VCAP_SHM_VECTOR_CTRL)
		fd = vcap_ivshmem_vector_fd(g->link->dev, r->vector);
	pthread_mutex_unlock(&link_lock);
	if (rc)
		return rc;
	if (fd >= 0) {
		h->wake_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (h->wake_fd < 0)
			return vcap_set_err(-errno, "%s: dup of the ring's interrupt eventfd: %s",
					    h->device, strerror(errno));
	}
	h->map_size = r->map_size;
	return vcap_ring_attach_mem(h, mem, r->map_size);
}

/*
 * A region reset took our ring with it, vcapd went away, or the device is
 * being unplugged: say so instead of waiting forever.
 */
static int guest_alive(struct vcap_ctl *ctl)
{
	struct guest_ctl *g = (struct guest_ctl *)ctl;
	int rc;

	pthread_mutex_lock(&link_lock);
	rc = vcap_ctl_shm_check(g->link->ctl);
	/* vcapd went, or the device is being unplugged: it is dead, no new handle takes it */
	if (rc == -EPIPE &&
	    (strstr(vcap_errmsg(), "heartbeat") || strstr(vcap_errmsg(), "unplugged")))
		g->link->dying = true;
	pthread_mutex_unlock(&link_lock);
	return rc;
}

static void guest_close(struct vcap_ctl *ctl)
{
	struct guest_ctl *g = (struct guest_ctl *)ctl;

	bool dying;

	pthread_mutex_lock(&link_lock);
	dying = g->link->dying;
	pthread_mutex_unlock(&link_lock);
	/* a dying link's vcapd is gone: a CLOSE would only wait for its timeout */
	if (g->has_ring && !dying) {
		struct vcap_msg *req = malloc(sizeof(*req)), *reply = malloc(sizeof(*reply));

		/* Nothing to report to: vcap_close() cannot fail. */
		if (req && reply) {
			vcap_msg_init(req, VCAP_APP_CAPTURE, VCAP_MSG_CLOSE);
			req->u.close.ring_id = g->ring_id;
			guest_call(ctl, req, reply, NULL, NULL);
		}
		free(req);
		free(reply);
	}
	link_put(g->link);
	free(g);
}

int vcap_guest_ctl_open(const char *socket_path, struct vcap_ctl **out)
{
	struct guest_ctl *g = calloc(1, sizeof(*g));
	int rc;

	if (!g)
		return vcap_set_err(-ENOMEM, "out of memory");
	rc = link_get(socket_path, &g->link);
	if (rc) {
		free(g);
		return rc;
	}
	g->ctl.call = guest_call;
	g->ctl.close = guest_close;
	g->ctl.attach = guest_attach;
	g->ctl.alive = guest_alive;
	g->ctl.hup_fd = -1;
	*out = &g->ctl;
	return 0;
}
