// SPDX-License-Identifier: MIT
/*
 * iorewind capture shim: an LD_PRELOAD library that records what a dynamically
 * linked program (QEMU, a VMM, a test program) asks of iommufd and VFIO, and
 * the user-memory events needed to replay pinning, in the raw JSONL capture
 * format of ../shared/captures/README.md.
 *
 *   IOREWIND_CAPTURE=out.jsonl LD_PRELOAD=$PWD/dist/capture/libiorewind_capture.so prog ...
 *
 * Environment:
 *   IOREWIND_CAPTURE          output file; unset or empty: the shim does nothing.
 *                             The first process of a session truncates it; its
 *                             children (forked or exec'd) append.
 *   IOREWIND_CAPTURE_IOMMUFD  ':'-separated extra paths to treat like /dev/iommu
 *                             (tests without a kernel iommufd).
 *   IOREWIND_CAPTURE_TEST     the "test" field (default: the program's name).
 *   IOREWIND_CAPTURE_SESSION  set by the shim for descendants; do not set it.
 *
 * What is recorded: every ioctl of type ';' (iommufd and VFIO), on any fd;
 * read/write on fault-queue fds; close of fds the shim knows; open, mmap,
 * munmap, mremap, madvise, mprotect, mlock, mlock2, munlock, mlockall,
 * munlockall, memfd_create, ftruncate, fallocate, fork, exit; and /proc/self/maps snapshots at start, at fork (in the child) and
 * before an ioctl that pins user memory the shim has not seen mapped (memory
 * glibc mapped behind malloc). Only calls that reach the shim through the
 * dynamic linker are seen: glibc's internal calls are not, as with the
 * oracle's --wrap shim.
 *
 * Ordering: a record is written after its call returns and before the wrapper
 * returns, so it follows everything the call depends on in the program. Lines
 * are written whole under a per-process mutex plus a POSIX record lock on the
 * output file; "seq" is the previous line's seq + 1, shared by every process
 * writing the file (a shared page caches it across fork; exec'd or unrelated
 * writers are detected by the file size and the last line is re-read).
 *
 * User memory is read with process_vm_readv() on ourselves, so bad pointers
 * passed by the program never crash the shim. Internally the shim only makes
 * raw syscalls or calls functions it does not interpose.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

#define MAX_STRUCT 4096			/* bytes of an argument struct ("trunc" beyond) */
#define MAX_SIDE (1024 * 1024)		/* bytes of a side buffer ("<name>_trunc" beyond) */
#define NFD 65536
#define HIGH_FD_SLACK 16		/* the output fd sits this far below RLIMIT_NOFILE */

/* ------------------------------------------------------------------------ */
/* the functions we interpose, resolved lazily with RTLD_NEXT               */

static void *next_sym(void **slot, const char *name)
{
	void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (!p) {
		p = dlsym(RTLD_NEXT, name);
		if (!p) {
			static const char msg[] = "iorewind capture: dlsym failed\n";

			syscall(SYS_write, 2, msg, sizeof(msg) - 1);
			abort();
		}
		__atomic_store_n(slot, p, __ATOMIC_RELEASE);
	}
	return p;
}

#define REAL(name) ((__typeof__(&name))next_sym(&real_##name, #name))
#define DECL_REAL(name) static void *real_##name

DECL_REAL(ioctl);
DECL_REAL(read);
DECL_REAL(write);
DECL_REAL(close);
DECL_REAL(close_range);
DECL_REAL(dup2);
DECL_REAL(dup3);
DECL_REAL(mmap);
DECL_REAL(mmap64);
DECL_REAL(munmap);
DECL_REAL(mremap);
DECL_REAL(madvise);
DECL_REAL(mprotect);
DECL_REAL(mlock);
DECL_REAL(mlock2);
DECL_REAL(munlock);
DECL_REAL(mlockall);
DECL_REAL(munlockall);
DECL_REAL(memfd_create);
DECL_REAL(ftruncate);
DECL_REAL(ftruncate64);
DECL_REAL(fallocate);
DECL_REAL(fallocate64);
DECL_REAL(open);
DECL_REAL(open64);
DECL_REAL(openat);
DECL_REAL(openat64);
DECL_REAL(__open_2);
DECL_REAL(__open64_2);
DECL_REAL(__openat_2);
DECL_REAL(__openat64_2);
DECL_REAL(fork);
DECL_REAL(exit);
DECL_REAL(_exit);
DECL_REAL(_Exit);
DECL_REAL(__libc_start_main);

/* glibc declares these only under some feature macros or not at all */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dfd, const char *path, int flags);
int __openat64_2(int dfd, const char *path, int flags);
int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
		      void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end);

/* ------------------------------------------------------------------------ */
/* state                                                                    */

struct shared {			/* one page, MAP_SHARED: common to forked processes */
	uint64_t next_seq;	/* seq of the next line, valid when end == file size */
	uint64_t end;		/* file size after our last line */
	uint64_t seq0;		/* seq of the session's "test" line */
	uint32_t valid;
	uint32_t fork_req;	/* last fork generation started */
	uint32_t fork_ack;	/* futex: last generation whose child has written its lines */
};

enum { K_NONE, K_IOMMUFD, K_FAULT, K_ACCESS, K_FILE, K_MEMFD, K_VFIO_DEV, K_VFIO_GROUP };
static const char *const kind_what[] = { "", "iommufd", "fault", "access", "file",
					 "memfd", "vfio_device", "vfio_group" };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static __thread int tl_busy;		/* inside the shim on this thread */
static __thread int tl_fork_wrapper;	/* fork() called through our wrapper */
static __thread int tl_fork_locked;	/* atfork_prepare took mu */
static int cap_fd = -1;
static volatile int capturing;		/* this process records */
static struct shared *shm;
static pid_t my_pid, fork_parent;
static unsigned int fork_gen;
static char test_json[1024] = "\"\"";	/* the "test" value, JSON-quoted */
static char **iommufd_aliases;
static int exit_status, exit_status_known, exit_logged;
static int (*real_main)(int, char **, char **);
static unsigned char fd_kind[NFD];

/* the line being built (under mu) */
static char *lb;
static size_t lb_len, lb_cap;
static const char *lb_kind;
static int lb_oom;

/* memory the shim has seen mapped, sorted disjoint [start, end) (under mu) */
struct range {
	uint64_t start, end;
};
static struct range *cov;
static size_t cov_n, cov_cap;
static uint64_t last_uncovered_va, last_uncovered_len;

static void init(void);
static void maps_locked(const char *why);

static int on(void)
{
	int saved = errno;

	pthread_once(&init_once, init);
	errno = saved;
	return capturing && !tl_busy;
}

/* ------------------------------------------------------------------------ */
/* building a line                                                          */

static void put(const char *s, size_t n)
{
	if (lb_oom)
		return;
	if (lb_len + n + 4 > lb_cap) {
		size_t cap = lb_cap ? lb_cap : 65536;
		char *p;

		while (lb_len + n + 4 > cap)
			cap *= 2;
		p = realloc(lb, cap);
		if (!p) {
			lb_oom = 1;
			return;
		}
		lb = p;
		lb_cap = cap;
	}
	memcpy(lb + lb_len, s, n);
	lb_len += n;
}

#define PUTS(lit) put(lit, sizeof(lit) - 1)

static void putf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void put_hex(const unsigned char *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	char chunk[1024];
	size_t i, k = 0;

	PUTS("\"");
	for (i = 0; i != n; i++) {
		chunk[k++] = hx[p[i] >> 4];
		chunk[k++] = hx[p[i] & 15];
		if (k == sizeof(chunk)) {
			put(chunk, k);
			k = 0;
		}
	}
	put(chunk, k);
	PUTS("\"");
}

