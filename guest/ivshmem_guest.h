/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshmem_guest.h - open QEMU's ivshmem-doorbell device from userspace
 * inside a Linux guest: map its shared memory, ring doorbells, and receive
 * its MSI-X interrupts as eventfds.
 *
 * The device (vendor 0x1af4, device 0x1110, revision 1) has three BARs:
 *
 *   BAR0  256 bytes of registers: IntrMask (0), IntrStatus (4), both unused
 *         with MSI-X; IVPosition (8, read-only): this guest's peer id;
 *         Doorbell (12, write-only): (peer << 16) | vector interrupts
 *         vector `vector` of peer `peer` (vcapd is a peer too)
 *   BAR1  the MSI-X table and PBA (ivshmem-doorbell only)
 *   BAR2  the shared memory the ivshmem server (vcapd) handed to QEMU
 *
 * Mode "vfio" (interrupts).  Userspace gets MSI-X only through VFIO:
 *
 *   1. bind the device to vfio-pci: write "vfio-pci" to its driver_override,
 *      unbind it from any other driver, write its address to
 *      /sys/bus/pci/drivers_probe.  Nothing is loaded here: the vfio,
 *      vfio_iommu_type1 and vfio-pci modules must already be in (the guest
 *      image's init loads them).
 *   2. VFIO needs an IOMMU group, and the stock Debian kernel has no VFIO
 *      no-IOMMU mode, so the VM must have an IOMMU: QEMU `-machine q35
 *      -device intel-iommu,intremap=on` and the guest `intel_iommu=on`.
 *      Without interrupt remapping (intremap=on) vfio_iommu_type1 refuses
 *      the container (VFIO_SET_IOMMU fails with EPERM) unless loaded with
 *      allow_unsafe_interrupts=1: a device could otherwise forge MSIs.
 *   3. container: open /dev/vfio/vfio, check VFIO_API_VERSION and the type1
 *      IOMMU extension; group: open /dev/vfio/GROUP, require it viable (all
 *      its devices bound to vfio-pci or to nothing), attach it to the
 *      container and VFIO_SET_IOMMU; then VFIO_GROUP_GET_DEVICE_FD.  No DMA
 *      mapping is needed: ivshmem does no DMA, the memory is the BAR.
 *   4. VFIO_DEVICE_GET_REGION_INFO for BAR0, BAR2 and config space; mmap
 *      BAR2, and BAR0 if VFIO allows it (a 256-byte BAR sharing its page
 *      with another device's is not mmappable: registers then go through
 *      pread/pwrite on the device fd, one system call per doorbell).
 *   5. set Memory Space and Bus Master Enable in the command register
 *      through the config region.  VFIO does not set Bus Master, and an
 *      MSI-X message is a memory write by the device: QEMU drops it
 *      silently while Bus Master is off, so without this step no interrupt
 *      ever arrives and nothing reports an error.
 *   6. VFIO_DEVICE_SET_IRQS on VFIO_PCI_MSIX_IRQ_INDEX with
 *      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER: vector V
 *      now makes eventfd V readable (vcap_ivshmem_vector_fd).
 *
 * Mode "sysfs" (polling), used when any VFIO step fails: mmap
 * /sys/bus/pci/devices/ADDR/resource2 (memory) and resource0 (registers).
 * Doorbells still work, interrupts cannot be received: vector_fd returns -1
 * and the caller polls the shared memory (with an adaptive sleep).
 * vcap_ivshmem_why tells why VFIO was not used.
 *
 * Mapping cost (Debian 12's 6.1 guest kernel, measured under TCG): vfio-pci
 * maps the whole BAR with 4 KiB pages at the first fault, so every process
 * that maps BAR2 pays BAR2/512 of guest RAM in page tables: 64 GiB cost a
 * 256 MiB guest 128 MiB and took 2 s longer to boot; 256 GiB got the probe
 * OOM-killed.  Both modes map BAR2 uncached (vfio-pci's and sysfs's
 * choice); KVM ignores the guest's memory type and uses write-back unless
 * the VM has a host device with non-coherent DMA assigned (not testable
 * here), in which case a ring in BAR2 would really be uncached.
 *
 * The Bus Master and interrupt remapping facts above were checked in the
 * test VM: without step 5 no MSI-X arrived; with intremap=off step 3 failed.
 *
 * Runs as root (sysfs writes, /dev/vfio).  Not thread-safe per handle
 * except vcap_ivshmem_ring, which any thread may call.
 */
#ifndef VCAP_GUEST_IVSHMEM_GUEST_H
#define VCAP_GUEST_IVSHMEM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vcap_shm.h" /* the device's ids and registers */



/* vcap_ivshmem_open flags */
#define VCAP_IVSHMEM_REQUIRE_VFIO 0x1u /* fail instead of falling back to sysfs */
#define VCAP_IVSHMEM_NO_VFIO 0x2u      /* go straight to sysfs polling */

struct vcap_ivshmem;

/*
 * Open the ivshmem device at pci_addr ("0000:00:03.0"; NULL: the first
 * ivshmem device, preferring one with MSI-X) and arm `vectors` MSI-X
 * vectors (0: all the device has).
 * @return 0, or -errno with a sentence in err.
 */
int vcap_ivshmem_open(struct vcap_ivshmem **out, const char *pci_addr, unsigned vectors,
		      unsigned flags, char *err, size_t len);

void vcap_ivshmem_close(struct vcap_ivshmem *d);

/* The shared memory (BAR2) and its size. */
void *vcap_ivshmem_shm(const struct vcap_ivshmem *d, size_t *size);

/*
 * A descriptor another process can mmap BAR2 from, and where BAR2 starts in
 * it: the VFIO device (BAR2's region offset) or sysfs resource2 (0).  It
 * stays owned by the handle; send it with SCM_RIGHTS rather than closing it.
 */
int vcap_ivshmem_shm_file(const struct vcap_ivshmem *d, uint64_t *offset);

/* This guest's peer id (IVPosition). */
int vcap_ivshmem_peer_id(const struct vcap_ivshmem *d);

/* Interrupt vector `vector` of peer `peer` (Doorbell). */
void vcap_ivshmem_ring(struct vcap_ivshmem *d, unsigned peer, unsigned vector);

/*
 * Eventfd that becomes readable when MSI-X vector `vector` fires; read it
 * (8 bytes) to re-arm.  -1 in sysfs mode or out of range.
 */
int vcap_ivshmem_vector_fd(const struct vcap_ivshmem *d, unsigned vector);

/* MSI-X vectors armed (0 in sysfs mode). */
unsigned vcap_ivshmem_vectors(const struct vcap_ivshmem *d);

/* "vfio" or "sysfs". */
const char *vcap_ivshmem_mode(const struct vcap_ivshmem *d);

/* Why VFIO was not used ("" in vfio mode). */
const char *vcap_ivshmem_why(const struct vcap_ivshmem *d);

/* The device's PCI address, e.g. "0000:00:03.0". */
const char *vcap_ivshmem_pci_addr(const struct vcap_ivshmem *d);

/*
 * Hot-unplug (vcapd replugging the device through QMP, or detaching it).
 *
 * An eventfd that becomes readable when the kernel asks for the device
 * back (VFIO's request IRQ: the device is being removed and vfio-pci waits
 * for its users): close the handle promptly, and have every process that
 * mapped BAR2 through it unmap, or the removal (and the new device) waits.
 * -1 in sysfs mode or on a kernel without it.
 */
int vcap_ivshmem_release_fd(const struct vcap_ivshmem *d);

/* Has the device been removed (hot-unplugged)?  Works in both modes. */
bool vcap_ivshmem_gone(const struct vcap_ivshmem *d);

/*
 * A descriptor that outlives the handle and tells whether this device (not
 * another one plugged in at the same address later) is gone: a process
 * that closed a dead device waits for it to go before taking the next.
 * The caller closes it.  @return it, or -1.
 */
int vcap_ivshmem_watch(const struct vcap_ivshmem *d);
bool vcap_ivshmem_watch_gone(int watch_fd);

/* How BAR0 is reached: "mmap" or "pwrite" (a system call per access). */
const char *vcap_ivshmem_regs_access(const struct vcap_ivshmem *d);

#endif /* VCAP_GUEST_IVSHMEM_GUEST_H */
