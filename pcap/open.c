/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * open.c - creating, configuring, activating and closing handles of vcap
 * devices: pcap_create, pcap_set_*, pcap_activate, pcap_open_live,
 * pcap_close.
 *
 * pcap_create() must hand out a pcap_t on which the pcap_set_*() calls
 * succeed, before anything about the source is known.  It returns a dead
 * handle and keeps the settings here; pcap_activate() opens the vcap
 * handle with them.  The real pcap_create() is never asked about
 * "host:NAME": it would make a Linux handle that fails only at
 * activation, with a message about interfaces.
 */
#include "shim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* What the dead handle pcap_create() makes says; activation may tell better. */
#define PLACEHOLDER_LINKTYPE DLT_EN10MB
#define PLACEHOLDER_SNAPLEN SHIM_SNAPLEN_MAX
#define PLACEHOLDER_PRECISION PCAP_TSTAMP_PRECISION_MICRO

pcap_t *pcap_create(const char *called, char *errbuf)
{
	const char *device = shim_vcap_target(called); /* an alias's host: device */
	struct mapped *m;

	if (!device)
		return real.create(called, errbuf);
	TRACE("pcap_create(%s)%s%s", called, device != called ? " = " : "",
	      device != called ? device : "");
	if (strlen(device) >= sizeof(m->device)) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE,
			 "%s: a source name of 1..64 bytes must follow host:", device);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: out of memory", device);
		return NULL;
	}
	strcpy(m->device, device);
	snprintf(m->called, sizeof(m->called), "%s", called);
	m->snaplen = SHIM_SNAPLEN_MAX;
	m->precision = PCAP_TSTAMP_PRECISION_MICRO;
	m->epfd = m->ready_fd = -1;
	m->key = real.open_dead_with_tstamp_precision(PLACEHOLDER_LINKTYPE, PLACEHOLDER_SNAPLEN,
							PLACEHOLDER_PRECISION);
	if (!m->key) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: out of memory", device);
		free(m);
		return NULL;
	}
	m->dead = m->key;
	if (shim_insert(m)) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: too many vcap handles open in this process",
			 device);
		real.close(m->key);
		free(m);
		return NULL;
	}
	return m->key;
}

/*
 * The pcap_set_*() calls: record the value for pcap_activate().  Like
 * libpcap, refuse them once the handle is active.
 */
static struct mapped *settable(pcap_t *p, int *rc)
{
	struct mapped *m = shim_find(p);

	*rc = 0;
	if (m && m->activated) {
		shim_err(m, "%s: can't perform operation on activated capture", m->device);
		*rc = PCAP_ERROR_ACTIVATED;
	}
	return m;
}

int pcap_set_snaplen(pcap_t *p, int snaplen)
{
	int rc;
	struct mapped *m = settable(p, &rc);

	if (!m)
		return real.set_snaplen(p, snaplen);
	/* as libpcap: out of range means whole packets */
	if (!rc)
		m->snaplen = snaplen > 0 && snaplen <= SHIM_SNAPLEN_MAX ? snaplen
								    : SHIM_SNAPLEN_MAX;
	return rc;
}

int pcap_set_promisc(pcap_t *p, int promisc)
{
	int rc;
	struct mapped *m = settable(p, &rc);

	if (!m)
		return real.set_promisc(p, promisc);
	/* vcapd's source spec decides (if:IFACE,promisc=1), not its consumers */
	return rc;
}

int pcap_set_timeout(pcap_t *p, int timeout_ms)
{
	int rc;
	struct mapped *m = settable(p, &rc);

	if (!m)
		return real.set_timeout(p, timeout_ms);
	if (!rc)
		m->timeout_ms = timeout_ms;
	return rc;
}

int pcap_set_buffer_size(pcap_t *p, int buffer_size)
{
	int rc;
	struct mapped *m = settable(p, &rc);

	if (!m)
		return real.set_buffer_size(p, buffer_size);
	if (!rc && buffer_size > 0)
		m->buffer_size = buffer_size;
	return rc;
}

int pcap_set_immediate_mode(pcap_t *p, int immediate)
{
	int rc;
	struct mapped *m = settable(p, &rc);

	if (!m)
		return real.set_immediate_mode(p, immediate);
	if (!rc)
		m->immediate = immediate != 0;
	return rc;
}

int pcap_set_tstamp_precision(pcap_t *p, int precision)
{
	int rc;
	struct mapped *m = settable(p, &rc);

	if (!m)
		return real.set_tstamp_precision(p, precision);
	if (rc)
		return rc;
	/* vcapd stamps in nanoseconds: both precisions are exact */
	if (precision != PCAP_TSTAMP_PRECISION_MICRO && precision != PCAP_TSTAMP_PRECISION_NANO)
		return PCAP_ERROR_TSTAMP_PRECISION_NOTSUP;
	m->precision = precision;
	return 0;
}

