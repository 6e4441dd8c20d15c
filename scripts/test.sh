#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test.sh - build vcap twice (optimised, and with ASan+UBSan) and run the
# whole test suite in both.  Ends with the line "N passed, N failed" and
# exits non-zero if anything failed.  Needs root: tests create network
# namespaces, veth pairs and QEMU guests.
set -eu
cd "$(dirname "$0")/.."

sh scripts/deps.sh

configure() { # DIR ARGS...
	dir=$1
	shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir" | grep -v '^\[' || true
	ninja -C "$dir" -n | grep -q 'no work to do'
}

if ! configure build || ! configure build-asan -Db_sanitize=address,undefined -Db_lundef=false
then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

status=0
for dir in build build-asan; do
	echo "== meson test in $dir"
	# halt_on_error: any sanitizer report fails the test that triggered it
	ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
done

python3 scripts/summary.py build/meson-logs/testlog.json build-asan/meson-logs/testlog.json
exit $status
