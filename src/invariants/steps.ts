/**
 * Properties of single steps: failure changes nothing (except the kernel's
 * documented partial effects), queries change nothing, and IOAS_UNMAP
 * removes exactly what it says.
 */
import type { Event } from '../events/event.js';
import { diffMap, type StepDelta } from './delta.js';
import type { Obj } from '../model/state.js';
import type { Mm, Mobj } from '../model/mm.js';
import { PMap } from '../ds/pmap.js';
import type { Invariant, Violation } from './types.js';
import { diffIntervals } from '../ds/diff.js';
import { ctxOfEvent, fieldU32, fieldU64, hex, member, opOf, U64_MAX, type AreaEntry } from './util.js';

export const FAILED_IOCTL_UNCHANGED = 'failed-ioctl-unchanged';
export const UNMAP_POSTCONDITION = 'unmap-postcondition';

/** Ops that never change anything, whatever they answer. */
function isQuery(ev: Event): boolean {
  switch (ev.op) {
    case 'IOMMU_TEST_OP_MD_CHECK_MAP':
    case 'IOMMU_TEST_OP_MD_CHECK_REFS':
    case 'IOMMU_TEST_OP_MD_CHECK_IOTLB':
    case 'IOMMU_TEST_OP_DEV_CHECK_CACHE':
    case 'IOMMU_IOAS_IOVA_RANGES':
    case 'IOMMU_GET_HW_INFO':
    case 'VFIO_GET_API_VERSION':
    case 'VFIO_CHECK_EXTENSION':
    case 'VFIO_IOMMU_GET_INFO':
    case 'read_memory':
    case 'note':
    case 'noop':
      return true;
    case 'IOMMU_OPTION':
      return ev.size === undefined && fieldU32(ev.args, 'op') === 1;
    case 'IOMMU_VFIO_IOAS':
      return ev.size === undefined && fieldU32(ev.args, 'op') === 0;
    default:
      return false;
  }
}

/**
 * A read fault maps the huge zero page (huge_memory.ts): the queries that
 * read user memory (read_memory; the check ops' page lookups, whatever they
 * answer) may fill the reader's page-table entries, and change nothing else.
 * read_memory reads as process_vm_readv does (GUP with FOLL_PIN), which also
 * unshares the copy-on-write pages fork left: the reader's copies of them.
 */
const READS_USER = new Set(['read_memory', 'IOMMU_TEST_OP_MD_CHECK_MAP', 'IOMMU_TEST_OP_MD_CHECK_REFS']);
function onlyPageTables(d: StepDelta): boolean {
  if (d.prev.mem !== d.next.mem && opOf(d.event) !== 'read_memory' && !onlyHugetlbfsFaults(d) && !onlyTagTaken(d)) return false;
  const changed = diffMap(d.prev.procs, d.next.procs);
  return changed.size === 1 && changed.has(d.event.pid ?? 1) && onlyFaults(d);
}

/**
 * Whether a step changed only what faults change: processes' page-table
 * entries (their VMAs the same) and private anonymous memory's huge pages
 * and private copies (Mobj.thp, thpCopied, thpShared, data of a private file mapping's
 * copy object, a hugetlbfs file's too), the allocator of physical pages and the folios fork shared,
 * and a hugetlbfs file's page cache that a fault or a file pin filled (Mobj.hugeCached, mayCache).
 * An ioctl whose pins (or copies) faulted user memory in and that then
 * failed keeps exactly that (Tx.failed).
 */
