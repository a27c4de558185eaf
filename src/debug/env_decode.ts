/**
 * Names for the flag and mode arguments of the environment events (the
 * system calls around the ioctls: open, mmap, mprotect, mremap, mlock,
 * memfd_create, fallocate, madvise), as the debugger's event view shows
 * them beside the numbers. The values are x86-64 Linux's
 * (asm-generic/fcntl.h, mman-common.h, asm/mman.h, linux/memfd.h,
 * linux/falloc.h); the model keeps its own copies where it acts on them.
 */
import type { Value } from '../events/event.js';
import { MADV } from '../model/madvise.js';

type Bits = readonly (readonly [number, string])[];

const OPEN_BITS: Bits = [
  [0o100, 'O_CREAT'],
  [0o200, 'O_EXCL'],
  [0o400, 'O_NOCTTY'],
  [0o1000, 'O_TRUNC'],
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'],
  [0o20000, 'O_ASYNC'],
  [0o40000, 'O_DIRECT'],
  [0o100000, 'O_LARGEFILE'],
  [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'],
  [0o1000000, 'O_NOATIME'],
  [0o2000000, 'O_CLOEXEC'],
  [0o4000000, '__O_SYNC'],
  [0o10000000, 'O_PATH'],
  [0o20000000, '__O_TMPFILE'],
];
const PROT_BITS: Bits = [
  [0x1, 'PROT_READ'],
  [0x2, 'PROT_WRITE'],
  [0x4, 'PROT_EXEC'],
  [0x8, 'PROT_SEM'],
  [0x01000000, 'PROT_GROWSDOWN'],
  [0x02000000, 'PROT_GROWSUP'],
];
// (the mapping's type, MAP_SHARED or MAP_PRIVATE, is the event's `kind`)
const MAP_BITS: Bits = [
  [0x10, 'MAP_FIXED'],
  [0x20, 'MAP_ANONYMOUS'],
  [0x40, 'MAP_32BIT'],
  [0x100, 'MAP_GROWSDOWN'],
  [0x800, 'MAP_DENYWRITE'],
  [0x1000, 'MAP_EXECUTABLE'],
  [0x2000, 'MAP_LOCKED'],
  [0x4000, 'MAP_NORESERVE'],
  [0x8000, 'MAP_POPULATE'],
  [0x10000, 'MAP_NONBLOCK'],
  [0x20000, 'MAP_STACK'],
  [0x40000, 'MAP_HUGETLB'],
  [0x80000, 'MAP_SYNC'],
  [0x100000, 'MAP_FIXED_NOREPLACE'],
  [0x4000000, 'MAP_UNINITIALIZED'],
];
const MREMAP_BITS: Bits = [
  [1, 'MREMAP_MAYMOVE'],
  [2, 'MREMAP_FIXED'],
  [4, 'MREMAP_DONTUNMAP'],
];
const MLOCK_BITS: Bits = [[1, 'MLOCK_ONFAULT']];
const MCL_BITS: Bits = [
  [1, 'MCL_CURRENT'],
  [2, 'MCL_FUTURE'],
  [4, 'MCL_ONFAULT'],
];
const MFD_BITS: Bits = [
  [1, 'MFD_CLOEXEC'],
  [2, 'MFD_ALLOW_SEALING'],
  [4, 'MFD_HUGETLB'],
  [8, 'MFD_NOEXEC_SEAL'],
  [0x10, 'MFD_EXEC'],
];
const FALLOC_BITS: Bits = [
  [0x01, 'FALLOC_FL_KEEP_SIZE'],
  [0x02, 'FALLOC_FL_PUNCH_HOLE'],
  [0x04, 'FALLOC_FL_NO_HIDE_STALE'],
  [0x08, 'FALLOC_FL_COLLAPSE_RANGE'],
  [0x10, 'FALLOC_FL_ZERO_RANGE'],
  [0x20, 'FALLOC_FL_INSERT_RANGE'],
  [0x40, 'FALLOC_FL_UNSHARE_RANGE'],
];
/** The huge page size in bits 26..31 (MAP_HUGE_SHIFT, MFD_HUGE_SHIFT): its log2. */
const HUGE_SHIFT = 26;
const HUGE_MASK = 0x3f;

function bits(n: number, table: Bits, zero: string): string {
  if (n === 0) return zero;
  const parts: string[] = [];
  let rest = n;
  for (const [v, name] of table) {
    if ((n & v) === v) {
      parts.push(name);
      rest &= ~v;
    }
  }
  if (rest) parts.push(`0x${(rest >>> 0).toString(16)}`);
  return parts.join('|');
}

/** With a huge page size in bits 26..31: `prefix` and the size (MAP_HUGE_2MB, MFD_HUGE_1GB). */
function withHugeSize(n: number, table: Bits, zero: string, prefix: string): string {
  const log = (n >>> HUGE_SHIFT) & HUGE_MASK;
  const base = bits(n & ~(HUGE_MASK << HUGE_SHIFT), table, zero);
  if (!log) return base;
  const size = log >= 30 ? `${2 ** (log - 30)}GB` : log >= 20 ? `${2 ** (log - 20)}MB` : `${2 ** (log - 10)}KB`;
  return `${base === zero ? '' : `${base}|`}${prefix}${size}`;
}

function openFlags(n: number): string {
  const acc = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE (3)'][n & 3]!;
  let rest = n & ~3;
  const parts = [acc];
  // O_TMPFILE is __O_TMPFILE with O_DIRECTORY
  if ((rest & 0o20200000) === 0o20200000) {
    parts.push('O_TMPFILE');
    rest &= ~0o20200000;
  }
  if (rest) parts.push(bits(rest, OPEN_BITS, ''));
  return parts.join('|');
}

const ADVICE_NAMES = new Map(Object.entries(MADV).map(([name, v]) => [v, `MADV_${name}`]));

/** What an environment event's argument `field` means, or null (not a flag or mode, or not a number). */
export function decodeEnvArg(op: string, field: string, v: Value | undefined): string | null {
  if (typeof v !== 'number' && typeof v !== 'bigint') return null;
  if (typeof v === 'bigint' && v > 0xffffffffn) return null;
  const n = Number(v) >>> 0;
  switch (`${op}.${field}`) {
    case 'open.flags':
      return openFlags(n);
    case 'mmap.prot':
    case 'mprotect.prot':
      return bits(n, PROT_BITS, 'PROT_NONE');
    case 'mmap.flags':
      return withHugeSize(n, MAP_BITS, '0', 'MAP_HUGE_');
    case 'mremap.flags':
      return bits(n, MREMAP_BITS, '0');
    case 'mlock.flags':
      return bits(n, MLOCK_BITS, '0');
    case 'mlockall.flags':
      return bits(n, MCL_BITS, '0');
    case 'memfd_create.flags':
      return withHugeSize(n, MFD_BITS, '0', 'MFD_HUGE_');
    case 'fallocate.mode':
      return bits(n, FALLOC_BITS, '0 (allocate)');
    case 'madvise.advice':
      return ADVICE_NAMES.get(n) ?? null;
    default:
      return null;
  }
}
