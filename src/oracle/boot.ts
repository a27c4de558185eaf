/**
 * Booting the oracle: the kit's `run` script (../shared/oracle/run: Linux
 * 6.12 + IOMMUFD_TEST under QEMU) with the prebuilt executor as its one
 * program. The input and the records travel through shared memory: a file
 * in /dev/shm that QEMU maps as an ivshmem PCI device (added by the small
 * `qemu-system-x86_64` wrapper this module puts first on PATH), holding the
 * input and a ring the executor streams its binary records into while the
 * traces run; the host reads the ring as it fills (docs/oracle.md,
 * "Throughput"). Nothing goes through the emulated serial port but the
 * console.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync, writeSync, chmodSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';


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
  /**
   * Boot with this many 1 GiB hugetlb pages (default none, as the kit): the CPU gets GBPAGES
   * (`+pdpe1gb`), the kernel `hugepagesz=1G hugepages=N`, the guest N + 5 GiB of memory (the pages
   * must find 1 GiB-aligned free ranges at boot). Without it the kit's kernel has no 1 GiB pool:
   * MAP_HUGE_1GB is EINVAL and MFD_HUGE_1GB ENODEV, where the model answers as a kernel with one.
   */
  gigantic?: number;
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

/**
 * How many guests run at once: one per host core, at most two (each QEMU
 * under TCG keeps one core busy; the host's own work fits beside them).
 * $IOREWIND_ORACLE_GUESTS overrides it.
 */
/** Below this many ops in all, one guest does the work (a second one's boot would cost more than it saves). */
export const PARALLEL_MIN_OPS = 20_000;

export function oracleGuests(): number {
  const env = Number(process.env['IOREWIND_ORACLE_GUESTS']);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, Math.min(2, availableParallelism()));
}

export interface BootResult {
  /** The executor's binary records (results.ts decodeRecords reads them against the input). */
  records: Uint8Array;
  /** The input they answer. */
  input: Uint8Array;
  /** Wall-clock seconds of the whole boot (the kit's build of /init and the initramfs, QEMU). */
  seconds: number;
  /** The executor's own seconds inside the guest. */
  guestSeconds: number;
  /** Kernel WARNING / BUG / Oops lines seen on the console (a finding, not an error). */
  splats: string[];
  dir?: string;
}

/** The 2 MiB hugetlb pages a boot's pool has unless asked otherwise. */
export const DEFAULT_HUGEPAGES = 256;

export interface BootOptions extends OracleEnv {
  timeoutSec?: number;
  hugepages?: number;
  /** Called with the records as they stream out of the guest (whole records not guaranteed: RecordDecoder.push copes). */
  onRecords?: (chunk: Uint8Array) => void;
}

/**
 * The CPU QEMU emulates under TCG. The kit asks for `max`; with it the
 * guest kernel zeroes and copies pages with `rep stosb`/`rep movsb`
 * (ERMS/FSRM), which TCG runs one byte per loop turn: a faulted page costs
 * 34 us against 17 us without them (docs/oracle.md, "Throughput"). No
 * answer iommufd gives depends on the CPU model. $IOREWIND_ORACLE_CPU
 * overrides it.
 */
export const TCG_CPU = 'max,-erms,-fsrm';

/**
 * Extra seconds a boot with 1 GiB pages gets (OracleEnv.gigantic): under TCG the guest zeroes a
 * 1 GiB page it faults in for 10-30 s, and a boot may fault each of its pages several times.
 */
export const giganticSeconds = (env: OracleEnv): number => (env.gigantic ?? 0) * 90;

/** log2 of the page size a mmap (MAP_HUGE_*) or memfd_create (MFD_HUGE_*) flags word asks for (bits 26-31). */
const hugeLog = (flags: unknown): number => (typeof flags === 'number' ? (flags >>> 26) & 0x3f : 0);

/**
 * Extra seconds a boot's traces may take for the 1 GiB hugetlb memory they
 * ask for, on top of giganticSeconds: 60 s for each `mmap` or
 * `memfd_create` of 1 GiB pages (each faults one or more pages in, 10-30 s
 * apiece under TCG). A campaign's batch has few such traces; a shrink
 * round's candidates are all variants of one trace that has them, and a
 * round of 40 overran a boot budget that counted 1 GiB pages once (gigantic
 * seed 304). Nothing without a pool (`env.gigantic` unset).
 */
export function giganticTraceSeconds(env: OracleEnv, traces: readonly { events: readonly { op: string; args?: unknown }[] }[]): number {
  if (!env.gigantic) return 0;
  let n = 0;
  for (const t of traces)
    for (const ev of t.events)
      if ((ev.op === 'mmap' || ev.op === 'memfd_create') && hugeLog((ev.args as { flags?: unknown } | undefined)?.flags) === 30) n++;
  return n * 60;
}