/* a JSON string (escaped); NULL becomes null */
static void put_str(const char *s, size_t max)
{
	size_t i;

	if (!s) {
		PUTS("null");
		return;
	}
	PUTS("\"");
	for (i = 0; i < max && s[i]; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			put(e, 2);
		} else if (c < 0x20 || c == 0x7f) {
			putf("\\u%04x", c);
		} else {
			put((const char *)&c, 1);
		}
	}
	PUTS("\"");
}

/* an address: hex string, as integers above 2^53 must not be JSON numbers */
static void put_addr(const char *key, uint64_t v)
{
	putf(",\"%s\":\"0x%llx\"", key, (unsigned long long)v);
}

/* a JSON number when exact in a double, else a hex string */
static void put_u64(const char *key, uint64_t v)
{
	if (v < (1ULL << 53))
		putf(",\"%s\":%llu", key, (unsigned long long)v);
	else
		put_addr(key, v);
}

static void begin(const char *kind)
{
	lb_len = 0;
	lb_oom = 0;
	lb_kind = kind;
}

static int lock_file(short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

	while (fcntl(cap_fd, F_SETLKW, &fl) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int parse_seq(const char *p, size_t n, uint64_t *seq)
{
	static const char pre[] = "{\"seq\":";
	uint64_t v = 0;
	size_t i = sizeof(pre) - 1;

	if (n <= i || memcmp(p, pre, i))
		return 0;
	if (p[i] < '0' || p[i] > '9')
		return 0;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	*seq = v;
	return 1;
}

/*
 * The seq of the file's last line, for when someone else wrote last (an
 * exec'd or unrelated process): find where the last line starts.
 */
static int tail_seq(off_t size, uint64_t *seq, int *need_nl)
{
	char buf[4096], head[64];
	off_t pos = size, start = 0;
	char last;
	ssize_t n;

	if (pread(cap_fd, &last, 1, size - 1) != 1)
		return 0;
	*need_nl = last != '\n';
	if (!*need_nl)
		pos = size - 1;		/* skip the final newline */
	while (pos > 0) {
		off_t from = pos > (off_t)sizeof(buf) ? pos - (off_t)sizeof(buf) : 0;
		int found = 0;

		n = pread(cap_fd, buf, pos - from, from);
		if (n != pos - from)
			return 0;
		while (n > 0)
			if (buf[--n] == '\n') {
				start = from + n + 1;
				found = 1;
				break;
			}
		if (found)
			break;
		pos = from;
	}
	n = pread(cap_fd, head, sizeof(head), start);
	return n > 0 && parse_seq(head, n, seq);
}

/* write the line: {"seq":..,"kind":..,"pid":..,"test":..,"tseq":.. + body + } */
static void finish(void)
{
	char pre[1400];
	struct iovec iov[3];
	struct stat st;
	uint64_t seq = 0;
	int need_nl = 0, plen, iovcnt;
	size_t total, done;

	if (lb_oom || cap_fd < 0)
		return;
	PUTS("}\n");
	if (lock_file(F_WRLCK))
		return;
	if (fstat(cap_fd, &st) == 0) {
		if (shm && shm->valid && shm->end == (uint64_t)st.st_size)
			seq = shm->next_seq;
		else if (st.st_size > 0 && tail_seq(st.st_size, &seq, &need_nl))
			seq++;
		else if (st.st_size > 0 && shm && shm->valid)
			seq = shm->next_seq;
	}
	plen = snprintf(pre, sizeof(pre), "%s{\"seq\":%llu,\"kind\":\"%s\",\"pid\":%d,\"test\":%s,\"tseq\":%llu",
			need_nl ? "\n" : "", (unsigned long long)seq, lb_kind, (int)my_pid, test_json,
			(unsigned long long)(seq - (shm ? shm->seq0 : 0)));
	iov[0].iov_base = pre;
	iov[0].iov_len = plen;
	iov[1].iov_base = lb;
	iov[1].iov_len = lb_len;
	iovcnt = 2;
	total = plen + lb_len;
	done = 0;
	while (done < total) {
		ssize_t w = syscall(SYS_writev, cap_fd, iov, iovcnt);
		size_t left;
		int i;

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += w;
		/* drop what was written from the iovecs */
		left = w;
		for (i = 0; i < iovcnt && left; i++) {
			size_t k = left < iov[i].iov_len ? left : iov[i].iov_len;

			iov[i].iov_base = (char *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			left -= k;
		}
	}
	if (shm) {
		shm->next_seq = seq + 1;
		shm->end = st.st_size + done;
		shm->valid = done == total;
	}
	lock_file(F_UNLCK);
}

/* ------------------------------------------------------------------------ */
/* reading our own memory safely                                            */

static ssize_t safe_read_pipe(void *dst, uint64_t src, size_t len)
{
	static int pfd[2] = { -1, -1 };
	static pid_t owner;
	size_t done = 0;

	if (owner != my_pid || pfd[0] < 0) {	/* never share the pipe with a forked child */
		if (syscall(SYS_pipe2, pfd, O_NONBLOCK | O_CLOEXEC))
			return -1;
		owner = my_pid;
	}
	while (done < len) {
		size_t chunk = len - done > 4096 ? 4096 : len - done;
		ssize_t w = syscall(SYS_write, pfd[1], (char *)(uintptr_t)src + done, chunk);
		ssize_t r;

		if (w <= 0)
			return done ? (ssize_t)done : -1;
		r = syscall(SYS_read, pfd[0], (char *)dst + done, w);
		if (r != w)
			return -1;
		done += w;
	}
	return done;
}

/* copy len bytes at src (our address space) to dst; the count copied, or -1 */
static ssize_t safe_read(void *dst, uint64_t src, size_t len)
{
	static int no_pvm;
	struct iovec l = { .iov_base = dst, .iov_len = len };
	struct iovec r = { .iov_base = (void *)(uintptr_t)src, .iov_len = len };
	ssize_t ret;

	if (!len)
		return 0;
	if (!src)
		return -1;
	if (!no_pvm) {
		ret = syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0);
		if (ret >= 0 || (errno != ENOSYS && errno != EPERM))
			return ret;
		no_pvm = 1;
	}
	return safe_read_pipe(dst, src, len);
}

/* a side buffer: bytes at ptr, copied now (before the call) or read later */
struct side {
	const char *name;
	uint64_t ptr, len;
	unsigned char *data;	/* copy made before the call, or NULL */
	int fault;
};

#define SIDE(n, p, l) ((struct side){ .name = (n), .ptr = (p), .len = (l) })

static void side_copy(struct side *s)
{
	size_t n = s->len > MAX_SIDE ? MAX_SIDE : s->len;

	s->data = malloc(n ? n : 1);
	if (!s->data || safe_read(s->data, s->ptr, n) != (ssize_t)n)
		s->fault = 1;
}

/* ,"name":"hex" (or "name":null,"name_fault":1), from a copy or read now */
static void put_side(struct side *s)
{
	size_t n = s->len > MAX_SIDE ? MAX_SIDE : s->len;
	unsigned char *buf = s->data;
	int fault = s->fault;

	putf(",\"%s\":", s->name);
	if (!buf) {
		buf = malloc(n ? n : 1);
		fault = !buf || safe_read(buf, s->ptr, n) != (ssize_t)n;
	}
	if (fault) {
		putf("null,\"%s_fault\":1", s->name);
	} else {
		put_hex(buf, n);
		if (n != s->len)
			putf(",\"%s_trunc\":%llu", s->name, (unsigned long long)s->len);
	}
	if (buf != s->data)
		free(buf);
}

/* ------------------------------------------------------------------------ */
/* memory coverage: which user ranges our records (or a snapshot) describe  */

static void cov_del(uint64_t s, uint64_t e)
{
	struct range *out;
	size_t i, j = 0;

	if (s >= e || !cov_n)
		return;
	out = malloc((cov_n + 1) * sizeof(*out));	/* one range may split in two */
	if (!out) {
		cov_n = 0;	/* forget everything: the next pinning ioctl takes a snapshot */
		return;
	}
	for (i = 0; i < cov_n; i++) {
		struct range r = cov[i];

		if (r.end <= s || r.start >= e) {
			out[j++] = r;
			continue;
		}
		if (r.start < s)
			out[j++] = (struct range){ r.start, s };
		if (r.end > e)
			out[j++] = (struct range){ e, r.end };
	}
	free(cov);
	cov = out;
	cov_n = j;
	cov_cap = cov_n + 1;
}

static void cov_add(uint64_t s, uint64_t e)
{
	size_t i, lo, hi;

	if (s >= e)
		return;
	if (cov_n + 2 > cov_cap) {
		size_t cap = cov_cap ? cov_cap * 2 : 256;
		struct range *p = realloc(cov, cap * sizeof(*cov));

		if (!p)
			return;
		cov = p;
		cov_cap = cap;
	}
	/* first range that touches or follows s, last that touches e */
	for (lo = 0; lo < cov_n && cov[lo].end < s; lo++)
		;
	for (hi = lo; hi < cov_n && cov[hi].start <= e; hi++)
		;
	if (lo == hi) {
		memmove(&cov[lo + 1], &cov[lo], (cov_n - lo) * sizeof(*cov));
		cov[lo] = (struct range){ s, e };
		cov_n++;
		return;
	}
	if (cov[lo].start < s)
		s = cov[lo].start;
	if (cov[hi - 1].end > e)
		e = cov[hi - 1].end;
	cov[lo] = (struct range){ s, e };
	for (i = hi; i < cov_n; i++)
		cov[lo + 1 + i - hi] = cov[i];
	cov_n -= hi - lo - 1;
}

static int cov_has(uint64_t s, uint64_t len)
{
	uint64_t e = s + len;
	size_t i;

	if (!len)
		return 1;
	if (e < s)
		return 0;
	for (i = 0; i < cov_n; i++)
		if (cov[i].start <= s && cov[i].end >= s)
			return cov[i].end >= e;
	return 0;
}

static uint64_t page_up(uint64_t v, uint64_t pg)
{
	return v + pg - 1 < v ? v : (v + pg - 1) & ~(pg - 1);
}

/* ------------------------------------------------------------------------ */
/* /proc/self/maps                                                          */

static uint64_t parse_hex(const char **pp)
{
	const char *p = *pp;
	uint64_t v = 0;

	for (;; p++) {
		if (*p >= '0' && *p <= '9')
			v = v * 16 + (uint64_t)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			v = v * 16 + (uint64_t)(*p - 'a' + 10);
		else
			break;
	}
	*pp = p;
	return v;
}

/* one "maps" line; resets the coverage to exactly what it lists (mu held) */
static void maps_locked(const char *why)
{
	static char *text;
	static size_t cap;
	size_t n = 0;
	const char *p;
	int fd, first = 1, err = 0;
	ssize_t r;

	fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		err = errno;
	while (fd >= 0) {
		if (n + 4096 + 1 > cap) {
			size_t c = cap ? cap * 2 : 256 * 1024;
			char *t = realloc(text, c);

			if (!t)
				break;
			text = t;
			cap = c;
		}
		r = syscall(SYS_read, fd, text + n, cap - 1 - n);
		if (r <= 0) {
			if (r < 0)
				err = errno;
			break;
		}
		n += r;
	}
	if (fd >= 0)
		syscall(SYS_close, fd);
	begin("maps");
	putf(",\"why\":\"%s\",\"maps\":", why);
	if (!text || !n) {
		putf("null,\"errno\":%d", err ? err : EIO);
		finish();
		return;
	}
	text[n] = 0;
	cov_n = 0;
	PUTS("[");
	for (p = text; *p;) {
		const char *eol = strchr(p, '\n'), *path;
		uint64_t start, end, off;
		char perms[5];

		if (!eol)
			eol = p + strlen(p);
		start = parse_hex(&p);
		if (*p++ != '-')
			break;
		end = parse_hex(&p);
		while (*p == ' ')
			p++;
		memcpy(perms, p, 4);
		perms[4] = 0;
		p += 4;
		while (*p == ' ')
			p++;
		off = parse_hex(&p);
		while (*p == ' ')
			p++;
		while (*p && *p != ' ' && *p != '\n')	/* dev */
			p++;
		while (*p == ' ')
			p++;
		while (*p && *p != ' ' && *p != '\n')	/* inode: left out, as in the oracle */
			p++;
		while (*p == ' ')
			p++;
		path = p;
		if (!(shm && start == (uintptr_t)shm)) {	/* the shim's own shared page */
			putf("%s{\"start\":\"0x%llx\",\"end\":\"0x%llx\",\"perms\":\"%s\",\"offset\":\"0x%llx\",\"path\":",
			     first ? "" : ",", (unsigned long long)start, (unsigned long long)end, perms,
			     (unsigned long long)off);
			put_str(path, eol - path);
			PUTS("}");
			first = 0;
			cov_add(start, end);
		}
		p = *eol ? eol + 1 : eol;
	}
	PUTS("]");
	finish();
}

/* ------------------------------------------------------------------------ */
/* init, fork, exit                                                         */

static int high_fd(int fd)
{
	struct rlimit rl;
	long base = 1024 - HIGH_FD_SLACK;
	int nfd;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		base = (long)rl.rlim_cur - HIGH_FD_SLACK;
	if (base > 4096)
		base = 4096;
	if (base <= 3)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, (int)base);
	if (nfd < 0)
		return fd;
	syscall(SYS_close, fd);
	return nfd;
}

static void atfork_prepare(void)
{
	if (!capturing)
		return;
	pthread_mutex_lock(&mu);
	tl_fork_locked = 1;
	fork_parent = my_pid;
	if (shm)
		fork_gen = __atomic_add_fetch(&shm->fork_req, 1, __ATOMIC_SEQ_CST);
}

static void atfork_parent(void)
{
	if (tl_fork_locked && !tl_fork_wrapper) {
		tl_fork_locked = 0;
		pthread_mutex_unlock(&mu);
	}
	/* through our wrapper: fork() unlocks after the child has written its lines */
}

/* in the child: it writes "fork" and a snapshot of its memory as its first lines */
static void atfork_child(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	if (!tl_fork_locked)
		return;
	tl_fork_locked = 0;
	mu = fresh;
	my_pid = getpid();
	pthread_mutex_lock(&mu);
	begin("fork");
	putf(",\"parent\":%d,\"child\":%d", (int)fork_parent, (int)my_pid);
	finish();
	maps_locked("fork");
	pthread_mutex_unlock(&mu);
	if (shm) {
		__atomic_store_n(&shm->fork_ack, fork_gen, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, &shm->fork_ack, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
	}
}

static int in_list(char **list, const char *s)
{
	for (; list && *list; list++)
		if (!strcmp(*list, s))
			return 1;
	return 0;
}

static char **split_paths(const char *v)
{
	char **list, *copy, *tok, *save = NULL;
	size_t n = 2;
	const char *p;

	if (!v || !*v)
		return NULL;
	for (p = v; *p; p++)
		n += *p == ':';
	list = calloc(n, sizeof(*list));
	copy = strdup(v);
	if (!list || !copy)
		return NULL;
	n = 0;
	for (tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
		list[n++] = tok;
	return list;
}

static void init(void)
{
	const char *path = getenv("IOREWIND_CAPTURE"), *name, *session;
	char pid_s[32];
	int fd, root;
	void *p;

	if (!path || !*path)
		return;
	my_pid = getpid();
	session = getenv("IOREWIND_CAPTURE_SESSION");
	root = !session || !*session;
	fd = syscall(SYS_openat, AT_FDCWD, path,
		     O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | (root ? O_TRUNC : 0), 0644);
	if (fd < 0)
		return;
	cap_fd = high_fd(fd);
	p = (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		shm = p;
	iommufd_aliases = split_paths(getenv("IOREWIND_CAPTURE_IOMMUFD"));
	name = getenv("IOREWIND_CAPTURE_TEST");
	if (!name || !*name)
		name = program_invocation_short_name;
	begin("");
	put_str(name, 256);
	if (!lb_oom && lb_len < sizeof(test_json)) {
		memcpy(test_json, lb, lb_len);
		test_json[lb_len] = 0;
	}
	if (root) {
		/* descendants, even exec'd ones, append to this session's file */
		snprintf(pid_s, sizeof(pid_s), "%d", (int)my_pid);
		setenv("IOREWIND_CAPTURE_SESSION", pid_s, 1);
		setenv("IOREWIND_CAPTURE_TEST", name, 0);
	} else if (shm) {
		char head[64];
		ssize_t n = pread(cap_fd, head, sizeof(head), 0);

		if (n > 0 && memmem(head, n, "\"kind\":\"test\"", 13))
			parse_seq(head, n, &shm->seq0);
	}
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	capturing = 1;
	tl_busy = 1;
	pthread_mutex_lock(&mu);
	if (root) {
		begin("test");
		finish();
		if (shm)
			shm->seq0 = shm->next_seq - 1;
	}
	maps_locked(root ? "test" : "start");
	pthread_mutex_unlock(&mu);
	tl_busy = 0;
}

static __attribute__((constructor)) void ctor(void)
{
	int saved = errno;

	pthread_once(&init_once, init);
	errno = saved;
}

static void log_exit(const char *fn, int status, int known)
{
	if (!capturing || exit_logged)
		return;
	tl_busy = 1;
	pthread_mutex_lock(&mu);
	if (!exit_logged) {
		exit_logged = 1;
		begin("exit");
		putf(",\"fn\":\"%s\",\"status\":", fn);
		if (known)
			putf("%d", status);
		else
			PUTS("null");
		finish();
		capturing = 0;	/* nothing this process does afterwards is recorded */
	}
	pthread_mutex_unlock(&mu);
	tl_busy = 0;
}

/* runs late in exit(), after the program's atexit handlers */
static __attribute__((destructor)) void dtor(void)
{
	if (my_pid == getpid())
		log_exit("exit", exit_status, exit_status_known);
}

static int main_wrapper(int argc, char **argv, char **envp)
{
	int r = real_main(argc, argv, envp);

	exit_status = r;
	exit_status_known = 1;
	return r;
}

EXPORT int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
			     void (*initf)(void), void (*fini)(void),
			     void (*rtld_fini)(void), void *stack_end)
{
	real_main = main;
	return REAL(__libc_start_main)(main_wrapper, argc, argv, initf, fini, rtld_fini,
				       stack_end);
}

EXPORT void exit(int status)
{
	exit_status = status;
	exit_status_known = 1;
	REAL(exit)(status);
	__builtin_unreachable();
}

EXPORT void _exit(int status)
{
	if (on())
		log_exit("_exit", status, 1);
	REAL(_exit)(status);
	__builtin_unreachable();
}

EXPORT void _Exit(int status)
{
	if (on())
		log_exit("_exit", status, 1);
	REAL(_Exit)(status);
	__builtin_unreachable();
}

EXPORT pid_t fork(void)
{
	unsigned int gen;
	pid_t r;
	int err;

	if (!on())
		return REAL(fork)();
	tl_fork_wrapper = 1;
	r = REAL(fork)();	/* atfork_prepare took mu; atfork_child wrote the child's lines */
	err = errno;
	tl_fork_wrapper = 0;
	if (r == 0 || !tl_fork_locked) {
		errno = err;
		return r;
	}
	gen = fork_gen;
	if (r < 0) {
		tl_busy = 1;
		begin("fork");
		putf(",\"parent\":%d,\"child\":-1,\"errno\":%d", (int)my_pid, err);
		finish();
		tl_busy = 0;
		if (shm)	/* nobody will acknowledge this one */
			__atomic_store_n(&shm->fork_ack, gen, __ATOMIC_SEQ_CST);
	} else if (shm) {
		/* keep our threads quiet until the child's "fork" line is out (30 s at most) */
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 100 * 1000 * 1000 };
		int tries = 300;

		for (;;) {
			unsigned int ack = __atomic_load_n(&shm->fork_ack, __ATOMIC_SEQ_CST);

			if ((int)(ack - gen) >= 0 || !tries--)
				break;
			syscall(SYS_futex, &shm->fork_ack, FUTEX_WAIT, ack, &ts, NULL, 0);
		}
	}
	tl_fork_locked = 0;
	pthread_mutex_unlock(&mu);
	errno = err;
	return r;
}

/* ------------------------------------------------------------------------ */
/* fds                                                                      */

static int fd_path(int fd, char *out, size_t cap)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, cap - 1);
	if (n <= 0)
		return -1;
	out[n] = 0;
	return 0;
}

