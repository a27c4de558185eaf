/**
 * The files a command is pointed at: each path named, and under each
 * directory named the files `keep` accepts, all the way down in name order.
 * A directory is entered once however many links lead to it (a link to an
 * ancestor once walked 40 levels deep into ELOOP), and a dangling link
 * inside a directory is passed over; a path named that does not exist is the
 * user's mistake and its error stands.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function filesUnder(paths: readonly string[], keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (dir: string, st: { dev: number; ino: number }) => {
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e);
      let s;
      try {
        s = statSync(p);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ELOOP') continue;
        throw err;
      }
      if (s.isDirectory()) walk(p, s);
      else if (keep(p)) out.push(p);
    }
  };
  for (const p of paths) {
    const st = statSync(p);
    if (st.isDirectory()) walk(p, st);
    else out.push(p);
  }
  return out;
}
