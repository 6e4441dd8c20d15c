#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# run-vm.sh - boot the test guest (guest/make-image.sh) with an
# ivshmem-doorbell device served by vcapd (or tests/test_ivshmem).
#
#   guest/run-vm.sh -s SOCK [-i IMAGEDIR] [-n VECTORS] [-c CONSOLE_LOG]
#                   [-m MEM] [-a 'KERNEL ARGS'] [-r RECONNECT_S] [-k] [-p]
#                   [-- QEMU ARGS...]
#
#   -s  the ivshmem server's unix socket (required; the server must listen
#       before QEMU starts: QEMU reads the setup messages while it creates
#       the device, before the guest runs)
#   -i  image directory (default guest/out)
#   -n  MSI-X vectors (default 16, vcapd's default): must equal the
#       server's (vcapd --vm ...,vectors=N); QEMU drops the eventfds of
#       vectors it does not have ("Too many eventfd received") and the rings
#       on them fall back to polling
#   -c  serial console log (default IMAGEDIR/console.log)
#   -a  extra kernel arguments, e.g. 'vcap.run="/bin/ivshmem_probe --expect vfio"',
#       'vcap.guestd=1 vcap.run="vcapcount -i host:synth -n 1000"' (see
#       make-image.sh for vcap.guestd, vcap.guestd_args, vcap.novfio, vcap.hold)
#   -r  chardev reconnect=SECONDS: hangs QEMU 7.2 at start-up (see "Server
#       restart" below); kept for experiments with a hot-plugged device
#   -k  KVM instead of TCG              -p  print the command, do not run it
#
# The script execs QEMU, so its pid is QEMU's.  The command lines, TCG first
# (what the tests run; this host's /dev/kvm cannot run a stock guest):
#
#   qemu-system-x86_64 -nodefaults -machine q35 -accel tcg -cpu max -smp 1 -m 256M \
#     -device intel-iommu,intremap=on \
#     -chardev socket,path=SOCK,id=ivs \
#     -device ivshmem-doorbell,chardev=ivs,vectors=16 \
#     -kernel IMAGEDIR/vmlinuz -initrd IMAGEDIR/initramfs.cpio \
#     -append 'console=ttyS0 intel_iommu=on no_timer_check panic=-1 quiet vcap.run="..."' \
#     -nographic -monitor none -serial file:CONSOLE_LOG -no-reboot
#
# and KVM (-k):
#
#   qemu-system-x86_64 -nodefaults -machine q35,kernel-irqchip=split -enable-kvm -cpu host \
#     -smp 1 -m 256M \
#     -device intel-iommu,intremap=on \
#     -chardev socket,path=SOCK,id=ivs \
#     -device ivshmem-doorbell,chardev=ivs,vectors=16,ioeventfd=on \
#     (the rest as for TCG)
#
# Why each piece:
# * q35 + intel-iommu: VFIO in the guest needs an IOMMU group and the stock
#   Debian kernel has no VFIO no-IOMMU mode; the guest needs intel_iommu=on.
#   intel-iommu must come before the devices it translates for.
# * intremap=on: with interrupt remapping vfio_iommu_type1 accepts MSI-X
#   without allow_unsafe_interrupts.  Under KVM it needs the split irqchip
#   (kernel-irqchip=split; QEMU refuses intremap with an in-kernel IOAPIC).
#   Under TCG there is no kernel irqchip and nothing more is needed.
# * ioeventfd=on (KVM; QEMU 7.2's default, spelled out): KVM itself turns
#   a Doorbell write into an eventfd write, with no exit to QEMU; with KVM
#   the guest's MSI-X eventfds are irqfds as well.  Under TCG QEMU does both
#   itself (the doorbell in the vCPU thread, MSI-X from its main loop).
# * -nodefaults: no default NIC/VGA/ROMs to probe, a faster boot; the serial
#   port is explicit (-serial file:LOG), the monitor off.
# * -no-reboot + panic=-1: a guest that panics ends QEMU instead of looping.
# * no_timer_check: at boot Linux checks that the IO-APIC delivers timer
#   interrupts by busy-waiting a few ticks; a TCG vCPU on a loaded host
#   (another process on its CPU) misses them and the kernel panics with
#   "timer doesn't work through Interrupt-remapped IO-APIC" (seen in a test
#   with intremap=on).  Cloud and VM images pass no_timer_check for this;
#   the timer works, only the check's timing does not hold under load.
#   Measured here (2 CPUs, two `while :; do :; done` beside the guest):
#   4 boots of 4 panicked without it, none with it (tests: vm-loaded-boot).
# * The guest's command travels on the kernel command line (vcap.run=...);
#   the programs are in the initramfs, because this kernel has no 9p.
#
# Measured under TCG on a 2-CPU host (tests/test_ivshmem): QEMU start to
# the guest's first doorbell about 2.5 s; a doorbell -> vcapd -> MSI-X round
# trip, as the guest's clock sees it, median 65-90 us (p90 about 100 us).
#
# Server restart (QEMU 7.2, found by experiment; the ivshmem spec says as
# much: "There is no way for the clients to connect to a restarted server"):
#
# * `reconnect=N` on the chardev cannot be used with -device
#   ivshmem-doorbell on the command line.  With reconnect the chardev
#   connects asynchronously, from the main loop, but the device reads the
#   server's setup messages synchronously while QEMU starts: QEMU spins at
#   100% CPU in qemu_chr_fe_read_all() and the guest never starts (the
#   server sees the connection and nothing more).  It only works when the
#   device is hot-plugged (QMP device_add, behind a pcie-root-port whose
#   pref64-reserve fits BAR2) after the chardev has connected.
# * Without reconnect=, a server that goes away leaves the VM running with
#   what it had; QEMU never connects again.
# * With reconnect= (hot-plugged device), QEMU reconnects to the restarted
#   server but takes its messages as run-time ones: the version (0) as
#   "peer 0 left", the id as "peer N left" ("invalid peer N" for its own),
#   the shared memory is refused ("server sent unexpected shared memory
#   message": the guest keeps the OLD memory object as BAR2; there is no
#   way to give it a new one), and every eventfd for a peer it already has
#   is refused ("Too many eventfd received").  The guest keeps the old
#   memory and the old eventfds: its doorbells go to the dead server's
#   eventfds and the new server cannot interrupt it.  Seen: the probe kept
#   reading the first server's nonce and every round after the restart
#   timed out.
# * Worse, QEMU 7.2 frees a peer's eventfd table on "peer left" and writes
#   into it when that id connects again.  A restarted server that is peer 0
#   itself, or gives the reconnecting QEMU another id than it had, corrupts
#   QEMU's heap: seen "malloc(): unaligned fastbin chunk detected" and an
#   abort, with the server as peer 0.  transport/ivshmem_server.c therefore
#   never uses id 0 and gives a VM the same id every time.
#
# So vcapd must not lose the memfd and the eventfds across its own restart
# (re-exec keeping the descriptors, or systemd's file descriptor store, the
# QEMU connections included, so that nothing needs to reconnect), or the VM
# must be restarted.  Hot-unplugging and re-plugging the device might give
# the guest fresh memory; that was not tried.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
img="$here/out"
sock=""
vectors=16
console=""
mem=256M
append=""
reconnect=""
kvm=0
print=0
while getopts s:i:n:c:m:a:r:kph opt; do
	case $opt in
	s) sock=$OPTARG ;;
	i) img=$OPTARG ;;
	n) vectors=$OPTARG ;;
	c) console=$OPTARG ;;
	m) mem=$OPTARG ;;
	a) append=$OPTARG ;;
	r) reconnect=$OPTARG ;;
	k) kvm=1 ;;
	p) print=1 ;;
	*) sed -n '7,9p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$sock" ] || { echo "run-vm: -s SOCK is required" >&2; exit 2; }