function onlyFaults(d: StepDelta): boolean {
  const a = d.prev;
  const b = d.next;
  if (a.ctxs !== b.ctxs || a.files !== b.files || a.hw !== b.hw || a.journal !== b.journal || a.userLockedVm !== b.userLockedVm) return false;
  let given = false;
  for (const [, [p, q]] of diffMap(a.procs, b.procs)) {
    const anon = p && q ? onlyAnonVmas(p.mm.vmas, q.mm.vmas, a.mem.nextMobj) : false;
    if (!anon || !sameExcept(p!, q!, ['mm'])) return false;
    given ||= anon === 'new';
  }
  // (a neighbour's anon_vma reused takes nothing from the object ids: fuzz seed 3201)
  if (a.mem === b.mem) return !given;
  // (a new anon_vma's identity, and a new tag, are taken from the object ids: vma_merge.ts newTag)
  if ((given ? b.mem.nextMobj < a.mem.nextMobj : a.mem.nextMobj !== b.mem.nextMobj) || a.mem.paths !== b.mem.paths) return false;
  for (const [, [m, n]] of diffMap(a.mem.mobjs, b.mem.mobjs)) {
    // (a fault, or a file pin, puts a hugetlbfs file's pages in its cache, and they stay: Mobj.hugeCached;
    // of a file whose cache the model does not follow, the cache may hold pages from then on: Mobj.mayCache)
    if (m?.kind === 'hugetlb' && !m.mayCache && n?.mayCache && sameExcept(m, n, ['mayCache'])) continue;
    if (m && n && cacheGrew(m, n)) continue;
    // (a private mapping of a hugetlbfs file copies into an object of hugetlb pages: hugetlb_wp)
    const copies = m?.kind === 'anon' || (m?.kind === 'hugetlb' && isCopyObject(b, m.id));
    if (!m || !n || !copies || !sameExcept(m, n, ['thp', 'thpCopied', 'thpShared', 'data', 'hugeCopied'])) return false;
    // (a copy object's pages are only ever added by a fault: a copy of the file's page; of 1 GiB
    // pages, a whole one marked copied, Mobj.hugeCopied)
    if (m.data !== n.data) for (const [, [x]] of diffMap(m.data, n.data)) if (x !== undefined) return false;
    if (!onlyAdded(m.hugeCopied, n.hugeCopied)) return false;
  }
  return true;
}

/**
 * Whether memory changed only as a read fault in a mapping of a hugetlbfs file
 * changes it (mm.ts hugetlbfsFault): the file's page cache gained huge pages,
 * or a private mapping's copy object took huge pages of its own.
 */
function onlyHugetlbfsFaults(d: StepDelta): boolean {
  const a = d.prev.mem;
  const b = d.next.mem;
  if (!sameExcept(a, b, ['mobjs'])) return false;
  for (const [, [m, n]] of diffMap(a.mobjs, b.mobjs)) {
    if (!m || !n) return false;
    if (cacheGrew(m, n)) continue;
    if (m.kind === 'hugetlb' && isCopyObject(d.next, m.id) && sameExcept(m, n, ['hugeCopied']) && onlyAdded(m.hugeCopied, n.hugeCopied)) continue;
    return false;
  }
  return true;
}

/** Whether memory changed only as a tag's allocation does (a check op's read fault may give a VMA an anon_vma and a tag: vma_merge.ts withAnonVma). */
function onlyTagTaken(d: StepDelta): boolean {
  return sameExcept(d.prev.mem, d.next.mem, ['nextMobj']) && d.next.mem.nextMobj > d.prev.mem.nextMobj;
}

/** Whether `n` is hugetlbfs file `m` with only huge pages added to its cache (Mobj.hugeCached). */
function cacheGrew(m: Mobj, n: Mobj): boolean {
  return m.hugetlbfs === true && n.hugetlbfs === true && sameExcept(m, n, ['hugeCached']) && onlyAdded(m.hugeCached, n.hugeCached);
}

/** Whether set `b` is set `a` with keys added, none taken out (an absent set is empty). */
function onlyAdded(a: PMap<number, true> | undefined, b: PMap<number, true> | undefined): boolean {
  if (a === b) return true;
  for (const [, [x]] of diffMap(a ?? PMap.emptyNumber<true>(), b ?? PMap.emptyNumber<true>())) if (x !== undefined) return false;
  return true;
}

/** Whether object `id` is some process's private copies of a file it maps (a VMA's `cow`). */
function isCopyObject(w: StepDelta['next'], id: number): boolean {
  let hit = false;
  w.procs.each((_pid, p) => {
    p.mm.vmas.each((_s, v) => !(hit = v.cow === id));
    return !hit;
  });
  return hit;
}

/** Whether two records hold the same values (by identity) in every field but `except`. */
function sameExcept<T extends object>(a: T, b: T, except: readonly (keyof T)[]): boolean {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof T>) if (!except.includes(k) && a[k] !== b[k]) return false;
  return true;
}

