/**
 * Command-line options for the commands that take a trace: node's own
 * parseArgs, strict, so an unknown option or one missing its value is a
 * usage error instead of being ignored or read as a file name.
 */
import { parseArgs } from 'node:util';
import { KERNEL_VERSIONS, type KernelVersion } from '../../src/trace/index.js';

type Spec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parses `argv` against `options`; a mistake throws an error naming the command, with its usage. */
export function parseOptions(cmd: string, argv: string[], options: Spec, usage: string): Parsed {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (e) {
    // node's messages run on with advice about '--': the first sentence says what is wrong
    const what = (e instanceof Error ? e.message : String(e)).split(/\.\s/)[0];
    throw new Error(`${cmd}: ${what}\n${usage}`);
  }
}

/** `--kernel`: one of the modelled versions, or undefined when not given. */
export function kernelOption(cmd: string, v: string | boolean | undefined): KernelVersion | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(KERNEL_VERSIONS as readonly string[]).includes(v)) throw new Error(`${cmd}: --kernel must be ${KERNEL_VERSIONS.join(' or ')}, got '${String(v)}'`);
  return v as KernelVersion;
}
