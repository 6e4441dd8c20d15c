/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * passthrough.c - calls libpcap answers itself, from what a handle was
 * activated with: link type, snapshot length, time stamp precision.
 *
 * For a vcap device they go to the dead handle that holds the real values
 * (struct mapped.dead), so libpcap's own code does the work: pcap_dump_open
 * writes the file header, pcap_list_datalinks allocates the list the
 * program will pcap_free_datalinks().  What a dead handle cannot do
 * (send, pick a direction or another link type) is refused with a message.
 */
#include "shim.h"

/* m's dead handle once activated; NULL (error set) before. */
static pcap_t *activated(struct mapped *m)
{
	if (m->activated)
		return m->dead;
	shim_not_activated(m);
	return NULL;
}

int pcap_datalink(pcap_t *p)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.datalink(p);
	TRACE("%s(%s)", __func__, m->device);
	return m->activated ? real.datalink(m->dead) : shim_not_activated(m);
}

int pcap_datalink_ext(pcap_t *p)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.datalink_ext(p);
	TRACE("%s(%s)", __func__, m->device);
	return m->activated ? real.datalink_ext(m->dead) : shim_not_activated(m);
}

int pcap_snapshot(pcap_t *p)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.snapshot(p);
	TRACE("%s(%s)", __func__, m->device);
	return m->activated ? real.snapshot(m->dead) : shim_not_activated(m);
}

int pcap_get_tstamp_precision(pcap_t *p)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.get_tstamp_precision(p);
	TRACE("%s(%s)", __func__, m->device);
	return m->precision;
}

int pcap_list_datalinks(pcap_t *p, int **dlts)
{
	struct mapped *m = shim_find(p);
	pcap_t *d;

	if (!m)
		return real.list_datalinks(p, dlts);
	TRACE("%s(%s)", __func__, m->device);
	d = activated(m);
	return d ? real.list_datalinks(d, dlts) : PCAP_ERROR_NOT_ACTIVATED;
}

int pcap_set_datalink(pcap_t *p, int dlt)
{
	struct mapped *m = shim_find(p);
	const char *name;

	if (!m)
		return real.set_datalink(p, dlt);
	TRACE("%s(%s)", __func__, m->device);
	if (!activated(m))
		return PCAP_ERROR_NOT_ACTIVATED;
	if (dlt == (int)m->info.linktype)
		return 0;
	name = pcap_datalink_val_to_name((int)m->info.linktype);
	shim_err(m, "%s: vcapd delivers only link type %s (%u)", m->device, name ? name : "?",
		 m->info.linktype);
	return PCAP_ERROR;
}

int pcap_setdirection(pcap_t *p, pcap_direction_t dir)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.setdirection(p, dir);
	TRACE("%s(%s)", __func__, m->device);
	if (dir == PCAP_D_INOUT)
		return 0;
	shim_err(m, "%s: vcapd delivers both directions; choosing one is not supported",
		 m->device);
	return PCAP_ERROR;
}

int pcap_inject(pcap_t *p, const void *buf, size_t size)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.inject(p, buf, size);
	TRACE("%s(%s)", __func__, m->device);
	shim_err(m, "%s: vcap devices only capture; sending is not supported", m->device);
	return PCAP_ERROR;
}

int pcap_sendpacket(pcap_t *p, const u_char *buf, int size)
{
	struct mapped *m = shim_find(p);

	if (!m)
		return real.sendpacket(p, buf, size);
	TRACE("%s(%s)", __func__, m->device);
	shim_err(m, "%s: vcap devices only capture; sending is not supported", m->device);
	return PCAP_ERROR;
}

/* The dumpers: libpcap writes the header from the dead handle's values. */
static pcap_dumper_t *dumped(struct mapped *m, pcap_dumper_t *d)
{
	if (!d)
		shim_copy_err(m);
	return d;
}

pcap_dumper_t *pcap_dump_open(pcap_t *p, const char *fname)
{
	struct mapped *m = shim_find(p);
	pcap_t *d;

	if (!m)
		return real.dump_open(p, fname);
	TRACE("%s(%s)", __func__, m->device);
	d = activated(m);
	return d ? dumped(m, real.dump_open(d, fname)) : NULL;
}

pcap_dumper_t *pcap_dump_open_append(pcap_t *p, const char *fname)
{
	struct mapped *m = shim_find(p);
	pcap_t *d;

	if (!m)
		return real.dump_open_append(p, fname);
	TRACE("%s(%s)", __func__, m->device);
	d = activated(m);
	return d ? dumped(m, real.dump_open_append(d, fname)) : NULL;
}

pcap_dumper_t *pcap_dump_fopen(pcap_t *p, FILE *f)
{
	struct mapped *m = shim_find(p);
	pcap_t *d;

	if (!m)
		return real.dump_fopen(p, f);
	TRACE("%s(%s)", __func__, m->device);
	d = activated(m);
	return d ? dumped(m, real.dump_fopen(d, f)) : NULL;
}
