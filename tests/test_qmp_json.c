/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_qmp_json.c - the JSON reader vcapd uses on QEMU's QMP socket
 * (daemon/qmp_json.h): what QEMU 7.2 really sends is read, and whatever a
 * hostile or broken peer sends is refused with a reason, never read past.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "qmp_json.h"

static struct qmp_msg m;
static char why[128];

static int parse(const char *s)
{
	why[0] = '\0';
	return qmp_json_parse(s, strlen(s), &m, why, sizeof(why));
}

static void refused(const char *s, const char *reason)
{
	CHECK(parse(s) == -1, "accepted %s", s);
	CHECK(strstr(why, reason), "%s: \"%s\", expected \"%s\"", s, why, reason);
}

int main(void)
{
	/* QEMU 7.2's own words, as seen on its QMP socket */
	CHECK(!parse("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "
		     "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18\"}, \"capabilities\": [\"oob\"]}}\r\n"),
	      "greeting: %s", why);
	CHECK(m.greeting && !m.has_return && !m.has_id, "greeting");
	CHECK(!parse("{\"return\": {}, \"id\": 7}\r\n"), "return: %s", why);
	CHECK(m.has_return && m.has_id && m.id == 7 && !m.greeting, "return");
	CHECK(!parse("{\"id\": 3, \"error\": {\"class\": \"DeviceNotFound\", \"desc\": "
		     "\"Device 'vcap-vm1' not found\"}}"), "error: %s", why);
	CHECK(m.has_error && m.id == 3 && !strcmp(m.err_class, "DeviceNotFound") &&
		      !strcmp(m.err_desc, "Device 'vcap-vm1' not found"),
	      "error: %s / %s", m.err_class, m.err_desc);
	CHECK(!parse("{\"timestamp\": {\"seconds\": 1765000000, \"microseconds\": 12}, \"event\": "
		     "\"DEVICE_DELETED\", \"data\": {\"path\": \"/machine/peripheral/vcap-vm1\", "
		     "\"device\": \"vcap-vm1\"}}"), "event: %s", why);
	CHECK(!strcmp(m.event, "DEVICE_DELETED") && !strcmp(m.device, "vcap-vm1"), "event");
	/* a device id deeper down is not the event's */
	CHECK(!parse("{\"event\": \"X\", \"data\": {\"inner\": {\"device\": \"no\"}}}"), "%s", why);
	CHECK(m.device[0] == '\0', "nested device taken: %s", m.device);
	/* escapes, numbers, literals, empty containers */
	CHECK(!parse("{\"error\": {\"desc\": \"a\\\"b\\\\c\\n\\u0041\\u00e9\", \"class\": \"x\"}, "
		     "\"n\": [-1.5e3, 0, 1E+2, true, false, null, {}, []]}"), "%s", why);
	CHECK(!strcmp(m.err_desc, "a\"b\\c?A?"), "unescaped: %s", m.err_desc);
	/* an id that is not an unsigned integer is no id of ours */
	CHECK(!parse("{\"return\": 1, \"id\": -4}") && !m.has_id, "negative id");
	CHECK(!parse("{\"return\": 1, \"id\": \"str\"}") && !m.has_id, "string id");
	/* a long string is cut, not overrun */
	{
		char big[2048];

		memset(big, 0, sizeof(big));
		strcpy(big, "{\"event\": \"");
		memset(big + strlen(big), 'E', 1500);
		strcat(big, "\"}");
		CHECK(!parse(big), "%s", why);
		CHECK(strlen(m.event) == sizeof(m.event) - 1, "event cut to %zu", strlen(m.event));
	}

	/* refused, with a reason */
	refused("", "expected a JSON object");
	refused("[1]", "expected a JSON object");
	refused("{\"a\": 1} x", "trailing bytes");
	refused("{\"a\" 1}", "expected ':'");
	refused("{\"a\": 1,}", "expected a string");
	refused("{\"a\": [1 2]}", "expected ',' or ']'");
	refused("{\"a\": \"unterminated", "unterminated string");
	refused("{\"a\": \"tab\there\"}", "control character");
	refused("{\"a\": \"\\x\"}", "unknown escape");
	refused("{\"a\": \"\\u12g4\"}", "bad \\u escape");
	refused("{\"a\": 01}", "expected ',' or '}'");
	refused("{\"a\": -}", "bad number");
	refused("{\"a\": 1.}", "bad number");
	refused("{\"a\": 1e}", "bad number");
	refused("{\"a\": tru}", "unexpected character");
	refused("{\"a\": nul", "unexpected character");
	refused("{\"a\": 1", "expected ',' or '}'");
	{
		char deep[200] = "{\"a\":";
		size_t n = strlen(deep);

		for (int i = 0; i < 40; i++)
			deep[n++] = '[';
		deep[n] = '\0';
		refused(deep, "nested too deep");
	}
	/* an embedded NUL is a control character, not the end */
	CHECK(qmp_json_parse("{\"a\": \"x\0y\"}", 12, &m, why, sizeof(why)) == -1, "NUL accepted");

	/* quoting what vcapd sends: paths with quotes, backslashes, control bytes */
	{
		char buf[64];
		size_t pos = 0;

		CHECK(!qmp_json_quote(buf, sizeof(buf), &pos, "/run/a\"b\\c\n"), "quote");
		CHECK(!strcmp(buf, "\"/run/a\\\"b\\\\c\\u000a\""), "quoted: %s", buf);
		CHECK(!parse("{\"x\": \"/run/a\\\"b\\\\c\\u000a\"}"), "%s", why);
		pos = 0;
		CHECK(qmp_json_quote(buf, 8, &pos, "0123456789") == -1, "overflow not refused");
	}
	printf("qmp-json: ok\n");
	return 0;
}
