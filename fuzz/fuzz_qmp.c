/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_qmp.c - the JSON reader vcapd runs on every line its QMP socket
 * sends (daemon/qmp_json.c) on arbitrary bytes: what listens on a VM's
 * qmp= path may be anything.
 *
 * Asserts, beyond "no crash and no out-of-bounds access" (the input sits at
 * the very end of its allocation):
 *   1. it returns 0 or -1; on -1 with a reason, on 0 with every kept string
 *      NUL-terminated inside its field;
 *   2. it is a function of the bytes: parsed twice, the same verdict and
 *      the same fields;
 *   3. a message it accepts is refused with one more non-blank byte after it;
 *   4. whatever the input, quoted by qmp_json_quote() as vcapd quotes paths,
 *      it makes a string member of an object that is accepted.
 */
#include <stdbool.h>

#include "fuzz.h"
#include "qmp_json.h"

static void terminated(const char *s, size_t cap, const char *what)
{
	FUZZ_CHECK(memchr(s, '\0', cap) != NULL, "%s not terminated", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct qmp_msg m1, m2;
	static char why1[128], why2[128];
	static char quoted[4 * 8192 + 64];
	uint8_t *in = fuzz_tail_copy(data, size);
	int rc1, rc2;

	memset(why1, 'x', sizeof(why1));
	rc1 = qmp_json_parse((const char *)in, size, &m1, why1, sizeof(why1));
	FUZZ_CHECK(rc1 == 0 || rc1 == -1, "returned %d", rc1);
	if (rc1) {
		terminated(why1, sizeof(why1), "why");
		FUZZ_CHECK(why1[0] != '\0', "refused without a reason");
	} else {
		terminated(m1.err_class, sizeof(m1.err_class), "err_class");
		terminated(m1.err_desc, sizeof(m1.err_desc), "err_desc");
		terminated(m1.event, sizeof(m1.event), "event");
		terminated(m1.device, sizeof(m1.device), "device");
	}
	rc2 = qmp_json_parse((const char *)in, size, &m2, why2, sizeof(why2));
	FUZZ_CHECK(rc1 == rc2 && !memcmp(&m1, &m2, sizeof(m1)), "not a function of the bytes");
	free(in);

	if (!rc1) {
		in = malloc(size + 1);
		if (!in)
			abort();
		memcpy(in, data, size);
		in[size] = 'x';
		FUZZ_CHECK(qmp_json_parse((const char *)in, size + 1, &m2, why2, sizeof(why2)) == -1,
			   "accepted trailing bytes");
		free(in);
	}

	if (size <= 8192) {
		char *s = malloc(size + 1);
		size_t pos = 0;

		if (!s)
			abort();
		memcpy(s, data, size);
		s[size] = '\0'; /* as a C string: up to its first NUL */
		memcpy(quoted, "{\"event\":", 9);
		pos = 9;
		FUZZ_CHECK(!qmp_json_quote(quoted, sizeof(quoted), &pos, s), "quote failed");
		quoted[pos++] = '}';
		quoted[pos] = '\0';
		FUZZ_CHECK(!qmp_json_parse(quoted, pos, &m2, why2, sizeof(why2)),
			   "a quoted string is refused: %s", why2);
		free(s);
	}
	return 0;
}
