#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_install.sh - `meson install` gives a user everything: installed
# into a staging root (DESTDIR), the programs, libvcap with its soname
# links, libvcap.pc, vcap.h, the vcap-pcap shim where the installed
# wrapper looks for it, and the docs are there; a program built from
# tests/install_client.c with only `pkg-config libvcap` against that tree
# reads exactly the 1000 packets of a counted source from the INSTALLED
# vcapd, and neither it nor an installed tool loads anything from the
# build tree.
set -eu

B=${VCAP_BUILD_DIR:?}
S=${VCAP_SOURCE_DIR:?}
CC=${VCAP_CC:-cc}
dir=$(mktemp -d /tmp/vcap-install-XXXXXX)
cleanup() {
	[ -n "${vcapd_pid:-}" ] && kill "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
# the environment must not lead anything to a library: each step says where
unset LD_LIBRARY_PATH LD_PRELOAD PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR || true

dest=$dir/root
meson install -C "$B" --no-rebuild --destdir "$dest" >"$dir/install.log" 2>&1 ||
	fail "meson install: $(tail -n 20 "$dir/install.log")"

# where this build installs (prefix and dirs as configured: absolute or not)
where=$(python3 - "$B" <<'EOF'
import json, os, sys
info = os.path.join(sys.argv[1], "meson-info")
opts = {o["name"]: o["value"] for o in json.load(open(os.path.join(info, "intro-buildoptions.json")))}
for d in ("bindir", "sbindir", "libdir", "includedir", "datadir"):
    print(os.path.join(opts["prefix"], opts[d]))
print(json.load(open(os.path.join(info, "intro-projectinfo.json")))["version"])
EOF
) || fail "cannot read the build's install dirs"
{ read -r bindir; read -r sbindir; read -r libdir; read -r includedir; read -r datadir; read -r version; } <<EOF
$where
EOF
lib=$dest$libdir

# the files, with libvcap's soname chain: libvcap.so -> .so.0 -> .so.VERSION
for f in "$sbindir/vcapd" "$sbindir/vcap-guestd" "$bindir/vcapcount" "$bindir/vcapctl" \
	"$bindir/vcapsend" "$bindir/vcapdump" "$bindir/vcap-pcap"; do
	if [ ! -f "$dest$f" ] || [ ! -x "$dest$f" ]; then
		fail "$f not installed (or not executable)"
	fi
done
for f in "$libdir/libvcap.so.$version" "$libdir/libvcap-pcap.so" "$libdir/pkgconfig/libvcap.pc" \
	"$includedir/vcap.h" "$datadir/doc/vcap/README.md" "$datadir/doc/vcap/examples/mini_ids.c"; do
	[ -f "$dest$f" ] || fail "$f not installed"
done
[ "$(readlink "$lib/libvcap.so.0")" = "libvcap.so.$version" ] ||
	fail "libvcap.so.0 -> '$(readlink "$lib/libvcap.so.0")', want libvcap.so.$version"
[ "$(readlink "$lib/libvcap.so")" = libvcap.so.0 ] ||
	fail "libvcap.so -> '$(readlink "$lib/libvcap.so")', want libvcap.so.0"
soname=$(readelf -d "$lib/libvcap.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libvcap.so.0 ] || fail "libvcap's soname is '$soname', want libvcap.so.0"
echo "ok: installed files, soname $soname"

# no installed ELF file keeps a run path into the build tree
for f in "$dest$sbindir/vcapd" "$dest$sbindir/vcap-guestd" "$dest$bindir/vcapcount" \
	"$dest$bindir/vcapctl" "$dest$bindir/vcapsend" "$dest$bindir/vcapdump" \
	"$lib/libvcap.so.$version" "$lib/libvcap-pcap.so"; do
	if readelf -d "$f" | grep -E 'R(UN)?PATH'; then
		fail "$f has a run path"
	fi
done
# the installed wrapper preloads the installed shim
# shellcheck disable=SC2016 # the ${...} is the wrapper's text, not ours
shim=$(sed -n 's/^shim=\${VCAP_PCAP_LIBRARY:-\(.*\)}$/\1/p' "$dest$bindir/vcap-pcap")
[ "$shim" = "$libdir/libvcap-pcap.so" ] || fail "installed vcap-pcap preloads '$shim'"
echo "ok: no run paths; vcap-pcap preloads $shim"

# pkg-config on the staged tree: the sysroot puts the staging root in front
export PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest"
flags=$(pkg-config --cflags --libs libvcap) || fail "pkg-config libvcap failed"
echo "pkg-config --cflags --libs libvcap: $flags"
case " $flags " in
*" -I$dest$includedir "*) ;;
*) fail "Cflags lack -I$dest$includedir" ;;
esac
case " $flags " in
*" -L$lib "*"-lvcap "*) ;;
*) fail "Libs lack -L$lib -lvcap" ;;
esac
for f in $flags; do
	case $f in
	-I"$dest"/* | -L"$dest"/* | -l*) ;;
	*) fail "pkg-config gives '$f', outside the installed tree" ;;
	esac
done
static=$(pkg-config --static --libs libvcap) || fail "pkg-config --static libvcap failed"
echo "pkg-config --static --libs libvcap: $static"
case " $static " in
*" -lvcap "*"-lpcap "*) ;;
*) fail "--static lacks -lpcap after -lvcap" ;;
esac
[ "$(pkg-config --modversion libvcap)" = "$version" ] || fail "libvcap.pc's version is not $version"

# a user's program, from the installed header and library only (a
# sanitized libvcap needs its runtime in the program too)
san=""
[ "${VCAP_SANITIZE:-none}" != none ] && san="-fsanitize=$VCAP_SANITIZE"
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror $san "$S/tests/install_client.c" -o "$dir/install_client" \
	$flags 2>"$dir/cc.log" || fail "building install_client: $(cat "$dir/cc.log")"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# it and an installed tool load the installed libvcap, never the build's
for prog in "$dir/install_client" "$dest$bindir/vcapcount"; do
	resolved=$(LD_LIBRARY_PATH=$lib ldd "$prog" | sed -n 's/^\s*libvcap\.so\.0 => \(\S*\).*/\1/p')
	[ "$resolved" = "$lib/libvcap.so.0" ] ||
		fail "$prog resolves libvcap.so.0 to '$resolved', want $lib/libvcap.so.0"
	if ldd "$prog" | grep -F "$B"; then
		fail "$prog resolves a library from the build tree $B"
	fi
