/**
 * Hostile capture files: whatever the bytes, importing either succeeds or
 * throws a CaptureFormatError that names the line, never another exception,
 * a hang, or a polluted prototype. Kinds the importer does not know are not
 * errors but explicit `unknown_record` events (the format asks importers to
 * report them, never drop them); malformed kinds are errors.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CaptureFormatError, CaptureImporter, MAX_LINE, captureLines, importCapture, importStream } from '../../../src/capture/import.js';
import type { Event } from '../../../src/events/event.js';

const SEED = 0x5e1f;

const protoKeys = () => [Object.prototype, Array.prototype, Function.prototype].map((p) => Object.getOwnPropertyNames(p).sort().join(',')).join('|');
let protoBefore = '';
beforeAll(() => {
  protoBefore = protoKeys();
});
afterEach(() => {
  expect(protoKeys()).toBe(protoBefore);
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
});

const dir = mkdtempSync(join(tmpdir(), 'iorewind-hostile-capture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Little-endian hex of u32 / u64 values. */
const le = (bytes: number, v: bigint | number) => {
  let x = BigInt(v);
  let h = '';
  for (let i = 0; i < bytes; i++, x >>= 8n) h += (x & 0xffn).toString(16).padStart(2, '0');
  return h;
};
const u32 = (...v: number[]) => v.map((x) => le(4, x)).join('');
const u64 = (...v: (bigint | number)[]) => v.map((x) => le(8, x)).join('');
const VA = 0x7f0000000000n;
const MAP_IN = u32(40, 7, 1, 0) + u64(VA, 0x2000, 0); // iommu_ioas_map
const BITMAP_IN = u32(48, 2, 0, 0) + u64(0, 0x4000, 0x1000, VA); // 16 pages: a 2-byte bitmap

/** A small valid capture: one of every kind the importer decodes. */
const H = (seq: number, kind: string, pid = 100) => ({ seq, kind, pid, test: 't', tseq: seq });
const VALID: object[] = [
  H(0, 'test'),
  { ...H(1, 'maps'), why: 'test', maps: [{ start: '0x400000', end: '0x401000', perms: 'r-xp', offset: '0x0', path: '/bin/prog' }] },
  { ...H(2, 'open'), path: '/dev/iommu', flags: 2, ret: 3, errno: 0 },
  { ...H(3, 'ioctl'), fd: 3, cmd: '0x3b81', nr: '0x81', in: '0c0000000000000000000000', out: '0c0000000000000001000000', ret: 0, errno: 0 },
  { ...H(4, 'mmap'), addr: '0x0', len: 8192, prot: 3, prot_names: ['READ', 'WRITE'], flags: 34, flag_names: ['PRIVATE', 'ANONYMOUS'], fd: -1, offset: 0, ret: '0x7f0000000000', errno: 0 },
  { ...H(5, 'ioctl'), fd: 3, cmd: '0x3b85', nr: '0x85', in: MAP_IN, out: MAP_IN, ret: 0, errno: 0 },
  { ...H(6, 'ioctl'), fd: 3, cmd: '0x3b8c', nr: '0x8c', in: BITMAP_IN, bitmap_in: 'a55a', out: BITMAP_IN, ret: -1, errno: 2, bitmap_out: 'a55a' },
  { ...H(7, 'ioctl'), fd: 3, cmd: '0x3b65', nr: '0x65', arg: 1, ret: 1, errno: 0 },
  { ...H(8, 'memfd_create'), name: 'ram', flags: 1, flag_names: ['CLOEXEC'], ret: 4, errno: 0 },
  { ...H(9, 'ftruncate'), fd: 4, len: 4096, ret: 0, errno: 0 },
  { ...H(10, 'madvise'), addr: '0x7f0000000000', len: 8192, advice: 14, advice_name: 'HUGEPAGE', ret: 0, errno: 0 },
  { ...H(11, 'mprotect'), addr: '0x7f0000000000', len: 4096, prot: 1, prot_names: ['READ'], ret: 0, errno: 0 },
  { ...H(12, 'fork', 101), parent: 100, child: 101 },
  { ...H(13, 'read', 101), fd: 3, len: 64, ret: -1, errno: 11 },
  { ...H(14, 'exit', 101), fn: '_exit', status: 0 },
  { ...H(15, 'munmap'), addr: '0x7f0000000000', len: 8192, ret: 0, errno: 0 },
  { ...H(16, 'close'), fd: 3, ret: 0, errno: 0, what: 'iommufd' },
  { ...H(17, 'fallocate'), fd: 4, mode: 3, offset: 0, len: -1, ret: -1, errno: 22 },
  { ...H(18, 'exit'), fn: 'exit', status: 0 },
];
const lines = () => VALID.map((r) => JSON.stringify(r));
const TEXT = lines().join('\n') + '\n';

