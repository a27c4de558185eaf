/**
 * Lifecycle states of iommufd objects, derived from the object itself.
 *
 * Each type has a small state machine (the states an engineer reasons in:
 * a device is bound, then attached; a fault queue is idle, has pending
 * faults, waits for responses). `lifecycleState` names the state an object
 * is in; the debugger records it each time the object changes, so the
 * history of an object reads as a path through its machine.
 *
 * HW pagetables follow the xstate machine of machines/hwpt.machine.ts (the
 * one the reducers check every step against): their state and transitions
 * come from it. Other types have derived descriptions until they get a
 * machine; `registerMachine` swaps one in.
 */
import type { Ctx, Obj, ObjType } from '../model/state.js';
import { HWPT_TABLE } from '../../machines/tables.js';
import { HWPT_STATES } from '../../machines/hwpt.machine.js';
import { hwptLifecycleState } from '../model/device.js';

export interface MachineDescription {
  type: ObjType;
  /** States in the order they are drawn. */
  states: string[];
  /** Transitions the machine allows: [from, to, on]. */
  transitions: [string, string, string][];
  /** Where the description comes from ('derived' or the machine's id). */
  source: string;
}

const M = (type: ObjType, states: string[], transitions: [string, string, string][]): MachineDescription => ({
  type,
  states: ['(none)', ...states, 'destroyed'],
  transitions,
  source: 'derived from the model state',
});

const MACHINES: Record<ObjType, MachineDescription> = {
  ioas: M('ioas', ['empty', 'mapped', 'mapped, in domains'], [
    ['(none)', 'empty', 'IOMMU_IOAS_ALLOC'],
    ['empty', 'mapped', 'IOMMU_IOAS_MAP / COPY'],
    ['mapped', 'empty', 'IOMMU_IOAS_UNMAP'],
    ['mapped', 'mapped, in domains', 'attach (HWPT on this IOAS)'],
    ['mapped, in domains', 'mapped', 'last HWPT destroyed'],
    ['empty', 'destroyed', 'IOMMU_DESTROY'],
    ['mapped', 'destroyed', 'IOMMU_DESTROY'],
  ]),
  hwpt_paging: M('hwpt_paging', ['allocated', 'attached', 'attached, dirty tracking', 'allocated, dirty tracking'], [
    ['(none)', 'allocated', 'IOMMU_HWPT_ALLOC / auto domain'],
    ['allocated', 'attached', 'device attach'],
    ['attached', 'allocated', 'device detach'],
    ['attached', 'attached, dirty tracking', 'IOMMU_HWPT_SET_DIRTY_TRACKING'],
    ['attached, dirty tracking', 'attached', 'IOMMU_HWPT_SET_DIRTY_TRACKING(0)'],
    ['allocated', 'destroyed', 'IOMMU_DESTROY / last detach'],
  ]),
  hwpt_nested: M('hwpt_nested', ['allocated', 'attached'], [
    ['(none)', 'allocated', 'IOMMU_HWPT_ALLOC (nested)'],
    ['allocated', 'attached', 'device attach'],
    ['attached', 'allocated', 'device detach'],
    ['allocated', 'destroyed', 'IOMMU_DESTROY'],
  ]),
  device: M('device', ['bound', 'attached'], [
    ['(none)', 'bound', 'bind (MOCK_DOMAIN / VFIO bind)'],
    ['bound', 'attached', 'attach'],
    ['attached', 'attached', 'replace'],
    ['attached', 'bound', 'detach'],
    ['attached', 'destroyed', 'unbind'],
    ['bound', 'destroyed', 'unbind'],
  ]),
  access: M('access', ['created', 'pinning'], [
    ['(none)', 'created', 'IOMMU_TEST_OP_CREATE_ACCESS'],
    ['created', 'pinning', 'ACCESS_PAGES'],
    ['pinning', 'created', 'DESTROY_ACCESS_PAGES / unmap'],
    ['created', 'destroyed', 'close access fd'],
  ]),
  fault: M('fault', ['idle', 'faults pending', 'awaiting response', 'fd closed'], [
    ['(none)', 'idle', 'IOMMU_FAULT_QUEUE_ALLOC'],
    ['idle', 'faults pending', 'device page fault (TRIGGER_IOPF)'],
    ['faults pending', 'awaiting response', 'read(fault fd)'],
    ['awaiting response', 'idle', 'write(fault fd) response'],
    ['idle', 'fd closed', 'close(fault fd)'],
    ['fd closed', 'destroyed', 'IOMMU_DESTROY'],
  ]),
  viommu: M('viommu', ['allocated', 'with vdevices'], [
    ['(none)', 'allocated', 'IOMMU_VIOMMU_ALLOC'],
    ['allocated', 'with vdevices', 'IOMMU_VDEVICE_ALLOC'],
    ['with vdevices', 'allocated', 'vDEVICE destroyed'],
    ['allocated', 'destroyed', 'IOMMU_DESTROY'],
  ]),
  vdevice: M('vdevice', ['bound', 'device gone'], [
    ['(none)', 'bound', 'IOMMU_VDEVICE_ALLOC'],
    ['bound', 'device gone', 'device unbound'],
    ['bound', 'destroyed', 'IOMMU_DESTROY'],
  ]),
  selftest: M('selftest', ['owns device'], [
    ['(none)', 'owns device', 'IOMMU_TEST_OP_MOCK_DOMAIN'],
    ['owns device', 'destroyed', 'IOMMU_DESTROY'],
  ]),
};

