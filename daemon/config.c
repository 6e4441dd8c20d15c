/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.c - parse vcapd's configuration file (format in config.h).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "policy.h"
#include "filter.h"
#include "metrics.h"
#include "source.h"
#include "vm.h"

#define LINE_MAX_LEN 1024

struct limit_key {
	const char *name;
	uint64_t min, max;
	size_t offset; /* in struct vcapd */
	bool wide;     /* uint64_t rather than uint32_t */
};

/*
 * Rules per ring: wildcard rules are evaluated one after another (~2.5 ns
 * each), so tens are the use and 65536 plenty; flow rules are a hash
 * table, 2^30 the most its 32-bit bucket count allows.  0 forbids either.
 */
#define WILDCARD_RULES_MAX 65536u
#define FLOW_RULES_MAX (1u << 30)
/* libpcap's own bound on a program (BPF_MAXINSNS is 4096; its optimiser may exceed it) */
#define FILTER_INSNS_MAX (1u << 20)

static const struct limit_key limit_keys[] = {
	{ "rings-per-session", 1, 65536, offsetof(struct vcapd, limits.max_rings), false },
	{ "ring-memory", 1u << 16, 1ull << 40, offsetof(struct vcapd, limits.ring_memory_max),
	  true },
	{ "ring-size-max", VCAP_RING_DATA_MIN, VCAP_RING_DATA_MAX,
	  offsetof(struct vcapd, limits.ring_size_max), false },
	{ "ring-size-default", VCAP_RING_DATA_MIN, VCAP_RING_DATA_MAX,
	  offsetof(struct vcapd, limits.ring_size_default), false },
	{ "sessions", 1, 65536, offsetof(struct vcapd, limits.max_sessions), false },
	{ "wildcard-rules", 0, WILDCARD_RULES_MAX, offsetof(struct vcapd, rules_limits.max_rules),
	  false },
	{ "flow-rules", 0, FLOW_RULES_MAX, offsetof(struct vcapd, rules_limits.max_flows), false },
	{ "hello-timeout-ms", 10, 3600000, offsetof(struct vcapd, limits.hello_timeout_ms), false },
	{ "filter-compile-ms", 1, 600000, offsetof(struct vcapd, limits.filter_compile_ms), false },
	{ "filter-insns", 1, FILTER_INSNS_MAX, offsetof(struct vcapd, limits.filter_insns), false },
	{ "tenant-cost-ns", 0, 1000000, offsetof(struct vcapd, limits.cost_ns), false },
	/* the per-account keys come last: tenant_key() counts from the end */
#define TENANT_KEY(key, r, lo, hi) \
	{ "tenant-" key, lo, hi, offsetof(struct vcapd, tenant_limits[r]), true }
	TENANT_KEY("sessions", ACCT_SESSIONS, 1, 65536),
	TENANT_KEY("rings", ACCT_RINGS, 1, 65536),
	TENANT_KEY("ring-memory", ACCT_RING_MEMORY, 1u << 16, 1ull << 40),
	TENANT_KEY("wildcard-rules", ACCT_WILDCARD_RULES, 0, 1ull << 32),
	TENANT_KEY("flow-rules", ACCT_FLOW_RULES, 0, 1ull << 40),
	TENANT_KEY("filter-insns", ACCT_FILTER_INSNS, 0, 1ull << 32),
	TENANT_KEY("jobs", ACCT_JOBS, 1, 1024),
};
#define N_LIMIT_KEYS (sizeof(limit_keys) / sizeof(limit_keys[0]))

/* The range of `tenant NAME KEY VALUE` for each account_keys[] KEY: as limit tenant-KEY. */
static const struct limit_key *tenant_key(enum account_res r)
{
	return &limit_keys[N_LIMIT_KEYS - ACCT_N + r];
}

