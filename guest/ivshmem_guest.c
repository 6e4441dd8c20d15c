/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshmem_guest.c - the ivshmem device from guest userspace, VFIO first,
 * sysfs polling second (see the header for the steps and why).
 */
#include "ivshmem_guest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYSFS_PCI "/sys/bus/pci/devices"

struct vcap_ivshmem {
	char addr[32];
	bool vfio;
	char why[256];

	/* vfio */
	int container, group, dev;
	int efd[VCAP_IVSHMEM_MAX_VECTORS];
	unsigned vectors;
	int req_fd; /* VFIO's request IRQ: the kernel wants the device back (unplug) */

	int alive_fd; /* its sysfs vendor file: reads fail once the device is removed */

	/* registers: mapped, or through pread/pwrite on regs_fd at regs_off */
	volatile uint8_t *regs;
	void *regs_map;
	size_t regs_map_len;
	int regs_fd;
	off_t regs_off;

	/* shared memory */
	void *shm;
	size_t shm_size;
	int shm_fd; /* sysfs mode: resource2 */
	uint64_t shm_file_off; /* vfio mode: BAR2's offset in the device fd */
};

static int fail(char *err, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ------------------------------------------------------------------ sysfs */

static int read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int write_text(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	if (n < 0)
		return -errno;
	return 0;
}

static unsigned long read_hex(const char *addr, const char *attr)
{
	char path[PATH_MAX], buf[32];

	snprintf(path, sizeof(path), SYSFS_PCI "/%s/%s", addr, attr);
	if (read_text(path, buf, sizeof(buf)))
		return ~0ul;
	return strtoul(buf, NULL, 16);
}

/* Start and length of BAR `bar` from the device's "resource" file. */
static int bar_range(const char *addr, unsigned bar, unsigned long long *start,
		     unsigned long long *size)
{
	char path[PATH_MAX], line[128];
	unsigned long long s = 0, e = 0, fl = 0;
	FILE *f;
	int rc = -ENOENT;

	snprintf(path, sizeof(path), SYSFS_PCI "/%s/resource", addr);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	for (unsigned i = 0; fgets(line, sizeof(line), f); i++) {
		if (i != bar)
			continue;
		if (sscanf(line, "%llx %llx %llx", &s, &e, &fl) == 3 && e > s) {
			*start = s;
			*size = e - s + 1;
			rc = 0;
		}
		break;
	}
	fclose(f);
	return rc;
}

static bool is_ivshmem(const char *addr)
{
	return read_hex(addr, "vendor") == VCAP_IVSHMEM_VENDOR &&
	       read_hex(addr, "device") == VCAP_IVSHMEM_DEVICE;
}

/* DDDD:BB:SS.F in [0-9a-f:.] only: the address becomes part of sysfs paths. */
static bool valid_addr(const char *a)
{
	if (!strchr(a, ':') || strlen(a) >= 32)
		return false;
	for (; *a; a++)
		if (!strchr("0123456789abcdef:.", *a))
			return false;
	return true;
}

/* The named device, or the first ivshmem device (one with MSI-X first). */
static int find_device(const char *want, char *addr, size_t cap, char *err, size_t len)
{
	struct dirent **names;
	char any[32] = "";
	int n;

	if (want) {
		char full[40];

		snprintf(full, sizeof(full), "%s%s", strlen(want) == 7 ? "0000:" : "", want);
		if (!valid_addr(full))
			return fail(err, len, -EINVAL, "bad PCI address '%s'", want);
		if (!is_ivshmem(full))
			return fail(err, len, -ENODEV,
				    "%s is not an ivshmem device (%04x:%04x expected)", full,
				    VCAP_IVSHMEM_VENDOR, VCAP_IVSHMEM_DEVICE);
		snprintf(addr, cap, "%s", full);
		return 0;
	}
	n = scandir(SYSFS_PCI, &names, NULL, alphasort);
	if (n < 0)
		return fail(err, len, -errno, SYSFS_PCI ": %s", strerror(errno));
	addr[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *a = names[i]->d_name;
		unsigned long long s, z;

		if (!addr[0] && valid_addr(a) && is_ivshmem(a)) {
			/* BAR1 holds the MSI-X table: only ivshmem-doorbell has one. */
			if (bar_range(a, 1, &s, &z) == 0)
				snprintf(addr, cap, "%s", a);
			else if (!any[0])
				snprintf(any, sizeof(any), "%s", a);
		}
		free(names[i]);
	}
	free(names);
	if (!addr[0] && any[0])
		snprintf(addr, cap, "%s", any);
	if (!addr[0])
		return fail(err, len, -ENODEV,
			    "no ivshmem device (%04x:%04x) in " SYSFS_PCI
			    " (QEMU: -device ivshmem-doorbell,chardev=...)",
			    VCAP_IVSHMEM_VENDOR, VCAP_IVSHMEM_DEVICE);
	return 0;
}

static int driver_of(const char *addr, char *name, size_t cap)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), SYSFS_PCI "/%s/driver", addr);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		name[0] = '\0';
		return -errno;
	}
	link[n] = '\0';
	snprintf(name, cap, "%s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
	return 0;
}

