/**
 * Model bugs the fuzzer found (src/fuzz KNOWN_MODEL_BUGS, now fixed), kept as
 * minimal event sequences.
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { apply } from '../../../src/engine/apply.js';
import { emptyWorld, type KernelVersion, type World } from '../../../src/model/state.js';
import { Checker } from '../../../src/invariants/index.js';

function run(kernel: KernelVersion, events: Event[]): { w: World; errnos: (string | number)[] } {
  let w = emptyWorld({ kernel });
  const errnos: (string | number)[] = [];
  for (const ev of events) {
    const r = apply(w, ev);
    w = r.state;
    errnos.push(r.result.errno);
  }
  return { w, errnos };
}

describe('fuzzer-found model bugs', () => {
  it('GET_DIRTY_BITMAP over a 2^63-byte range answers 0 without materialising the bitmap', () => {
    const { errnos, w } = run('6.12', [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } },
      { op: 'IOMMU_HWPT_ALLOC', fd: 0, args: { flags: 2, dev_id: 3, pt_id: 1 } },
    ]);
    expect(errnos).toEqual([0, 0, 0, 0]);
    const r = apply(w, { op: 'IOMMU_HWPT_GET_DIRTY_BITMAP', fd: 0, args: { hwpt_id: 5, iova: 0x1000000n, length: 1n << 63n, page_size: 0x1000n, data: 0x10000n } });
    expect(r.result.errno).toBe(0);
    expect(r.result.bufs?.['data']?.length ?? 0).toBe(0);
  });

  it('CHANGE_PROCESS moves MM-accounted charges to the caller', () => {
    const { w, errnos } = run('6.14', [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_OPTION', fd: 0, args: { option_id: 0, op: 0, val64: 1n } },
      { op: 'drop_capability', args: { cap: 'CAP_IPC_LOCK' } },
      { op: 'memfd_create', args: { name: 'm' } },
      { op: 'ftruncate', args: { fd: 1, length: 0x400000n } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } },
      { op: 'IOMMU_IOAS_MAP_FILE', fd: 0, args: { flags: 7, ioas_id: 1, fd: 1, start: 0n, length: 0x4000n, iova: 0x1000000n } },
      { op: 'fork', args: { child: 2 } },
      { op: 'IOMMU_IOAS_CHANGE_PROCESS', pid: 2, fd: 0, args: {} },
    ]);
    expect(errnos.every((e) => e === 0)).toBe(true);
    expect([w.procs.get(1)!.lockedVm, w.procs.get(2)!.lockedVm]).toEqual([0n, 4n]);
    const after = apply(w, { op: 'IOMMU_IOAS_UNMAP', pid: 2, fd: 0, args: { ioas_id: 1, iova: 0x1000000n, length: 0x4000n } }).state;
    expect([after.procs.get(1)!.lockedVm, after.procs.get(2)!.lockedVm]).toEqual([0n, 0n]);
  });
  it("an attach that fails after pinning a hugetlbfs memfd's page keeps the page in the file's cache, and the invariants allow it", () => {
    // (fuzz seed 282721450, 6.14: failed-ioctl-unchanged had taken Mobj.mayCache for a change the failure should not keep)
    const { w } = run('6.14', [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'memfd_create', args: { name: 'guest-ram', flags: 4 } },
      { op: 'ftruncate', args: { fd: 1, length: 0x400000n } },
      { op: 'IOMMU_IOAS_MAP_FILE', fd: 0, args: { flags: 7, ioas_id: 1, fd: 1, start: 0n, length: 0x1000n, iova: 0x1000000n } },
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: 0x7f0000000000n, length: 0x1000n, iova: 0x1001000n } },
    ]);
    const ev: Event = { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } };
    const r = apply(w, ev);
    expect(r.result.errno).toBe('EFAULT');
    // (the file's cache holds its first huge page from the MAP_FILE pin on, whatever the attach's fate: Mobj.hugeCached)
    const memfd = [...r.state.mem.mobjs.values()].find((m) => m.kind === 'hugetlb')!;
    expect(memfd.hugetlbfs).toBe(true);
    expect([...memfd.hugeCached!.keys()]).toEqual([0]);
    expect(new Checker().step({ prev: w, next: r.state, event: ev, result: r.result, index: 6 })).toEqual([]);
  });
  it("a check op's page lookup through a shared hugetlbfs mapping puts the page in the file's cache, and the invariants allow it", () => {
    // (fuzz seed -1640522434, 6.12: failed-ioctl-unchanged took the cache's new page for a query changing the state)
    const { w } = run('6.12', [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'memfd_create', args: { name: 'guest-ram', flags: 4 } },
      { op: 'mmap', args: { va: 0x7f0000000000n, length: 0x400000n, kind: 'memfd', prot: 3, fd: 1, offset: 0n } },
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: 0x7f0000200000n, length: 0x4000n, iova: 0x1000000n } },
      { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } },
    ]);
    const ev: Event = { op: 'IOMMU_TEST_OP_MD_CHECK_MAP', fd: 0, args: { id: 4, check_map: { iova: 0x1000000n, length: 0x800n, uptr: 0x7f0000000000n } } };
    const r = apply(w, ev);
    const cache = (x: World) => [...[...x.mem.mobjs.values()].find((m) => m.hugetlbfs)!.hugeCached!.keys()];
    expect([cache(w), cache(r.state)]).toEqual([[1], [0, 1]]);
    expect(new Checker().step({ prev: w, next: r.state, event: ev, result: r.result, index: 6 })).toEqual([]);
  });
  it("a map that fails after its pins copied a private hugetlbfs mapping's huge pages keeps the copies, and the invariants allow it", () => {
    // (fuzz seed -1070948856, 6.12: failed-ioctl-unchanged had allowed copies only in anonymous objects, not in a hugetlbfs file's copy object)
    const { w } = run('6.12', [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'memfd_create', args: { name: 'guest-ram', flags: 4 } },
      { op: 'mmap', args: { va: 0x7f0000000000n, length: 0x400000n, kind: 'file_private', prot: 3, fd: 1, offset: 0n } },
      { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } },
      { op: 'IOMMU_VFIO_IOAS', fd: 0, args: { ioas_id: 1, op: 1, __reserved: 0 } },
    ]);
    const ev: Event = { op: 'VFIO_IOMMU_MAP_DMA', fd: 0, args: { argsz: 32, flags: 3, vaddr: 0x7f0000001000n, iova: 0x1000000n, size: 0x400000n } };
    const r = apply(w, ev);
    expect(r.result.errno).toBe('EFAULT');
    expect(r.state).not.toBe(w);
    expect(new Checker().step({ prev: w, next: r.state, event: ev, result: r.result, index: 6 })).toEqual([]);
  });

  it('a failed map whose pin faulted a VMA in keeps its anon_vma and the tag it took beside a neighbour alike (#93)', () => {
    // (the bench's fuzz seed 48765, 6.12: failed-ioctl-unchanged had allowed a fault's anon_vma only, not the tag
    // withAnonVma gives where the neighbour whose anon_vma it took now looks one VMA with it)
    const { w } = run('6.12', [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'mmap', args: { va: 0x7f0000000000n, length: 0x400000n, kind: 'private_anon', prot: 3 } },
      { op: 'mlock', args: { va: 0x7f0000000000n, length: 0x1000n, flags: 0 } },
      { op: 'munlockall', args: {} },
      { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } },
    ]);
    const ev: Event = { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: 0x7f0000001000n, length: 0x400000n, iova: 0x1000000n } };
    const r = apply(w, ev);
    expect(r.result.errno).toBe('EFAULT');
    expect(r.state.mem.nextMobj).toBeGreaterThan(w.mem.nextMobj);
    expect(new Checker().step({ prev: w, next: r.state, event: ev, result: r.result, index: 6 })).toEqual([]);
  });
  it("a failed domain fill whose pin faulted a VMA in beside one with an anon_vma reuses that one, taking no object id", () => {
    // (model-only fuzz seed 3201, 6.12: after #102 failed-ioctl-unchanged took every anon_vma a failed call
    // gave for a new one, whose identity comes from the object ids, and a neighbour's reused takes none)
    const { w, errnos } = run('6.12', [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      // pinned by no domain yet, and no memory there: the domains' fills below fail at it, after the others (IOVA order)
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: 0x7f0000000000n, length: 0x1000n, iova: 0x3000000n } },
      { op: 'mmap', args: { va: 0x7f0001000000n, length: 0x400000n, kind: 'private_anon', prot: 3 } },
      { op: 'mprotect', args: { va: 0x7f0001000000n, length: 0x1000n, prot: 7 } },
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: 0x7f0001000000n, length: 0x1000n, iova: 0x1000000n } },
      { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } },
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: 0x7f0001000000n, length: 0x2000n, iova: 0x1001000n } },
    ]);
    expect(errnos).toEqual([0, 0, 0, 0, 0, 0, 'EFAULT', 0]);
    const ev: Event = { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } };
    const r = apply(w, ev);
    expect(r.result.errno).toBe('EFAULT');
    const vmas = (x: World) => [...x.procs.get(1)!.mm.vmas].map(([s, v]) => [s, v.anon]);
    expect(vmas(w)).toEqual([[0x7f0001000000n, 'anon_vma 2'], [0x7f0001001000n, undefined]]);
    expect(vmas(r.state)).toEqual([[0x7f0001000000n, 'anon_vma 2'], [0x7f0001001000n, 'anon_vma 2']]);
    expect(r.state.mem).toBe(w.mem);
    expect(new Checker().step({ prev: w, next: r.state, event: ev, result: r.result, index: 8 })).toEqual([]);
  });
});
