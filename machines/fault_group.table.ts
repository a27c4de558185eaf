/**
 * The page-fault group lifecycle's transition table, for the reducers
 * (src/model/fault.ts): `FAULT_GROUP_TABLE[state][event]` is the next state,
 * `undefined` a transition the machine does not take (a model bug if asked
 * for). A property read; the model never loads xstate.
 *
 * GENERATED from machines/fault_group.machine.ts
 * (`node dist/machines/fault_group.machine.js > machines/fault_group.table.ts`);
 * test/machines/fault_group.test.ts proves it equal to the machine over every
 * (state, event) pair and with xstate/graph. Do not edit by hand.
 */
import type { FaultGroupState } from '../src/model/state.js';
import type { FaultGroupEventType } from './fault_group.machine.js';
import type { Table } from './tables.js';

export const FAULT_GROUP_INITIAL: FaultGroupState = 'raised';
export const FAULT_GROUP_TABLE: Table<FaultGroupState, FaultGroupEventType> = {
  raised: { READ: 'delivered', AUTO_RESPOND: 'auto_responded' },
  delivered: { READ_FAILED: 'raised', RESPOND: 'responded', AUTO_RESPOND: 'auto_responded' },
  auto_responded: {},
  responded: {},
};

/** The next state, or undefined when the machine does not take `ev` in `s`. */
export function faultGroupNext(s: FaultGroupState, ev: FaultGroupEventType): FaultGroupState | undefined {
  return FAULT_GROUP_TABLE[s][ev];
}
