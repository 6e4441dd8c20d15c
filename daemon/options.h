/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * options.h - "key=value,key=value" lists, as in source specs
 * (synth:size=64,pps=1M) and config files.
 */
#ifndef VCAP_DAEMON_OPTIONS_H
#define VCAP_DAEMON_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

struct kv {
	char key[32];
	char val[256];
};

/*
 * Take the next pair from *p and advance it.  A bare word (no '=') is a
 * key with an empty value.
 * @return 1 with *kv filled, 0 at the end, -EINVAL (err says why).
 */
int kv_next(const char **p, struct kv *kv, char *err, size_t err_len);

/*
 * Refuse kv unless its key is one of keys (NULL-terminated): a parser's
 * table of the options it takes, which the message lists.  vcapd --help
 * is checked against the same tables (tests/test_options.c), so neither
 * can name an option the other lacks.  `what` ("pcap") starts the message,
 * or NULL.  @return 0 or -EINVAL with err.
 */
int kv_known(const struct kv *kv, const char *const *keys, const char *what, char *err,
	     size_t err_len);

/*
 * The interface name that starts a live source's options ("IFACE,k=v,..."
 * after "kind:"): copied into ifname (cap bytes, IF_NAMESIZE), *args moved
 * past it.  @return 0 or -EINVAL with err naming kind.
 */
int kv_ifname(const char **args, const char *kind, char *ifname, size_t cap, char *err,
	      size_t err_len);

/*
 * Parse kv's value as an unsigned number within [min, max].  Accepts the
 * suffixes k, M, G (x1000) and Ki, Mi, Gi (x1024), and a fraction where
 * the result is whole ("14.88M" is 14880000).
 * @return 0, or -EINVAL with err naming the key and the problem.
 */
int kv_u64(const struct kv *kv, uint64_t min, uint64_t max, uint64_t *out, char *err,
	   size_t err_len);

/* The same for a whole string; `what` names it in errors. */
int parse_u64(const char *s, const char *what, uint64_t min, uint64_t max, uint64_t *out,
	      char *err, size_t err_len);

#endif /* VCAP_DAEMON_OPTIONS_H */
