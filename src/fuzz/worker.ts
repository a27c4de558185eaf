/**
 * worker_threads entry of a fuzz campaign (campaign.ts): runs one job and
 * posts progress and the outcome to the parent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runJob, type WorkerJob } from './campaign.js';

const job = workerData as WorkerJob;
let last = 0;
runJob(job, (runs, steps) => {
  const now = performance.now();
  if (now - last < 250) return;
  last = now;
  parentPort!.postMessage({ type: 'progress', runs, steps });
}).then(
  (outcome) => parentPort!.postMessage({ type: 'done', outcome }),
  (e: unknown) => {
    throw e;
  },
);
