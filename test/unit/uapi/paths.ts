/** Where the tests find the repository and the read-only shared tree (../shared, as package.json's gen:uapi uses). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const SHARED = join(REPO, '..', 'shared');

/** The JSON lines of one selftest capture file. */
export function readCapture(test: string): Record<string, unknown>[] {
  const text = gunzipSync(readFileSync(join(SHARED, 'captures', 'selftest', `${test}.jsonl.gz`))).toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
