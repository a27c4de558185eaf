// Writes docs/captures.md: every real-kernel capture replayed, with event counts,
// verified answers, divergences and events/s (import included).
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importCapture } from '../../src/capture/import.js';
import { replay } from '../../src/engine/replay.js';

const dir = process.argv[2] ?? '../shared/captures/selftest';
const out = process.argv[3] ?? 'docs/captures.md';
const rows: string[] = [];
let events = 0;
let verified = 0;
let diverged = 0;
const t0 = performance.now();
for (const f of readdirSync(dir).sort()) {
  if (!f.endsWith('.jsonl.gz')) continue;
  const t = performance.now();
  const s = await replay(importCapture(join(dir, f)), { kernel: '6.12' });
  const secs = (performance.now() - t) / 1000;
  events += s.events;
  verified += s.verified;
  if (s.divergences) diverged++;
  rows.push(`| ${f.replace(/\.jsonl\.gz$/, '')} | ${s.events} | ${s.verified} | ${s.divergences} | ${Math.round(s.events / secs)} |`);
}
const total = (performance.now() - t0) / 1000;
writeFileSync(
  out,
  [
    '# Real-kernel captures replayed',
    '',
    `Every file of \`../shared/captures/selftest\` (Linux 6.12.117 running its own iommufd selftests), imported and replayed`,
    `by \`node dist/tools/dev/capture_report.js\`: ${rows.length} captures, ${events} events, ${verified} recorded answers verified,`,
    `${diverged} captures with a divergence; ${total.toFixed(1)} s in all. events/s includes decompression and import (the`,
    'machine was shared with other work, so rates are indicative).',
    '',
    '| capture | events | verified | divergences | events/s |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n'),
);
console.log(`${rows.length} captures, ${events} events, ${verified} verified, ${diverged} diverged -> ${out}`);
