/**
 * I/O page faults (kernel-semantics §9): every fault group is answered at
 * most once, and only groups of live attachments wait for an answer.
 */
import type { Ctx, FaultObj } from '../model/state.js';
import type { StepDelta } from './delta.js';
import type { Invariant, Violation } from './types.js';
import { objsOf } from './util.js';

export const FAULT_ANSWERED_ONCE = 'fault-answered-once';

function checkFault(ctxId: number, ctx: Ctx, f: FaultObj, out: Violation[]): void {
  const where = { invariant: FAULT_ANSWERED_ONCE, ctx: ctxId, obj: f.id };
  const live = (g: { dev: number; hwpt: number }, state: string, cookie?: number) => {
    const dev = ctx.objs.get(g.dev);
    const h = ctx.objs.get(g.hwpt);
    const what = `fault ${f.id}: ${state} group${cookie !== undefined ? ` (cookie ${cookie})` : ''} of device ${g.dev} through HWPT ${g.hwpt}`;
    if (dev?.type !== 'device' || dev.hwpt !== g.hwpt) out.push({ ...where, message: `${what}: the device is no longer attached there, so the group must have been answered automatically (§9.4)` });
    else if ((h?.type !== 'hwpt_paging' && h?.type !== 'hwpt_nested') || h.fault !== f.id) out.push({ ...where, message: `${what}: that HWPT does not deliver to this fault object` });
  };
  for (const g of f.queue) live(g, 'queued');
  f.awaiting.each((cookie, g) => {
    // (0 only once an answer naming 0 freed the xarray's reserved index: FaultObj.zeroFree)
    const min = f.zeroFree ? 0 : 1;
    if (cookie < min || cookie > 0xffffffff) out.push({ ...where, message: `fault ${f.id}: cookie ${cookie} is outside ${min}..2^32-1` });
    live(g, 'read', cookie);
  });
  const seen = new Set<unknown>();
  for (const g of f.queue) seen.add(g);
  f.awaiting.each((cookie, g) => {
    if (seen.has(g)) out.push({ ...where, message: `fault ${f.id}: group with cookie ${cookie} is both queued and awaiting an answer` });
    seen.add(g);
  });
  if (f.answered < 0) out.push({ ...where, message: `fault ${f.id}: answered count ${f.answered} is negative` });
}

/** Events that raise one page request: the mock's TRIGGER_IOPF and the device `iopf` event. */
const RAISES = new Set(['IOMMU_TEST_OP_TRIGGER_IOPF', 'iopf']);

const total = (f: FaultObj): number => f.queue.length + f.awaiting.size + f.answered;

export const faultAnsweredOnce: Invariant = {
  name: FAULT_ANSWERED_ONCE,
  kind: 'state',
  summary: 'every fault group is answered at most once; only groups of live attachments wait for an answer',
  doc:
    'A fault group is queued, read (waiting under a unique cookie) or answered, never two of these, and never ' +
    'answered twice: per fault object, queued + awaiting + answered only grows by the one group a page request (TRIGGER_IOPF, iopf) may ' +
    'deliver, and the answered count never decreases, so a stale or reused cookie that is accepted a second time, or ' +
    'a group answered both by the user and automatically, shows up as a jump (kernel-semantics §9.3-9.4). A queued or ' +
    'read group belongs to a device still attached to the HWPT it faulted through, whose fault object is this one: ' +
    'detaching, replacing away and destroying answer them automatically. Incremental: fault objects that changed, ' +
    'and all fault objects of a context whose devices or HWPTs changed.',
  checkState(w) {
    const out: Violation[] = [];
    w.ctxs.each((ctxId, ctx) => {
      for (const [, o] of objsOf(ctx)) if (o.type === 'fault') checkFault(ctxId, ctx, o, out);
    });
    return out;
  },
  checkStep(d: StepDelta) {
    const out: Violation[] = [];
    if (d.unchanged) return out;
    for (const [ctxId, [, ctx]] of d.ctxs) {
      if (!ctx) continue;
      let all = false;
      const faults = new Set<number>();
      for (const [id, [b, a]] of d.objs(ctxId)) {
        if (a?.type === 'fault') faults.add(id);
        const t = (a ?? b)!.type;
        if (t === 'device' || t === 'hwpt_paging' || t === 'hwpt_nested') all = true;
        if (b?.type === 'fault' && a?.type === 'fault') {
          const n0 = total(b);
          const n1 = total(a);
          const raised = RAISES.has(d.event.op) && d.result.errno === 0 ? 1 : 0;
          if (n1 < n0 || n1 > n0 + raised)
            out.push({ invariant: FAULT_ANSWERED_ONCE, ctx: ctxId, obj: id, message: `${d.event.op}: fault ${id} went from ${b.queue.length} queued + ${b.awaiting.size} awaiting + ${b.answered} answered to ${a.queue.length} + ${a.awaiting.size} + ${a.answered}: a group was ${n1 > n0 ? 'answered twice or made up' : 'lost without an answer'}` });
          if (a.answered < b.answered) out.push({ invariant: FAULT_ANSWERED_ONCE, ctx: ctxId, obj: id, message: `${d.event.op}: fault ${id} answered count went down (${b.answered} -> ${a.answered})` });
        }
      }
      if (all) for (const [id, o] of objsOf(ctx)) if (o.type === 'fault') faults.add(id);
      for (const id of faults) {
        const o = ctx.objs.get(id);
        if (o?.type === 'fault') checkFault(ctxId, ctx, o, out);
      }
    }
    return out;
  },
};
