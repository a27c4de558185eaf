/**
 * Importing the executor's records (binary, or capture format + "ev"):
 * they split per trace, become the kernel's answers on the trace's own
 * events, and the model is judged against them exactly as `replay` judges
 * a capture.
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { judge } from '../../../src/oracle/check.js';
import { encodeInput, ioctlArg } from '../../../src/oracle/encode.js';
import { decodeRecords, kernelAnswer, RecordDecoder, splitRecords, withKernelAnswers, type Rec } from '../../../src/oracle/results.js';

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

  it("where the kernel moved a mapping (mremap's answer) goes with the event, as a capture's does", () => {
    const mv = (flags: number, placed?: bigint): Event => ({ op: 'mremap', args: { va: 0x7f0000000000n, old_length: 0x4000n, new_length: 0x8000n, flags, ...(placed !== undefined ? { placed } : {}) } });
    const text = [
      JSON.stringify({ seq: 1, kind: 'test', pid: 0, test: 't0', tseq: 0 }),
      rec('mremap', 0, { old_addr: '0x7f0000000000', old_len: 16384, new_len: 32768, flags: 1, new_addr: '0x0', ret: '0x7ffff7fd9000', errno: 0 }),
      rec('mremap', 1, { old_addr: '0x7f0000000000', old_len: 16384, new_len: 32768, flags: 0, new_addr: '0x0', ret: null, errno: 12 }),
      rec('mremap', 2, { old_addr: '0x7f0000000000', old_len: 16384, new_len: 32768, flags: 1, new_addr: '0x0', ret: '0x7ffff7fd9000', errno: 0 }),
      JSON.stringify({ seq: 9, kind: 'oracle_end', pid: 0, test: 't0', tseq: 0, status: 'ok', done: 3, ops: 3 }),
    ].join('\n');
    const k = withKernelAnswers([mv(1), mv(0), mv(1, 0x7f0001000000n)], splitRecords(text).get('t0')!);
    expect(k.events[0]!.args).toMatchObject({ placed: 0x7ffff7fd9000n });
    expect(k.events[0]!.rec).toEqual({ errno: 0, ret: 0x7ffff7fd9000 });
    expect(k.events[1]!.args).not.toHaveProperty('placed');
    // (the generator's stand-in gives way to the kernel's answer)
    expect(k.events[2]!.args).toMatchObject({ placed: 0x7ffff7fd9000n });
  });

  it("a snapshot's mapping the guest refused is listed, and a divergence after it is the executor's error, not the model's (seed 115)", async () => {
    const events: Event[] = [
      { op: 'maps', args: { maps: [{ start: 0x7f0000000000n, end: 0x7f0000400000n, perms: 'rw-s', path: '/dev/zero (deleted)' }] } },
      { op: 'read_memory', args: { va: 0x7f0000090000n, length: 0x10n } },
    ];
    const text = [
      JSON.stringify({ seq: 1, kind: 'test', pid: 0, test: 't0', tseq: 0 }),
      rec('env', 0, { what: 'maps', ret: 0, errno: 0, failed: 1 }),
      rec('memread', 1, { addr: '0x7f0000090000', len: 16, ret: -1, errno: 14 }),
      JSON.stringify({ seq: 9, kind: 'oracle_end', pid: 0, test: 't0', tseq: 0, status: 'ok', done: 2, ops: 2 }),
    ].join('\n');
    const recs = splitRecords(text).get('t0')!;
    const k = withKernelAnswers(events, recs);
    expect(k.skipped).toEqual([{ index: 0, op: 'maps', why: "the kernel refused 1 of the snapshot's mappings, unmappings or protections in the guest" }]);
    expect(k.envFailures).toEqual([0]);
    const r = await judge('t0', events, recs);
    expect(r.verdict).toBe('error');
    expect(r.reason).toMatch(/refused event 0 \(maps/);
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

  it('an environment op that failed in the guest is listed: the process is not in the state the trace says', () => {
    const text = [
      JSON.stringify({ seq: 1, kind: 'test', pid: 0, test: 't0', tseq: 0 }),
      rec('env', 0, { what: 'rlimit_memlock', ret: 0, errno: 0 }),
      rec('env', 1, { what: 'rlimit_memlock', ret: -1, errno: 22 }),
      JSON.stringify({ seq: 9, kind: 'oracle_end', pid: 0, test: 't0', tseq: 0, status: 'ok', done: 2, ops: 2 }),
    ].join('\n');
    const evs: Event[] = [
      { op: 'set_rlimit_memlock', args: { pages: 0n } },
      { op: 'set_rlimit_memlock', args: { pages: null } },
    ];
    const k = withKernelAnswers(evs, splitRecords(text).get('t0')!);
    expect(k.events.every((e) => e.rec === undefined)).toBe(true);
    expect(k.skipped).toEqual([{ index: 1, op: 'set_rlimit_memlock', why: 'rlimit_memlock failed in the guest (EINVAL)' }]);
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

/** Binary records as executor.c writes them (docs/oracle.md, "Records"). */
class Bin {
  readonly b: number[] = [];
  u8(v: number): this {
    this.b.push(v & 0xff);
    return this;
  }
  v(x: number | bigint): this {
    let n = BigInt(x);
    do {
      const c = Number(n & 0x7fn);
      n >>= 7n;
      this.u8(c | (n ? 0x80 : 0));
    } while (n);
    return this;
  }
  z(x: number): this {
    return this.v(x < 0 ? -2 * x - 1 : 2 * x);
  }
  bytes(d: ArrayLike<number>): this {
    for (let i = 0; i < d.length; i++) this.u8(d[i]!);
    return this;
  }
  trace(pos: number): this {
    return this.u8(1).v(pos);
  }
  end(status: number, done: number, detail = 0): this {
    return this.u8(2).u8(status).v(done).z(detail);
  }
  skip(ev: number, why: string): this {
    return this.u8(3).v(ev).v(why.length).bytes(Buffer.from(why));
  }
  result(ev: number, ret: number, errno = 0, data: ArrayLike<number> = []): this {
    return this.u8(4).v(ev).z(ret).v(errno).v(data.length).bytes(data);
  }
  /** runs: [offset, bytes]; bufs: [id, len, bytes | null (fault)] */
  ioctl(ev: number, ret: number, errno: number, flags: number, runs: [number, number[]][] = [], bufs: [number, number, number[] | null][] = []): this {
    this.u8(5).v(ev).z(ret).v(errno).u8(flags);
    if (!(flags & 5)) {
      this.v(runs.length);
      let at = 0;
      for (const [off, d] of runs) {
        this.v(off - at).v(d.length).bytes(d);
        at = off + d.length;
      }
    }
    for (const [id, len, d] of bufs) {
      this.u8(id | (d === null ? 0x40 : 0)).v(len);
      if (d) this.bytes(d);
    }
    return this.u8(0);
  }
  get buf(): Uint8Array {
    return Uint8Array.from(this.b);
  }
}

