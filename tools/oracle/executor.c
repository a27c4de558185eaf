// SPDX-License-Identifier: MIT
/*
 * iorewind oracle executor: performs iorewind traces against the real
 * /dev/iommu of the oracle kernel (../shared/oracle, Linux 6.12 + the
 * IOMMUFD_TEST mock driver) and records what the kernel answered, in a
 * compact binary form: only what the kernel decided (return value, errno,
 * the bytes of the argument struct it changed, the buffers it wrote), since
 * the host knows every input byte (docs/oracle.md, "Records";
 * src/oracle/results.ts turns them back into capture-format records).
 *
 * Input: the binary form written by src/oracle/encode.ts (docs/oracle.md,
 * "Executor input"), read from the file named by the last argument, or from
 * the payload appended to this very binary (trailer: "IORWPAY1", u64 offset,
 * u64 length), or with `--shm` from the host's shared memory (an ivshmem PCI
 * device: header "IORWSHM1", the input, a ring the records stream into while
 * the traces run). Output without --shm: the file named by $IOMMUFD_CAPTURE,
 * or stdout.
 *
 * Processes. A supervisor (never a trace process itself) runs every trace in
 * fresh worker processes: one per trace pid, created fresh (no fds, none of
 * the trace's memory) or by a trace `fork` (clone with CLONE_PARENT, so the
 * supervisor reaps every worker). Exactly one worker runs at a time; the
 * turn passes through a futex in shared memory, to the worker of the next
 * op's pid. At the end of a trace every worker is killed and reaped, so its
 * iommufd contexts are gone before the next trace starts.
 *
 * Memory. The executor's own memory sits at fixed addresses far from the
 * trace's (0x1000_0000_0000 and up) and is never handed to the kernel as
 * trace memory: trace mmaps use MAP_FIXED at the trace's own addresses, but
 * only where the executor has nothing (checked against its own regions,
 * read once from /proc/self/maps), munmap / mprotect / madvise likewise.
 * Pointer fields that the model treats as buffers (allowed_iovas, data_uptr,
 * data, ACCESS_RW / DIRTY uptr) point into private scratch slots, each
 * followed by a PROT_NONE guard page, a buffer placed so that it ends at the
 * guard: exactly its bytes are readable, as the model assumes. The records
 * show the trace's own pointer values, as if the trace's program had run.
 *
 * Every op of the input produces exactly one record carrying the event's
 * index in its trace: an ioctl record, a result record (every other op:
 * return value, errno, bytes read) or a skip record (an op not run, and
 * why); per trace a start record (its position in the input) and an end
 * record (status ok | timeout | crash, ops done).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"

/* The offsets the recorder (and this executor) read struct fields at. */
_Static_assert(offsetof(struct iommu_ioas_allow_iovas, allowed_iovas) == 16, "allow_iovas");
_Static_assert(offsetof(struct iommu_ioas_iova_ranges, allowed_iovas) == 16, "iova_ranges");
_Static_assert(offsetof(struct iommu_hwpt_alloc, data_uptr) == 32, "hwpt_alloc");
_Static_assert(offsetof(struct iommu_hw_info, data_uptr) == 16, "hw_info");
_Static_assert(offsetof(struct iommu_hwpt_get_dirty_bitmap, data) == 40, "dirty_bitmap");
_Static_assert(offsetof(struct iommu_hwpt_invalidate, data_uptr) == 8, "invalidate");
_Static_assert(offsetof(struct iommu_test_cmd, access_rw.uptr) == 32, "access_rw");
_Static_assert(offsetof(struct iommu_test_cmd, dirty.uptr) == 48, "dirty");
_Static_assert(sizeof(struct iommu_test_cmd) == 72, "test_cmd");

#define EXE_BASE 0x100000000000UL  /* the input (mapped from the file, or a memfd copy of the shared memory's) */
#define CTL_BASE 0x110000000000UL  /* shared control block */
#define OUT_BASE 0x120000000000UL  /* shared output buffer */
#define OUT_SIZE (1UL << 30)
#define SLOT_BASE 0x130000000000UL /* private scratch slots, each + guard page */
#define SLOT_SIZE (4UL << 20)
#define SHM_BASE 0x140000000000UL /* --shm: the host's shared memory (the supervisor's only) */
#define SLOT_STRIDE (SLOT_SIZE + 4096)
#define NSLOTS 8
#define BAD_PTR (SLOT_BASE + SLOT_SIZE) /* the first guard page: never readable */
#define TASK_END 0x7ffffffff000UL
#define MAX_STRUCT 4096
#define MAX_ARRAY (256 * 1024)
#define MAXW 64
#define MAX_OWN 256
#define LINE_MAX_BYTES (2 * 1024 * 1024)

/* record tags (docs/oracle.md, "Records") */
enum { R_TRACE = 1, R_END = 2, R_SKIP = 3, R_RESULT = 4, R_IOCTL = 5 };
/* ioctl record flags */
enum { F_IN_FAULT = 1, F_TRUNC = 2, F_ARG = 4 };
/* buffer ids: the capture's *_in / *_out fields */
enum { B_ALLOWED_IOVAS = 1, B_DATA, B_BITMAP, B_ENTRIES, B_RW_BUF, B_OUT = 8, B_FAULT = 0x40, B_TRUNC = 0x80 };

/* the shared memory of --shm (ivshmem BAR 2), laid out by src/oracle/boot.ts */
struct shm_hdr {
	char magic[8];	     /* "IORWSHM1" */
	uint64_t input_off;  /* the executor input */
	uint64_t input_len;
	uint64_t ring_off;   /* the record ring */
	uint64_t ring_size;
	uint64_t pad0[3];
	uint64_t head;	     /* 0x40: bytes of records written (the guest) */
	uint64_t pad1[7];
	uint64_t tail;	     /* 0x80: bytes consumed (the host) */
	uint64_t pad2[7];
	uint64_t done;	     /* 0xc0: 1 when the executor has finished */
};

enum {
	OP_IOCTL = 1, OP_OPEN, OP_CLOSE, OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MADVISE,
	OP_MEMWRITE, OP_MEMREAD, OP_MEMFD, OP_FTRUNCATE, OP_READFD, OP_WRITEFD,
	OP_CAPDROP, OP_RLIMIT, OP_FORK, OP_EXIT, OP_EXTFDS, OP_MAPS, OP_NOTE,
	OP_FALLOCATE, OP_MREMAP, OP_MLOCK, OP_MUNLOCK, OP_MLOCKALL, OP_MUNLOCKALL,
};
enum { ARG_STRUCT = 0, ARG_INT = 1, ARG_BAD = 2 };
enum { P_IN = 1, P_OUT = 2, P_INOUT = 3, P_BAD = 4 };
enum { MK_ANON = 0, MK_PRIVATE = 1, MK_HUGETLB = 2, MK_SHARED_FILE = 3, MK_PRIVATE_FILE = 4 };

struct op {
	uint32_t len;
	uint16_t kind, flags;
	uint32_t pid;
	int32_t fd;
	uint32_t ev;
	uint32_t reserved;
	/* payload follows */
};

