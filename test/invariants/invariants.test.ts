/**
 * The invariant catalogue: every invariant holds on real states, and every
 * one fails on a hand-made bad state (whole-state check and incremental step
 * check alike), so none can silently pass.
 */
import { describe, expect, it } from 'vitest';
import { apply } from '../../src/engine/apply.js';
import { diffStates } from '../../src/engine/diff.js';
import type { Event, Result } from '../../src/events/event.js';
import { Checker, checkReplayFromCheckpoints, checkState, INVARIANTS, invariant, StepDelta, type Invariant } from '../../src/invariants/index.js';
import { emptyWorld, type Ctx, type KernelVersion, type Obj, type World } from '../../src/model/state.js';

const VA = 0x7f0000000000n;
const IOVA = 0x1000000n;
const OK: Result = { errno: 0 };

/** A context with a mapped IOAS behind a mock domain, an access pin, a dirty-tracking HWPT with a dirty slot, a fault queue with a read group, and (6.14) a vIOMMU with a vDEVICE. */
function scenario(kernel: KernelVersion): { w: World; events: Event[]; states: World[]; ids: Record<string, number> } {
  let w = emptyWorld({ kernel });
  const events: Event[] = [];
  const states: World[] = [w];
  const checker = new Checker();
  const run = (ev: Event, want: string | 0 = 0): Result => {
    const r = apply(w, ev);
    expect(r.result.errno, `${ev.op}`).toBe(want);
    expect(checker.step({ prev: w, next: r.state, event: ev, result: r.result, index: events.length })).toEqual([]);
    events.push(ev);
    w = r.state;
    states.push(w);
    return r.result;
  };
  const io = (op: string, args: Event['args'], extra: Partial<Event> = {}, want: string | 0 = 0) => run({ op, fd: 0, args, ...extra }, want);
  run({ op: 'open', args: { path: '/dev/iommu' } });
  run({ op: 'mmap', args: { va: VA, length: 0x400000n, kind: 'anon' } });
  io('IOMMU_IOAS_ALLOC', { flags: 0 }); // 1
  const md = io('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} }).out!['mock_domain'] as Record<string, number>; // stdev 2, dev 3, hwpt 4
  io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 1, __reserved: 0, user_va: VA, length: 0x8000n, iova: IOVA });
  io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 1, __reserved: 0, user_va: VA + 0x10000n, length: 0x4000n, iova: IOVA + 0x10000n });
  const dirty = Number(io('IOMMU_HWPT_ALLOC', { flags: 2, dev_id: md['out_idev_id']!, pt_id: 1, __reserved: 0, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }).out!['out_hwpt_id']);
  io('IOMMU_HWPT_SET_DIRTY_TRACKING', { flags: 1, hwpt_id: dirty, __reserved: 0 });
  io('IOMMU_TEST_OP_DIRTY', { id: dirty, dirty: { flags: 0, iova: IOVA, length: 0x1000n, page_size: 2048n, uptr: 0x10000n } }, { bufs: { uptr: new Uint8Array([3]) } });
  const acc = io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 1 } }).out!['create_access'] as Record<string, number>;
  io('IOMMU_TEST_OP_ACCESS_PAGES', { id: acc['out_access_fd']!, access_pages: { flags: 0, iova: IOVA, length: 0x2000n, uptr: 0n } });
  const fault = io('IOMMU_FAULT_QUEUE_ALLOC', { flags: 0 }).out!;
  const ids: Record<string, number> = { ioas: 1, stdev: md['out_stdev_id']!, dev: md['out_idev_id']!, auto: md['out_hwpt_id']!, dirty, fault: Number(fault['out_fault_id']), faultFd: Number(fault['out_fault_fd']) };
  if (kernel === '6.14') {
    const fh = Number(io('IOMMU_HWPT_ALLOC', { flags: 4, dev_id: ids['dev']!, pt_id: 1, __reserved: 0, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: ids['fault']! }).out!['out_hwpt_id']);
    io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: ids['stdev']!, mock_domain_replace: { pt_id: fh } });
    io('IOMMU_TEST_OP_TRIGGER_IOPF', { id: 0, trigger_iopf: { dev_id: ids['dev']!, pasid: 0, grpid: 1, perm: 3, addr: IOVA } });
    run({ op: 'read_fault_fd', args: { fd: ids['faultFd']!, count: 40, pos: 0 } });
    const parent = Number(io('IOMMU_HWPT_ALLOC', { flags: 1, dev_id: ids['dev']!, pt_id: 1, __reserved: 0, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }).out!['out_hwpt_id']);
    ids['viommu'] = Number(io('IOMMU_VIOMMU_ALLOC', { flags: 0, type: 0xdeadbeef, dev_id: ids['dev']!, hwpt_id: parent }).out!['out_viommu_id']);
    ids['vdev'] = Number(io('IOMMU_VDEVICE_ALLOC', { viommu_id: ids['viommu']!, dev_id: ids['dev']!, virt_id: 7n }).out!['out_vdevice_id']);
    ids['faultHwpt'] = fh;
  }
  return { w, events, states, ids };
}

