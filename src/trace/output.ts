/**
 * Writing a command's output file safely: the commands that turn one file
 * into another (`trace convert`, `import`) read their input while they write,
 * and may fail half way (a damaged record, a full disk).
 *
 *  - The new contents go to a temporary file beside the output and are
 *    renamed over it only when complete: a failure leaves whatever was there
 *    before, never half a trace, and an output that is the input itself (or a
 *    link to it) is not truncated before it is read.
 *  - An output that exists and is not a regular file (/dev/null, a FIFO) is
 *    written in place and never removed: a failed conversion to /dev/full
 *    once tried to unlink it.
 */
import { chmodSync, realpathSync, renameSync, rmSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Whether two paths name the same existing file (links and symlinks followed). */
export function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** Runs `write` on a temporary path and renames the result over `path` (see above); returns what `write` returned. */
export async function replaceFile<T>(path: string, write: (target: string) => Promise<T>): Promise<T> {
  let st: Stats | undefined;
  try {
    st = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (st && !st.isFile()) return write(path);
  const mode = st ? st.mode & 0o7777 : undefined;
  const target = st ? realpathSync(path) : path; // through a symlink: the file it names is replaced, not the link
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  try {
    const r = await write(tmp);
    if (mode !== undefined) chmodSync(tmp, mode);
    renameSync(tmp, target);
    return r;
  } catch (e) {
    rmSync(tmp, { force: true });
    // (an error about the temporary file is the output's: a missing directory, no permission)
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err === 'object' && err.path === tmp) {
      err.path = path;
      err.message = err.message.split(tmp).join(path);
    }
    throw e;
  }
}
