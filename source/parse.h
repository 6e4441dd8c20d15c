/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * parse.h - the fields of an Ethernet frame that rules, flow rules and
 * cluster hashing look at, read once per packet.
 *
 * vcapd parses a packet at most once, on the capture thread, and only when
 * some consumer of the source needs it (rules, flow rules, a cluster or a
 * flow hash); every consumer then reads the same struct vcap_parsed.
 */
#ifndef VCAP_SOURCE_PARSE_H
#define VCAP_SOURCE_PARSE_H

#include <stdint.h>

#define VCAP_PARSED_NO_VLAN 0xffffu

/*
 * A header that is cut off (or malformed) leaves the fields it would have
 * set zero, vlan VCAP_PARSED_NO_VLAN: a VLAN tag is read whole or not at
 * all, an IPv4 header needs its 20 bytes (and version 4, IHL >= 5), an
 * IPv6 header its 40 (and version 6), ports the whole fixed transport
 * header (UDP 8, TCP 20, SCTP 12 bytes).  Lengths inside the packet (IPv4
 * total length, IPv6 payload length) are not trusted: caplen is the bound.
 */
struct vcap_parsed {
	uint8_t dmac[6];
	uint8_t smac[6];
	uint16_t vlan;      /* VLAN id of the outer 802.1Q/802.1ad tag, or VCAP_PARSED_NO_VLAN */
	uint16_t ethertype; /* after up to two VLAN tags (0: a tag is cut off) */
	uint8_t family;     /* 4, 6, or 0 if not IP (or the IP header is cut off or malformed) */
	/*
	 * IP protocol.  IPv6: the header after hop-by-hop, routing and
	 * destination options (eight extension headers at most: a longer chain
	 * keeps the extension header's number); for a fragment, first or
	 * later, the fragment header's next header, so all fragments of a
	 * datagram agree; if an extension header is cut off, its number.
	 */
	uint8_t proto;
	uint8_t fragment;   /* 1 for any fragment (IPv4 MF or offset; IPv6 fragment header) */
	uint8_t has_ports;  /* sport/dport valid: TCP, UDP or SCTP, not a fragment, header present */
	uint8_t tcp_flags;  /* valid when proto == TCP and has_ports */
	uint8_t pad[3];
	uint8_t saddr[16];  /* network order; IPv4 in the first 4 bytes, rest 0 */
	uint8_t daddr[16];
	uint16_t sport;     /* host order */
	uint16_t dport;
	/*
	 * Where the IP and transport headers start in the frame (0: not
	 * there).  l4_off only for a packet that is not a fragment and whose
	 * transport header starts within caplen; has_ports says whether the
	 * whole fixed header is there.  Not part of a rule's key (wildcard.h
	 * masks it off: no rule names these fields).
	 */
	uint16_t l3_off;
	uint16_t l4_off;
};

/*
 * Parse frame (caplen bytes, DLT_EN10MB).  Never reads past caplen.  About
 * 4 ns for an IPv4/UDP frame.  vcap_parse(NULL, 0, p) gives the parse of
 * nothing (no VLAN, not IP): what rules should see of a packet of another
 * link type.
 */
void vcap_parse(const uint8_t *frame, uint32_t caplen, struct vcap_parsed *p);

#endif /* VCAP_SOURCE_PARSE_H */
