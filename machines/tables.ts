/**
 * Plain transition tables derived from the lifecycle machines, for the
 * reducers (aesthetics convention 11): `table[state][event]` is the next
 * state, `undefined` a refusal. A lookup costs a property read; running the
 * machine with xstate's pure `transition()` costs tens of microseconds per
 * event, so the machines are run only here, once, when this module loads,
 * and in test/machines, which proves each table equal to its machine over
 * every reachable (state, event) pair with xstate/graph.
 *
 * @example DEVICE_TABLE.bound.VFIO_DEVICE_ATTACH_IOMMUFD_PT // 'attached'
 * @example HWPT_TABLE['auto.attached'].IOMMU_DESTROY // undefined: refused
 */
import { initialTransition, transition, type AnyStateMachine, type StateValue } from 'xstate';
import { DEVICE_EVENTS, deviceMachine, type DeviceEventType, type DeviceState } from './device.machine.js';
import { HWPT_EVENTS, hwptMachine, type HwptEventType, type HwptState } from './hwpt.machine.js';

export type Table<S extends string, E extends string> = { readonly [K in S]: { readonly [V in E]?: S } };

/** 'bound', or 'manual.detached' for the nested value { manual: 'detached' }. */
export function stateKey(value: StateValue): string {
  if (typeof value === 'string') return value;
  const entries = Object.entries(value);
  if (entries.length !== 1) throw new Error(`lifecycle machines have no parallel states: ${JSON.stringify(value)}`);
  const [k, v] = entries[0]!;
  return v === undefined || (typeof v === 'object' && Object.keys(v).length === 0) ? k : `${k}.${stateKey(v)}`;
}

/**
 * Every state reachable from the initial one, and for each of them every
 * event the machine takes (snapshot.can) with the state it leads to.
 */
export function deriveTable(machine: AnyStateMachine, events: readonly string[]): { initial: string; table: Record<string, Record<string, string>> } {
  const [init] = initialTransition(machine);
  const table: Record<string, Record<string, string>> = Object.create(null) as Record<string, Record<string, string>>;
  const queue = [init];
  while (queue.length) {
    const s = queue.shift()!;
    const key = stateKey(s.value);
    if (table[key]) continue;
    const row: Record<string, string> = Object.create(null) as Record<string, string>;
    table[key] = row;
    for (const type of events) {
      if (!s.can({ type })) continue;
      const [next] = transition(machine, s, { type });
      row[type] = stateKey(next.value);
      queue.push(next);
    }
  }
  return { initial: stateKey(init.value), table };
}

const device = deriveTable(deviceMachine, DEVICE_EVENTS);
const hwpt = deriveTable(hwptMachine, HWPT_EVENTS);

export const DEVICE_TABLE = Object.freeze(device.table) as Table<DeviceState, DeviceEventType>;
export const DEVICE_INITIAL = device.initial as DeviceState;
export const HWPT_TABLE = Object.freeze(hwpt.table) as Table<HwptState, HwptEventType>;
export const HWPT_INITIAL = hwpt.initial as HwptState;

export type { DeviceEventType, DeviceState, HwptEventType, HwptState };