static int set_limit(struct vcapd *d, const char *key, const char *val, char *err,
		     size_t err_len)
{
	size_t off;

	for (size_t i = 0; i < N_LIMIT_KEYS; i++) {
		const struct limit_key *k = &limit_keys[i];
		uint64_t v;
		int rc;

		if (strcmp(k->name, key))
			continue;
		rc = parse_u64(val, key, k->min, k->max, &v, err, err_len);
		if (rc)
			return rc;
		if (k->wide)
			*(uint64_t *)((char *)d + k->offset) = v;
		else
			*(uint32_t *)((char *)d + k->offset) = (uint32_t)v;
		return 0;
	}
	off = (size_t)snprintf(err, err_len, "unknown limit \"%s\" (", key);
	for (size_t i = 0; i < N_LIMIT_KEYS && off < err_len; i++)
		off += (size_t)snprintf(err + off, err_len - off, "%s%s", limit_keys[i].name,
					i + 1 < N_LIMIT_KEYS ? ", " : ")");
	return -EINVAL;
}

int config_check_limits(const struct vcapd_limits *l, char *err, size_t err_len)
{
	if (l->ring_size_max & (l->ring_size_max - 1) ||
	    l->ring_size_default & (l->ring_size_default - 1)) {
		snprintf(err, err_len, "ring sizes must be powers of two");
		return -EINVAL;
	}
	if (l->ring_size_default > l->ring_size_max) {
		snprintf(err, err_len, "ring-size-default %u exceeds ring-size-max %u",
			 l->ring_size_default, l->ring_size_max);
		return -EINVAL;
	}
	return 0;
}

/* Split off the next blank-separated word of *p.  @return it or NULL. */
static char *word(char **p)
{
	char *s = *p + strspn(*p, " \t"), *e;

	if (!*s)
		return NULL;
	e = s + strcspn(s, " \t");
	if (*e)
		*e++ = '\0';
	*p = e;
	return s;
}

/* A user or group by name or number.  @return 0 with *id, or -EINVAL with err. */
static int parse_id(const char *what, const char *val, bool group, long *id, char *err,
		    size_t err_len)
{
	uint64_t v;

	if (val[strspn(val, "0123456789")] == '\0' && *val) {
		if (parse_u64(val, what, 0, 0x7fffffff, &v, err, err_len))
			return -EINVAL;
		*id = (long)v;
		return 0;
	}
	if (group) {
		struct group *g = getgrnam(val);

		if (g) {
			*id = (long)g->gr_gid;
			return 0;
		}
	} else {
		struct passwd *pw = getpwnam(val);

		if (pw) {
			*id = (long)pw->pw_uid;
			return 0;
		}
	}
	snprintf(err, err_len, "%s=%s: no such %s", what, val, group ? "group" : "user");
	return -EINVAL;
}

/* "[owner=USER|UID] [group=GROUP|GID] [mode=OCTAL]" after a socket's path, into *perm. */
static int parse_socket_perm(char *p, struct socket_perm *perm, char *err, size_t err_len)
{
	for (char *w = word(&p); w; w = word(&p)) {
		char *val = strchr(w, '='), *end;
		unsigned long mode;

		if (!val) {
			snprintf(err, err_len, "\"%s\": expected owner=, group= or mode=", w);
			return -EINVAL;
		}
		*val++ = '\0';
		if (!strcmp(w, "owner")) {
			if (parse_id("owner", val, false, &perm->uid, err, err_len))
				return -EINVAL;
		} else if (!strcmp(w, "group")) {
			if (parse_id("group", val, true, &perm->gid, err, err_len))
				return -EINVAL;
		} else if (!strcmp(w, "mode")) {
			errno = 0;
			mode = strtoul(val, &end, 8);
			if (!*val || *end || errno || mode > 0777) {
				snprintf(err, err_len, "mode=%s: expected octal permissions (0600)",
					 val);
				return -EINVAL;
			}
			perm->mode = (unsigned)mode;
		} else {
			snprintf(err, err_len, "unknown socket option \"%s\" (owner, group, mode)", w);
			return -EINVAL;
		}
	}
	return 0;
}

