/** output.ts: a command's output replaced whole or not at all. */
import { chmodSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replaceFile, sameFile } from '../../../src/trace/output.js';

const dir = mkdtempSync(join(tmpdir(), 'iorewind-output-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('replaceFile', () => {
  it('replaces a file only once its new contents are complete, keeping its mode', async () => {
    const f = join(dir, 'a.txt');
    writeFileSync(f, 'old');
    chmodSync(f, 0o640);
    await expect(
      replaceFile(f, async (t) => {
        writeFileSync(t, 'half');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(readFileSync(f, 'utf8')).toBe('old');
    expect(await replaceFile(f, async (t) => (writeFileSync(t, 'new'), 7))).toBe(7);
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(statSync(f).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).filter((x) => x.endsWith('.tmp'))).toEqual([]);
  });

  it('through a symlink the file it names is replaced, the link stays', async () => {
    const f = join(dir, 'b.txt');
    const l = join(dir, 'b.link');
    writeFileSync(f, 'old');
    symlinkSync(f, l);
    await replaceFile(l, async (t) => writeFileSync(t, 'new'));
    expect(lstatSync(l).isSymbolicLink()).toBe(true);
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(sameFile(f, l)).toBe(true);
  });

  it('an error about the temporary file names the output', async () => {
    const f = join(dir, 'no/such/dir/c.txt');
    await expect(replaceFile(f, async (t) => writeFileSync(t, 'x'))).rejects.toMatchObject({ code: 'ENOENT', path: f, message: expect.stringContaining(f) });
  });

  it('a device is written in place', async () => {
    let target = '';
    await replaceFile('/dev/null', async (t) => {
      target = t;
      writeFileSync(t, 'x');
    });
    expect(target).toBe('/dev/null');
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});
