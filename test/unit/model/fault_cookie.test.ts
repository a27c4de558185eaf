/**
 * Which cookie a page request is read with. The kernel keeps the groups read
 * and not yet answered in an ALLOC1 xarray (cookies from 1), but an answer
 * naming cookie 0 while other cookies are out erases the XA_ZERO_ENTRY that
 * reserves index 0: the answer fails (EINVAL), and from then on 0 is handed
 * out like any free index, also after the xarray empties. With no cookie out
 * there is nothing at index 0 to erase. Oracle fuzz seed 44 found it (the
 * model read the next group with cookie 1, the kernel with 0). Every answer
 * below is what Linux 6.12.117 gave to the same calls (99 answers over the
 * six sequences, all the model's too).
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields } from '../../../src/events/event.js';
import { runChecked } from './checked_run.js';

const fd0 = (op: string, args: Fields, bufs?: Event['bufs']): Event => ({ op, pid: 1, fd: 0, args, ...(bufs ? { bufs } : {}) });

/** A fault queue (fault fd 1) and mock device 4 attached to a nested HWPT that delivers to it (6.12 takes FAULT_ID_VALID only there). */
const SETUP: Event[] = [
  { op: 'open', pid: 1, args: { path: '/dev/iommu' } },
  fd0('IOMMU_IOAS_ALLOC', { flags: 0 }), // 1
  fd0('IOMMU_FAULT_QUEUE_ALLOC', { flags: 0 }), // fault 2, fd 1
  fd0('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} }), // stdev 3, idev 4, hwpt 5
  fd0('IOMMU_HWPT_ALLOC', { flags: 1, dev_id: 4, pt_id: 1, __reserved: 0, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }), // nesting parent 6
  fd0('IOMMU_HWPT_ALLOC', { flags: 4, dev_id: 4, pt_id: 6, __reserved: 0, data_type: 0xdead, data_len: 4, data_uptr: 0x10000n, fault_id: 2 }, { data_uptr: new Uint8Array([0xef, 0xbe, 0xad, 0x0b]) }), // 7
  fd0('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: 3, mock_domain_replace: { pt_id: 7 } }),
];
const trig = (grpid = 0) => fd0('IOMMU_TEST_OP_TRIGGER_IOPF', { id: 0, trigger_iopf: { dev_id: 4, pasid: 0, grpid, perm: 3, addr: 0x1000000n } });
const rd = (groups = 1): Event => ({ op: 'read_fault_fd', pid: 1, args: { fd: 1, count: 40 * groups, pos: 0 } });
/** Answers [cookie, code] (code 1: INVALID). */
function wr(...answers: [number, number][]): Event {
  const b = new Uint8Array(8 * answers.length);
  const v = new DataView(b.buffer);
  answers.forEach(([cookie, code], i) => {
    v.setUint32(8 * i, cookie, true);
    v.setUint32(8 * i + 4, code, true);
  });
  return { op: 'write_fault_fd', pid: 1, args: { fd: 1, pos: 0 }, bufs: { data: b } };
}

/** The reads' cookies and the writes' answers, in order. */
function answers(events: Event[]): string[] {
  const { results } = runChecked([...SETUP, ...events]);
  return events.map((ev, i) => {
    const r = results[SETUP.length + i]!;
    expect(r.errno === 0 || ev.op === 'write_fault_fd', `${ev.op} #${i}: ${r.errno}`).toBe(true);
    if (ev.op === 'read_fault_fd') {
      const d = r.bufs!['data']!;
      const cookies: number[] = [];
      for (let o = 36; o < d.length; o += 40) cookies.push(new DataView(d.buffer, d.byteOffset).getUint32(o, true));
      return `read ${cookies.join('+')}`;
    }
    if (ev.op === 'write_fault_fd') return `write ${r.errno || r.ret}`;
    return ev.op === 'IOMMU_TEST_OP_TRIGGER_IOPF' ? 'trigger' : ev.op;
  }).filter((s) => s !== 'trigger');
}

describe('fault cookies (the response xarray, Linux 6.12.117 answers)', () => {
  it('cookie 0 answered with nothing out changes nothing: cookies start at 1', () => {
    expect(answers([wr([0, 1]), trig(), rd(), wr([1, 1]), trig(), rd(), wr([1, 1])])).toEqual(['write EINVAL', 'read 1', 'write 8', 'read 1', 'write 8']);
  });

  it('cookie 0 answered while cookie 1 is out: EINVAL, and 0 is handed out from then on, also once all are answered', () => {
    expect(answers([trig(), rd(), wr([0, 1]), trig(), rd(), wr([0, 0]), wr([1, 1]), trig(), rd(), trig(), rd(), wr([0, 1]), wr([1, 1]), trig(), rd(), wr([0, 1])])).toEqual([
      'read 1',
      'write EINVAL',
      'read 0',
      'write 8',
      'write 8',
      'read 0',
      'read 1',
      'write 8',
      'write 8',
      'read 0',
      'write 8',
    ]);
  });

  it('in one write the order counts: 1 answered first empties the xarray, so the 0 after it frees nothing', () => {
    expect(answers([trig(), rd(), wr([1, 1], [0, 1]), trig(), rd(), wr([1, 1])])).toEqual(['read 1', 'write 8', 'read 1', 'write 8']);
    expect(answers([trig(), rd(), wr([0, 1], [1, 1]), trig(), rd(), wr([0, 1], [1, 1]), trig(), rd()])).toEqual(['read 1', 'write EINVAL', 'read 0', 'write 16', 'read 0']);
  });

  it('two groups at once, and an answer with a bad code erases nothing', () => {
    expect(answers([trig(0), trig(1), rd(2), wr([0, 1]), wr([2, 1]), trig(2), trig(3), rd(2), wr([0, 1], [1, 1], [3, 1]), trig(), rd()])).toEqual([
      'read 1+2',
      'write EINVAL',
      'write 8',
      'read 0+2',
      'write 16',
      'read 0',
    ]);
    expect(answers([trig(), rd(), wr([0, 2]), wr([1, 1]), trig(), rd(), trig(), rd(), wr([1, 1], [2, 1])])).toEqual(['read 1', 'write EINVAL', 'write 8', 'read 1', 'read 2', 'write 16']);
  });
});

describe("read(2) and write(2)'s count on a fault fd (vfs_read / vfs_write)", () => {
  // rw_verify_area refuses a count negative as an ssize_t (EINVAL), then the count is cut to
  // MAX_RW_COUNT (0x7ffff000) before the fault fd's own methods see it: 0x7ffff000 is no whole number
  // of 40-byte records (ESPIPE for any longer read), but a whole number of 8-byte responses
  const last = (events: Event[]) => runChecked([...SETUP, ...events]).results.at(-1)!;
  it('a read longer than MAX_RW_COUNT is ESPIPE; one of 2^63 bytes or more is EINVAL', () => {
    expect(last([trig(), { op: 'read_fault_fd', pid: 1, args: { fd: 1, count: 0x7ffff008, pos: 0 } }]).errno).toBe('ESPIPE');
    expect(last([trig(), { op: 'read_fault_fd', pid: 1, args: { fd: 1, count: 0x100000028n, pos: 0 } }]).errno).toBe('ESPIPE');
    expect(last([trig(), { op: 'read_fault_fd', pid: 1, args: { fd: 1, count: 1n << 63n, pos: 0 } }]).errno).toBe('EINVAL');
  });
  it('a write longer than MAX_RW_COUNT goes through the responses given (then fails its copy of the next)', () => {
    const w = wr([1, 1]);
    const long = { ...w, args: { ...w.args, count: 0x80000004 } };
    // 6.12: the copy of the second response faults (EFAULT) after the first was taken: 8
    expect(last([trig(), rd(), long])).toMatchObject({ errno: 0, ret: 8 });
  });
  it('a write that runs into unreadable memory: the responses before it count, EFAULT when there are none (Linux 6.12.117 answers)', () => {
    // (the oracle's executor puts the bytes given right before a guard page, and a null buffer is a
    // pointer to nothing; the fuzzer draws both since session 22, for fault fds)
    const wc = (count: number, ...answers: [number, number][]): Event => {
      const w = wr(...answers);
      return { ...w, args: { ...w.args, count }, bufs: { data: answers.length ? w.bufs!['data']! : null } };
    };
    const at = (ev: Event, pos: number): Event => ({ ...ev, args: { ...ev.args, pos } });
    expect(answers([trig(), rd(), wc(16, [1, 0]), trig(), rd(), wc(8), wc(16, [77, 0]), at(wc(8), 8), wc(12), wc(8, [1, 1]), trig(1), trig(2), rd(2), wc(24, [1, 0], [2, 0]), wc(8, [1, 0])])).toEqual([
      'read 1',
      'write 8',
      'read 1',
      'write EFAULT',
      'write EINVAL',
      'write ESPIPE',
      'write ESPIPE',
      'write 8',
      'read 1+2',
      'write 16',
      'write EINVAL',
    ]);
  });
});