struct worker {
	int32_t tpid;	/* trace pid */
	int32_t rpid;	/* real pid */
	uint32_t state; /* 0 free, 1 alive, 2 exiting, 3 dead */
};

struct ctl {
	uint32_t turn;	/* futex: bumped on every hand-over */
	int32_t owner;	/* worker index whose turn it is, -1: the supervisor */
	uint32_t next;	/* index of the next op of the current trace */
	uint32_t nw;
	uint64_t out_len;
	int32_t exiting; /* worker index that just performed `exit` */
	uint32_t pad;
	struct worker w[MAXW];
};

static struct ctl *ctl;
static char *out_buf;
static const unsigned char *input;
static size_t input_len;

/* the current trace */
static const struct op **ops;
static uint32_t nops;
static uint32_t trace_pos; /* the trace's position in the input */
static uint32_t trace_timeout_ms = 60000;

/* this process */
static int me = -1; /* worker index, -1 in the supervisor */
static struct { uint64_t start, end; } own[MAX_OWN];
static int nown;
#define NFD 4096
static unsigned char fd_kind[NFD]; /* 1 iommufd 2 fault 3 access 4 file 5 memfd */

static unsigned char line[LINE_MAX_BYTES];
static size_t line_len;

static void die(const char *msg)
{
	dprintf(2, "executor: %s (errno %d)\n", msg, errno);
	_exit(3);
}

/* ------------------------------------------------------------------ records */

static int overflow;

static void put(const void *s, size_t n)
{
	if (line_len + n > LINE_MAX_BYTES) {
		overflow = 1;
		return;
	}
	memcpy(line + line_len, s, n);
	line_len += n;
}

static void put8(unsigned v)
{
	unsigned char b = v;

	put(&b, 1);
}

static void putv(uint64_t v) /* LEB128 */
{
	unsigned char b[10];
	int n = 0;

	do {
		b[n++] = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v);
	put(b, n);
}