struct tenant *tenant_get(struct vcapd *d, const char *name, unsigned lineno)
{
	struct tenant **pp = &d->tenants, *t;

	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name))
			return *pp;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->uid = -1;
	t->listen_fd = -1;
	t->socket_perm = (struct socket_perm)SOCKET_PERM_DEFAULT;
	t->lineno = lineno;
	*pp = t;
	return t;
}

/* "tenant NAME KEY VALUE...": one property of a tenant per line. */
static int parse_tenant(struct vcapd *d, const char *name, char *key, char *rest,
			unsigned lineno, char *err, size_t err_len)
{
	char *val = rest + strspn(rest, " \t");
	struct tenant *t;
	uint64_t v;
	int rc;

	if (!name || !key || !*val) {
		snprintf(err, err_len, "expected: tenant NAME KEY VALUE (KEY: uid, socket, vm, "
			 "allow, filter, sessions, rings, ring-memory, wildcard-rules, flow-rules, "
			 "filter-insns)");
		return -EINVAL;
	}
	if (strlen(name) > VCAP_NAME_MAX) {
		snprintf(err, err_len, "tenant name longer than %u bytes", VCAP_NAME_MAX);
		return -EINVAL;
	}
	t = tenant_get(d, name, lineno);
	if (!t)
		return -ENOMEM;
	if (!strcmp(key, "uid")) {
		rc = parse_u64(val, "uid", 0, 0x7fffffff, &v, err, err_len);
		if (rc)
			return rc;
		for (struct tenant *o = d->tenants; o; o = o->next) {
			if (o != t && o->uid == (long)v) {
				snprintf(err, err_len, "uid %llu already belongs to tenant %s",
					 (unsigned long long)v, o->name);
				return -EINVAL;
			}
		}
		t->uid = (long)v;
	} else if (!strcmp(key, "socket")) {
		char *path = word(&val);

		if (*path != '/' || strlen(path) >= sizeof(t->socket)) {
			snprintf(err, err_len, "socket must be an absolute path under %zu bytes",
				 sizeof(t->socket));
			return -EINVAL;
		}
		snprintf(t->socket, sizeof(t->socket), "%s", path);
		t->socket_perm = (struct socket_perm)SOCKET_PERM_DEFAULT;
		return parse_socket_perm(val, &t->socket_perm, err, err_len);
	} else if (!strcmp(key, "allow")) {
		for (char *tok = strtok(val, ", \t"); tok; tok = strtok(NULL, ", \t")) {
			if (t->n_allow == TENANT_MAX_ALLOW || strlen(tok) > VCAP_NAME_MAX) {
				snprintf(err, err_len, "too many or too long source names in allow");
				return -EINVAL;
			}
			snprintf(t->allow[t->n_allow++], VCAP_NAME_MAX + 1, "%s", tok);
		}
	} else if (!strcmp(key, "filter")) {
		struct filter *f;

		if (t->filter[0]) {
			snprintf(err, err_len, "tenant %s has a filter already", name);
			return -EINVAL;
		}
		/* refuse a filter that does not compile now, not at the first OPEN */
		rc = filter_compile(val, 1 /* DLT_EN10MB */, &f, err, err_len);
		if (rc)
			return rc;
		filter_free(f);
		snprintf(t->filter, sizeof(t->filter), "%s", val);
	} else if (!strcmp(key, "vm")) {
		if (strlen(val) > VCAP_NAME_MAX || t->vm[0]) {
			snprintf(err, err_len, "tenant %s: one vm name of at most %u bytes", name,
				 VCAP_NAME_MAX);
			return -EINVAL;
		}
		snprintf(t->vm, sizeof(t->vm), "%s", val);
	} else {
		for (int r = 0; r < ACCT_N; r++) {
			const struct limit_key *k = tenant_key((enum account_res)r);

			if (strcmp(key, account_keys[r]))
				continue;
			rc = parse_u64(val, key, k->min, k->max, &v, err, err_len);
			if (rc)
				return rc;
			account_set_limit(&t->acct, (enum account_res)r, v);
			return 0;
		}
		/* the list is made from account_keys[] so that it names every limit */
		size_t n = (size_t)snprintf(err, err_len, "unknown tenant property \"%s\" (uid, "
					    "socket, vm, allow, filter", key);
		for (int r = 0; r < ACCT_N && n < err_len; r++)
			n += (size_t)snprintf(err + n, err_len - n, ", %s", account_keys[r]);
		if (n < err_len)
			snprintf(err + n, err_len - n, ")");
		return -EINVAL;
	}
	return 0;
}