async function importText(text: string | Buffer): Promise<Event[]> {
  const out: Event[] = [];
  for await (const ev of importStream([typeof text === 'string' ? Buffer.from(text) : text], new CaptureImporter('6.12'))) out.push(ev);
  return out;
}

/** Import must fail with a CaptureFormatError on `line`; returns it. */
async function fails(text: string | Buffer, line: number, message?: RegExp): Promise<CaptureFormatError> {
  let err: unknown;
  try {
    await importText(text);
  } catch (e) {
    err = e;
  }
  if (!(err instanceof CaptureFormatError)) throw new Error(`expected a CaptureFormatError, got ${String(err)}\n${(err as Error)?.stack ?? ''}`);
  expect(err.line).toBe(line);
  expect(err.message).toMatch(new RegExp(`^capture line ${line}: `));
  if (message) expect(err.message).toMatch(message);
  return err;
}

/** The capture with record `i` (0-based, line i + 1) changed. */
function withRecord(i: number, change: (r: Record<string, unknown>) => void): string {
  const recs = VALID.map((r) => JSON.parse(JSON.stringify(r)) as Record<string, unknown>);
  change(recs[i]!);
  return recs.map((r) => JSON.stringify(r)).join('\n') + '\n';
}
const IOCTL = 3; // record index of IOAS_ALLOC
const BITMAP = 6; // record index of HWPT_GET_DIRTY_BITMAP