/**
 * The same VMAs ('same'), or the same but for anon_vmas a fault gave them
 * (model/vma_merge.ts withAnonVma): each a neighbour's, reused ('reused'), or
 * a new one, whose identity is taken from the object ids ('new'), as is the
 * new tag one took where its neighbour's made it look one VMA with it (a tag
 * at or past `nextMobj`, the allocator's mark before the step). False where
 * anything else changed.
 */
function onlyAnonVmas(a: Mm['vmas'], b: Mm['vmas'], nextMobj: number): false | 'same' | 'reused' | 'new' {
  if (a === b) return 'same';
  let had: Set<string> | undefined;
  let fresh = false;
  for (const [, [v, u]] of diffMap(a, b)) {
    if (!v || !u || v.anon !== undefined || u.anon === undefined || !sameExcept(v, u, ['anon', 'link'])) return false;
    if (v.link !== u.link) {
      if (u.link === undefined || u.link < nextMobj) return false;
      fresh = true;
    }
    if (!had) {
      had = new Set();
      a.each((_s, x) => (x.anon !== undefined && had!.add(x.anon), true));
    }
    if (!had.has(u.anon)) fresh = true;
  }
  return fresh ? 'new' : 'reused';
}

/** Whether a pages object of the context the event went to had last_npinned off npinned before it. */
function lastNpinnedOff(d: StepDelta): boolean {
  const ctxId = ctxOfEvent(d.prev, d.event);
  let off = false;
  if (ctxId !== undefined)
    d.prev.ctxs.get(ctxId)?.pages.each((_id, p) => {
      off = p.lastNpinned !== undefined;
      return !off;
    });
  return off;
}

/** Why a failed op may have changed the state (a kernel partial effect), or undefined. */
function partialEffect(d: StepDelta): string | undefined {
  const ev = d.event;
  const op = opOf(ev);
  switch (op) {
    case 'IOMMU_IOAS_UNMAP':
      return 'areas removed before the failing one stay removed (§3.7)';
    case 'IOMMU_HWPT_INVALIDATE':
      return 'entries processed before the failing one keep their effect (§8)';
    case 'VFIO_IOMMU_UNMAP_DMA':
      return 'cuts and unmaps before the error stay (§11.4)';
    case 'IOMMU_TEST_OP_ACCESS_RW':
      if (fieldU32(member(ev.args, 'access_rw'), 'flags') & 1) return 'pieces written before the failure stay written (§4.3)';
      // a read copies out to the caller's memory with copy_to_user, which keeps what it wrote before a fault
      // (the faults of the recorder's read of the buffer before the call stay, as any failed ioctl's: onlyFaults)
      return d.result.errno === 'EFAULT' ? 'bytes copied out to the caller before the fault stay written' : undefined;
    case 'IOMMU_IOAS_MAP_FILE':
      return d.kernel === '6.14' && d.result.errno === 'EBADF' ? 'leak' : undefined;
    case 'IOMMU_IOAS_CHANGE_PROCESS':
      // an MM-mode object of an exited owner fails its uncharge after the caller was charged: the
      // kernel WARNs (the taint), moves every object anyway and returns EINVAL; a failed charge
      // (ENOMEM) resets every object's last_npinned, which an exited owner's unpins or an earlier
      // CHANGE_PROCESS may have left off npinned (model/ioas.ts)
      if (d.result.errno === 'EINVAL' && d.next.taint !== undefined) return 'the objects move to the caller though an exited owner could not be uncharged (a kernel WARN)';
      return d.result.errno === 'ENOMEM' && lastNpinnedOff(d) ? 'a failed charge resets last_npinned' : undefined;
    case 'madvise':
      // madvise_walk_vmas advises VMA by VMA: a hole (ENOMEM, at the end) or a VMA that refuses the advice
      // (EINVAL, EACCES) leaves the VMAs before it advised; MADV_POPULATE_* stopped by a hole, a VMA that
      // refuses the access or a page past the end of a file (EFAULT) keeps the pages it faulted in before.
      return d.result.errno === 'ENOMEM' || d.result.errno === 'EINVAL' || d.result.errno === 'EACCES' || d.result.errno === 'EFAULT' ? 'the VMAs before a hole or a refusing VMA keep the advice, and the pages faulted in before it stay (madvise(2))' : undefined;
    case 'mremap':
      // mremap_to unmaps a FIXED target, and the tail of a shrinking move, before it checks the old range;
      // an unmapping refused at a hugetlb VMA's cut keeps the split it made first (model/huge_memory.ts refusedCut)
      return (d.result.errno && fieldU32(ev.args, 'flags') & (2 | 4)) || d.result.errno === 'EINVAL' ? 'a FIXED target and a shrinking tail stay unmapped, a refused unmapping keeps its first split (mremap(2))' : undefined;
    case 'munmap':
    case 'mmap':
      // vms_gather_munmap_vmas splits the VMA at the start before a hugetlb VMA refuses its cut at the end
      return d.result.errno === 'EINVAL' ? 'the VMA at the start of a refused unmapping stays split there (model/huge_memory.ts refusedCut)' : undefined;
    case 'write_fault_fd':
      // an answer naming cookie 0 while other cookies are out frees index 0 of the cookie xarray (fault.ts)
      return d.result.errno === 'EINVAL' ? 'cookie0' : undefined;
    case 'write_memory':
    case 'memset':
    case 'fill_memory':
      // the stores go in address order: a page they cannot write stops them, after the bytes before
      return d.result.errno === 'EFAULT' ? 'bytes stored before the unwritable page stay (and their pages faulted in)' : undefined;
    case 'VFIO_DEVICE_ATTACH_IOMMUFD_PT':
    case 'IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE':
      // iommufd_device_do_replace's error path removes the group's reserved regions from the new HWPT's
      // IOAS, the very IOAS the group stays attached to when the replace was within one
      return 'unreserved';
    case 'mlock':
    case 'munlock':
      // apply_vma_lock_flags changes VMA by VMA: a hole or the range running past the last VMA (ENOMEM)
      // stops it after the VMAs before; mlock then faults the range in, and a PROT_NONE VMA or a page
      // past the end of a file (ENOMEM) stops that with the whole range locked and the pages before faulted in.
      return d.result.errno === 'ENOMEM' ? 'the VMAs before a hole keep their new lock flags, and a range locked whole keeps the pages faulted in before the failing one (mlock(2))' : undefined;
    case 'mprotect':
      // do_mprotect_pkey changes VMA by VMA: a hole (ENOMEM), a VMA that may not take the protection (EACCES: no
      // VM_MAYWRITE) or a hugetlb VMA split at the end off a huge page (EINVAL) stops it after the VMAs before.
      return d.result.errno === 'ENOMEM' || d.result.errno === 'EINVAL' || d.result.errno === 'EACCES' ? 'the VMAs before a hole, a VMA that may not take the protection or a refused hugetlb split keep their new protection (mprotect(2))' : undefined;
    default:
      return undefined;
  }
}