const ctxOf = (w: World): Ctx => w.ctxs.get(1)!;
function withCtx(w: World, f: (c: Ctx) => Ctx): World {
  return { ...w, ctxs: w.ctxs.set(1, f(ctxOf(w))) };
}
function withObj<T extends Obj>(w: World, id: number, f: (o: T) => Obj): World {
  return withCtx(w, (c) => ({ ...c, objs: c.objs.set(id, f(c.objs.get(id) as T)) }));
}
const obj = <T extends Obj['type']>(w: World, id: number, _t: T) => ctxOf(w).objs.get(id) as Extract<Obj, { type: T }>;

const names = (v: { invariant: string }[]) => [...new Set(v.map((x) => x.invariant))];

/** The invariant must object to `bad` both from scratch and as the step good -> bad. */
function expectCaught(inv: Invariant, good: World, bad: World, ev: Event = { op: 'note', args: {} }, result: Result = OK): void {
  expect(inv.checkState(good)).toEqual([]);
  if (inv.kind === 'state') expect(names(inv.checkState(bad))).toContain(inv.name);
  const d = new StepDelta({ prev: good, next: bad, event: ev, result, index: 0 });
  expect(names(inv.checkStep(d)), `${inv.name} step check`).toContain(inv.name);
}

for (const kernel of ['6.12', '6.14'] as const) {
  describe(`invariants on real states (Linux ${kernel})`, () => {
    it('hold on every state of a scenario, whole-state and step by step', () => {
      const { states } = scenario(kernel);
      for (const s of states) expect(checkState(s)).toEqual([]);
    });
    it('replay from any checkpoint equals replay from the start', () => {
      const { events, states } = scenario(kernel);
      expect(checkReplayFromCheckpoints({ apply, emptyWorld, diffStates }, { kernel, events, states })).toEqual([]);
    });
  });
}

describe('invariants do not object to legitimate corner cases the fuzzer met', () => {
  it('an unpinned mapping after RLIMIT_MEMLOCK was lowered below what is charged', () => {
    let w = emptyWorld({ kernel: '6.12' });
    const c = new Checker();
    const evs: Event[] = [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } },
      { op: 'drop_capability', args: { cap: 'CAP_IPC_LOCK' } },
      { op: 'mmap', args: { va: VA, length: 0x400000n, kind: 'anon' } },
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: VA, length: 0x1000n, iova: IOVA } },
      { op: 'set_rlimit_memlock', args: { pages: 0n } },
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 2, __reserved: 0, user_va: VA, length: 0x1000n, iova: IOVA } },
    ];
    evs.forEach((ev, index) => {
      const r = apply(w, ev);
      expect(r.result.errno, ev.op).toBe(0);
      expect(c.step({ prev: w, next: r.state, event: ev, result: r.result, index })).toEqual([]);
      w = r.state;
    });
    expect(checkState(w)).toEqual([]);
  });
});

