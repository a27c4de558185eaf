#!/usr/bin/env node
/**
 * `iorewind` command line. Each subcommand lives in tools/commands/<name>.ts
 * and exports `run(argv: string[]): Promise<number>` (the exit code) and a
 * one-line `summary`.
 */
const commands: Record<string, () => Promise<{ run(argv: string[]): Promise<number>; summary: string }>> = {
  replay: () => import('./commands/replay.js'),
  conform: () => import('./commands/conform.js'),
  trace: () => import('./commands/trace.js'),
  import: () => import('./commands/import.js'),
  fuzz: () => import('./commands/fuzz.js'),
  oracle: () => import('./commands/oracle.js'),
  debug: () => import('./commands/debug.js'),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const lines = ['usage: iorewind <command> [args]', '', 'commands:'];
    for (const [n, load] of Object.entries(commands)) {
      try {
        lines.push(`  ${n.padEnd(10)} ${(await load()).summary}`);
      } catch {
        lines.push(`  ${n.padEnd(10)} (unavailable)`);
      }
    }
    console.log(lines.join('\n'));
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    console.error(`iorewind: unknown command '${name}' (try 'iorewind help')`);
    return 2;
  }
  return (await load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`iorewind: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  },
);
