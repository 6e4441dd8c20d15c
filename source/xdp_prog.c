/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xdp_prog.c - vcap's XDP program on one interface (xdp_prog.h).
 *
 * The object file is built into vcapd (vcap_xdp_obj.c, made from
 * vcap_xdp.bpf.c at build time), so nothing has to be found on disk.  The
 * configuration, the wildcard rules and the counters are BPF arrays mapped
 * into vcapd (BPF_F_MMAPABLE): setting them is a store, reading the
 * counters a load, and neither is a system call.  Only flow rules, a hash
 * map, cost one each.
 */
#include "xdp_prog.h"

#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "cbpf_xdp.h"
#include "parse.h"

extern const unsigned char vcap_xdp_obj[];
extern const size_t vcap_xdp_obj_len;

/* The program's parse is struct vcap_parsed's layout, or rules would match other bytes. */
#define SAME_FIELD(f)                                                                    \
	_Static_assert(offsetof(struct vcap_parsed, f) == offsetof(struct vcap_xdp_parsed, f) && \
			       sizeof(((struct vcap_parsed *)0)->f) ==                            \
				       sizeof(((struct vcap_xdp_parsed *)0)->f),                   \
		       "struct vcap_xdp_parsed differs from struct vcap_parsed at " #f)
SAME_FIELD(dmac);
SAME_FIELD(smac);
SAME_FIELD(vlan);
SAME_FIELD(ethertype);
SAME_FIELD(family);
SAME_FIELD(proto);
SAME_FIELD(fragment);
SAME_FIELD(has_ports);
SAME_FIELD(tcp_flags);
SAME_FIELD(saddr);
SAME_FIELD(daddr);
SAME_FIELD(sport);
SAME_FIELD(dport);
_Static_assert(sizeof(struct vcap_parsed) == sizeof(struct vcap_xdp_parsed), "same size");

struct vcap_xdp_prog {
	int ifindex;
	enum xdp_attach_mode mode;
	struct bpf_object *obj;
	struct xdp_program *prog;
	bool shared;
	int xsks_fd, flows_fd;
	struct vcap_xdp_conf *conf;  /* mapped */
	struct vcap_xdp_wild *wild;  /* mapped: two banks */
	const struct vcap_xdp_cpu_stats *stats; /* mapped, one per CPU */
	size_t conf_len, wild_len, stats_len;
	unsigned n_cpus;
	struct vcap_xdp_flow *flows; /* what vx_flows holds, sorted */
	unsigned n_flows;
	bool pass;
	int filter_slot_fd;          /* vx_filter */
	int stats_fd;
	int filter_fd;               /* the translated filters loaded now, or -1 */
	struct sock_filter *filter_src; /* what they were made of: n, then each len and insns */
	size_t filter_src_len;
};

/*
 * libbpf and libxdp explain a refusal in a message of their own: keep the
 * last one (attach runs on one thread at a time) for our error.
 */
static char last_msg[160];

static int keep_msg(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	last_msg[strcspn(last_msg, "\n")] = '\0';
	return 0;
}

static int keep_xdp_msg(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return keep_msg((enum libbpf_print_level)level, fmt, ap);
}

static void *map_array(struct bpf_object *obj, const char *name, size_t *len)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
	size_t page = (size_t)sysconf(_SC_PAGESIZE), sz;
	void *p;

	if (!m)
		return NULL;
	sz = (size_t)bpf_map__value_size(m) * bpf_map__max_entries(m);
	sz = (sz + page - 1) / page * page;
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = sz;
	return p;
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -1;
}

static void release(struct vcap_xdp_prog *p)
{
	if (p->conf)
		munmap(p->conf, p->conf_len);
	if (p->wild)
		munmap(p->wild, p->wild_len);
	if (p->stats)
		munmap((void *)p->stats, p->stats_len);
	if (p->prog)
		xdp_program__close(p->prog);
	if (p->obj)
		bpf_object__close(p->obj);
	if (p->filter_fd >= 0)
		close(p->filter_fd);
	free(p->filter_src);
	free(p->flows);
	free(p);
}

