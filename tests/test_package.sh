#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_package.sh - vcap's Debian packages, built, installed, used and
# purged on this machine, as a user would:
#
#   1. the source tree (git's files, committed or not, without build dirs)
#      copied to a temporary directory and built there with
#      `dpkg-buildpackage -us -uc -b`: the five packages, each with what
#      it must hold (the unit, the conffile, the symbols file, ...);
#   2. `apt-get install ./*.deb`;
#   3. README's demo against the INSTALLED programs: /usr/sbin/vcapd on the
#      installed /etc/vcap/vcapd.conf (its default source) on a temporary
#      socket, /usr/bin/vcapcount reading packets from it, /usr/bin/vcapctl
#      status, tcpdump through /usr/bin/vcap-pcap; the installed programs
#      resolve the installed libvcap; pkg-config finds libvcap-dev's
#      libvcap.pc and a program builds and runs against it;
#   4. `apt-get purge`: no package left, no file any of them listed,
#      no /usr/sbin/vcapd, no /etc/vcap.
#
# It installs packages on this machine, so it refuses (skips) where vcap's
# packages are installed already: it would replace and then purge them.
set -eu

SRC=${VCAP_SOURCE_DIR:?}
PKGS="vcapd libvcap0 libvcap-dev vcap-tools vcap-guestd"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (apt-get install)"; exit 77; }
for p in $PKGS; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		echo "SKIP: $p is installed already; this test would replace and purge it"
		exit 77
	fi
done

dir=$(mktemp -d /tmp/vcap-package-XXXXXX)
installed=""
vcapd_pid=""
export DEBIAN_FRONTEND=noninteractive

cleanup() {
	[ -n "$vcapd_pid" ] && kill "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	# shellcheck disable=SC2086
	[ -n "$installed" ] && apt-get purge -y -qq $PKGS >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "== $*"; }