static void putz(int64_t v) /* zigzag LEB128 */
{
	putv(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void begin(unsigned tag, int64_t ev)
{
	line_len = 0;
	put8(tag);
	if (ev >= 0)
		putv(ev);
}

static void finish(void)
{
	uint64_t at;

	if (overflow)
		die("a record larger than the record buffer");
	at = __atomic_fetch_add(&ctl->out_len, line_len, __ATOMIC_SEQ_CST);
	if (at + line_len > OUT_SIZE)
		die("the records of one trace overflow the output buffer");
	memcpy(out_buf + at, line, line_len);
}

/* Every op but an ioctl: return value, errno, bytes read (if any). */
static void result(const struct op *o, int64_t ret, int err, const void *data, size_t n)
{
	begin(R_RESULT, o->ev);
	putz(ret);
	putv(ret < 0 ? err : 0);
	putv(n);
	put(data, n);
	finish();
}

static void skip_record(const struct op *o, const char *why)
{
	begin(R_SKIP, o->ev);
	putv(strlen(why));
	put(why, strlen(why));
	finish();
}

/* ------------------------------------------------------------ user memory */

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t in_guard;

static void on_fault(int sig)
{
	if (in_guard) {
		in_guard = 0;
		siglongjmp(fault_jmp, sig);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Safe copy out of our own address space: bytes copied, or -1. */
static ssize_t safe_read(void *dst, uint64_t src, size_t len)
{
	struct iovec l = { .iov_base = dst, .iov_len = len };
	struct iovec r = { .iov_base = (void *)(uintptr_t)src, .iov_len = len };

	if (!len)
		return 0;
	if (!src)
		return -1;
	return syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0);
}

/*
 * A buffer the struct points to, as the capture shim reads it: `len` bytes
 * at `uptr`. Buffers read before the call are the host's own bytes: only a
 * fault or a truncation is said; those read after it go with their bytes.
 */
static void put_user(unsigned id, uint64_t uptr, uint64_t len)
{
	static unsigned char buf[MAX_ARRAY];
	size_t n = len > MAX_ARRAY ? MAX_ARRAY : len;
	ssize_t got = safe_read(buf, uptr, n);
	unsigned flags = (got < 0 || (size_t)got != n ? B_FAULT : 0) | (n != len ? B_TRUNC : 0);

	if (!(id & B_OUT) && !flags)
		return;
	put8(id | flags);
	putv(len);
	if ((id & B_OUT) && !(flags & B_FAULT))
		put(buf, n);
}

static int overlaps_own(uint64_t start, uint64_t len)
{
	uint64_t end = start + len;
	int i;

	if (end < start)
		end = ~0UL;
	for (i = 0; i < nown; i++)
		if (own[i].start < end && start < own[i].end)
			return 1;
	return 0;
}

static void read_own_maps(void)
{
	static char buf[65536];
	ssize_t n, r;
	char *p;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("open /proc/self/maps");
	n = 0;
	while ((r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	nown = 0;
	for (p = buf; *p && nown < MAX_OWN;) {
		char *eol = strchr(p, '\n');

		own[nown].start = strtoull(p, &p, 16);
		if (*p == '-')
			p++;
		own[nown].end = strtoull(p, &p, 16);
		/* the stack grows down: keep 16 MiB below it free of trace memory */
		if (eol && memmem(p, eol - p, "[stack]", 7) && own[nown].start > (16UL << 20))
			own[nown].start -= 16UL << 20;
		/* and the heap may grow: keep 256 MiB above it */
		if (eol && memmem(p, eol - p, "[heap]", 6))
			own[nown].end += 256UL << 20;
		nown++;
		if (!eol)
			break;
		p = eol + 1;
	}
}

/* ------------------------------------------------------------ input cursor */

struct cur {
	const unsigned char *p, *end;
};

static uint32_t g32(struct cur *c)
{
	uint32_t v = 0;

	if (c->p + 4 <= c->end)
		memcpy(&v, c->p, 4);
	c->p += 4;
	return v;
}

static uint64_t g64(struct cur *c)
{
	uint64_t v = 0;

	if (c->p + 8 <= c->end)
		memcpy(&v, c->p, 8);
	c->p += 8;
	return v;
}

/* n bytes, the cursor moves past them and their padding to 4 */
static const unsigned char *gbytes(struct cur *c, uint32_t n)
{
	const unsigned char *b = c->p;

	c->p += (n + 3) & ~3U;
	if (c->p > c->end)
		die("truncated input");
	return b;
}

static struct cur payload(const struct op *o)
{
	struct cur c = { (const unsigned char *)(o + 1), (const unsigned char *)o + o->len };

	return c;
}

/* ------------------------------------------------------------ ioctl */

static unsigned char *slot(int i)
{
	return (unsigned char *)(SLOT_BASE + (uint64_t)i * SLOT_STRIDE);
}

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
	if (!page_size)
		return 0;
	return (length / page_size + 7) / 8;
}

static int vfio_nr_is_struct(unsigned int nr)
{
	return nr == 112 || nr == 113 || nr == 114 || nr == 117;
}

struct patch {
	uint32_t off;
	uint64_t orig, addr;
};

/* The trace's own pointer value back into a struct image (the bytes of it that lie inside). */
static void restore(unsigned char *img, size_t n, const struct patch *p, int only_if_unchanged)
{
	size_t k, len = p->off >= n ? 0 : n - p->off < 8 ? n - p->off : 8;

	if (only_if_unchanged && memcmp(img + p->off, &p->addr, len))
		return;
	for (k = 0; k < len; k++)
		img[p->off + k] = ((const unsigned char *)&p->orig)[k];
}

static void do_ioctl(const struct op *o)
{
	static unsigned char before[MAX_STRUCT], after[MAX_STRUCT];
	struct cur c = payload(o);
	uint32_t req = g32(&c), mode = g32(&c);
	uint64_t iarg = g64(&c);
	uint32_t blen = g32(&c), npatch = g32(&c);
	const unsigned char *bytes = gbytes(&c, blen);
	unsigned int type = (req >> 8) & 0xff, nr = req & 0xff;
	struct patch patches[NSLOTS];
	unsigned char *arg = NULL;
	uint32_t size = 0, i, np = 0;
	ssize_t nb = -1, na = -1;
	int ret, err, is_struct;

	(void)type;
	if (mode == ARG_STRUCT) {
		if (blen > SLOT_SIZE)
			blen = SLOT_SIZE;
		arg = slot(0) + SLOT_SIZE - ((blen + 7) & ~7U);
		memcpy(arg, bytes, blen);
		memset(arg + blen, 0, ((blen + 7) & ~7U) - blen);
	}
	for (i = 0; i < npatch; i++) {
		uint32_t off = g32(&c), pm = g32(&c), len = g32(&c), dlen = g32(&c);
		const unsigned char *data = gbytes(&c, dlen);
		uint64_t addr;

		if (!arg || off + 8 > blen || np + 1 >= NSLOTS)
			continue;
		if (pm == P_BAD) {
			addr = BAD_PTR;
		} else {
			unsigned char *s;

			if (len > SLOT_SIZE)
				len = SLOT_SIZE;
			if (dlen > len)
				dlen = len;
			s = slot(np + 1) + SLOT_SIZE - len;
			memcpy(s, data, dlen);
			memset(s + dlen, 0, len - dlen);
			addr = (uintptr_t)s;
		}
		patches[np].off = off;
		memcpy(&patches[np].orig, arg + off, 8);
		patches[np].addr = addr;
		memcpy(arg + off, &addr, 8);
		np++;
	}

	is_struct = nr >= 0x80 || vfio_nr_is_struct(nr);
	if (mode == ARG_STRUCT && is_struct) {
		size = rd32(arg, blen, 0);
		nb = size > MAX_STRUCT ? MAX_STRUCT : size;
		if ((uint32_t)nb > blen)
			nb = blen;
		memcpy(before, arg, nb);
	}

	/* buffers read before the call: only their faults and truncations are recorded */
	static unsigned char pre[64];
	size_t npre = 0;

	line_len = 0;
	if (nb >= 0) {
		switch (nr) {
		case 0x82:
			put_user(B_ALLOWED_IOVAS, rd64(before, nb, 16), (uint64_t)rd32(before, nb, 8) * 16);
			break;
		case 0x89:
			if (rd32(before, nb, 28) || rd64(before, nb, 32))
				put_user(B_DATA, rd64(before, nb, 32), rd32(before, nb, 28));
			break;
		case 0x8c:
			put_user(B_BITMAP, rd64(before, nb, 40), bitmap_bytes(rd64(before, nb, 24), rd64(before, nb, 32)));
			break;
		case 0x8d:
			put_user(B_ENTRIES, rd64(before, nb, 8), (uint64_t)rd32(before, nb, 20) * rd32(before, nb, 24));
			break;
		case 0xa0:
			if (rd32(before, nb, 4) == IOMMU_TEST_OP_ACCESS_RW)
				put_user(B_RW_BUF, rd64(before, nb, 32), rd64(before, nb, 24));
			else if (rd32(before, nb, 4) == IOMMU_TEST_OP_DIRTY)
				put_user(B_BITMAP, rd64(before, nb, 48), bitmap_bytes(rd64(before, nb, 32), rd64(before, nb, 40)));
			break;
		}
	}
	npre = line_len;
	memcpy(pre, line, npre);

	if (mode == ARG_INT)
		ret = ioctl(o->fd, req, (unsigned long)iarg);
	else if (mode == ARG_BAD)
		ret = ioctl(o->fd, req, (void *)BAD_PTR);
	else
		ret = ioctl(o->fd, req, arg);
	err = errno;

	begin(R_IOCTL, o->ev);
	putz(ret);
	putv(ret < 0 ? err : 0);
	put8(!is_struct ? F_ARG : nb < 0 ? F_IN_FAULT : size > MAX_STRUCT ? F_TRUNC : 0);
	if (nb >= 0) {
		/* the struct after the call, as runs of the bytes that differ from before (the trace's pointers shown) */
		unsigned char shown_in[MAX_STRUCT], shown[MAX_STRUCT];
		uint32_t k, nruns = 0, last;

		na = nb;
		memcpy(after, arg, na);
		memcpy(shown_in, before, nb);
		memcpy(shown, after, na);
		for (i = 0; i < np; i++) {
			restore(shown_in, nb, &patches[i], 0);
			restore(shown, na, &patches[i], 1);
		}
		for (k = 0; k < (uint32_t)na; k++)
			if (shown[k] != shown_in[k] && (k == 0 || shown[k - 1] == shown_in[k - 1]))
				nruns++;
		putv(nruns);
		last = 0;
		for (k = 0; k < (uint32_t)na;) {
			uint32_t e;

			if (shown[k] == shown_in[k]) {
				k++;
				continue;
			}
			for (e = k; e < (uint32_t)na && shown[e] != shown_in[e]; e++)
				;
			putv(k - last);
			putv(e - k);
			put(shown + k, e - k);
			last = e;
			k = e;
		}
	}
	put(pre, npre);
	if (nb >= 0) {
		switch (nr) {
		case 0x84: {
			uint32_t nin = rd32(before, nb, 8), nout = rd32(after, na, 8);
			uint32_t n = nin < nout ? nin : nout;

			if (n)
				put_user(B_OUT | B_ALLOWED_IOVAS, rd64(before, nb, 16), (uint64_t)n * 16);
			break;
		}
		case 0x8a:
			if (rd32(before, nb, 12) && rd64(before, nb, 16))
				put_user(B_OUT | B_DATA, rd64(before, nb, 16), rd32(before, nb, 12));
			break;
		case 0x8c:
			put_user(B_OUT | B_BITMAP, rd64(before, nb, 40), bitmap_bytes(rd64(before, nb, 24), rd64(before, nb, 32)));
			break;
		case 0x8d:
			put_user(B_OUT | B_ENTRIES, rd64(before, nb, 8), (uint64_t)rd32(before, nb, 20) * rd32(before, nb, 24));
			break;
		case 0x8e:
			if (ret == 0 && rd32(after, na, 12) < NFD)
				fd_kind[rd32(after, na, 12)] = 2;
			break;
		case 0xa0:
			if (rd32(before, nb, 4) == IOMMU_TEST_OP_ACCESS_RW)
				put_user(B_OUT | B_RW_BUF, rd64(before, nb, 32), rd64(before, nb, 24));
			else if (ret == 0 && rd32(before, nb, 4) == IOMMU_TEST_OP_CREATE_ACCESS && rd32(after, na, 16) < NFD)
				fd_kind[rd32(after, na, 16)] = 3;
			break;
		}
	}
	put8(0);
	if (o->fd >= 0 && o->fd < NFD && !fd_kind[o->fd])
		fd_kind[o->fd] = 1;
	finish();
}

/* ------------------------------------------------------------ environment */

static void do_mmap(const struct op *o)
{
	struct cur c = payload(o);
	uint64_t va = g64(&c), len = g64(&c);
	uint32_t kx = g32(&c), prot = g32(&c);
	/* the kind in the low byte, the call's other MAP_* flags (MAP_LOCKED and up) above it */
	uint32_t kind = kx & 0xff, extra = kx & ~0xffu;
	uint64_t off = g64(&c);
	int flags = 0, fd = -1, tmp = -1, err = 0;
	void *r = MAP_FAILED;
	uint64_t rlen = kind == MK_HUGETLB ? (len + (2UL << 20) - 1) & ~((2UL << 20) - 1) : (len + 4095) & ~4095UL;

	switch (kind) {
	case MK_ANON: flags = MAP_SHARED | MAP_ANONYMOUS; break;
	case MK_PRIVATE: flags = MAP_PRIVATE | MAP_ANONYMOUS; break;
	case MK_HUGETLB: flags = MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB; break;
	case MK_SHARED_FILE: flags = MAP_SHARED; fd = o->fd; break;
	default: flags = MAP_PRIVATE; fd = o->fd; break;
	}
	if (kind == MK_PRIVATE_FILE && fd < 0) {
		/* a private mapping of some regular file the trace does not name */
		tmp = open("/tmp", O_TMPFILE | O_RDWR, 0600);
		if (tmp >= 0 && ftruncate(tmp, off + rlen) == 0)
			fd = tmp;
	}
	/* An unaligned address or a length of 0 never maps anything: the kernel answers for them
	 * (in its own order: EINVAL, or ENOMEM for a range past TASK_SIZE), not the executor. */
	if (va % 4096 == 0 && len && overlaps_own(va, rlen)) {
		if (tmp >= 0)
			close(tmp);
		skip_record(o, "the executor's own memory");
		return;
	} else {
		r = mmap((void *)va, len, prot, flags | MAP_FIXED | (int)extra, fd, off);
		if (r == MAP_FAILED)
			err = errno;
	}
	if (tmp >= 0)
		close(tmp);
	result(o, r == MAP_FAILED ? -1 : (int64_t)(uintptr_t)r, err, NULL, 0);
}

/* munmap, mprotect, madvise, mlock, munlock: never on the executor's own memory */
static void do_range(const struct op *o)
{
	struct cur c = payload(o);
	uint64_t va = g64(&c), len = g64(&c);
	uint32_t x = g32(&c);
	long ret;
	int err;

	if (va < TASK_END && len < TASK_END && overlaps_own(va & ~4095UL, len + (va & 4095))) {
		skip_record(o, "the executor's own memory");
		return;
	}
	if (o->kind == OP_MUNMAP)
		ret = munmap((void *)va, len);
	else if (o->kind == OP_MPROTECT)
		ret = mprotect((void *)va, len, x);
	else if (o->kind == OP_MLOCK)
		ret = syscall(SYS_mlock2, va, len, x); /* mlock(2) is mlock2 with flags 0 */
	else if (o->kind == OP_MUNLOCK)
		ret = munlock((void *)va, len);
	else
		ret = madvise((void *)va, len, x);
	err = errno;
	result(o, ret, err, NULL, 0);
}

/*
 * mlockall: MCL_CURRENT would lock the executor's own memory too (the model
 * answers it as not modelled), so only MCL_FUTURE alone is run. A mapping
 * the executor makes for itself afterwards would be locked as well: it makes
 * none while running a trace.
 */
static void do_mlockall(const struct op *o)
{
	struct cur c = payload(o);
	uint32_t flags = g32(&c);
	long ret;
	int err;

	if ((flags & MCL_CURRENT) && !(flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT))) {
		skip_record(o, "mlockall(MCL_CURRENT) locks the executor's own memory");
		return;
	}
	ret = mlockall(flags);
	err = errno;
	result(o, ret, err, NULL, 0);
}

static void do_munlockall(const struct op *o)
{
	long ret = munlockall();
	int err = errno;

	result(o, ret, err, NULL, 0);
}

static void do_memwrite(const struct op *o)
{
	struct cur c = payload(o);
	volatile uint64_t va = g64(&c);
	volatile uint32_t n = g32(&c);
	const unsigned char *volatile data = gbytes(&c, n);
	volatile int sig = 0;

	if (va + n < va || overlaps_own(va, n)) {
		skip_record(o, "the executor's own memory");
		return;
	}
	/*
	 * Byte by byte, forward, as copy_to_user goes: a store to a page it
	 * cannot write stops it there, with the bytes before written and
	 * their pages faulted in (memcpy's order of stores is the library's).
	 */
	if (!(sig = sigsetjmp(fault_jmp, 1))) {
		volatile unsigned char *dst = (volatile unsigned char *)(uintptr_t)va;

		in_guard = 1;
		for (uint32_t i = 0; i < n; i++)
			dst[i] = data[i];
		in_guard = 0;
	}
	result(o, sig ? -1 : 0, EFAULT, NULL, 0);
}

static void do_memread(const struct op *o)
{
	static unsigned char buf[MAX_ARRAY];
	struct cur c = payload(o);
	uint64_t va = g64(&c);
	uint32_t n = g32(&c);
	ssize_t got;

	if (n > MAX_ARRAY)
		n = MAX_ARRAY;
	got = safe_read(buf, va, n);
	if (got != (ssize_t)n)
		result(o, -1, EFAULT, NULL, 0);
	else
		result(o, 0, 0, buf, n);
}

static void do_open(const struct op *o)
{
	struct cur c = payload(o);
	uint32_t given = g32(&c), n = g32(&c);
	const unsigned char *p = gbytes(&c, n);
	/* past PATH_MAX (4096), so that the kernel's ENAMETOOLONG is its own answer */
	static char path[2 * 4096 + 1];
	int fd, flags;

	if (n >= sizeof(path)) {
		skip_record(o, "a path longer than the executor takes (8 KiB)");
		return;
	}
	memcpy(path, p, n);
	path[n] = 0;
	/*
	 * The trace's flags when it has them; else /tmp files are scratch files
	 * (created), devices are opened read-write, anything else read-only
	 * (a program's own binary cannot be opened for writing: ETXTBSY).
	 */
	if (given != 0xffffffffU)
		flags = given;
	else if (!strncmp(path, "/tmp/", 5))
		flags = O_RDWR | O_CREAT;
	else if (!strncmp(path, "/dev/", 5))
		flags = O_RDWR;
	else
		flags = O_RDONLY;
	fd = open(path, flags, 0600);
	result(o, fd, errno, NULL, 0);
	if (fd >= 0 && fd < NFD)
		fd_kind[fd] = strcmp(path, "/dev/iommu") ? 4 : 1;
}

static void do_close(const struct op *o)
{
	int kind = o->fd >= 0 && o->fd < NFD ? fd_kind[o->fd] : 0;
	int ret = close(o->fd), err = errno;

	result(o, ret, err, NULL, 0);
	if (kind)
		fd_kind[o->fd] = 0;
}

static void do_memfd(const struct op *o)
{
	struct cur c = payload(o);
	uint32_t n = g32(&c);
	const unsigned char *p = gbytes(&c, n);
	uint32_t flags = g32(&c);
	char name[300];
	int fd;

	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, p, n);
	name[n] = 0;
	fd = memfd_create(name, flags);
	result(o, fd, errno, NULL, 0);
	if (fd >= 0 && fd < NFD)
		fd_kind[fd] = 5;
}

static void do_ftruncate(const struct op *o)
{
	struct cur c = payload(o);
	uint64_t len = g64(&c);
	int ret = ftruncate(o->fd, len);

	result(o, ret, errno, NULL, 0);
}

/* mremap: never of, or onto, the executor's own memory */
static void do_mremap(const struct op *o)
{
	struct cur c = payload(o);
	uint64_t va = g64(&c), olen = g64(&c), nlen = g64(&c);
	uint32_t flags = g32(&c);
	uint64_t naddr = g64(&c);
	void *r;

	if ((va < TASK_END && olen < TASK_END && overlaps_own(va & ~4095UL, olen + (va & 4095))) ||
	    ((flags & MREMAP_FIXED) && naddr < TASK_END && nlen < TASK_END && overlaps_own(naddr & ~4095UL, nlen + (naddr & 4095)))) {
		skip_record(o, "the executor's own memory");
		return;
	}
	r = mremap((void *)va, olen, nlen, flags, (void *)naddr);
	result(o, r == MAP_FAILED ? -1 : (int64_t)(uintptr_t)r, r == MAP_FAILED ? errno : 0, NULL, 0);
}

static void do_fallocate(const struct op *o)
{
	struct cur c = payload(o);
	uint32_t mode = g32(&c);
	uint64_t off = g64(&c), len = g64(&c);
	int ret = fallocate(o->fd, mode, (off_t)off, (off_t)len);

	result(o, ret, errno, NULL, 0);
}

static void do_readfd(const struct op *o)
{
	static unsigned char buf[MAX_ARRAY];
	struct cur c = payload(o);
	uint32_t count = g32(&c);
	uint64_t pos = g64(&c);
	ssize_t ret;
	int err;

	if (count > MAX_ARRAY)
		count = MAX_ARRAY;
	ret = pos ? pread(o->fd, buf, count, pos) : read(o->fd, buf, count);
	err = errno;
	result(o, ret, err, buf, ret > 0 ? ret : 0);
}

static void do_writefd(const struct op *o)
{
	struct cur c = payload(o);
	uint32_t count = g32(&c);
	uint64_t pos = g64(&c);
	uint32_t bad = g32(&c), dlen = g32(&c);
	const unsigned char *data = gbytes(&c, dlen);
	unsigned char *buf = slot(1) + SLOT_SIZE - dlen;
	const void *p;
	ssize_t ret;
	int err;

	if (dlen > SLOT_SIZE)
		die("write too long");
	memcpy(buf, data, dlen);
	/* `count` beyond the data runs into the guard page */
	p = bad ? (const void *)BAD_PTR : (const void *)buf;
	ret = pos ? pwrite(o->fd, p, count, pos) : write(o->fd, p, count);
	err = errno;
	result(o, ret, err, NULL, 0);
}

static void do_capdrop(const struct op *o)
{
	struct cur c = payload(o);
	uint32_t cap = g32(&c);
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	long ret = syscall(SYS_capget, &h, d);

	if (ret == 0 && cap < 64) {
		d[cap / 32].effective &= ~(1U << (cap % 32));
		d[cap / 32].permitted &= ~(1U << (cap % 32));
		d[cap / 32].inheritable &= ~(1U << (cap % 32));
		ret = syscall(SYS_capset, &h, d);
	}
	result(o, ret, errno, NULL, 0);
}

static void do_rlimit(const struct op *o)
{
	struct cur c = payload(o);
	uint64_t bytes = g64(&c);
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = RLIM_INFINITY };
	struct rlimit old;
	int ret;

	/*
	 * Only the soft limit moves: iommufd charges against rlimit(RLIMIT_MEMLOCK),
	 * the soft one, and that is what the model's set_rlimit_memlock sets. The
	 * hard limit stays where the process started (RLIM_INFINITY): lowering it
	 * would be for good without CAP_SYS_RESOURCE, and a later raise of the
	 * soft limit above it fails (EINVAL), leaving the process below the limit
	 * the trace says it has (oracle fuzz seed 6: memlock 0, then unlimited,
	 * then IOAS_MAP: ENOMEM from the kernel, success from the model).
	 */
	if (getrlimit(RLIMIT_MEMLOCK, &old) == 0)
		rl.rlim_max = old.rlim_max;
	ret = setrlimit(RLIMIT_MEMLOCK, &rl);
	result(o, ret, errno, NULL, 0);
}

static void do_extfds(const struct op *o)
{
	struct cur c = payload(o);
	uint32_t n = g32(&c), i;
	int ret = 0, err = 0;

	for (i = 0; i < n; i++) {
		int fd = (int)g32(&c);

		if (fd < 0 || fd >= 1000 || fcntl(fd, F_GETFD) >= 0)
			continue;
		int nul = open("/dev/null", O_RDWR);

		if (nul < 0) {
			ret = -1;
			err = errno;
			continue;
		}
		if (nul != fd) {
			if (dup2(nul, fd) < 0) {
				ret = -1;
				err = errno;
			}
			close(nul);
		}
		if (fd < NFD)
			fd_kind[fd] = 4;
	}
	result(o, ret, err, NULL, 0);
}

/* insertion sort of [start, end) pairs by start (no qsort: it may malloc) */
static void sort_ranges(uint64_t *r, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		uint64_t s = r[2 * i], e = r[2 * i + 1];
		uint32_t j = i;

		for (; j > 0 && r[2 * (j - 1)] > s; j--) {
			r[2 * j] = r[2 * (j - 1)];
			r[2 * j + 1] = r[2 * (j - 1) + 1];
		}
		r[2 * j] = s;
		r[2 * j + 1] = e;
	}
}

