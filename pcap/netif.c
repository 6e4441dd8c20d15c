/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * netif.c - the kernel's view of vcap devices: the interface ioctls
 * (SIOCGIFFLAGS, SIOCGIFINDEX, SIOCGIFMTU, SIOCGIFHWADDR, ...),
 * if_nametoindex, if_indextoname, getifaddrs and freeifaddrs.
 *
 * Monitoring programs check their interface through the kernel before
 * they capture (is it up? its MTU? its hardware address?) and enumerate
 * interfaces to find it.  For a vcap device (host:NAME or an alias) these
 * calls are answered here, from what vcapd says about the source; every
 * other name, index and request goes to libc unchanged.
 *
 * What a vcap device looks like: an Ethernet interface (for an Ethernet
 * source) that is up, and running unless its source failed, with the
 * source's MTU, an all-zero hardware address (the capturing interface is
 * vcapd's, maybe on another host or in another namespace: its address
 * means nothing here), no IPv4 address (EADDRNOTAVAIL, the kernel's
 * answer for such an interface) and an index of its own far above the
 * kernel's.  Setting anything is refused (EOPNOTSUPP), except flags,
 * which are accepted and ignored: promiscuous mode is vcapd's source
 * spec's to decide, as for pcap_set_promisc().
 */
#include "shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define ETHTOOL_REQ 0x8946 /* SIOCETHTOOL, without linux/sockios.h's clash with net/if.h */
#define HWTSTAMP_SET 0x89b0
#define HWTSTAMP_GET 0x89b1
#define DEV_PRIVATE_FIRST 0x89f0
#define DEV_PRIVATE_LAST 0x89ff

/* MTU of a source whose vcapd does not say (an older vcapd): Ethernet's. */
#define DEFAULT_MTU 1500

_Thread_local bool shim_in_findalldevs;

static int (*real_ioctl)(int, unsigned long, ...);
static unsigned (*real_nametoindex)(const char *);
static char *(*real_indextoname)(unsigned, char *);
static int (*real_getifaddrs)(struct ifaddrs **);
static void (*real_freeifaddrs)(struct ifaddrs *);
static pthread_once_t resolved = PTHREAD_ONCE_INIT;

static void resolve(void)
{
	void *fn;

	/* dlsym returns a void *; POSIX guarantees it converts to a function pointer */
	fn = dlsym(RTLD_NEXT, "ioctl");
	memcpy(&real_ioctl, &fn, sizeof(fn));
	fn = dlsym(RTLD_NEXT, "if_nametoindex");
	memcpy(&real_nametoindex, &fn, sizeof(fn));
	fn = dlsym(RTLD_NEXT, "if_indextoname");
	memcpy(&real_indextoname, &fn, sizeof(fn));
	fn = dlsym(RTLD_NEXT, "getifaddrs");
	memcpy(&real_getifaddrs, &fn, sizeof(fn));
	fn = dlsym(RTLD_NEXT, "freeifaddrs");
	memcpy(&real_freeifaddrs, &fn, sizeof(fn));
}

/* Say why a vcap device is not there, once per name: the program may only say "No such device". */
static void warn_missing(const char *name, const char *target, const char *why)
{
	static char warned[16][IF_NAMESIZE + 72];
	static unsigned n_warned;
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	bool say = true;

	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < n_warned && say; i++)
		say = strcmp(warned[i], name) != 0;
	if (say && n_warned < sizeof(warned) / sizeof(warned[0]))
		snprintf(warned[n_warned++], sizeof(warned[0]), "%s", name);
	pthread_mutex_unlock(&lock);
	if (!say)
		return;
	/* why names the host: device already ("host:x: no such source ...") */
	if (strcmp(name, target))
		fprintf(stderr, "vcap-pcap: %s: %s%s%s\n", name, strstr(why, target) ? "" : target,
			strstr(why, target) ? "" : ": ", why);
	else
		fprintf(stderr, "vcap-pcap: %s%s%s\n", strstr(why, target) ? "" : target,
			strstr(why, target) ? "" : ": ", why);
}

/*
 * The source behind vcap device name.  @return 0, or -1 with errno ENODEV
 * (no such source, or vcapd cannot be asked: there is no such interface
 * then either) after saying why on stderr.
 */
static int source_of(const char *name, struct vcap_source_desc *d)
{
	const char *target = shim_vcap_target(name);
	char why[512];

	if (!shim_source_find(target, d, why, sizeof(why)))
		return 0;
	warn_missing(name, target, why);
	errno = ENODEV;
	return -1;
}