/** An answer imported without the shortcut: the same record, a plain copy (no binary bytes attached). */
const viaImporter = (ev: Event, r: Rec) => kernelAnswer(ev, JSON.parse(JSON.stringify(r)) as Rec);

describe('binary records', () => {
  const { input } = encodeInput([{ name: 't0', events: trace }]);
  const kernel = (destroyErrno: number, allocId = 1) =>
    new Bin()
      .trace(0)
      .result(0, 0)
      .result(1, 0x7f0000000000)
      .ioctl(2, 0, 0, 0, [[8, [allocId, 0, 0, 0]]])
      .ioctl(3, 0, 0, 0)
      .ioctl(4, -1, destroyErrno, 0)
      .end(0, 5).buf;

  it('give the same answers as the capture-format records', () => {
    const bin = withKernelAnswers(trace, decodeRecords(kernel(2, 7), input).get('t0')!);
    const json = withKernelAnswers(trace, splitRecords(kernelSays(2, 7)).get('t0')!);
    expect(bin.events.map((e) => e.rec)).toEqual(json.events.map((e) => e.rec));
    expect(bin.events[2]!.rec).toMatchObject({ errno: 0, out: { out_ioas_id: 7 } });
    const recs = decodeRecords(kernel(2), input).get('t0')!;
    expect(recs).toMatchObject({ status: 'ok', done: 5, ioctls: 3 });
    expect(recs.byEvent.get(1)![0]).toMatchObject({ kind: 'mmap', ret: '0x7f0000000000', errno: 0, pid: 1, test: 't0', ev: 1 });
    expect(recs.byEvent.get(4)![0]).toMatchObject({ kind: 'ioctl', fd: 0, cmd: '0x3b80', ret: -1, errno: 2 });
    expect(splitRecords(kernel(2), input).get('t0')!.ioctls).toBe(3);
  });

  it('stream in any pieces: each trace comes out complete at its end record', () => {
    const all = kernel(2);
    const d = new RecordDecoder(input);
    const got: string[] = [];
    for (let i = 0; i < all.length; i++) {
      const done = d.push(all.subarray(i, i + 1));
      got.push(...done.map((t) => t.name));
      if (i < all.length - 1) expect(done).toEqual([]);
    }
    expect(got).toEqual(['t0']);
    expect(d.leftover).toBe(0);
    expect(withKernelAnswers(trace, d.all.get('t0')!).events.map((e) => e.rec)).toEqual(withKernelAnswers(trace, decodeRecords(all, input).get('t0')!).events.map((e) => e.rec));
    // cut short: the trace is there, unfinished
    expect(decodeRecords(all.subarray(0, all.length - 4), input).get('t0')!.status).toBe('missing');
  });

  it('the ioctl shortcut answers exactly as the capture importer does', () => {
    const evs: Event[] = [
      ...trace.slice(0, 4),
      { op: 'IOMMU_IOAS_IOVA_RANGES', fd: 0, args: { ioas_id: 1, num_iovas: 2, allowed_iovas: 0x10000n } },
      { op: 'IOMMU_IOAS_IOVA_RANGES', fd: 0, args: { ioas_id: 1, num_iovas: 2, allowed_iovas: 0x10000n } },
      { op: 'IOMMU_IOAS_UNMAP', fd: 0, args: { ioas_id: 1, iova: 0x1000000n, length: 0x100000n } },
      { op: 'IOMMU_TEST_OP_MD_CHECK_MAP', fd: 0, args: { id: 4, check_map: { iova: 0x1000000n, length: 0x1000n, uptr: 0x7f0000000000n } } },
    ];
    const { input: inp } = encodeInput([{ name: 't0', events: evs }]);
    const range = [0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
    const recs = decodeRecords(
      new Bin()
        .trace(0)
        .result(0, 3)
        .result(1, 0x7f0000000000)
        .ioctl(2, 0, 0, 0, [[8, [1]]])
        .ioctl(3, 0, 0, 0)
        .ioctl(4, 0, 0, 0, [[8, [1]], [24, [0, 0x10]]], [[8 | 1, 16, range]])
        // the buffer unreadable after the call: nothing of it to compare
        .ioctl(5, -1, 14, 0, [], [[8 | 1, 32, null]])
        .ioctl(6, 0, 0, 0, [[16, [0, 0x30, 0]]])
        .ioctl(7, -1, 22, 0)
        .end(0, 8).buf,
      inp,
    ).get('t0')!;
    for (const i of [2, 3, 4, 5, 6, 7]) {
      const r = recs.byEvent.get(i)![0]!;
      expect(kernelAnswer(evs[i]!, r), `event ${i}`).toEqual(viaImporter(evs[i]!, r));
    }
    expect(kernelAnswer(evs[4]!, recs.byEvent.get(4)![0]!)).toEqual({ errno: 0, out: expect.objectContaining({ num_iovas: 1, out_iova_alignment: 0x1000n }), bufs: { allowed_iovas: Uint8Array.from(range) } });
    expect(kernelAnswer(evs[6]!, recs.byEvent.get(6)![0]!)!.out).toMatchObject({ length: 0x3000n });
    expect(kernelAnswer(evs[7]!, recs.byEvent.get(7)![0]!)).toMatchObject({ errno: 'EINVAL' });
  });

  it('an unreadable struct, an integer argument, a cut buffer, a skipped op, a crash', () => {
    const evs: Event[] = [
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: null },
      { op: 'IOMMU_IOAS_IOVA_RANGES', fd: 0, args: { ioas_id: 1, num_iovas: 2, allowed_iovas: 0x10000n } },
      { op: 'munmap', args: { va: 0x400000n, length: 4096n } },
      { op: 'IOMMU_DESTROY', fd: 0, args: { id: 1 } },
    ];
    const { input: inp } = encodeInput([{ name: 'x', events: evs }]);
    const recs = decodeRecords(
      new Bin()
        .trace(0)
        .ioctl(0, -1, 14, 1)
        .ioctl(1, 0, 0, 0, [], [[8 | 1 | 0x80, 1 << 20, Array(256 * 1024).fill(0)]])
        .skip(2, "the executor's own memory")
        .end(2, 3, 11).buf,
      inp,
    ).get('x')!;
    expect(recs).toMatchObject({ status: 'crash', detail: 11, done: 3, ioctls: 2 });
    expect(recs.byEvent.get(0)![0]).toMatchObject({ in: null, fault: 1, errno: 14 });
    expect(kernelAnswer(evs[0]!, recs.byEvent.get(0)![0]!)).toEqual({ errno: 'EFAULT' });
    // a buffer longer than the recorder keeps: the record is undecodable, as in a capture (errno only)
    const cut = recs.byEvent.get(1)![0]!;
    expect(cut).toMatchObject({ allowed_iovas_out_trunc: 1 << 20 });
    expect(kernelAnswer(evs[1]!, cut)).toEqual(viaImporter(evs[1]!, cut));
    expect(kernelAnswer(evs[1]!, cut)!.bufs).toBeUndefined();
    const k = withKernelAnswers(evs, recs);
    expect(k.skipped).toEqual([{ index: 2, op: 'munmap', why: "the executor's own memory" }]);
    expect(k.events[3]!.rec).toBeUndefined();
  });
});