/** Record ring size in the shared memory (the guest waits when the host has not read it yet). */
const RING_BYTES = 32 << 20;
const SHM_HEAD = 0x40;
const SHM_TAIL = 0x80;
const SHM_DONE = 0xc0;

/**
 * A QEMU wrapper: TCG whatever /dev/kvm says (the kit picks KVM when it is
 * writable; here it aborts or hangs), a CPU without byte-at-a-time string
 * instructions, no default devices, and the shared memory as an ivshmem
 * PCI device.
 */
function qemuWrapper(dir: string, shmPath: string, shmSize: number, kvm: boolean, gigantic: number): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const real = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' }).stdout.trim();
  const cpu = (process.env['IOREWIND_ORACLE_CPU'] ?? TCG_CPU) + (gigantic ? ',+pdpe1gb' : '');
  const w = join(bin, 'qemu-system-x86_64');
  // (1 GiB pages: reserved on the kernel's command line, the only time 1 GiB-aligned free ranges are sure)
  const append = gigantic ? `[ "$prev" = -append ] && a="hugepagesz=1G hugepages=${gigantic} default_hugepagesz=2M $a"; ` : '';
  const rewrite = (kvm ? '' : `case $a in *accel=kvm*) a=$(printf '%s' "$a" | sed 's/accel=kvm/accel=tcg/');; max) [ "$prev" = -cpu ] && a='${cpu}';; esac; `) + append;
  writeFileSync(
    w,
    `#!/bin/sh\n# iorewind oracle: ${kvm ? 'KVM allowed' : `TCG whatever /dev/kvm says, -cpu ${cpu}`}; no default devices; the host's shared memory as ivshmem\n` +
      `prev=\nfor a; do shift; ${rewrite}set -- "$@" "$a"; prev=$a; done\n` +
      `echo $$ > ${join(dir, 'qemu.pid')}\n` +
      `exec ${real} "$@" -nodefaults -object memory-backend-file,id=iorwshm,share=on,mem-path=${shmPath},size=${shmSize} -device ivshmem-plain,memdev=iorwshm\n`,
  );
  chmodSync(w, 0o755);
  return bin;
}

const pow2 = (n: number): number => 2 ** Math.ceil(Math.log2(n));

/** Shared memory for an input not known yet (the guest boots while the host encodes it): at most this many bytes of input. */
const LATE_INPUT_BYTES = 224 << 20;

/** The shared memory's size for an input of `n` bytes: header page, the input, the ring, as a power of two (a PCI BAR). */
const shmSizeFor = (n: number): number => pow2(4096 + Math.ceil(n / 4096) * 4096 + RING_BYTES);