static short flags_of(const struct vcap_source_desc *d)
{
	short flags = IFF_UP | IFF_BROADCAST | IFF_MULTICAST;

	if (strcmp(d->state, "failed"))
		flags |= IFF_RUNNING;
	return flags;
}

static unsigned short hwtype_of(const struct vcap_source_desc *d)
{
	return d->linktype == 1 /* DLT_EN10MB */ ? ARPHRD_ETHER : ARPHRD_NONE;
}

/* Requests whose argument is a struct ifreq naming an interface. */
static bool names_interface(unsigned long request)
{
	return (request >= SIOCGIFFLAGS && request <= SIOCSIFHWBROADCAST) ||
	       request == SIOCGIFTXQLEN || request == SIOCSIFTXQLEN ||
	       (request >= ETHTOOL_REQ && request <= ETHTOOL_REQ + 4) || request == SIOCGIFMAP ||
	       request == SIOCSIFMAP || request == HWTSTAMP_SET || request == HWTSTAMP_GET ||
	       (request >= DEV_PRIVATE_FIRST && request <= DEV_PRIVATE_LAST);
}

/* Answer request about vcap device name in ifr.  @return the ioctl's result. */
static int answer(unsigned long request, struct ifreq *ifr, const char *name)
{
	struct vcap_source_desc d;

	if (source_of(name, &d))
		return -1;
	TRACE("ioctl(%s, %#lx)", name, request);
	switch (request) {
	case SIOCGIFFLAGS:
		ifr->ifr_flags = flags_of(&d);
		return 0;
	case SIOCSIFFLAGS:
		return 0; /* vcapd's source decides; see the top of the file */
	case SIOCGIFINDEX:
		ifr->ifr_ifindex = (int)shim_ifindex(name);
		return 0;
	case SIOCGIFMTU:
		ifr->ifr_mtu = d.mtu ? (int)d.mtu : DEFAULT_MTU;
		return 0;
	case SIOCGIFHWADDR:
		memset(&ifr->ifr_hwaddr, 0, sizeof(ifr->ifr_hwaddr));
		ifr->ifr_hwaddr.sa_family = hwtype_of(&d);
		return 0;
	case SIOCGIFADDR:
	case SIOCGIFDSTADDR:
	case SIOCGIFBRDADDR:
	case SIOCGIFNETMASK:
		errno = EADDRNOTAVAIL;
		return -1;
	case SIOCGIFMETRIC:
		ifr->ifr_metric = 0;
		return 0;
	case SIOCGIFTXQLEN:
		ifr->ifr_qlen = 0;
		return 0;
	case SIOCGIFMAP:
		memset(&ifr->ifr_map, 0, sizeof(ifr->ifr_map));
		return 0;
	default:
		errno = EOPNOTSUPP; /* ethtool, MII, setting addresses or the MTU, ... */
		return -1;
	}
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	pthread_once(&resolved, resolve);
	if (arg && (request == SIOCGIFNAME || names_interface(request))) {
		struct ifreq *ifr = arg;
		char name[IF_NAMESIZE];

		if (request == SIOCGIFNAME) {
			if (shim_ifname((unsigned)ifr->ifr_ifindex, name)) {
				if (fcntl(fd, F_GETFD) < 0)
					return -1; /* EBADF, as the kernel says first */
				memcpy(ifr->ifr_name, name, IF_NAMESIZE);
				return 0;
			}
		} else {
			memcpy(name, ifr->ifr_name, IF_NAMESIZE);
			name[IF_NAMESIZE - 1] = '\0';
			if (shim_is_vcap_device(name)) {
				if (fcntl(fd, F_GETFD) < 0)
					return -1;
				return answer(request, ifr, name);
			}
		}
	}
	return real_ioctl(fd, request, arg);
}

unsigned if_nametoindex(const char *name)
{
	struct vcap_source_desc d;
	unsigned index;

	pthread_once(&resolved, resolve);
	if (!shim_is_vcap_device(name))
		return real_nametoindex(name);
	index = shim_ifindex(name);
	if (!index) {
		errno = ENODEV; /* longer than an interface name can be */
		return 0;
	}
	return source_of(name, &d) ? 0 : index;
}

char *if_indextoname(unsigned index, char name[IF_NAMESIZE])
{
	pthread_once(&resolved, resolve);
	if (!shim_ifname(index, name))
		return real_indextoname(index, name);
	return name;
}

