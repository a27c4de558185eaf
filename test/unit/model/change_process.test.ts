/**
 * IOMMU_IOAS_CHANGE_PROCESS [6.14] moving the pins' accounting to the caller,
 * as ioas.c has it (iommufd_ioas_change_process, need_charge_update,
 * charge_current, change_mm; read from the torvalds/linux copy on
 * 2026-11-27): every pages object whose owner is not the caller (MM mode: not
 * its mm; USER mode: not its user or not its mm) is counted once, however many
 * areas share it; the caller is charged all of it first, against its own
 * RLIMIT_MEMLOCK (ENOMEM leaves everything as it was), and only then are the
 * old owners uncharged. In USER mode the caller's user is charged before the
 * old owner (often the same user) is uncharged, so the limit must hold both
 * for a moment. The conformance scenarios only change to the same process
 * (nothing moves); no 6.14 kernel answered these: the 6.12 oracle has no
 * CHANGE_PROCESS or MAP_FILE.
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields } from '../../../src/events/event.js';
import type { World } from '../../../src/model/state.js';
import { runChecked } from './checked_run.js';

const env = (op: string, args: Fields, pid = 1): Event => ({ op, pid, args });
const io = (op: string, args: Fields, pid = 1): Event => ({ op, pid, fd: 0, args });
const change = (pid = 2) => io('IOMMU_IOAS_CHANGE_PROCESS', { __reserved: 0 }, pid);
const PAGES = 4n;

/** pid 1 maps four pages of a memfd into an IOAS with a domain (pinned, charged in `mode`), then forks pid 2. */
function setup(mode: 'user' | 'mm'): Event[] {
  return [
    env('drop_capability', { cap: 'CAP_IPC_LOCK' }), // else the pins are charged to nobody
    env('open', { path: '/dev/iommu' }), // fd 0
    ...(mode === 'mm' ? [io('IOMMU_OPTION', { option_id: 0, op: 0, object_id: 0, val64: 1n })] : []),
    env('memfd_create', { name: 'ram' }), // fd 1
    env('ftruncate', { fd: 1, length: 0x10000n }),
    io('IOMMU_IOAS_ALLOC', { flags: 0 }), // IOAS 1
    io('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} }),
    io('IOMMU_IOAS_MAP_FILE', { flags: 7, ioas_id: 1, fd: 1, start: 0n, length: PAGES * 0x1000n, iova: 0x1000000n }),
    env('fork', { child: 2 }),
  ];
}

const acct = (w: World, pid: number) => {
  const p = w.procs.get(pid)!;
  return { locked: p.lockedVm, pinned: p.pinnedVm };
};
const userLocked = (w: World) => w.userLockedVm.get(w.procs.get(1)!.uid) ?? 0n;

describe('IOMMU_IOAS_CHANGE_PROCESS moving the accounting [6.14]', () => {
  it('MM mode: the pins move from the old mm to the caller, and its unmap uncharges the caller', () => {
    const before = runChecked(setup('mm'), '6.14').w;
    expect(acct(before, 1)).toEqual({ locked: PAGES, pinned: PAGES });
    expect(acct(before, 2)).toEqual({ locked: 0n, pinned: 0n }); // a forked mm starts with nothing locked or pinned
    const { results, w } = runChecked([...setup('mm'), change()], '6.14');
    expect(results.at(-1)!.errno).toBe(0);
    expect(acct(w, 1)).toEqual({ locked: 0n, pinned: 0n });
    expect(acct(w, 2)).toEqual({ locked: PAGES, pinned: PAGES });
    const after = runChecked([...setup('mm'), change(), io('IOMMU_IOAS_UNMAP', { ioas_id: 1, iova: 0x1000000n, length: PAGES * 0x1000n }, 2)], '6.14').w;
    expect(acct(after, 2)).toEqual({ locked: 0n, pinned: 0n });
    expect(acct(after, 1)).toEqual({ locked: 0n, pinned: 0n });
  });

  it("MM mode: over the caller's RLIMIT_MEMLOCK is ENOMEM, and nothing moves", () => {
    const tight = [...setup('mm'), env('set_rlimit_memlock', { pages: PAGES - 1n }, 2), change()];
    const { results, w } = runChecked(tight, '6.14');
    expect(results.at(-1)!.errno).toBe('ENOMEM');
    expect(acct(w, 1)).toEqual({ locked: PAGES, pinned: PAGES });
    expect(acct(w, 2)).toEqual({ locked: 0n, pinned: 0n });
    const enough = runChecked([...setup('mm'), env('set_rlimit_memlock', { pages: PAGES }, 2), change()], '6.14');
    expect(enough.results.at(-1)!.errno).toBe(0);
  });

  it("USER mode: the caller's user is charged before the owner's is uncharged, so the same user needs room for both", () => {
    const run = (limit: bigint) => runChecked([...setup('user'), env('set_rlimit_memlock', { pages: limit }, 2), change()], '6.14');
    const short = run(2n * PAGES - 1n);
    expect(short.results.at(-1)!.errno).toBe('ENOMEM');
    expect(userLocked(short.w)).toBe(PAGES);
    expect(acct(short.w, 1).pinned).toBe(PAGES);
    const ok = run(2n * PAGES);
    expect(ok.results.at(-1)!.errno).toBe(0);
    expect(userLocked(ok.w)).toBe(PAGES); // charged and uncharged: the same user in the end
    expect(acct(ok.w, 1)).toEqual({ locked: 0n, pinned: 0n });
    expect(acct(ok.w, 2)).toEqual({ locked: 0n, pinned: PAGES }); // USER mode counts mm->pinned_vm, not locked_vm
  });

  it('a pages object shared by two areas (IOAS_COPY) is counted once', () => {
    const events = [
      ...setup('user'),
      io('IOMMU_IOAS_ALLOC', { flags: 0 }, 1), // IOAS 5 (the mock domain took 2 to 4)
      io('IOMMU_IOAS_COPY', { flags: 7, dst_ioas_id: 5, src_ioas_id: 1, length: PAGES * 0x1000n, dst_iova: 0x200000n, src_iova: 0x1000000n }, 1),
      env('set_rlimit_memlock', { pages: 2n * PAGES }, 2),
      change(),
    ];
    const { results, w } = runChecked(events, '6.14');
    expect(results.map((r) => r.errno)).toEqual(events.map(() => 0));
    expect(results[events.length - 4]!.out).toMatchObject({ out_ioas_id: 5 });
    expect(acct(w, 2)).toEqual({ locked: 0n, pinned: PAGES });
  });

  it('a caller that already owns everything moves nothing and is not charged (nothing to check against its limit)', () => {
    const events = [...setup('mm'), env('set_rlimit_memlock', { pages: 0n }, 1), change(1)];
    const { results, w } = runChecked(events, '6.14');
    expect(results.at(-1)!.errno).toBe(0);
    expect(acct(w, 1)).toEqual({ locked: PAGES, pinned: PAGES });
  });

  it('pins charged to nobody (the owner had CAP_IPC_LOCK) move without a charge, and later unpins uncharge nobody', () => {
    const events = setup('user').filter((e) => e.op !== 'drop_capability');
    const { results, w } = runChecked([...events, env('set_rlimit_memlock', { pages: 0n }, 2), change(), io('IOMMU_IOAS_UNMAP', { ioas_id: 1, iova: 0x1000000n, length: PAGES * 0x1000n }, 2)], '6.14');
    expect(results.map((r) => r.errno)).toEqual(results.map(() => 0));
    expect(userLocked(w)).toBe(0n);
    expect(acct(w, 1)).toEqual({ locked: 0n, pinned: 0n });
    expect(acct(w, 2)).toEqual({ locked: 0n, pinned: 0n });
  });
});