/** The one object a step changed, if it changed exactly one object of one context and nothing else. */
function soleObjectChange(d: StepDelta): [number, Obj | undefined, Obj | undefined] | undefined {
  if (d.prev.procs !== d.next.procs || d.prev.files !== d.next.files || d.prev.mem !== d.next.mem || d.ctxs.size !== 1) return undefined;
  const [ctxId] = d.ctxs.keys();
  const objs = d.objs(ctxId!);
  const [b, a] = d.ctxs.get(ctxId!)!;
  if (objs.size !== 1 || b?.pages !== a?.pages) return undefined;
  const [[id, [ob, oa]]] = [...objs];
  return [id, ob, oa];
}

/**
 * A failed op whose kernel partial effect is a change to one object: nothing
 * else may change, and that object only as `ok` allows (`expected` says how).
 */
function checkSoleChange(d: StepDelta, out: Violation[], what: string, ok: (before: Obj | undefined, after: Obj | undefined) => boolean, expected: string): void {
  if (d.unchanged) return;
  const c = soleObjectChange(d);
  const wrong = !c ? 'changed more than one object' : ok(c[1], c[2]) ? undefined : `object ${c[0]} changed otherwise than ${expected}`;
  if (wrong) out.push({ invariant: FAILED_IOCTL_UNCHANGED, message: `${what}: ${wrong}` });
}