/* Why attaching failed, in words an operator can act on. */
static void explain(const char *ifname, bool generic, int rc, char *err, size_t err_len)
{
	const char *mode = generic ? "generic" : "native";

	if (rc == -EOPNOTSUPP && !generic)
		snprintf(err, err_len, "xdp:%s: the driver has no native XDP (%s); use mode=generic, "
			 "or if:%s", ifname, last_msg[0] ? last_msg : strerror(-rc), ifname);
	else if (rc == -EEXIST || rc == -EBUSY)
		snprintf(err, err_len, "xdp:%s: another XDP program is attached and libxdp cannot "
			 "run vcap's beside it here (%s); it was left in place; use if:%s", ifname,
			 last_msg[0] ? last_msg : strerror(-rc), ifname);
	else
		snprintf(err, err_len, "xdp:%s: attaching the XDP program in %s mode failed: %s%s%s; "
			 "use if:%s", ifname, mode, strerror(-rc), last_msg[0] ? ": " : "", last_msg,
			 ifname);
}

int vcap_xdp_prog_attach(struct vcap_xdp_prog **out, const char *ifname, bool generic,
			 char *err, size_t err_len)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "vcap_xdp");
	struct vcap_xdp_prog *p = calloc(1, sizeof(*p));
	struct xdp_multiprog *mp;
	int rc, cpus = libbpf_num_possible_cpus();

	if (!p)
		return -ENOMEM;
	p->filter_fd = -1;
	last_msg[0] = '\0';
	libbpf_set_print(keep_msg);
	libxdp_set_print(keep_xdp_msg);
	p->ifindex = (int)if_nametoindex(ifname);
	if (!p->ifindex) {
		snprintf(err, err_len, "xdp:%s: no such interface", ifname);
		free(p);
		return -ENODEV;
	}
	if (cpus <= 0 || cpus > VCAP_XDP_CPUS_MAX) {
		snprintf(err, err_len, "xdp:%s: %d possible CPUs, more than the %d counted; use if:%s",
			 ifname, cpus, VCAP_XDP_CPUS_MAX, ifname);
		free(p);
		return -ENOTSUP;
	}
	p->n_cpus = (unsigned)cpus;
	p->mode = generic ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	p->obj = bpf_object__open_mem(vcap_xdp_obj, vcap_xdp_obj_len, &oo);
	rc = -libbpf_get_error(p->obj);
	if (rc) {
		p->obj = NULL;
		snprintf(err, err_len, "xdp:%s: the built-in XDP object did not open: %s", ifname,
			 strerror(-rc));
		release(p);
		return rc;
	}
	p->prog = xdp_program__from_bpf_obj(p->obj, "xdp");
	rc = -libxdp_get_error(p->prog);
	if (rc) {
		p->prog = NULL;
		snprintf(err, err_len, "xdp:%s: libxdp took no program: %s", ifname, strerror(-rc));
		release(p);
		return rc;
	}
	rc = xdp_program__attach(p->prog, p->ifindex, p->mode, 0);
	if (rc) {
		explain(ifname, generic, rc, err, err_len);
		release(p);
		return rc;
	}
	mp = xdp_multiprog__get_from_ifindex(p->ifindex);
	if (!libxdp_get_error(mp) && mp) {
		p->shared = !xdp_multiprog__is_legacy(mp);
		xdp_multiprog__close(mp);
	}
	p->xsks_fd = map_fd(p->obj, "vx_xsks");
	p->flows_fd = map_fd(p->obj, "vx_flows");
	p->filter_slot_fd = map_fd(p->obj, "vx_filter");
	p->stats_fd = map_fd(p->obj, "vx_stats");
	p->conf = map_array(p->obj, "vx_conf", &p->conf_len);
	p->wild = map_array(p->obj, "vx_wild", &p->wild_len);
	p->stats = map_array(p->obj, "vx_stats", &p->stats_len);
	if (p->xsks_fd < 0 || p->flows_fd < 0 || p->filter_slot_fd < 0 || !p->conf || !p->wild ||
	    !p->stats) {
		snprintf(err, err_len, "xdp:%s: the XDP program's maps could not be mapped: %s",
			 ifname, strerror(errno));
		vcap_xdp_prog_detach(p);
		return -EIO;
	}
	*out = p;
	return 0;
}

int vcap_xdp_prog_socket(struct vcap_xdp_prog *p, uint32_t queue, int fd)
{
	if (queue >= VCAP_XDP_QUEUES_MAX)
		return -EINVAL;
	if (fd < 0)
		return bpf_map_delete_elem(p->xsks_fd, &queue) ? -errno : 0;
	return bpf_map_update_elem(p->xsks_fd, &queue, &fd, BPF_ANY) ? -errno : 0;
}

