/**
 * Locating and (re)building the debugger's web UI (ui/debug, built with
 * Vite into dist/ui/debug). `iorewind debug` builds it on first use and
 * whenever a source file is newer than the build, so a fresh clone needs
 * nothing but `npm ci`.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the directory with iorewind's package.json) above this module. */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 8; k++) {
    const p = join(d, 'package.json');
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'iorewind') return d;
      } catch {
        // keep looking
      }
    }
    d = dirname(d);
  }
  throw new Error('cannot find the iorewind repository root');
}

export const uiSourceDir = (root = repoRoot()) => join(root, 'ui', 'debug');
export const uiBuildDir = (root = repoRoot()) => join(root, 'dist', 'ui', 'debug');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds the UI if it is missing or older than its sources; returns the directory to serve. */
export async function ensureUi(opts: { outDir?: string; force?: boolean; log?: (s: string) => void } = {}): Promise<string> {
  const root = repoRoot();
  const src = uiSourceDir(root);
  const out = opts.outDir ?? uiBuildDir(root);
  const stamp = join(out, '.built');
  const built = existsSync(stamp) ? Number(readFileSync(stamp, 'utf8')) || 0 : 0;
  if (!existsSync(src)) {
    if (existsSync(join(out, 'index.html'))) return out;
    throw new Error(`the debugger UI sources (${src}) are missing`);
  }
  const srcTime = newest(src);
  if (!opts.force && built >= srcTime && existsSync(join(out, 'index.html'))) return out;
  opts.log?.('building the debugger UI (vite)...');
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    throw new Error("the debugger UI is not built and 'vite' is not installed: run 'npm ci' (dev dependencies) or 'npm run build:ui'");
  }
  await vite.build({ configFile: join(src, 'vite.config.ts'), root: src, logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });
  writeFileSync(stamp, String(srcTime));
  return out;
}
