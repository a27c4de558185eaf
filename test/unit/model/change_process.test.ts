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
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import { Checker } from '../../../src/invariants/index.js';
import { emptyWorld } from '../../../src/model/state.js';
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

/**
 * An MM-mode owner that has exited (the known gap until session 18). The
 * caller is charged first; then the old owner's uncharge fails
 * (update_mm_locked_vm: mmget_not_zero of the dead mm, EINVAL) after the
 * count had zeroed the object's last_npinned: the kernel WARNs, moves the
 * object all the same and returns EINVAL, and from then on its fills and
 * unfills charge against last_npinned 0 (pages.c update_pinned,
 * update_unpinned). An exited owner's unpins fail their uncharge the same
 * way (silently), and a fill that pins nothing while last_npinned is off
 * hangs the kernel. Read from 6.14's ioas.c and pages.c (and a review of
 * them by a second reader); no 6.14 kernel answered these.
 */
describe('IOMMU_IOAS_CHANGE_PROCESS and an exited owner [6.14]', () => {
  const exit1 = env('exit', {}, 1);
  const unmap = (pid: number) => io('IOMMU_IOAS_UNMAP', { ioas_id: 1, iova: 0x1000000n, length: PAGES * 0x1000n }, pid);
  const pagesOf = (w: World) => [...w.ctxs.values()][0]!.pages.get(1)!;

  it('MM mode: EINVAL after charging the caller and moving the pins; the unmap then uncharges nothing', () => {
    const { results, w } = runChecked([...setup('mm'), exit1, change()], '6.14');
    expect(results.at(-1)!.errno).toBe('EINVAL');
    expect(w.taint).toMatch(/WARN in iommufd_ioas_change_process/);
    expect(acct(w, 2)).toEqual({ locked: PAGES, pinned: PAGES });
    expect(pagesOf(w)).toMatchObject({ ownerPid: 2, npinned: Number(PAGES), lastNpinned: 0 });
    // update_unpinned: npinned 0 == last_npinned 0, nothing to uncharge: the caller keeps the charge
    const after = runChecked([...setup('mm'), exit1, change(), unmap(2)], '6.14');
    expect(after.results.at(-1)!.errno).toBe(0);
    expect(acct(after.w, 2)).toEqual({ locked: PAGES, pinned: PAGES });
  });

  it('MM mode: a fill that pins nothing itself while last_npinned is off hangs the kernel: not modelled', () => {
    // (update_mm_locked_vm takes the reader's user->locked, still -1, for a held mmap lock)
    // a domain of its own (a mock domain would reuse the IOAS's compatible one): device 3
    const hwpt = io('IOMMU_HWPT_ALLOC', { flags: 0, dev_id: 3, pt_id: 1, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }, 2);
    const r = runChecked([...setup('mm'), exit1, change(), hwpt], '6.14');
    expect(r.results.at(-1)!.unmodelled).toMatch(/ioctl hangs/);
    // an access pin of pages the domain holds: the same
    const create = io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 1 } }, 2); // fd 2 (pid 2 has 0 and 1 from the fork)
    const pinBy = (fd: number, iova = 0x1000000n, length = 0x2000n) => io('IOMMU_TEST_OP_ACCESS_PAGES', { id: fd, access_pages: { flags: 0, iova, length, uptr: 0n } }, 2);
    const a = runChecked([...setup('mm'), exit1, change(), create, pinBy(2)], '6.14');
    expect(a.results.at(-1)!.unmodelled).toMatch(/ioctl hangs/);
    // but an access of exactly a range an access pinned before reuses it (no fill): 0, the accounting stays behind
    const create2 = io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 1 } }, 2); // fd 3
    const reuse = runChecked([...setup('mm'), create, pinBy(2), exit1, change(), create2, pinBy(3)], '6.14');
    expect(reuse.results.slice(-4).map((r) => r.errno)).toEqual([0, 'EINVAL', 0, 0]);
    expect(acct(reuse.w, 2)).toEqual({ locked: PAGES, pinned: PAGES });
    expect(pagesOf(reuse.w).lastNpinned).toBe(0);
  });

  it('MM mode: a fill that pins pages settles the accounting, charging every pinned page again', () => {
    // no domain: an access pins page 0 for pid 2 (charged to pid 1), pid 1 exits, CHANGE_PROCESS
    // charges pid 2 that page and leaves last_npinned 0; a second access then pins pages 1 and 2
    const events = [
      env('drop_capability', { cap: 'CAP_IPC_LOCK' }),
      env('open', { path: '/dev/iommu' }),
      io('IOMMU_OPTION', { option_id: 0, op: 0, object_id: 0, val64: 1n }),
      env('memfd_create', { name: 'ram' }),
      env('ftruncate', { fd: 1, length: 0x10000n }),
      io('IOMMU_IOAS_ALLOC', { flags: 0 }),
      io('IOMMU_IOAS_MAP_FILE', { flags: 7, ioas_id: 1, fd: 1, start: 0n, length: PAGES * 0x1000n, iova: 0x1000000n }),
      env('fork', { child: 2 }),
      io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 1 } }, 2), // fd 2
      io('IOMMU_TEST_OP_ACCESS_PAGES', { id: 2, access_pages: { flags: 0, iova: 0x1000000n, length: 0x1000n, uptr: 0n } }, 2),
      exit1,
      change(),
      io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 1 } }, 2), // fd 3
      io('IOMMU_TEST_OP_ACCESS_PAGES', { id: 3, access_pages: { flags: 0, iova: 0x1001000n, length: 0x2000n, uptr: 0n } }, 2),
    ];
    const { results, w } = runChecked(events, '6.14');
    expect(results.slice(-3).map((r) => r.errno)).toEqual(['EINVAL', 0, 0]);
    expect(acct(w, 2)).toEqual({ locked: 1n + 3n, pinned: 1n + 3n });
    expect(pagesOf(w).lastNpinned).toBeUndefined();
  });

  it("an exited MM-mode owner's unpins are not uncharged (mmget_not_zero fails): last_npinned stays, and CHANGE_PROCESS charges it", () => {
    // pid 2 destroys the mock device (object 2): the domain goes, its pins go, the uncharge fails
    const events = [...setup('mm'), exit1, io('IOMMU_DESTROY', { id: 2 }, 2)];
    const { results, w } = runChecked(events, '6.14');
    expect(results.at(-1)!.errno).toBe(0);
    expect(pagesOf(w)).toMatchObject({ npinned: 0, lastNpinned: Number(PAGES) });
    expect(w.taint).toBeUndefined();
    // CHANGE_PROCESS charges pid 2 the four pages last charged (ENOMEM under a limit of 3), then fails on the exited owner
    const tight = runChecked([...events, env('set_rlimit_memlock', { pages: PAGES - 1n }, 2), change()], '6.14');
    expect(tight.results.at(-1)!.errno).toBe('ENOMEM');
    expect(pagesOf(tight.w).lastNpinned).toBeUndefined(); // "fix last_npinned": npinned again
    const r = runChecked([...events, change()], '6.14');
    expect(r.results.at(-1)!.errno).toBe('EINVAL');
    expect(acct(r.w, 2)).toEqual({ locked: PAGES, pinned: PAGES });
  });

  it('a later CHANGE_PROCESS by another process charges it nothing for that object and uncharges the last owner its npinned', () => {
    const events = [...setup('mm'), exit1, change(), env('fork', { child: 3 }, 2), change(3)];
    const { results, w } = runChecked(events, '6.14');
    expect(results.at(-1)!.errno).toBe(0);
    expect(acct(w, 2)).toEqual({ locked: 0n, pinned: 0n });
    expect(acct(w, 3)).toEqual({ locked: 0n, pinned: 0n });
    expect(pagesOf(w)).toMatchObject({ ownerPid: 3 });
    expect(pagesOf(w).lastNpinned).toBeUndefined();
    // its unmap uncharges pid 3 what it was never charged: __account_locked_vm WARNs and subtracts,
    // and locked_vm (an unsigned long) wraps; pinned_vm goes below 0
    const after = runChecked([...events, unmap(3)], '6.14');
    expect(acct(after.w, 3)).toEqual({ locked: (1n << 64n) - PAGES, pinned: -PAGES });
    // from there any MM-mode charge is over the limit, RLIM_INFINITY included (2^52 - 1 pages)
    const more = runChecked([...events, unmap(3), io('IOMMU_IOAS_MAP_FILE', { flags: 7, ioas_id: 1, fd: 1, start: 0n, length: 0x1000n, iova: 0x3000000n }, 3)], '6.14');
    expect(more.results.at(-1)!.errno).toBe('ENOMEM');
  });

  it('once it happened, a CHANGE_PROCESS over the limit (ENOMEM) still resets every last_npinned', () => {
    const events = [
      ...setup('mm'),
      exit1,
      change(),
      io('IOMMU_IOAS_MAP_FILE', { flags: 7, ioas_id: 1, fd: 1, start: 0x8000n, length: 0x1000n, iova: 0x2000000n }, 2), // pages 2, charged to pid 2
      env('fork', { child: 3 }, 2),
      env('set_rlimit_memlock', { pages: 0n }, 3),
      change(3),
    ];
    const { results, w } = runChecked(events, '6.14');
    expect(results.at(-1)!.errno).toBe('ENOMEM');
    expect(pagesOf(w).lastNpinned).toBeUndefined();
    expect(acct(w, 2)).toEqual({ locked: PAGES + 1n, pinned: PAGES + 1n });
    // the unmap now uncharges the four pages the failed CHANGE_PROCESS had left uncounted
    const after = runChecked([...events, unmap(2)], '6.14');
    expect(acct(after.w, 2)).toEqual({ locked: 1n, pinned: 1n });
  });

  it('a fork to a pid the trace knows (alive, or exited: reuse) is answered as not modelled, and changes nothing', () => {
    const events = [...setup('mm'), exit1, env('fork', { child: 1 }, 2), env('fork', { child: 2 }, 2)];
    let w = emptyWorld({ kernel: '6.14' });
    const results = events.map((ev) => {
      const r = apply(w, ev);
      if (!r.result.unmodelled) w = r.state;
      else expect(r.state).toBe(w);
      return r.result;
    });
    expect(results.slice(-2).map((r) => r.unmodelled)).toEqual(['fork to pid 1, a process the trace saw exit (pid reuse)', 'fork to pid 2, a process the trace has alive']);
    expect(w.procs.get(1)!.alive).toBe(false);
  });

  it('USER mode: an exited owner is uncharged (its user, its mm->pinned_vm): no failure', () => {
    const { results, w } = runChecked([...setup('user'), exit1, change()], '6.14');
    expect(results.at(-1)!.errno).toBe(0);
    expect(w.taint).toBeUndefined();
    expect(userLocked(w)).toBe(PAGES);
    expect(acct(w, 2)).toEqual({ locked: 0n, pinned: PAGES });
  });
});