static int iommu_group(const char *addr)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *slash;
	ssize_t n;

	snprintf(path, sizeof(path), SYSFS_PCI "/%s/iommu_group", addr);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	slash = strrchr(link, '/');
	return atoi(slash ? slash + 1 : link);
}

/* Step 1: make vfio-pci the device's driver, loading nothing. */
static int bind_vfio(const char *addr, char *err, size_t len)
{
	char path[PATH_MAX], drv[64];
	int rc;

	if (driver_of(addr, drv, sizeof(drv)) == 0 && !strcmp(drv, "vfio-pci"))
		return 0;
	if (access("/sys/bus/pci/drivers/vfio-pci", F_OK))
		return fail(err, len, -ENOENT, "the vfio-pci driver is not loaded");
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/driver_override", addr);
	rc = write_text(path, "vfio-pci");
	if (rc)
		return fail(err, len, rc, "%s: %s", path, strerror(-rc));
	if (drv[0]) {
		snprintf(path, sizeof(path), SYSFS_PCI "/%s/driver/unbind", addr);
		rc = write_text(path, addr);
		if (rc)
			return fail(err, len, rc, "unbind %s from %s: %s", addr, drv, strerror(-rc));
	}
	/* drivers_probe fails with the driver's probe error; the link tells the truth. */
	write_text("/sys/bus/pci/drivers_probe", addr);
	if (driver_of(addr, drv, sizeof(drv)) || strcmp(drv, "vfio-pci"))
		return fail(err, len, -ENODEV, "vfio-pci did not take %s (see dmesg)", addr);
	return 0;
}

/* ------------------------------------------------------------------ vfio */

static int region(int dev, unsigned index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, ri) ? -errno : 0;
}

/* Step 5: Memory Space and Bus Master Enable, read back to be sure. */
static int enable_master(int dev, off_t cfg, char *err, size_t len)
{
	const uint16_t want = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	uint16_t cmd;

	if (pread(dev, &cmd, sizeof(cmd), cfg + PCI_COMMAND) != sizeof(cmd))
		return fail(err, len, -EIO, "read PCI command register: %s", strerror(errno));
	if ((cmd & want) != want) {
		cmd |= want;
		if (pwrite(dev, &cmd, sizeof(cmd), cfg + PCI_COMMAND) != sizeof(cmd))
			return fail(err, len, -EIO, "write PCI command register: %s",
				    strerror(errno));
		if (pread(dev, &cmd, sizeof(cmd), cfg + PCI_COMMAND) != sizeof(cmd) ||
		    (cmd & want) != want)
			return fail(err, len, -EIO, "bus master enable did not stick (0x%04x)", cmd);
	}
	return 0;
}

