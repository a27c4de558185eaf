/**
 * Page-fault properties (kernel-semantics §9.3, §9.4) over random command
 * sequences (test/properties/fault_harness.ts), both kernels, fixed seed:
 * every group raised is answered exactly once — by the user's response or
 * automatically (detach, replace, fault object destroyed) — once everything
 * is torn down; every response the kernel accepted answered exactly one
 * delivered group; a cookie names at most one awaiting group.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exitAll, faultCmd, faultFixture, groupStates, runFaultCmd } from './fault_harness.js';

const SEED = 0x1f4a;

describe('every fault delivered is answered exactly once', () => {
  for (const kernel of ['6.12', '6.14'] as const) {
    it(`by the user or automatically (${kernel})`, () => {
      fc.assert(
        fc.property(fc.array(faultCmd, { minLength: 1, maxLength: 50 }), (cmds) => {
          const fx = faultFixture(kernel);
          let accepted = 0;
          const answeredOnce = new Map<number, string>();
          for (const c of cmds) {
            accepted += runFaultCmd(fx, c).accepted;
            // An ended group never changes again; a group ends once.
            fx.w.journal.groupsEnded.each((gid, e) => {
              const prev = answeredOnce.get(gid);
              if (prev === undefined) answeredOnce.set(gid, `${e.state}@${e.seq}`);
              else expect(`${e.state}@${e.seq}`, `group ${gid} answered again`).toBe(prev);
              return true;
            });
            fx.w.ctxs.each((_c, ctx) => {
              ctx.objs.each((_id, o) => {
                if (o.type !== 'fault') return true;
                // A live group belongs to a current attachment: leaving the HWPT answered it (§9.4).
                const live = (g: { gid: number; dev: number; hwpt: number }) => {
                  const d = ctx.objs.get(g.dev);
                  expect(d?.type === 'device' && d.hwpt === g.hwpt, `${c.k}: group ${g.gid} outlived device ${g.dev}'s attachment to ${g.hwpt}`).toBe(true);
                };
                o.queue.forEach(live);
                // Each awaiting group sits under one cookie.
                const gids = new Set<number>();
                o.awaiting.each((_k, g) => {
                  live(g);
                  expect(gids.has(g.gid), `group ${g.gid} under two cookies`).toBe(false);
                  gids.add(g.gid);
                  return true;
                });
                // Parked partial requests belong to a device attached to a HWPT of this fault object.
                for (const p of o.partial) {
                  const d = ctx.objs.get(p.dev_id);
                  const h = d?.type === 'device' && d.hwpt ? ctx.objs.get(d.hwpt) : undefined;
                  expect(h && (h.type === 'hwpt_nested' || h.type === 'hwpt_paging') && h.fault === o.id, `${c.k}: partial request of device ${p.dev_id} parked on fault ${o.id}`).toBe(true);
                }
                return true;
              });
              return true;
            });
          }
          exitAll(fx);
          const states = groupStates(fx.w);
          const j = fx.w.journal;
          expect(j.groupsAnswered, 'answered == raised').toBe(j.groupsRaised);
          expect(states.size).toBe(j.groupsRaised);
          let responded = 0;
          for (const [gid, s] of states) {
            expect(['responded', 'auto_responded'], `group ${gid} left ${s}`).toContain(s);
            if (s === 'responded') responded++;
          }
          expect(responded, 'groups responded == responses accepted').toBe(accepted);
          // A responded group was delivered (it has a cookie); an auto-answered one got INVALID.
          j.groupsEnded.each((_gid, e) => {
            if (e.state === 'responded') expect(e.cookie).toBeGreaterThan(0);
            else expect(e.code).toBe(1);
            return true;
          });
        }),
        { seed: SEED, numRuns: 150 },
      );
    });
  }
});