/*
 * A maps snapshot: the process's memory is exactly these regions (the
 * model's reading). Trace memory outside them goes; what the process lacks
 * is mapped, where the executor has nothing.
 */
static void do_maps(const struct op *o)
{
	struct cur c = payload(o);
	uint32_t n = g32(&c), i, skipped = 0, mapped = 0, failed = 0, unmapped = 0;
	static uint64_t keep[2 * (MAX_OWN + 4096)];
	uint32_t nk = 0;
	uint64_t pos = 0x10000;
	struct cur c0 = c;

	/*
	 * unmap the gaps between the snapshot's regions and the executor's own (a refusal, as a
	 * hugetlb VMA's cut off its huge page, leaves the process other than the snapshot: failed)
	 */
	for (i = 0; i < n && nk < 4096; i++) {
		keep[2 * nk] = g64(&c);
		keep[2 * nk + 1] = g64(&c);
		g32(&c);
		g32(&c);
		nk++;
	}
	for (i = 0; i < (uint32_t)nown; i++, nk++) {
		keep[2 * nk] = own[i].start;
		keep[2 * nk + 1] = own[i].end;
	}
	sort_ranges(keep, nk);
	for (i = 0; i < nk; i++) {
		if (keep[2 * i] > pos && keep[2 * i] <= TASK_END) {
			if (munmap((void *)pos, keep[2 * i] - pos))
				failed++;
			unmapped++;
		}
		if (keep[2 * i + 1] > pos)
			pos = keep[2 * i + 1];
	}
	if (pos < TASK_END) {
		if (munmap((void *)pos, TASK_END - pos))
			failed++;
		unmapped++;
	}
	c = c0;
	for (i = 0; i < n; i++) {
		uint64_t start = g64(&c), end = g64(&c);
		uint32_t kind = g32(&c), prot = g32(&c);
		int flags = kind == 1 ? MAP_SHARED | MAP_ANONYMOUS : kind == 2 ? MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB : MAP_PRIVATE | MAP_ANONYMOUS;
		uint64_t step = kind == 2 ? 2UL << 20 : 4096, a;

		/* page by page where the executor is in the way */
		if (!overlaps_own(start, end - start)) {
			if (mmap((void *)start, end - start, prot, flags | MAP_FIXED_NOREPLACE, -1, 0) != MAP_FAILED) {
				mapped++;
				continue;
			}
			if (errno != EEXIST) {
				failed++;
				continue;
			}
			/*
			 * (partly) there already: fill each hole with one mapping, as the model does
			 * (page by page, every page would be a VMA of its own, and a shared one its own
			 * shmem file), then give it all the snapshot's protection
			 */
			for (a = start; a < end;) {
				unsigned char vec;
				uint64_t b = a;

				/* mincore: ENOMEM where nothing is mapped */
				while (b < end && mincore((void *)b, 4096, &vec) && errno == ENOMEM)
					b += step;
				if (b == a) {
					a += step;
					continue;
				}
				if (mmap((void *)a, b - a, prot, flags | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED)
					failed++;
				a = b;
			}
			/* (refused for a hugetlb VMA the region cuts off its huge page: failed) */
			if (mprotect((void *)start, end - start, prot))
				failed++;
			continue;
		}
		for (a = start; a < end; a += step) {
			if (overlaps_own(a, step)) {
				skipped++;
				continue;
			}
			if (mmap((void *)a, step, prot, flags | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED && errno != EEXIST)
				failed++;
		}
	}
	(void)mapped;
	{
		uint32_t stats[4] = { n, unmapped, skipped, failed };

		result(o, 0, 0, stats, sizeof(stats));
	}
}

static void do_note(const struct op *o)
{
	result(o, 0, 0, NULL, 0);
}

/* ------------------------------------------------------------ turn taking */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *t)
{
	return syscall(SYS_futex, uaddr, op, val, t, NULL, 0);
}

static void hand_over(int to)
{
	__atomic_store_n(&ctl->owner, to, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&ctl->turn, 1, __ATOMIC_SEQ_CST);
	futex(&ctl->turn, FUTEX_WAKE, 0x7fffffff, NULL);
}

static int worker_of(uint32_t tpid)
{
	for (uint32_t i = 0; i < ctl->nw; i++)
		if (ctl->w[i].tpid == (int32_t)tpid && (ctl->w[i].state == 1))
			return i;
	return -1;
}

static void worker_loop(void) __attribute__((noreturn));

static void worker_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void do_fork(const struct op *o)
{
	struct cur c = payload(o);
	uint32_t child = g32(&c);
	int k = -1;
	long pid;

	if (ctl->nw < MAXW) {
		k = ctl->nw++;
		ctl->w[k].tpid = child;
		ctl->w[k].rpid = 0;
		ctl->w[k].state = 1;
	}
	pid = k < 0 ? (errno = EAGAIN, -1) : syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
	if (pid == 0) {
		me = k;
		__atomic_store_n(&ctl->w[k].rpid, getpid(), __ATOMIC_SEQ_CST);
		worker_loop();
	}
	if (pid < 0 && k >= 0)
		ctl->w[k].state = 0;
	else if (pid > 0)
		ctl->w[k].rpid = pid;
	result(o, pid < 0 ? -1 : 0, errno, NULL, 0);
}

static void run_op(const struct op *o)
{
	switch (o->kind) {
	case OP_IOCTL: do_ioctl(o); break;
	case OP_OPEN: do_open(o); break;
	case OP_CLOSE: do_close(o); break;
	case OP_MMAP: do_mmap(o); break;
	case OP_MUNMAP:
	case OP_MPROTECT:
	case OP_MADVISE:
	case OP_MLOCK:
	case OP_MUNLOCK: do_range(o); break;
	case OP_MLOCKALL: do_mlockall(o); break;
	case OP_MUNLOCKALL: do_munlockall(o); break;
	case OP_MEMWRITE: do_memwrite(o); break;
	case OP_MEMREAD: do_memread(o); break;
	case OP_MEMFD: do_memfd(o); break;
	case OP_FTRUNCATE: do_ftruncate(o); break;
	case OP_FALLOCATE: do_fallocate(o); break;
	case OP_MREMAP: do_mremap(o); break;
	case OP_READFD: do_readfd(o); break;
	case OP_WRITEFD: do_writefd(o); break;
	case OP_CAPDROP: do_capdrop(o); break;
	case OP_RLIMIT: do_rlimit(o); break;
	case OP_FORK: do_fork(o); break;
	case OP_EXTFDS: do_extfds(o); break;
	case OP_MAPS: do_maps(o); break;
	default: do_note(o); break;
	}
}

/* time spent per op kind (ioctls by nr, test ops by op), in shared memory */
static double *prof_op;

static int prof_key(const struct op *o)
{
	if (o->kind != OP_IOCTL)
		return 512 + o->kind;
	{
		struct cur c = payload(o);
		uint32_t req = g32(&c), mode = g32(&c);

		g64(&c);
		uint32_t blen = g32(&c);

		g32(&c);
		if ((req & 0xff) == 0xa0 && mode == ARG_STRUCT && blen >= 8)
			return 256 + (c.p[4] & 0xff);
		return req & 0xff;
	}
}

static void worker_loop(void)
{
	for (;;) {
		uint32_t t = __atomic_load_n(&ctl->turn, __ATOMIC_SEQ_CST);

		if (__atomic_load_n(&ctl->owner, __ATOMIC_SEQ_CST) != me) {
			futex(&ctl->turn, FUTEX_WAIT, t, NULL);
			continue;
		}
		/* my turn: run my ops until one belongs to another process */
		while (ctl->next < nops) {
			const struct op *o = ops[ctl->next];

			if (o->pid != (uint32_t)ctl->w[me].tpid)
				break;
			if (o->kind == OP_EXIT) {
				result(o, 0, 0, NULL, 0);
				ctl->next++;
				ctl->w[me].state = 2;
				ctl->exiting = me;
				hand_over(-1);
				_exit(0);
			}
			{
				double t1 = now();

				run_op(o);
				if (prof_op) {
					int k = prof_key(o);

					prof_op[2 * k] += now() - t1;
					prof_op[2 * k + 1] += 1;
				}
			}
			ctl->next++;
		}
		{
			int to = ctl->next < nops ? worker_of(ops[ctl->next]->pid) : -1;

			hand_over(to);
		}
	}
}

/* ------------------------------------------------------------ supervisor */

static int out_fd = 1;
static volatile struct shm_hdr *shm; /* --shm: the host's shared memory */
static unsigned char *ring;

static void ring_write(const char *p, uint64_t n)
{
	uint64_t size = shm->ring_size;

	while (n) {
		uint64_t head = shm->head, tail = __atomic_load_n(&shm->tail, __ATOMIC_ACQUIRE);
		uint64_t pos = head % size, k = size - (head - tail);

		if (!k) {
			/* the host has not read the ring yet */
			struct timespec ts = { 0, 500 * 1000 };

			nanosleep(&ts, NULL);
			continue;
		}
		if (k > size - pos)
			k = size - pos;
		if (k > n)
			k = n;
		memcpy(ring + pos, p, k);
		__atomic_store_n(&shm->head, head + k, __ATOMIC_RELEASE);
		p += k;
		n -= k;
	}
}

static void flush_out(void)
{
	uint64_t n = ctl->out_len, off = 0;

	if (n > OUT_SIZE)
		n = OUT_SIZE;
	if (shm) {
		ring_write(out_buf, n);
		ctl->out_len = 0;
		return;
	}
	while (off < n) {
		ssize_t w = write(out_fd, out_buf + off, n - off);

		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			die("write output");
		}
		off += w;
	}
	ctl->out_len = 0;
}