/*
 * getifaddrs: the real list, then one AF_PACKET entry (as libc makes for
 * each interface) per vcap device: each alias whose source vcapd has, then
 * each source as host:NAME.  Entries added here are allocated and freed
 * here: freeifaddrs() cuts the chain off before libc frees its block.
 */
struct entry {
	struct ifaddrs ifa;
	struct sockaddr_ll addr;
	struct rtnl_link_stats stats; /* what libc's AF_PACKET entries point ifa_data at */
	char name[];
};

static struct ifaddrs *added_chains[64]; /* first entries of chains handed out */
static pthread_mutex_t chains_lock = PTHREAD_MUTEX_INITIALIZER;

static struct ifaddrs *entry_for(const char *name, const struct vcap_source_desc *d)
{
	struct entry *e = calloc(1, sizeof(*e) + strlen(name) + 1);

	if (!e)
		return NULL;
	strcpy(e->name, name);
	e->addr.sll_family = AF_PACKET;
	e->addr.sll_ifindex = (int)shim_ifindex(name); /* 0 for names too long to be an interface's */
	e->addr.sll_hatype = hwtype_of(d);
	e->addr.sll_halen = e->addr.sll_hatype == ARPHRD_ETHER ? 6 : 0;
	e->ifa.ifa_name = e->name;
	e->ifa.ifa_flags = (unsigned)(unsigned short)flags_of(d);
	e->ifa.ifa_addr = (struct sockaddr *)&e->addr;
	e->ifa.ifa_data = &e->stats;
	return &e->ifa;
}

static void free_chain(struct ifaddrs *ifa)
{
	while (ifa) {
		struct ifaddrs *next = ifa->ifa_next;

		free(ifa); /* the struct entry it begins */
		ifa = next;
	}
}

static struct ifaddrs *vcap_entries(void)
{
	struct vcap_source_desc *descs;
	struct ifaddrs *first = NULL, **tail = &first;
	int n = shim_sources(&descs);
	const struct shim_alias *a;
	char host_name[8 + sizeof(descs->name)];

	for (unsigned i = 0; (a = shim_alias_at(i)); i++) {
		for (int j = 0; j < n; j++) {
			if (strcmp(descs[j].name, a->target + strlen(SHIM_PREFIX)))
				continue;
			if ((*tail = entry_for(a->name, &descs[j])))
				tail = &(*tail)->ifa_next;
		}
	}
	for (int j = 0; j < n; j++) {
		snprintf(host_name, sizeof(host_name), "%s%s", SHIM_PREFIX, descs[j].name);
		if ((*tail = entry_for(host_name, &descs[j])))
			tail = &(*tail)->ifa_next;
	}
	free(descs);
	return first;
}

int getifaddrs(struct ifaddrs **ifap)
{
	struct ifaddrs *mine, **tail;
	int rc;

	pthread_once(&resolved, resolve);
	rc = real_getifaddrs(ifap);
	if (rc || shim_in_findalldevs)
		return rc;
	mine = vcap_entries();
	if (!mine)
		return 0;
	pthread_mutex_lock(&chains_lock);
	for (size_t i = 0; i < sizeof(added_chains) / sizeof(added_chains[0]); i++) {
		if (!added_chains[i]) {
			added_chains[i] = mine;
			for (tail = ifap; *tail; tail = &(*tail)->ifa_next)
				;
			*tail = mine;
			mine = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&chains_lock);
	free_chain(mine); /* too many lists held at once: this one is libc's alone */
	TRACE("getifaddrs: vcap devices appended");
	return 0;
}

/* Is ifa the first entry of a chain appended here?  If so, forget the note. */
static bool take_chain(struct ifaddrs *ifa)
{
	bool found = false;

	pthread_mutex_lock(&chains_lock);
	for (size_t i = 0; i < sizeof(added_chains) / sizeof(added_chains[0]) && !found; i++) {
		if (added_chains[i] == ifa) {
			added_chains[i] = NULL;
			found = true;
		}
	}
	pthread_mutex_unlock(&chains_lock);
	return found;
}

void freeifaddrs(struct ifaddrs *ifa)
{
	pthread_once(&resolved, resolve);
	for (struct ifaddrs **pp = &ifa; *pp; pp = &(*pp)->ifa_next) {
		if (take_chain(*pp)) {
			struct ifaddrs *mine = *pp;

			*pp = NULL;
			free_chain(mine);
			break;
		}
	}
	if (ifa)
		real_freeifaddrs(ifa);
}
