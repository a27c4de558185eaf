/**
 * The one error type of the trace readers and writers. Its message always
 * says where: `byte offset N` (binary) or `line N` (JSONL), and which record
 * (`record I` for the I-th event, 0-based, or `header`).
 */
export interface TraceErrorLocation {
  /** File path (or a label such as `<buffer>`), when known. */
  path?: string;
  /** Absolute byte offset in the binary file. */
  offset?: number;
  /** 1-based line number in a JSONL file. */
  line?: number;
  /** 0-based event index, or `'header'`. */
  record?: number | 'header';
}

export class TraceFormatError extends Error {
  override readonly name = 'TraceFormatError';
  readonly reason: string;
  readonly path: string | undefined;
  readonly offset: number | undefined;
  readonly line: number | undefined;
  readonly record: number | 'header' | undefined;

  constructor(reason: string, where: TraceErrorLocation = {}) {
    super(formatMessage(reason, where));
    this.reason = reason;
    this.path = where.path;
    this.offset = where.offset;
    this.line = where.line;
    this.record = where.record;
  }

  /** The same error with a file path attached (for errors raised by buffer-level code). */
  withPath(path: string): TraceFormatError {
    if (this.path !== undefined) return this;
    return new TraceFormatError(this.reason, { path, offset: this.offset, line: this.line, record: this.record });
  }
}

function formatMessage(reason: string, w: TraceErrorLocation): string {
  const parts: string[] = [];
  if (w.offset !== undefined) parts.push(`byte offset ${w.offset}`);
  if (w.line !== undefined) parts.push(`line ${w.line}`);
  if (w.record !== undefined) parts.push(w.record === 'header' ? 'header' : `record ${w.record}`);
  const where = parts.join(', ');
  const prefix = w.path !== undefined ? `${w.path}: ` : '';
  return `${prefix}${where ? where + ': ' : ''}${reason}`;
}