static int kind_of_path(const char *path)
{
	const char *p;

	if (!strcmp(path, "/dev/iommu") || !strcmp(path, "/dev/vfio/vfio") ||
	    in_list(iommufd_aliases, path))
		return K_IOMMUFD;
	if (!strncmp(path, "/dev/vfio/devices/", 18))
		return K_VFIO_DEV;
	if (!strncmp(path, "/dev/vfio/", 10)) {
		p = path + 10;
		if (!strncmp(p, "noiommu-", 8))
			p += 8;
		if (*p >= '0' && *p <= '9')
			return K_VFIO_GROUP;
	}
	return K_FILE;
}

/* what an fd carrying a ';' ioctl is; an fd the shim never saw opened is looked up */
static int ioctl_fd_kind(int fd)
{
	char path[512];
	int k = fd >= 0 && fd < NFD ? fd_kind[fd] : K_NONE;

	if (k == K_NONE && fd >= 0 && fd_path(fd, path, sizeof(path)) == 0)
		k = kind_of_path(path);
	/* as in the oracle: a ';' ioctl on any other file is an iommufd ioctl */
	if (k == K_NONE || k == K_FILE || k == K_MEMFD)
		k = K_IOMMUFD;
	if (fd >= 0 && fd < NFD)
		fd_kind[fd] = (unsigned char)k;
	return k;
}

