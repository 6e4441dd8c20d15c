/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * read.c - receiving on vcap devices: pcap_next_ex, pcap_next,
 * pcap_dispatch, pcap_loop, pcap_breakloop, the selectable descriptor,
 * non-blocking mode and pcap_stats.
 *
 * Packets are taken from the ring a burst at a time and handed to the
 * program in place (zero copy).  Waiting is libvcap's bounded wait
 * (vcap_recv_timeout), which is what libpcap's packet buffer timeout
 * means; pcap_breakloop() from another thread or a signal handler ends it
 * through vcap_breakloop().
 *
 * A finite source (pcap: file, counted generator) that has ended reads
 * like the end of a savefile: pcap_loop() returns 0, pcap_dispatch() 0,
 * pcap_next_ex() PCAP_ERROR_BREAK.
 */
#include "shim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

enum { FILL_END = -1, FILL_ERROR = -2 };

void shim_sync_ready(struct mapped *m)
{
	/* a failure is news too: the program must read to learn of it */
	bool want = m->failure[0] || (!m->ended && (m->next < m->n || !m->armed));
	uint64_t v = 1;

	if (want == m->ready)
		return;
	if (want)
		(void)!write(m->ready_fd, &v, sizeof(v));
	else
		(void)!read(m->ready_fd, &v, sizeof(v));
	m->ready = want;
}

/* The ring will say nothing more (ended, or vcapd is gone): stop watching it. */
static void forget_wake_fd(struct mapped *m)
{
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, vcap_fd(m->vh), NULL);
}

/* The capture cannot go on: say why, now and on every later read. */
static int failed(struct mapped *m, const char *why)
{
	if (!m->failure[0]) {
		snprintf(m->failure, sizeof(m->failure), "%s", why);
		forget_wake_fd(m);
	}
	shim_err(m, "%s", m->failure);
	return FILL_ERROR;
}

/*
 * Take the next burst from the ring into m->burst, waiting for one if
 * may_wait: at most libpcap's packet buffer timeout (to_ms), which is what
 * vcap_recv_timeout() bounds; without a timeout, or in immediate mode,
 * until a packet comes.  pcap_breakloop() ends the wait (vcap_breakloop),
 * and so does vcapd's end, which libvcap reports, sticky, as -EPIPE once
 * the ring is read.  @return the packets taken, 0 if none (no wait
 * allowed, timeout, signal, break), FILL_END, FILL_ERROR (message set).
 */
static int refill(struct mapped *m, bool may_wait)
{
	int timeout = !may_wait ? 0 : m->immediate || m->timeout_ms <= 0 ? -1 : m->timeout_ms;
	int n;

	if (m->failure[0])
		return failed(m, m->failure);
	if (m->ended)
		return FILL_END;
	n = vcap_recv_timeout(m->vh, m->burst, SHIM_BURST, timeout);
	m->next = 0;
	m->n = n > 0 ? (unsigned)n : 0;
	if (n > 0) {
		m->armed = false;
		return n;
	}
	if (n == -ENODATA) {
		TRACE("%s: the source has ended", m->device);
		m->ended = true;
		forget_wake_fd(m);
		return FILL_END;
	}
	if (n == -EINTR)
		return 0; /* pcap_breakloop(), or a signal: the caller looks at brk */
	if (n < 0)
		return failed(m, vcap_errmsg());
	/* empty, and vcapd asked to wake us */
	m->armed = true;
	if (m->prog && !m->prog_always)
		shim_filter_clear(m); /* all that predates the new filter is read */
	return 0;
}

/* Does the in-process filter, if any, let pk through? */
static bool passes(struct mapped *m, const struct vcap_pkt *pk)
{
	if (!m->prog || bpf_filter(m->prog, pk->data, pk->wirelen, pk->caplen))
		return true;
	m->proc_filtered++;
	return false;
}

