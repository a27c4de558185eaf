/**
 * Opening a file that is not there, or not what its name says: a clear
 * error, from openSource and from every command that opens traces, never
 * an unhandled stream error (a missing .gz capture used to kill the process
 * with one: pipe() does not forward the file stream's errors).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
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

describe('telling a gzipped capture from a trace', () => {
  // 64 MiB without a line break packs into the 64 KiB of gzip the sniffing reads: it used to
  // gather all of it and search the whole text for a line break at every chunk (90 s here).
  it('reads no more of a first line than it needs, however far its gzip unpacks', async () => {
    const bomb = join(dir, 'bomb.jsonl.gz');
    const body = Buffer.alloc(64 << 20, 0x61);
    Buffer.from('{"seq":0,"kind":"test","x":"').copy(body);
    writeFileSync(bomb, gzipSync(body, { level: 9 }));
    const src = await openSource(bomb);
    expect(src.kind).toBe('capture');
    const it = src.events[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow(/capture line 1: (line longer than|truncated line)/);
  }, 20_000);

  it('a first line past the sniffed bytes is judged by its beginning', async () => {
    const trace = join(dir, 'long-header.jsonl.gz');
    writeFileSync(trace, gzipSync(`{"format":"iorewind-trace","meta":{"pad":"${'p'.repeat(100_000)}"}}\n`));
    // not a capture: handed to the trace reader, which does not read gzip
    await expect(openSource(trace)).rejects.toThrow(/not an iorewind trace|header/);
  });
});
