/**
 * apply(state, event) -> { state, result }: the single pure entry point.
 * Same World and event in, same World and result out — no clock, no
 * randomness, no iteration-order accidents.
 */
import type { Event, Result } from '../events/event.js';
import { envArgMisfit, envOps, newProc } from '../model/env.js';
import { iommufdIoctl, recorderReads } from '../model/main.js';
import { vfioDeviceIoctl } from '../model/vfio_device.js';
import { vfioGroupIoctl } from '../model/vfio_group.js';
import type { World } from '../model/state.js';

export interface Step {
  state: World;
  result: Result;
}

const DEFAULT_PID = 1;
const STATELESS = new Set(['note', 'noop', 'unknown_record', 'undecodable']);

export function apply(state: World, ev: Event): Step {
  const pid = ev.pid ?? DEFAULT_PID;
  const env = envOps[ev.op];
  // Records that change nothing (notes, no-ops, unmodelled records) do not even
  // bring their process into being: a process appears with its first real event.
  if (env && STATELESS.has(ev.op)) return { state, result: env(state, pid, ev.args ?? {}, ev)[1] };
  let w = state;
  if (!w.procs.has(pid)) w = { ...w, procs: w.procs.set(pid, newProc(pid)) };
  if (env) {
    // (an argument the event kind does not take, say misspelt: told so, not read as absent)
    const bad = ev.args ? envArgMisfit(ev.op, ev.args) : undefined;
    if (bad) return { state, result: { errno: 'EINVAL', unmodelled: bad } };
    const [s, result] = env(w, pid, ev.args ?? {}, ev);
    return { state: result.errno && s === w ? state : s, result };
  }
  const p = w.procs.get(pid)!;
  if (!p.alive) return { state, result: { errno: 'ESRCH' } };
  // The recorder reads an ACCESS_RW buffer before the call, whatever fd it goes to and whatever
  // it answers (model/main.ts recorderReads): a failed call returns the World with its faults.
  const read = recorderReads(w, pid, ev);
  const failed = read === w ? state : read;
  w = read;
  const fileId = ev.fd === undefined ? undefined : p.fds.get(ev.fd);
  const found = fileId === undefined ? undefined : w.files.get(fileId);
  // (an O_PATH descriptor takes no ioctl: EBADF)
  const file = found?.kind === 'path' ? undefined : found;
  if (!file) {
    if (!isIoctlName(ev.op)) return { state, result: { errno: 'EINVAL', unmodelled: ev.op } };
    return { state: failed, result: { errno: 'EBADF' } };
  }
  if (file.kind === 'vfio') {
    const [s, result] = vfioDeviceIoctl(w, file.id, pid, ev);
    return { state: s === w && result.errno ? failed : s, result };
  }
  if (file.kind === 'vfio_group') {
    const [s, result] = vfioGroupIoctl(w, file.id, pid, ev);
    return { state: s === w && result.errno ? failed : s, result };
  }
  if (file.kind !== 'iommufd' || file.ctx === undefined) return { state: failed, result: { errno: 'ENOTTY' } };
  const [s, result] = iommufdIoctl(w, file.ctx, pid, ev);
  return { state: s === w && result.errno ? failed : s, result };
}

const isIoctlName = (op: string): boolean => op.startsWith('IOMMU_') || op.startsWith('VFIO_') || op === 'RAW_IOCTL';