static void forget_fd(int fd)
{
	if (fd >= 0 && fd < NFD)
		fd_kind[fd] = K_NONE;
}

/* the program is closing our output: stop recording in this process */
static void protect(int fd)
{
	if (capturing && fd == cap_fd) {
		capturing = 0;
		cap_fd = -1;
	}
}

static void put_ret_int(long r, int err)
{
	putf(",\"ret\":%ld,\"errno\":%d", r, r < 0 ? err : 0);
}

EXPORT int close(int fd)
{
	int k = fd >= 0 && fd < NFD ? fd_kind[fd] : K_NONE;
	int r, err;

	protect(fd);
	r = REAL(close)(fd);
	err = errno;
	if (k != K_NONE) {
		forget_fd(fd);
		if (on()) {
			tl_busy = 1;
			pthread_mutex_lock(&mu);
			begin("close");
			putf(",\"fd\":%d,\"ret\":%d,\"errno\":%d,\"what\":\"%s\"", fd, r,
			     r < 0 ? err : 0, kind_what[k]);
			finish();
			pthread_mutex_unlock(&mu);
			tl_busy = 0;
		}
	}
	errno = err;
	return r;
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (cap_fd >= 0 && (unsigned int)cap_fd >= first && (unsigned int)cap_fd <= last &&
	    !(flags & CLOSE_RANGE_CLOEXEC))
		protect(cap_fd);
	return REAL(close_range)(first, last, flags);
}

