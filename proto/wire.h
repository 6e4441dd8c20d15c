/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wire.h - convert the API's rule and flow structs (vcap.h) to and from
 * their wire forms (vcap_proto.h), field by field, so that either side may
 * change its layout without the other noticing.
 */
#ifndef VCAP_PROTO_WIRE_H
#define VCAP_PROTO_WIRE_H

#include "vcap.h"
#include "vcap_proto.h"

void vcap_rule_to_wire(const struct vcap_rule *r, struct vcap_wire_rule *w);
void vcap_rule_from_wire(const struct vcap_wire_rule *w, struct vcap_rule *r);
void vcap_flow_to_wire(const struct vcap_flow *f, struct vcap_wire_flow *w);
void vcap_flow_from_wire(const struct vcap_wire_flow *w, struct vcap_flow *f);
void vcap_flow_stat_to_wire(const struct vcap_flow_stat *s, struct vcap_wire_flow_stat *w);
void vcap_flow_stat_from_wire(const struct vcap_wire_flow_stat *w, struct vcap_flow_stat *s);

#endif /* VCAP_PROTO_WIRE_H */
