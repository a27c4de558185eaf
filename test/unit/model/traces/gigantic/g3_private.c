// 1 GiB hugetlb pages, part 3: a private mapping of a memfd of 1 GiB pages (copies of whole pages), fork, truncation, holes
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/memfd.h>
#include <linux/iommufd.h>
#include "iommufd_test.h"
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB (30 << 26)
#endif
#define G (1UL << 30)
#define M2 (2UL << 20)
#define HG (MAP_HUGETLB|MAP_HUGE_1GB)
#define R(what, expr) do { errno = 0; long _r = (long)(expr); printf("%-44s ret=%ld errno=%d\n", what, _r, _r < 0 || _r == -1 ? errno : 0); } while (0)
static int fd;
static uint32_t ioas, hwpt;
static long iomap(void *va, unsigned long len, uint64_t *iova) {
  struct iommu_ioas_map m = { .size = sizeof(m), .flags = 6, .ioas_id = ioas, .user_va = (uintptr_t)va, .length = len };
  long r = ioctl(fd, IOMMU_IOAS_MAP, &m); *iova = m.iova; return r;
}
static long iounmap(uint64_t iova, unsigned long len) {
  struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len };
  return ioctl(fd, IOMMU_IOAS_UNMAP, &u);
}
static long check(void *va, unsigned long len, uint64_t iova) {
  struct iommu_test_cmd c = { .size = sizeof(c), .op = IOMMU_TEST_OP_MD_CHECK_MAP, .id = hwpt };
  c.check_map.iova = iova; c.check_map.length = len; c.check_map.uptr = (uintptr_t)va;
  return ioctl(fd, IOMMU_TEST_CMD, &c);
}
static void pool(const char *w) { char b[64] = {0}, c[64] = {0}; int f = open("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", O_RDONLY); read(f, b, 63); close(f); f = open("/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages", O_RDONLY); read(f, c, 63); close(f); b[strcspn(b, "\n")] = 0; c[strcspn(c, "\n")] = 0; printf("pool %s: nr=%s free=%s\n", w, b, c); }
int main(void) {
  uint64_t i1, i2, i3;
  pool("start");
  fd = open("/dev/iommu", O_RDWR);
  struct iommu_ioas_alloc al = { .size = sizeof(al) };
  R("IOAS_ALLOC", ioctl(fd, IOMMU_IOAS_ALLOC, &al)); ioas = al.out_ioas_id;
  struct iommu_test_cmd md = { .size = sizeof(md), .op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, .id = ioas };
  md.mock_domain_flags.dev_flags = MOCK_FLAGS_DEVICE_HUGE_IOVA;
  R("MOCK_DOMAIN_FLAGS huge", ioctl(fd, IOMMU_TEST_CMD, &md)); hwpt = md.mock_domain_flags.out_hwpt_id;
  int m = memfd_create("g", MFD_HUGETLB|MFD_HUGE_1GB);
  R("ftruncate 2G", ftruncate(m, 2 * G));
  char *p = mmap(NULL, 2 * G, 3, MAP_PRIVATE, m, 0);
  printf("p=%p errno=%d\n", p, errno);
  R("map p+G 2M (write: a private copy)", iomap(p + G, M2, &i1));
  R("check", check(p + G, M2, i1));
  R("map p+G+4M 2M (same copy)", iomap(p + G + 2 * M2, M2, &i3));
  R("check", check(p + G + 2 * M2, M2, i3));
  pool("after pins");
  pid_t c = fork();
  if (c == 0) {
    R("child check parent's", check(p + G, M2, i1));
    R("child map p+G 2M", iomap(p + G, M2, &i3));
    R("child check", check(p + G, M2, i3));
    R("child unmap its area (its copy goes at exit)", iounmap(i3, M2));
    fflush(stdout);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  R("check after fork", check(p + G, M2, i1));
  struct iommu_ioas_map ro = { .size = sizeof(ro), .flags = 4, .ioas_id = ioas, .user_va = (uintptr_t)p, .length = M2 };
  R("map p 2M read-only", ioctl(fd, IOMMU_IOAS_MAP, &ro)); i2 = ro.iova;
  R("check", check(p, M2, i2));
  R("ftruncate G", ftruncate(m, G));
  R("check after truncate", check(p + G, M2, i1));
  R("map p+G after truncate", iomap(p + G, M2, &i3));
  R("fallocate punch 0..G", fallocate(m, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, 0, G));
  R("check read-only after punch", check(p, M2, i2));
  R("unmap all", iounmap(0, UINT64_MAX));
  pool("after unmap");
  R("map p 2M after punch", iomap(p, M2, &i1));
  R("check", check(p, M2, i1));
  R("madvise dontneed p G", madvise(p, G, MADV_DONTNEED));
  R("check after dontneed", check(p, M2, i1));
  R("unmap all", iounmap(0, UINT64_MAX));
  pool("end");
  return 0;
}