/* Step 6: one eventfd per MSI-X vector. */
static int arm_msix(struct vcap_ivshmem *d, unsigned vectors, char *err, size_t len)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	size_t sz;
	struct vfio_irq_set *set;
	int rc;

	if (ioctl(d->dev, VFIO_DEVICE_GET_IRQ_INFO, &ii))
		return fail(err, len, -errno, "VFIO_DEVICE_GET_IRQ_INFO: %s", strerror(errno));
	if (!(ii.flags & VFIO_IRQ_INFO_EVENTFD) || ii.count == 0)
		return fail(err, len, -ENODEV,
			    "the device has no MSI-X (ivshmem-plain, or ivshmem-doorbell without "
			    "a server?)");
	if (!vectors)
		vectors = ii.count;
	if (vectors > ii.count || vectors > VCAP_IVSHMEM_MAX_VECTORS)
		return fail(err, len, -EINVAL,
			    "%u vectors asked, the device has %u (QEMU vectors=) and the limit is %u",
			    vectors, ii.count, VCAP_IVSHMEM_MAX_VECTORS);
	sz = sizeof(*set) + sizeof(int32_t) * vectors;
	set = calloc(1, sz);
	if (!set)
		return fail(err, len, -ENOMEM, "out of memory");
	for (unsigned v = 0; v < vectors; v++) {
		d->efd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->efd[v] < 0) {
			rc = fail(err, len, -errno, "eventfd: %s", strerror(errno));
			free(set);
			return rc;
		}
		memcpy(set->data + sizeof(int32_t) * v, &d->efd[v], sizeof(int32_t));
	}
	set->argsz = (uint32_t)sz;
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_MSIX_IRQ_INDEX;
	set->start = 0;
	set->count = vectors;
	rc = ioctl(d->dev, VFIO_DEVICE_SET_IRQS, set) ? -errno : 0;
	free(set);
	if (rc)
		return fail(err, len, rc, "VFIO_DEVICE_SET_IRQS (MSI-X, %u vectors): %s", vectors,
			    strerror(-rc));
	d->vectors = vectors;
	return 0;
}

/*
 * VFIO's request IRQ: when the device is to be removed (a hot-unplug: QEMU
 * device_del, the guest's pciehp or ACPI eject), vfio-pci waits for every
 * user to close it and signals this eventfd to ask; without one it only
 * logs "blocked until released by user" and waits.  Optional: a kernel
 * without it leaves req_fd at -1 and the caller notices the removal later
 * (the region's heartbeat stops, vcap_ivshmem_gone).
 */
static void arm_request(struct vcap_ivshmem *d)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_REQ_IRQ_INDEX };
	/* the header and one eventfd in its data[]: a buffer, since data[] is a flexible array */
	_Alignas(struct vfio_irq_set) uint8_t buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;
	int fd;

	if (ioctl(d->dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) || !(ii.flags & VFIO_IRQ_INFO_EVENTFD) ||
	    ii.count < 1)
		return;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return;
	memset(buf, 0, sizeof(buf));
	set->argsz = sizeof(buf);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_REQ_IRQ_INDEX;
	set->start = 0;
	set->count = 1;
	memcpy(set->data, &fd, sizeof(int32_t));
	if (ioctl(d->dev, VFIO_DEVICE_SET_IRQS, set)) {
		close(fd);
		return;
	}
	d->req_fd = fd;
}

