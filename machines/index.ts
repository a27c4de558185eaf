/**
 * The lifecycle machines (xstate v5), for Stately's visualiser and for
 * tests; the model itself uses the tables derived from them (tables.ts).
 */
export { deviceMachine, DEVICE_EVENTS, DEVICE_STATES } from './device.machine.js';
export { hwptMachine, HWPT_EVENTS, HWPT_STATES } from './hwpt.machine.js';
export { DEVICE_TABLE, HWPT_TABLE } from './tables.js';
export { deriveTable, renderTables, stateKey } from './derive.js';
export { faultGroupMachine, FAULT_GROUP_EVENTS, FAULT_GROUP_STATES } from './fault_group.machine.js';
export { FAULT_GROUP_INITIAL, FAULT_GROUP_TABLE } from './fault_group.table.js';