static void fill_hdr(const struct mapped *m, const struct vcap_pkt *pk, struct pcap_pkthdr *h)
{
	uint64_t frac = pk->ts_ns % 1000000000u;

	h->ts.tv_sec = (time_t)(pk->ts_ns / 1000000000u);
	/* a nanosecond handle keeps nanoseconds in tv_usec, as libpcap does */
	h->ts.tv_usec = (suseconds_t)(m->precision == PCAP_TSTAMP_PRECISION_NANO ? frac
										: frac / 1000);
	h->caplen = pk->caplen;
	h->len = pk->wirelen;
}

/* pcap_breakloop() was called: @return true once, clearing it. */
static bool take_break(struct mapped *m)
{
	return atomic_exchange(&m->brk, 0);
}

/*
 * Before going back to the program from pcap_dispatch(): if the burst is
 * used up and the ring was not seen empty, look again, so the selectable
 * descriptor tells the truth (armed and quiet, or ready).  The program's
 * callbacks are done with the burst, so releasing it here is safe.
 */
static void settle(struct mapped *m)
{
	if (m->next == m->n && !m->armed && !m->ended)
		(void)refill(m, false);
	shim_sync_ready(m);
}

/*
 * pcap_dispatch(): hand up to cnt packets (cnt <= 0: those of one burst)
 * to cb, sleeping only for the first.  *ended is set at the end of a
 * finite source.  @return the packets handed, PCAP_ERROR_BREAK or
 * PCAP_ERROR.
 */
static int deliver(struct mapped *m, int cnt, pcap_handler cb, u_char *user, bool *ended)
{
	int done = 0;

	*ended = false;
	for (;;) {
		const struct vcap_pkt *pk;
		struct pcap_pkthdr hdr;

		/* libpcap's rule: a break after packets ends the next call instead */
		if (atomic_load_explicit(&m->brk, memory_order_relaxed)) {
			if (done)
				break;
			take_break(m);
			settle(m);
			return PCAP_ERROR_BREAK;
		}
		if (m->next == m->n) {
			int rc;

			if (done && cnt <= 0)
				break; /* one burst is what "all in one buffer" means here */
			rc = refill(m, !done && !m->nonblock);
			if (rc == FILL_ERROR) {
				if (done)
					break; /* the next call reports it */
				return PCAP_ERROR;
			}
			if (rc == FILL_END) {
				*ended = true;
				break;
			}
			if (rc == 0) {
				if (!done && atomic_load(&m->brk))
					continue; /* woken by pcap_breakloop() */
				break;
			}
		}
		pk = &m->burst[m->next++];
		if (!passes(m, pk))
			continue;
		fill_hdr(m, pk, &hdr);
		cb(user, &hdr, pk->data);
		if (++done == cnt)
			break;
	}
	settle(m);
	return done;
}

int pcap_dispatch(pcap_t *p, int cnt, pcap_handler cb, u_char *user)
{
	struct mapped *m = shim_find(p);
	bool ended;

	if (!m)
		return real.dispatch(p, cnt, cb, user);
	if (!m->activated)
		return shim_not_activated(m);
	return deliver(m, cnt, cb, user, &ended);
}

int pcap_loop(pcap_t *p, int cnt, pcap_handler cb, u_char *user)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.loop(p, cnt, cb, user);
	if (!m->activated)
		return shim_not_activated(m);
	TRACE("pcap_loop(%s, %d)", m->device, cnt);
	for (;;) {
		bool ended;
		int n = deliver(m, cnt > 0 ? cnt : -1, cb, user, &ended);

		if (n < 0)
			return n;
		if (cnt > 0 && (cnt -= n) <= 0)
			return 0;
		if (ended)
			return 0;
	}
}