static int open_vfio(struct vcap_ivshmem *d, unsigned vectors, char *err, size_t len)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vfio_region_info bar0, bar2, cfg;
	char path[64];
	int grp, type, rc;

	/* Step 2 first: without a group vfio-pci refuses the device anyway. */
	grp = iommu_group(d->addr);
	if (grp < 0)
		return fail(err, len, -ENODEV,
			    "%s has no IOMMU group: give the VM an IOMMU (-machine q35 -device "
			    "intel-iommu,intremap=on) and boot the guest with intel_iommu=on "
			    "(this kernel has no VFIO no-IOMMU mode)",
			    d->addr);
	rc = bind_vfio(d->addr, err, len);
	if (rc)
		return rc;

	/* Step 3: container, group, device. */
	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		return fail(err, len, -errno, "/dev/vfio/vfio: %s (vfio module not loaded?)",
			    strerror(errno));
	if (ioctl(d->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return fail(err, len, -EPROTO, "unknown VFIO API version");
	if (ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0)
		type = VFIO_TYPE1v2_IOMMU;
	else if (ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) > 0)
		type = VFIO_TYPE1_IOMMU;
	else
		return fail(err, len, -ENODEV,
			    "no type1 IOMMU backend (vfio_iommu_type1 not loaded?)");
	snprintf(path, sizeof(path), "/dev/vfio/%d", grp);
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0)
		return fail(err, len, -errno, "%s: %s", path, strerror(errno));
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &gs))
		return fail(err, len, -errno, "VFIO_GROUP_GET_STATUS: %s", strerror(errno));
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		return fail(err, len, -EBUSY,
			    "IOMMU group %d is not viable: every device in "
			    "/sys/kernel/iommu_groups/%d/devices must be bound to vfio-pci or "
			    "to no driver",
			    grp, grp);
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		return fail(err, len, -errno, "VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	if (ioctl(d->container, VFIO_SET_IOMMU, type))
		return fail(err, len, -errno, "VFIO_SET_IOMMU: %s%s", strerror(errno),
			    errno == EPERM ? " (no interrupt remapping: the VM's IOMMU needs "
					     "intremap=on; vfio_iommu_type1 refuses MSI without it)"
					   : "");
	d->dev = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, d->addr);
	if (d->dev < 0)
		return fail(err, len, -errno, "VFIO_GROUP_GET_DEVICE_FD %s: %s", d->addr,
			    strerror(errno));
	if (ioctl(d->dev, VFIO_DEVICE_GET_INFO, &di))
		return fail(err, len, -errno, "VFIO_DEVICE_GET_INFO: %s", strerror(errno));
	if (!(di.flags & VFIO_DEVICE_FLAGS_PCI) || di.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX ||
	    di.num_irqs <= VFIO_PCI_MSIX_IRQ_INDEX)
		return fail(err, len, -ENODEV, "%s is not a VFIO PCI device", d->addr);

	/* Step 4: regions. */
	if (region(d->dev, VFIO_PCI_BAR0_REGION_INDEX, &bar0) ||
	    region(d->dev, VFIO_PCI_BAR2_REGION_INDEX, &bar2) ||
	    region(d->dev, VFIO_PCI_CONFIG_REGION_INDEX, &cfg))
		return fail(err, len, -errno, "VFIO_DEVICE_GET_REGION_INFO: %s", strerror(errno));
	if (bar0.size < VCAP_IVSHMEM_REG_DOORBELL + 4)
		return fail(err, len, -ENODEV, "BAR0 is %llu bytes, too small for the registers",
			    (unsigned long long)bar0.size);
	if (!bar2.size || !(bar2.flags & VFIO_REGION_INFO_FLAG_MMAP))
		return fail(err, len, -ENODEV, "BAR2 (shared memory) is %s",
			    bar2.size ? "not mmappable" : "empty");
	d->shm = mmap(NULL, bar2.size, PROT_READ | PROT_WRITE, MAP_SHARED, d->dev,
		      (off_t)bar2.offset);
	if (d->shm == MAP_FAILED) {
		d->shm = NULL;
		return fail(err, len, -errno, "mmap BAR2 (%llu bytes): %s",
			    (unsigned long long)bar2.size, strerror(errno));
	}
	d->shm_size = bar2.size;
	d->shm_file_off = bar2.offset;
	d->regs_fd = d->dev;
	d->regs_off = (off_t)bar0.offset;
	if (bar0.flags & VFIO_REGION_INFO_FLAG_MMAP) {
		void *m = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, d->dev,
			       (off_t)bar0.offset);

		if (m != MAP_FAILED) {
			d->regs_map = m;
			d->regs_map_len = bar0.size;
			d->regs = m;
		}
	}

	rc = enable_master(d->dev, (off_t)cfg.offset, err, len);
	if (rc)
		return rc;
	rc = arm_msix(d, vectors, err, len);
	if (!rc)
		arm_request(d);
	return rc;
}

/* ------------------------------------------------------------------ sysfs mode */