describe('more corner cases the fuzzer met', () => {
  const run = (kernel: KernelVersion, evs: Event[]) => {
    let w = emptyWorld({ kernel });
    const c = new Checker();
    evs.forEach((ev, index) => {
      const r = apply(w, ev);
      expect(c.step({ prev: w, next: r.state, event: ev, result: r.result, index }), ev.op).toEqual([]);
      w = r.state;
    });
  };
  it('a replace that failed filling its new domain keeps what its pins faulted in (seed 11)', () => {
    run('6.12', [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      // (IOAS 2: an area of memory that is not mapped, after one that the fill faults in whole)
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 2, __reserved: 0, user_va: 0x7f0001000000n, length: 0x1000n, iova: 0x2000000n } },
      { op: 'mmap', args: { va: 0x7f0000000000n, length: 0x400000n, kind: 'private_anon', prot: 3 } },
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 2, __reserved: 0, user_va: 0x7f0000000000n, length: 0x200000n, iova: 0x1000000n } },
      { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } },
      { op: 'IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', fd: 0, args: { id: 3, mock_domain_replace: { pt_id: 2 } } },
    ]);
  });
  it('madvise over a hole: ENOMEM after advising the mapped parts (a partial effect)', () => {
    run('6.12', [{ op: 'open', args: { path: '/dev/iommu' } }, { op: 'madvise', args: { va: VA, length: 0x1000n, advice: 'DONTNEED' } }]);
  });
  it('automatic IOVA with an alignment below a page keeps the offset bits, not the page offset', () => {
    run('6.14', [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: 0n, length: 0x1000n, iova: 1n } },
      { op: 'mmap', args: { va: VA, length: 0x400000n, kind: 'anon' } },
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 6, ioas_id: 1, __reserved: 0, user_va: VA, length: 0x800n, iova: 0n } },
    ]);
  });
});