void vcap_xdp_prog_set_pass(struct vcap_xdp_prog *p, bool pass)
{
	atomic_store((_Atomic __u32 *)&p->conf->pass, pass);
	p->pass = pass;
}

/* No translated filters: the program takes what the rules let through. */
static void filters_off(struct vcap_xdp_prog *p)
{
	__u32 zero = 0;

	bpf_map_delete_elem(p->filter_slot_fd, &zero);
	if (p->filter_fd >= 0)
		close(p->filter_fd);
	p->filter_fd = -1;
}

/* progs flattened (n, then each length and its instructions), to tell a change. */
static struct sock_filter *flatten(const struct cbpf_prog *progs, unsigned n, size_t *len)
{
	size_t total = 1;
	struct sock_filter *f, *w;

	for (unsigned i = 0; i < n; i++)
		total += 1 + progs[i].len;
	f = malloc(total * sizeof(*f));
	if (!f)
		return NULL;
	w = f;
	*w++ = (struct sock_filter){ .k = n };
	for (unsigned i = 0; i < n; i++) {
		*w++ = (struct sock_filter){ .k = progs[i].len };
		memcpy(w, progs[i].insns, progs[i].len * sizeof(*w));
		w += progs[i].len;
	}
	*len = total;
	return f;
}

int vcap_xdp_prog_filters(struct vcap_xdp_prog *p, const struct cbpf_prog *progs, unsigned n,
			  char *err, size_t err_len)
{
	enum { CAP = 32767 };
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .expected_attach_type = BPF_XDP);
	struct sock_filter *src;
	struct bpf_insn *insns;
	static char log[4096];
	size_t src_len = 0;
	__u32 zero = 0;
	int rc, fd;

	src = flatten(progs, n, &src_len);
	if (src && p->filter_src && src_len == p->filter_src_len &&
	    !memcmp(src, p->filter_src, src_len * sizeof(*src))) {
		free(src);
		return p->filter_fd >= 0; /* as loaded */
	}
	free(p->filter_src);
	p->filter_src = src;
	p->filter_src_len = src ? src_len : 0;
	if (!n || !src) {
		filters_off(p);
		return src ? 0 : -ENOMEM;
	}
	insns = calloc(CAP, sizeof(*insns));
	if (!insns) {
		filters_off(p);
		return -ENOMEM;
	}
	rc = cbpf_xdp_build(progs, n, p->xsks_fd, p->stats_fd, p->pass, insns, CAP, err, err_len);
	if (rc <= 0) { /* 0: one of them takes everything, so no program is needed */
		free(insns);
		filters_off(p);
		return rc;
	}
	lo.log_buf = log;
	lo.log_size = sizeof(log);
	lo.log_level = 0;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "vcap_filters", "Dual BSD/GPL", insns, (size_t)rc,
			   &lo);
	if (fd < 0) {
		/* again with the verifier's reasons, for the message */
		lo.log_level = 1;
		log[0] = '\0';
		(void)bpf_prog_load(BPF_PROG_TYPE_XDP, "vcap_filters", "Dual BSD/GPL", insns,
				    (size_t)rc, &lo);
		log[sizeof(log) - 1] = '\0';
		/* the last full line says why */
		{
			char *end = log + strlen(log), *line;

			while (end > log && (end[-1] == '\n' || end[-1] == ' '))
				*--end = '\0';
			line = strrchr(log, '\n');
			snprintf(err, err_len, "the kernel refused the translated filters: %s",
				 line ? line + 1 : log);
		}
		rc = -errno;
		free(insns);
		filters_off(p);
		return rc ? rc : -EINVAL;
	}
	free(insns);
	if (bpf_map_update_elem(p->filter_slot_fd, &zero, &fd, BPF_ANY)) {
		rc = -errno;
		snprintf(err, err_len, "the filters' program slot refused it: %s", strerror(-rc));
		close(fd);
		filters_off(p);
		return rc;
	}
	if (p->filter_fd >= 0)
		close(p->filter_fd);
	p->filter_fd = fd;
	return 1;
}

static int flow_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct vcap_xdp_flow));
}

static void set_all(struct vcap_xdp_prog *p, bool all)
{
	atomic_store((_Atomic __u32 *)&p->conf->want_all, all);
}

