#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# deps.sh - install what vcap needs to build, test and benchmark on Debian 12.
# Installs only what is missing, so running it again is cheap.
set -eu

PACKAGES="
	meson ninja-build gcc pkg-config libpcap-dev
	iproute2 util-linux tcpdump tshark python3
"

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