# ---- 1. build ----------------------------------------------------------------
step "copy the source tree"
mkdir "$dir/vcap-0.1.0"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
	# tracked and untracked files, not what .gitignore names (build dirs)
	git -C "$SRC" ls-files -z --cached --others --exclude-standard |
		(cd "$SRC" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
		(cd "$SRC" && cpio -p0dm --quiet "$dir/vcap-0.1.0")
else
	tar -C "$SRC" --exclude='./build*' --exclude='./obj-*' -cf - . | tar -C "$dir/vcap-0.1.0" -xf -
fi
[ -f "$dir/vcap-0.1.0/debian/control" ] || fail "no debian/control in the copy of $SRC"

step "dpkg-buildpackage -us -uc -b (log: build.log)"
start=$(date +%s)
if ! (cd "$dir/vcap-0.1.0" && dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1; then
	tail -40 "$dir/build.log" >&2
	fail "dpkg-buildpackage failed"
fi
echo "built in $(($(date +%s) - start)) s"
# -Werror=format-security is Debian's hardening flag; a bare -Werror must not be there
grep -Eq -- '-Werror( |$)' "$dir/build.log" && fail "the package build used -Werror"
# a symbol libvcap exports that debian/libvcap0.symbols does not list (or the
# reverse) is an ABI change the packaging must follow
grep -q 'dpkg-gensymbols: warning' "$dir/build.log" &&
	fail "debian/libvcap0.symbols and libvcap disagree: $(grep -A20 'dpkg-gensymbols: warning' "$dir/build.log")"

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
for p in $PKGS; do
	[ -f "$dir/${p}_0.1.0-1_$arch.deb" ] || fail "no ${p}_0.1.0-1_$arch.deb: $(ls "$dir")"
done
has() { # PACKAGE PATH: the package's data holds PATH
	dpkg-deb -c "$dir/${1}_0.1.0-1_$arch.deb" | awk '{print $6}' | grep -qx "./${2#/}" ||
		fail "$1 does not hold $2"
}
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
has vcapd /usr/sbin/vcapd
has vcapd /lib/systemd/system/vcapd.service
has vcapd /etc/vcap/vcapd.conf
has libvcap0 "/usr/lib/$ma/libvcap.so.0.1.0"
has libvcap-dev /usr/include/vcap.h
has libvcap-dev "/usr/lib/$ma/libvcap.so"
has libvcap-dev "/usr/lib/$ma/pkgconfig/libvcap.pc"
for t in vcapctl vcapcount vcapsend vcapdump vcap-pcap; do has vcap-tools "/usr/bin/$t"; done
has vcap-tools "/usr/lib/$ma/libvcap-pcap.so"
has vcap-guestd /usr/sbin/vcap-guestd
ctl() { # PACKAGE FILE: a control file of the package
	dpkg-deb --ctrl-tarfile "$dir/${1}_0.1.0-1_$arch.deb" | tar -xOf - "./$2" 2>/dev/null
}
ctl vcapd conffiles | grep -qx /etc/vcap/vcapd.conf || fail "vcapd.conf is not a conffile"
ctl vcapd postinst | grep -q 'deb-systemd-helper' || fail "vcapd's postinst does not enable the unit"
ctl libvcap0 symbols | grep -q '^ vcap_open@VCAP_0.1 ' || fail "libvcap0 has no symbols file"
ctl libvcap0 shlibs | grep -q '^libvcap 0 libvcap0' || fail "libvcap0 has no shlibs"
dpkg-deb -f "$dir/vcap-tools_0.1.0-1_$arch.deb" Depends | grep -q 'libvcap0 (>= 0.1.0)' ||
	fail "vcap-tools does not depend on libvcap0: $(dpkg-deb -f "$dir/vcap-tools_0.1.0-1_$arch.deb" Depends)"
echo "packages: $(cd "$dir" && ls ./*.deb | tr '\n' ' ')"

# ---- 2. install --------------------------------------------------------------
step "apt-get install the packages"
installed=yes
# the packages, not their -dbgsym companions
# shellcheck disable=SC2046
(cd "$dir" && apt-get install -y -qq $(for p in $PKGS; do echo "./${p}_0.1.0-1_$arch.deb"; done)) \
	>"$dir/install.log" 2>&1 ||
	fail "apt-get install: $(tail -20 "$dir/install.log")"
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" | grep -q 'install ok installed' || fail "$p not installed"
	dpkg -L "$p" >"$dir/$p.list"
done

# ---- 3. use ------------------------------------------------------------------
step "the demo on the installed programs"
# the installed libvcap, whichever of /lib and /usr/lib (merged) the loader names
want=$(realpath "/usr/lib/$ma/libvcap.so.0")
for t in /usr/bin/vcapcount /usr/bin/vcapdump "/usr/lib/$ma/libvcap-pcap.so"; do
	got=$(ldd "$t" | sed -n 's/^[[:space:]]*libvcap.so.0 => \([^ ]*\) .*/\1/p')
	[ -n "$got" ] && [ "$(realpath "$got")" = "$want" ] ||
		fail "$t does not use the installed libvcap ($want): $(ldd "$t")"
done
sock="$dir/vcapd.sock"
/usr/sbin/vcapd --foreground --config /etc/vcap/vcapd.conf --socket "$sock" 2>"$dir/vcapd.log" &
vcapd_pid=$!
i=0
until [ -S "$sock" ]; do
	kill -0 "$vcapd_pid" 2>/dev/null || fail "installed vcapd exited: $(cat "$dir/vcapd.log")"
	i=$((i + 1))
	[ $i -lt 3000 ] || fail "installed vcapd did not listen within 30 s"
	sleep 0.01
done
export VCAP_SOCKET="$sock"
/usr/bin/vcapcount -i host:synth -n 10000 -q --json >"$dir/count.json" 2>"$dir/count.err" ||
	fail "vcapcount: $(cat "$dir/count.err")"
grep -q '"packets":10000,' "$dir/count.json" || fail "vcapcount did not read 10000: $(cat "$dir/count.json")"
/usr/bin/vcapctl status >"$dir/status.txt" 2>&1 || fail "vcapctl status: $(cat "$dir/status.txt")"
grep -q synth "$dir/status.txt" || fail "vcapctl status shows no synth: $(cat "$dir/status.txt")"
if command -v tcpdump >/dev/null; then
	/usr/bin/vcap-pcap tcpdump -i host:synth -c 100 -w "$dir/synth.pcap" >"$dir/tcpdump.log" 2>&1 ||
		fail "vcap-pcap tcpdump: $(cat "$dir/tcpdump.log")"
	grep -q '^100 packets captured' "$dir/tcpdump.log" ||
		fail "tcpdump through vcap-pcap: $(cat "$dir/tcpdump.log")"
fi
kill "$vcapd_pid"
wait "$vcapd_pid" || fail "installed vcapd did not exit cleanly: $(cat "$dir/vcapd.log")"
vcapd_pid=""
echo "vcapcount read 10000 packets of host:synth; vcapctl and vcap-pcap tcpdump worked"

step "libvcap-dev"
v=$(pkg-config --modversion libvcap) || fail "pkg-config finds no libvcap"
[ "$v" = 0.1.0 ] || fail "pkg-config --modversion libvcap is $v, not 0.1.0"
cat >"$dir/client.c" <<'EOF'
#include <stdio.h>
#include <vcap.h>
int main(void)
{
	printf("%u.%u\n", vcap_version() >> 16, vcap_version() & 0xffff);
	return vcap_version() == VCAP_VERSION ? 0 : 1;
}
EOF
# shellcheck disable=SC2046
cc -o "$dir/client" "$dir/client.c" $(pkg-config --cflags --libs libvcap) ||
	fail "a program does not build against the installed libvcap"
[ "$("$dir/client")" = 0.1 ] || fail "the installed libvcap says version $("$dir/client")"
echo "pkg-config --modversion libvcap: $v; a program built against it runs"

# ---- 4. purge ----------------------------------------------------------------
step "apt-get purge"
# shellcheck disable=SC2086
apt-get purge -y -qq $PKGS >"$dir/purge.log" 2>&1 || fail "apt-get purge: $(tail -20 "$dir/purge.log")"
installed=""
for p in $PKGS; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then
		fail "$p is still there after purge: $(dpkg-query -W -f='${Status}' "$p")"
	fi
	while read -r f; do
		[ -d "$f" ] && continue # shared directories stay
		{ [ -e "$f" ] || [ -L "$f" ]; } && fail "$f of $p is still there after purge"
	done <"$dir/$p.list"
done
[ ! -e /usr/sbin/vcapd ] || fail "/usr/sbin/vcapd is still there"
[ ! -e /etc/vcap ] || fail "/etc/vcap is still there after purge"
echo "purged: nothing of $PKGS is left"
echo "debian-packages: ok"
