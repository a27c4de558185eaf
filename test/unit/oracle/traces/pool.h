// Helpers of the pool programs (pool_2m.c, pool_dontneed.c): an IOAS with a mock domain to pin
// through, and pool(), which prints the 2 MiB pool's pages in use plus reserved (nr - free + resv).
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/memfd.h>
#include <linux/iommufd.h>
#include "iommufd_test.h"
#define M2 (2UL << 20)
#define R(what, expr) do { errno = 0; long _r = (long)(expr); printf("%-44s ret=%ld errno=%d\n", what, _r, _r < 0 || _r == -1 ? errno : 0); } while (0)
static int fd;
static uint32_t ioas;
static long iomap(void *va, unsigned long len, uint64_t *iova) {
  struct iommu_ioas_map m = { .size = sizeof(m), .flags = 6, .ioas_id = ioas, .user_va = (uintptr_t)va, .length = len };
  long r = ioctl(fd, IOMMU_IOAS_MAP, &m); *iova = m.iova; return r;
}
static long iounmap(uint64_t iova, unsigned long len) {
  struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len };
  return ioctl(fd, IOMMU_IOAS_UNMAP, &u);
}
static long knob(const char *name) {
  char path[128], b[64] = {0};
  snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-2048kB/%s", name);
  int f = open(path, O_RDONLY);
  read(f, b, 63);
  close(f);
  return (long)strtoul(b, NULL, 10);
}
// /dev/iommu, an IOAS, and a mock domain on it: what the programs pin through.
static void iommu_setup(void) {
  fd = open("/dev/iommu", O_RDWR);
  struct iommu_ioas_alloc al = { .size = sizeof(al) };
  R("IOAS_ALLOC", ioctl(fd, IOMMU_IOAS_ALLOC, &al)); ioas = al.out_ioas_id;
  struct iommu_test_cmd md = { .size = sizeof(md), .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = ioas };
  R("MOCK_DOMAIN", ioctl(fd, IOMMU_TEST_CMD, &md));
}
// One line per reading, in the order the trace's opens of resv_hugepages come.
static void pool(const char *w) { long nr = knob("nr_hugepages"), fr = knob("free_hugepages"), rs = knob("resv_hugepages"); printf("pool %s: used=%ld (nr=%ld free=%ld resv=%ld)\n", w, nr - fr + rs, nr, fr, rs); }
