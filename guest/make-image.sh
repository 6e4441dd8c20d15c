#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# make-image.sh - build the small test guest that runs vcap's guest programs
# inside QEMU (see guest/run-vm.sh for the command lines).
#
#   guest/make-image.sh [-o OUTDIR] [-k KERNEL_VERSION] [-b BUILD_DIR] [-m 'MODULE...'] [PROGRAM...]
#
#   -b  add vcap's guest programs from BUILD_DIR: guest/ivshmem_probe,
#       guestd/vcap-guestd and guest/image/* (vcapcount, vcapctl, vcapdump,
#       built unsanitized in every build dir, with an unsanitized libvcap.so)
#   -m  extra kernel modules to load at boot, after the VFIO ones, with
#       their dependencies; names as modprobe takes them, space-separated.
#       E.g. -m 'virtio_pci virtio_net' for a virtio-net NIC (bench/vm.sh):
#       both are modules in Debian 12's cloud kernel, not built in.  A name
#       already built in (modules.builtin) is skipped; an unknown one is an
#       error.  Part of the cache key.
#
# Exit status 77: packages are missing and this is not root.
#
# Cached: an image whose inputs (this script, the kernel, busybox and every
# program and library going in, by content) are what OUTDIR's last image
# was made of is not made again; concurrent runs on one OUTDIR take turns
# (flock on OUTDIR/.lock).  Tests that want different programs should use
# different OUTDIRs, or they rebuild each other's image every time.
#
# Output, in OUTDIR (default guest/out/, gitignored):
#   vmlinuz          the host's installed Debian cloud kernel (stock, signed)
#   initramfs.cpio   uncompressed newc cpio: busybox-static, the VFIO modules
#                    and what they depend on, /init, and each PROGRAM in /bin
#   kernel-version   the kernel release the modules belong to
#
# Why this shape:
# * The stock cloud kernel has no VFIO no-IOMMU mode and no 9p (CONFIG_NET_9P
#   is off), so the guest gets an emulated IOMMU (run-vm.sh) and everything
#   it runs travels in the initramfs; the command comes on the kernel
#   command line (vcap.run=...).
# * Modules come from /lib/modules/VERSION with their dependencies resolved
#   through modules.dep (deps first, as modprobe loads them).  Busybox insmod
#   cannot read compressed modules, so .ko.xz/.ko.zst/.ko.gz are unpacked
#   here (Debian 12's kernel ships them uncompressed anyway).
# * A dynamically linked PROGRAM is copied with every library ldd lists and
#   the dynamic loader (libraries from outside the system directories, like
#   a build dir's libvcap.so, go to /lib).  The programs vcap's tests use
#   are built static (guest/meson.build).  vcap's libpcap tools cannot be:
#   Debian's libpcap links statically only with -ldbus-1 -lsystemd, and
#   there is no libsystemd.a (meson -Dprefer_static=true
#   -Dc_link_args=-static fails with "cannot find -lsystemd"), so they
#   travel with their shared libraries (about 6 MB more initramfs).
# * Uncompressed cpio: the simplest, and gzip made no measurable difference
#   to the ~2 s it takes the guest to reach /init under TCG.
#
# /init (busybox sh) mounts proc/sys/dev, loads the modules (all but the
# VFIO ones with vcap.novfio=1), with vcap.guestd=1 starts vcap-guestd
# (its options from vcap.guestd_args="...", its log on the console) and
# prints "VCAP-GUEST: guestd up" or "VCAP-GUEST: guestd failed rc=N", runs
# the command of vcap.run="..." (else /vcap/run.sh if present, else a shell
# on the console), prints
#   VCAP-GUEST-RESULT: rc=N
# stops vcap-guestd (so that it closes its rings) and powers off; with
# vcap.hold=1 it waits instead, for a test that kills QEMU from outside.
#
# Packages (qemu-system-x86, busybox-static, linux-image-cloud-amd64, cpio;
# xz-utils or zstd for compressed modules) are installed with apt-get only
# when missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out="$here/out"
kver=""
build=""
extra_mods=""
while getopts o:k:b:m:h opt; do
	case $opt in
	o) out=$OPTARG ;;
	k) kver=$OPTARG ;;
	b) build=$OPTARG ;;
	m) extra_mods="$extra_mods $OPTARG" ;;
	*) sed -n '7p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

say() { echo "make-image: $*" >&2; }
die() { say "error: $*"; exit 1; }

