/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowhash.h - a symmetric flow hash: both directions of a flow hash alike,
 * so cluster members can share traffic without splitting conversations.
 */
#ifndef VCAP_SOURCE_FLOWHASH_H
#define VCAP_SOURCE_FLOWHASH_H

#include <stdint.h>

#define VCAP_HASH_2TUPLE 2 /* addresses */
#define VCAP_HASH_4TUPLE 4 /* addresses and ports */
#define VCAP_HASH_5TUPLE 5 /* addresses, ports and IP protocol */

/*
 * Hash an Ethernet frame (DLT_EN10MB, up to two VLAN tags, IPv4 or IPv6,
 * ports of TCP, UDP and SCTP).  Fragments and packets without ports hash on
 * their addresses (and protocol), so every fragment of a datagram hashes
 * alike.  Non-IP frames hash on their MAC addresses.
 * @return a hash, never 0 (0 means "not computed" in a ring record).
 */
uint32_t vcap_flow_hash(const uint8_t *frame, uint32_t caplen, int tuple);

struct vcap_parsed;

/*
 * The same hash of a frame vcap_parse() has already read: what
 * vcap_flow_hash() returns for that frame.  For the capture thread, which
 * parses once for hashing, clusters and rules alike.
 */
uint32_t vcap_flow_hash_parsed(const struct vcap_parsed *p, int tuple);

#endif /* VCAP_SOURCE_FLOWHASH_H */
