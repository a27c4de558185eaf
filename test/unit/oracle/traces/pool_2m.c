// The hugetlb pool's pages in use plus reserved (nr - free + resv, 2 MiB pages), read from sysfs
// after each step, for src/oracle/hugetlb_pool.ts's bound (hugetlb_pool.test.ts): private and
// shared reservations, faults, a fork copying a pinned page, truncation, fallocate, a file's end.
#include "pool.h"
int main(void) {
  uint64_t i1;
  int pipefd[2];
  pool("start");
  iommu_setup();
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