/** The 6.14 MAP_FILE EBADF leak changes exactly one IOAS's users, by +1 (§2.3). Unchanged: the EBADF came from elsewhere (the ioctl's own fd, the IOAS lookup order). */
const checkLeak = (d: StepDelta, out: Violation[]): void =>
  checkSoleChange(d, out, 'IOMMU_IOAS_MAP_FILE failed EBADF', (ob, oa) => ob?.type === 'ioas' && oa?.type === 'ioas' && oa.users === ob.users + 1 && oa.iopt === ob.iopt && oa.hwpts === ob.hwpts, 'IOAS users + 1');

/** A refused replace within one IOAS may take reserved ranges out of that IOAS, and change nothing else (device.c err_unresv). */
const checkUnreserved = (d: StepDelta, out: Violation[]): void =>
  checkSoleChange(
    d,
    out,
    `${d.event.op} failed ${String(d.result.errno)}`,
    (ob, oa) => ob?.type === 'ioas' && oa?.type === 'ioas' && sameExcept(ob, oa, ['iopt']) && sameExcept(ob.iopt, oa.iopt, ['reserved']),
    "its IOAS's reserved ranges",
  );

/** A failed fault-fd write may make cookie 0 free in one fault object, and change nothing else. */
const checkCookieZero = (d: StepDelta, out: Violation[]): void =>
  checkSoleChange(
    d,
    out,
    'write_fault_fd failed EINVAL',
    (ob, oa) => ob?.type === 'fault' && oa?.type === 'fault' && !ob.zeroFree && oa.zeroFree === true && sameExcept(ob, oa, ['zeroFree']),
    'cookie 0 becoming free',
  );

export const failedIoctlUnchanged: Invariant = {
  name: FAILED_IOCTL_UNCHANGED,
  kind: 'step',
  summary: 'a failed call leaves the state unchanged (except the kernel partial effects); queries never change it',
  doc:
    'An ioctl or environment call that fails returns the very same state, as the kernel aborts every object it ' +
    'allocated and undoes every pin and charge (kernel-semantics §2.2, §4.2) — except where the kernel keeps partial ' +
    'effects: IOMMU_IOAS_UNMAP (§3.7), IOMMU_HWPT_INVALIDATE (§8), a failed write of IOMMU_TEST_OP_ACCESS_RW (§4.3) ' +
    'or a read of it whose copy out to the caller faulted (and any ACCESS_RW the caller\'s page-table entries, which the recorder\'s read of the buffer before the call fills), ' +
    'VFIO_IOMMU_UNMAP_DMA (§11.4), madvise over a range with holes (ENOMEM after advising the mapped parts) or stopped ' +
    'by a VMA that refuses the advice (EINVAL, EACCES) after the VMAs before (MADV_POPULATE_*: also a page past the end of a file, EFAULT, after faulting in the pages before), a failed FIXED or DONTUNMAP mremap ' +
    '(its target and a shrinking tail unmapped first), mprotect ' +
    'stopped by a hole (ENOMEM), a VMA that may not be made writable (EACCES) or a hugetlb split at its end (EINVAL) after changing the VMAs before, a device replace the ' +
    'driver refused within one IOAS (the group\'s reserved regions removed from it), an unmapping (munmap, ' +
    'mmap over old mappings, mremap) refused at a hugetlb VMA\'s cut at its end (EINVAL) after splitting the VMA at its start, mlock and munlock ' +
    'stopped by a hole (ENOMEM) after the VMAs before, or mlock failing to fault in a range it locked whole (ENOMEM), a fault-fd ' +
    'write answering cookie 0 while other cookies are out (EINVAL, and cookie 0 can be handed out from then on), and the ' +
    '6.14 IOMMU_IOAS_MAP_FILE EBADF reference leak (§2.3; then exactly one IOAS gains one user), 6.14 IOMMU_IOAS_CHANGE_PROCESS ' +
    'meeting an MM-mode pages object of an exited owner (EINVAL after moving every object, with a kernel WARN) and, where ' +
    'an object\'s last_npinned was off npinned, failing its charge (ENOMEM, resetting last_npinned), stores to user memory ' +
    '(write_memory, memset, fill_memory) stopped by a page they cannot write after the bytes before. Any failed ioctl keeps ' +
    'what the faults of its own accesses of user memory (its pins, its copies) filled in: page-table entries, huge pages, ' +
    'a private file mapping\'s unshared copies. Pure queries (MD_CHECK_*, DEV_CHECK_CACHE, IOVA_RANGES, GET_HW_INFO, OPTION get, ' +
    'VFIO_IOAS get, the VFIO info ioctls, read_memory) change nothing even when they succeed, but for a read fault ' +
    'mapping the huge zero page (the reader\'s page-table entries). Cost: one reference ' +
    'comparison per step.',
  checkState: () => [],
  checkStep(d: StepDelta) {
    const out: Violation[] = [];
    const ev = d.event;
    if (d.result.errno !== 0) {
      const why = partialEffect(d);
      if (why === 'leak') checkLeak(d, out);
      else if (why === 'cookie0') checkCookieZero(d, out);
      // (a replace that failed filling its new domain keeps what the pins' faults filled in instead)
      else if (why === 'unreserved') {
        if (!onlyFaults(d)) checkUnreserved(d, out);
      }
      else if (!why && !d.unchanged && !onlyFaults(d)) out.push({ invariant: FAILED_IOCTL_UNCHANGED, message: `${ev.op} failed with ${d.result.errno} but returned another state (a failure returns the very same state, but for what its faults of user memory filled in)` });
    } else if (isQuery(ev) && !d.unchanged && !(READS_USER.has(opOf(ev)) && onlyPageTables(d))) out.push({ invariant: FAILED_IOCTL_UNCHANGED, message: `${ev.op} is a query but changed the state` });
    return out;
  },
};

