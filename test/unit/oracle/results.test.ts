/**
 * Importing the executor's records (capture format + "ev"): they split per
 * trace, become the kernel's answers on the trace's own events, and the
 * model is judged against them exactly as `replay` judges a capture.
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { judge } from '../../../src/oracle/check.js';
import { ioctlArg } from '../../../src/oracle/encode.js';
import { kernelAnswer, splitRecords, withKernelAnswers } from '../../../src/oracle/results.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let seq = 0;
/** A record as executor.c writes it. */
function rec(kind: string, ev: number, fields: Record<string, unknown>, pid = 1, test = 't0'): string {
  return JSON.stringify({ seq: seq++, kind, pid, test, tseq: ev + 1, ev, ...fields });
}

/** The ioctl record of an event: `in` as sent, `out` with some bytes changed by "the kernel". */
function ioctlRec(ev: Event, index: number, out: (b: Uint8Array) => void, errno = 0): string {
  const a = ioctlArg(ev);
  const size = new DataView(a.bytes.buffer, a.bytes.byteOffset).getUint32(0, true);
  const before = a.bytes.slice(0, size);
  const after = before.slice();
  out(after);
  return rec('ioctl', index, { fd: ev.fd, cmd: `0x${a.request.toString(16)}`, nr: `0x${(a.request & 0xff).toString(16)}`, in: hex(before), out: hex(after), ret: errno ? -1 : 0, errno });
}

const setU32 = (off: number, v: number) => (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).setUint32(off, v, true);

const trace: Event[] = [
  { op: 'open', args: { path: '/dev/iommu' } },
  { op: 'mmap', args: { va: 0x7f0000000000n, length: 0x4000n, kind: 'anon' } },
  { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
  { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: 0x7f0000000000n, length: 0x1000n, iova: 0x1000000n } },
  { op: 'IOMMU_DESTROY', fd: 0, args: { id: 99 } },
  { op: 'note', args: { text: 'x' } },
];

function kernelSays(destroyErrno: number, allocId = 1): string {
  return [
    JSON.stringify({ seq: seq++, kind: 'test', pid: 0, test: 't0', tseq: 0 }),
    rec('open', 0, { path: '/dev/iommu', flags: 2, ret: 0, errno: 0 }),
    rec('mmap', 1, { addr: '0x7f0000000000', len: 16384, prot: 3, flags: 49, fd: -1, offset: 0, ret: '0x7f0000000000', errno: 0 }),
    ioctlRec(trace[2]!, 2, setU32(8, allocId)),
    ioctlRec(trace[3]!, 3, () => {}),
    ioctlRec(trace[4]!, 4, () => {}, destroyErrno),
    JSON.stringify({ seq: seq++, kind: 'oracle_end', pid: 0, test: 't0', tseq: 0, status: 'ok', done: 5, ops: 5 }),
  ].join('\n');
}

