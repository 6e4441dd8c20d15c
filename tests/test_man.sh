#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_man.sh - the man pages in man/ against the code they describe, so
# that neither can drift from the other:
#   - every page renders with groff without a single warning (-ww);
#   - every option each program's --help prints (long and short), and every
#     command vcapctl's prints, is an item the program's page describes;
#   - every directive, limit and tenant key vcapd's configuration parser
#     accepts is an item of vcap.conf(5): the lists come from vcapd's own
#     error messages for an unknown one and from daemon/config.c and
#     daemon/account.c, so a key added to either must be documented;
#   - every function include/vcap.h exports is named in libvcap(3), the
#     default socket of vcap.h is the one the pages name, and the example
#     program of libvcap(3) compiles as printed and counts what vcapcount
#     counts with the same filter on the same generated packets.
# Every wait polls for a condition up to a deadline: no fixed sleeps.
set -eu

B=${VCAP_BUILD_DIR:?}
S=${VCAP_SOURCE_DIR:?}
M=$S/man
# flags for compiling libvcap(3)'s example: the build's sanitizers, if any
EXAMPLE_CFLAGS=${1:-}
dir=$(mktemp -d /tmp/vcap-man-XXXXXX)
cleanup() {
	[ -n "${vcapd_pid:-}" ] && kill "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
failed=0
bad() {
	echo "FAIL: $*" >&2
	failed=$((failed + 1))
}
# ok MARK TEXT: say TEXT if nothing failed since failed was MARK
ok() {
	[ "$failed" -eq "$1" ] && echo "ok: $2"
	return 0
}
now_ms() { date +%s%3N; }

command -v groff >/dev/null || { echo "FAIL: no groff (scripts/deps.sh installs groff-base)" >&2; exit 1; }

pages="vcapd.8 vcap.conf.5 vcapctl.8 vcapcount.1 vcapsend.1 vcapdump.1 vcap-pcap.1 libvcap.3"

# ---- every page renders without a warning --------------------------------
for p in $pages; do
	[ -f "$M/$p" ] || { bad "man/$p is missing"; continue; }
	# -ww: all warnings; the terminal device is what man(1) uses
	LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$M/$p" 2>"$dir/warn" || bad "$p: groff failed"
	if [ -s "$dir/warn" ]; then
		bad "$p: groff warns:"
		sed 's/^/  /' "$dir/warn" >&2
	fi
	# plain text as a reader sees it: no hyphenation, no bold or underline
	LC_ALL=C groff -man -Tascii -rHY=0 -P-cbou "$M/$p" >"$dir/$p.txt" 2>/dev/null
	# the items an option or keyword must have: anywhere but in EXAMPLES,
	# which shows one in use without describing it
	sed '/^EXAMPLES$/,/^[A-Z]/{/^EXAMPLES$/d;/^[A-Z]/!d}' "$dir/$p.txt" >"$dir/$p.items"
	for section in NAME SYNOPSIS DESCRIPTION 'SEE ALSO'; do
		grep -q "^$section\$" "$dir/$p.txt" || bad "$p: no $section section"
	done
done

# has_item PAGE REGEX: a line of PAGE's text outside EXAMPLES that starts
# (after indentation) with REGEX, as the tag of a .TP item does
has_item() {
	grep -Eq "^ +$2" "$dir/$1.items"
}

# ---- every option --help prints is described on the program's page ------
# check_help PAGE MIN COMMAND...: run COMMAND (a --help), check its
# options, of which there must be at least MIN (else the parsing broke)
check_help() {
	page=$1 min=$2 mark=$failed
	shift 2
	if ! "$@" >"$dir/help" 2>&1; then
		bad "$page: $* failed"
		return
	fi
	n=0
	for o in $(grep -oE -- '--[a-z][a-z0-9-]*' "$dir/help" | sort -u); do
		n=$((n + 1))
		# "--opt ARG", "--opt=ARG", "-x, --opt", "--opt" alone
		has_item "$page" "(-[a-zA-Z], )?$o([ =,]|\$)" ||
			bad "$page: '$*' prints $o, the page has no item for it"
	done
	# short options: the lines of the usage text that start with one
	for o in $(sed -nE 's/^ +(-[a-zA-Z])([ ,].*|$)/\1/p' "$dir/help" | sort -u); do
		n=$((n + 1))
		has_item "$page" "$o([ ,]|\$)" ||
			bad "$page: '$*' prints $o, the page has no item for it"
	done
	[ "$n" -ge "$min" ] || bad "$page: found $n options in the output of '$*', expected $min or more"
	ok "$mark" "$page describes the $n options of '$*'"
}
check_help vcapd.8 5 "$B/daemon/vcapd" --help
check_help vcapctl.8 1 "$B/tools/vcapctl" --help
check_help vcapcount.1 10 "$B/tools/vcapcount" --help
check_help vcapsend.1 10 "$B/tools/vcapsend" --help
check_help vcapdump.1 5 "$B/tools/vcapdump" --help
# (a wrapper whose usage may list no option at all)
check_help vcap-pcap.1 0 sh "$B/pcap/vcap-pcap" --help

# vcapctl's commands: the help's lines "  COMMAND   what it does"
"$B/tools/vcapctl" --help >"$dir/help"
for c in $(sed -nE 's/^  ([a-z]+)  .*/\1/p' "$dir/help"); do
	has_item vcapctl.8 "$c( |\$)" || bad "vcapctl.8: vcapctl --help lists command $c, the page has no item for it"
done

# ---- every configuration keyword is described in vcap.conf(5) ------------
# vcapd's own list of what it accepts, from the message for an unknown one:
# prints the words in the parentheses of 'unknown WHAT "x" (a, b, c)'
accepted() {
	printf '%s\n' "$1" >"$dir/bad.conf"
	timeout 10 "$B/daemon/vcapd" --foreground --socket "$dir/unused.sock" \
		--config "$dir/bad.conf" >"$dir/out" 2>&1 && bad "vcapd took the line '$1'"
	sed -nE 's/.*unknown [a-z ]+ "[a-z_]+" \((.*)\)$/\1/p' "$dir/out" | tr -d ' ' | tr ',' '\n'
}
{
	accepted "nosuchdirective x"
	# the parser's own comparisons: each directive is strcmp(kw, "NAME")
	grep -oE 'strcmp\(kw, "[a-z-]+"\)' "$S/daemon/config.c" | sed -E 's/.*"(.*)".*/\1/'
} | sort -u >"$dir/directives"
{
	accepted "limit nosuchlimit 1"
	# limit_keys[]: { "NAME", ... } and TENANT_KEY("NAME", ...) for tenant-NAME
	sed -nE 's/^[[:space:]]*\{ "([a-z-]+)",.*/\1/p' "$S/daemon/config.c"
	sed -nE 's/.*TENANT_KEY\("([a-z-]+)".*/tenant-\1/p' "$S/daemon/config.c"
} | sort -u >"$dir/limits"
{
	accepted "tenant t nosuchkey 1"
	grep -oE 'strcmp\(key, "[a-z-]+"\)' "$S/daemon/config.c" | sed -E 's/.*"(.*)".*/\1/'
	# account_keys[]: [ACCT_...] = "NAME", each also `tenant NAME KEY VALUE`
	sed -nE 's/^[[:space:]]*\[ACCT_[A-Z_]+\] = "([a-z-]+)",.*/\1/p' "$S/daemon/account.c"
} | sort -u >"$dir/tenant-keys"
for list in directives limits tenant-keys; do
	# a list parsed from nothing would check nothing: the formats changed
	[ "$(wc -l <"$dir/$list")" -ge 3 ] || bad "vcap.conf.5: could not learn vcapd's $list ($(tr '\n' ' ' <"$dir/$list"))"
done
n=0 mark=$failed
for k in $(cat "$dir/directives"); do
	n=$((n + 1))
	has_item vcap.conf.5 "$k( |\$)" || bad "vcap.conf.5: vcapd accepts directive $k, the page has no item for it"
done
for k in $(cat "$dir/limits"); do
	n=$((n + 1))
	has_item vcap.conf.5 "limit $k( |\$)" || bad "vcap.conf.5: vcapd accepts 'limit $k', the page has no item for it"
done
for k in $(cat "$dir/tenant-keys"); do
	n=$((n + 1))
	has_item vcap.conf.5 "tenant NAME $k( |\$)" ||
		bad "vcap.conf.5: vcapd accepts 'tenant NAME $k', the page has no item for it"
done
ok "$mark" "vcap.conf.5 describes $n directives, limits and tenant keys"

# ---- libvcap(3) names the whole API, the pages vcap.h's socket -----------
n=0 mark=$failed
for f in $(sed -nE 's/^VCAP_API .*[ *](vcap_[a-z_]+)\(.*/\1/p' "$S/include/vcap.h"); do
	n=$((n + 1))
	grep -q "\\b$f\\b" "$dir/libvcap.3.txt" || bad "libvcap.3: vcap.h exports $f, the page does not name it"
done
[ "$n" -ge 10 ] || bad "libvcap.3: found only $n functions in vcap.h"
ok "$mark" "libvcap.3 names the $n functions of vcap.h"
sock=$(sed -nE 's/^#define VCAP_DEFAULT_SOCKET "(.*)"/\1/p' "$S/include/vcap.h")
[ -n "$sock" ] || bad "no VCAP_DEFAULT_SOCKET in vcap.h"
for p in vcapd.8 vcap.conf.5 vcapctl.8 libvcap.3; do
	grep -qF "$sock" "$dir/$p.txt" || bad "$p: does not name the default socket $sock"
done

# ---- libvcap(3)'s example, as printed, against a real vcapd --------------
# the EXAMPLES section's program: from its first #include to the text after it
sed -n '/^EXAMPLES/,/^SEE ALSO/p' "$dir/libvcap.3.txt" |
	awk '/^ *#include/ { on = 1 } /^ *Build it with/ { on = 0 } on' |
	sed 's/^       //' >"$dir/example.c"
grep -q 'vcap_open("host:eth0"' "$dir/example.c" || bad "libvcap.3: no example program found"
CC=${CC:-cc}
# shellcheck disable=SC2086 # EXAMPLE_CFLAGS: zero or more words
if ! $CC $EXAMPLE_CFLAGS -std=c11 -Wall -Wextra -Werror -I"$S/include" "$dir/example.c" \
	-L"$B/lib" -lvcap -o "$dir/example" 2>"$dir/cc.err"; then
	bad "libvcap.3: the example does not compile:"
	sed 's/^/  /' "$dir/cc.err" >&2
else
	# two identical counted generators; the example reads eth0 with its own
	# filter, vcapcount the other with the filter the example's code names
	gen=synth:size=64,pps=200k,count=40000,proto=udp,flows=256
	"$B/daemon/vcapd" --foreground --socket "$dir/s.sock" \
		--source "eth0=$gen" --source "twin=$gen" 2>"$dir/vcapd.log" &
	vcapd_pid=$!
	limit=$(($(now_ms) + 10000))
	until [ -S "$dir/s.sock" ]; do
		[ "$(now_ms)" -lt "$limit" ] || { bad "vcapd did not start"; break; }
		sleep 0.02
	done
	filter=$(sed -nE 's/.*\.filter = "([^"]*)".*/\1/p' "$dir/example.c")
	got=$(VCAP_SOCKET="$dir/s.sock" LD_LIBRARY_PATH="$B/lib" timeout 20 "$dir/example" 2>&1) ||
		bad "libvcap.3: the example failed: $got"
	want=$(VCAP_SOCKET="$dir/s.sock" timeout 20 "$B/tools/vcapcount" -i host:twin -f "$filter" -q --json |
		sed -nE 's/.*"packets":([0-9]+).*/\1/p')
	if [ "$got" != "$want packets" ] || [ "${want:-0}" -eq 0 ]; then
		bad "libvcap.3: the example printed '$got'; vcapcount -f '$filter' counted ${want:-nothing}"
	else
		echo "ok: libvcap.3's example compiles and counts $got, as vcapcount does"
	fi
fi

[ $failed -eq 0 ] && echo "all man page checks passed"
exit $failed
