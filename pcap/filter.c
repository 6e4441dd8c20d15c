/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * filter.c - early filtering for unmodified programs: pcap_compile,
 * pcap_setfilter, pcap_freecode.
 *
 * pcap_setfilter() is given compiled BPF, but vcapd takes filter text
 * (it compiles for the source and runs the program before the ring).  So
 * pcap_compile() remembers which text each program came from, keyed by
 * the instructions libpcap allocated for it, and pcap_setfilter() sends
 * that text to vcapd.  A program whose text is unknown (built by hand,
 * or by a compiler other than pcap_compile) is run here instead, with
 * bpf_filter(), and the program is told so once on stderr.
 */
#include "shim.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXTS 64 /* programs compiled and not yet freed, remembered at once */

struct text {
	const struct bpf_insn *insns; /* what libpcap allocated: the key */
	u_int len;
	struct bpf_insn *copy; /* to tell a program from another at a reused address */
	int linktype;
	char *expr;
	struct text *next;
};

static struct text *texts; /* newest first */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void text_free(struct text *t)
{
	free(t->copy);
	free(t->expr);
	free(t);
}

/* Remember that fp was compiled from expr for linktype.  Best effort. */
static void remember(const struct bpf_program *fp, const char *expr, int linktype)
{
	struct text *t = calloc(1, sizeof(*t)), **pp;
	unsigned n = 0;

	if (!t)
		return;
	t->insns = fp->bf_insns;
	t->len = fp->bf_len;
	t->linktype = linktype;
	t->copy = malloc(fp->bf_len * sizeof(*fp->bf_insns));
	t->expr = strdup(expr);
	if (!t->copy || !t->expr) {
		text_free(t);
		return;
	}
	memcpy(t->copy, fp->bf_insns, fp->bf_len * sizeof(*fp->bf_insns));
	pthread_mutex_lock(&lock);
	t->next = texts;
	texts = t;
	/* programs never freed must not pile up: forget the oldest */
	for (pp = &texts; *pp; pp = &(*pp)->next) {
		if (++n > MAX_TEXTS) {
			struct text *old = *pp;

			*pp = NULL;
			while (old) {
				struct text *next = old->next;

				text_free(old);
				old = next;
			}
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

/* The text fp was compiled from for linktype, as a copy to free(); or NULL. */
static char *recall(const struct bpf_program *fp, int linktype)
{
	char *expr = NULL;

	pthread_mutex_lock(&lock);
	for (struct text *t = texts; t; t = t->next) {
		if (t->insns == fp->bf_insns && t->len == fp->bf_len &&
		    !memcmp(t->copy, fp->bf_insns, fp->bf_len * sizeof(*fp->bf_insns))) {
			if (t->linktype == linktype)
				expr = strdup(t->expr);
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return expr;
}

/* fp is being freed: its address may soon hold another program. */
static void forget(const struct bpf_program *fp)
{
	pthread_mutex_lock(&lock);
	for (struct text **pp = &texts; *pp; pp = &(*pp)->next) {
		if ((*pp)->insns == fp->bf_insns) {
			struct text *t = *pp;

			*pp = t->next;
			text_free(t);
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

void shim_filter_clear(struct mapped *m)
{
	free(m->prog);
	m->prog = NULL;
	m->prog_always = false;
}

int pcap_compile(pcap_t *p, struct bpf_program *fp, const char *expr, int optimize,
		 bpf_u_int32 netmask)
{
	struct mapped *m = shim_find(p);
	pcap_t *target = p;
	int rc, linktype;

	if (m) {
		TRACE("pcap_compile(%s, \"%s\")", m->device, expr ? expr : "");
		if (!m->activated) {
			shim_err(m, "not-yet-activated pcap_t passed to pcap_compile");
			return PCAP_ERROR;
		}
		target = m->dead; /* the real link type and snapshot length */
	}
	rc = real.compile(target, fp, expr, optimize, netmask);
	if (rc < 0) {
		if (m)
			shim_copy_err(m);
		return rc;
	}
	/*
	 * Any handle's programs are remembered, not only vcap devices': a
	 * program may compile on a pcap_open_dead() handle of the same link
	 * type and install the result on a vcap device.
	 */
	linktype = real.datalink(target);
	if (linktype >= 0)
		remember(fp, expr ? expr : "", linktype);
	return rc;
}

void pcap_freecode(struct bpf_program *fp)
{
	if (fp && fp->bf_insns)
		forget(fp);
	real.freecode(fp);
}

/* Run fp here, on every packet from now on. */
static int filter_here(struct mapped *m, struct bpf_insn *copy)
{
	if (vcap_set_filter(m->vh, "")) {
		shim_err(m, "%s", vcap_errmsg());
		free(copy);
		return PCAP_ERROR;
	}
	shim_filter_clear(m);
	m->prog = copy;
	m->prog_always = true;
	return 0;
}

int pcap_setfilter(pcap_t *p, struct bpf_program *fp)
{
	struct mapped *m = shim_find(p);
	struct bpf_insn *copy;
	char *expr;

	if (!m)
		return real.setfilter(p, fp);
	if (!m->activated)
		return shim_not_activated(m);
	if (!fp || !fp->bf_insns || !fp->bf_len) {
		shim_err(m, "%s: no filter program given", m->device);
		return PCAP_ERROR;
	}
	copy = malloc(fp->bf_len * sizeof(*fp->bf_insns));
	if (!copy) {
		shim_err(m, "%s: out of memory", m->device);
		return PCAP_ERROR;
	}
	memcpy(copy, fp->bf_insns, fp->bf_len * sizeof(*fp->bf_insns));
	expr = recall(fp, (int)m->info.linktype);
	TRACE("pcap_setfilter(%s): \"%s\"", m->device, expr ? expr : "(text unknown)");
	if (!expr) {
		shim_warn_once(m,
			       "%s: the filter program was not made by pcap_compile() here, so "
			       "its text is unknown; filtering in this process instead of vcapd",
			       m->device);
		return filter_here(m, copy);
	}
	if (vcap_set_filter(m->vh, expr)) {
		/* libpcap here took it, vcapd did not (it knows no netmask, say) */
		shim_warn_once(m,
			       "%s: vcapd cannot run filter \"%s\" (%s); filtering in this process",
			       m->device, expr, vcap_errmsg());
		free(expr);
		return filter_here(m, copy);
	}
	/*
	 * vcapd filters every packet from now on; those already in the ring
	 * (or in the burst at hand) predate the filter and are checked here,
	 * until the ring is next seen empty.  An empty filter passes all.
	 */
	shim_filter_clear(m);
	if (*expr)
		m->prog = copy;
	else
		free(copy);
	free(expr);
	return 0;
}
