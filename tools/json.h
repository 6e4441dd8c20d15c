/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * json.h - the little JSON the tools print: escaped strings.
 */
#ifndef VCAP_TOOLS_JSON_H
#define VCAP_TOOLS_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Print s (at most len bytes, stopping at NUL) as a JSON string. */
static inline void json_str(FILE *out, const char *s, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

/* Print "key":"value", preceded by a comma unless first. */
static inline void json_kv_str(FILE *out, const char *key, const char *val, bool comma)
{
	fprintf(out, "%s\"%s\":", comma ? "," : "", key);
	json_str(out, val, strlen(val));
}

#endif /* VCAP_TOOLS_JSON_H */
