/* SPDX-License-Identifier: BSD-3-Clause */
/* netdev.c - an interface's MTU and RX queues (netdev.h). */
#include "netdev.h"

#include <dirent.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* ioctl(request) on ifname through a throwaway socket, data in ifr.  @return 0 or -1. */
static int if_ioctl(const char *ifname, unsigned long request, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -1;
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	rc = ioctl(fd, request, ifr);
	close(fd);
	return rc;
}

uint32_t vcap_netdev_mtu(const char *ifname)
{
	struct ifreq ifr = { 0 };

	if (if_ioctl(ifname, SIOCGIFMTU, &ifr) || ifr.ifr_mtu <= 0)
		return 0;
	return (uint32_t)ifr.ifr_mtu;
}

unsigned vcap_netdev_rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { .ifr_data = (void *)&ch };
	unsigned n = 0;
	char path[64];
	struct dirent *e;
	DIR *d;

	if (!if_ioctl(ifname, SIOCETHTOOL, &ifr) && ch.rx_count + ch.combined_count)
		return ch.rx_count + ch.combined_count;
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "rx-", 3);
	closedir(d);
	return n;
}