describe('the valid base capture', () => {
  it('imports, every kind decoded', async () => {
    const evs = await importText(TEXT);
    expect(evs.map((e) => e.op)).toEqual(
      expect.arrayContaining(['note', 'maps', 'open', 'IOMMU_IOAS_ALLOC', 'mmap', 'IOMMU_IOAS_MAP', 'IOMMU_HWPT_GET_DIRTY_BITMAP', 'VFIO_CHECK_EXTENSION', 'memfd_create', 'ftruncate', 'madvise', 'mprotect', 'fork', 'read_fault_fd', 'exit', 'munmap', 'close', 'fallocate']),
    );
    // an off_t is signed: -1 is the u64 the model reads as a negative loff_t
    expect(evs.find((e) => e.op === 'fallocate')?.args).toEqual({ fd: 4, mode: 3, offset: 0n, length: 0xffffffffffffffffn });
    expect(evs.some((e) => e.op === 'unknown_record' || e.op === 'undecodable')).toBe(false);
  });
  it("mmap's flags other than its kind and address go with the event; without them, none", async () => {
    const MMAP = 4;
    const base = await importText(TEXT);
    expect(base.find((e) => e.op === 'mmap')?.args).not.toHaveProperty('flags');
    // MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED | MAP_HUGE_1GB
    const evs = await importText(withRecord(MMAP, (r) => Object.assign(r, { flags: 0x2 | 0x10 | 0x20 | 0x8000 | 0x2000 | (30 << 26), flag_names: ['PRIVATE', 'FIXED', 'ANONYMOUS', 'POPULATE', 'LOCKED'] })));
    expect(evs.find((e) => e.op === 'mmap')?.args).toMatchObject({ kind: 'private_anon', flags: 0x8000 | 0x2000 | (30 << 26) });
    const noFlags = await importText(withRecord(MMAP, (r) => delete r['flags']));
    expect(noFlags.find((e) => e.op === 'mmap')?.args).not.toHaveProperty('flags');
  });
  it('MAP_HUGETLB is the kind anon_hugetlb only with MAP_SHARED | MAP_ANONYMOUS; otherwise it stays a flag', async () => {
    const MMAP = 4;
    const as = async (flags: number, names: string[]) => (await importText(withRecord(MMAP, (r) => Object.assign(r, { flags, flag_names: names })))).find((e) => e.op === 'mmap')?.args;
    expect(await as(0x1 | 0x20 | 0x40000, ['SHARED', 'ANONYMOUS', 'HUGETLB'])).toMatchObject({ kind: 'anon_hugetlb' });
    expect(await as(0x1 | 0x20 | 0x40000, ['SHARED', 'ANONYMOUS', 'HUGETLB'])).not.toHaveProperty('flags');
    // a private one (private huge pages of an unnamed hugetlbfs file: the flag on a private anonymous mapping)
    expect(await as(0x2 | 0x20 | 0x40000, ['PRIVATE', 'ANONYMOUS', 'HUGETLB'])).toMatchObject({ kind: 'private_anon', flags: 0x40000 });
  });
  it('a failed open is the file system\'s business: no fd, nothing for the model to check', async () => {
    const evs = await importText(withRecord(2, (r) => Object.assign(r, { path: '/dev/tty', ret: -1, errno: 6 })));
    expect(evs.find((e) => e.src === 'line 3 seq 2')).toMatchObject({ op: 'noop', args: { what: 'failed open', path: '/dev/tty' } });
  });
  it('also from a file, plain, gzipped and with CRLF line ends', async () => {
    for (const [name, data] of [
      ['a.jsonl', TEXT],
      ['b.jsonl.gz', gzipSync(TEXT)],
      ['c.jsonl', TEXT.replace(/\n/g, '\r\n')],
      ['d.jsonl', `\n\n${TEXT}\n  \n`],
    ] as const) {
      writeFileSync(join(dir, name), data);
      const evs: Event[] = [];
      for await (const e of importCapture(join(dir, name))) evs.push(e);
      expect(evs.length, name).toBe((await importText(TEXT)).length);
    }
  });
});

