/**
 * The page-fault group lifecycle (machines/fault_group.machine.ts): the plain
 * table the reducers use is the xstate machine, over every (state, event)
 * pair and over the machine's reachable graph (xstate/graph); and the
 * reducers (src/model/fault.ts) move groups only along the machine's
 * transitions, on fast-check-generated command sequences under both kernels.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { transition } from 'xstate';
import { getAdjacencyMap } from 'xstate/graph';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAULT_GROUP_EVENTS, FAULT_GROUP_STATES, faultGroupMachine, renderFaultGroupTable, type FaultGroupEventType } from '../../machines/fault_group.machine.js';
import { FAULT_GROUP_INITIAL, FAULT_GROUP_TABLE, faultGroupNext } from '../../machines/fault_group.table.js';
import { deriveTable } from '../../machines/derive.js';
import type { FaultGroupState } from '../../src/model/state.js';
import { exitAll, faultCmd, faultFixture, groupEventOf, groupStates, runFaultCmd } from '../properties/fault_harness.js';

const SEED = 0xfa017;

function machineNext(s: FaultGroupState, e: FaultGroupEventType): { value: string; done: boolean } {
  const snap = faultGroupMachine.resolveState({ value: s });
  const [next] = transition(faultGroupMachine, snap, { type: e });
  return { value: String(next.value), done: next.status === 'done' };
}

describe('fault group lifecycle: table == machine', () => {
  it('machines/fault_group.table.ts is what the machine generates (regenerate after changing it)', () => {
    expect(readFileSync(join(import.meta.dirname, '../../machines/fault_group.table.ts'), 'utf8')).toBe(renderFaultGroupTable());
    const d = deriveTable(faultGroupMachine, FAULT_GROUP_EVENTS);
    expect(d.table).toEqual(FAULT_GROUP_TABLE);
    expect(d.initial).toBe(FAULT_GROUP_INITIAL);
  });

  it('every (state, event) pair', () => {
    for (const s of FAULT_GROUP_STATES) {
      for (const e of FAULT_GROUP_EVENTS) {
        const m = machineNext(s, e);
        const t = FAULT_GROUP_TABLE[s][e];
        // Not in the table: the machine ignores the event (stays put).
        expect(m.value, `${s} --${e}-->`).toBe(t ?? s);
        expect(faultGroupNext(s, e)).toBe(t);
      }
    }
  });

  it('the final states take nothing and are done', () => {
    for (const s of ['responded', 'auto_responded'] as const) {
      expect(Object.keys(FAULT_GROUP_TABLE[s])).toEqual([]);
      expect(faultGroupMachine.resolveState({ value: s }).status).toBe('done');
    }
  });

  it('the reachable graph (xstate/graph) is the table', () => {
    const adj = getAdjacencyMap(faultGroupMachine, { events: FAULT_GROUP_EVENTS.map((type) => ({ type })) });
    const reached = new Set<string>();
    for (const v of Object.values(adj)) {
      const s = String(v.state.value) as FaultGroupState;
      reached.add(s);
      for (const e of FAULT_GROUP_EVENTS) {
        const edge = v.transitions[JSON.stringify({ type: e })];
        const to = edge ? String(edge.state.value) : undefined;
        expect(to ?? s, `${s} --${e}-->`).toBe(FAULT_GROUP_TABLE[s][e] ?? s);
      }
    }
    expect([...reached].sort()).toEqual([...FAULT_GROUP_STATES].sort());
  });
});

describe('fault group lifecycle: the reducers follow the machine', () => {
  for (const kernel of ['6.12', '6.14'] as const) {
    it(`random page-request / read / respond / replace sequences (${kernel})`, () => {
      fc.assert(
        fc.property(fc.array(faultCmd, { minLength: 1, maxLength: 40 }), (cmds) => {
          const fx = faultFixture(kernel);
          let before = groupStates(fx.w);
          // 'SERVE' reads then responds: a group may take READ then RESPOND within one command.
          const check = (ev: FaultGroupEventType | 'SERVE' | undefined, what: string) => {
            const after = groupStates(fx.w);
            for (const [gid, s] of before) {
              const now = after.get(gid);
              expect(now, `${what}: group ${gid} vanished`).toBeDefined();
              if (now === s) continue;
              expect(ev, `${what}: group ${gid} moved ${s} -> ${now}`).toBeDefined();
              const path: FaultGroupEventType[] = ev === 'SERVE' ? (s === 'raised' ? ['READ', 'RESPOND'] : ['RESPOND']) : [ev!];
              let m: string = s;
              for (const e of path) m = machineNext(m as FaultGroupState, e).value;
              expect(m, `${what}: group ${gid} ${s} --${path.join(',')}-->`).toBe(now);
            }
            for (const [gid, s] of after) if (!before.has(gid)) expect(s, `${what}: new group ${gid}`).toBe(FAULT_GROUP_INITIAL);
            before = after;
          };
          for (const c of cmds) {
            runFaultCmd(fx, c);
            check(groupEventOf(c), c.k);
          }
          exitAll(fx);
          check('AUTO_RESPOND', 'exit');
        }),
        { seed: SEED, numRuns: 120 },
      );
    });
  }
});
