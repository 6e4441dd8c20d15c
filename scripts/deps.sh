#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# deps.sh - install what vcap needs on Debian 12: to build and test by
# default, and with `deps.sh bench` also what the benchmarks compare with.
# Installs only what is missing, so running it again is cheap.
set -eu

PACKAGES="
	meson ninja-build gcc clang pkg-config libpcap-dev libxdp-dev libbpf-dev xdp-tools
	iproute2 util-linux tcpdump tshark python3
	ngrep tcpflow p0f softflowd iftop
	qemu-system-x86 busybox-static linux-image-cloud-amd64 cpio
	libvirt-clients libxml2-utils libvirt-daemon libvirt-daemon-driver-qemu
	groff-base
	prometheus curl
	debhelper dpkg-dev build-essential fakeroot systemd
"
for group in "$@"; do
	case $group in
	bench) PACKAGES="$PACKAGES dpdk gnuplot-nox ethtool" ;;
	*) echo "deps.sh: unknown group $group" >&2; exit 2 ;;
	esac
done

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