describe('truncated lines', () => {
  it('a capture cut at any byte imports the whole lines before the cut, or names the cut line', async () => {
    const bytes = Buffer.from(TEXT);
    const starts = [0];
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) starts.push(i + 1);
    for (let cut = 0; cut < bytes.length; cut++) {
      const line = starts.filter((s) => s <= cut).length;
      if (starts.includes(cut) || starts.includes(cut + 1)) {
        await importText(bytes.subarray(0, cut));
      } else {
        await fails(bytes.subarray(0, cut), line, /truncated line: the file ends in the middle of a record/);
      }
    }
  });
  it('says so when the file ends mid-record', async () => {
    await fails(TEXT.slice(0, TEXT.length - 20), VALID.length, /truncated line: the file ends in the middle of a record/);
  });
  it('a gzip stream cut short names the line it reached', async () => {
    const gz = gzipSync(TEXT);
    writeFileSync(join(dir, 'cut.jsonl.gz'), gz.subarray(0, gz.length - 12));
    const e = await (async () => {
      try {
        for await (const _e of importCapture(join(dir, 'cut.jsonl.gz')));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(CaptureFormatError);
    expect((e as CaptureFormatError).message).toMatch(/^\/.*cut\.jsonl\.gz: capture line \d+: (damaged gzip stream: unexpected end of file|truncated line)/);
    expect((e as CaptureFormatError).file).toBe(join(dir, 'cut.jsonl.gz'));
  });
  it('a file that is not gzip at all', async () => {
    writeFileSync(join(dir, 'bad.jsonl.gz'), TEXT);
    await expect(async () => {
      for await (const _e of importCapture(join(dir, 'bad.jsonl.gz')));
    }).rejects.toThrow(`${join(dir, 'bad.jsonl.gz')}: capture line 1: damaged gzip stream: incorrect header check`);
  });
  it('a missing file is an I/O error, not a format error', async () => {
    await expect(async () => {
      for await (const _e of importCapture(join(dir, 'nope.jsonl.gz')));
    }).rejects.toThrow(/ENOENT/);
  });
});

describe('bad hex', () => {
  const cases: [string, string, RegExp][] = [
    ['in', '0c000000000000000000000', /field 'in': hexToBytes: odd number of hex digits \(23\)/],
    ['in', '0c00000000000000000000zz', /field 'in': hexToBytes: 'z' at index 22 is not a hex digit/],
    ['in', '0x0c0000000000000000000000', /field 'in': hexToBytes: 'x' at index 1/],
    ['in', '0c 00 00 00', /field 'in': hexToBytes: /],
    ['in', 'ｆｆ', /field 'in': hexToBytes: /],
    ['out', '0c000000000000000100000', /field 'out': hexToBytes: odd number/],
    ['in', 12 as unknown as string, /field 'in' must be a hex string/],
  ];
  for (const [field, value, msg] of cases)
    it(`${field}: ${JSON.stringify(value)}`, async () => {
      await fails(withRecord(IOCTL, (r) => (r[field] = value)), IOCTL + 1, msg);
    });
  it('in a side buffer', async () => {
    await fails(withRecord(BITMAP, (r) => (r['bitmap_in'] = 'a5g5')), BITMAP + 1, /field 'bitmap_in': hexToBytes: 'g'/);
    await fails(withRecord(BITMAP, (r) => (r['bitmap_out'] = 'a5a')), BITMAP + 1, /field 'bitmap_out': hexToBytes: odd/);
    await fails(withRecord(BITMAP, (r) => (r['bitmap_out'] = ['a5'])), BITMAP + 1, /field 'bitmap_out' must be a hex string/);
  });
  it('in fault-queue data', async () => {
    await fails(withRecord(13, (r) => Object.assign(r, { ret: 2, data: 'abc' })), 14, /field 'data': hexToBytes: odd/);
  });
});

describe('wrong sizes', () => {
  it("'in' shorter or longer than the struct's leading size", async () => {
    await fails(withRecord(IOCTL, (r) => (r['in'] = '0c0000000000000000')), IOCTL + 1, /'in' has 9 bytes but the struct's leading size says 12/);
    await fails(withRecord(IOCTL, (r) => (r['in'] = '0c000000000000000000000000000000')), IOCTL + 1, /'in' has 16 bytes but the struct's leading size says 12/);
    await fails(withRecord(IOCTL, (r) => (r['in'] = '0200')), IOCTL + 1, /'in' has 2 bytes but the struct's leading size says 2|'out' has/);
    await fails(withRecord(IOCTL, (r) => (r['in'] = 'ff')), IOCTL + 1, /'in' has 1 bytes but the struct's leading size says 255/);
  });
  it("'out' not the same length as 'in'", async () => {
    await fails(withRecord(IOCTL, (r) => (r['out'] = '0c00000000000000')), IOCTL + 1, /'out' has 8 bytes, 'in' 12/);
  });
  it('a size beyond the 4096-byte cap needs a matching trunc', async () => {
    const big = '00100100' + '00'.repeat(4092); // size 0x11000, 4096 bytes recorded
    await fails(withRecord(IOCTL, (r) => Object.assign(r, { in: big, out: big })), IOCTL + 1, /leading size says 69632 \(and there is no 'trunc'\)/);
    await fails(withRecord(IOCTL, (r) => Object.assign(r, { in: big, out: big, trunc: 5000 })), IOCTL + 1, /'trunc': 5000 does not match a struct of 69632 bytes/);
    const evs = await importText(withRecord(IOCTL, (r) => Object.assign(r, { in: big, out: big, trunc: 0x11000 })));
    expect(evs.find((e) => e.op === 'undecodable')?.args).toMatchObject({ reason: 'argument struct truncated by the recorder' });
  });
  it('a short struct the program really passed (size 8 < 12) is data, not damage', async () => {
    const evs = await importText(withRecord(IOCTL, (r) => Object.assign(r, { in: '0800000000000000', out: '0800000000000000', ret: -1, errno: 22 })));
    expect(evs.find((e) => e.op === 'IOMMU_IOAS_ALLOC')).toMatchObject({ size: 8, rec: { errno: 'EINVAL' } });
  });
  it('a side buffer the recorder cut short is undecodable, not compared', async () => {
    const evs = await importText(withRecord(BITMAP, (r) => (r['bitmap_out_trunc'] = 1 << 30)));
    expect(evs.find((e) => e.op === 'undecodable')?.args).toMatchObject({ reason: 'buffer bitmap_out truncated by the recorder' });
  });
});

describe('absurd lengths and numbers', () => {
  it('a line longer than MAX_LINE is refused before it is held whole, even if it never ends', async () => {
    let produced = 0;
    async function* endless() {
      yield Buffer.from(TEXT);
      const chunk = Buffer.alloc(1 << 20, 0x61);
      for (;;) {
        produced += chunk.length;
        yield chunk;
      }
    }
    await expect(async () => {
      for await (const _e of importStream(endless()));
    }).rejects.toThrow(new RegExp(`^capture line ${VALID.length + 1}: line longer than ${MAX_LINE} bytes`));
    expect(produced).toBeLessThan(3 * MAX_LINE);
  });
  it('the same with a small limit, across chunk boundaries', async () => {
    const chunks = ['{"seq":0,', '"kind":"te', 'st","pid":1}\n{"a":"', 'x'.repeat(50), 'y'.repeat(60)];
    const got: number[] = [];
    await expect(async () => {
      for await (const l of captureLines(chunks, 100)) got.push(l.line);
    }).rejects.toThrow(/^capture line 2: line longer than 100 bytes/);
    expect(got).toEqual([1]);
  });
  it('a hex field of millions of digits', async () => {
    await fails(withRecord(BITMAP, (r) => (r['bitmap_in'] = 'ab'.repeat(1_500_000))), BITMAP + 1, /field 'bitmap_in' is absurdly long \(3000000 hex digits\)/);
  });
  it('fds Linux never hands out', async () => {
    await fails(withRecord(2, (r) => (r['ret'] = 1e9)), 3, /fd 1000000000 is beyond any fd Linux hands out/);
    await fails(withRecord(8, (r) => (r['ret'] = 2 ** 40)), 9, /fd 1099511627776 is beyond/);
    const fault = '10000000000000000000000000000000';
    const faultOut = '1000000000000000' + '05000000' + 'ffffffff';
    await fails(withRecord(IOCTL, (r) => Object.assign(r, { cmd: '0x3b8e', nr: '0x8e', in: fault, out: faultOut })), IOCTL + 1, /fd 4294967295 is beyond/);
  });
  it('many processes with huge fd tables: a bounded refusal, not a hang', async () => {
    const recs = [JSON.stringify(H(0, 'test'))];
    for (let i = 1; i <= 20; i++) recs.push(JSON.stringify({ ...H(i, 'open', 1000 + i), path: '/x', flags: 0, ret: (1 << 20) - 1, errno: 0 }));
    const t0 = performance.now();
    await fails(recs.join('\n') + '\n', 6, /more than 4194304 open file descriptors to track/);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
  it('numbers that are not integers, negative lengths, 2^64 and beyond', async () => {
    await fails(withRecord(IOCTL, (r) => (r['pid'] = 1e300)), IOCTL + 1, /field 'pid' must be an integer/);
    await fails(withRecord(IOCTL, (r) => (r['fd'] = 3.5)), IOCTL + 1, /field 'fd' must be an integer/);
    await fails(withRecord(4, (r) => (r['len'] = -1)), 5, /field 'len' must be a 64-bit unsigned value, got -1/);
    await fails(withRecord(4, (r) => (r['ret'] = '0x10000000000000000')), 5, /field 'ret' must be a 64-bit unsigned value/);
    await fails(withRecord(13, (r) => (r['len'] = 2 ** 40)), 14, /field 'len' is not a read\/write length/);
    await fails(withRecord(13, (r) => Object.assign(r, { ret: 100, len: 64 })), 14, /read of 64 bytes cannot return 100/);
    await fails(withRecord(IOCTL, (r) => (r['errno'] = 99999)), IOCTL + 1, /unknown errno 99999/);
    await fails(withRecord(IOCTL, (r) => (r['cmd'] = '0x3b81ffffffffff')), IOCTL + 1, /bad cmd "0x3b81ffffffffff": a request number is a 32-bit hex value/);
    await fails(withRecord(IOCTL, (r) => (r['cmd'] = '0x3b81; rm')), IOCTL + 1, /bad cmd/);
  });
  it('a register argument above 2^53 as a hex string', async () => {
    const evs = await importText(withRecord(7, (r) => (r['arg'] = '0xffffffffffffffff')));
    expect(evs.find((e) => e.op === 'VFIO_CHECK_EXTENSION')?.args).toEqual({ arg: 0xffffffffffffffffn });
    await fails(withRecord(7, (r) => (r['arg'] = 2 ** 60)), 8, /field 'arg' must be an integer/);
  });
  it('maps regions that are empty, reversed or not objects', async () => {
    await fails(withRecord(1, (r) => ((r['maps'] as Record<string, unknown>[])[0]!['end'] = '0x400000')), 2, /region 0x400000-0x400000 is empty or reversed/);
    await fails(withRecord(1, (r) => ((r['maps'] as unknown[])[0] = null)), 2, /'maps' entries must be objects/);
    await fails(withRecord(1, (r) => (r['maps'] = 'all of it')), 2, /'maps' must be an array/);
    // What a recorder writes when /proc/self/maps cannot be read: no snapshot, not an error.
    const evs = await importText(withRecord(1, (r) => Object.assign(r, { maps: null, errno: 13 })));
    expect(evs.find((e) => e.src === 'line 2 seq 1')).toMatchObject({ op: 'noop', args: { what: 'maps unreadable' } });
  });
});

describe('kinds', () => {
  it('an unknown kind becomes an explicit event naming its line', async () => {
    const evs = await importText(withRecord(9, (r) => (r['kind'] = 'frobnicate')));
    expect(evs.find((e) => e.op === 'unknown_record')).toMatchObject({ args: { kind: 'frobnicate' }, src: 'line 10 seq 9' });
  });
  for (const kind of [7, '', '__proto__', 'constructor!', 'Ioctl', 'x'.repeat(65), null])
    it(`a malformed kind: ${JSON.stringify(kind)?.slice(0, 20)}`, async () => {
      await fails(withRecord(9, (r) => (r['kind'] = kind)), 10, typeof kind === 'string' ? /bad kind/ : /field 'kind' must be a string/);
    });
  it('stats by kind cannot reach Object.prototype', async () => {
    const importer = new CaptureImporter('6.12');
    for await (const _e of importStream([withRecord(9, (r) => (r['kind'] = 'constructor'))], importer));
    expect(importer.stats.byKind['constructor']).toBe(1);
    expect(Object.getPrototypeOf(importer.stats.byKind)).toBeNull();
  });
});

describe('__proto__ and friends', () => {
  const variants = [
    '{"__proto__":{"polluted":1},"seq":0,"kind":"test","pid":1}',
    '{"seq":0,"kind":"maps","pid":1,"maps":[{"__proto__":{"polluted":1},"start":"0x1000","end":"0x2000","perms":"rw-p","offset":"0x0","path":""}]}',
    '{"seq":0,"kind":"ioctl","pid":1,"fd":3,"cmd":"0x3b81","constructor":{"prototype":{"polluted":1}},"in":"0c0000000000000000000000","ret":0,"errno":0}',
    '{"seq":0,"kind":"test","pid":1,"x":{"y":{"__proto__":[1]}}}',
  ];
  for (const v of variants)
    it(v.slice(0, 60), async () => {
      await fails(v + '\n', 1, /forbidden key '(__proto__|constructor|prototype)'/);
    });
  it('`<name>_fault` keys only mean something for known buffers', async () => {
    const evs = await importText(withRecord(BITMAP, (r) => Object.assign(r, { toString_fault: 1, __proto___fault: 1, valueOf_fault: 1, bitmap_in_fault: 1, bitmap_in: null })));
    const ev = evs.find((e) => e.op === 'IOMMU_HWPT_GET_DIRTY_BITMAP')!;
    expect(ev.bufs).toEqual({ data: null });
    expect(Object.getPrototypeOf(ev.bufs)).toBe(Object.prototype);
  });
});

describe('missing fields', () => {
  // Fields that are informative only (the importer does not need them), by kind; every other one is required.
  const INFORMATIVE = ['test', 'tseq', 'why', 'what', 'fn', 'status'];
  const OPTIONAL: { [kind: string]: string[] } = {
    ioctl: ['nr', 'out', 'bitmap_in', 'bitmap_out'],
    mmap: ['addr', 'prot_names', 'flags', 'flag_names', 'offset'], // offset: only for file mappings
    open: ['flags'],
    memfd_create: ['name', 'flags', 'flag_names'],
    madvise: ['advice', 'advice_name'],
    mprotect: ['prot_names'],
  };
  for (const [i, r] of VALID.entries()) {
    const rec = r as Record<string, unknown>;
    for (const k of Object.keys(rec)) {
      if (INFORMATIVE.includes(k) || OPTIONAL[String(rec['kind'])]?.includes(k)) continue;
      it(`${String(rec['kind'])} (line ${i + 1}) without '${k}'`, async () => {
        const e = await fails(withRecord(i, (x) => delete x[k]), i + 1);
        expect(e.message).toMatch(new RegExp(`'${k}'|'in' \\(the struct\\) or 'arg'`));
      });
    }
  }
  it('a record that is not an object', async () => {
    for (const v of ['[1,2]', '"ioctl"', '42', 'null', 'true']) await fails(`${v}\n`, 1, /a record must be a JSON object/);
  });
});

describe('out of order and repeated lines', () => {
  it('seq must increase', async () => {
    const l = lines();
    await fails([l[0], l[1], l[3], l[2]].join('\n') + '\n', 4, /seq 2 does not follow 3: lines out of order or repeated/);
    await fails([l[0], l[1], l[1]].join('\n') + '\n', 3, /seq 1 does not follow 1/);
  });
});

describe('garbage', () => {
  it('binary noise, deep nesting, a BOM', async () => {
    await fails(Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0x0a]), 1, /not JSON/);
    await fails('['.repeat(200_000) + ']'.repeat(200_000) + '\n', 1);
    await fails('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000) + '\n', 1);
    await fails('\ufeff' + TEXT, 1, /not JSON/);
  });
  it('random damage to a valid capture: a CaptureFormatError or a clean import, nothing else', async () => {
    const bytes = Buffer.from(TEXT);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat({ max: bytes.length - 1 }), op: fc.constantFrom('flip', 'delete', 'dup', 'set'), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
        async (edits) => {
          let b = Buffer.from(bytes);
          for (const { at, op, byte } of edits) {
            const i = Math.min(at, b.length - 1);
            if (op === 'flip') b[i] = b[i]! ^ (1 << byte % 8);
            else if (op === 'set') b[i] = byte;
            else if (op === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
            else b = Buffer.concat([b.subarray(0, i + 1), b.subarray(i)]);
          }
          try {
            await importText(b);
          } catch (e) {
            if (!(e instanceof CaptureFormatError)) throw e;
            expect(e.message).toMatch(/^capture line \d+: /);
          }
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });
});