EXPORT int dup2(int oldfd, int newfd)
{
	protect(newfd);
	forget_fd(newfd);
	return REAL(dup2)(oldfd, newfd);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	protect(newfd);
	forget_fd(newfd);
	return REAL(dup3)(oldfd, newfd, flags);
}

static void put_fd_path(int fd)
{
	char target[512];

	if (fd >= 0 && fd_path(fd, target, sizeof(target)) == 0) {
		PUTS(",\"fd_path\":");
		put_str(target, sizeof(target));
	}
}

static int log_open(int r, int err, int dfd, const char *path, int flags, mode_t mode)
{
	char real_path[512];

	if (r >= 0 && r < NFD) {
		int k = path ? kind_of_path(path) : K_FILE;

		if (k == K_FILE && fd_path(r, real_path, sizeof(real_path)) == 0)
			k = kind_of_path(real_path);
		fd_kind[r] = (unsigned char)k;
	}
	tl_busy = 1;
	pthread_mutex_lock(&mu);
	begin("open");
	if (dfd != AT_FDCWD)
		putf(",\"dirfd\":%d", dfd);
	PUTS(",\"path\":");
	put_str(path, 4096);
	putf(",\"flags\":%d", flags);
	if (flags & (O_CREAT | __O_TMPFILE))
		putf(",\"mode\":%u", (unsigned int)mode);
	put_ret_int(r, err);
	finish();
	pthread_mutex_unlock(&mu);
	tl_busy = 0;
	errno = err;
	return r;
}

#define OPEN_MODE(flags, mode)                                  \
	do {                                                    \
		if ((flags) & (O_CREAT | __O_TMPFILE)) {        \
			va_list ap;                             \
			va_start(ap, flags);                    \
			mode = va_arg(ap, int);                 \
			va_end(ap);                             \
		}                                               \
	} while (0)

EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int o, r;

	OPEN_MODE(flags, mode);
	o = on();
	r = REAL(open)(path, flags, mode);
	return o ? log_open(r, errno, AT_FDCWD, path, flags, mode) : r;
}

EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int o, r;

	OPEN_MODE(flags, mode);
	o = on();
	r = REAL(open64)(path, flags, mode);
	return o ? log_open(r, errno, AT_FDCWD, path, flags, mode) : r;
}

EXPORT int openat(int dfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int o, r;

	OPEN_MODE(flags, mode);
	o = on();
	r = REAL(openat)(dfd, path, flags, mode);
	return o ? log_open(r, errno, dfd, path, flags, mode) : r;
}

EXPORT int openat64(int dfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int o, r;

	OPEN_MODE(flags, mode);
	o = on();
	r = REAL(openat64)(dfd, path, flags, mode);
	return o ? log_open(r, errno, dfd, path, flags, mode) : r;
}

/* _FORTIFY_SOURCE versions (flags not known at compile time) */
EXPORT int __open_2(const char *path, int flags)
{
	int o = on(), r = REAL(__open_2)(path, flags);

	return o ? log_open(r, errno, AT_FDCWD, path, flags, 0) : r;
}

EXPORT int __open64_2(const char *path, int flags)
{
	int o = on(), r = REAL(__open64_2)(path, flags);

	return o ? log_open(r, errno, AT_FDCWD, path, flags, 0) : r;
}

EXPORT int __openat_2(int dfd, const char *path, int flags)
{
	int o = on(), r = REAL(__openat_2)(dfd, path, flags);

	return o ? log_open(r, errno, dfd, path, flags, 0) : r;
}

EXPORT int __openat64_2(int dfd, const char *path, int flags)
{
	int o = on(), r = REAL(__openat64_2)(dfd, path, flags);

	return o ? log_open(r, errno, dfd, path, flags, 0) : r;
}

/* ------------------------------------------------------------------------ */
/* fault queue reads and writes                                             */

static int is_fault_fd(int fd)
{
	return fd >= 0 && fd < NFD && fd_kind[fd] == K_FAULT;
}

static void log_rw(const char *kind, int fd, const void *buf, size_t n, ssize_t ret, int err)
{
	struct side s = { .name = "data", .ptr = (uintptr_t)buf };

	tl_busy = 1;
	pthread_mutex_lock(&mu);
	begin(kind);
	putf(",\"fd\":%d,\"len\":%zu,\"ret\":%zd,\"errno\":%d", fd, n, ret, ret < 0 ? err : 0);
	/* a read shows what arrived; a write what was offered */
	s.len = *kind == 'r' ? (ret > 0 ? (uint64_t)ret : 0) : n;
	if (s.len)
		put_side(&s);
	finish();
	pthread_mutex_unlock(&mu);
	tl_busy = 0;
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	ssize_t r = REAL(read)(fd, buf, n);
	int err;

	if (!is_fault_fd(fd) || !on())
		return r;
	err = errno;
	log_rw("read", fd, buf, n, r, err);
	errno = err;
	return r;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	ssize_t r = REAL(write)(fd, buf, n);
	int err;

	if (!is_fault_fd(fd) || !on())
		return r;
	err = errno;
	log_rw("write", fd, buf, n, r, err);
	errno = err;
	return r;
}

/* ------------------------------------------------------------------------ */
/* ioctl                                                                    */

static uint32_t rd32(const unsigned char *b, size_t n, size_t off)
{
	uint32_t v = 0;

	if (off + 4 <= n)
		memcpy(&v, b + off, 4);
	return v;
}

static uint64_t rd64(const unsigned char *b, size_t n, size_t off)
{
	uint64_t v = 0;

	if (off + 8 <= n)
		memcpy(&v, b + off, 8);
	return v;
}

static uint64_t bitmap_bytes(uint64_t length, uint64_t page_size)
{
	return page_size ? (length / page_size + 7) / 8 : 0;
}

#define VFIO_NR(x) (100 + (x))

/* does this ioctl take a struct with a leading u32 size / argsz? */
static int takes_struct(int kind, unsigned int nr)
{
	switch (kind) {
	case K_VFIO_DEV:	/* GET_INFO .. SET_IRQS, GET_PCI_HOT_RESET_INFO .. DETACH_IOMMUFD_PT */
		return (nr >= VFIO_NR(7) && nr <= VFIO_NR(10)) ||
		       (nr >= VFIO_NR(12) && nr <= VFIO_NR(14)) ||
		       (nr >= VFIO_NR(16) && nr <= VFIO_NR(20));
	case K_VFIO_GROUP:	/* GROUP_GET_STATUS */
		return nr == VFIO_NR(3);
	default:		/* iommufd, and the VFIO type1 container ioctls it emulates */
		return nr >= 0x80 || nr == VFIO_NR(12) || nr == VFIO_NR(13) ||
		       nr == VFIO_NR(14) || nr == VFIO_NR(17);
	}
}

#define TEST_OP_MD_CHECK_MAP 3
#define TEST_OP_MD_CHECK_REFS 4
#define TEST_OP_CREATE_ACCESS 5
#define TEST_OP_ACCESS_PAGES 7
#define TEST_OP_ACCESS_RW 8
#define TEST_OP_DIRTY 13

