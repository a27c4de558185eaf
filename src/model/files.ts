/**
 * File descriptors and open files: what keeps an iommufd context alive and
 * what happens when the last reference goes (main.c: iommufd_fops_release,
 * fault.c / selftest.c fd release).
 */
import type { Tx } from './object.js';
import type { Ctx, OpenFile, World } from './state.js';
import { destroyObject } from './lifecycle.js';
import { Tx as TxClass } from './object.js';
import { vfioRelease } from './vfio_device.js';

/** Open a new file in the caller's process at the lowest free fd. Fault/access files hold their iommufd. */
export function openFile(tx: Tx, f: Omit<OpenFile, 'id' | 'refs'>): { file: number; fd: number } {
  let w = tx.w;
  const id = w.nextFile;
  const file: OpenFile = { ...f, id, refs: 1 };
  let files = w.files.set(id, file);
  if ((f.kind === 'fault' || f.kind === 'access') && f.ctx !== undefined) {
    const ictxFile = files.get(tx.ctx.file)!;
    files = files.set(ictxFile.id, { ...ictxFile, refs: ictxFile.refs + 1 });
  }
  const proc = w.procs.get(tx.pid)!;
  const fd = proc.fds.lowestFreeKey(0);
  w = { ...w, files, nextFile: id + 1, procs: w.procs.set(proc.pid, { ...proc, fds: proc.fds.set(fd, id) }) };
  tx.setWorld(w);
  return { file: id, fd };
}

/** Install a file at the lowest free fd of a process (open(2) of /dev/iommu, memfd_create). */
export function installFile(w: World, pid: number, f: Omit<OpenFile, 'id' | 'refs'>): [World, number, number] {
  const id = w.nextFile;
  const proc = w.procs.get(pid)!;
  const fd = proc.fds.lowestFreeKey(0);
  w = {
    ...w,
    files: w.files.set(id, { ...f, id, refs: 1 }),
    nextFile: id + 1,
    procs: w.procs.set(pid, { ...proc, fds: proc.fds.set(fd, id) }),
  };
  return [w, fd, id];
}

/** The open file behind fd `fd` of process `pid`, if any. */
export function fileAt(w: World, pid: number, fd: number): OpenFile | undefined {
  const fileId = w.procs.get(pid)?.fds.get(fd);
  const f = fileId === undefined ? undefined : w.files.get(fileId);
  // (an O_PATH descriptor is no file to fget, nor to any call the model has but close: EBADF)
  return f?.kind === 'path' ? undefined : f;
}

/** close(2): drop the fd, then the file reference. */
export function closeFd(w: World, pid: number, fd: number): World | undefined {
  const proc = w.procs.get(pid);
  const fileId = proc?.fds.get(fd);
  if (!proc || fileId === undefined) return undefined;
  w = { ...w, procs: w.procs.set(pid, { ...proc, fds: proc.fds.delete(fd) }) };
  return putFile(w, fileId);
}

/** Take `n` more references to an open file (a kernel holder: iommufd_ctx_get, fget). */
export function holdFile(w: World, fileId: number, n = 1): World {
  const f = w.files.get(fileId)!;
  return { ...w, files: w.files.set(fileId, { ...f, refs: f.refs + n }) };
}

/** Drop one reference to an open file; release it with the last one. */
export function putFile(w: World, fileId: number): World {
  const f = w.files.get(fileId)!;
  if (f.refs > 1) return { ...w, files: w.files.set(fileId, { ...f, refs: f.refs - 1 }) };
  w = { ...w, files: w.files.delete(fileId) };
  return releaseFile(w, f);
}

function releaseFile(w: World, f: OpenFile): World {
  if (f.kind === 'iommufd' && f.ctx !== undefined) return releaseCtx(w, f.ctx);
  // A bound VFIO device file unbinds and drops the two context references it held (vfio_device.ts).
  if (f.kind === 'vfio' || f.kind === 'vfio_group') return vfioRelease(w, f);
  if ((f.kind === 'fault' || f.kind === 'access') && f.ctx !== undefined && f.obj !== undefined) {
    const ctx = w.ctxs.get(f.ctx)!;
    const tx = new TxClass(w, ctx, 0);
    const o = tx.any(f.obj);
    if (o?.type === 'fault') {
      // Closing the fault fd answers nothing; it only drops the file's reference (§9.4).
      tx.put({ ...o, users: o.users - 1, fdOpen: false });
    } else if (o?.type === 'access') {
      destroyObject(tx, o.id);
    }
    w = tx.commit();
    return putFile(w, ctx.file);
  }
  return w;
}

/**
 * iommufd_fops_release: passes in ascending ID order destroying every object
 * whose only reference is the table's, until none is left (§2.7).
 */
export function releaseCtx(w: World, ctxId: number): World {
  const ctx: Ctx = w.ctxs.get(ctxId)!;
  const tx = new TxClass(w, ctx, 0);
  for (;;) {
    let destroyed = 0;
    const ids: number[] = [];
    tx.ctx.objs.each((id) => {
      ids.push(id);
      return true;
    });
    for (const id of ids) {
      const o = tx.any(id);
      if (o && o.users === 1) {
        destroyObject(tx, id);
        destroyed++;
      }
    }
    if (!destroyed || tx.ctx.objs.size === 0) break;
  }
  w = tx.commit();
  return { ...w, ctxs: w.ctxs.delete(ctxId) };
}

/** One of the fds a process had before the trace (external_fds): a file, a pipe, a device, the model cannot tell. */
export const opaque = (f: OpenFile): boolean => f.kind === 'file' && f.mobj === undefined;

/** The largest loff_t (and shmem's s_maxbytes, MAX_LFS_FILESIZE). */
export const LOFF_MAX = (1n << 63n) - 1n;
