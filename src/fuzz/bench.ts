/**
 * `fuzz_steps_per_sec` for `npm run bench`: model steps per second of the
 * fuzz loop in one thread with every invariant on — generation, resolution,
 * apply, the incremental invariant checks after every event and the
 * replay-from-checkpoint check every 16 runs. Measured after a warm-up (the
 * JIT needs a few thousand runs to reach the steady state).
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
  const warm = fuzz({ seed: 0xbe7c, runs: opts.quick ? 600 : 1500, maxSteps: 40, kernel: '6.12' });
  if (warm.failure) throw new Error(`benchFuzz: the warm-up found a failure (${warm.failure.invariant}): run iorewind fuzz --seed ${warm.seed}`);
  const r = fuzz({ seed: 0xbe7d, runs: opts.quick ? 1200 : 4000, maxSteps: 40, kernel: '6.12' });
  if (r.failure) throw new Error(`benchFuzz: found a failure (${r.failure.invariant}): run iorewind fuzz --seed ${r.seed}`);
  opts.log?.(`  ${r.stepsPerSec} steps/s over ${r.steps} steps in ${r.runs} runs (warm-up ${warm.stepsPerSec} steps/s)`);
  return { fuzz_steps_per_sec: r.stepsPerSec, runs: r.runs, steps: r.steps, warmup_steps_per_sec: warm.stepsPerSec };
}
