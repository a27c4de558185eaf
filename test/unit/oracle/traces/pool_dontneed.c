// The hugetlb pool's pages in use plus reserved (nr - free + resv, 2 MiB pages), read from sysfs
// after each step, for src/oracle/hugetlb_pool.ts's bound (hugetlb_pool.test.ts): what MADV_DONTNEED
// and a hole do to a private mapping's pinned page and to its reservation.
#include "pool.h"
int main(void) {
  uint64_t i1;
  pool("start");
  iommu_setup();
  char *p = mmap((void *)0x7f0000000000UL, 2 * M2, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED_NOREPLACE, -1, 0);
  printf("p=%p errno=%d\n", p, errno);
  pool("private 4M mapped");
  R("pin the first page", iomap(p, M2, &i1));
  pool("pinned");
  R("MADV_DONTNEED the first page", madvise(p, M2, MADV_DONTNEED));
  pool("dontneed (the pinned page stays, its slot is empty again)");
  p[0] = 1;
  pool("written again (a new page for the slot)");
  R("MADV_DONTNEED both", madvise(p, 2 * M2, MADV_DONTNEED));
  pool("dontneed both");
  int m = memfd_create("g", MFD_HUGETLB);
  R("ftruncate 4M", ftruncate(m, 2 * M2));
  char *q = mmap((void *)0x7f0040000000UL, 2 * M2, 3, MAP_SHARED | MAP_FIXED_NOREPLACE, m, 0);
  printf("q=%p errno=%d\n", q, errno);
  uint64_t i2;
  R("pin the memfd's first page", iomap(q, M2, &i2));
  pool("shared mapped, first page pinned");
  R("fallocate PUNCH 0..2M", fallocate(m, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, M2));
  pool("hole punched under the pin");
  q[0] = 1;
  pool("written again through the shared mapping");
  R("unpin both", iounmap(0, UINT64_MAX));
  pool("unpinned");
  return 0;
}