/* the user range an iommufd ioctl pins (the model must know that memory) */
static int pinned_range(int kind, unsigned int nr, const unsigned char *b, size_t n,
			uint64_t *va, uint64_t *len)
{
	if (kind != K_IOMMUFD)
		return 0;
	switch (nr) {
	case 0x85:		/* IOAS_MAP */
		*va = rd64(b, n, 16);
		*len = rd64(b, n, 24);
		return 1;
	case VFIO_NR(13):	/* VFIO_IOMMU_MAP_DMA: vaddr@8 size@24 */
		*va = rd64(b, n, 8);
		*len = rd64(b, n, 24);
		return 1;
	case 0x8c:		/* HWPT_GET_DIRTY_BITMAP: the bitmap is pinned to write it */
		*va = rd64(b, n, 40);
		*len = bitmap_bytes(rd64(b, n, 24), rd64(b, n, 32));
		return 1;
	case 0xa0:
		switch (rd32(b, n, 4)) {
		case TEST_OP_MD_CHECK_MAP:
		case TEST_OP_ACCESS_RW:
			*va = rd64(b, n, 32);
			*len = rd64(b, n, 24);
			return 1;
		case TEST_OP_MD_CHECK_REFS:
			*va = rd64(b, n, 24);
			*len = rd64(b, n, 16);
			return 1;
		case TEST_OP_ACCESS_PAGES:
			*va = rd64(b, n, 40);
			*len = rd64(b, n, 32);
			return 1;
		case TEST_OP_DIRTY:
			*va = rd64(b, n, 48);
			*len = bitmap_bytes(rd64(b, n, 32), rd64(b, n, 40));
			return 1;
		}
	}
	return 0;
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	unsigned char before[MAX_STRUCT], after[MAX_STRUCT];
	unsigned int type = (req >> 8) & 0xff, nr = req & 0xff;
	struct side pre[2], post[2];
	int npre = 0, npost = 0, kind, is_struct, ret, err, i;
	ssize_t nb = -1, na = -1;
	uint64_t uarg, va, len;
	uint32_t size = 0;
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	uarg = (uintptr_t)arg;

	if (type != 0x3b || !on())
		return REAL(ioctl)(fd, req, arg);
	tl_busy = 1;
	memset(pre, 0, sizeof(pre));
	memset(post, 0, sizeof(post));
	kind = ioctl_fd_kind(fd);
	is_struct = takes_struct(kind, nr);
	if (is_struct && safe_read(&size, uarg, 4) == 4) {
		size_t n = size > MAX_STRUCT ? MAX_STRUCT : size;

		nb = safe_read(before, uarg, n);
		if (nb != (ssize_t)n)
			nb = -1;
	}

	/* pointer side buffers, as the oracle records them */
	if (nb >= 0 && kind == K_IOMMUFD) {
		switch (nr) {
		case 0x82:	/* IOAS_ALLOW_IOVAS */
			pre[npre++] = SIDE("allowed_iovas_in", rd64(before, nb, 16),
						     (uint64_t)rd32(before, nb, 8) * 16);
			break;
		case 0x84:	/* IOAS_IOVA_RANGES */
			post[npost++] = SIDE("allowed_iovas_out", rd64(before, nb, 16), 0);
			break;
		case 0x89:	/* HWPT_ALLOC */
			if (rd32(before, nb, 28) || rd64(before, nb, 32))
				pre[npre++] = SIDE("data_in", rd64(before, nb, 32),
							     rd32(before, nb, 28));
			break;
		case 0x8a:	/* GET_HW_INFO */
			if (rd32(before, nb, 12) && rd64(before, nb, 16))
				post[npost++] = SIDE("data_out", rd64(before, nb, 16),
							       rd32(before, nb, 12));
			break;
		case 0x8c:	/* HWPT_GET_DIRTY_BITMAP: iova@16 length@24 page_size@32 data@40 */
			len = bitmap_bytes(rd64(before, nb, 24), rd64(before, nb, 32));
			pre[npre++] = SIDE("bitmap_in", rd64(before, nb, 40), len);
			post[npost++] = SIDE("bitmap_out", rd64(before, nb, 40), len);
			break;
		case 0x8d:	/* HWPT_INVALIDATE: data_uptr@8 entry_len@20 entry_num@24 */
			len = (uint64_t)rd32(before, nb, 20) * rd32(before, nb, 24);
			pre[npre++] = SIDE("entries_in", rd64(before, nb, 8), len);
			post[npost++] = SIDE("entries_out", rd64(before, nb, 8), len);
			break;
		case 0xa0:	/* IOMMU_TEST_CMD */
			if (rd32(before, nb, 4) == TEST_OP_ACCESS_RW) {
				pre[npre++] = SIDE("rw_buf_in", rd64(before, nb, 32),
							     rd64(before, nb, 24));
				post[npost++] = SIDE("rw_buf_out", rd64(before, nb, 32),
							       rd64(before, nb, 24));
			} else if (rd32(before, nb, 4) == TEST_OP_DIRTY) {
				pre[npre++] = SIDE("bitmap_in", rd64(before, nb, 48),
							     bitmap_bytes(rd64(before, nb, 32),
									  rd64(before, nb, 40)));
			}
			break;
		}
	}
	for (i = 0; i < npre; i++)
		side_copy(&pre[i]);

	/* memory the kernel will pin but our records do not show: snapshot it first */
	if (nb >= 0 && pinned_range(kind, nr, before, nb, &va, &len)) {
		pthread_mutex_lock(&mu);
		if (!cov_has(va, len) && !(va == last_uncovered_va && len == last_uncovered_len)) {
			maps_locked("ioctl");
			if (!cov_has(va, len)) {	/* a bad pointer: do not snapshot it again */
				last_uncovered_va = va;
				last_uncovered_len = len;
			}
		}
		pthread_mutex_unlock(&mu);
	}

	ret = REAL(ioctl)(fd, req, arg);
	err = errno;

	if (nb >= 0) {
		na = safe_read(after, uarg, nb);
		if (na != nb)
			na = -1;
	}
	pthread_mutex_lock(&mu);
	begin("ioctl");
	putf(",\"fd\":%d,\"cmd\":\"0x%lx\",\"nr\":\"0x%x\"", fd, req, nr);
	if (!is_struct) {
		put_u64("arg", uarg);
	} else if (nb < 0) {
		PUTS(",\"in\":null,\"fault\":1");
	} else {
		PUTS(",\"in\":");
		put_hex(before, nb);
		if (size > MAX_STRUCT)
			putf(",\"trunc\":%u", size);
	}
	for (i = 0; i < npre; i++)
		put_side(&pre[i]);
	if (nb >= 0) {
		PUTS(",\"out\":");
		if (na < 0)
			PUTS("null");
		else
			put_hex(after, na);
	}
	putf(",\"ret\":%d,\"errno\":%d", ret, ret < 0 ? err : 0);
	if (na >= 0) {
		for (i = 0; i < npost; i++) {
			if (!strcmp(post[i].name, "allowed_iovas_out")) {
				uint32_t nin = rd32(before, nb, 8), nout = rd32(after, na, 8);

				post[i].len = (uint64_t)(nin < nout ? nin : nout) * 16;
				if (!post[i].len)
					continue;
			}
			put_side(&post[i]);
		}
	}
	finish();

	/* fds the call created */
	if (ret >= 0 && na >= 0 && kind == K_IOMMUFD) {
		if (nr == 0x8e && rd32(after, na, 12) < NFD)	/* FAULT_QUEUE_ALLOC */
			fd_kind[rd32(after, na, 12)] = K_FAULT;
		if (nr == 0xa0 && rd32(before, nb, 4) == TEST_OP_CREATE_ACCESS &&
		    rd32(after, na, 16) < NFD)
			fd_kind[rd32(after, na, 16)] = K_ACCESS;
	}
	if (ret >= 0 && ret < NFD && kind == K_VFIO_GROUP && nr == VFIO_NR(6))	/* GET_DEVICE_FD */
		fd_kind[ret] = K_VFIO_DEV;
	pthread_mutex_unlock(&mu);

	for (i = 0; i < npre; i++)
		free(pre[i].data);
	tl_busy = 0;
	errno = err;
	return ret;
}