interface Span {
  start: bigint;
  last: bigint;
}

export const unmapPostcondition: Invariant = {
  name: UNMAP_POSTCONDITION,
  kind: 'step',
  summary: 'IOAS_UNMAP removes whole areas inside the range in ascending order and reports what it removed',
  doc:
    'After IOMMU_IOAS_UNMAP of [iova, iova + length - 1] (or the unmap-all form iova 0, length U64_MAX), kernel-semantics ' +
    '§3.7: no area is created or resized; every removed area lay wholly inside the range; on success no area ' +
    'overlaps the range any more and the written-back length is the total length removed; on ENOENT either ' +
    'nothing overlapped the range and nothing changed, or the first area still overlapping it sticks out of the ' +
    'range and only areas before it were removed; on EOVERFLOW or EINVAL nothing changed. Cost: the areas of the ' +
    'one IOAS named.',
  checkState: () => [],
  checkStep(d: StepDelta) {
    const out: Violation[] = [];
    const ev = d.event;
    if (ev.op !== 'IOMMU_IOAS_UNMAP' || ev.size !== undefined || !ev.args) return out;
    const ctxId = ctxOfEvent(d.prev, ev);
    if (ctxId === undefined) return out;
    const id = fieldU32(ev.args, 'ioas_id');
    const before = d.prev.ctxs.get(ctxId)?.objs.get(id);
    const after = d.next.ctxs.get(ctxId)?.objs.get(id);
    if (before?.type !== 'ioas') return out;
    const bad = (m: string): void => void out.push({ invariant: UNMAP_POSTCONDITION, ctx: ctxId, obj: id, message: `IOMMU_IOAS_UNMAP ${m}` });
    if (after?.type !== 'ioas') return bad(`destroyed IOAS ${id}`), out;
    if (before.iopt.areas === after.iopt.areas && d.result.errno !== 0 && d.result.errno !== 'ENOENT') return out;
    const iova = fieldU64(ev.args, 'iova');
    const length = fieldU64(ev.args, 'length');
    const all = iova === 0n && length === U64_MAX;
    if (!all && (length === 0n || iova + length - 1n > U64_MAX || iova === U64_MAX || length === U64_MAX)) {
      if (before.iopt.areas !== after.iopt.areas) bad(`of an invalid range [${hex(iova)}, +${hex(length)}] failed ${d.result.errno} but removed areas`);
      return out;
    }
    const last = all ? U64_MAX : iova + length - 1n;
    // What changed, from the two versions of the area tree (cost follows the change, not the IOAS).
    const removed: Span[] = [];
    let grown: Span | undefined;
    diffIntervals(before.iopt.areas, after.iopt.areas, (start, x, y) => {
      if (x && !y) removed.push({ start, last: x.last });
      else if (y && (!x || x.last !== y.last)) grown ??= { start, last: y.last };
    });
    if (grown) return bad(`created or resized an area: [${hex(grown.start)}, ${hex(grown.last)}]`), out;
    for (const x of removed) if (x.start < iova || x.last > last) bad(`of [${hex(iova)}, ${hex(last)}] removed area [${hex(x.start)}, ${hex(x.last)}], which is not inside it`);
    let first: Span | undefined;
    after.iopt.areas.eachOverlapping(iova, last, (start, l) => {
      first = { start, last: l };
      return false;
    });
    const bytes = removed.reduce((s, x) => s + (x.last - x.start + 1n), 0n);
    if (d.result.errno === 0) {
      if (first) bad(`of [${hex(iova)}, ${hex(last)}] succeeded but area [${hex(first.start)}, ${hex(first.last)}] still overlaps it`);
      const reported = fieldU64(d.result.out ?? {}, 'length');
      if (reported !== bytes) bad(`of [${hex(iova)}, ${hex(last)}] reports ${hex(reported)} bytes unmapped but removed ${hex(bytes)}`);
      if (!all && bytes === 0n) bad(`of [${hex(iova)}, ${hex(last)}] succeeded without removing anything (must be ENOENT)`);
    } else if (d.result.errno === 'ENOENT') {
      if (!first) {
        if (removed.length || before.iopt.areas.anyOverlap(iova, last)) bad(`of [${hex(iova)}, ${hex(last)}] failed ENOENT although every area it met was inside the range`);
      } else {
        const f: Span = first;
        if (f.start >= iova && f.last <= last) bad(`of [${hex(iova)}, ${hex(last)}] failed ENOENT at area [${hex(f.start)}, ${hex(f.last)}], which lies inside the range`);
        for (const x of removed) if (x.start > f.start) bad(`of [${hex(iova)}, ${hex(last)}] removed area [${hex(x.start)}, ${hex(x.last)}] after the area it stopped at`);
      }
    }
    return out;
  },
};

