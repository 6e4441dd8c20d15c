/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * devices.c - vcap devices in device lists: pcap_findalldevs,
 * pcap_freealldevs, pcap_lookupnet.
 *
 * pcap_findalldevs() appends vcapd's sources, as "host:NAME", after the
 * real devices (so a program that takes the first device still gets a
 * real one).  If vcapd cannot be asked, the list is libpcap's alone.
 *
 * The appended entries are allocated here and freed here: this library
 * keeps a note of each chain it appended, and pcap_freealldevs() cuts
 * that chain off before giving the rest to libpcap.
 */
#include "shim.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Chains of entries this library appended to lists it handed out. */
struct added {
	pcap_if_t *first;
	struct added *next;
};

static struct added *added;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void free_chain(pcap_if_t *d)
{
	while (d) {
		pcap_if_t *next = d->next;

		free(d->name);
		free(d->description);
		free(d);
		d = next;
	}
}

/* Is d the first entry of a chain appended here?  If so, forget the note. */
static bool take_chain(pcap_if_t *d)
{
	bool found = false;

	pthread_mutex_lock(&lock);
	for (struct added **pp = &added; *pp; pp = &(*pp)->next) {
		if ((*pp)->first == d) {
			struct added *a = *pp;

			*pp = a->next;
			free(a);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return found;
}

static pcap_if_t *entry_for(const struct vcap_source_desc *s)
{
	pcap_if_t *d = calloc(1, sizeof(*d));
	size_t len;

	if (!d)
		return NULL;
	len = strlen(SHIM_PREFIX) + strlen(s->name) + 1;
	d->name = malloc(len);
	len = strlen(s->spec) + strlen(s->error) + 64;
	d->description = malloc(len);
	if (!d->name || !d->description) {
		free_chain(d);
		return NULL;
	}
	sprintf(d->name, "%s%s", SHIM_PREFIX, s->name);
	snprintf(d->description, len, "vcapd source %s%s%s", s->spec,
		 *s->error ? ", failing: " : "", s->error);
	d->flags = PCAP_IF_UP | PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE;
	if (strcmp(s->state, "failed"))
		d->flags |= PCAP_IF_RUNNING;
	return d;
}

/* vcapd's sources as a chain of entries; NULL if there are none or vcapd cannot say. */
static pcap_if_t *vcap_devices(void)
{
	struct vcap_source_desc *descs = NULL;
	pcap_if_t *first = NULL, **tail = &first;
	unsigned room = 16;
	int n;

	for (;;) {
		struct vcap_source_desc *more = realloc(descs, room * sizeof(*descs));

		if (!more) {
			free(descs);
			return NULL;
		}
		descs = more;
		n = vcap_list_sources(NULL, descs, room, sizeof(*descs));
		if (n <= (int)room)
			break;
		room = (unsigned)n; /* sources came while we asked: ask again */
	}
	if (n < 0)
		TRACE("pcap_findalldevs: no vcap devices: %s", vcap_errmsg());
	for (int i = 0; i < n; i++) {
		pcap_if_t *d = entry_for(&descs[i]);

		if (!d)
			break;
		*tail = d;
		tail = &d->next;
	}
	free(descs);
	return first;
}

int pcap_findalldevs(pcap_if_t **alldevs, char *errbuf)
{
	pcap_if_t *mine, **tail;
	struct added *a;
	int rc = real.findalldevs(alldevs, errbuf);

	if (rc)
		return rc;
	mine = vcap_devices();
	TRACE("pcap_findalldevs: %s", mine ? "vcap devices appended" : "no vcap devices");
	if (!mine)
		return 0;
	a = malloc(sizeof(*a));
	if (!a) {
		free_chain(mine);
		return 0;
	}
	for (tail = alldevs; *tail; tail = &(*tail)->next)
		;
	*tail = mine;
	a->first = mine;
	pthread_mutex_lock(&lock);
	a->next = added;
	added = a;
	pthread_mutex_unlock(&lock);
	return 0;
}

void pcap_freealldevs(pcap_if_t *alldevs)
{
	for (pcap_if_t **pp = &alldevs; *pp; pp = &(*pp)->next) {
		if (take_chain(*pp)) {
			pcap_if_t *mine = *pp;

			*pp = NULL;
			free_chain(mine);
			break;
		}
	}
	if (alldevs)
		real.freealldevs(alldevs);
}

/* A vcap device has no address of its own here; say so as libpcap does. */
int pcap_lookupnet(const char *device, bpf_u_int32 *net, bpf_u_int32 *mask, char *errbuf)
{
	if (!shim_is_vcap_device(device))
		return real.lookupnet(device, net, mask, errbuf);
	TRACE("pcap_lookupnet(%s)", device);
	*net = *mask = 0;
	snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: no IPv4 address assigned", device);
	return -1;
}