/* ------------------------------------------------------------------------ */
/* memory                                                                   */

struct flag_name {
	unsigned long bit;
	const char *name;
};

#define N(x) (sizeof(x) / sizeof((x)[0]))

/* ,"key":["A","B",...] for the set bits of v; leftover bits as "0x.." */
static void put_flag_names(const char *key, unsigned long v, const struct flag_name *t, size_t n)
{
	int first = 1;
	size_t i;

	putf(",\"%s\":[", key);
	for (i = 0; i != n; i++) {
		if (t[i].bit && (v & t[i].bit) == t[i].bit) {
			putf("%s\"%s\"", first ? "" : ",", t[i].name);
			v &= ~t[i].bit;
			first = 0;
		}
	}
	if (v)
		putf("%s\"0x%lx\"", first ? "" : ",", v);
	PUTS("]");
}

static const struct flag_name prot_names[] = {
	{ 0x1, "READ" }, { 0x2, "WRITE" }, { 0x4, "EXEC" }, { 0x8, "SEM" },
	{ 0x01000000, "GROWSDOWN" }, { 0x02000000, "GROWSUP" },
};

static void put_prot(int prot)
{
	putf(",\"prot\":%d", prot);
	if (!prot)
		PUTS(",\"prot_names\":[\"NONE\"]");
	else
		put_flag_names("prot_names", (unsigned int)prot, prot_names, N(prot_names));
}

/* the huge page size in bits 26..31 (MAP_HUGE_SHIFT, MFD_HUGE_SHIFT) */
static void put_huge_size(unsigned long v)
{
	unsigned int lg = (v >> 26) & 0x3f;

	if (lg >= 30)
		putf(",\"HUGE_%luGB\"", 1UL << (lg - 30));
	else if (lg >= 20)
		putf(",\"HUGE_%luMB\"", 1UL << (lg - 20));
	else if (lg >= 10)
		putf(",\"HUGE_%luKB\"", 1UL << (lg - 10));
}

static const struct flag_name map_names[] = {
	{ 0x10, "FIXED" }, { 0x20, "ANONYMOUS" }, { 0x40, "32BIT" },
	{ 0x100, "GROWSDOWN" }, { 0x800, "DENYWRITE" }, { 0x1000, "EXECUTABLE" },
	{ 0x2000, "LOCKED" }, { 0x4000, "NORESERVE" }, { 0x8000, "POPULATE" },
	{ 0x10000, "NONBLOCK" }, { 0x20000, "STACK" }, { 0x40000, "HUGETLB" },
	{ 0x80000, "SYNC" }, { 0x100000, "FIXED_NOREPLACE" }, { 0x4000000, "UNINITIALIZED" },
};

static void put_map_flags(unsigned long flags)
{
	static const char *const type[16] = { [1] = "SHARED", [2] = "PRIVATE",
					       [3] = "SHARED_VALIDATE" };
	unsigned long rest = flags & ~0xfUL;
	int huge = (flags & 0x40000) && ((flags >> 26) & 0x3f);
	size_t i;

	putf(",\"flags\":%lu", flags);
	if (huge)
		rest &= ~(0x3fUL << 26);
	if (type[flags & 0xf])
		putf(",\"flag_names\":[\"%s\"", type[flags & 0xf]);
	else
		putf(",\"flag_names\":[\"0x%lx\"", flags & 0xf);
	for (i = 0; i != N(map_names); i++)
		if (rest & map_names[i].bit) {
			putf(",\"%s\"", map_names[i].name);
			rest &= ~map_names[i].bit;
		}
	if (huge)
		put_huge_size(flags);
	if (rest)
		putf(",\"0x%lx\"", rest);
	PUTS("]");
}

static void log_mmap(void *r, int err, void *addr, size_t len, int prot, int flags, int fd,
		     off_t off)
{
	tl_busy = 1;
	pthread_mutex_lock(&mu);
	begin("mmap");
	put_addr("addr", (uintptr_t)addr);
	putf(",\"len\":%zu", len);
	put_prot(prot);
	put_map_flags((unsigned int)flags);
	putf(",\"fd\":%d,\"offset\":%lld", fd, (long long)off);
	if (!(flags & MAP_ANONYMOUS))
		put_fd_path(fd);
	if (r == MAP_FAILED) {
		putf(",\"ret\":null,\"errno\":%d", err);
	} else {
		put_addr("ret", (uintptr_t)r);
		PUTS(",\"errno\":0");
		cov_add((uintptr_t)r, (uintptr_t)r + page_up(len, (flags & MAP_HUGETLB) ? 1UL << 21 : 4096));
	}
	finish();
	pthread_mutex_unlock(&mu);
	tl_busy = 0;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	int o = on();
	void *r = REAL(mmap)(addr, len, prot, flags, fd, off);
	int err = errno;

	if (o)
		log_mmap(r, err, addr, len, prot, flags, fd, off);
	errno = err;
	return r;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	int o = on();
	void *r = REAL(mmap64)(addr, len, prot, flags, fd, off);
	int err = errno;

	if (o)
		log_mmap(r, err, addr, len, prot, flags, fd, off);
	errno = err;
	return r;
}

EXPORT int munmap(void *addr, size_t len)
{
	int o = on();
	int r = REAL(munmap)(addr, len), err = errno;

	if (o) {
		tl_busy = 1;
		pthread_mutex_lock(&mu);
		begin("munmap");
		put_addr("addr", (uintptr_t)addr);
		putf(",\"len\":%zu", len);
		put_ret_int(r, err);
		finish();
		if (r == 0)
			cov_del((uintptr_t)addr, (uintptr_t)addr + page_up(len, 4096));
		pthread_mutex_unlock(&mu);
		tl_busy = 0;
	}
	errno = err;
	return r;
}

EXPORT void *mremap(void *old, size_t olen, size_t nlen, int flags, ...)
{
	static const struct flag_name names[] = {
		{ 1, "MAYMOVE" }, { 2, "FIXED" }, { 4, "DONTUNMAP" },
	};
	void *newaddr = NULL, *r;
	int o = on(), err;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		newaddr = va_arg(ap, void *);
		va_end(ap);
	}
	r = REAL(mremap)(old, olen, nlen, flags, newaddr);
	err = errno;
	if (o) {
		tl_busy = 1;
		pthread_mutex_lock(&mu);
		begin("mremap");
		put_addr("old_addr", (uintptr_t)old);
		putf(",\"old_len\":%zu,\"new_len\":%zu,\"flags\":%d", olen, nlen, flags);
		put_flag_names("flag_names", (unsigned int)flags, names, N(names));
		if (flags & MREMAP_FIXED)
			put_addr("new_addr", (uintptr_t)newaddr);
		if (r == MAP_FAILED) {
			putf(",\"ret\":null,\"errno\":%d", err);
		} else {
			put_addr("ret", (uintptr_t)r);
			PUTS(",\"errno\":0");
			if (!(flags & 4))	/* MREMAP_DONTUNMAP keeps the old range */
				cov_del((uintptr_t)old, (uintptr_t)old + page_up(olen, 4096));
			cov_add((uintptr_t)r, (uintptr_t)r + page_up(nlen, 4096));
		}
		finish();
		pthread_mutex_unlock(&mu);
		tl_busy = 0;
	}
	errno = err;
	return r;
}

