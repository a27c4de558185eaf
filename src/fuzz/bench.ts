/**
 * `fuzz_steps_per_sec` for `npm run bench`: model steps per second of the
 * fuzz loop in one thread with every invariant on — generation, resolution,
 * apply, the incremental invariant checks after every event and the
 * replay-from-checkpoint check every 16 runs. Measured after a warm-up: the
 * JIT and the heap settle only after several thousand runs (consecutive
 * 4,000-run blocks of one seed after a 1,500-run warm-up went 17.6k, 19.3k,
 * 23.7k, 21.1k steps/s on 2026-11-26; after 8,000 runs, 12,000-run blocks
 * went 23.8k, 24.1k, 24.7k), and a campaign (`iorewind fuzz --time 60`)
 * spends nearly all its time past that point. The warm-up's own rate is
 * reported too (`warmup_steps_per_sec`: a cold start).
 */
import { fuzz } from './run.js';

export interface FuzzBench {
  fuzz_steps_per_sec: number;
  /** Details (not in tools/bench.ts's object). */
  runs: number;
  steps: number;
  warmup_steps_per_sec: number;
}

export function benchFuzz(opts: { quick?: boolean; log?: (s: string) => void } = {}): FuzzBench {
  const warm = fuzz({ seed: 0xbe7c, runs: opts.quick ? 600 : 8000, maxSteps: 40, kernel: '6.12' });
  if (warm.failure) throw new Error(`benchFuzz: the warm-up found a failure (${warm.failure.invariant}): run iorewind fuzz --seed ${warm.seed}`);
  const r = fuzz({ seed: 0xbe7d, runs: opts.quick ? 1200 : 12000, maxSteps: 40, kernel: '6.12' });
  if (r.failure) throw new Error(`benchFuzz: found a failure (${r.failure.invariant}): run iorewind fuzz --seed ${r.seed}`);
  opts.log?.(`  ${r.stepsPerSec} steps/s over ${r.steps} steps in ${r.runs} runs (warm-up ${warm.stepsPerSec} steps/s)`);
  return { fuzz_steps_per_sec: r.stepsPerSec, runs: r.runs, steps: r.steps, warmup_steps_per_sec: warm.stepsPerSec };
}