[ -n "$console" ] || console="$img/console.log"
for f in vmlinuz initramfs.cpio; do
	[ "$print" = 1 ] || [ -r "$img/$f" ] ||
		{ echo "run-vm: $img/$f missing: run guest/make-image.sh" >&2; exit 1; }
done

chardev="socket,path=$sock,id=ivs"
[ -n "$reconnect" ] && chardev="$chardev,reconnect=$reconnect"
ivshmem="ivshmem-doorbell,chardev=ivs,vectors=$vectors"
if [ "$kvm" = 1 ]; then
	set -- -machine q35,kernel-irqchip=split -enable-kvm -cpu host "$@"
	ivshmem="$ivshmem,ioeventfd=on"
else
	set -- -machine q35 -accel tcg -cpu max "$@"
fi
set -- qemu-system-x86_64 -nodefaults "$@" -smp 1 -m "$mem" \
	-device intel-iommu,intremap=on \
	-chardev "$chardev" \
	-device "$ivshmem" \
	-kernel "$img/vmlinuz" -initrd "$img/initramfs.cpio" \
	-append "console=ttyS0 intel_iommu=on no_timer_check panic=-1 quiet $append" \
	-nographic -monitor none -serial "file:$console" -no-reboot
if [ "$print" = 1 ]; then
	# Quoted so that the line can be pasted into a shell.
	for a in "$@"; do
		case $a in
		*[!A-Za-z0-9_./,=:+-]*) printf "'%s' " "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")" ;;
		*) printf '%s ' "$a" ;;
		esac
	done
	echo
	exit 0
fi
exec "$@"
