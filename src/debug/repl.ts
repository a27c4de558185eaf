/**
 * `iorewind debug <trace> --repl`: the debugger's commands as text, one per
 * line, from a terminal or a script on stdin. Output is plain text; with a
 * terminal a prompt is shown, with a pipe each command is echoed after
 * `(iorewind) ` so a transcript reads like a session.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Session } from './session.js';

export interface ReplOptions {
  /** Interactive terminal: prompt and line editing (default: input.isTTY). */
  interactive?: boolean;
  /** Echo each command before its output when not interactive (default true). */
  echo?: boolean;
}

/** Runs commands until EOF or `quit`; resolves with the number of commands that failed. */
export async function runRepl(session: Session, input: Readable, output: Writable, opts: ReplOptions = {}): Promise<number> {
  const interactive = opts.interactive ?? Boolean((input as Readable & { isTTY?: boolean }).isTTY);
  const echo = opts.echo ?? true;
  const rl = createInterface({ input, ...(interactive ? { output, prompt: '(iorewind) ', terminal: true } : { terminal: false }) });
  const write = (s: string) => output.write(s.endsWith('\n') ? s : s + '\n');
  let failures = 0;
  if (interactive) {
    write(`${session.length} events; type 'help' for commands`);
    write(session.line(session.at));
    rl.prompt();
  }
  for await (const line of rl) {
    if (!interactive && echo && line.trim()) write(`(iorewind) ${line.trim()}`);
    const out = await session.exec(line);
    if (out === null) break;
    if (out.startsWith('error:')) failures++;
    if (out) write(out);
    if (interactive) rl.prompt();
  }
  rl.close();
  return failures;
}
