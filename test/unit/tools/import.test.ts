/**
 * `iorewind import` reads the capture while it writes the trace: never into
 * the capture itself (it once truncated a capture imported with -o naming
 * it), and a capture that turns out damaged leaves no half-written trace and
 * whatever file was at the output before.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../debug/fixtures.js';

const cli = join(ROOT, 'dist/tools/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'iorewind-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = (...argv: string[]) => spawnSync(process.execPath, [cli, 'import', ...argv], { input: '', encoding: 'utf8', timeout: 60_000 });

// a real capture (../shared/captures), unpacked
const CAPTURE = gunzipSync(readFileSync(join(ROOT, '../shared/captures/selftest/iommufd.cmd_fail.jsonl.gz'))).toString('utf8');

describe.skipIf(!existsSync(cli))('iorewind import', () => {
  it('refuses to write over the capture it reads, by its name or a link to it', () => {
    const cap = join(dir, 'cap.jsonl');
    writeFileSync(cap, CAPTURE);
    const link = join(dir, 'link.jsonl');
    symlinkSync(cap, link);
    for (const out of [cap, link]) {
      const r = run(cap, '-o', out);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toBe(`iorewind: import: the output ${out} is the capture itself\n`);
      expect(readFileSync(cap, 'utf8')).toBe(CAPTURE);
    }
  });

  it('a damaged capture leaves the output as it was, and nothing beside it', () => {
    const cap = join(dir, 'bad.jsonl');
    writeFileSync(cap, CAPTURE + '{"seq":2,"kind":\n');
    const out = join(dir, 'bad.iort');
    writeFileSync(out, 'OLD');
    const r = run(cap, '-o', out);
    expect(r.status).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe('OLD');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    rmSync(out);
    expect(run(cap, '-o', out).status).toBe(2);
    expect(existsSync(out)).toBe(false);
  });

  it('writes the trace when all goes well', () => {
    const cap = join(dir, 'good.jsonl');
    writeFileSync(cap, CAPTURE);
    const r = run(cap);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/-> 19 events ->/);
    expect(existsSync(join(dir, 'good.iort'))).toBe(true);
  });
});
