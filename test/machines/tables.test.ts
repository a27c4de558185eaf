/**
 * Each table equals its machine over every reachable (state, event) pair, as
 * xstate/graph enumerates them (aesthetics convention 11): the adjacency map
 * built by xstate itself, not by derive.ts, must list exactly the table's
 * transitions, and every pair the table refuses must be one the machine does
 * not take. And machines/tables.ts is exactly what derive.ts generates.
 */
import { describe, expect, it } from 'vitest';
import { getAdjacencyMap } from 'xstate/graph';
import type { AnyStateMachine } from 'xstate';
import { DEVICE_EVENTS, DEVICE_STATES, deviceMachine } from '../../machines/device.machine.js';
import { HWPT_EVENTS, HWPT_STATES, hwptMachine } from '../../machines/hwpt.machine.js';
import { DEVICE_INITIAL, DEVICE_TABLE, HWPT_INITIAL, HWPT_TABLE } from '../../machines/tables.js';
import { deriveTable, renderTables, stateKey } from '../../machines/derive.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function machineEdges(machine: AnyStateMachine, events: readonly string[]): Map<string, Map<string, string>> {
  const adj = getAdjacencyMap(machine, { events: events.map((type) => ({ type })) });
  const out = new Map<string, Map<string, string>>();
  for (const v of Object.values(adj)) {
    const from = stateKey(v.state.value);
    const row = out.get(from) ?? new Map<string, string>();
    for (const t of Object.values(v.transitions)) {
      // getAdjacencyMap records every event, taken or not; a refused event leaves the snapshot as it was.
      if (!v.state.can(t.event)) continue;
      row.set(t.event.type, stateKey(t.state.value));
    }
    out.set(from, row);
  }
  return out;
}

function compare(name: string, machine: AnyStateMachine, events: readonly string[], states: readonly string[], table: Record<string, Record<string, string | undefined>>, initial: string) {
  describe(`${name}: table == machine`, () => {
    const edges = machineEdges(machine, events);
    it('has the same reachable states, and the documented ones', () => {
      expect([...edges.keys()].sort()).toEqual(Object.keys(table).sort());
      expect(Object.keys(table).sort()).toEqual([...states].sort());
      expect(initial).toBe(stateKey(machine.getInitialSnapshot(null as never).value));
    });
    for (const s of states) {
      for (const e of events) {
        it(`${s} --${e}-->`, () => {
          expect(table[s]?.[e]).toBe(edges.get(s)?.get(e));
        });
      }
    }
  });
}

describe('machines/tables.ts', () => {
  it('is what derive.ts generates from the machines (regenerate after changing a machine)', () => {
    expect(readFileSync(join(import.meta.dirname, '../../machines/tables.ts'), 'utf8')).toBe(renderTables());
    expect(deriveTable(deviceMachine, DEVICE_EVENTS).table).toEqual(DEVICE_TABLE);
    expect(deriveTable(hwptMachine, HWPT_EVENTS).table).toEqual(HWPT_TABLE);
  });
});

compare('device', deviceMachine, DEVICE_EVENTS, DEVICE_STATES, DEVICE_TABLE as never, DEVICE_INITIAL);
compare('hwpt', hwptMachine, HWPT_EVENTS, HWPT_STATES, HWPT_TABLE as never, HWPT_INITIAL);

describe('lifecycle facts the model relies on', () => {
  it('only a bound file can attach or detach', () => {
    expect(DEVICE_TABLE.appeared.VFIO_DEVICE_ATTACH_IOMMUFD_PT).toBeUndefined();
    expect(DEVICE_TABLE.closed.VFIO_DEVICE_DETACH_IOMMUFD_PT).toBeUndefined();
  });
  it('a device cannot be bound twice or removed while bound', () => {
    for (const s of ['bound', 'attached', 'detached'] as const) {
      expect(DEVICE_TABLE[s].VFIO_DEVICE_BIND_IOMMUFD).toBeUndefined();
      expect(DEVICE_TABLE[s].device_remove).toBeUndefined();
    }
  });
  it('an attached HWPT cannot be destroyed; an auto HWPT dies with its last device', () => {
    expect(HWPT_TABLE['manual.attached'].IOMMU_DESTROY).toBeUndefined();
    expect(HWPT_TABLE['auto.attached'].IOMMU_DESTROY).toBeUndefined();
    expect(HWPT_TABLE['auto.attached'].detach_last).toBe('destroyed');
  });
});
