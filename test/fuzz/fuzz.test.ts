/**
 * The fuzzer in the test suite: a quick fuzz pass per kernel with every
 * invariant on (bounded, fixed seed), incremental checks agreeing with
 * whole-state ones, generators covering every event kind with serialisable
 * events, reproducibility by seed, and a failure's trace reproducing under
 * `iorewind replay` (divergence at the failing event) and `fuzz --check`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apply } from '../../src/engine/apply.js';
import { replay } from '../../src/engine/replay.js';
import { openSource } from '../../src/engine/source.js';
import type { Event, Result } from '../../src/events/event.js';
import { checkEvents, EVENT_KINDS, eventTemplates, fuzz, newModel, realModel, reportText, resolve, setupEvents, writeFailure, type ModelApi } from '../../src/fuzz/index.js';
import { encodeTrace } from '../../src/trace/index.js';
import { emptyWorld, type Ctx, type World } from '../../src/model/state.js';

const SEED = 0xf022;

for (const kernel of ['6.12', '6.14'] as const) {
  describe(`quick fuzz pass (Linux ${kernel}, seed ${SEED})`, () => {
    it('every invariant holds after every event', () => {
      const r = fuzz({ seed: SEED, runs: 120, maxSteps: 40, kernel });
      expect(r.failure ? reportText(r.failure) : null).toBeNull();
      expect(r.steps).toBeGreaterThan(1000);
    });
  });
}

describe('fuzzer machinery', () => {
  it('incremental step checks agree with whole-state checks', () => {
    const missed: string[] = [];
    for (const kernel of ['6.12', '6.14'] as const) {
      fuzz({
        seed: SEED + 1,
        runs: 25,
        maxSteps: 30,
        kernel,
        replayEvery: 1,
        onStep: (ev, _res, state, checker) => {
          const v = checker.state(state);
          if (v.length && missed.length < 5) missed.push(`${kernel} ${ev.op}: ${v[0]!.invariant}: ${v[0]!.message}`);
        },
      });
    }
    expect(missed).toEqual([]);
  });

  it('generators cover every event kind and resolve to serialisable events', () => {
    const seen = new Set<string>();
    let w: World = emptyWorld({ kernel: '6.14' });
    for (const ev of setupEvents()) w = apply(w, ev).state;
    w = apply(w, { op: 'mmap', args: { va: 0x7f0000000000n, length: 0x400000n, kind: 'anon' } }).state;
    const m = newModel();
    const events: Event[] = [];
    for (const t of fc.sample(eventTemplates('6.14'), { numRuns: 6000, seed: SEED })) {
      seen.add(t.op);
      const ev = resolve({ ...t, noConstruct: true }, w, m);
      events.push(ev);
      const r = apply(w, ev);
      expect(r.result.unmodelled, `${ev.op} is not modelled`).toBeUndefined();
      if (!r.result.errno) w = r.state;
    }
    expect([...EVENT_KINDS].filter((k) => !seen.has(k))).toEqual([]);
    expect(() => encodeTrace({ kernel: '6.14' }, events)).not.toThrow();
  });

  /** What the fuzzer's maps snapshot (the guest region, shared) resolves to after `events`: the snapshot, or a note. */
  const snapshotAfter = (events: Event[]): string => {
    const snap = { op: 'maps', pid: 0, args: { maps: [{ start: 0x7f0000000000n, end: 0x7f0000400000n, perms: 'rw-s', path: '/dev/zero (deleted)' }] } };
    let w: World = emptyWorld({ kernel: '6.12' });
    for (const ev of [...setupEvents(), ...events]) w = apply(w, ev).state;
    return resolve(snap, w, newModel()).op;
  };

  it('a maps snapshot names no new memory a process under mlockall(MCL_FUTURE) could not have locked (seed 115)', () => {
    const locked = [{ op: 'mlockall', args: { flags: 6 } }, { op: 'drop_capability', args: { cap: 'CAP_IPC_LOCK' } }];
    expect(snapshotAfter([...locked, { op: 'set_rlimit_memlock', args: { pages: 16n } }])).toBe('note');
    expect(snapshotAfter([...locked, { op: 'set_rlimit_memlock', args: { pages: 1024n } }])).toBe('maps'); // 4 MiB fits
    expect(snapshotAfter([...locked, { op: 'set_rlimit_memlock', args: { pages: 16n } }, { op: 'mmap', args: { va: 0x7f0000000000n, length: 0x1000n, kind: 'anon', prot: 3 } }])).toBe('note');
    expect(snapshotAfter([locked[1]!, { op: 'set_rlimit_memlock', args: { pages: 16n } }])).toBe('maps'); // not locked
  });

  it('a maps snapshot never cuts a hugetlb VMA inside a huge page (gigantic seed 304)', () => {
    const huge = (log: number, va: bigint) => ({ op: 'mmap', args: { va, length: 0x400000n, kind: 'private_anon', prot: 3, flags: 0x40000 | (log << 26) } });
    // a 1 GiB page's VMA at the region's start: the region's end (4 MiB on) is inside the page
    expect(snapshotAfter([{ op: 'munmap', args: { va: 0x7f0000000000n, length: 0x400000n } }, huge(30, 0x7f0000000000n)])).toBe('note');
    // one outside the region: the snapshot takes it away whole, as munmap can
    expect(snapshotAfter([huge(30, 0x7f0040000000n)])).toBe('maps');
    // 2 MiB pages: the region's bounds are on 2 MiB boundaries, wherever the VMA is
    expect(snapshotAfter([{ op: 'munmap', args: { va: 0x7f0000000000n, length: 0x400000n } }, huge(21, 0x7f0000000000n)])).toBe('maps');
    expect(snapshotAfter([{ op: 'munmap', args: { va: 0x7f0000000000n, length: 0x400000n } }, huge(21, 0x7f0000200000n), huge(21, 0x7f0000600000n)])).toBe('maps');
  });

  it("no fallocate whose answer is a regular file's filesystem's: the model does not know it (seed 253)", () => {
    const at = (open: Event, mode: number) => {
      let w: World = emptyWorld({ kernel: '6.12' });
      let fd = -1;
      // (a memfd too: fallocate's template wants one, and a hostile draw names fd 0 or 77 instead)
      for (const ev of [...setupEvents(), { op: 'memfd_create', args: { name: 'guest-ram' } }, open]) {
        const r = apply(w, ev);
        w = r.state;
        if (ev === open) fd = Number(r.result.ret);
      }
      return resolve({ op: 'fallocate', pid: 0, args: { fd, mode, offset: 0x1000n, length: 0x1000n } }, w, newModel()).op;
    };
    const scratch: Event = { op: 'open', args: { path: '/tmp/data', flags: 0x242 } };
    expect(at(scratch, 0x20)).toBe('note'); // INSERT_RANGE: tmpfs EOPNOTSUPP, ext4 and xfs do it
    expect(at(scratch, 0x10)).toBe('note'); // ZERO_RANGE
    expect(at(scratch, 0x21)).toBe('fallocate'); // INSERT_RANGE | KEEP_SIZE: vfs_fallocate's EOPNOTSUPP, whatever the filesystem
    expect(at(scratch, 0x3)).toBe('fallocate'); // PUNCH_HOLE | KEEP_SIZE
    expect(at(scratch, 0)).toBe('fallocate');
    expect(at({ op: 'open', args: { path: '/dev/shm/data', flags: 0x242 } }, 0x20)).toBe('fallocate'); // tmpfs: modelled
    expect(at({ op: 'open', args: { path: '/tmp/data', flags: 0x240 } }, 0x20)).toBe('fallocate'); // read-only: EBADF
  });

  it('hostile fault-fd writes run into unreadable memory, on fault fds only (a count the model does not answer elsewhere)', () => {
    const ts = fc.sample(eventTemplates('6.12', { hostile: 20 }, ['write_fault_fd']), { numRuns: 3000, seed: SEED });
    type T = (typeof ts)[number];
    const onFault = (t: T) => {
      const f = t.args?.['fd'] as { $?: string; kind?: string } | undefined;
      return f?.$ === 'fd' && f.kind === 'fault';
    };
    /** The bytes the template gives (8 a response). */
    const given = (t: T) => ((t.bufs?.['data'] as { items?: unknown[] } | null)?.items?.length ?? 0) * 8;
    const counted = ts.filter((t) => t.args?.['count'] !== undefined);
    expect(counted.every(onFault)).toBe(true);
    expect(counted.some((t) => t.bufs?.['data'] === null)).toBe(true);
    expect(counted.some((t) => t.args!['count'] === given(t) + 8)).toBe(true);
    expect(ts.filter((t) => t.bufs?.['data'] === null).every((t) => t.args!['count'] !== undefined)).toBe(true);
  });

  /**
   * A model-only fuzz pass over `events` that shows `visit` each successful `op` with the context
   * it ran in, before and after. The state before an event is the one the step before led to (a
   * run's first event sees the last run's: it is never one of these, whose constructors come first).
   */
  function successes(op: string, events: string[], runs: number, visit: (ev: Event, res: Result, before: Ctx, after: Ctx) => void) {
    let prev: World | undefined;
    return fuzz({
      seed: SEED,
      runs,
      maxSteps: 60,
      events,
      replayEvery: 0,
      onStep(ev, res, after) {
        const w = prev;
        prev = after;
        if (!w || ev.op !== op || res?.errno !== 0) return;
        const ctxId = w.files.get(w.procs.get(ev.pid ?? 1)!.fds.get(ev.fd!)!)!.ctx!;
        visit(ev, res, w.ctxs.get(ctxId)!, after.ctxs.get(ctxId)!);
      },
    });
  }

  it('dirty tracking reaches reads over 1 MiB IOPTEs that hold dirty bits (the ordinary mix almost never did: seed 403)', () => {
    const events = ['IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS', 'IOMMU_HWPT_ALLOC', 'IOMMU_HWPT_SET_DIRTY_TRACKING', 'IOMMU_HWPT_GET_DIRTY_BITMAP', 'IOMMU_TEST_OP_DIRTY', 'IOMMU_IOAS_MAP', 'IOMMU_IOAS_UNMAP', 'mmap', 'madvise'];
    let overHuge = 0;
    let dirtyHuge = 0;
    // (before the read: it clears what it reports)
    const r = successes('IOMMU_HWPT_GET_DIRTY_BITMAP', events, 300, (ev, _res, ctx) => {
      const o = ctx.objs.get(Number(ev.args!['hwpt_id']));
      if (o?.type !== 'hwpt_paging') return;
      const s = ev.args!['iova'] as bigint;
      const l = s + (ev.args!['length'] as bigint) - 1n;
      let over = false;
      let dirty = false;
      o.domain.hugeMapped.each((a, b) => {
        if (a > l || b < s) return true;
        over = true;
        // (dirty bits are kept per 2 KiB slot)
        o.domain.dirty.each(() => ((dirty = true), false), (a > s ? a : s) / 2048n, (b < l ? b : l) / 2048n);
        return !dirty;
      });
      if (over) overHuge++;
      if (dirty) dirtyHuge++;
    });
    expect(r.failure).toBeNull();
    expect(overHuge).toBeGreaterThan(5);
    expect(dirtyHuge).toBeGreaterThan(0);
  });

  it('VFIO compat unmaps cut type1 areas (a container made type1 when a command asks for a cut)', () => {
    // No VFIO_SET_IOMMU among the kinds: only the cutting command's constructors make the container type1.
    let cuts = 0;
    const r = successes('VFIO_IOMMU_UNMAP_DMA', ['VFIO_IOMMU_UNMAP_DMA', 'VFIO_IOMMU_MAP_DMA', 'IOMMU_IOAS_MAP', 'mmap'], 100, (ev, res, c1, c2) => {
      const o1 = c1.objs.get(c1.vfioIoas!);
      const o2 = c2.objs.get(c1.vfioIoas!);
      if (o1?.type !== 'ioas' || o2?.type !== 'ioas' || !o1.iopt.disableLargePages) return;
      // A cut: an area that straddled the range's first or last byte keeps its outside part.
      const first = ev.args!['iova'] as bigint;
      const last = first + (res.out!['size'] as bigint) - 1n;
      let cut = false;
      o1.iopt.areas.eachOverlapping(first, last, (s, l) => {
        if ((s < first && o2.iopt.areas.find(s)?.last === first - 1n) || (l > last && o2.iopt.areas.find(last + 1n)?.start === last + 1n)) cut = true;
        return !cut;
      });
      if (cut) cuts++;
    });
    expect(r.failure).toBeNull();
    expect(cuts).toBeGreaterThan(5);
  });

  it('is reproducible by seed', () => {
    const a = fuzz({ seed: 7, runs: 20, maxSteps: 20, kernel: '6.14' });
    const b = fuzz({ seed: 7, runs: 20, maxSteps: 20, kernel: '6.14' });
    expect(b.steps).toBe(a.steps);
    expect(a.steps).toBeGreaterThan(0);
  });

  it("a failure is shrunk, written as trace twins and a report, and reproduced by replay and --check", async () => {
    // A planted bug through an injected model: every successful IOAS_MAP also takes an IOAS reference.
    const buggy: ModelApi = {
      ...realModel,
      apply(w, ev) {
        const r = apply(w, ev);
        if (ev.op !== 'IOMMU_IOAS_MAP' || r.result.errno) return r;
        const id = Number(ev.args!['ioas_id']);
        const ctx = r.state.ctxs.get(1)!;
        const o = ctx.objs.get(id)!;
        return { ...r, state: { ...r.state, ctxs: r.state.ctxs.set(1, { ...ctx, objs: ctx.objs.set(id, { ...o, users: o.users + 1 }) }) } };
      },
    };
    const r = fuzz({ model: buggy, seed: SEED, runs: 100, maxSteps: 30 });
    const f = r.failure!;
    expect(f).not.toBeNull();
    expect(f.invariant).toBe('refcounts');
    expect(f.events.length).toBeLessThanOrEqual(6);
    expect(f.events[f.failingIndex]!.op).toBe('IOMMU_IOAS_MAP');
    expect(f.diff.length).toBeGreaterThan(0);
    // Reproducible by seed and fast-check path.
    const again = fuzz({ model: buggy, seed: f.seed, path: f.path!, replayPath: f.replayPath!, runs: 100, maxSteps: 30 });
    expect(again.failure?.events.map((e) => e.op)).toEqual(f.events.map((e) => e.op));
    const dir = mkdtempSync(join(tmpdir(), 'iorewind-fuzz-'));
    try {
      const files = await writeFailure(dir, 'case', f);
      const text = reportText(f, files);
      expect(text).toContain('invariant violated: refcounts');
      expect(text).toContain(`>> #${f.failingIndex}`);
      for (const path of [files.trace, files.jsonl]) {
        const src = await openSource(path);
        const events: Event[] = [];
        for await (const ev of src.events) events.push(ev);
        expect(events.length).toBe(f.events.length);
        // The real model answers like the buggy one; the record at the failing step names the invariant.
        const s = await replay(events, { kernel: src.kernel });
        expect(s.divergences).toBe(1);
        expect(s.first_divergence!.index).toBe(f.failingIndex);
        expect(s.first_divergence!.what).toBe('out.invariant_violated');
        expect(String(s.first_divergence!.expected)).toMatch(/^refcounts: /);
        // The events reproduce the violation with the buggy model, and are clean with the real one.
        expect(checkEvents(events, src.kernel, { model: buggy })?.index).toBe(f.failingIndex);
        expect(checkEvents(events, src.kernel)).toBeNull();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
