// 1 GiB hugetlb pages: mmap, munmap, mprotect, madvise, mremap, memfd, ftruncate, fallocate, IOAS_MAP
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/iommufd.h>
#include "iommufd_test.h"
#include <linux/memfd.h>
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB (30 << 26)
#endif
#define G (1UL << 30)
#define M2 (2UL << 20)
#define R(what, expr) do { long _r = (long)(expr); printf("%-44s ret=%ld errno=%d\n", what, _r, _r < 0 ? errno : 0); } while (0)
static int fd;
static uint32_t ioas, hwpt;
static long iomap(void *va, unsigned long len, uint64_t *iova) {
  struct iommu_ioas_map m = { .size = sizeof(m), .flags = 6, .ioas_id = ioas, .user_va = (uintptr_t)va, .length = len };
  long r = ioctl(fd, IOMMU_IOAS_MAP, &m); *iova = m.iova; printf("  iova=0x%llx\n", (unsigned long long)m.iova); return r;
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
  pool("start");
  uint64_t i1, i2, i3;
  fd = open("/dev/iommu", O_RDWR);
  struct iommu_ioas_alloc al = { .size = sizeof(al) };
  R("IOAS_ALLOC", ioctl(fd, IOMMU_IOAS_ALLOC, &al)); ioas = al.out_ioas_id;
  struct iommu_test_cmd md = { .size = sizeof(md), .op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, .id = ioas };
  md.mock_domain_flags.dev_flags = MOCK_FLAGS_DEVICE_HUGE_IOVA;
  R("MOCK_DOMAIN_FLAGS huge", ioctl(fd, IOMMU_TEST_CMD, &md)); hwpt = md.mock_domain_flags.out_hwpt_id;
  R("mmap anon 16MB pages", mmap(NULL, 4096, 3, MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB|(24 << 26), -1, 0));
  R("memfd 16MB pages", memfd_create("x", MFD_HUGETLB|(24 << 26)));
  char *a = mmap(NULL, 4096, 3, MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_1GB, -1, 0);
  printf("a=%p errno=%d\n", a, errno);
  R("mmap fixed at a+2M (1G pages)", mmap(a + G + M2, 4096, 3, MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_1GB|MAP_FIXED, -1, 0));
  R("munmap a+2M 2M", munmap(a + M2, M2));
  R("munmap a 4096", munmap(a, 4096));
  R("mprotect a+2M 2M", mprotect(a + M2, M2, PROT_READ));
  R("mprotect a 2M", mprotect(a, M2, PROT_READ));
  R("madvise dontneed a+2M", madvise(a + M2, M2, MADV_DONTNEED));
  R("madvise dontneed a 2M", madvise(a, M2, MADV_DONTNEED));
  R("madvise dontneed a G+4096", madvise(a, G, MADV_DONTNEED));
  R("mremap a G->4096", mremap(a, G, 4096, 0));
  R("mremap a 2M->2M", mremap(a, M2, M2, 0));
  R("map a+G-2M 2M", iomap(a + G - M2, M2, &i1));
  R("check", check(a + G - M2, M2, i1));
  R("map a G", iomap(a, G, &i2));
  R("check", check(a, G, i2));
  R("map a+4096 1M", iomap(a + 4096, 1 << 20, &i3));
  R("check", check(a + 4096, 1 << 20, i3));
  R("unmap all", iounmap(0, UINT64_MAX));
  R("munmap a G", munmap(a, G));
  R("map a G after munmap", iomap(a, G, &i2));
  int m = memfd_create("g", MFD_HUGETLB|MFD_HUGE_1GB);
  printf("memfd=%d errno=%d\n", m, errno);
  R("ftruncate 2M", ftruncate(m, M2));
  R("ftruncate G", ftruncate(m, G));
  R("mmap memfd offset 2M", mmap(NULL, G, 3, MAP_SHARED, m, M2));
  char *b = mmap(NULL, G, 3, MAP_SHARED, m, 0);
  printf("b=%p errno=%d\n", b, errno);
  R("fallocate punch 2M..4M", fallocate(m, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, M2, M2));
  R("map b+8M 8M", iomap(b + 4 * M2, 4 * M2, &i1));
  R("check", check(b + 4 * M2, 4 * M2, i1));
  R("fallocate punch all", fallocate(m, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, 0, G));
  R("map b 4M after punch", iomap(b, 2 * M2, &i2));
  R("check old", check(b + 4 * M2, 4 * M2, i1));
  R("check new", check(b, 2 * M2, i2));
  R("unmap all", iounmap(0, UINT64_MAX));
  R("munmap b", munmap(b, G));
  close(m);
  pool("before c");
  char *c = mmap(NULL, G, 3, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_1GB, -1, 0);
  printf("c=%p errno=%d\n", c, errno);
  R("map private c 4M", iomap(c + M2, 2 * M2, &i1));
  R("check", check(c + M2, 2 * M2, i1));
  R("madvise dontneed c G", madvise(c, G, MADV_DONTNEED));
  R("check after dontneed", check(c + M2, 2 * M2, i1));
  R("unmap all", iounmap(0, UINT64_MAX));
  return 0;
}
