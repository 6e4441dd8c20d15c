/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * real.c - find the real libpcap behind this library.
 *
 * Every entry point is looked up once, before main() runs, with
 * dlsym(RTLD_NEXT): the next definition after this preloaded library, which
 * is libpcap's.  Doing it up front keeps the lookups out of signal
 * handlers (pcap_breakloop) and out of races between threads.
 */
#include "shim.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct real_pcap real;
bool shim_debug;
static FILE *trace_out;

static void *lookup(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn)
		fprintf(stderr, "vcap-pcap: libpcap has no %s\n", name);
	return fn;
}

/* dlsym returns a void *; POSIX guarantees it converts to a function pointer. */
#define RESOLVE(field, name)                                      \
	do {                                                      \
		void *fn_ = lookup(name);                         \
		memcpy(&real.field, &fn_, sizeof(real.field));    \
	} while (0)

__attribute__((constructor)) static void resolve_real(void)
{
	const char *debug = getenv("VCAP_PCAP_DEBUG");

	/*
	 * VCAP_PCAP_DEBUG=1 traces to stderr; =/PATH appends to a file, for
	 * programs whose stderr is not free (dumpcap talks to tshark on it).
	 */
	if (debug && *debug == '/')
		trace_out = fopen(debug, "ae");
	else if (debug && *debug && strcmp(debug, "0"))
		trace_out = stderr;
	shim_debug = trace_out != NULL;
	RESOLVE(create, "pcap_create");
	RESOLVE(activate, "pcap_activate");
	RESOLVE(open_live, "pcap_open_live");
	RESOLVE(open_dead_with_tstamp_precision, "pcap_open_dead_with_tstamp_precision");
	RESOLVE(close, "pcap_close");
	RESOLVE(set_snaplen, "pcap_set_snaplen");
	RESOLVE(set_promisc, "pcap_set_promisc");
	RESOLVE(set_timeout, "pcap_set_timeout");
	RESOLVE(set_buffer_size, "pcap_set_buffer_size");
	RESOLVE(set_immediate_mode, "pcap_set_immediate_mode");
	RESOLVE(set_tstamp_precision, "pcap_set_tstamp_precision");
	RESOLVE(set_tstamp_type, "pcap_set_tstamp_type");
	RESOLVE(set_rfmon, "pcap_set_rfmon");
	RESOLVE(can_set_rfmon, "pcap_can_set_rfmon");
	RESOLVE(set_protocol_linux, "pcap_set_protocol_linux");
	RESOLVE(get_tstamp_precision, "pcap_get_tstamp_precision");
	RESOLVE(next_ex, "pcap_next_ex");
	RESOLVE(next, "pcap_next");
	RESOLVE(dispatch, "pcap_dispatch");
	RESOLVE(loop, "pcap_loop");
	RESOLVE(breakloop, "pcap_breakloop");
	RESOLVE(stats, "pcap_stats");
	RESOLVE(get_selectable_fd, "pcap_get_selectable_fd");
	RESOLVE(fileno, "pcap_fileno");
	RESOLVE(setnonblock, "pcap_setnonblock");
	RESOLVE(getnonblock, "pcap_getnonblock");
	RESOLVE(compile, "pcap_compile");
	RESOLVE(freecode, "pcap_freecode");
	RESOLVE(setfilter, "pcap_setfilter");
	RESOLVE(setdirection, "pcap_setdirection");
	RESOLVE(inject, "pcap_inject");
	RESOLVE(sendpacket, "pcap_sendpacket");
	RESOLVE(datalink, "pcap_datalink");
	RESOLVE(datalink_ext, "pcap_datalink_ext");
	RESOLVE(list_datalinks, "pcap_list_datalinks");
	RESOLVE(set_datalink, "pcap_set_datalink");
	RESOLVE(snapshot, "pcap_snapshot");
	RESOLVE(dump_open, "pcap_dump_open");
	RESOLVE(dump_open_append, "pcap_dump_open_append");
	RESOLVE(dump_fopen, "pcap_dump_fopen");
	RESOLVE(geterr, "pcap_geterr");
	RESOLVE(findalldevs, "pcap_findalldevs");
	RESOLVE(freealldevs, "pcap_freealldevs");
	RESOLVE(lookupnet, "pcap_lookupnet");
}

void shim_trace(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(trace_out, "vcap-pcap[%d]: ", (int)getpid());
	vfprintf(trace_out, fmt, ap);
	fputc('\n', trace_out);
	fflush(trace_out);
	va_end(ap);
}