static int open_sysfs(struct vcap_ivshmem *d, char *err, size_t len)
{
	unsigned long long start = 0, size = 0; /* set by bar_range() when it returns 0 */
	long page = sysconf(_SC_PAGESIZE);
	char path[PATH_MAX];
	uint16_t cmd;
	int fd, rc;

	if (bar_range(d->addr, 2, &start, &size))
		return fail(err, len, -ENODEV, "%s: BAR2 (shared memory) is empty", d->addr);
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/resource2", d->addr);
	d->shm_fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->shm_fd < 0)
		return fail(err, len, -errno, "%s: %s", path, strerror(errno));
	d->shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, d->shm_fd, 0);
	if (d->shm == MAP_FAILED) {
		d->shm = NULL;
		return fail(err, len, -errno, "mmap %s: %s", path, strerror(errno));
	}
	d->shm_size = size;

	/* resource0 maps whole pages: the registers start at BAR0's offset in its page. */
	if (bar_range(d->addr, 0, &start, &size))
		return fail(err, len, -ENODEV, "%s: BAR0 (registers) is empty", d->addr);
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/resource0", d->addr);
	d->regs_fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->regs_fd < 0)
		return fail(err, len, -errno, "%s: %s", path, strerror(errno));
	d->regs_map_len = (size_t)page;
	d->regs_map = mmap(NULL, d->regs_map_len, PROT_READ | PROT_WRITE, MAP_SHARED, d->regs_fd, 0);
	if (d->regs_map == MAP_FAILED) {
		d->regs_map = NULL;
		return fail(err, len, -errno, "mmap %s: %s", path, strerror(errno));
	}
	d->regs = (volatile uint8_t *)d->regs_map + (start & (unsigned long long)(page - 1));

	/* Nobody may have enabled memory decoding (no driver bound): do it. */
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/config", d->addr);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(err, len, -errno, "%s: %s", path, strerror(errno));
	rc = 0;
	if (pread(fd, &cmd, sizeof(cmd), PCI_COMMAND) != sizeof(cmd))
		rc = fail(err, len, -EIO, "read %s: %s", path, strerror(errno));
	else if (!(cmd & PCI_COMMAND_MEMORY)) {
		cmd |= PCI_COMMAND_MEMORY;
		if (pwrite(fd, &cmd, sizeof(cmd), PCI_COMMAND) != sizeof(cmd))
			rc = fail(err, len, -EIO, "write %s: %s", path, strerror(errno));
	}
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------ handle */

static void release(struct vcap_ivshmem *d)
{
	for (unsigned v = 0; v < VCAP_IVSHMEM_MAX_VECTORS; v++) {
		if (d->efd[v] >= 0)
			close(d->efd[v]);
		d->efd[v] = -1;
	}
	d->vectors = 0;
	if (d->req_fd >= 0)
		close(d->req_fd);
	d->req_fd = -1;
	if (d->shm)
		munmap(d->shm, d->shm_size);
	if (d->regs_map)
		munmap(d->regs_map, d->regs_map_len);
	d->shm = d->regs_map = NULL;
	d->regs = NULL;
	/* Closing the device fd also disables the MSI-X vectors VFIO armed. */
	if (d->regs_fd >= 0 && d->regs_fd != d->dev)
		close(d->regs_fd);
	d->regs_fd = -1;
	if (d->shm_fd >= 0)
		close(d->shm_fd);
	if (d->dev >= 0)
		close(d->dev);
	if (d->group >= 0)
		close(d->group);
	if (d->container >= 0)
		close(d->container);
	d->shm_fd = d->dev = d->group = d->container = -1;
}

int vcap_ivshmem_open(struct vcap_ivshmem **out, const char *pci_addr, unsigned vectors,
		      unsigned flags, char *err, size_t len)
{
	struct vcap_ivshmem *d;
	int rc;

	*out = NULL;
	if ((flags & VCAP_IVSHMEM_REQUIRE_VFIO) && (flags & VCAP_IVSHMEM_NO_VFIO))
		return fail(err, len, -EINVAL, "REQUIRE_VFIO and NO_VFIO together");
	d = calloc(1, sizeof(*d));
	if (!d)
		return fail(err, len, -ENOMEM, "out of memory");
	d->container = d->group = d->dev = d->regs_fd = d->shm_fd = d->req_fd = -1;
	for (unsigned v = 0; v < VCAP_IVSHMEM_MAX_VECTORS; v++)
		d->efd[v] = -1;
	rc = find_device(pci_addr, d->addr, sizeof(d->addr), err, len);
	if (rc)
		goto fail_free;
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), SYSFS_PCI "/%s/vendor", d->addr);
		d->alive_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (d->alive_fd < 0) {
			rc = fail(err, len, -errno, "%s: %s", path, strerror(errno));
			goto fail_free;
		}
	}

	if (flags & VCAP_IVSHMEM_NO_VFIO) {
		snprintf(d->why, sizeof(d->why), "VFIO disabled by the caller");
	} else {
		rc = open_vfio(d, vectors, d->why, sizeof(d->why));
		if (rc == 0) {
			d->vfio = true;
			*out = d;
			return 0;
		}
		release(d);
		if (flags & VCAP_IVSHMEM_REQUIRE_VFIO) {
			rc = fail(err, len, rc, "%s: VFIO: %s", d->addr, d->why);
			goto fail;
		}
	}
	rc = open_sysfs(d, err, len);
	if (rc)
		goto fail;
	*out = d;
	return 0;
