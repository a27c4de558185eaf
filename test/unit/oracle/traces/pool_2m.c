// The hugetlb pool's pages in use plus reserved (nr - free + resv, 2 MiB pages), read from sysfs
// after each step, for src/oracle/hugetlb_pool.ts's bound (hugetlb_pool.test.ts): private and
// shared reservations, faults, a fork copying a pinned page, truncation, fallocate, a file's end.
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
// One line per reading, in the order the trace's opens of resv_hugepages come.
static void pool(const char *w) { long nr = knob("nr_hugepages"), fr = knob("free_hugepages"), rs = knob("resv_hugepages"); printf("pool %s: used=%ld (nr=%ld free=%ld resv=%ld)\n", w, nr - fr + rs, nr, fr, rs); }
int main(void) {
  uint64_t i1;
  int pipefd[2];
  pool("start");
  fd = open("/dev/iommu", O_RDWR);
  struct iommu_ioas_alloc al = { .size = sizeof(al) };
  R("IOAS_ALLOC", ioctl(fd, IOMMU_IOAS_ALLOC, &al)); ioas = al.out_ioas_id;
  struct iommu_test_cmd md = { .size = sizeof(md), .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = ioas };
  R("MOCK_DOMAIN", ioctl(fd, IOMMU_TEST_CMD, &md));
  char *p = mmap((void *)0x7f0000000000UL, 4 * M2, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED_NOREPLACE, -1, 0);
  printf("p=%p errno=%d\n", p, errno);
  pool("private 8M mapped (reserved)");
  p[0] = 1;
  pool("first page written (reservation consumed)");
  R("pin the first page", iomap(p, M2, &i1));
  pool("pinned");
  R("pipe", pipe(pipefd));
  pid_t c = fork();
  if (c == 0) {
    char x;
    close(pipefd[1]);
    read(pipefd[0], &x, 1);
    _exit(0);
  }
  pool("forked (the child's copy of the pinned page)");
  close(pipefd[0]);
  close(pipefd[1]);
  waitpid(c, NULL, 0);
  pool("child gone");
  int m = memfd_create("g", MFD_HUGETLB);
  R("ftruncate 8M", ftruncate(m, 4 * M2));
  pool("memfd sized (nothing)");
  char *q = mmap((void *)0x7f0040000000UL, 4 * M2, 3, MAP_SHARED | MAP_FIXED_NOREPLACE, m, 0);
  printf("q=%p errno=%d\n", q, errno);
  pool("shared 8M mapped (reserved)");
  q[0] = 1;
  pool("shared page written");
  R("munmap shared", munmap(q, 4 * M2));
  pool("shared unmapped (the file keeps its page and reservations)");
  R("ftruncate 2M", ftruncate(m, M2));
  pool("truncated to 2M");
  R("fallocate KEEP_SIZE 4M..6M", fallocate(m, FALLOC_FL_KEEP_SIZE, 2 * M2, M2));
  pool("fallocated past the end");
  R("fallocate PUNCH 4M..6M", fallocate(m, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * M2, M2));
  pool("hole punched");
  R("close memfd", close(m));
  pool("memfd closed");
  R("munmap private", munmap(p, 4 * M2));
  pool("private unmapped (its pinned page stays)");
  R("unpin", iounmap(i1, M2));
  pool("unpinned");
  return 0;
}
