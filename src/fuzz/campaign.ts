/**
 * A fuzz campaign: one or more workers (worker_threads), each fuzzing with
 * its own seed, reporting progress and, on a failure, writing the shrunk
 * counterexample (trace twins + report) into the output directory.
 * `iorewind fuzz` is a thin wrapper around `runCampaign`.
 */
import { Worker } from 'node:worker_threads';
import type { KernelVersion } from '../model/state.js';
import { fuzz, type FuzzFailure } from './run.js';
import { reportText, writeFailure, type WrittenFailure } from './report.js';

export interface CampaignOptions {
  seed: number;
  /** Total runs over all workers (default: unlimited when `timeMs` is set, else 1000). */
  runs?: number;
  maxSteps?: number;
  timeMs?: number;
  workers?: number;
  out: string;
  kernel: KernelVersion;
  path?: string;
  replayPath?: string;
  invariants?: string[];
  events?: string[];
  hostile?: number;
  replayEvery?: number;
  onProgress?: (p: CampaignProgress) => void;
}

export interface CampaignProgress {
  runs: number;
  steps: number;
  failures: number;
  elapsedMs: number;
  /** Fraction done (runs or time), 0..1. */
  done: number;
}

export interface WorkerOutcome {
  worker: number;
  seed: number;
  runs: number;
  steps: number;
  elapsedMs: number;
  interrupted: boolean;
  failure: { invariant: string; message: string; events: number; generated: number; files: WrittenFailure; report: string } | null;
}

export interface CampaignResult {
  seed: number;
  kernel: KernelVersion;
  workers: WorkerOutcome[];
  runs: number;
  steps: number;
  elapsedMs: number;
  stepsPerSec: number;
  failures: number;
}

/** Distinct, reproducible seed of worker `k` (worker 0 keeps the campaign seed). */
export const workerSeed = (seed: number, k: number): number => (seed + Math.imul(k, 0x9e3779b1)) >>> 0;

export interface WorkerJob {
  worker: number;
  seed: number;
  runs: number;
  timeMs?: number;
  maxSteps?: number;
  out: string;
  kernel: KernelVersion;
  path?: string;
  replayPath?: string;
  invariants?: string[];
  events?: string[];
  hostile?: number;
  replayEvery?: number;
}

const BIG_RUNS = 0x7fffffff;

/** Run one worker's share in this thread. */
export async function runJob(job: WorkerJob, progress?: (runs: number, steps: number) => void): Promise<WorkerOutcome> {
  const r = fuzz({
    seed: job.seed,
    runs: job.runs,
    ...(job.maxSteps !== undefined ? { maxSteps: job.maxSteps } : {}),
    ...(job.timeMs !== undefined ? { timeMs: job.timeMs } : {}),
    kernel: job.kernel,
    ...(job.path ? { path: job.path } : {}),
    ...(job.replayPath ? { replayPath: job.replayPath } : {}),
    ...(job.invariants ? { invariants: job.invariants } : {}),
    ...(job.events ? { events: job.events } : {}),
    ...(job.hostile !== undefined ? { bias: { hostile: job.hostile } } : {}),
    ...(job.replayEvery !== undefined ? { replayEvery: job.replayEvery } : {}),
    onProgress: (p) => progress?.(p.runs, p.steps),
  });
  let failure: WorkerOutcome['failure'] = null;
  if (r.failure) failure = await saveFailure(job.out, r.failure);
  return { worker: job.worker, seed: job.seed, runs: r.runs, steps: r.steps, elapsedMs: r.elapsedMs, interrupted: r.interrupted, failure };
}

async function saveFailure(out: string, f: FuzzFailure): Promise<NonNullable<WorkerOutcome['failure']>> {
  const name = `fuzz-${f.kernel}-${f.seed}-${f.invariant}`;
  const files = await writeFailure(out, name, f);
  return { invariant: f.invariant, message: f.violations[0]?.message ?? '', events: f.events.length, generated: f.events.length - f.setupLength, files, report: reportText(f, files) };
}

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const n = Math.max(1, o.workers ?? 1);
  const total = o.runs ?? (o.timeMs !== undefined ? BIG_RUNS : 1000);
  const t0 = performance.now();
  const live = Array.from({ length: n }, () => ({ runs: 0, steps: 0 }));
  let failures = 0;
  const report = () =>
    o.onProgress?.({
      runs: live.reduce((s, x) => s + x.runs, 0),
      steps: live.reduce((s, x) => s + x.steps, 0),
      failures,
      elapsedMs: performance.now() - t0,
      done: o.timeMs !== undefined ? Math.min(1, (performance.now() - t0) / o.timeMs) : Math.min(1, live.reduce((s, x) => s + x.runs, 0) / total),
    });
  const jobs: WorkerJob[] = Array.from({ length: n }, (_, k) => ({
    worker: k,
    seed: workerSeed(o.seed, k),
    runs: total === BIG_RUNS ? BIG_RUNS : Math.floor(total / n) + (k < total % n ? 1 : 0),
    ...(o.timeMs !== undefined ? { timeMs: o.timeMs } : {}),
    ...(o.maxSteps !== undefined ? { maxSteps: o.maxSteps } : {}),
    out: o.out,
    kernel: o.kernel,
    ...(o.path ? { path: o.path } : {}),
    ...(o.replayPath ? { replayPath: o.replayPath } : {}),
    ...(o.invariants ? { invariants: o.invariants } : {}),
    ...(o.events ? { events: o.events } : {}),
    ...(o.hostile !== undefined ? { hostile: o.hostile } : {}),
    ...(o.replayEvery !== undefined ? { replayEvery: o.replayEvery } : {}),
  }));
  const timer = setInterval(report, 500);
  let outcomes: WorkerOutcome[];
  try {
    if (n === 1) {
      outcomes = [
        await runJob(jobs[0]!, (runs, steps) => {
          live[0] = { runs, steps };
          report();
        }),
      ];
    } else {
      outcomes = await Promise.all(
        jobs.map(
          (job) =>
            new Promise<WorkerOutcome>((resolve, reject) => {
              const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: job });
              w.on('message', (m: { type: 'progress'; runs: number; steps: number } | { type: 'done'; outcome: WorkerOutcome }) => {
                if (m.type === 'progress') live[job.worker] = { runs: m.runs, steps: m.steps };
                else {
                  live[job.worker] = { runs: m.outcome.runs, steps: m.outcome.steps };
                  if (m.outcome.failure) failures++;
                  resolve(m.outcome);
                }
              });
              w.on('error', reject);
              w.on('exit', (code) => {
                if (code !== 0) reject(new Error(`fuzz worker ${job.worker} exited with code ${code}`));
              });
            }),
        ),
      );
    }
  } finally {
    clearInterval(timer);
  }
  failures = outcomes.filter((x) => x.failure).length;
  report();
  const elapsedMs = performance.now() - t0;
  const runs = outcomes.reduce((s, x) => s + x.runs, 0);
  const steps = outcomes.reduce((s, x) => s + x.steps, 0);
  return { seed: o.seed, kernel: o.kernel, workers: outcomes, runs, steps, elapsedMs, stepsPerSec: elapsedMs > 0 ? Math.round((steps / elapsedMs) * 1000) : 0, failures };
}
