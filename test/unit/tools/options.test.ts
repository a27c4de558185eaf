/**
 * Command-line mistakes are usage errors (exit 2, one message, the usage),
 * never ignored and never an internal error: an unknown option used to be
 * skipped by `debug`, and `replay --kernel 6.13` failed inside the model with
 * "Cannot read properties of undefined".
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernelOption, parseOptions } from '../../../tools/commands/options.js';
import { ROOT, SAMPLE } from '../debug/fixtures.js';

describe('parseOptions / kernelOption', () => {
  const spec = { json: { type: 'boolean' as const }, kernel: { type: 'string' as const } };
  it('reads flags, values and positionals', () => {
    expect(parseOptions('x', ['a.iort', '--json', '--kernel', '6.14'], spec, 'usage: x')).toEqual({ values: { json: true, kernel: '6.14' }, positionals: ['a.iort'] });
    expect(parseOptions('x', ['--kernel=6.12'], spec, 'usage: x').values['kernel']).toBe('6.12');
  });
  it('an unknown option or a missing value names the command and gives the usage', () => {
    expect(() => parseOptions('x', ['--bogus'], spec, 'usage: x')).toThrow("x: Unknown option '--bogus'\nusage: x");
    expect(() => parseOptions('x', ['--kernel'], spec, 'usage: x')).toThrow(/^x: Option '--kernel <value>' argument missing\nusage: x$/);
  });
  it('--kernel is a modelled version', () => {
    expect(kernelOption('x', undefined)).toBeUndefined();
    expect(kernelOption('x', '6.14')).toBe('6.14');
    expect(() => kernelOption('x', '6.13')).toThrow("x: --kernel must be 6.12 or 6.14, got '6.13'");
  });
});

describe('the commands', () => {
  const cli = join(ROOT, 'dist/tools/cli.js');
  const run = (...argv: string[]) => spawnSync(process.execPath, [cli, ...argv], { input: '', encoding: 'utf8', timeout: 60_000 });
  it.skipIf(!existsSync(cli))('refuse what they do not understand, exit 2', () => {
    for (const [argv, msg] of [
      [['replay', '--kernel', '6.13', SAMPLE], "iorewind: replay: --kernel must be 6.12 or 6.14, got '6.13'"],
      [['replay', SAMPLE, SAMPLE], 'iorewind: replay: one trace at a time, got 2'],
      [['debug', SAMPLE, '--repl', '--bogus'], "iorewind: debug: Unknown option '--bogus'"],
      [['debug', '--kernel', '5', '--repl'], "iorewind: debug: --kernel must be 6.12 or 6.14, got '5'"],
      [['debug', SAMPLE, '--repl', '--memory', '10'], "iorewind debug: bad --memory '10' (MiB, 64 or more)"],
      // a budget V8's heap cannot hold would end in an out-of-memory abort instead of thinning
      [['debug', SAMPLE, '--repl', '--memory', '1000000'], "iorewind debug: --memory 1000000 is more than 3/4 of Node's heap limit"],
      [['fuzz', '--workers', '0'], 'iorewind: --workers: 1..'],
      [['fuzz', '--workers', '100000'], 'iorewind: --workers: 1..'],
      // the next option is no value (it once read --json as the trace's path)
      [['fuzz', '--check', '--json'], 'iorewind: --check needs a value\nusage: iorewind fuzz'],
      [['trace', 'stats', '--bogus', 'x'], 'iorewind trace: unknown option --bogus\nusage:'],
      [['conform', '--kernel', '6.13', SAMPLE], "iorewind: conform: --kernel must be 6.12 or 6.14, got '6.13'"],
      [['conform', '--bogus', SAMPLE], "iorewind: conform: Unknown option '--bogus'"],
      // import once took an unknown option's neighbour for the capture and wrote a trace beside it
      [['import', '--bogus', SAMPLE], "iorewind: import: Unknown option '--bogus'"],
      [['import', SAMPLE, '-o'], "iorewind: import: Option '-o, --out <value>' argument missing"],
      [['oracle', '--bogus'], "iorewind: oracle: Unknown option '--bogus'"],
      [['oracle', '--fuzz', '--seed', 'x'], "iorewind: oracle: --seed: expected an integer >= 0, got 'x'"],
      [['fuzz', '--oracle', '--time', '5'], "iorewind: oracle: Unknown option '--time'"],
      // refused before any boot: a VFIO device cdev or a 6.14 ioctl has no equivalent on the 6.12 oracle
      [['oracle', '--fuzz', '--events', 'mmap,IOMMU_VIOMMU_ALLOC'], "iorewind: oracle fuzz: event kind 'IOMMU_VIOMMU_ALLOC' cannot run on the 6.12 oracle"],
      [['oracle', '--fuzz', '--events', ','], 'iorewind: oracle fuzz: no event kinds to generate'],
      [['oracle', '--fuzz', '--hostile', 'many'], "iorewind: oracle: --hostile: expected an integer >= 0, got 'many'"],
      [['oracle', '--fuzz', '--max-steps', '1000000000000'], 'iorewind: oracle: --max-steps: at most 100000, got 1000000000000'],
      // a hostile weight that was not a number once ran as NaN, and a huge step count ended in 'Invalid array length'
      [['fuzz', '--hostile', 'many'], "iorewind: --hostile: expected a non-negative integer, got 'many'"],
      [['fuzz', '--hostile', '20000'], 'iorewind: --hostile: at most 10000, got 20000'],
      [['fuzz', '--max-steps', '1e12'], 'iorewind: --max-steps: at most 100000, got 1e12'],
      [['fuzz', '--runs', '-3'], "iorewind: --runs: expected a non-negative integer, got '-3'"],
      [['fuzz', '--out', SAMPLE], `iorewind: --out: ${SAMPLE} is not a directory`],
      [['oracle', '--fuzz', '--save', SAMPLE], `iorewind: oracle: --save: ${SAMPLE} is not a directory`],
      // a directory without scenarios is a wrong path, not a pass
      [['conform', join(ROOT, 'src/uapi')], 'iorewind: conform: no scenario files (*.json) in'],
    ] as const) {
      const r = run(...argv);
      expect(r.status, argv.join(' ')).toBe(2);
      expect(r.stderr.startsWith(msg), `${argv.join(' ')}: ${r.stderr}`).toBe(true);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
  it.skipIf(!existsSync(cli))('conform finds the scenarios under a directory, all the way down', () => {
    const r = run('conform', '--json', join(ROOT, 'test/conformance'));
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { scenarios: number; passed: number };
    expect(out.scenarios).toBeGreaterThan(0);
    expect(out.passed).toBe(out.scenarios);
  });

  it.skipIf(!existsSync(cli))('debug on a port already in use says what to do', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as AddressInfo).port;
    try {
      const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [cli, 'debug', SAMPLE, '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('close', (status) => resolve({ status, stderr }));
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`iorewind: debug: port ${port} on 127.0.0.1 is in use (another iorewind debug?): choose one with --port P, or --port 0 for any free port`);
    } finally {
      busy.close();
    }
  }, 120_000);

  it.skipIf(!existsSync(cli))('--kernel 6.14 replays the sample under the other profile', () => {
    const r = run('replay', '--json', '--kernel', '6.14', SAMPLE);
    expect(JSON.parse(r.stdout)).toMatchObject({ kernel: '6.14', events: 863 });
  });
});