static double prof_spawn, prof_kill, prof_flush;

static int spawn_fresh(uint32_t tpid)
{
	int k;
	pid_t pid;

	if (ctl->nw >= MAXW)
		return -1;
	k = ctl->nw++;
	ctl->w[k].tpid = tpid;
	ctl->w[k].rpid = 0;
	ctl->w[k].state = 1;
	pid = fork();
	if (pid < 0) {
		ctl->w[k].state = 0;
		return -1;
	}
	if (pid == 0) {
		struct rlimit inf = { RLIM_INFINITY, RLIM_INFINITY };

		me = k;
		ctl->w[k].rpid = getpid();
		/* a fresh process of the trace: no fds, no memlock limit (the model's default) */
		syscall(SYS_close_range, 0, ~0U, 0);
		setrlimit(RLIMIT_MEMLOCK, &inf);
		worker_setup();
		worker_loop();
	}
	ctl->w[k].rpid = pid;
	return k;
}

static void kill_all(void)
{
	for (uint32_t i = 0; i < ctl->nw; i++) {
		if (ctl->w[i].state == 1 || ctl->w[i].state == 2) {
			pid_t p = ctl->w[i].rpid;

			if (p > 0) {
				kill(p, SIGKILL);
				while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
					;
			}
			ctl->w[i].state = 3;
		}
	}
	/* anything else left (a worker that had not registered its pid yet) */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void end_record(int status, int detail)
{
	begin(R_END, -1);
	put8(status);
	putv(ctl->next);
	putz(detail);
	finish();
}

/* Runs the current trace; the result is in the records. */
static void run_trace(void)
{
	double deadline;
	uint32_t last_next = 0;

	memset(ctl->w, 0, sizeof(ctl->w));
	ctl->nw = 0;
	ctl->next = 0;
	ctl->exiting = -1;
	ctl->owner = -1;
	begin(R_TRACE, -1);
	putv(trace_pos);
	finish();
	deadline = now() + trace_timeout_ms / 1000.0;
	for (;;) {
		uint32_t t = __atomic_load_n(&ctl->turn, __ATOMIC_SEQ_CST);
		int status;
		pid_t p;

		if (__atomic_load_n(&ctl->owner, __ATOMIC_SEQ_CST) == -1) {
			int e = ctl->exiting;

			if (e >= 0) {
				while (waitpid(ctl->w[e].rpid, NULL, 0) < 0 && errno == EINTR)
					;
				ctl->w[e].state = 3;
				ctl->exiting = -1;
			}
			if (ctl->next >= nops) {
				end_record(0, 0);
				break;
			}
			const struct op *o = ops[ctl->next];
			int k = worker_of(o->pid);

			if (k < 0) {
				int dead = 0;

				for (uint32_t i = 0; i < ctl->nw; i++)
					if (ctl->w[i].tpid == (int32_t)o->pid && ctl->w[i].state == 3)
						dead = 1;
				if (dead) {
					skip_record(o, "the process has exited");
					ctl->next++;
					continue;
				}
				double ts = now();

				k = spawn_fresh(o->pid);
				prof_spawn += now() - ts;
				if (k < 0) {
					end_record(2, -1);
					break;
				}
			}
			hand_over(k);
			continue;
		}
		{
			struct timespec ts = { 0, 200 * 1000 * 1000 };

			futex(&ctl->turn, FUTEX_WAIT, t, &ts);
		}
		/* a worker that died without an `exit` op: the trace crashed it */
		while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
			int expected = 0;

			for (uint32_t i = 0; i < ctl->nw; i++)
				if (ctl->w[i].rpid == p) {
					expected = ctl->w[i].state == 2;
					ctl->w[i].state = 3;
				}
			if (!expected) {
				end_record(2, WIFSIGNALED(status) ? WTERMSIG(status) : 1000 + WEXITSTATUS(status));
				goto out;
			}
		}
		if (ctl->next != last_next) {
			last_next = ctl->next;
			deadline = now() + trace_timeout_ms / 1000.0;
		} else if (now() > deadline) {
			end_record(1, trace_timeout_ms);
			break;
		}
	}
out:
	{
		double t1 = now();

		kill_all();
		__atomic_store_n(&ctl->owner, -1, __ATOMIC_SEQ_CST);
		prof_kill += now() - t1;
		t1 = now();
		flush_out();
		prof_flush += now() - t1;
	}
}

