// Developer aid: replay every capture and print the first divergence of each.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { importCapture } from '../../src/capture/import.js';
import { replay } from '../../src/engine/replay.js';

const dir = process.argv[2] ?? '../shared/captures/selftest';
const only = process.argv[3];
let ok = 0;
let bad = 0;
for (const f of readdirSync(dir).sort()) {
  if (!f.endsWith('.jsonl.gz') || (only && !f.includes(only))) continue;
  const s = await replay(importCapture(join(dir, f)), { stopAtFirst: true });
  if (s.divergences) {
    bad++;
    const d = s.first_divergence!;
    console.log(`DIVERGE ${f} #${d.index} ${d.op} ${d.src} ${d.what}: expected ${fmt(d.expected)} actual ${fmt(d.actual)}`);
  } else ok++;
}
console.log(`${ok} agree, ${bad} diverge`);
function fmt(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x instanceof Uint8Array ? Buffer.from(x).toString('hex').slice(0, 64) : x))?.slice(0, 300) ?? 'undefined';
}
