/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * devices.c - vcap devices in device lists: pcap_findalldevs,
 * pcap_freealldevs, pcap_lookupnet.
 *
 * pcap_findalldevs() appends vcapd's sources, as "host:NAME", and the
 * aliases of those (vcap-pcap --device) after the real devices (so a
 * program that takes the first device still gets a real one).  If vcapd
 * cannot be asked, the list is libpcap's alone.
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

/* An alias's entry: the source's, under the alias's name, saying what it stands for. */
static pcap_if_t *alias_entry(const struct shim_alias *a, const struct vcap_source_desc *s)
{
	pcap_if_t *d = entry_for(s);
	char *name = strdup(a->name), *text = NULL;

	if (d && name && asprintf(&text, "%s, alias of %s", d->description, a->target) > 0) {
		free(d->name);
		free(d->description);
		d->name = name;
		d->description = text;
		return d;
	}
	free(name);
	free_chain(d);
	return NULL;
}

/*
 * vcapd's sources as a chain of entries, host:NAME each, then each alias
 * whose source vcapd has; NULL if there are none or vcapd cannot say.
 */
static pcap_if_t *vcap_devices(void)
{
	struct vcap_source_desc *descs;
	pcap_if_t *first = NULL, **tail = &first;
	const struct shim_alias *a;
	int n = shim_sources(&descs);

	if (n < 0)
		TRACE("pcap_findalldevs: no vcap devices: %s", vcap_errmsg());
	for (int i = 0; i < n && tail; i++) {
		*tail = entry_for(&descs[i]);
		tail = *tail ? &(*tail)->next : NULL;
	}
	for (unsigned j = 0; (a = shim_alias_at(j)) && tail; j++) {
		for (int i = 0; i < n && tail; i++) {
			if (strcmp(descs[i].name, a->target + strlen(SHIM_PREFIX)))
				continue;
			*tail = alias_entry(a, &descs[i]);
			tail = *tail ? &(*tail)->next : NULL;
		}
	}
	free(descs);
	return first;
}

int pcap_findalldevs(pcap_if_t **alldevs, char *errbuf)
{
	pcap_if_t *mine, **tail;
	struct added *a;
	int rc;

	shim_in_findalldevs = true;
	rc = real.findalldevs(alldevs, errbuf);
	shim_in_findalldevs = false;
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

/*
 * A vcap device has no address of its own here, like libpcap's "any"
 * device, and is answered as libpcap answers for that: network and mask 0,
 * success.  Failing would stop programs that take a failure as fatal
 * (ngrep) for no reason a capture cares about: the mask only matters to
 * filters that say "broadcast", and libpcap's 0 is what they get on "any".
 */
int pcap_lookupnet(const char *device, bpf_u_int32 *net, bpf_u_int32 *mask, char *errbuf)
{
	if (!shim_is_vcap_device(device))
		return real.lookupnet(device, net, mask, errbuf);
	TRACE("pcap_lookupnet(%s)", device);
	(void)errbuf;
	*net = *mask = 0;
	return 0;
}
