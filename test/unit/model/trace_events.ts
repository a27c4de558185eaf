/**
 * The event constructors the hand-written kernel-answer tests share
 * (madvise, fallocate, mremap), and the openings their traces have in common.
 */
import type { Event, Fields, Result } from '../../../src/events/event.js';

export const env = (op: string, args: Fields, pid = 1): Event => ({ op, pid, args });
export const io = (op: string, args: Fields, pid = 1): Event => ({ op, pid, fd: 0, args });
/** `n` bytes of a pattern seeded by `s` (distinct contents per seed). */
export const pat = (n: number, s: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + s) & 0xff);
export const zeros = (n: number) => new Uint8Array(n);
export const rd = (va: bigint, length: bigint, pid = 1) => env('read_memory', { va, length }, pid);
export const wr = (va: bigint, data: Uint8Array, pid = 1) => env('write_memory', { va, data }, pid);
export const data = (r: Result) => r.bufs?.['data'];

/** The iommufd (fd 0), IOAS 1 and a mock domain on it (HWPT 4), so that maps pin at once. */
export const mockDomain = (): Event[] => [
  env('open', { path: '/dev/iommu' }),
  io('IOMMU_IOAS_ALLOC', { flags: 0 }),
  io('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} }),
];

/** A memfd (fd 1) of `size` bytes, mapped shared at `vm` and private at `vp`. */
export const memfdMapped = (vm: bigint, vp: bigint, size: bigint): Event[] => [
  env('memfd_create', { name: 'ram' }),
  env('ftruncate', { fd: 1, length: size }),
  env('mmap', { va: vm, length: size, kind: 'memfd', prot: 3, fd: 1, offset: 0n }),
  env('mmap', { va: vp, length: size, kind: 'file_private', prot: 3, fd: 1, offset: 0n }),
];
