/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pcap_netif - what a monitoring program learns about an interface from
 * the kernel, for test_pcap_tools.sh: run under vcap-pcap on a vcap device
 * (an alias or host:NAME) and on a real interface, it must see an
 * interface either way.
 *
 *   pcap_netif NAME
 *
 * Prints one "key value" line each: index (if_nametoindex), back
 * (if_indextoname of it), flags (SIOCGIFFLAGS: up, running), sindex
 * (SIOCGIFINDEX), mtu (SIOCGIFMTU), hwtype and hwaddr (SIOCGIFHWADDR),
 * addr (SIOCGIFADDR: an address or an errno name), ifaddrs (how many
 * getifaddrs entries have the name) and ifaddrs_index (the AF_PACKET
 * entry's index), lookupnet (pcap_lookupnet's return).  A call that fails
 * prints its errno's name as the value.  Exits 0.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *err_name(int e)
{
	switch (e) {
	case ENODEV: return "ENODEV";
	case ENXIO: return "ENXIO";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return strerror(e);
	}
}

static int ask(int fd, unsigned long request, struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	return ioctl(fd, request, ifr);
}

int main(int argc, char **argv)
{
	const char *name = argc == 2 ? argv[1] : NULL;
	char back[IF_NAMESIZE], errbuf[PCAP_ERRBUF_SIZE];
	struct ifaddrs *list, *ifa;
	int fd, n_entries = 0, entry_index = 0;
	bpf_u_int32 net, mask;
	struct ifreq ifr;
	unsigned index;

	if (!name) {
		fprintf(stderr, "usage: pcap_netif NAME\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	index = if_nametoindex(name);
	if (index)
		printf("index %u\nback %s\n", index,
		       if_indextoname(index, back) ? back : err_name(errno));
	else
		printf("index %s\n", err_name(errno));

	if (ask(fd, SIOCGIFFLAGS, &ifr, name))
		printf("flags %s\n", err_name(errno));
	else
		printf("flags %s%s\n", ifr.ifr_flags & IFF_UP ? "up" : "down",
		       ifr.ifr_flags & IFF_RUNNING ? ",running" : "");
	if (ask(fd, SIOCGIFINDEX, &ifr, name))
		printf("sindex %s\n", err_name(errno));
	else
		printf("sindex %d\n", ifr.ifr_ifindex);
	if (ask(fd, SIOCGIFMTU, &ifr, name))
		printf("mtu %s\n", err_name(errno));
	else
		printf("mtu %d\n", ifr.ifr_mtu);
	if (ask(fd, SIOCGIFHWADDR, &ifr, name)) {
		printf("hwtype %s\n", err_name(errno));
	} else {
		const unsigned char *a = (const unsigned char *)ifr.ifr_hwaddr.sa_data;

		printf("hwtype %u\nhwaddr %02x:%02x:%02x:%02x:%02x:%02x\n",
		       ifr.ifr_hwaddr.sa_family, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
	if (ask(fd, SIOCGIFADDR, &ifr, name))
		printf("addr %s\n", err_name(errno));
	else
		printf("addr %s\n", inet_ntoa(((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr));
	close(fd);

	if (getifaddrs(&list)) {
		printf("ifaddrs %s\n", err_name(errno));
	} else {
		for (ifa = list; ifa; ifa = ifa->ifa_next) {
			if (strcmp(ifa->ifa_name, name))
				continue;
			n_entries++;
			if (ifa->ifa_addr && ifa->ifa_addr->sa_family == AF_PACKET)
				entry_index = ((struct sockaddr_ll *)ifa->ifa_addr)->sll_ifindex;
		}
		freeifaddrs(list);
		printf("ifaddrs %d\nifaddrs_index %d\n", n_entries, entry_index);
	}
	printf("lookupnet %d\n", pcap_lookupnet(name, &net, &mask, errbuf));
	return 0;
}
