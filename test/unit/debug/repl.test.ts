/**
 * The debugger's text commands, driven by scripted stdin: in process
 * through runRepl, and through the real CLI (`iorewind debug --repl`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTraceSync } from '../../../src/trace/index.js';
import { DebugIndex } from '../../../src/debug/history.js';
import { Session } from '../../../src/debug/session.js';
import { runRepl } from '../../../src/debug/repl.js';
import { fuzzEvents, ROOT, SAMPLE, writeCutSample } from './fixtures.js';
import { vmTrace } from '../../../src/bench/vm_trace.js';

async function script(session: Session, lines: string[]): Promise<{ out: string; failures: number }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let out = '';
  output.on('data', (d: Buffer) => (out += d.toString()));
  input.end(lines.join('\n') + '\n');
  const failures = await runRepl(session, input, output, { interactive: false });
  return { out, failures };
}

describe('REPL', () => {
  let session: Session;
  beforeAll(async () => {
    const t = readTraceSync(SAMPLE);
    session = new Session(await DebugIndex.build(t.events, { kernel: t.header.kernel }));
  });

  it('steps, goes to events, prints, diffs, and says where it is', async () => {
    const { out, failures } = await script(session, ['goto 14', 'event', 'diff', 'step', 'back 2', 'where', 'print ctxs.1.objs', 'quit', 'step']);
    expect(failures).toBe(0);
    expect(out).toContain('(iorewind) goto 14\n#14 pid 274 IOMMU_IOAS_MAP');
    expect(out).toMatch(/iova = 0x0 +→ 0x1000000/); // the IOVA the kernel chose, written back
    expect(out).toContain('flags = 6 (WRITEABLE|READABLE)');
    expect(out).toContain('+ ctxs.1.objs.1.iopt.areas.0x1000000');
    expect(out).toContain('(iorewind) step\n#15 ');
    expect(out).toContain('(iorewind) back 2\n#13 ');
    expect(out).toContain('at event #13 of 863');
    expect(out).toContain('preceding events of pid 274:');
    expect(out).toMatch(/1: ioas #1: /);
    expect(out).not.toContain('(iorewind) step\n#14'); // nothing after quit
  });

  it('history queries', async () => {
    const { out } = await script(session, ['when obj 1', 'when iova 0x1000000..0x1000fff ioas 1', 'when page 0x7ffff7da9000', 'when errno any', 'when divergence', 'when op IOMMU_DESTROY', 'when invariant']);
    expect(out).toMatch(/object 1: \d+ changes\n {2}#9 IOMMU_IOAS_ALLOC → ok: ioas created → empty/);
    expect(out).toContain('#14 IOMMU_IOAS_MAP → ok: map 0x1000000..0x10007ff in 1');
    expect(out).toContain('#20 IOMMU_IOAS_UNMAP → ok: unmap 0x1000000..0x10007ff in 1');
    expect(out).toContain('#14 IOMMU_IOAS_MAP → ok: pinned: pages 1 [0] (va 0x7ffff7da9000');
    expect(out).toContain('failing events: 0');
    expect(out).toContain('no divergence from the recording');
    expect(out).toMatch(/op IOMMU_DESTROY: \d+ events\n {2}#19 IOMMU_DESTROY → ok: id=7/);
  });

  it('breakpoints: continue and reverse-continue', async () => {
    const { out } = await script(session, ['goto 0', 'break iova 0x1000800', 'break op IOMMU_DESTROY', 'breaks', 'continue', 'continue', 'reverse-continue', 'delete 2', 'goto 100', 'reverse-continue', 'delete all', 'continue']);
    expect(out).toContain('breakpoint 1: IOVA 0x1000800 touched');
    expect(out).toContain('(iorewind) continue\nbreakpoint 2: op IOMMU_DESTROY\n#19 ');
    expect(out).toContain('(iorewind) continue\nbreakpoint 1: IOVA 0x1000800 touched\n#21 ');
    expect(out).toContain('(iorewind) reverse-continue\nbreakpoint 2: op IOMMU_DESTROY\n#19 ');
    expect(out).toMatch(/\(iorewind\) goto 100\n#100 .*\n\(iorewind\) reverse-continue\nbreakpoint 1: IOVA 0x1000800 touched\n#9\d /);
    expect(out).toContain('end of trace, no breakpoints set\n#862 ');
  });

  it('failures by errno, each hit naming the call', async () => {
    const t = readTraceSync(join(ROOT, 'traces/nested-mock-viommu-invalidate.iort'));
    const s = new Session(await DebugIndex.build(t.events, { kernel: t.header.kernel }));
    const { out, failures } = await script(s, ['when errno any', 'when errno eopnotsupp', 'when errno ENOTANERRNO']);
    expect(failures).toBe(1);
    expect(out).toContain('failing events: 12\n  #9 IOMMU_VDEVICE_ALLOC → EEXIST: ');
    expect(out).toContain('errno EOPNOTSUPP (95, Operation not supported): 2\n  #30 IOMMU_HWPT_INVALIDATE → EOPNOTSUPP: hwpt_id=8');
    expect(out).toContain("error: unknown errno 'ENOTANERRNO'");
  });

  it('op names: the short names of the event list, any case; a typo is an error, not an empty answer', async () => {
    const { out, failures } = await script(session, ['when op IOAS_MAP', 'when op test_mock_domain', 'when op IOMMU_HWPT_INVALIDATE', 'when op IOAS_MAPP', 'when op', 'break op DESTROY', 'break op FROB', 'breaks', 'delete all']);
    expect(out).toMatch(/op IOMMU_IOAS_MAP: \d+ events\n {2}#14 IOMMU_IOAS_MAP/);
    expect(out).toMatch(/op IOMMU_TEST_OP_MOCK_DOMAIN: \d+ events/);
    expect(out).toContain('op IOMMU_HWPT_INVALIDATE: 0 events'); // known to the model, absent from the trace
    expect(out).toContain("error: unknown op 'IOAS_MAPP' (in this trace: IOMMU_IOAS_ALLOC, IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP)");
    expect(out).toContain('error: when op NAME');
    expect(out).toMatch(/breakpoint \d+: op IOMMU_DESTROY/);
    expect(out).toContain("error: unknown op 'FROB'");
    expect(failures).toBe(3);
  });

  it('print pages through a large collection', async () => {
    const s = new Session(await DebugIndex.build(vmTrace({ events: 20_000 }), { kernel: '6.12' }));
    const { out, failures } = await script(s, ['goto end', 'print ctxs.1.objs.2.iopt.areas', 'print ctxs.1.objs.2.iopt.areas 100', 'print ctxs x']);
    const total = Number(out.match(/ctxs\.1\.objs\.2\.iopt\.areas: (\d+) intervals/)![1]);
    expect(total).toBeGreaterThan(200);
    expect(out).toContain(`  … ${total - 100} more: print ctxs.1.objs.2.iopt.areas 100\n`);
    expect(out).toContain(`  (entries 100.. of ${total})`);
    expect(out).toContain(`  … ${total - 200} more: print ctxs.1.objs.2.iopt.areas 200\n`);
    // the two pages are 200 distinct areas
    const keys = [...out.matchAll(/^ {2}(0x[0-9a-f]+): \.\./gm)].map((m) => m[1]);
    expect(new Set(keys).size).toBe(200);
    expect(out).toContain('error: print [PATH [FROM]]');
    expect(failures).toBe(1);
  });

  it('an invariant search that runs out of time says where it stopped, and goes on from there', async () => {
    const s = new Session(await DebugIndex.build(vmTrace({ events: 20_000 }), { kernel: '6.12' }));
    s.invariantBudgetMs = 30;
    const { out } = await script(s, ['when invariant']);
    const m = out.match(/no invariant violated from #0 to #(\d+) \(the search stops after 0\.03 s: 'when invariant from (\d+)' goes on\)/);
    expect(m, out).not.toBeNull();
    expect(m![1]).toBe(m![2]);
    const to = Number(m![1]);
    expect(to).toBeGreaterThan(0);
    s.invariantBudgetMs = 600_000;
    const next = await script(s, [`when invariant from ${to}`, 'when invariant from x']);
    expect(next.out).toContain(`no invariant violated from #${to} (searched to #19999)`);
    expect(next.out).toContain('error: when invariant [from N]');
  });

  it('continue to an invariant breakpoint that runs out of time stops where the search got to, and goes on from there', async () => {
    const s = new Session(await DebugIndex.build(vmTrace({ events: 20_000 }), { kernel: '6.12' }));
    s.invariantBudgetMs = 30;
    const { out } = await script(s, ['break invariant', 'continue']);
    const m = out.match(/the invariant search ran 0\.03 s and got to #(\d+) with every invariant holding; continue goes on\n#(\d+) /);
    expect(m, out).not.toBeNull();
    expect(m![1]).toBe(m![2]);
    const first = Number(m![1]);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(19_999);
    const again = await script(s, ['continue']);
    // it goes on from there: a later stop, or the end of the trace
    const m2 = again.out.match(/got to #(\d+)/);
    if (m2) expect(Number(m2[1])).toBeGreaterThan(first);
    else expect(again.out).toContain('end of trace, no breakpoint hit');
    // with time enough: to the end, no hit; another breakpoint bounds the search
    s.invariantBudgetMs = 600_000;
    const end = await script(s, ['continue', 'goto 0', 'break op IOAS_UNMAP', 'continue']);
    expect(end.out).toContain('end of trace, no breakpoint hit\n#19999 ');
    expect(end.out).toMatch(/\(iorewind\) continue\nbreakpoint 2: op IOMMU_IOAS_UNMAP\n#\d+ /);
  });

  it('goto and delete refuse what is not there', async () => {
    const { out, failures } = await script(session, ['goto 99999', 'goto -1', 'goto 12', 'break errno any', 'delete 99', 'delete x', 'delete all']);
    expect(out).toContain('error: no event #99999: the trace has events #0..#862');
    expect(out).toContain('error: goto N | start | end');
    expect(out).toContain('(iorewind) goto 12\n#12 ');
    expect(out).toContain('error: no breakpoint 99');
    expect(out).toContain('error: delete N | delete all');
    expect(out).toContain('deleted 1 breakpoint');
    expect(failures).toBe(4);
  });

  it('errors are reported and counted', async () => {
    const { out, failures } = await script(session, ['frobnicate', 'goto x', 'break errno ENOTANERRNO', 'when']);
    expect(failures).toBe(4);
    expect(out).toContain("error: unknown command 'frobnicate'");
    expect(out).toContain("error: unknown errno 'ENOTANERRNO'");
  });
});

describe('iorewind debug --repl (CLI, scripted stdin)', () => {
  const cli = join(ROOT, 'dist/tools/cli.js');
  it.skipIf(!existsSync(cli))('runs a script from stdin', () => {
    const r = spawnSync(process.execPath, [cli, 'debug', SAMPLE, '--repl'], { input: 'goto 14\nwhen iova 0x1000000 ioas 1\nbreak errno EBUSY\ncontinue\n', encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('863 events (Linux 6.12 profile)');
    expect(r.stdout).toContain('#14 pid 274 IOMMU_IOAS_MAP');
    expect(r.stdout).toContain('end of trace, no breakpoint hit');
  });

  it.skipIf(!existsSync(cli))('debugs a trace cut short up to its bad block, and says where indexing stopped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iorewind-repl-'));
    try {
      const cut = writeCutSample(dir);
      const r = spawnSync(process.execPath, [cli, 'debug', cut, '--repl'], { input: 'goto 14\nwhere\n', encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).toMatch(/indexing stopped at event 800: .*truncated file/);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('800 events (Linux 6.12 profile)');
      expect(r.stdout).toContain('#14 pid 274 IOMMU_IOAS_MAP');
      // nothing at all indexed: the error is the answer
      const head = join(dir, 'head.iort');
      writeFileSync(head, readFileSync(cut).subarray(0, 300));
      const h = spawnSync(process.execPath, [cli, 'debug', head, '--repl'], { input: 'where\n', encoding: 'utf8', timeout: 60_000 });
      expect(h.status).toBe(2);
      expect(h.stderr).toMatch(/truncated file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('REPL over a fuzz-generated sequence (failures, accesses, faults, vIOMMUs, several contexts)', () => {
  it('every command answers at positions all over the trace, without an error', async () => {
    const events = fuzzEvents(0x4e91, '6.14', 1000);
    const session = new Session(await DebugIndex.build(events, { kernel: '6.14' }));
    const lines: string[] = [];
    for (let p = 0; p < events.length; p += 37) lines.push(`goto ${p}`, 'event', 'diff', 'where', 'print', 'step', 'back');
    for (let id = 1; id <= 16; id++) lines.push(`when obj ${id}`);
    lines.push('when errno any', 'when op IOMMU_IOAS_MAP', 'when iova 0x0..0xffffffffffffffff', 'when page 0x7f0000000000', 'when divergence');
    lines.push('goto 0', 'break errno any', 'break op IOMMU_DESTROY', 'breaks', 'continue', 'continue', 'continue', 'reverse-continue', 'delete all', 'break invariant', 'continue');
    const { out, failures } = await script(session, lines);
    expect(out.split('\n').filter((l) => l.startsWith('error:'))).toEqual([]);
    expect(failures).toBe(0);
    expect(out).toMatch(/object 1: \d+ changes/);
  }, 60_000);
});

