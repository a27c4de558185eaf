/**
 * Opening a file that is not there, or not what its name says: a clear
 * error, from openSource and from every command that opens traces, never
 * an unhandled stream error (a missing .gz capture used to kill the process
 * with one: pipe() does not forward the file stream's errors).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSource } from '../../../src/engine/source.js';
import { importCapture } from '../../../src/capture/import.js';
import { ROOT } from '../debug/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'iorewind-src-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const missing = join(dir, 'missing.jsonl.gz');
const notGzip = join(dir, 'plain.jsonl.gz');
writeFileSync(notGzip, '{"seq":1,"kind":"open"}\n');

describe('opening what is not there or not gzip', () => {
  it('openSource rejects with the file named', async () => {
    await expect(openSource(missing)).rejects.toThrow(/ENOENT.*missing\.jsonl\.gz/);
    await expect(openSource(notGzip)).rejects.toThrow(`${notGzip}: not a gzip file (incorrect header check)`);
  });

  it('importCapture throws the missing file, as an error of the iteration', async () => {
    const it = importCapture(missing)[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow(/ENOENT/);
  });

  const cli = join(ROOT, 'dist/tools/cli.js');
  it.skipIf(!existsSync(cli))('replay, fuzz --check and debug --repl: exit 2 with one line, no stack', () => {
    for (const cmd of [['replay'], ['fuzz', '--check'], ['debug', '--repl']])
      for (const f of [missing, notGzip]) {
        const r = spawnSync(process.execPath, [cli, ...cmd, f], { input: '', encoding: 'utf8', timeout: 60_000 });
        expect(r.status, `${cmd.join(' ')} ${f}: ${r.stderr}`).toBe(2);
        expect(r.stderr.trim().split('\n'), `${cmd.join(' ')} ${f}`).toHaveLength(1);
        expect(r.stderr).toMatch(f === missing ? /^iorewind: ENOENT/ : /not a gzip file/);
      }
  });
});
