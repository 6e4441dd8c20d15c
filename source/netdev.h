/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * netdev.h - what live sources ask of an interface besides its packets:
 * its MTU and its RX queues, read from the kernel by name.
 */
#ifndef VCAP_SOURCE_NETDEV_H
#define VCAP_SOURCE_NETDEV_H

#include <stdint.h>

/* The interface's MTU; 0 if unknown (no such interface). */
uint32_t vcap_netdev_mtu(const char *ifname);

/*
 * Its RX queues: ethtool's channels (rx + combined), else the rx-N
 * directories of /sys/class/net/IFNAME/queues.  0 if unknown.
 */
unsigned vcap_netdev_rx_queues(const char *ifname);

#endif /* VCAP_SOURCE_NETDEV_H */