# ---------------------------------------------------------------- packages
need_pkgs() {
	missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		say "missing packages:$missing (run as root to install them)"
		exit 77 # tests/test_ivshmem skips on this
	fi
	say "installing$missing"
	apt-get update -q >&2 || die "apt-get update failed"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2 ||
		die "apt-get install$missing failed"
}
need_pkgs qemu-system-x86 busybox-static linux-image-cloud-amd64 cpio

# ---------------------------------------------------------------- kernel
if [ -z "$kver" ]; then
	for d in $(ls -d /lib/modules/*-cloud-amd64 2>/dev/null | sort -V); do
		v=${d#/lib/modules/}
		[ -r "/boot/vmlinuz-$v" ] && kver=$v
	done
fi
[ -n "$kver" ] || die "no cloud kernel with modules in /lib/modules and /boot"
moddir=/lib/modules/$kver
[ -r "/boot/vmlinuz-$kver" ] || die "/boot/vmlinuz-$kver missing or unreadable"
[ -r "$moddir/modules.dep" ] || die "$moddir/modules.dep missing"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found"
! ldd "$busybox" >/dev/null 2>&1 || die "$busybox is not static (install busybox-static)"

# ---------------------------------------------------------------- programs to add
if [ -n "$build" ]; then
	[ -d "$build/guest" ] || die "$build/guest: not a vcap build dir"
	for p in "$build/guest/ivshmem_probe" "$build/guestd/vcap-guestd" "$build"/guest/image/*; do
		[ -f "$p" ] && [ -x "$p" ] || continue
		case $(basename "$p") in lib*) continue ;; esac # libraries come through ldd
		set -- "$@" "$p"
	done
fi
for prog in "$@"; do
	[ -x "$prog" ] || die "$prog: not an executable"
done

# Libraries of the dynamically linked programs: "SOURCE DEST" lines.  System
# ones keep their paths; others (a build dir's libvcap.so) go to /lib,
# where the loader looks by default and where a meson RUNPATH of
# $ORIGIN/../lib points from /bin.
libs_of() {
	ldd "$1" >/dev/null 2>&1 || return 0
	ldd "$1" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | while read -r lib; do
		case $lib in
		/lib/*|/lib64/*|/usr/lib/*) echo "$lib $lib" ;;
		*) echo "$lib /lib/$(basename "$lib")" ;;
		esac
	done
}

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

# ---------------------------------------------------------------- cache
# Everything the image is made of, by content; the same key as last time
# and the outputs still there: nothing to do.
key=$(
	{
		sha256sum "$0" "$busybox" "/boot/vmlinuz-$kver" "$moddir/modules.dep"
		[ -z "$extra_mods" ] || echo "modules$extra_mods"
		for prog in "$@"; do
			echo "program $(basename "$prog") $(sha256sum < "$prog")"
			libs_of "$prog" | while read -r src dst; do
				echo "lib $dst $(sha256sum < "$src")"
			done
		done
	} | sha256sum | cut -d' ' -f1
)
if [ -r "$out/image.key" ] && [ "$(cat "$out/image.key")" = "$key" ] &&
	[ -r "$out/vmlinuz" ] && [ -r "$out/initramfs.cpio" ]; then
	say "cached: kernel $kver, $(wc -c < "$out/initramfs.cpio") bytes of initramfs in $out"
	exit 0
fi
rm -f "$out/image.key"

root="$out/root"
rm -rf "$root"
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/run" \
	"$root/etc/vcap" "$root/lib/modules" "$root/vcap"

# ---------------------------------------------------------------- busybox
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done

# ---------------------------------------------------------------- modules
# The VFIO stack; ivshmem itself needs no kernel driver (VFIO or sysfs).
want_mods="vfio vfio_iommu_type1 vfio-pci"

# modules.dep path of a module name ('-' and '_' are the same to the kernel).
mod_path() {
	n=$(echo "$1" | tr - _)
	awk -F: -v n="$n" '{
		b = $1; sub(/.*\//, "", b); sub(/\.ko(\.(xz|zst|gz))?$/, "", b); gsub(/-/, "_", b)
		if (b == n) { print $1; exit }
	}' "$moddir/modules.dep"
}

# Paths of a module's dependencies, in load order (modules.dep lists them
# deepest last, and modprobe loads that list back to front).
mod_deps() {
	awk -F: -v p="$1" '$1 == p { n = split($2, d, " "); for (i = n; i >= 1; i--) print d[i]; exit }' \
		"$moddir/modules.dep"
}

# -m: extra modules; built-in ones need no loading.
for m in $extra_mods; do
	n=$(echo "$m" | tr - _)
	if [ -r "$moddir/modules.builtin" ] && tr - _ < "$moddir/modules.builtin" |
		grep -q "/$n\.ko\(\.[a-z]*\)\?\$"; then
		say "module $m is built into $kver"
		continue
	fi
	want_mods="$want_mods $m"
done

order=""
for m in $want_mods; do
	p=$(mod_path "$m")
	[ -n "$p" ] || die "module $m not in $moddir/modules.dep"
	for q in $(mod_deps "$p") "$p"; do
		case " $order " in *" $q "*) ;; *) order="$order $q" ;; esac
	done
done

: > "$root/etc/vcap/modules"
for p in $order; do
	f=$(basename "$p")
	case $f in
	*.ko.xz) need_pkgs xz-utils; xz -dc "$moddir/$p" > "$root/lib/modules/${f%.xz}"; f=${f%.xz} ;;
	*.ko.zst) need_pkgs zstd; zstd -qdc "$moddir/$p" > "$root/lib/modules/${f%.zst}"; f=${f%.zst} ;;
	*.ko.gz) gzip -dc "$moddir/$p" > "$root/lib/modules/${f%.gz}"; f=${f%.gz} ;;
	*) cp "$moddir/$p" "$root/lib/modules/$f" ;;
	esac
	echo "$f" >> "$root/etc/vcap/modules"
done

# ---------------------------------------------------------------- programs
for prog in "$@"; do
	cp "$prog" "$root/bin/$(basename "$prog")"
	# Every library ldd names, and the loader ("/lib64/ld-linux...").
	libs_of "$prog" | while read -r src dst; do
		mkdir -p "$root$(dirname "$dst")"
		cp -L "$src" "$root$dst"
	done
done

# ---------------------------------------------------------------- /init
cat > "$root/init" <<'EOF'
#!/bin/busybox sh
# vcap test guest init (written by guest/make-image.sh).
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

cmdline=$(cat /proc/cmdline)
arg() {
	# vcap.NAME="value with spaces" or vcap.NAME=value
	v=$(echo "$cmdline" | sed -n "s/.*vcap\.$1=\"\([^\"]*\)\".*/\1/p")
	[ -n "$v" ] || v=$(echo "$cmdline" | sed -n "s/.*vcap\.$1=\([^ \"]*\).*/\1/p")
	echo "$v"
}
run=$(arg run)
novfio=$(arg novfio)
hold=$(arg hold)
guestd=$(arg guestd)
guestd_args=$(arg guestd_args)

