/** tools/commands/files.ts: the files under the directories a command is pointed at. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { filesUnder } from '../../../tools/commands/files.js';

const dir = mkdtempSync(join(tmpdir(), 'iorewind-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('filesUnder', () => {
  it('walks down in name order, enters a directory once however many links lead there, passes over dangling links', () => {
    mkdirSync(join(dir, 'b/deep'), { recursive: true });
    mkdirSync(join(dir, 'a'));
    for (const f of ['a/2.json', 'a/1.json', 'b/deep/3.json', 'b/skip.txt']) writeFileSync(join(dir, f), '{}');
    symlinkSync('..', join(dir, 'b/up')); // a link to an ancestor
    symlinkSync(join(dir, 'a'), join(dir, 'c')); // a second way into a
    symlinkSync(join(dir, 'none'), join(dir, 'b/dangling.json'));
    expect(filesUnder([dir], (p) => p.endsWith('.json')).map((p) => p.slice(dir.length + 1))).toEqual(['a/1.json', 'a/2.json', 'b/deep/3.json']);
  });

  it('a path named is taken as it is, and one that is not there is an error', () => {
    expect(filesUnder([join(dir, 'b/skip.txt')], () => false)).toEqual([join(dir, 'b/skip.txt')]);
    expect(() => filesUnder([join(dir, 'missing')], () => true)).toThrow(/ENOENT/);
  });
});