static const char *madv_name(int a)
{
	static const char *const names[] = {
		"NORMAL", "RANDOM", "SEQUENTIAL", "WILLNEED", "DONTNEED", NULL,
		NULL, NULL, "FREE", "REMOVE", "DONTFORK", "DOFORK", "MERGEABLE",
		"UNMERGEABLE", "HUGEPAGE", "NOHUGEPAGE", "DONTDUMP", "DODUMP",
		"WIPEONFORK", "KEEPONFORK", "COLD", "PAGEOUT", "POPULATE_READ",
		"POPULATE_WRITE", "DONTNEED_LOCKED", "COLLAPSE",
	};

	if (a >= 0 && a < (int)N(names) && names[a])
		return names[a];
	switch (a) {
	case 100: return "HWPOISON";
	case 101: return "SOFT_OFFLINE";
	case 102: return "GUARD_INSTALL";
	case 103: return "GUARD_REMOVE";
	}
	return NULL;
}

EXPORT int madvise(void *addr, size_t len, int advice)
{
	int o = on();
	int r = REAL(madvise)(addr, len, advice), err = errno;

	if (o) {
		tl_busy = 1;
		pthread_mutex_lock(&mu);
		begin("madvise");
		put_addr("addr", (uintptr_t)addr);
		putf(",\"len\":%zu,\"advice\":%d,\"advice_name\":", len, advice);
		put_str(madv_name(advice), 64);
		put_ret_int(r, err);
		finish();
		pthread_mutex_unlock(&mu);
		tl_busy = 0;
	}
	errno = err;
	return r;
}

EXPORT int mprotect(void *addr, size_t len, int prot)
{
	int o = on();
	int r = REAL(mprotect)(addr, len, prot), err = errno;

	if (o) {
		tl_busy = 1;
		pthread_mutex_lock(&mu);
		begin("mprotect");
		put_addr("addr", (uintptr_t)addr);
		putf(",\"len\":%zu", len);
		put_prot(prot);
		put_ret_int(r, err);
		finish();
		pthread_mutex_unlock(&mu);
		tl_busy = 0;
	}
	errno = err;
	return r;
}

/*
 * mlock(2) and friends: locked memory counts against RLIMIT_MEMLOCK together
 * with what iommufd charges in MM accounting mode (VFIO compat, RLIMIT_MODE),
 * so a VMM that locks guest RAM (QEMU's mem-lock) needs them in its capture.
 */
static void lock_range_rec(const char *kind, const void *addr, size_t len, int with_flags, unsigned int flags, int r, int err)
{
	tl_busy = 1;
	pthread_mutex_lock(&mu);
	begin(kind);
	put_addr("addr", (uintptr_t)addr);
	putf(",\"len\":%zu", len);
	if (with_flags)
		putf(",\"flags\":%u", flags);
	put_ret_int(r, err);
	finish();
	pthread_mutex_unlock(&mu);
	tl_busy = 0;
}

EXPORT int mlock(const void *addr, size_t len)
{
	int o = on();
	int r = REAL(mlock)(addr, len), err = errno;

	if (o)
		lock_range_rec("mlock", addr, len, 0, 0, r, err);
	errno = err;
	return r;
}

EXPORT int mlock2(const void *addr, size_t len, unsigned int flags)
{
	int o = on();
	int r = REAL(mlock2)(addr, len, flags), err = errno;

	if (o)
		lock_range_rec("mlock", addr, len, 1, flags, r, err);
	errno = err;
	return r;
}

EXPORT int munlock(const void *addr, size_t len)
{
	int o = on();
	int r = REAL(munlock)(addr, len), err = errno;

	if (o)
		lock_range_rec("munlock", addr, len, 0, 0, r, err);
	errno = err;
	return r;
}

EXPORT int mlockall(int flags)
{
	int o = on();
	int r = REAL(mlockall)(flags), err = errno;

	if (o) {
		tl_busy = 1;
		pthread_mutex_lock(&mu);
		begin("mlockall");
		putf(",\"flags\":%d", flags);
		put_ret_int(r, err);
		finish();
		pthread_mutex_unlock(&mu);
		tl_busy = 0;
	}
	errno = err;
	return r;
}

EXPORT int munlockall(void)
{
	int o = on();
	int r = REAL(munlockall)(), err = errno;

	if (o) {
		tl_busy = 1;
		pthread_mutex_lock(&mu);
		begin("munlockall");
		put_ret_int(r, err);
		finish();
		pthread_mutex_unlock(&mu);
		tl_busy = 0;
	}
	errno = err;
	return r;
}

EXPORT int memfd_create(const char *name, unsigned int flags)
{
	static const struct flag_name names[] = {
		{ 1, "CLOEXEC" }, { 2, "ALLOW_SEALING" }, { 4, "HUGETLB" },
		{ 8, "NOEXEC_SEAL" }, { 0x10, "EXEC" },
	};
	int o = on();
	int r = REAL(memfd_create)(name, flags), err = errno;

	if (o) {
		if (r >= 0 && r < NFD)
			fd_kind[r] = K_MEMFD;
		tl_busy = 1;
		pthread_mutex_lock(&mu);
		begin("memfd_create");
		PUTS(",\"name\":");
		put_str(name, 249);
		putf(",\"flags\":%u", flags);
		put_flag_names("flag_names", flags & 0x3ffffff, names, N(names));
		if ((flags & 4) && (flags >> 26)) {
			lb_len--;	/* drop ']' and append HUGE_xx */
			put_huge_size(flags);
			PUTS("]");
		}
		put_ret_int(r, err);
		finish();
		pthread_mutex_unlock(&mu);
		tl_busy = 0;
	}
	errno = err;
	return r;
}

static int log_ftruncate(int r, int err, int fd, off_t len)
{
	tl_busy = 1;
	pthread_mutex_lock(&mu);
	begin("ftruncate");
	putf(",\"fd\":%d,\"len\":%lld", fd, (long long)len);
	put_fd_path(fd);
	put_ret_int(r, err);
	finish();
	pthread_mutex_unlock(&mu);
	tl_busy = 0;
	errno = err;
	return r;
}

EXPORT int ftruncate(int fd, off_t len)
{
	int o = on(), r = REAL(ftruncate)(fd, len);

	return o ? log_ftruncate(r, errno, fd, len) : r;
}

EXPORT int ftruncate64(int fd, off_t len)
{
	int o = on(), r = REAL(ftruncate64)(fd, len);

	return o ? log_ftruncate(r, errno, fd, len) : r;
}

static int log_fallocate(int r, int err, int fd, int mode, off_t off, off_t len)
{
	tl_busy = 1;
	pthread_mutex_lock(&mu);
	begin("fallocate");
	putf(",\"fd\":%d,\"mode\":%d,\"offset\":%lld,\"len\":%lld", fd, mode, (long long)off,
	     (long long)len);
	put_fd_path(fd);
	put_ret_int(r, err);
	finish();
	pthread_mutex_unlock(&mu);
	tl_busy = 0;
	errno = err;
	return r;
}

EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	int o = on(), r = REAL(fallocate)(fd, mode, off, len);

	return o ? log_fallocate(r, errno, fd, mode, off, len) : r;
}

EXPORT int fallocate64(int fd, int mode, off_t off, off_t len)
{
	int o = on(), r = REAL(fallocate64)(fd, mode, off, len);

	return o ? log_fallocate(r, errno, fd, mode, off, len) : r;
}