int vcap_xdp_prog_want(struct vcap_xdp_prog *p, bool all, const struct vcap_xdp_wild *wild,
		       unsigned n_wild, const struct vcap_xdp_flow *flows, unsigned n_flows)
{
	struct vcap_xdp_flow *set = NULL;
	unsigned n = 0, i = 0, j = 0;
	uint8_t one = 1;
	__u32 bank;
	int rc = 0;

	if (n_wild > VCAP_XDP_WILD_MAX || n_flows > VCAP_XDP_FLOWS_MAX)
		all = true;
	if (all) {
		/* everything goes up: the rules in the maps are not looked at */
		set_all(p, true);
		return 0;
	}
	if (n_flows) {
		set = malloc(n_flows * sizeof(*set));
		if (!set) {
			set_all(p, true);
			return -ENOMEM;
		}
		memcpy(set, flows, n_flows * sizeof(*set));
		qsort(set, n_flows, sizeof(*set), flow_cmp);
		for (unsigned k = 0; k < n_flows; k++)
			if (!n || flow_cmp(&set[n - 1], &set[k]))
				set[n++] = set[k];
	}
	/* wider first: the new flows, looked up from now on */
	atomic_store((_Atomic __u32 *)&p->conf->n_flows, n + p->n_flows);
	for (i = 0, j = 0; j < n && !rc; j++) {
		while (i < p->n_flows && flow_cmp(&p->flows[i], &set[j]) < 0)
			i++;
		if (i < p->n_flows && !flow_cmp(&p->flows[i], &set[j]))
			continue;
		if (bpf_map_update_elem(p->flows_fd, &set[j], &one, BPF_ANY))
			rc = -errno;
	}
	if (rc) { /* full: leave nothing out */
		set_all(p, true);
		free(set);
		return rc;
	}
	/* the wildcard rules into the bank not in use, then switch */
	bank = !atomic_load((_Atomic __u32 *)&p->conf->bank);
	if (n_wild) /* wild may be NULL then */
		memcpy(&p->wild[bank * VCAP_XDP_WILD_MAX], wild, n_wild * sizeof(*wild));
	atomic_store((_Atomic __u32 *)&p->conf->n_wild[bank], n_wild);
	atomic_store((_Atomic __u32 *)&p->conf->bank, bank);
	set_all(p, false);
	/* narrower last: flows nobody names any more */
	for (i = 0, j = 0; i < p->n_flows; i++) {
		while (j < n && flow_cmp(&set[j], &p->flows[i]) < 0)
			j++;
		if (j < n && !flow_cmp(&set[j], &p->flows[i]))
			continue;
		bpf_map_delete_elem(p->flows_fd, &p->flows[i]);
	}
	atomic_store((_Atomic __u32 *)&p->conf->n_flows, n);
	free(p->flows);
	p->flows = set;
	p->n_flows = n;
	return 0;
}

int vcap_xdp_prog_want_flow(struct vcap_xdp_prog *p, const struct vcap_xdp_flow *flow)
{
	struct vcap_xdp_flow *set;
	uint8_t one = 1;
	unsigned i = 0;

	while (i < p->n_flows && flow_cmp(&p->flows[i], flow) < 0)
		i++;
	if (i < p->n_flows && !flow_cmp(&p->flows[i], flow))
		return 0;
	if (p->n_flows >= VCAP_XDP_FLOWS_MAX) {
		set_all(p, true);
		return -ENOSPC;
	}
	set = realloc(p->flows, (p->n_flows + 1) * sizeof(*set));
	if (!set) {
		set_all(p, true);
		return -ENOMEM;
	}
	p->flows = set;
	if (bpf_map_update_elem(p->flows_fd, flow, &one, BPF_ANY)) {
		set_all(p, true);
		return -errno;
	}
	memmove(&set[i + 1], &set[i], (p->n_flows - i) * sizeof(*set));
	set[i] = *flow;
	p->n_flows++;
	atomic_store((_Atomic __u32 *)&p->conf->n_flows, p->n_flows);
	return 0;
}

uint64_t vcap_xdp_prog_unwanted(const struct vcap_xdp_prog *p)
{
	uint64_t sum = 0;

	/* each CPU's slot is written by that CPU alone; an aligned load is whole */
	for (unsigned i = 0; i < p->n_cpus; i++)
		sum += __atomic_load_n(&p->stats[i].unwanted, __ATOMIC_RELAXED);
	return sum;
}

bool vcap_xdp_prog_shared(const struct vcap_xdp_prog *p)
{
	return p->shared;
}

void vcap_xdp_prog_detach(struct vcap_xdp_prog *p)
{
	if (!p)
		return;
	if (p->prog)
		xdp_program__detach(p->prog, p->ifindex, p->mode, 0);
	release(p);
}