describe('records -> kernel answers', () => {
  it('split per trace, with status and ioctl counts', () => {
    const text = `${kernelSays(2)}\n${JSON.stringify({ seq: seq++, kind: 'test', pid: 0, test: 't1', tseq: 0 })}\n${JSON.stringify({ seq: seq++, kind: 'oracle_end', pid: 0, test: 't1', tseq: 0, status: 'timeout', done: 0, ops: 3, detail: 30000 })}\n`;
    const s = splitRecords(text);
    expect([...s.keys()]).toEqual(['t0', 't1']);
    expect(s.get('t0')).toMatchObject({ status: 'ok', ioctls: 3, done: 5 });
    expect(s.get('t1')).toMatchObject({ status: 'timeout', detail: 30000, ioctls: 0 });
    expect([...s.get('t0')!.byEvent.keys()]).toEqual([0, 1, 2, 3, 4]);
  });

  it('an ioctl record gives errno and the written-back fields by name; the trace keeps its own events', () => {
    const s = splitRecords(kernelSays(2)).get('t0')!;
    const k = withKernelAnswers(trace, s);
    expect(k.events[2]!.rec).toMatchObject({ errno: 0, out: { flags: 0, out_ioas_id: 1 } });
    expect(k.events[4]!.rec).toMatchObject({ errno: 'ENOENT' });
    expect(k.events[0]!.rec).toMatchObject({ errno: 0 });
    expect(k.events[5]!.rec).toBeUndefined();
    expect(k.events[3]!.args).toBe(trace[3]!.args);
  });

  it('a trace answer carried by the event is replaced by the kernel one', () => {
    const withOwn = trace.map((e) => ({ ...e, rec: { errno: 'EPERM' } }));
    const k = withKernelAnswers(withOwn, splitRecords(kernelSays(2)).get('t0')!);
    expect(k.events[2]!.rec!.errno).toBe(0);
    expect(k.events[5]!.rec).toBeUndefined();
  });

  it('a short size: fields beyond it are the caller bytes the kernel never touched', () => {
    const ev: Event = { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: 0x7f0000000000n, length: 0x1000n, iova: 0x1000000n }, size: 36 };
    const r = JSON.parse(ioctlRec(ev, 0, () => {}, 22)) as Record<string, unknown>;
    expect((r['in'] as string).length).toBe(72);
    const a = kernelAnswer(ev, r)!;
    expect(a.errno).toBe('EINVAL');
    // iova's last 4 bytes lie beyond size 36: still the trace's value, not zero.
    expect(a.out!['iova']).toBe(0x1000000n);
  });

  it('skipped ops keep no answer and are listed', () => {
    const text = [
      JSON.stringify({ seq: 1, kind: 'test', pid: 0, test: 't0', tseq: 0 }),
      rec('munmap', 0, { addr: '0x400000', len: 4096, oracle_skip: "the executor's own memory", ret: 0, errno: 0 }),
      rec('oracle_skip', 1, { why: 'the process has exited' }),
      JSON.stringify({ seq: 9, kind: 'oracle_end', pid: 0, test: 't0', tseq: 0, status: 'ok', done: 2, ops: 2 }),
    ].join('\n');
    const k = withKernelAnswers([{ op: 'munmap', args: { va: 0x400000n, length: 4096n } }, { op: 'close', pid: 2, args: { fd: 0 } }], splitRecords(text).get('t0')!);
    expect(k.events.every((e) => e.rec === undefined)).toBe(true);
    expect(k.skipped.map((s) => s.why)).toEqual(["the executor's own memory", 'the process has exited']);
  });
});

describe('judging the model', () => {
  it('agrees when the kernel says what the model says', async () => {
    const r = await judge('x', trace, splitRecords(kernelSays(2)).get('t0'));
    expect(r).toMatchObject({ verdict: 'agree', divergences: 0, kernelIoctls: 3 });
    expect(r.verified).toBeGreaterThanOrEqual(5);
  });

  it('reports the first divergence as replay does: event, what, kernel (expected) vs model (actual)', async () => {
    const r = await judge('x', trace, splitRecords(kernelSays(1 /* EPERM */)).get('t0'));
    expect(r.verdict).toBe('diverge');
    expect(r.firstDivergence).toMatchObject({ index: 4, op: 'IOMMU_DESTROY', what: 'errno', expected: 'EPERM', actual: 'ENOENT' });
    const r2 = await judge('x', trace, splitRecords(kernelSays(2, 7)).get('t0'));
    expect(r2.firstDivergence).toMatchObject({ index: 2, what: 'out.out_ioas_id', expected: 7 });
  });

  it('a trace that crashed or timed out in the guest is an error, judged up to where it got', async () => {
    const text = kernelSays(2).replace('"status":"ok"', '"status":"crash","detail":11');
    const r = await judge('x', trace, splitRecords(text).get('t0'));
    expect(r.verdict).toBe('error');
    expect(r.reason).toMatch(/signal 11/);
    expect((await judge('x', trace, undefined)).verdict).toBe('error');
  });
});