export const MAP_POSTCONDITION = 'map-postcondition';

export const mapPostcondition: Invariant = {
  name: MAP_POSTCONDITION,
  kind: 'step',
  summary: 'a successful MAP / MAP_FILE / COPY / VFIO MAP_DMA adds areas covering exactly the range it reports, and nothing else',
  doc:
    'After a successful IOMMU_IOAS_MAP, IOMMU_IOAS_MAP_FILE, IOMMU_IOAS_COPY (destination) or VFIO_IOMMU_MAP_DMA of ' +
    '[iova, iova + length - 1] (iova as written back, or the fixed one): nothing overlapped that range before; ' +
    'afterwards back-to-back areas cover exactly it (one per source piece, kernel-semantics §3.3, §3.6), with the ' +
    'protection the flags ask for (CACHE | WRITE | READ, §3.3 conv_iommu_prot); every other area of the IOAS is ' +
    'unchanged; a MAP or MAP_FILE area starts at the in-page offset of its user address or file offset and uses a ' +
    'new pages object, a COPY shares the source pages objects (§3.6). Cost: the areas in the range and those the ' +
    'step changed (the two versions of the area tree walked past their shared subtrees).',
  checkState: () => [],
  checkStep(d: StepDelta) {
    const out: Violation[] = [];
    const ev = d.event;
    if (d.result.errno !== 0 || ev.size !== undefined || !ev.args) return out;
    let ioasId: number;
    let iova: bigint;
    let length: bigint;
    let prot: number;
    const flags = fieldU32(ev.args, 'flags');
    switch (ev.op) {
      case 'IOMMU_IOAS_MAP':
      case 'IOMMU_IOAS_MAP_FILE':
        ioasId = fieldU32(ev.args, 'ioas_id');
        iova = fieldU64(d.result.out ?? {}, 'iova');
        length = fieldU64(ev.args, 'length');
        prot = 4 | (flags & 2 ? 2 : 0) | (flags & 4 ? 1 : 0);
        break;
      case 'IOMMU_IOAS_COPY':
        ioasId = fieldU32(ev.args, 'dst_ioas_id');
        iova = fieldU64(d.result.out ?? {}, 'dst_iova');
        length = fieldU64(ev.args, 'length');
        prot = 4 | (flags & 2 ? 2 : 0) | (flags & 4 ? 1 : 0);
        break;
      case 'VFIO_IOMMU_MAP_DMA': {
        const ctx = d.prev.ctxs.get(ctxOfEvent(d.prev, ev) ?? -1);
        ioasId = ctx?.vfioIoas ?? 0;
        iova = fieldU64(ev.args, 'iova');
        length = fieldU64(ev.args, 'size');
        prot = 4 | (flags & 2 ? 2 : 0) | (flags & 1 ? 1 : 0);
        break;
      }
      default:
        return out;
    }
    const ctxId = ctxOfEvent(d.prev, ev);
    if (ctxId === undefined) return out;
    const before = d.prev.ctxs.get(ctxId)?.objs.get(ioasId);
    const after = d.next.ctxs.get(ctxId)?.objs.get(ioasId);
    const bad = (m: string): void => void out.push({ invariant: MAP_POSTCONDITION, ctx: ctxId, obj: ioasId, message: `${ev.op} ${m}` });
    if (before?.type !== 'ioas' || after?.type !== 'ioas') return bad(`succeeded but ${ioasId} is not an IOAS before and after`), out;
    const last = iova + length - 1n;
    if (length === 0n || last > U64_MAX) return bad(`succeeded with the impossible range ${hex(iova)} + ${hex(length)}`), out;
    // The range in both versions, and what else changed (cost follows the change, not the IOAS).
    let hit: Span | undefined;
    before.iopt.areas.eachOverlapping(iova, last, (start, l) => {
      hit = { start, last: l };
      return false;
    });
    if (hit) bad(`of [${hex(iova)}, ${hex(last)}] succeeded over the existing area [${hex(hit.start)}, ${hex(hit.last)}]`);
    const fresh: AreaEntry[] = [];
    after.iopt.areas.eachOverlapping(iova, last, (start, l, value) => void fresh.push({ start, last: l, value }));
    let cur = iova;
    for (const x of fresh) {
      if (x.start !== cur) return bad(`of [${hex(iova)}, ${hex(last)}] left ${x.start > cur ? `a hole at ${hex(cur)}` : `area [${hex(x.start)}, ${hex(x.last)}] sticking out`}`), out;
      if (x.value.prot !== prot) bad(`of [${hex(iova)}, ${hex(last)}] made area [${hex(x.start)}, ${hex(x.last)}] with prot ${x.value.prot}, not ${prot}`);
      cur = x.last + 1n;
    }
    if (cur !== last + 1n) return bad(`of [${hex(iova)}, ${hex(last)}] covers only up to ${hex(cur - 1n)}`), out;
    let outside = false;
    diffIntervals(before.iopt.areas, after.iopt.areas, (start, x, y) => {
      // only areas clear of the range count (the new ones, and any old one there reported above, do not)
      const xo = x && !(start <= last && iova <= x.last) ? x : undefined;
      const yo = y && !(start <= last && iova <= y.last) ? y : undefined;
      if (!xo && !yo) return;
      if (xo && yo && xo.last === yo.last && xo.value.pages === yo.value.pages && xo.value.startByte === yo.value.startByte) return;
      outside = true;
    });
    if (outside) bad(`of [${hex(iova)}, ${hex(last)}] changed areas outside that range`);
    const pagesBefore = d.prev.ctxs.get(ctxId)!.pages;
    if (ev.op === 'IOMMU_IOAS_COPY') {
      for (const x of fresh) if (!pagesBefore.get(x.value.pages)) bad(`made area [${hex(x.start)}, ${hex(x.last)}] on pages ${x.value.pages}, which the source did not have`);
    } else {
      if (fresh.length !== 1) bad(`of [${hex(iova)}, ${hex(last)}] made ${fresh.length} areas instead of one`);
      const x = fresh[0]!;
      if (pagesBefore.get(x.value.pages)) bad(`reused the existing pages object ${x.value.pages} instead of making its own`);
      const src = ev.op === 'IOMMU_IOAS_MAP_FILE' ? fieldU64(ev.args, 'start') : fieldU64(ev.args, ev.op === 'VFIO_IOMMU_MAP_DMA' ? 'vaddr' : 'user_va');
      if (x.value.startByte % 4096n !== src % 4096n) bad(`made an area at in-page offset ${hex(x.value.startByte % 4096n)} for the address ${hex(src)}`);
    }
    return out;
  },
};