int pcap_set_tstamp_type(pcap_t *p, int type)
{
	int rc;
	struct mapped *m = settable(p, &rc);

	if (!m)
		return real.set_tstamp_type(p, type);
	TRACE("%s(%s, %d)", __func__, m->device, type);
	if (rc)
		return rc;
	/* the time vcapd took the packet: the host's clock */
	return type == PCAP_TSTAMP_HOST ? 0 : PCAP_WARNING_TSTAMP_TYPE_NOTSUP;
}

int pcap_set_rfmon(pcap_t *p, int rfmon)
{
	int rc;
	struct mapped *m = settable(p, &rc);

	if (!m)
		return real.set_rfmon(p, rfmon);
	if (!rc)
		m->rfmon = rfmon != 0;
	return rc;
}

int pcap_can_set_rfmon(pcap_t *p)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.can_set_rfmon(p);
	TRACE("%s(%s)", __func__, m->device);
	return 0;
}

int pcap_set_protocol_linux(pcap_t *p, int protocol)
{
	int rc;
	struct mapped *m = settable(p, &rc);

	if (!m)
		return real.set_protocol_linux(p, protocol);
	return rc; /* vcapd's sources capture every protocol */
}

/* libpcap's buffer when the program sets none (pcap-linux.c: 2 MiB) */
#define LIBPCAP_DEFAULT_BUFFER (2 << 20)

/*
 * libpcap's buffer size is the kernel ring's bytes; a vcap ring's record
 * area is a power of two: take the largest that fits, within vcap's
 * bounds.  A program that sets none gets what libpcap would give it, not
 * vcapd's larger default: with the watermark below, a quarter of it is
 * what the reader takes per wake-up, and that much is still in cache.
 */
static uint32_t ring_size_for(int buffer_size)
{
	uint32_t size = 4096;

	if (buffer_size <= 0)
		buffer_size = LIBPCAP_DEFAULT_BUFFER;
	while (size < (1u << 30) && (uint64_t)size * 2 <= (uint64_t)buffer_size)
		size *= 2;
	return size;
}

/* libpcap's status for why vcap_open() failed. */
static int open_status(int err)
{
	switch (err) {
	case ENOENT:
		return PCAP_ERROR_NO_SUCH_DEVICE;
	case EACCES:
	case EPERM:
		return PCAP_ERROR_PERM_DENIED;
	default:
		return PCAP_ERROR;
	}
}

/* Undo pcap_activate(): the vcap handle, descriptors, the second dead handle. */
static void release(struct mapped *m)
{
	int *fds[] = { &m->epfd, &m->ready_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	vcap_close(m->vh);
	m->vh = NULL;
	if (m->dead != m->key)
		real.close(m->dead);
	m->dead = m->key;
}

/* Build the selectable descriptor (see struct mapped). */
static int make_selectable(struct mapped *m)
{
	struct epoll_event ev = { .events = EPOLLIN };

	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->epfd < 0 || m->ready_fd < 0)
		return -errno;
	ev.data.fd = vcap_fd(m->vh);
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		return -errno;
	ev.data.fd = m->ready_fd;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		return -errno;
	/* nothing has asked vcapd for a wake-up yet: packets may wait unannounced */
	shim_sync_ready(m);
	return 0;
}

