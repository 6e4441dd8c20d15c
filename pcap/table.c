/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * table.c - which pcap_t are vcap handles, and their error messages.
 *
 * Every intercepted call asks "is this handle mine?", including
 * pcap_breakloop() from a signal handler, so the lookup takes no lock: a
 * fixed array of atomic pointers.  Programs open one or a few handles;
 * inserting and removing (pcap_activate, pcap_close) take a mutex.
 */
#include "shim.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_MAPPED 64

static _Atomic(struct mapped *) slots[MAX_MAPPED];
static atomic_int n_mapped; /* lets programs without vcap devices skip the scan */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct mapped *shim_find(pcap_t *p)
{
	if (!p || !atomic_load_explicit(&n_mapped, memory_order_acquire))
		return NULL;
	for (int i = 0; i < MAX_MAPPED; i++) {
		struct mapped *m = atomic_load_explicit(&slots[i], memory_order_acquire);

		if (m && m->key == p)
			return m;
	}
	return NULL;
}

int shim_insert(struct mapped *m)
{
	int rc = -1;

	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_MAPPED; i++) {
		if (!atomic_load_explicit(&slots[i], memory_order_relaxed)) {
			atomic_store_explicit(&slots[i], m, memory_order_release);
			atomic_fetch_add(&n_mapped, 1);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

void shim_remove(struct mapped *m)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_MAPPED; i++) {
		if (atomic_load_explicit(&slots[i], memory_order_relaxed) == m) {
			atomic_store_explicit(&slots[i], NULL, memory_order_release);
			atomic_fetch_sub(&n_mapped, 1);
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

void shim_err(struct mapped *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(real.geterr(m->key), PCAP_ERRBUF_SIZE, fmt, ap);
	va_end(ap);
}

void shim_copy_err(struct mapped *m)
{
	if (m->dead != m->key)
		snprintf(real.geterr(m->key), PCAP_ERRBUF_SIZE, "%s", real.geterr(m->dead));
}

void shim_warn_once(struct mapped *m, const char *fmt, ...)
{
	va_list ap;

	if (m->warned)
		return;
	m->warned = true;
	va_start(ap, fmt);
	fputs("vcap-pcap: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int shim_not_activated(struct mapped *m)
{
	/* libpcap's own wording, so programs that match on it keep working */
	shim_err(m, "This handle hasn't been activated yet");
	return PCAP_ERROR_NOT_ACTIVATED;
}