/** An empty shared memory file of `size` bytes (sparse: only what is written takes memory). */
function makeShm(path: string, size: number): void {
  const fd = openSync(path, 'w+', 0o600);
  try {
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/**
 * The input and the header (input and ring placement), magic last: the
 * executor waits for the magic, so the guest may boot before this is written.
 */
function writeShm(fd: number, size: number, input: Uint8Array): void {
  const inputOff = 4096;
  const ringOff = inputOff + Math.ceil(input.length / 4096) * 4096;
  if (ringOff + RING_BYTES > size) throw new OracleError(`the executor input (${input.length} bytes) does not fit the shared memory (${size} bytes)`, 'build');
  const hdr = Buffer.alloc(40);
  hdr.writeBigUInt64LE(BigInt(inputOff), 8);
  hdr.writeBigUInt64LE(BigInt(input.length), 16);
  hdr.writeBigUInt64LE(BigInt(ringOff), 24);
  hdr.writeBigUInt64LE(BigInt(size - ringOff), 32);
  writeSync(fd, input, 0, input.length, inputOff);
  writeSync(fd, hdr, 8, 32, 8);
  writeSync(fd, Buffer.from('IORWSHM1', 'latin1'), 0, 8, 0);
}

/** Reads what the guest added to the ring since the last call. */
class RingReader {
  private tail = 0n;
  private ringOff = 0;
  private ringSize = 0n;
  private readonly word = Buffer.alloc(8);
  constructor(private readonly fd: number) {}
  /** Reads the ring's placement (once the header is written). */
  start(): void {
    const h = Buffer.alloc(40);
    readSync(this.fd, h, 0, 40, 0);
    this.ringOff = Number(h.readBigUInt64LE(24));
    this.ringSize = h.readBigUInt64LE(32);
  }
  private u64(at: number): bigint {
    readSync(this.fd, this.word, 0, 8, at);
    return this.word.readBigUInt64LE(0);
  }
  get done(): boolean {
    return this.u64(SHM_DONE) === 1n;
  }
  /** The new bytes, or undefined. */
  poll(): Uint8Array | undefined {
    if (!this.ringSize) return undefined;
    const head = this.u64(SHM_HEAD);
    if (head <= this.tail) return undefined;
    const n = Number(head - this.tail);
    const out = Buffer.alloc(n);
    const pos = Number(this.tail % this.ringSize);
    const first = Math.min(n, Number(this.ringSize) - pos);
    readSync(this.fd, out, 0, first, this.ringOff + pos);
    if (first < n) readSync(this.fd, out, first, n - first, this.ringOff);
    this.tail = head;
    this.word.writeBigUInt64LE(head, 0);
    writeSync(this.fd, this.word, 0, 8, SHM_TAIL);
    return out;
  }
}

/**
 * One boot: the executor runs `input` (encodeInput) and its records come
 * back (and to `onRecords` as they stream out). `input` may be a function
 * giving it later: the guest boots meanwhile (the executor waits for it;
 * at most LATE_INPUT_BYTES). Throws OracleError when the packages are
 * missing, the kernel does not boot, the run times out or the executor
 * fails.
 */
export async function bootOnce(input: Uint8Array | (() => Uint8Array | Promise<Uint8Array>), opts: BootOptions = {}): Promise<BootResult> {
  const kit = requireOracle(opts);
  const exe = executorPath(opts);
  const dir = mkdtempSync(join(tmpdir(), 'iorewind-oracle-'));
  const shmDir = existsSync('/dev/shm') ? '/dev/shm' : dir;
  const shmPath = join(shmDir, `iorewind-oracle-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const t0 = performance.now();
  let shmFd: number | undefined;
  try {
    const prog = join(dir, 'iorewind-oracle');
    symlinkSync(exe, prog);
    const shmSize = typeof input === 'function' ? shmSizeFor(LATE_INPUT_BYTES) : shmSizeFor(input.length);
    makeShm(shmPath, shmSize);
    shmFd = openSync(shmPath, 'r+');
    const fd = shmFd;
    const ring = new RingReader(fd);
    let bytes: Uint8Array | undefined;
    if (typeof input !== 'function') {
      writeShm(fd, shmSize, input);
      ring.start();
      bytes = input;
    }
    const chunks: Uint8Array[] = [];
    const drain = () => {
      for (let c = ring.poll(); c; c = ring.poll()) {
        chunks.push(c);
        opts.onRecords?.(c);
      }
    };
    const out = join(dir, 'out');
    const timeout = Math.max(30, Math.round(opts.timeoutSec ?? 600));
    const gigantic = opts.gigantic ?? 0;
    const env = { ...process.env, PATH: `${qemuWrapper(dir, shmPath, shmSize, !!opts.kvm, gigantic)}:${process.env['PATH'] ?? ''}` };
    const args = ['--out', out, '--timeout', String(timeout), '--hugepages', String(opts.hugepages ?? DEFAULT_HUGEPAGES), ...(gigantic ? ['--mem', `${gigantic + 5}G`] : []), prog, '--shm'];
    const { code, stderr, stdout } = await new Promise<{ code: number; stderr: string; stdout: string }>((res, rej) => {
      const p = spawn(join(kit, 'run'), args, { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let se = '';
      let so = '';
      let failed = false;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        clearInterval(timer);
        // QEMU is the script's grandchild (timeout runs it): end it by its pid, which the wrapper wrote.
        try {
          process.kill(Number(readFileSync(join(dir, 'qemu.pid'), 'utf8')), 'SIGKILL');
        } catch {
          // not started yet, or gone
        }
        p.kill('SIGTERM');
        rej(e);
      };
      const timer = setInterval(() => {
        try {
          drain();
        } catch (e) {
          fail(e);
        }
      }, 20);
      if (typeof input === 'function') {
        // The input while the guest boots.
        (async () => {
          const b = await input();
          writeShm(fd, shmSize, b);
          ring.start();
          bytes = b;
        })().catch(fail);
      }
      p.stdout.on('data', (d: Buffer) => (so += d.toString()));
      p.stderr.on('data', (d: Buffer) => (se += d.toString()));
      p.on('error', fail);
      p.on('close', (c) => {
        clearInterval(timer);
        if (!failed) res({ code: c ?? 2, stderr: se, stdout: so });
      });
    });
    drain();
    const finished = ring.done;
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
    if (!finished || !bytes) throw new OracleError(`the executor did not finish its records (${stdout.trim()} ${stderr.trim()})\n${log.slice(-2000)}`, 'executor', log);
    const records = Buffer.concat(chunks);
    const splats = consoleText.split('\n').filter((l) => /WARNING:|BUG:|Oops|Call Trace/.test(l));
    const g = /executor: \d+ traces, \d+ ops in ([0-9.]+)s/.exec(log);
    return { records, input: bytes!, seconds, guestSeconds: g ? Number(g[1]) : 0, splats, ...(opts.keep ? { dir } : {}) };
  } finally {
    if (shmFd !== undefined) closeSync(shmFd);
    if (existsSync(shmPath)) unlinkSync(shmPath);
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}
