/**
 * apply(state, event) -> { state, result }: the single pure entry point.
 * Same World and event in, same World and result out — no clock, no
 * randomness, no iteration-order accidents.
 */
import type { Event, Result } from '../events/event.js';
import { envOps, newProc } from '../model/env.js';
import { iommufdIoctl, recorderReadsAnyway as recorderRead } from '../model/main.js';
import { vfioDeviceIoctl } from '../model/vfio_device.js';
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
    const [s, result] = env(w, pid, ev.args ?? {}, ev);
    return { state: result.errno && s === w ? state : s, result };
  }
  const p = w.procs.get(pid)!;
  if (!p.alive) return { state, result: { errno: 'ESRCH' } };
  const fileId = ev.fd === undefined ? undefined : p.fds.get(ev.fd);
  const found = fileId === undefined ? undefined : w.files.get(fileId);
  // (an O_PATH descriptor takes no ioctl: EBADF)
  const file = found?.kind === 'path' ? undefined : found;
  if (!file) {
    if (!isIoctlName(ev.op)) return { state, result: { errno: 'EINVAL', unmodelled: ev.op } };
    return { state: recorderReadsAnyway(w, pid, ev, state), result: { errno: 'EBADF' } };
  }
  if (file.kind === 'vfio') {
    const [s, result] = vfioDeviceIoctl(w, file.id, pid, ev);
    return { state: s === w && result.errno ? recorderReadsAnyway(w, pid, ev, state) : s, result };
  }
  // (a VFIO group file's own ioctls, VFIO_GROUP_*, are not modelled: said so, not answered ENOTTY)
  if (file.kind === 'vfio_group') return { state, result: { errno: 'ENOTTY', unmodelled: `${ev.op} on a VFIO group file (its ioctls are not modelled)` } };
  if (file.kind !== 'iommufd' || file.ctx === undefined) return { state: recorderReadsAnyway(w, pid, ev, state), result: { errno: 'ENOTTY' } };
  const [s, result] = iommufdIoctl(w, file.ctx, pid, ev);
  return { state: s === w && result.errno ? state : s, result };
}

const isIoctlName = (op: string): boolean => op.startsWith('IOMMU_') || op.startsWith('VFIO_') || op === 'RAW_IOCTL';

/** The recorder's read before an ioctl that fails at its fd (model/main.ts recorderReadsAnyway): `state` when it faulted nothing. */
function recorderReadsAnyway(w: World, pid: number, ev: Event, state: World): World {
  const r = recorderRead(w, pid, ev);
  return r === w ? state : r;
}