fail:
	release(d);
	close(d->alive_fd);
fail_free:
	free(d);
	return rc;
}

void vcap_ivshmem_close(struct vcap_ivshmem *d)
{
	if (!d)
		return;
	release(d);
	close(d->alive_fd);
	free(d);
}

int vcap_ivshmem_release_fd(const struct vcap_ivshmem *d)
{
	return d->req_fd;
}

int vcap_ivshmem_watch(const struct vcap_ivshmem *d)
{
	return fcntl(d->alive_fd, F_DUPFD_CLOEXEC, 0);
}

bool vcap_ivshmem_watch_gone(int watch_fd)
{
	char buf[16];

	/* kernfs: a file of a removed device answers ENODEV, even if another took its address */
	return pread(watch_fd, buf, sizeof(buf), 0) < 0 && errno == ENODEV;
}

bool vcap_ivshmem_gone(const struct vcap_ivshmem *d)
{
	return vcap_ivshmem_watch_gone(d->alive_fd);
}

void *vcap_ivshmem_shm(const struct vcap_ivshmem *d, size_t *size)
{
	if (size)
		*size = d->shm_size;
	return d->shm;
}

static uint32_t reg_read(const struct vcap_ivshmem *d, unsigned off)
{
	uint32_t v = 0;

	if (d->regs)
		return *(volatile const uint32_t *)(d->regs + off);
	if (pread(d->regs_fd, &v, sizeof(v), d->regs_off + off) != sizeof(v))
		return UINT32_MAX;
	return v;
}

int vcap_ivshmem_shm_file(const struct vcap_ivshmem *d, uint64_t *offset)
{
	*offset = d->vfio ? d->shm_file_off : 0;
	return d->vfio ? d->dev : d->shm_fd;
}

int vcap_ivshmem_peer_id(const struct vcap_ivshmem *d)
{
	return (int)reg_read(d, VCAP_IVSHMEM_REG_IVPOSITION);
}

void vcap_ivshmem_ring(struct vcap_ivshmem *d, unsigned peer, unsigned vector)
{
	uint32_t v = (peer & 0xffffu) << 16 | (vector & 0xffffu);

	if (d->regs)
		*(volatile uint32_t *)(d->regs + VCAP_IVSHMEM_REG_DOORBELL) = v;
	else if (pwrite(d->regs_fd, &v, sizeof(v), d->regs_off + VCAP_IVSHMEM_REG_DOORBELL) !=
		 sizeof(v))
		return; /* a doorbell has no one to report to; the peer's timeout covers it */
}

int vcap_ivshmem_vector_fd(const struct vcap_ivshmem *d, unsigned vector)
{
	return vector < d->vectors ? d->efd[vector] : -1;
}

unsigned vcap_ivshmem_vectors(const struct vcap_ivshmem *d)
{
	return d->vectors;
}

const char *vcap_ivshmem_mode(const struct vcap_ivshmem *d)
{
	return d->vfio ? "vfio" : "sysfs";
}

const char *vcap_ivshmem_why(const struct vcap_ivshmem *d)
{
	return d->vfio ? "" : d->why;
}

const char *vcap_ivshmem_pci_addr(const struct vcap_ivshmem *d)
{
	return d->addr;
}

const char *vcap_ivshmem_regs_access(const struct vcap_ivshmem *d)
{
	return d->regs ? "mmap" : "pwrite";
}