int pcap_activate(pcap_t *p)
{
	struct mapped *m = shim_find(p);
	VCAP_OPTS(vcap_open_opts, o);
	uint32_t watermark;
	int rc;

	if (!m)
		return real.activate(p);
	TRACE("pcap_activate(%s): snaplen %d, timeout %d ms, buffer %d, immediate %d, %s",
	      m->device, m->snaplen, m->timeout_ms, m->buffer_size, m->immediate,
	      m->precision == PCAP_TSTAMP_PRECISION_NANO ? "nano" : "micro");
	if (m->activated) {
		shim_err(m, "%s: can't perform operation on activated capture", m->device);
		return PCAP_ERROR_ACTIVATED;
	}
	if (m->rfmon) {
		shim_err(m, "%s: vcap sources have no monitor mode", m->device);
		return PCAP_ERROR_RFMON_NOTSUP;
	}
	o.snaplen = (uint32_t)m->snaplen;
	o.ring_size = ring_size_for(m->buffer_size);
	/*
	 * A capture program outlives a vcapd restart (libvcap reopens the
	 * ring), unless VCAP_PCAP_RECONNECT=0 (vcap-pcap --no-reconnect) asks
	 * for libpcap's behaviour: an error once the device is gone.
	 */
	if (!getenv("VCAP_PCAP_RECONNECT") || strcmp(getenv("VCAP_PCAP_RECONNECT"), "0"))
		o.flags |= VCAP_OPEN_RECONNECT;
	/*
	 * libpcap's timeout is how long a packet may wait in the buffer
	 * before a read returns it; immediate mode returns each at once.
	 * Otherwise the watermark is set below, once the ring's size is known.
	 */
	o.watermark = 1;
	o.timeout_ms = m->immediate ? 1 : m->timeout_ms > 0 ? (uint32_t)m->timeout_ms : 0;
	m->vh = vcap_open(m->device, &o);
	if (!m->vh && errno == EINVAL && o.ring_size) {
		/* outside vcapd's limits: its default size will do, as for a kernel */
		o.ring_size = 0;
		m->vh = vcap_open(m->device, &o);
	}
	if (!m->vh) {
		const char *msg = vcap_errmsg();

		rc = open_status(errno);
		/* name the device as the program did, and what it stands for */
		if (strcmp(m->called, m->device))
			shim_err(m, "%s: %s%s%s", m->called, strstr(msg, m->device) ? "" : m->device,
				 strstr(msg, m->device) ? "" : ": ", msg);
		else if (strstr(msg, m->device))
			shim_err(m, "%s", msg);
		else
			shim_err(m, "%s: %s", m->device, msg);
		TRACE("pcap_activate(%s) failed: %s", m->device, real.geterr(m->key));
		return rc;
	}
	vcap_info(m->vh, &m->info, sizeof(m->info));
	/*
	 * Wake the reader as libpcap's kernel ring does, once per block (a
	 * quarter of its buffer): once a quarter of the ring holds 64-byte
	 * packets (96-byte records), or the timeout passes.  Larger packets
	 * fill half the ring first, and vcapd wakes the reader then.  Waking
	 * every few hundred packets instead would cost a sparse or paced
	 * reader a sleep and a wake-up each time.  (The smallest ring, 4 KiB,
	 * still gives a watermark of 10.)
	 */
	watermark = m->info.ring_size / 4 / 96;
	if (!m->immediate)
		vcap_set_watermark(m->vh, watermark, o.timeout_ms);

	if (m->info.linktype != PLACEHOLDER_LINKTYPE || m->info.snaplen != PLACEHOLDER_SNAPLEN ||
	    m->precision != PLACEHOLDER_PRECISION) {
		m->dead = real.open_dead_with_tstamp_precision((int)m->info.linktype,
							       (int)m->info.snaplen,
							       (u_int)m->precision);
		if (!m->dead) {
			m->dead = m->key;
			shim_err(m, "%s: out of memory", m->device);
			goto fail;
		}
	}
	rc = make_selectable(m);
	if (rc) {
		shim_err(m, "%s: %s", m->device, strerror(-rc));
		goto fail;
	}
	m->activated = true;
	TRACE("pcap_activate(%s): ring %u, %u bytes, snaplen %u, linktype %u", m->device,
	      m->info.ring_id, m->info.ring_size, m->info.snaplen, m->info.linktype);
	return 0;
fail:
	/* back to as pcap_create() left it: the program may try again, or close */
	release(m);
	return PCAP_ERROR;
}

pcap_t *pcap_open_live(const char *device, int snaplen, int promisc, int timeout_ms,
		       char *errbuf)
{
	pcap_t *p;
	int rc;

	if (!shim_is_vcap_device(device))
		return real.open_live(device, snaplen, promisc, timeout_ms, errbuf);
	p = pcap_create(device, errbuf);
	if (!p)
		return NULL;
	pcap_set_snaplen(p, snaplen);
	pcap_set_promisc(p, promisc);
	pcap_set_timeout(p, timeout_ms);
	rc = pcap_activate(p);
	if (rc < 0) {
		/* as libpcap words it: the device, and why */
		if (rc == PCAP_ERROR)
			snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", real.geterr(p));
		else
			snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: %s (%s)", device,
				 pcap_statustostr(rc), real.geterr(p));
		pcap_close(p);
		return NULL;
	}
	return p;
}

void pcap_close(pcap_t *p)
{
	struct mapped *m = shim_find(p);

	if (!m) {
		real.close(p);
		return;
	}
	TRACE("pcap_close(%s)", m->device);
	shim_remove(m);
	release(m);
	shim_filter_clear(m);
	real.close(m->key);
	free(m);
}