describe('IOMMU_IOAS_CHANGE_PROCESS among exiting processes, generated [6.14]', () => {
  // Processes 1..3 share one MM-mode context and take turns mapping file pages, pinning them
  // (domains, accesses), unmapping, exiting and calling CHANGE_PROCESS: every step holds to the
  // invariants (the failed-call exceptions, the pin holders; locked_vm until the kernel WARNs),
  // and an answer the model does not follow says so instead of guessing.
  const who = fc.constantFrom(1, 2, 3);
  const step: fc.Arbitrary<Event> = fc.oneof(
    fc.record({ p: who, at: fc.nat(7), n: fc.integer({ min: 1, max: 4 }), slot: fc.nat(7) }).map(({ p, at, n, slot }) =>
      io('IOMMU_IOAS_MAP_FILE', { flags: 7, ioas_id: 1, fd: 1, start: BigInt(at) * 0x1000n, length: BigInt(n) * 0x1000n, iova: 0x1000000n + BigInt(slot) * 0x10000n }, p),
    ),
    fc.record({ p: who, slot: fc.nat(7) }).map(({ p, slot }) => io('IOMMU_IOAS_UNMAP', { ioas_id: 1, iova: 0x1000000n + BigInt(slot) * 0x10000n, length: 0x10000n }, p)),
    who.map((p) => io('IOMMU_HWPT_ALLOC', { flags: 0, dev_id: 3, pt_id: 1, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }, p)),
    who.map((p) => io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 1 } }, p)),
    fc.record({ p: who, fd: fc.integer({ min: 2, max: 5 }), slot: fc.nat(7), n: fc.integer({ min: 1, max: 3 }) }).map(({ p, fd, slot, n }) =>
      io('IOMMU_TEST_OP_ACCESS_PAGES', { id: fd, access_pages: { flags: 0, iova: 0x1000000n + BigInt(slot) * 0x10000n, length: BigInt(n) * 0x1000n, uptr: 0n } }, p),
    ),
    fc.record({ p: who, fd: fc.integer({ min: 2, max: 5 }) }).map(({ p, fd }) => env('close', { fd }, p)),
    fc.record({ p: who, child: fc.constantFrom(2, 3) }).map(({ p, child }) => env('fork', { child }, p)),
    { arbitrary: who.map((p) => env('exit', {}, p)), weight: 2 },
    { arbitrary: who.map((p) => change(p)), weight: 4 },
    fc.record({ p: who, pages: fc.constantFrom(0n, 2n, 8n, 64n) }).map(({ p, pages }) => env('set_rlimit_memlock', { pages }, p)),
  );

  it('holds to the invariants', () => {
    let tainted = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        let w = emptyWorld({ kernel: '6.14' });
        const checker = new Checker();
        for (const [index, ev] of [...setup('mm'), ...steps].entries()) {
          const r = apply(w, ev);
          const bad = checker.step({ prev: w, next: r.state, event: ev, result: r.result, index });
          if (bad.length) throw new Error(`${ev.op} (pid ${ev.pid}) at ${index}: ${bad.map((v) => v.message).join('; ')}`);
          if (r.result.unmodelled !== undefined) expect(r.result.unmodelled).toMatch(/CHANGE_PROCESS left behind|ioctl hangs|^fork to pid/);
          w = r.state;
        }
        if (w.taint !== undefined) tainted++;
      }),
      { numRuns: 400, seed: 18 },
    );
    // the generated runs do reach the kernel WARN
    expect(tainted).toBeGreaterThan(10);
  });
});