done
echo "ok: libvcap.so.0 resolves to $lib"

# the installed vcapd, two counted sources: one for the program, one for vcapcount
"$dest$sbindir/vcapd" --foreground --socket "$dir/vcapd.sock" \
	--source x=synth:size=64,count=1000,flows=100 \
	--source y=synth:size=128,count=1000,flows=100 2>"$dir/vcapd.log" &
vcapd_pid=$!
i=0
until [ -S "$dir/vcapd.sock" ]; do
	i=$((i + 1))
	[ $i -lt 1000 ] || fail "installed vcapd did not start: $(cat "$dir/vcapd.log")"
	kill -0 "$vcapd_pid" 2>/dev/null || fail "installed vcapd exited: $(cat "$dir/vcapd.log")"
	sleep 0.01
done
export VCAP_SOCKET="$dir/vcapd.sock"

out=$(LD_LIBRARY_PATH=$lib timeout 60 "$dir/install_client" host:x 30 2>&1) ||
	fail "install_client: $out"
[ "$out" = "received 1000" ] || fail "install_client: '$out', want 'received 1000'"
echo "ok: install_client on the installed tree: $out"

out=$(LD_LIBRARY_PATH=$lib timeout 60 "$dest$bindir/vcapcount" -i host:y -n 1000 -q --json 2>&1) ||
	fail "installed vcapcount: $out"
echo "$out" | grep -q '"packets":1000,' || fail "installed vcapcount: $out"
echo "ok: installed vcapcount: $out"
