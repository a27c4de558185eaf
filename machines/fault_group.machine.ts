/**
 * The lifecycle of one I/O page-fault group (kernel-semantics §9.3, §9.4;
 * fault.c, io-pgfault.c) as an xstate v5 machine. The reducers
 * (src/model/fault.ts) use the plain table generated from it,
 * machines/fault_group.table.ts: no actors, no timers, no xstate at run
 * time, one property read per transition.
 *
 *   raised ──READ──────────▶ delivered ──RESPOND──────▶ responded
 *     │  ▲                      │
 *     │  └──────READ_FAILED─────┤
 *     └──AUTO_RESPOND──▶ auto_responded ◀──AUTO_RESPOND─┘
 *
 * - raised: the group (the device's parked partial requests with its grpid,
 *   then the LAST_PAGE request) is on the fault object's delivery queue.
 * - READ: read(2) of the fault fd copied its records out and gave it a
 *   cookie (iommufd_fault_fops_read, xa_alloc on fault->response).
 * - READ_FAILED: copy_to_user failed: cookie erased, group put back at the
 *   head of the queue (iommufd_fault_deliver_restore). The model has no
 *   event for an unwritable read buffer, so the reducers never take it.
 * - RESPOND: write(2) of a response naming its cookie with code SUCCESS or
 *   INVALID (iommufd_fault_fops_write): the response goes to the device and
 *   the group is freed; its cookie is free again.
 * - AUTO_RESPOND: iommufd_auto_response_faults (the device leaves the HWPT
 *   by detach or replace) or iommufd_fault_destroy: answered INVALID, freed,
 *   whether still queued or already read.
 * - responded / auto_responded are final: a group is answered exactly once.
 *   Anything else (a second answer, reading an answered group) is not in the
 *   table, and a reducer asking for it is a model bug.
 */
import { setup } from 'xstate';
import { pathToFileURL } from 'node:url';
import type { FaultGroupState } from '../src/model/state.js';
import { deriveTable } from './derive.js';

export type FaultGroupEventType = 'READ' | 'READ_FAILED' | 'RESPOND' | 'AUTO_RESPOND';
export type FaultGroupEvent = { type: FaultGroupEventType };

export const FAULT_GROUP_STATES: readonly FaultGroupState[] = ['raised', 'delivered', 'responded', 'auto_responded'];
export const FAULT_GROUP_EVENTS: readonly FaultGroupEventType[] = ['READ', 'READ_FAILED', 'RESPOND', 'AUTO_RESPOND'];

export const faultGroupMachine = setup({
  types: { events: {} as FaultGroupEvent },
}).createMachine({
  id: 'faultGroup',
  initial: 'raised',
  states: {
    raised: {
      on: { READ: 'delivered', AUTO_RESPOND: 'auto_responded' },
    },
    delivered: {
      on: { RESPOND: 'responded', AUTO_RESPOND: 'auto_responded', READ_FAILED: 'raised' },
    },
    responded: { type: 'final' },
    auto_responded: { type: 'final' },
  },
});

/**
 * The source text of machines/fault_group.table.ts, derived from the machine
 * (derive.ts deriveTable). Regenerate after changing the machine:
 *   npx tsc -p tsconfig.json && node dist/machines/fault_group.machine.js > machines/fault_group.table.ts
 */
export function renderFaultGroupTable(): string {
  const { initial, table } = deriveTable(faultGroupMachine, FAULT_GROUP_EVENTS);
  for (const st of FAULT_GROUP_STATES) if (!table[st]) throw new Error(`fault_group machine: state ${st} unreachable`);
  const row = (r: Record<string, string>) => {
    const cells = Object.entries(r).map(([e, n]) => `${e}: '${n}'`);
    return cells.length ? `{ ${cells.join(', ')} }` : '{}';
  };
  return `/**
 * The page-fault group lifecycle's transition table, for the reducers
 * (src/model/fault.ts): \`FAULT_GROUP_TABLE[state][event]\` is the next state,
 * \`undefined\` a transition the machine does not take (a model bug if asked
 * for). A property read; the model never loads xstate.
 *
 * GENERATED from machines/fault_group.machine.ts
 * (\`node dist/machines/fault_group.machine.js > machines/fault_group.table.ts\`);
 * test/machines/fault_group.test.ts proves it equal to the machine over every
 * (state, event) pair and with xstate/graph. Do not edit by hand.
 */
import type { FaultGroupState } from '../src/model/state.js';
import type { FaultGroupEventType } from './fault_group.machine.js';
import type { Table } from './tables.js';

export const FAULT_GROUP_INITIAL: FaultGroupState = '${initial}';
export const FAULT_GROUP_TABLE: Table<FaultGroupState, FaultGroupEventType> = {
${Object.entries(table).map(([st, r]) => `  ${st}: ${row(r)},`).join('\n')}
};

/** The next state, or undefined when the machine does not take \`ev\` in \`s\`. */
export function faultGroupNext(s: FaultGroupState, ev: FaultGroupEventType): FaultGroupState | undefined {
  return FAULT_GROUP_TABLE[s][ev];
}
`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.stdout.write(renderFaultGroupTable());
