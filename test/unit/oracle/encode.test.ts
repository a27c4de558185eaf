/**
 * The oracle executor's input form (src/oracle/encode.ts, docs/oracle.md):
 * argument bytes exactly as the trace's program would pass them, buffer
 * pointers as patches with the model's reading of `bufs`, one op per event
 * carrying its index, and what 6.12 cannot run refused with a reason.
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { ARG, OP, PTR, appendPayload, decodeInput, encodeInput, ioctlArg, notCheckable, traceNotCheckable } from '../../../src/oracle/encode.js';
import { decodeStruct, decodeTestCmd } from '../../../src/uapi/codec.js';
import { IOCTLS } from '../../../src/uapi/ioctls.js';
import { structLayout } from '../../../src/uapi/versions.js';

const u32 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
const u64 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);

describe('ioctl arguments', () => {
  it('an iommufd struct is encoded with its size word, fields at their offsets, no patches for user addresses', () => {
    const a = ioctlArg({ op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: 0x7f0000000000n, length: 0x1000n, iova: 0x1000000n } });
    expect(a.request).toBe(IOCTLS.IOMMU_IOAS_MAP.cmd);
    expect(a.mode).toBe(ARG.STRUCT);
    expect(a.bytes.length).toBe(40);
    expect(decodeStruct(structLayout('iommu_ioas_map', '6.12'), a.bytes)).toEqual({ size: 40, flags: 7, ioas_id: 1, __reserved: 0, user_va: 0x7f0000000000n, length: 0x1000n, iova: 0x1000000n });
    expect(a.patches).toEqual([]);
  });

  it('a short size keeps the whole struct in the buffer (the kernel reads size bytes); a long one appends the tail', () => {
    const short = ioctlArg({ op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 }, size: 8 });
    expect(short.bytes.length).toBe(12);
    expect(u32(short.bytes, 0)).toBe(8);
    const long = ioctlArg({ op: 'IOMMU_DESTROY', fd: 0, args: { id: 5 }, size: 16, tail: Uint8Array.of(0, 0, 0, 0, 0, 0x5a, 0, 0) });
    expect([...long.bytes]).toEqual([16, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0x5a, 0, 0]);
  });

  it('buffer pointers become patches: bytes given are exactly readable, null is unreadable, NULL stays NULL', () => {
    const ranges = Uint8Array.from({ length: 16 }, (_v, i) => i);
    const given = ioctlArg({ op: 'IOMMU_IOAS_ALLOW_IOVAS', fd: 0, args: { ioas_id: 1, num_iovas: 1, __reserved: 0, allowed_iovas: 0x10000n }, bufs: { allowed_iovas: ranges } });
    expect(given.patches).toEqual([{ offset: 16, mode: PTR.IN, length: 16, data: ranges }]);
    // The struct keeps the trace's own pointer: the executor patches it.
    expect(u64(given.bytes, 16)).toBe(0x10000n);
    const bad = ioctlArg({ op: 'IOMMU_IOAS_ALLOW_IOVAS', fd: 0, args: { ioas_id: 1, num_iovas: 1, allowed_iovas: 0x10000n }, bufs: { allowed_iovas: null } });
    expect(bad.patches[0]!.mode).toBe(PTR.BAD);
    const absent = ioctlArg({ op: 'IOMMU_IOAS_ALLOW_IOVAS', fd: 0, args: { ioas_id: 1, num_iovas: 1, allowed_iovas: 0x10000n } });
    expect(absent.patches[0]).toMatchObject({ mode: PTR.IN, length: 0 });
    const nul = ioctlArg({ op: 'IOMMU_IOAS_ALLOW_IOVAS', fd: 0, args: { ioas_id: 1, num_iovas: 1, allowed_iovas: 0n }, bufs: { allowed_iovas: ranges } });
    expect(nul.patches).toEqual([]);
  });

  it('output buffers are as big as the kernel writes', () => {
    const r = ioctlArg({ op: 'IOMMU_IOAS_IOVA_RANGES', fd: 0, args: { ioas_id: 1, num_iovas: 3, allowed_iovas: 0x10000n } });
    expect(r.patches[0]).toMatchObject({ offset: 16, mode: PTR.OUT, length: 48 });
    const hw = ioctlArg({ op: 'IOMMU_GET_HW_INFO', fd: 0, args: { flags: 0, dev_id: 3, data_len: 8, data_uptr: 0x10000n } });
    expect(hw.patches[0]).toMatchObject({ offset: 16, mode: PTR.OUT, length: 8 });
    const dirty = ioctlArg({ op: 'IOMMU_HWPT_GET_DIRTY_BITMAP', fd: 0, args: { hwpt_id: 4, flags: 0, iova: 0x1000000n, length: 0x40000n, page_size: 0x1000n, data: 0x10000n } });
    // 64 bits: 8 bytes (whole u64 words, as iova_bitmap pins them)
    expect(dirty.patches[0]).toMatchObject({ offset: 40, mode: PTR.INOUT, length: 8 });
  });

  it('test ops: ACCESS_RW with bytes uses a buffer, without bytes the trace user memory; DIRTY reads its bitmap', () => {
    const data = Uint8Array.of(1, 2, 3, 4);
    const w = ioctlArg({ op: 'IOMMU_TEST_OP_ACCESS_RW', fd: 3, args: { id: 4, access_rw: { iova: 0x1000000n, length: 4n, uptr: 0x7f0000000000n, flags: 1 } }, bufs: { uptr: data } });
    expect(w.request).toBe(IOCTLS.IOMMU_TEST_CMD.cmd);
    expect(w.bytes.length).toBe(72);
    expect(decodeTestCmd(w.bytes, '6.12').op).toBe('IOMMU_TEST_OP_ACCESS_RW');
    expect(w.patches).toEqual([{ offset: 32, mode: PTR.IN, length: 4, data }]);
    const read = ioctlArg({ op: 'IOMMU_TEST_OP_ACCESS_RW', fd: 3, args: { id: 4, access_rw: { iova: 0x1000000n, length: 0x1000n, uptr: 0x7f0000000000n, flags: 0 } }, bufs: { uptr: new Uint8Array(16) } });
    expect(read.patches[0]).toMatchObject({ mode: PTR.INOUT, length: 0x1000 });
    const mem = ioctlArg({ op: 'IOMMU_TEST_OP_ACCESS_RW', fd: 3, args: { id: 4, access_rw: { iova: 0x1000000n, length: 0x10n, uptr: 0x7f0000000000n, flags: 0 } } });
    expect(mem.patches).toEqual([]);
    const d = ioctlArg({ op: 'IOMMU_TEST_OP_DIRTY', fd: 0, args: { id: 4, dirty: { flags: 0, iova: 0x1000000n, length: 0x4000n, page_size: 0x800n, uptr: 0x10000n } }, bufs: { uptr: Uint8Array.of(0xff) } });
    expect(d.patches[0]).toMatchObject({ offset: 48, mode: PTR.IN, length: 1 });
  });

  it('an unreadable argument, integer VFIO arguments, raw requests', () => {
    expect(ioctlArg({ op: 'IOMMU_IOAS_MAP', fd: 0, args: null }).mode).toBe(ARG.BAD);
    expect(ioctlArg({ op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: null }).mode).toBe(ARG.BAD);
    const ext = ioctlArg({ op: 'VFIO_CHECK_EXTENSION', fd: 0, args: { arg: 3n } });
    expect(ext).toMatchObject({ mode: ARG.INT, intArg: 3n, request: IOCTLS.VFIO_CHECK_EXTENSION.cmd });
    const raw = ioctlArg({ op: 'RAW_IOCTL', fd: 0, args: { request: 0x3b81, payload: { flags: 0 } } });
    expect(raw.mode).toBe(ARG.STRUCT);
    expect(raw.bytes.length).toBe(12);
    expect(u32(raw.bytes, 0)).toBe(12);
    expect(ioctlArg({ op: 'RAW_IOCTL', fd: 0, args: { request: 0x3b81, payload: null } }).mode).toBe(ARG.BAD);
    const info = ioctlArg({ op: 'VFIO_IOMMU_GET_INFO', fd: 0, args: { argsz: 64, flags: 0, iova_pgsizes: 0n, cap_offset: 0 }, bufs: { caps: new Uint8Array(40) } });
    expect(info.bytes.length).toBe(64);
    expect(u32(info.bytes, 0)).toBe(64);
  });
});

describe('checkability', () => {
  it('what 6.12 lacks and what the oracle has no equivalent of are refused, with the reason', () => {
    expect(notCheckable({ op: 'IOMMU_VIOMMU_ALLOC', fd: 0, args: {} })).toMatch(/vIOMMU.*6\.12 lacks/);
    expect(notCheckable({ op: 'IOMMU_IOAS_MAP_FILE', fd: 0, args: {} })).toMatch(/MAP_FILE/);
    expect(notCheckable({ op: 'IOMMU_VDEVICE_ALLOC', fd: 0, args: {} })).toMatch(/vDEVICE/);
    expect(notCheckable({ op: 'IOMMU_IOAS_CHANGE_PROCESS', fd: 0, args: {} })).toMatch(/CHANGE_PROCESS/);
    expect(notCheckable({ op: 'dma_write', args: {} })).toMatch(/hardware model/);
    expect(notCheckable({ op: 'IOMMU_IOAS_MAP', fd: 0, args: {} })).toBeUndefined();
    expect(notCheckable({ op: 'mmap', args: {} })).toBeUndefined();
    const t: Event[] = [{ op: 'open', args: { path: '/dev/iommu' } }, { op: 'IOMMU_VIOMMU_ALLOC', fd: 0, args: {} }];
    expect(traceNotCheckable(t)).toMatchObject({ index: 1, op: 'IOMMU_VIOMMU_ALLOC' });
    expect(() => encodeInput([{ name: 'x', events: t }])).toThrow(/event #1/);
  });
});

describe('the input form', () => {
  const events: Event[] = [
    { op: 'note', args: { text: 'nothing to run' } },
    { op: 'open', args: { path: '/dev/iommu' } },
    { op: 'mmap', args: { va: 0x7f0000000000n, length: 0x400000n, kind: 'anon_hugetlb', prot: 3 } },
    { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
    { op: 'fill_memory', args: { va: 0x7f0000000000n, length: 0x40n, pattern: { seed: 7 } } },
    { op: 'fork', args: { child: 2 } },
    { op: 'write_fault_fd', pid: 2, args: { fd: 4 }, bufs: { data: new Uint8Array(8) } },
    { op: 'exit', pid: 2, args: {} },
    { op: 'drop_capability', args: { cap: 'CAP_NET_ADMIN' } },
    { op: 'close', args: { fd: 0 } },
  ];

  it('one op per event that runs, carrying its index, pid and fd; what the model keeps to itself is not sent', () => {
    const { input, traces } = encodeInput([{ name: 'a', events }, { name: 'b', events: events.slice(1, 4) }], { timeoutMs: 1234 });
    expect(traces).toEqual([
      { name: 'a', ops: 8, ioctls: 1 },
      { name: 'b', ops: 3, ioctls: 1 },
    ]);
    const d = decodeInput(input);
    expect(d.timeoutMs).toBe(1234);
    expect(d.traces.map((t) => t.name)).toEqual(['a', 'b']);
    const ops = d.traces[0]!.ops;
    expect(ops.map((o) => [o.kind, o.ev, o.pid])).toEqual([
      [OP.OPEN, 1, 1],
      [OP.MMAP, 2, 1],
      [OP.IOCTL, 3, 1],
      [OP.MEMWRITE, 4, 1],
      [OP.FORK, 5, 1],
      [OP.WRITEFD, 6, 2],
      [OP.EXIT, 7, 2],
      [OP.CLOSE, 9, 1],
    ]);
    expect(ops[2]!.fd).toBe(0);
    expect(ops[5]!.fd).toBe(4);
    // mmap: va, length, kind (hugetlb = 2), prot
    expect(ops[1]!.payload.readBigUInt64LE(0)).toBe(0x7f0000000000n);
    expect(ops[1]!.payload.readUInt32LE(16)).toBe(2);
    // ioctl: request, mode, int arg, struct length, patches, struct bytes
    expect(ops[2]!.payload.readUInt32LE(0)).toBe(IOCTLS.IOMMU_IOAS_ALLOC.cmd);
    expect(ops[2]!.payload.readUInt32LE(16)).toBe(12);
    // the fill pattern travels as bytes
    expect(ops[3]!.payload.readUInt32LE(8)).toBe(0x40);
  });

  it('the payload trailer lets the executor find its input in its own binary', () => {
    const exe = new Uint8Array(5000).fill(0x7f);
    const { input } = encodeInput([{ name: 'a', events }]);
    const b = appendPayload(exe, input);
    const t = b.length - 24;
    expect(b.subarray(t, t + 8).toString('latin1')).toBe('IORWPAY1');
    const off = Number(b.readBigUInt64LE(t + 8));
    const len = Number(b.readBigUInt64LE(t + 16));
    expect(off % 4096).toBe(0);
    expect(off).toBeGreaterThanOrEqual(exe.length);
    expect(Buffer.compare(b.subarray(off, off + len), input)).toBe(0);
  });
});