/** The xstate HWPT machine as a description (states, and transitions from its derived table). */
function hwptDescription(type: 'hwpt_paging' | 'hwpt_nested'): MachineDescription {
  const transitions: [string, string, string][] = [];
  for (const [from, row] of Object.entries(HWPT_TABLE)) for (const [on, to] of Object.entries(row as Record<string, string>)) transitions.push([from, to, on]);
  return { type, states: [...HWPT_STATES], transitions, source: 'machines/hwpt.machine.ts (xstate)' };
}
MACHINES.hwpt_paging = hwptDescription('hwpt_paging');
MACHINES.hwpt_nested = hwptDescription('hwpt_nested');

/** The machine drawn for an object type. */
export function machineFor(type: ObjType): MachineDescription {
  return MACHINES[type];
}

/** Replace the derived description of a type (e.g. by an xstate machine's states). */
export function registerMachine(desc: MachineDescription): void {
  MACHINES[desc.type] = desc;
}

/** The lifecycle state an object is in. */
export function lifecycleState(o: Obj, ctx?: Ctx): string {
  if ((o.type === 'hwpt_paging' || o.type === 'hwpt_nested') && ctx && MACHINES[o.type].source.startsWith('machines/')) {
    const st = hwptLifecycleState(ctx.objs, o.id);
    if (st) return st + (o.type === 'hwpt_paging' && o.domain.dirtyEnabled ? ' (dirty tracking)' : '');
  }
  switch (o.type) {
    case 'ioas':
      if (o.iopt.areas.size === 0) return 'empty';
      return o.iopt.domains.length ? 'mapped, in domains' : 'mapped';
    case 'hwpt_paging':
      // without the context: the machine's names, attachment judged from the reference count
      return (o.auto ? 'auto.attached' : o.users > 1 ? 'manual.attached' : 'manual.detached') + (o.domain.dirtyEnabled ? ' (dirty tracking)' : '');
    case 'hwpt_nested':
      return o.users > 1 ? 'manual.attached' : 'manual.detached';
    case 'device':
      return o.hwpt ? 'attached' : 'bound';
    case 'access':
      return o.items.size ? 'pinning' : 'created';
    case 'fault':
      if (!o.fdOpen) return 'fd closed';
      if (o.awaiting.size) return 'awaiting response';
      return o.queue.length || o.partial.length ? 'faults pending' : 'idle';
    case 'viommu':
      return o.vdevs.size ? 'with vdevices' : 'allocated';
    case 'vdevice':
      return o.dev ? 'bound' : 'device gone';
    case 'selftest':
      return 'owns device';
  }
}

/** One-line description of an object for lists and graph nodes. */
export function objSummary(o: Obj): string {
  switch (o.type) {
    case 'ioas':
      return `${o.iopt.areas.size} areas, domains [${o.iopt.domains.join(', ')}], accesses [${o.iopt.accesses.join(', ')}]`;
    case 'hwpt_paging':
      return `on IOAS ${o.ioas}${o.auto ? ' (auto)' : ''}${o.nestParent ? ' nest parent' : ''}${o.fault ? `, fault ${o.fault}` : ''}, ${o.domain.dirty.size} dirty`;
    case 'hwpt_nested':
      return `parent ${o.parent}${o.viommu ? `, vIOMMU ${o.viommu}` : ''}, iotlb [${o.iotlb.join(', ')}]`;
    case 'device':
      return o.hwpt ? `attached to HWPT ${o.hwpt}` : 'detached';
    case 'access':
      return `on IOAS ${o.ioas}, ${o.items.size} pinned items`;
    case 'fault':
      return `${o.queue.length} queued, ${o.awaiting.size} awaiting, ${o.answered} answered`;
    case 'viommu':
      return `on HWPT ${o.hwpt}, ${o.vdevs.size} vdevices`;
    case 'vdevice':
      return `vIOMMU ${o.viommu}, device ${o.dev}, virt_id 0x${o.virtId.toString(16)}`;
    case 'selftest':
      return `mock device ${o.idev}`;
  }
}