/* Every tenant must be recognisable and allowed something. */
static int check_tenants(const struct vcapd *d, const char *path, char *err, size_t err_len)
{
	for (const struct tenant *t = d->tenants; t; t = t->next) {
		if (t->uid < 0 && !t->socket[0] && !t->vm[0]) {
			snprintf(err, err_len, "%s:%u: tenant %s has no uid, socket or vm to know it by",
				 path, t->lineno, t->name);
			return -EINVAL;
		}
		if (!t->n_allow) {
			snprintf(err, err_len, "%s:%u: tenant %s is allowed no source (add: tenant %s "
				 "allow NAME,...)", path, t->lineno, t->name, t->name);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_line(struct vcapd *d, char *line, unsigned lineno, struct source ***tail,
		      char *err, size_t err_len)
{
	char *p = line, *kw = word(&p), *a, *b;

	(void)lineno;
	char spec[VCAP_NAME_MAX + 256];
	struct source *s;
	int rc;

	if (!kw || *kw == '#')
		return 0;
	a = word(&p);
	b = word(&p);
	if (!strcmp(kw, "socket")) {
		if (!a) {
			snprintf(err, err_len,
				 "expected: socket PATH [owner=USER] [group=GROUP] [mode=OCTAL]");
			return -EINVAL;
		}
		d->socket_perm = (struct socket_perm)SOCKET_PERM_DEFAULT;
		rc = b ? parse_socket_perm(b, &d->socket_perm, err, err_len) : 0;
		if (!rc)
			rc = parse_socket_perm(p, &d->socket_perm, err, err_len);
		if (rc)
			return rc;
		if (*a != '/' || strlen(a) >= sizeof(d->config_socket)) {
			snprintf(err, err_len, "socket must be an absolute path under %zu bytes",
				 sizeof(d->config_socket));
			return -EINVAL;
		}
		snprintf(d->config_socket, sizeof(d->config_socket), "%s", a);
		d->socket_path = d->config_socket;
		return 0;
	}
	if (!strcmp(kw, "metrics")) {
		struct metrics_addr addr;

		if (!a) {
			snprintf(err, err_len, "expected: metrics HOST:PORT|[V6]:PORT|unix:PATH "
				 "[owner=USER] [group=GROUP] [mode=OCTAL]");
			return -EINVAL;
		}
		rc = metrics_parse_listen(a, &addr, err, err_len);
		if (rc)
			return rc;
		if (b && !addr.is_unix) {
			snprintf(err, err_len, "metrics %s: owner=, group= and mode= are for a unix: "
				 "socket only", a);
			return -EINVAL;
		}
		d->metrics_perm = (struct socket_perm)SOCKET_PERM_DEFAULT;
		rc = b ? parse_socket_perm(b, &d->metrics_perm, err, err_len) : 0;
		if (!rc)
			rc = parse_socket_perm(p, &d->metrics_perm, err, err_len);
		if (rc)
			return rc;
		if (strlen(a) >= sizeof(d->config_metrics)) {
			snprintf(err, err_len, "metrics %s: longer than %zu bytes", a,
				 sizeof(d->config_metrics) - 1);
			return -EINVAL;
		}
		snprintf(d->config_metrics, sizeof(d->config_metrics), "%s", a);
		d->metrics_listen = d->config_metrics;
		return 0;
	}
	if (!strcmp(kw, "source")) {
		if (!a || !b || word(&p)) {
			snprintf(err, err_len, "expected: source NAME KIND:OPTIONS");
			return -EINVAL;
		}
		if ((size_t)snprintf(spec, sizeof(spec), "%s=%s", a, b) >= sizeof(spec)) {
			snprintf(err, err_len, "source line too long");
			return -EINVAL;
		}
		rc = source_create(spec, d->source_kinds, &s, err, err_len);
		if (rc)
			return rc;
		/* by the name the source got: in "source a=pcap:/y z" that is "a", not the word */
		if (source_find(d->sources, s->name)) {
			snprintf(err, err_len, "source %s is defined twice", s->name);
			source_destroy(s);
			return -EINVAL;
		}
		s->from_config = true;
		**tail = s;
		*tail = &s->next;
		return 0;
	}
	if (!strcmp(kw, "limit")) {
		if (!a || !b || word(&p)) {
			snprintf(err, err_len, "expected: limit NAME VALUE");
			return -EINVAL;
		}
		return set_limit(d, a, b, err, err_len);
	}
	if (!strcmp(kw, "tenant"))
		return parse_tenant(d, a, b, p, lineno, err, err_len);
	if (!strcmp(kw, "vm")) {
		char spec[VCAP_NAME_MAX + 512];
		char *opts = p + strspn(p, " \t");
		struct vm *vm;

		if (!a || !b) {
			snprintf(err, err_len, "expected: vm NAME SOCKET size=SIZE[,vectors=N]");
			return -EINVAL;
		}
		if (vm_find(d->vms, a)) {
			snprintf(err, err_len, "vm %s is defined twice", a);
			return -EINVAL;
		}
		snprintf(spec, sizeof(spec), "%s=%s%s%s", a, b, *opts ? "," : "", opts);
		rc = vm_create(spec, &vm, err, err_len);
		if (rc)
			return rc;
		vm_set_from_config(vm);
		vm_set_next(vm, d->vms);
		d->vms = vm;
		return 0;
	}
	snprintf(err, err_len,
		 "unknown directive \"%s\" (socket, source, vm, limit, tenant, metrics)", kw);
	return -EINVAL;
}

int config_load(struct vcapd *d, const char *path, char *err, size_t err_len)
{
	struct source **tail = &d->sources;
	char *line = NULL, why[512];
	size_t cap = 0;
	ssize_t len;
	FILE *f = fopen(path, "re");
	unsigned lineno = 0;
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return rc;
	}
	while (*tail)
		tail = &(*tail)->next;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > LINE_MAX_LEN) {
			snprintf(err, err_len, "%s:%u: line longer than %u bytes", path, lineno,
				 LINE_MAX_LEN);
			rc = -EINVAL;
			break;
		}
		if (strlen(line) != (size_t)len) {
			snprintf(err, err_len, "%s:%u: NUL byte in line (not a text file?)", path,
				 lineno);
			rc = -EINVAL;
			break;
		}
		why[0] = '\0';
		rc = parse_line(d, line, lineno, &tail, why, sizeof(why));
		if (rc && !why[0]) /* -ENOMEM paths write no reason */
			snprintf(why, sizeof(why), "%s", strerror(-rc));
		if (rc) {
			snprintf(err, err_len, "%s:%u: %s", path, lineno, why);
			break;
		}
	}
	if (!rc && ferror(f)) {
		rc = -EIO;
		snprintf(err, err_len, "%s: read error", path);
	}
	free(line);
	fclose(f);
	if (!rc && (rc = config_check_limits(&d->limits, why, sizeof(why))))
		snprintf(err, err_len, "%s: %s", path, why);
	if (!rc)
		rc = check_tenants(d, path, err, err_len);
	for (struct tenant *t = d->tenants; !rc && t; t = t->next) {
		char name[VCAP_NAME_MAX + 16];

		snprintf(name, sizeof(name), "tenant %s", t->name);
		account_setup(&t->acct, name, d->tenant_limits);
	}
	if (!rc)
		d->config_path = path;
	return rc;
}

void config_free(struct vcapd *d)
{
	while (d->tenants) {
		struct tenant *t = d->tenants;

		d->tenants = t->next;
		free(t);
	}
	if (d->socket_path == d->config_socket)
		d->socket_path = NULL;
	if (d->metrics_listen == d->config_metrics)
		d->metrics_listen = NULL;
}
