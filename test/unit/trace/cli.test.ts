import { existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWith } from '../../../tools/commands/trace.js';
import { encodeTrace, makeHeader, readTraceSync, writeTrace } from '../../../src/trace/index.js';
import { ev, tmp } from './helpers.js';

const t = tmp();
afterAll(() => t.done());

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runWith(argv, {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

const N = 5000;
const events = Array.from({ length: N }, (_, i) => ev(i));
let bin: string;

beforeAll(async () => {
  bin = t.path('in.iort');
  await writeTrace(bin, makeHeader('6.14', { capture: 'unit' }), events);
});

describe('iorewind trace convert', () => {
  it('iort -> jsonl -> iort is lossless and byte-identical', async () => {
    const j = t.path('out.iort.jsonl');
    const b2 = t.path('back.iort');
    let r = await cli('convert', bin, j);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain(`${N} events`);
    expect(readFileSync(j, 'utf8').split('\n')[0]).toBe('{"format":"iorewind-trace","version":1,"event_schema":1,"kernel":"6.14","meta":{"capture":"unit"}}');
    r = await cli('convert', j, b2);
    expect(r.code).toBe(0);
    expect(Buffer.compare(readFileSync(bin), readFileSync(b2))).toBe(0);
    expect(readTraceSync(j).events).toStrictEqual(events);
  });

  it('--format overrides the extension; unknown extensions and same-file are usage errors', async () => {
    const o = t.path('out.data');
    expect((await cli('convert', bin, o)).code).toBe(2);
    expect((await cli('convert', bin, o, '--format', 'jsonl')).code).toBe(0);
    expect(readFileSync(o, 'utf8').startsWith('{"format"')).toBe(true);
    const same = await cli('convert', bin, bin);
    expect(same.code).toBe(2);
    expect(same.err).toMatch(/same file/);
  });

  it('bad input: exit 2, one-line message, and no half-written output', async () => {
    const broken = t.path('broken.iort');
    const full = readFileSync(bin);
    writeFileSync(broken, full.subarray(0, full.length - 100));
    const out = t.path('never.iort.jsonl');
    const r = await cli('convert', broken, out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^iorewind trace: .*broken\.iort: byte offset \d+, record \d+: truncated file/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
    // an output that was there stays as it was, and no temporary file is left beside it
    writeFileSync(out, 'OLD');
    expect((await cli('convert', broken, out)).code).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe('OLD');
    expect(readdirSync(t.path('')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a link to the input is the same file; a device is written in place and never removed', async () => {
    const link = t.path('link.iort');
    symlinkSync(bin, link);
    const same = await cli('convert', bin, link, '--format', 'iort');
    expect(same.code).toBe(2);
    expect(same.err).toMatch(/same file/);
    expect(Buffer.compare(readFileSync(bin), readFileSync(link))).toBe(0);
    expect((await cli('convert', bin, '/dev/null', '--format', 'jsonl')).code).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});

describe('iorewind trace cat', () => {
  it('prints one event per line, u64 in hex', async () => {
    const r = await cli('cat', bin, '--limit', '3');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toEqual([
      '#0 pid=1 fd=3 IOMMU_IOAS_MAP {flags: 7, ioas_id: 2, user_va: 0x7f0000000000, length: 0x1000, iova: 0x0} => 0 out={iova: 0x0}',
      '#1 IOMMU_IOAS_ALLOC {flags: 0} => 0 out={out_ioas_id: 1}',
      '#2 pid=2 mmap {addr: 0x7f0000002000, length: 0x200000, prot: 3} # step 2',
    ]);
  });

  it('--from/--limit across blocks, --header, bytes and args=null', async () => {
    const r = await cli('cat', bin, '--from', '4094', '--limit', '5', '--header');
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe('# iorewind-trace v1 kernel 6.14 event_schema 1 meta {capture: "unit"}');
    expect(lines.slice(1).map((l) => l.split(' ')[0])).toEqual(['#4094', '#4095', '#4096', '#4097', '#4098']);
    expect(lines[5]).toBe('#4098 fd=3 IOMMU_IOAS_UNMAP {ioas_id: 2, iova: 0x1002000, length: 0x1000} size=40 tail=hex"0200" => ENOENT');
    const p = t.path('misc.iort.jsonl');
    await writeTrace(p, { kernel: '6.12' }, [{ op: 'x', args: null, bufs: { big: new Uint8Array(40).fill(1), none: null } }]);
    expect((await cli('cat', p)).out).toBe('#0 x args=null bufs={big: hex"0101010101010101010101010101010101010101010101010101010101010101.."(40 bytes), none: null}\n');
    expect((await cli('cat', bin, '--from', '999999')).out).toBe('');
  });

  it('usage errors exit 2', async () => {
    for (const argv of [['cat'], ['cat', bin, '--limit'], ['cat', bin, '--limit', '-1'], ['cat', bin, '--bogus'], ['nope'], []]) {
      const r = await cli(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/iorewind trace|usage/);
    }
    expect((await cli('help')).code).toBe(0);
  });

  it('a missing file or a non-trace exits 2 without a stack trace', async () => {
    let r = await cli('cat', t.path('missing.iort'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/missing\.iort: no such file/);
    const junk = t.path('junk.bin');
    writeFileSync(junk, 'junk');
    r = await cli('stats', junk);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not an iorewind trace/);
    const dir = await cli('cat', t.dir);
    expect(dir.code).toBe(2);
    expect(dir.err).not.toMatch(/\n\s+at /);
  });
});

describe('iorewind trace stats', () => {
  it('text', async () => {
    const r = await cli('stats', bin);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^events\s+5000 in 2 blocks$/m);
    expect(r.out).toMatch(/^ {2}IOMMU_IOAS_MAP\s+1000$/m);
    expect(r.out).toMatch(/events\/s/);
  });

  it('--json, both formats agree', async () => {
    const j = t.path('stats.iort.jsonl');
    writeFileSync(j, encodeTrace(makeHeader('6.14', { capture: 'unit' }), events, { format: 'jsonl' }));
    const a = JSON.parse((await cli('stats', bin, '--json')).out);
    const b = JSON.parse((await cli('stats', j, '--json')).out);
    expect(a).toMatchObject({ format: 'iort', events: N, blocks: 2, header: { kernel: '6.14', meta: { capture: 'unit' } } });
    expect(a.size_bytes).toBe(readFileSync(bin).length);
    expect(a.events_per_second).toBeGreaterThan(0);
    expect(a.by_op).toEqual({ IOMMU_IOAS_MAP: 1000, IOMMU_IOAS_ALLOC: 1000, mmap: 1000, IOMMU_IOAS_UNMAP: 1000, IOMMU_TEST_CMD: 1000 });
    // ev(i): MAP has pid 1 + i % 3, mmap pid 2, the rest default to 1
    expect(a.by_pid).toEqual({ '1': 3334, '2': 1333, '3': 333 });
    expect(b.by_op).toEqual(a.by_op);
    expect(b.by_pid).toEqual(a.by_pid);
    expect(b.format).toBe('jsonl');
  });
});
