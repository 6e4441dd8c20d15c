/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcap-scribble - a hostile guest, for tests: it opens a ring the honest
 * way, then writes garbage over its whole ivshmem region (the region's
 * header, both control queues, every ring, its own and any other) and rings
 * doorbells at random, for SECONDS.  vcapd must stay up, stay in bounds,
 * and go on serving every other guest exactly.
 *
 *   vcap-scribble -i host:SOURCE [-d SECONDS]
 *
 * Runs with the guest's VFIO modules not loaded (vcap.novfio=1), so that
 * libvcap maps BAR2 through sysfs and this program can map it a second time
 * beside it.  Prints "VCAP-SCRIBBLE: writes=N doorbells=M" at the end.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vcap.h"
#include "vcap_shm.h"

static unsigned long long rnd = 88172645463325252ull;

static uint64_t next(void)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 7;
	rnd ^= rnd << 17;
	return rnd;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Map resource N of the ivshmem device.  @return the mapping, size in *len. */
static void *map_resource(int n, size_t *len)
{
	DIR *dir = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	void *map = MAP_FAILED;

	while (dir && (e = readdir(dir))) {
		char path[300], id[16] = "";
		FILE *f;
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(id, sizeof(id), f))
			id[0] = '\0';
		fclose(f);
		if (strncmp(id, "0x1110", 6))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d", e->d_name, n);
		fd = open(path, O_RDWR | O_SYNC);
		if (fd < 0 || fstat(fd, &st))
			continue;
		*len = (size_t)st.st_size;
		map = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		break;
	}
	if (dir)
		closedir(dir);
	return map == MAP_FAILED ? NULL : map;
}

int main(int argc, char **argv)
{
	const char *dev = NULL;
	double seconds = 5, end;
	unsigned long long writes = 0, bells = 0;
	volatile uint32_t *regs;
	uint8_t *shm;
	size_t shm_len = 0, regs_len = 0;
	uint32_t host_peer, vectors;
	struct vcap *h;
	int opt;

	while ((opt = getopt(argc, argv, "i:d:")) != -1) {
		if (opt == 'i')
			dev = optarg;
		else
			seconds = atof(optarg);
	}
	if (!dev) {
		fprintf(stderr, "usage: vcap-scribble -i host:SOURCE [-d SECONDS]\n");
		return 2;
	}
	h = vcap_open(dev, NULL);
	if (!h) {
		printf("VCAP-SCRIBBLE: open failed: %s\n", vcap_errmsg());
		return 1;
	}
	shm = map_resource(2, &shm_len);
	regs = map_resource(0, &regs_len);
	if (!shm || !regs) {
		printf("VCAP-SCRIBBLE: cannot map the device's BARs\n");
		return 1;
	}
	host_peer = ((struct vcap_shm_hdr *)shm)->host_peer;
	vectors = ((struct vcap_shm_hdr *)shm)->vectors;
	printf("VCAP-SCRIBBLE: start region=%zu host_peer=%u vectors=%u\n", shm_len, host_peer,
	       vectors);
	fflush(stdout);
	end = now() + seconds;
	while (now() < end) {
		for (int k = 0; k < 1024; k++) {
			uint64_t r = next();

			switch (r % 8) {
			case 0: /* the header page and the queue headers, where it hurts */
				((uint32_t *)shm)[(next() % (3 * 4096 * 34)) / 4 % (shm_len / 4)] =
					(uint32_t)next();
				break;
			case 1: /* a queue index that lies, or a plausible message header */
				((uint32_t *)(shm + VCAP_SHM_HDR_SIZE))[next() % 48] = (uint32_t)next();
				break;
			default: /* anywhere: rings, records, consumer lines */
				((uint64_t *)shm)[next() % (shm_len / 8)] = next();
				break;
			}
			writes++;
		}
		/* doorbells: vcapd's control vector mostly, sometimes anything */
		regs[VCAP_IVSHMEM_REG_DOORBELL / 4] =
			next() % 4 ? host_peer << 16 : (uint32_t)(next() & 0xffff003f);
		bells++;
	}
	printf("VCAP-SCRIBBLE: writes=%llu doorbells=%llu\n", writes, bells);
	vcap_close(h);
	return 0;
}
