#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test.sh - build vcap three times and run the tests: the whole suite in an
# optimised build and in an ASan+UBSan build, and the suites that exercise
# vcapd's threads (suite "threads") under ThreadSanitizer.  Then build it
# (no tests) as users and packagers do: gcc and clang, release, plain and
# debugoptimized, each one passed or failed test.  Every build here is
# -Dwerror=true (the project's default is false, for users).  Ends with
# the line "N passed, N failed" and exits non-zero if anything failed.
# Needs root: tests create network namespaces, veth pairs and QEMU guests.
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

# gcc cannot model standalone fences under TSan (-Wtsan); vcap's fences only
# order atomics (the seqlock, the wake-up handshake), so silencing is safe
if ! configure build -Dwerror=true ||
	! configure build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false ||
	! configure build-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false -Dc_args=-Wno-tsan
then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

status=0
for dir in build build-asan build-tsan; do
	suites=""
	[ "$dir" = build-tsan ] && suites="--suite threads"
	echo "== meson test in $dir $suites"
	# halt_on_error: any sanitizer report fails the test that triggered it
	# shellcheck disable=SC2086
	ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		TSAN_OPTIONS=halt_on_error=1 \
		meson test -C "$dir" --print-errorlogs --num-processes 2 $suites || status=1
done

# The build matrix: what users and packagers build must build warning-free
# too (gcc -O3 sees other paths than -O2; clang warns on other things).
# Kept between runs like the builds above, so only what changed rebuilds.
matrix=build/build-matrix.txt
: >"$matrix"
for cc_type in gcc:release gcc:plain clang:release clang:debugoptimized; do
	cc=${cc_type%%:*} type=${cc_type#*:}
	echo "== build matrix: $cc $type"
	# a subshell: the compiler is chosen for this build dir only
	if (CC=$cc && export CC && configure "build-matrix-$cc-$type" -Dbuildtype="$type" \
		-Dwerror=true); then
		echo "PASS $cc-$type" >>"$matrix"
	else
		echo "FAIL $cc-$type" >>"$matrix"
		status=1
	fi
done

python3 scripts/summary.py --matrix "$matrix" build/meson-logs/testlog.json \
	build-asan/meson-logs/testlog.json build-tsan/meson-logs/testlog.json
exit $status