/*
 * The ivshmem device (1af4:1110) the host put the input in: its BAR 2 at
 * SHM_BASE, for the supervisor alone (MADV_DONTFORK: a fork would copy
 * every page table entry of this PFN mapping, milliseconds under TCG). The
 * input is copied into a memfd mapped at EXE_BASE, which workers share
 * without copying anything.
 */
static void load_shm(void)
{
	static const char dir[] = "/sys/bus/pci/devices";
	char path[512], buf[32];
	struct dirent *e;
	DIR *d = opendir(dir);
	int fd = -1;

	if (!d)
		die("--shm: no /sys/bus/pci/devices");
	while (fd < 0 && (e = readdir(d))) {
		int f, ok = 1;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		for (int i = 0; i < 2 && ok; i++) {
			snprintf(path, sizeof(path), "%s/%s/%s", dir, e->d_name, i ? "device" : "vendor");
			f = open(path, O_RDONLY | O_CLOEXEC);
			n = f < 0 ? -1 : read(f, buf, sizeof(buf) - 1);
			if (f >= 0)
				close(f);
			buf[n > 0 ? n : 0] = 0;
			ok = !strncmp(buf, i ? "0x1110" : "0x1af4", 6);
		}
		if (!ok)
			continue;
		snprintf(path, sizeof(path), "%s/%s/resource2", dir, e->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	closedir(d);
	{
		struct stat st;
		void *p;

		if (fd < 0 || fstat(fd, &st))
			die("--shm: no ivshmem device (1af4:1110) with a BAR 2");
		p = mmap((void *)SHM_BASE, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
		if (p == MAP_FAILED)
			die("--shm: mmap of BAR 2");
		close(fd);
		if (madvise(p, st.st_size, MADV_DONTFORK))
			die("--shm: madvise(MADV_DONTFORK)");
		shm = p;
		/* the host may still be writing the input (it boots the guest first): its magic comes last */
		for (int waited = 0; memcmp((const void *)shm->magic, "IORWSHM1", 8) && waited < 600 * 1000; waited++) {
			struct timespec ts = { 0, 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (memcmp((const void *)shm->magic, "IORWSHM1", 8) || shm->input_off + shm->input_len > (uint64_t)st.st_size ||
		    shm->ring_off + shm->ring_size > (uint64_t)st.st_size || !shm->ring_size)
			die("--shm: not an iorewind shared memory (magic IORWSHM1)");
		ring = (unsigned char *)p + shm->ring_off;
		input_len = shm->input_len;
		{
			const unsigned char *src = (const unsigned char *)p + shm->input_off;
			int mfd = memfd_create("iorewind-input", MFD_CLOEXEC);
			uint64_t off = 0;
			void *m;

			if (mfd < 0)
				die("--shm: memfd_create");
			while (off < input_len) {
				ssize_t w = write(mfd, src + off, input_len - off);

				if (w <= 0)
					die("--shm: copying the input");
				off += w;
			}
			m = mmap((void *)EXE_BASE, input_len ? input_len : 1, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, mfd, 0);
			if (m == MAP_FAILED)
				die("--shm: mmap of the input");
			close(mfd);
			input = m;
		}
	}
}

static void load_input(const char *path)
{
	struct stat st;
	uint64_t off = 0, len;
	int fd = open(path ? path : "/proc/self/exe", O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0 || fstat(fd, &st))
		die("cannot open the input");
	len = st.st_size;
	if (!path) {
		unsigned char tr[24];

		if (pread(fd, tr, 24, st.st_size - 24) != 24 || memcmp(tr, "IORWPAY1", 8))
			die("no input: pass a file or append one to the binary");
		memcpy(&off, tr + 8, 8);
		memcpy(&len, tr + 16, 8);
		if (off % 4096 || off + len > (uint64_t)st.st_size)
			die("bad payload trailer");
	}
	p = mmap((void *)EXE_BASE, len ? len : 1, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, off);
	if (p == MAP_FAILED)
		die("mmap input");
	close(fd);
	input = p;
	input_len = len;
}

/*
 * khugepaged collapses 4 KiB pages of a VM_HUGEPAGE range into a huge page
 * whenever it wakes (every 10 s by default), which a trace does not show and
 * the model does not follow: an answer then hung on when the trace ran in its
 * boot (seed 102, 284; session 30's thp_populate 621/0999). In the guest it
 * sleeps for the whole run. (Writing the setting wakes it once, now, before
 * any trace has memory.)
 */
static void quiet_khugepaged(void)
{
	int fd = open("/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, "4294967295", 10) != 10)
		die("khugepaged: cannot set scan_sleep_millisecs");
	close(fd);
}

int main(int argc, char **argv)
{
	const char *cap = getenv("IOMMUFD_CAPTURE");
	struct cur c;
	uint32_t ntraces, version, t;
	double t0 = now();
	uint64_t total_ops = 0;
	int i, use_shm = argc > 1 && !strcmp(argv[1], "--shm");

	if (use_shm) {
		load_shm();
		quiet_khugepaged();
	}
	else
		load_input(argc > 1 ? argv[argc - 1] : NULL);
	if (input_len < 16 || memcmp(input, "IORWEXE1", 8))
		die("not an executor input (magic IORWEXE1)");
	c.p = input + 8;
	c.end = input + input_len;
	version = g32(&c);
	ntraces = g32(&c);
	if (version != 1)
		die("unsupported input version");
	trace_timeout_ms = g32(&c);
	g32(&c);

	if (!use_shm && cap && *cap) {
		out_fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out_fd < 0)
			die("cannot create the capture file");
	}
	ctl = mmap((void *)CTL_BASE, sizeof(struct ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	out_buf = mmap((void *)OUT_BASE, OUT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (ctl == MAP_FAILED || out_buf == MAP_FAILED)
		die("mmap shared areas");
	if (mmap((void *)SLOT_BASE, NSLOTS * SLOT_STRIDE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED)
		die("mmap slots");
	for (i = 0; i < NSLOTS; i++)
		if (mprotect(slot(i), SLOT_SIZE, PROT_READ | PROT_WRITE))
			die("mprotect slot");
	ops = (const struct op **)mmap((void *)(SLOT_BASE + NSLOTS * SLOT_STRIDE + (1UL << 30)), 64UL << 20, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (ops == MAP_FAILED)
		die("mmap op index");
	ctl->owner = -1;
	prof_op = mmap((void *)(CTL_BASE + (1UL << 20)), 1024 * 2 * sizeof(double), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (prof_op == MAP_FAILED)
		prof_op = NULL;
	read_own_maps();
	signal(SIGPIPE, SIG_IGN);

	for (t = 0; t < ntraces; t++) {
		uint32_t magic = g32(&c), index = g32(&c), n = g32(&c), namelen = g32(&c);
		uint32_t k;

		gbytes(&c, namelen);

		if (magic != 0x31435254)
			die("bad trace magic");
		if (n > (64UL << 20) / sizeof(void *))
			die("too many ops in one trace");
		(void)index;
		trace_pos = t;
		for (k = 0; k < n; k++) {
			const struct op *o = (const struct op *)c.p;

			if (c.p + sizeof(struct op) > c.end || o->len < sizeof(struct op) || c.p + o->len > c.end || o->len % 4)
				die("bad op");
			ops[k] = o;
			c.p += o->len;
		}
		nops = n;
		total_ops += n;
		run_trace();
	}
	dprintf(2, "executor: %u traces, %llu ops in %.2fs\n", ntraces, (unsigned long long)total_ops, now() - t0);
	dprintf(2, "executor: spawning %.2fs, ending traces %.2fs, writing records %.2fs\n", prof_spawn, prof_kill, prof_flush);
	for (i = 0; prof_op && i < 1024; i++)
		if (prof_op[2 * i + 1] > 0)
			dprintf(2, "executor: op %s%x: %.0f in %.3fs (%.0fus each)\n", i >= 512 ? "env " : i >= 256 ? "test op 0x" : "ioctl 0x", i >= 512 ? i - 512 : i >= 256 ? i - 256 : i,
				prof_op[2 * i + 1], prof_op[2 * i], prof_op[2 * i] / prof_op[2 * i + 1] * 1e6);
	if (shm)
		__atomic_store_n(&shm->done, 1, __ATOMIC_RELEASE);
	if (out_fd != 1)
		close(out_fd);
	return 0;
}
