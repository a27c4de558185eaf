/**
 * Booting the oracle: the kit's `run` script (../shared/oracle/run: Linux
 * 6.12 + IOMMUFD_TEST under QEMU) with the executor as its one program, the
 * input appended to the executor binary, and `--capture` so that the
 * executor's records come back over the second serial port.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendPayload } from './encode.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root (this file is src/oracle/boot.ts, or dist/src/oracle/boot.js once built). */
const ROOT = existsSync(join(HERE, '../../package.json')) ? resolve(HERE, '../..') : resolve(HERE, '../../..');

export class OracleError extends Error {
  constructor(
    message: string,
    readonly kind: 'missing-packages' | 'no-kit' | 'build' | 'boot' | 'timeout' | 'executor',
    readonly log?: string,
  ) {
    super(message);
    this.name = 'OracleError';
  }
}

export interface OracleEnv {
  /** The oracle kit (default $IOREWIND_ORACLE_KIT, else ../shared/oracle beside the repository). */
  kit?: string;
  /** Let QEMU use KVM when /dev/kvm is writable (default: TCG always, as the kit's timings assume). */
  kvm?: boolean;
  /** Keep the boot's directory (for debugging); its path is in the result. */
  keep?: boolean;
}

export function kitDir(env: OracleEnv = {}): string {
  return resolve(env.kit ?? process.env['IOREWIND_ORACLE_KIT'] ?? join(ROOT, '../shared/oracle'));
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** The host packages the oracle needs and lacks (Debian names). */
export function missingPackages(): string[] {
  const missing: string[] = [];
  if (!onPath('qemu-system-x86_64')) missing.push('qemu-system-x86');
  if (!onPath('gcc')) missing.push('gcc', 'libc6-dev');
  else {
    const libc = spawnSync('gcc', ['-print-file-name=libc.a'], { encoding: 'utf8' }).stdout.trim();
    if (!libc || !existsSync(libc)) missing.push('libc6-dev');
  }
  if (!onPath('objcopy') || !onPath('readelf')) missing.push('binutils');
  return missing;
}

/** Whether the oracle can run here (QEMU, gcc and the kit present): undefined, or why not. */
export function oracleUnavailable(env: OracleEnv = {}): string | undefined {
  const missing = missingPackages();
  if (missing.length) return `missing host packages: ${missing.join(' ')} (apt-get install -y --no-install-recommends ${missing.join(' ')})`;
  const kit = kitDir(env);
  if (!existsSync(join(kit, 'run')) || !existsSync(join(kit, 'bzImage'))) return `no oracle kit at ${kit} (set IOREWIND_ORACLE_KIT)`;
  return undefined;
}

function requireOracle(env: OracleEnv): string {
  const missing = missingPackages();
  if (missing.length)
    throw new OracleError(
      `the oracle needs ${missing.includes('qemu-system-x86') ? 'qemu-system-x86_64' : 'a C toolchain'}; install the missing packages with:\n    apt-get install -y --no-install-recommends ${missing.join(' ')}`,
      'missing-packages',
    );
  const kit = kitDir(env);
  if (!existsSync(join(kit, 'run')) || !existsSync(join(kit, 'bzImage'))) throw new OracleError(`no oracle kit at ${kit} (set IOREWIND_ORACLE_KIT)`, 'no-kit');
  return kit;
}

/** The executor binary, built (npm run build:oracle) when missing or older than its source. */
export function executorPath(env: OracleEnv = {}): string {
  const kit = requireOracle(env);
  const src = join(ROOT, 'tools/oracle/executor.c');
  const bin = join(ROOT, 'dist/oracle/executor');
  const stale = !existsSync(bin) || (existsSync(src) && statSync(src).mtimeMs > statSync(bin).mtimeMs);
  if (stale) {
    const r = spawnSync('sh', [join(ROOT, 'tools/oracle/build.sh'), bin], { encoding: 'utf8', env: { ...process.env, ORACLE_KIT: kit } });
    if (r.status !== 0) throw new OracleError(`building the executor failed:\n${r.stderr}`, 'build', r.stderr);
  }
  return bin;
}

export interface BootResult {
  /** The executor's records (JSONL). */
  records: string;
  /** Wall-clock seconds of the whole boot (build of the initramfs, QEMU, transfer). */
  seconds: number;
  /** The executor's own seconds inside the guest. */
  guestSeconds: number;
  /** Kernel WARNING / BUG / Oops lines seen on the console (a finding, not an error). */
  splats: string[];
  dir?: string;
}

/** A QEMU wrapper that turns `accel=kvm` into `accel=tcg` (the kit picks KVM when /dev/kvm is writable). */
function tcgWrapper(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const real = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' }).stdout.trim();
  const w = join(bin, 'qemu-system-x86_64');
  writeFileSync(
    w,
    `#!/bin/sh\n# iorewind oracle: TCG, whatever /dev/kvm says\nfor a; do shift; case $a in *accel=kvm*) a=$(printf '%s' "$a" | sed 's/accel=kvm/accel=tcg/');; esac; set -- "$@" "$a"; done\nexec ${real} "$@"\n`,
  );
  chmodSync(w, 0o755);
  return bin;
}

function kvmWritable(): boolean {
  try {
    accessSync('/dev/kvm', constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * One boot: the executor runs `input` (encodeInput) and its records come
 * back. Throws OracleError when the packages are missing, the kernel does
 * not boot, the run times out or the executor fails.
 */
export async function bootOnce(input: Uint8Array, opts: OracleEnv & { timeoutSec?: number; hugepages?: number } = {}): Promise<BootResult> {
  const kit = requireOracle(opts);
  const exe = readFileSync(executorPath(opts));
  const dir = mkdtempSync(join(tmpdir(), 'iorewind-oracle-'));
  const t0 = performance.now();
  try {
    const prog = join(dir, 'iorewind-oracle');
    writeFileSync(prog, appendPayload(exe, input), { mode: 0o755 });
    const out = join(dir, 'out');
    const timeout = Math.max(30, Math.round(opts.timeoutSec ?? 600));
    const env = { ...process.env };
    if (!opts.kvm && kvmWritable()) env['PATH'] = `${tcgWrapper(dir)}:${env['PATH'] ?? ''}`;
    const args = ['--capture', '--out', out, '--timeout', String(timeout), '--hugepages', String(opts.hugepages ?? 256), prog];
    const { code, stderr, stdout } = await new Promise<{ code: number; stderr: string; stdout: string }>((res, rej) => {
      const p = spawn(join(kit, 'run'), args, { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let se = '';
      let so = '';
      p.stdout.on('data', (d: Buffer) => (so += d.toString()));
      p.stderr.on('data', (d: Buffer) => (se += d.toString()));
      p.on('error', rej);
      p.on('close', (c) => res({ code: c ?? 2, stderr: se, stdout: so }));
    });
    const seconds = (performance.now() - t0) / 1000;
    const consolePath = join(out, 'console.log');
    const consoleText = existsSync(consolePath) ? readFileSync(consolePath, 'utf8').replace(/\r/g, '') : '';
    const tail = consoleText.split('\n').slice(-25).join('\n');
    if (code === 3) {
      const missing = /apt-get install[^\n]*/.exec(stderr)?.[0];
      throw new OracleError(missing ? `the oracle kit's run script lacks host packages: ${missing}` : `the oracle kit's run script refused: ${stderr.trim()}`, 'missing-packages', stderr);
    }
    if (code === 2) {
      const timedOut = /timed out/.test(stderr);
      const booted = consoleText.includes('##ORACLE-BEGIN');
      const msg = timedOut
        ? `the oracle run timed out after ${timeout}s${booted ? '' : ' (the kernel never reached /init)'}`
        : booted
          ? `the oracle guest did not finish: ${stderr.trim()}`
          : `the oracle kernel did not boot: ${stderr.trim()}`;
      throw new OracleError(`${msg}\n--- console (last lines) ---\n${tail}`, timedOut ? 'timeout' : 'boot', consoleText);
    }
    const log = existsSync(join(out, 'iorewind-oracle.log')) ? readFileSync(join(out, 'iorewind-oracle.log'), 'utf8') : '';
    if (code === 1) throw new OracleError(`the executor failed in the guest:\n${log.slice(-4000)}\n${stderr}`, 'executor', log);
    const capPath = join(out, 'iorewind-oracle.jsonl');
    if (!existsSync(capPath)) throw new OracleError(`the executor's records did not come back (${stdout.trim()} ${stderr.trim()})`, 'executor', log);
    const records = readFileSync(capPath, 'utf8');
    const splats = consoleText.split('\n').filter((l) => /WARNING:|BUG:|Oops|Call Trace/.test(l));
    const g = /executor: \d+ traces, \d+ ops in ([0-9.]+)s/.exec(log);
    return { records, seconds, guestSeconds: g ? Number(g[1]) : 0, splats, ...(opts.keep ? { dir } : {}) };
  } finally {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}