static int next_ex(struct mapped *m, struct pcap_pkthdr **h, const u_char **data)
{
	if (take_break(m))
		return PCAP_ERROR_BREAK;
	for (;;) {
		const struct vcap_pkt *pk;

		if (m->next == m->n) {
			int rc = refill(m, !m->nonblock);

			shim_sync_ready(m);
			if (rc == FILL_ERROR)
				return PCAP_ERROR;
			if (rc == FILL_END)
				return PCAP_ERROR_BREAK; /* as at the end of a savefile */
			if (rc == 0)
				return take_break(m) ? PCAP_ERROR_BREAK : 0;
		}
		pk = &m->burst[m->next++];
		if (!passes(m, pk))
			continue;
		fill_hdr(m, pk, &m->hdr);
		*h = &m->hdr;
		*data = pk->data;
		/* no settle(): the packet must stay valid until the next call */
		shim_sync_ready(m);
		return 1;
	}
}

int pcap_next_ex(pcap_t *p, struct pcap_pkthdr **h, const u_char **data)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.next_ex(p, h, data);
	if (!m->activated)
		return shim_not_activated(m);
	return next_ex(m, h, data);
}

const u_char *pcap_next(pcap_t *p, struct pcap_pkthdr *h)
{
	struct mapped *m = shim_find(p);
	struct pcap_pkthdr *hp;
	const u_char *data;

	if (!m)
		return real.next(p, h);
	if (!m->activated) {
		shim_not_activated(m);
		return NULL;
	}
	if (next_ex(m, &hp, &data) != 1)
		return NULL;
	*h = *hp;
	return data;
}

/*
 * Async-signal-safe: an atomic store, and vcap_breakloop() (another store
 * and a write()) to end a wait in progress.  libpcap's rule that a break
 * after packets ends the next call is kept here, with brk; libvcap's latch
 * then makes at most one later receive come back empty.
 */
void pcap_breakloop(pcap_t *p)
{
	struct mapped *m = shim_find(p);

	if (!m) {
		real.breakloop(p);
		return;
	}
	atomic_store(&m->brk, 1);
	if (m->vh)
		vcap_breakloop(m->vh);
}

int pcap_get_selectable_fd(pcap_t *p)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.get_selectable_fd(p);
	TRACE("%s(%s)", __func__, m->device);
	return m->activated ? m->epfd : -1;
}

int pcap_fileno(pcap_t *p)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.fileno(p);
	TRACE("%s(%s)", __func__, m->device);
	return m->activated ? m->epfd : -1;
}

int pcap_setnonblock(pcap_t *p, int nonblock, char *errbuf)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.setnonblock(p, nonblock, errbuf);
	TRACE("%s(%s)", __func__, m->device);
	m->nonblock = nonblock != 0;
	return 0;
}

int pcap_getnonblock(pcap_t *p, char *errbuf)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.getnonblock(p, errbuf);
	TRACE("%s(%s)", __func__, m->device);
	return m->nonblock;
}

/*
 * libpcap's counters from vcapd's (received = delivered + dropped +
 * filtered):
 *   ps_recv   packets that passed the filter, whether or not there was room
 *             for them: delivered + dropped, less what the in-process
 *             filter rejected (tcpdump: "received by filter");
 *   ps_drop   no room in the ring: dropped ("dropped by kernel");
 *   ps_ifdrop lost before vcapd saw them: the source's kernel drops
 *             ("dropped by interface").
 */
int pcap_stats(pcap_t *p, struct pcap_stat *ps)
{
	struct mapped *m = shim_find(p);
	struct vcap_stats st;
	int rc;

	if (!m)
		return real.stats(p, ps);
	if (!m->activated)
		return shim_not_activated(m);
	rc = vcap_stats(m->vh, &st, sizeof(st));
	if (rc) {
		shim_err(m, "%s", vcap_errmsg());
		return PCAP_ERROR;
	}
	ps->ps_recv = (u_int)(st.delivered + st.dropped - m->proc_filtered);
	ps->ps_drop = (u_int)st.dropped;
	ps->ps_ifdrop = (u_int)st.kernel_drops;
	TRACE("pcap_stats(%s): received %llu delivered %llu dropped %llu filtered %llu+%llu",
	      m->device, (unsigned long long)st.received, (unsigned long long)st.delivered,
	      (unsigned long long)st.dropped, (unsigned long long)st.filtered,
	      (unsigned long long)m->proc_filtered);
	return 0;
}
