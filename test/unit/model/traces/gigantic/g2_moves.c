// 1 GiB hugetlb pages, part 2: splits at 1 GiB, mremap moves, populate, fork of pinned private pages, truncation, MADV_REMOVE
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
  uint64_t i1, i2;
  pool("start");
  fd = open("/dev/iommu", O_RDWR);
  struct iommu_ioas_alloc al = { .size = sizeof(al) };
  R("IOAS_ALLOC", ioctl(fd, IOMMU_IOAS_ALLOC, &al)); ioas = al.out_ioas_id;
  struct iommu_test_cmd md = { .size = sizeof(md), .op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, .id = ioas };
  md.mock_domain_flags.dev_flags = MOCK_FLAGS_DEVICE_HUGE_IOVA;
  R("MOCK_DOMAIN_FLAGS huge", ioctl(fd, IOMMU_TEST_CMD, &md)); hwpt = md.mock_domain_flags.out_hwpt_id;
  // a 4 KiB mapping, then 2 GiB of 1 GiB pages over it (MAP_FIXED) and past it
  char *z = mmap((void *)0x7ffe00000000UL, 4096, 3, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0);
  printf("z=%p\n", z);
  char *a = mmap(z, 2 * G, 3, MAP_SHARED|MAP_ANONYMOUS|HG|MAP_FIXED|MAP_POPULATE, -1, 0);
  printf("a=%p errno=%d\n", a, errno);
  pool("after a");
  R("mprotect a+G G", mprotect(a + G, G, PROT_READ));
  R("mprotect a+G+2M 2M", mprotect(a + G + M2, M2, 3));
  R("map a+G-1M 2M (two VMAs)", iomap(a + G - (1 << 20), M2, &i1));
  R("check", check(a + G - (1 << 20), M2, i1));
  R("unmap all", iounmap(0, UINT64_MAX));
  R("mremap a 2G->1G", mremap(a, 2 * G, G, 0));
  R("mremap a move to +2M", mremap(a, G, G, MREMAP_MAYMOVE|MREMAP_FIXED, a + 4 * G + M2));
  char *n = mremap(a, G, G, MREMAP_MAYMOVE|MREMAP_FIXED, a + 4 * G);
  printf("n=%p errno=%d\n", n, errno);
  R("map a (moved away)", iomap(a, M2, &i1));
  R("map n 4M", iomap(n, 2 * M2, &i1));
  R("check", check(n, 2 * M2, i1));
  R("madvise remove n+2M 2M", madvise(n + M2, M2, MADV_REMOVE));
  R("madvise remove n G", madvise(n, G, MADV_REMOVE));
  R("check after remove", check(n, 2 * M2, i1));
  R("map n 2M after remove", iomap(n, M2, &i2));
  R("check new", check(n, M2, i2));
  R("unmap all", iounmap(0, UINT64_MAX));
  R("munmap n", munmap(n, G));
  pool("after n");
  // private 1 GiB pages, pinned, then fork: the child gets a copy at once
  char *p = mmap(NULL, G, 3, MAP_PRIVATE|MAP_ANONYMOUS|HG, -1, 0);
  printf("p=%p errno=%d\n", p, errno);
  R("map p 2M", iomap(p, M2, &i1));
  pid_t c = fork();
  if (c == 0) {
    R("child map p 2M", iomap(p + M2, M2, &i2));
    R("child check", check(p + M2, M2, i2));
    R("child check parent's", check(p, M2, i1));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  R("check after fork", check(p, M2, i1));
  pool("after fork");
  R("unmap all", iounmap(0, UINT64_MAX));
  R("munmap p", munmap(p, G));
  // memfd of 1 GiB pages: truncated while pinned
  int m = memfd_create("g", MFD_HUGETLB|MFD_HUGE_1GB);
  R("ftruncate 2G", ftruncate(m, 2 * G));
  char *b = mmap(NULL, 2 * G, 3, MAP_SHARED, m, 0);
  printf("b=%p errno=%d\n", b, errno);
  R("map b+G 2M", iomap(b + G, M2, &i1));
  R("ftruncate G", ftruncate(m, G));
  R("check after truncate", check(b + G, M2, i1));
  R("map b+G 2M after truncate", iomap(b + G, M2, &i2));
  R("fallocate G..2G", fallocate(m, FALLOC_FL_KEEP_SIZE, G, G));
  R("map b+G 2M after fallocate", iomap(b + G, M2, &i2));
  R("check", check(b + G, M2, i2));
  R("ftruncate G+2M", ftruncate(m, G + M2));
  R("unmap all", iounmap(0, UINT64_MAX));
  pool("end");
  return 0;
}
