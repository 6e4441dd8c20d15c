#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# make-corpus.sh - rebuild fuzz/corpus/ (docs/fuzzing.md).
#
#   fuzz/make-corpus.sh BUILD_FUZZ [RUN_CORPORA_DIR]
#
# BUILD_FUZZ is a build with -Dfuzz=true (clang): it has fuzz/fuzz-gen-corpus
# and the libFuzzer binaries.  For each target, the generator's seeds, the
# corpus committed now and RUN_CORPORA_DIR/TARGET (what long runs found, if
# given) are minimised with libFuzzer's -merge=1 into a fresh
# fuzz/corpus/TARGET: the fewest inputs that keep all of their coverage.
#
# An input that trips a bug crashes the merge's child and is left out, so
# the corpus always passes the regression tests; such an input belongs in
# fuzz/crashers/ (with the fix) instead.
set -eu

build=${1:?usage: $0 BUILD_FUZZ [RUN_CORPORA_DIR]}
runs=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$build/fuzz/fuzz-gen-corpus" "$tmp/seeds"
for t in codec shm_queue ring config pcap parse qmp; do
	mkdir -p "$tmp/new/$t" "$tmp/seeds/$t" "$top/fuzz/corpus/$t" # qmp: no generated seeds
	set -- "$tmp/seeds/$t" "$top/fuzz/corpus/$t"
	if [ -n "$runs" ] && [ -d "$runs/$t" ]; then
		set -- "$@" "$runs/$t"
	fi
	"$build/fuzz/fuzz-$t" -merge=1 -timeout=10 "$tmp/new/$t" "$@" >"$tmp/merge-$t.log" 2>&1 || {
		echo "$t: merge failed:" >&2
		tail -20 "$tmp/merge-$t.log" >&2
		exit 1
	}
	rm -f "$top/fuzz/corpus/$t"/*
	cp "$tmp/new/$t"/* "$top/fuzz/corpus/$t/"
	echo "$t: $(ls "$top/fuzz/corpus/$t" | wc -l) inputs, $(cat "$top/fuzz/corpus/$t"/* | wc -c) bytes" \
		"($(grep -o 'MERGE-OUTER: [0-9]* new files' "$tmp/merge-$t.log" | tail -1))"
done