describe('every invariant fails on a hand-made bad state', () => {
  const { w, ids, events, states } = scenario('6.14');
  const tested = new Set<string>();
  const caught = (name: string, bad: World, ev?: Event, result?: Result) => {
    tested.add(name);
    expectCaught(invariant(name), w, bad, ev, result);
  };

  it('areas-disjoint: two areas share IOVAs', () => {
    const ioas = obj(w, 1, 'ioas');
    const a = ioas.iopt.areas.find(IOVA)!.value;
    // An interval map cannot be made to hold overlapping areas: a stand-in with the reading methods the check uses.
    const entries = [...ioas.iopt.areas.toArray().filter((x) => x.start !== IOVA), { start: IOVA, last: IOVA + 0x7fffn, value: a }, { start: IOVA + 0x4000n, last: IOVA + 0x7fffn, value: a }].sort((x, y) => (x.start < y.start ? -1 : 1));
    const fake = {
      size: entries.length,
      toArray: () => entries,
      each: (fn: (s: bigint, l: bigint, v: typeof a) => void) => entries.forEach((x) => fn(x.start, x.last, x.value)),
      eachOverlapping: (s: bigint, l: bigint, fn: (s: bigint, l: bigint, v: typeof a) => boolean | void) => {
        for (const x of entries) if (x.start <= l && s <= x.last && fn(x.start, x.last, x.value) === false) return;
      },
    };
    caught('areas-disjoint', withObj(w, 1, () => ({ ...ioas, iopt: { ...ioas.iopt, areas: fake as never } })));
    const step = invariant('areas-disjoint').checkStep(new StepDelta({ prev: w, next: withObj(w, 1, () => ({ ...ioas, iopt: { ...ioas.iopt, areas: fake as never } })), event: { op: 'note', args: {} }, result: OK, index: 0 }));
    expect(step.map((v) => v.message)).toEqual(['IOAS 1: area at 0x1004000 overlaps the previous area ending at 0x1007fff']);
  });

  it('areas-in-bounds: an area under a reserved range, and an unaligned one', () => {
    const ioas = obj(w, 1, 'ioas');
    caught('areas-in-bounds', withObj(w, 1, () => ({ ...ioas, iopt: { ...ioas.iopt, reserved: [...ioas.iopt.reserved, { start: IOVA + 0x1000n, last: IOVA + 0x1000n, owner: 'test' }] } })));
    expectCaught(invariant('areas-in-bounds'), w, withObj(w, 1, () => ({ ...ioas, iopt: { ...ioas.iopt, iovaAlignment: 0x10000n } })));
  });

  it('areas-in-bounds: an automatic IOVA outside the allowed ranges', () => {
    const ioas = obj(w, 1, 'ioas');
    const prev = withObj(w, 1, () => ({ ...ioas, iopt: { ...ioas.iopt, allowed: [{ start: 0x40000000n, last: 0x4fffffffn }] } }));
    const ev: Event = { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 6, ioas_id: 1, __reserved: 0, user_va: VA, length: 0x1000n, iova: 0n } };
    const d = new StepDelta({ prev, next: withObj(prev, 1, (o) => ({ ...o, users: o.users })), event: ev, result: { errno: 0, out: { iova: 0x2000000n } }, index: 0 });
    expect(names(invariant('areas-in-bounds').checkStep(d))).toContain('areas-in-bounds');
  });

  it('pinned-accounting: a pin count that no area or access explains', () => {
    const c = ctxOf(w);
    const [pid, p] = c.pages.toArray()[0]!;
    caught('pinned-accounting', withCtx(w, (x) => ({ ...x, pages: x.pages.set(pid, { ...p, npinned: p.npinned + 1 }) })));
    const [s, r] = p.pinned.toArray()[0]!;
    expectCaught(invariant('pinned-accounting'), w, withCtx(w, (x) => ({ ...x, pages: x.pages.set(pid, { ...p, pinned: p.pinned.set(s, { ...r, count: r.count + 1 }) }) })));
  });

  it('pinned-accounting: num_accesses the access pins do not explain (step check: only the areas and pins that changed)', () => {
    const inv = invariant('pinned-accounting');
    const stepMessages = (bad: World) => inv.checkStep(new StepDelta({ prev: w, next: bad, event: { op: 'note', args: {} }, result: OK, index: 0 })).map((v) => v.message).join('\n');
    const ioas = obj(w, 1, 'ioas');
    const pinned = ioas.iopt.areas.find(IOVA)!;
    expect(pinned.value.numAccesses).toBe(1);
    const setAreas = (areas: typeof ioas.iopt.areas) => withObj(w, 1, () => ({ ...ioas, iopt: { ...ioas.iopt, areas } }));
    // the area counts a pin nobody holds
    const counted = setAreas(ioas.iopt.areas.replaceValue(IOVA, { ...pinned.value, numAccesses: 2 }));
    caught('pinned-accounting', counted);
    expect(stepMessages(counted)).toMatch(/area at 0x1000000 has num_accesses 2 but 1 access pins/);
    // an access pin moved to an area that is not there (the area itself unchanged)
    const [accId, acc] = ctxOf(w).objs.toArray().find(([, o]) => o.type === 'access') as [number, Extract<Obj, { type: 'access' }>];
    const [itemId, item] = acc.items.toArray()[0]!;
    const moved = withObj(w, accId, () => ({ ...acc, items: acc.items.set(itemId, { ...item, pieces: item.pieces.map((p) => ({ ...p, area: 0x5000000n })) }) }));
    const msgs = stepMessages(moved);
    expect(msgs).toMatch(/an access pin names area 0x5000000, which does not exist/);
    expect(msgs).toMatch(/area at 0x1000000 has num_accesses 1 but 0 access pins/);
  });

  it('pinned-accounting: locked_vm that does not match the charged pins', () => {
    caught('pinned-accounting', { ...w, userLockedVm: w.userLockedVm.set(0, 5n) });
  });

  it('refcounts: users without a holder, and a file reference without an fd', () => {
    caught('refcounts', withObj(w, 1, (o) => ({ ...o, users: o.users + 1 })));
    const f = w.files.get(1)!;
    expectCaught(invariant('refcounts'), w, { ...w, files: w.files.set(1, { ...f, refs: f.refs + 1 }) });
  });

  it('no-dangling-ids: a pages object freed while an IOAS the step did not touch still maps it', () => {
    const ioas = obj(w, 1, 'ioas');
    const pagesId = ioas.iopt.areas.find(IOVA)!.value.pages;
    const freed = withCtx(w, (c) => ({ ...c, pages: c.pages.delete(pagesId) }));
    caught('no-dangling-ids', freed);
    const d = new StepDelta({ prev: w, next: freed, event: { op: 'note', args: {} }, result: OK, index: 0 });
    expect(invariant('no-dangling-ids').checkStep(d).map((v) => v.message)).toEqual([`IOAS 1: area at 0x1000000 names pages ${pagesId}, which does not exist`]);
  });

  it('no-dangling-ids: a device attached to a destroyed HWPT', () => {
    caught('no-dangling-ids', withObj(w, ids['dev']!, (o) => ({ ...o, hwpt: 99 })));
  });

  it('hwpt-maps-ioas: a paging HWPT missing from its IOAS domain list', () => {
    const ioas = obj(w, 1, 'ioas');
    caught('hwpt-maps-ioas', withObj(w, 1, () => ({ ...ioas, iopt: { ...ioas.iopt, domains: ioas.iopt.domains.filter((h) => h !== ids['dirty']) } })));
  });

  it('hwpt-maps-ioas: an automatic HWPT with no device left', () => {
    // The device moved to the fault HWPT (6.14 scenario); give the auto HWPT back its place without a device.
    const bad = withObj(w, ids['auto']!, () => ({ ...obj(w, ids['faultHwpt']!, 'hwpt_paging'), id: ids['auto']!, auto: true, fault: 0 }));
    const ioas = obj(w, 1, 'ioas');
    const bad2 = withObj(bad, 1, () => ({ ...ioas, hwpts: [...ioas.hwpts, ids['auto']!], iopt: { ...ioas.iopt, domains: [...ioas.iopt.domains, ids['auto']!] } }));
    expect(names(invariant('hwpt-maps-ioas').checkState(bad2))).toContain('hwpt-maps-ioas');
  });

  it('dirty-in-tracked-mappings: a dirty slot where nothing is mapped', () => {
    const h = obj(w, ids['dirty']!, 'hwpt_paging');
    caught('dirty-in-tracked-mappings', withObj(w, h.id, () => ({ ...h, domain: { ...h.domain, dirty: h.domain.dirty.set(0x40000n, true) } })));
  });

  it('dirty-in-tracked-mappings: enabling tracking that keeps old dirty bits', () => {
    const ev: Event = { op: 'IOMMU_HWPT_SET_DIRTY_TRACKING', fd: 0, args: { flags: 1, hwpt_id: ids['dirty']!, __reserved: 0 } };
    const h = obj(w, ids['dirty']!, 'hwpt_paging');
    expect(h.domain.dirty.size).toBeGreaterThan(0);
    const d = new StepDelta({ prev: w, next: withObj(w, h.id, () => ({ ...h, domain: { ...h.domain, dirtyEnabled: true } })), event: ev, result: OK, index: 0 });
    expect(names(invariant('dirty-in-tracked-mappings').checkStep(d))).toContain('dirty-in-tracked-mappings');
  });

  it('fault-answered-once: an answer counted twice, and a group of a detached device', () => {
    const f = obj(w, ids['fault']!, 'fault');
    expect(f.awaiting.size).toBe(1);
    const twice = new StepDelta({ prev: w, next: withObj(w, f.id, () => ({ ...f, answered: f.answered + 1 })), event: { op: 'write_fault_fd', args: { fd: ids['faultFd']!, pos: 0 } }, result: { errno: 0, ret: 8 }, index: 0 });
    expect(names(invariant('fault-answered-once').checkStep(twice))).toContain('fault-answered-once');
    const [cookie, g] = f.awaiting.toArray()[0]!;
    caught('fault-answered-once', withObj(w, f.id, () => ({ ...f, awaiting: f.awaiting.set(cookie, { ...g, dev: 99 }) })));
  });

  it('vdevice-has-viommu: a vDEVICE whose vIOMMU is gone', () => {
    caught('vdevice-has-viommu', withObj(w, ids['vdev']!, (o) => ({ ...o, viommu: 99 })));
  });

  it('failed-ioctl-unchanged: a failed ioctl that changed the state, and a query that did', () => {
    const bad = withObj(w, 1, (o) => ({ ...o }));
    caught('failed-ioctl-unchanged', bad, { op: 'IOMMU_IOAS_MAP', fd: 0, args: {} }, { errno: 'EINVAL' });
    const d = new StepDelta({ prev: w, next: bad, event: { op: 'IOMMU_IOAS_IOVA_RANGES', fd: 0, args: {} }, result: OK, index: 0 });
    expect(names(invariant('failed-ioctl-unchanged').checkStep(d))).toContain('failed-ioctl-unchanged');
    // The kernel's partial effects are allowed.
    const partial = new StepDelta({ prev: w, next: bad, event: { op: 'IOMMU_IOAS_UNMAP', fd: 0, args: {} }, result: { errno: 'ENOENT' }, index: 0 });
    expect(invariant('failed-ioctl-unchanged').checkStep(partial)).toEqual([]);
  });

  it('failed-ioctl-unchanged: a failed fault-fd answer may free cookie 0, and do nothing else', () => {
    const f = obj(w, ids['fault']!, 'fault');
    const answer = { op: 'write_fault_fd', args: { fd: ids['faultFd']!, pos: 0 } };
    const step = (next: World) => invariant('failed-ioctl-unchanged').checkStep(new StepDelta({ prev: w, next, event: answer, result: { errno: 'EINVAL' }, index: 0 }));
    expect(step(withObj(w, f.id, () => ({ ...f, zeroFree: true })))).toEqual([]);
    expect(names(step(withObj(w, f.id, () => ({ ...f, zeroFree: true, answered: f.answered + 1 }))))).toContain('failed-ioctl-unchanged');
    expect(names(step(withObj(w, 1, (o) => ({ ...o }))))).toContain('failed-ioctl-unchanged');
  });

  it('map-postcondition: a MAP that reports success but maps nothing', () => {
    const ev: Event = { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: VA, length: 0x1000n, iova: 0x3000000n } };
    caught('map-postcondition', withObj(w, 1, (o) => ({ ...o })), ev, { errno: 0, out: { iova: 0x3000000n } });
  });

  it('unmap-postcondition: an UNMAP that reports success but leaves the area', () => {
    const ev: Event = { op: 'IOMMU_IOAS_UNMAP', fd: 0, args: { ioas_id: 1, iova: IOVA + 0x10000n, length: 0x4000n } };
    caught('unmap-postcondition', withObj(w, 1, (o) => ({ ...o })), ev, { errno: 0, out: { length: 0x4000n } });
  });

  it('replay-from-checkpoint: a checkpoint that differs from a fresh replay', () => {
    tested.add('replay-from-checkpoint');
    const model = { apply, emptyWorld, diffStates };
    expect(checkReplayFromCheckpoints(model, { kernel: '6.14', events, states })).toEqual([]);
    const k = 5;
    const tampered = states.slice();
    tampered[k] = withObj(states[k]!, 1, (o) => ({ ...o, users: o.users + 1 }));
    expect(names(checkReplayFromCheckpoints(model, { kernel: '6.14', events, states: tampered, picks: [k] }))).toEqual(['replay-from-checkpoint']);
    // A reducer with hidden state: the same event answers differently the second time.
    let calls = 0;
    const leaky = { apply: (s: World, ev: Event) => (ev.op === 'IOMMU_IOAS_ALLOC' && calls++ > 0 ? { state: s, result: { errno: 'EBUSY' } } : apply(s, ev)), emptyWorld, diffStates };
    calls = 0;
    expect(names(checkReplayFromCheckpoints(leaky, { kernel: '6.14', events, states, picks: [0, events.length] }))).toContain('replay-from-checkpoint');
  });

  it('covers the whole catalogue', () => {
    for (const i of INVARIANTS) expect([...tested], `no bad-state test for ${i.name}`).toContain(i.name);
  });
});