echo "VCAP-GUEST: up uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"
while read -r m; do
	case $m in
	vfio*|irqbypass*) [ "$novfio" = 1 ] && continue ;;
	esac
	insmod "/lib/modules/$m" 2>/dev/null || echo "VCAP-GUEST: insmod $m failed"
done < /etc/vcap/modules

if [ "$guestd" = 1 ]; then
	# It returns once it serves the socket, or has failed (its log says why).
	# shellcheck disable=SC2086
	vcap-guestd --log-stderr $guestd_args
	grc=$?
	if [ "$grc" = 0 ]; then
		echo "VCAP-GUEST: guestd up pid=$(pidof vcap-guestd)"
	else
		echo "VCAP-GUEST: guestd failed rc=$grc"
	fi
fi

if [ -n "$run" ]; then
	echo "VCAP-GUEST: run $run"
	sh -c "$run"
	rc=$?
elif [ -x /vcap/run.sh ]; then
	/vcap/run.sh
	rc=$?
else
	echo "VCAP-GUEST: no vcap.run= and no /vcap/run.sh: shell"
	setsid cttyhack sh
	rc=$?
fi
echo "VCAP-GUEST-RESULT: rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
gpid=$(pidof vcap-guestd)
if [ -n "$gpid" ] && [ "$hold" != 1 ]; then
	# SIGTERM: it closes its clients' rings in vcapd before it exits.
	kill "$gpid"
	i=0
	while kill -0 "$gpid" 2>/dev/null && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
fi
if [ "$hold" = 1 ]; then
	while :; do sleep 3600; done
fi
sync
poweroff -f
EOF
chmod 755 "$root/init"

# ---------------------------------------------------------------- pack
cp "/boot/vmlinuz-$kver" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
echo "$kver" > "$out/kernel-version"
rm -rf "$root"
echo "$key" > "$out/image.key"
say "kernel $kver, $(wc -c < "$out/initramfs.cpio") bytes of initramfs in $out"
