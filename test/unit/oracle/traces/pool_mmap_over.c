// With a pool of four 2 MiB pages (run --hugepages 4): an mmap of hugetlb memory over a mapping
// needs the new mapping's pages while the old one still holds its own (hugetlb_pool.ts peak).
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#define M4 (4UL << 20)
#define VA ((void *)0x7f0000000000UL)
static void shared(const char *what) {
  errno = 0;
  void *p = mmap(VA, M4, 3, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED, -1, 0);
  printf("%-40s %s errno=%d\n", what, p == MAP_FAILED ? "failed" : "ok", p == MAP_FAILED ? errno : 0);
}
int main(void) {
  int fds[2];
  pipe(fds);
  shared("first (2 of 4 pages)");
  pid_t c = fork();
  if (c == 0) {
    char x;
    close(fds[1]);
    read(fds[0], &x, 1);  // holds the first mapping until the parent is done
    _exit(0);
  }
  close(fds[0]);
  shared("over it (the child keeps the first: 4)");
  shared("over it again (2 more while the old 2 go)");
  munmap(VA, M4);
  shared("after munmap (4 again)");
  close(fds[1]);
  waitpid(c, NULL, 0);
  return 0;
}
