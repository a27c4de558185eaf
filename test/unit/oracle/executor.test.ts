/**
 * The executor's machinery, run natively on the host (no QEMU, no
 * /dev/iommu: its ioctls fail, which is fine here): input parsing, one
 * binary record per op (read back in the capture format by results.ts),
 * fresh processes per trace and per
 * pid, fork and exit, memory at the trace's own addresses, faults turned
 * into EFAULT, the executor's own memory left alone. Skipped without gcc.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { encodeInput } from '../../../src/oracle/encode.js';
import { splitRecords, withKernelAnswers } from '../../../src/oracle/results.js';

const dir = mkdtempSync(join(tmpdir(), 'iorewind-executor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const gcc = spawnSync('sh', ['-c', 'command -v gcc && test -f "$(gcc -print-file-name=libc.a)"'], { stdio: 'ignore' }).status === 0;
const bin = join(dir, 'executor');
const build = gcc ? spawnSync('sh', ['tools/oracle/build.sh', bin], { encoding: 'utf8' }) : undefined;
const built = build?.status === 0;
if (!gcc) console.warn('executor tests skipped: no gcc / static libc (apt-get install gcc libc6-dev)');
else if (!built) console.warn(`executor tests skipped: the executor did not build: ${build?.stderr.trim()}`);

function execute(traces: { name: string; events: Event[] }[]): ReturnType<typeof splitRecords> {
  const { input } = encodeInput(traces, { timeoutMs: 10_000 });
  const inPath = join(dir, `in-${Math.random().toString(36).slice(2)}`);
  writeFileSync(inPath, input);
  const outPath = `${inPath}.rec`;
  const r = spawnSync(bin, [inPath], { encoding: 'utf8', env: { ...process.env, IOMMUFD_CAPTURE: outPath }, timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return splitRecords(readFileSync(outPath), input);
}

const VA = 0x7e0000000000n;

describe.skipIf(!built)('executor (native, no kernel iommufd)', () => {
  it('runs env ops at the trace addresses and records each once, with its event index', () => {
    const events: Event[] = [
      { op: 'mmap', args: { va: VA, length: 0x4000n, kind: 'private_anon', prot: 3 } },
      { op: 'write_memory', args: { va: VA + 0x10n, data: Uint8Array.of(1, 2, 3) } },
      { op: 'read_memory', args: { va: VA + 0x10n, length: 4n } },
      { op: 'munmap', args: { va: VA, length: 0x4000n } },
      { op: 'read_memory', args: { va: VA, length: 4n } },
      { op: 'write_memory', args: { va: VA, data: Uint8Array.of(9) } },
      { op: 'note', args: {} },
      { op: 'IOMMU_IOAS_ALLOC', fd: 7, args: { flags: 0 } },
      { op: 'mmap', args: { va: 0x100000000000n, length: 0x1000n, kind: 'anon' } },
    ];
    const recs = execute([{ name: 't0', events }]).get('t0')!;
    expect(recs.status).toBe('ok');
    const by = (i: number) => recs.byEvent.get(i)![0]!;
    expect(by(0)).toMatchObject({ kind: 'mmap', ret: '0x7e0000000000', errno: 0 });
    expect(by(2)).toMatchObject({ kind: 'memread', errno: 0, data: '01020300' });
    expect(by(3)).toMatchObject({ kind: 'munmap', ret: 0 });
    expect(by(4)).toMatchObject({ kind: 'memread', errno: 14 });
    expect(by(5)).toMatchObject({ kind: 'memwrite', errno: 14 });
    expect(recs.byEvent.has(6)).toBe(false);
    expect(by(7)).toMatchObject({ kind: 'ioctl', fd: 7, cmd: '0x3b81', in: '0c0000000000000000000000', errno: 9 });
    // the executor's own memory is never the trace's
    expect(by(8)).toMatchObject({ kind: 'oracle_skip', why: "the executor's own memory" });
    const k = withKernelAnswers(events, recs);
    expect(k.events[2]!.rec).toEqual({ errno: 0, bufs: { data: Uint8Array.of(1, 2, 3, 0) } });
    expect(k.events[4]!.rec).toEqual({ errno: 'EFAULT' });
    expect(k.skipped).toEqual([{ index: 8, op: 'mmap', why: "the executor's own memory" }]);
  });

  it('set_rlimit_memlock moves the soft limit only: lowered, it can be raised again (oracle fuzz seed 6)', () => {
    // The hard limit stays where the process started, so 16 pages and then 1024 both take
    // (this host's hard limit is at least 4 MiB: 8 MiB by default). Lowering the hard limit
    // with the soft one made the raise fail EINVAL and left the process at 16 pages.
    const events: Event[] = [
      { op: 'set_rlimit_memlock', args: { pages: 16n } },
      { op: 'set_rlimit_memlock', args: { pages: 1024n } },
      { op: 'set_rlimit_memlock', args: { pages: 0n } },
      { op: 'set_rlimit_memlock', args: { pages: 16n } },
    ];
    const recs = execute([{ name: 't0', events }]).get('t0')!;
    for (let i = 0; i < events.length; i++) expect(recs.byEvent.get(i)![0]).toMatchObject({ kind: 'env', what: 'rlimit_memlock', errno: 0 });
    expect(withKernelAnswers(events, recs).skipped).toEqual([]);
  });

  it('fresh processes: fds from 0 per trace; fork shares memory by copy; exit ends a process; its later events are skipped', () => {
    const t = (name: string): { name: string; events: Event[] } => ({
      name,
      events: [
        { op: 'open', args: { path: '/tmp/iorewind-executor-test-file' } },
        { op: 'mmap', args: { va: VA, length: 0x1000n, kind: 'private_anon' } },
        { op: 'write_memory', args: { va: VA, data: Uint8Array.of(0x11) } },
        { op: 'fork', args: { child: 5 } },
        { op: 'write_memory', pid: 5, args: { va: VA, data: Uint8Array.of(0x22) } },
        { op: 'read_memory', args: { va: VA, length: 1n } },
        { op: 'read_memory', pid: 5, args: { va: VA, length: 1n } },
        { op: 'open', pid: 5, args: { path: '/tmp/iorewind-executor-test-file' } },
        { op: 'exit', pid: 5, args: {} },
        { op: 'read_memory', pid: 5, args: { va: VA, length: 1n } },
        { op: 'open', pid: 9, args: { path: '/tmp/iorewind-executor-test-file' } },
        { op: 'close', args: { fd: 0 } },
      ],
    });
    const all = execute([t('a'), t('b')]);
    for (const name of ['a', 'b']) {
      const recs = all.get(name)!;
      expect(recs.status).toBe('ok');
      const by = (i: number) => recs.byEvent.get(i)![0]!;
      expect(by(0)).toMatchObject({ kind: 'open', ret: 0 });
      expect(by(3)).toMatchObject({ kind: 'fork', child: 5, errno: 0 });
      expect(by(5)).toMatchObject({ data: '11' });
      expect(by(6)).toMatchObject({ data: '22', pid: 5 });
      // the child inherited fd 0: its own open gets 1
      expect(by(7)).toMatchObject({ kind: 'open', ret: 1 });
      expect(by(8)).toMatchObject({ kind: 'exit' });
      expect(by(9)).toMatchObject({ kind: 'oracle_skip', why: 'the process has exited' });
      // pid 9 never forked: a fresh process, fd 0 again
      expect(by(10)).toMatchObject({ kind: 'open', ret: 0, pid: 9 });
      expect(by(11)).toMatchObject({ kind: 'close', ret: 0 });
    }
  });

  it('the trace cannot touch the executor: its binary, its buffers; the next trace runs regardless', () => {
    const hostile: Event[] = [
      { op: 'munmap', args: { va: 0x400000n, length: 0x100000n } },
      { op: 'mprotect', args: { va: 0x130000000000n, length: 0x1000n, prot: 0 } },
      { op: 'write_memory', args: { va: 0x400000n, data: Uint8Array.of(0) } },
    ];
    const ok: Event[] = [{ op: 'mmap', args: { va: VA, length: 0x1000n, kind: 'private_anon' } }];
    const all = execute([{ name: 'x', events: hostile }, { name: 'y', events: ok }]);
    for (const i of [0, 1, 2]) expect(all.get('x')!.byEvent.get(i)![0]).toMatchObject({ kind: 'oracle_skip', why: "the executor's own memory" });
    expect(all.get('x')!.status).toBe('ok');
    expect(all.get('y')!.status).toBe('ok');
  });
});
