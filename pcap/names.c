/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * names.c - which device names are vcap's: "host:NAME", and the aliases
 * VCAP_PCAP_DEVICES gives (vcap-pcap --device ALIAS=host:NAME), and the
 * interface indexes this library makes up for them.
 *
 * Aliases exist for programs that parse an interface name themselves and
 * reject or split one with a ':' (softflowd takes "[index:]interface").
 * An alias is a plain interface name; it stands for its host: device in
 * every call this library intercepts.  One that names an interface this
 * process can see is refused: the program would capture one thing while
 * the kernel, asked about the same name, describes another.
 *
 * The environment is read before main() runs.  A bad entry ends the
 * program there, with a message saying which entry and why: a program
 * that started would only fail later, less clearly, or capture the wrong
 * interface.
 */
#include "shim.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct shim_alias aliases[SHIM_ALIASES_MAX];
static unsigned n_aliases;

/*
 * Interface indexes handed out: slot i is index SHIM_IFINDEX_BASE + i.
 * Aliases take the first slots, in order; host: names get the next free
 * one when first asked about.  Names are never forgotten: an index stays
 * valid for the life of the process, as a kernel's does while the
 * interface exists.
 */
#define INDEX_SLOTS 128
static char index_names[INDEX_SLOTS][IF_NAMESIZE];
static unsigned n_index;
static pthread_mutex_t index_lock = PTHREAD_MUTEX_INITIALIZER;

static void bad_entry(const char *entry, const char *why)
{
	fprintf(stderr, "vcap-pcap: device alias \"%s\": %s\n", entry, why);
	_exit(2);
}

/* The name the kernel knows, asked of libc itself (our if_nametoindex answers for aliases). */
static bool kernel_has(const char *name)
{
	unsigned (*real_nametoindex)(const char *) = NULL;
	void *fn = dlsym(RTLD_NEXT, "if_nametoindex");

	memcpy(&real_nametoindex, &fn, sizeof(fn));
	return real_nametoindex && real_nametoindex(name) != 0;
}

static void add_alias(const char *entry, size_t len)
{
	char text[256];
	const char *eq, *target;
	size_t name_len;
	struct shim_alias *a;

	if (len >= sizeof(text)) {
		snprintf(text, sizeof(text), "%.*s...", 64, entry);
		bad_entry(text, "too long");
	}
	memcpy(text, entry, len);
	text[len] = '\0';
	eq = strchr(text, '=');
	if (!eq)
		bad_entry(text, "not ALIAS=host:SOURCE");
	name_len = (size_t)(eq - text);
	target = eq + 1;
	if (name_len < 1 || name_len >= IF_NAMESIZE)
		bad_entry(text, "an alias is 1 to 15 characters (an interface name)");
	for (size_t i = 0; i < name_len; i++)
		if (text[i] == ':' || text[i] == '/' || isspace((unsigned char)text[i]) ||
		    !isprint((unsigned char)text[i]))
			bad_entry(text, "an alias has no ':', '/', white space or control "
					"characters (an interface name)");
	if ((name_len == 1 && text[0] == '.') || (name_len == 2 && !strncmp(text, "..", 2)) ||
	    (name_len == 3 && !strncmp(text, "any", 3)))
		bad_entry(text, "\".\", \"..\" and \"any\" cannot be aliases");
	if (!shim_is_host_name(target))
		bad_entry(text, "an alias stands for host:SOURCE, a source of vcapd");
	if (strlen(target) >= sizeof(a->target))
		bad_entry(text, "a source name is 1 to 64 bytes");
	if (n_aliases == SHIM_ALIASES_MAX)
		bad_entry(text, "too many aliases (at most 32)");
	a = &aliases[n_aliases];
	memcpy(a->name, text, name_len);
	a->name[name_len] = '\0';
	for (unsigned i = 0; i < n_aliases; i++)
		if (!strcmp(aliases[i].name, a->name))
			bad_entry(text, "this alias is given twice");
	if (kernel_has(a->name))
		bad_entry(text, "this process has an interface of that name: pick an alias "
				"no interface has");
	strcpy(a->target, target);
	n_aliases++;
}

__attribute__((constructor)) static void read_aliases(void)
{
	const char *env = getenv("VCAP_PCAP_DEVICES");

	while (env && *env) {
		const char *comma = strchr(env, ',');
		size_t len = comma ? (size_t)(comma - env) : strlen(env);

		if (len)
			add_alias(env, len);
		env += len + (comma ? 1 : 0);
	}
	/* aliases take the first indexes, so the same alias has the same index in every process */
	for (unsigned i = 0; i < n_aliases; i++)
		strcpy(index_names[i], aliases[i].name);
	n_index = n_aliases;
}

bool shim_is_host_name(const char *device)
{
	size_t len = strlen(SHIM_PREFIX);

	return device && !strncmp(device, SHIM_PREFIX, len) && device[len];
}

const struct shim_alias *shim_alias(const char *name)
{
	for (unsigned i = 0; name && i < n_aliases; i++)
		if (!strcmp(aliases[i].name, name))
			return &aliases[i];
	return NULL;
}

const struct shim_alias *shim_alias_at(unsigned i)
{
	return i < n_aliases ? &aliases[i] : NULL;
}

const char *shim_vcap_target(const char *device)
{
	const struct shim_alias *a;

	if (!device)
		return NULL;
	if (!strncmp(device, SHIM_PREFIX, strlen(SHIM_PREFIX)))
		return device;
	a = shim_alias(device);
	return a ? a->target : NULL;
}

bool shim_is_vcap_device(const char *device)
{
	return shim_vcap_target(device) != NULL;
}

unsigned shim_ifindex(const char *name)
{
	unsigned index = 0;

	if (!shim_is_vcap_device(name) || strlen(name) >= IF_NAMESIZE)
		return 0; /* the kernel's names are at most 15 bytes: so are ours */
	pthread_mutex_lock(&index_lock);
	for (unsigned i = 0; i < n_index && !index; i++)
		if (!strcmp(index_names[i], name))
			index = SHIM_IFINDEX_BASE + i;
	if (!index && n_index < INDEX_SLOTS) {
		strcpy(index_names[n_index], name);
		index = SHIM_IFINDEX_BASE + n_index++;
	}
	pthread_mutex_unlock(&index_lock);
	return index;
}

bool shim_ifname(unsigned index, char name[IF_NAMESIZE])
{
	bool found = false;

	if (index < SHIM_IFINDEX_BASE)
		return false;
	pthread_mutex_lock(&index_lock);
	if (index - SHIM_IFINDEX_BASE < n_index) {
		strcpy(name, index_names[index - SHIM_IFINDEX_BASE]);
		found = true;
	}
	pthread_mutex_unlock(&index_lock);
	return found;
}
