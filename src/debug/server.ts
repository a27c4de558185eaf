/**
 * The debugger's HTTP server: the built web UI (static files) and a JSON
 * API over one Session. Listens on 127.0.0.1 only, refuses requests whose
 * Host header is not a loopback name (no DNS rebinding) and writes whose
 * Origin is not the page's own (no cross-site requests).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { DebugIndex } from './history.js';
import { describeBreak, parseBreak, type Session } from './session.js';
import { diffView, eventSummary, eventView, graphView, iovaView, lifecycleView, parsePath, spacesView, treeView } from './views.js';
import { F_DIVERGED } from './history.js';
import { hex, parseBig } from './json.js';
import { invariantSource } from './invariants_hook.js';
import { U64_MAX } from '../ds/interval_map.js';
import type { BreakpointJson, EventRow, InfoPayload, OverviewPayload, RunPayload, StepPayload } from './protocol.js';

export interface ServerOptions {
  session: Session;
  /** Directory of the built UI (index.html + assets). */
  uiDir: string;
  /** Trace path, for the title. */
  file: string;
  port?: number;
}

export interface DebugServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function bpJson(b: { id: number; spec: Parameters<typeof describeBreak>[0]; enabled: boolean }): BreakpointJson {
  return { id: b.id, text: describeBreak(b.spec), enabled: b.enabled };
}

function int(q: URLSearchParams, name: string, def?: number): number {
  const v = q.get(name);
  if (v === null || v === '') {
    if (def === undefined) throw new HttpError(400, `missing ?${name}`);
    return def;
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new HttpError(400, `?${name} is not a number`);
  return Math.trunc(n);
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > 64 * 1024) throw new HttpError(413, 'request too large');
    chunks.push(c as Buffer);
  }
  if (!n) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

/** The page's own origin: http, the host (and port) it was served from. */
function isOwnOrigin(origin: string, host: string): boolean {
  return origin === `http://${host}`;
}

export function startServer(opts: ServerOptions): Promise<DebugServer> {
  const { session, uiDir, file } = opts;
  const ix: DebugIndex = session.ix;
  const checkIndex = (i: number) => {
    if (ix.length === 0) throw new HttpError(409, 'no events indexed yet');
    if (i < 0 || i >= ix.length) throw new HttpError(404, `event #${i} outside 0..${ix.length - 1}${ix.done ? '' : ' (still indexing)'}`);
    return i;
  };

  const api = async (req: IncomingMessage, url: URL): Promise<unknown> => {
    const q = url.searchParams;
    const route = url.pathname.slice('/api/'.length);
    switch (`${req.method} ${route}`) {
      case 'GET info': {
        const info: InfoPayload = {
          file,
          kernel: ix.kernel,
          length: ix.length,
          done: ix.done,
          error: ix.error?.message ?? null,
          firstDivergence: ix.firstDivergence,
          errnos: ix.errnoNames(),
          ops: ix.opNames(),
          checkpoints: ix.checkpoints,
          thinned: ix.thinnings ? { times: ix.thinnings, spacing: ix.checkpointSpacing, memoryMb: Math.round(ix.memoryBudget / 1048576), seekCheckpoints: ix.seekCheckpoints } : null,
          invariants: invariantSource(),
          at: session.at,
          breakpoints: session.breakpoints.map(bpJson),
        };
        return info;
      }
      case 'GET events': {
        const from = Math.max(0, int(q, 'from', 0));
        const count = Math.min(500, Math.max(0, int(q, 'count', 100)));
        const rows: EventRow[] = [];
        for (let i = from; i < Math.min(ix.length, from + count); i++) rows.push({ i, op: ix.op(i), pid: ix.pid(i), errno: ix.errno(i), diverged: (ix.flags(i) & F_DIVERGED) !== 0, summary: eventSummary(ix.event(i)) });
        return rows;
      }
      case 'GET overview': {
        const o = ix.overview(Math.min(4000, Math.max(1, int(q, 'buckets', 1000))));
        const p: OverviewPayload = { ...o, length: ix.length };
        return p;
      }
      case 'GET step': {
        const t0 = performance.now();
        const i = checkIndex(int(q, 'i'));
        session.goto(i);
        const ev = eventView(ix, i);
        const counted = { total: 0 };
        const diff = diffView(ix.patchesAt(i, 400, counted), 400, counted.total);
        const after = ix.step(i).after;
        const p: StepPayload = {
          at: i,
          event: ev,
          diff,
          touches: ix.iovaTouchesAt(i).map((t) => ({ ...t, start: hex(t.start), last: hex(t.last) })),
          objects: ix.objectsChangedAt(i),
          spaces: spacesView(after),
          ms: performance.now() - t0,
        };
        return p;
      }
      case 'GET tree': {
        const i = checkIndex(int(q, 'i'));
        return treeView(ix.step(i).after, parsePath(q.get('path') ?? ''), Math.max(0, int(q, 'offset', 0)), Math.max(0, Math.min(1000, int(q, 'limit', 200))));
      }
      case 'GET iova': {
        const i = checkIndex(int(q, 'i'));
        const lo = q.get('lo') ? parseBig(q.get('lo')!) : 0n;
        const hi = q.get('hi') ? parseBig(q.get('hi')!) : U64_MAX;
        if (hi < lo || hi > U64_MAX) throw new HttpError(400, 'bad window');
        return iovaView(ix.step(i).after, int(q, 'ctx'), int(q, 'id'), lo, hi, Math.min(8000, int(q, 'px', 1200)), ix.iovaTouchesAt(i));
      }
      case 'GET graph': {
        const i = checkIndex(int(q, 'i'));
        return graphView(ix.step(i).after);
      }
      case 'GET lifecycle': {
        const i = checkIndex(int(q, 'i'));
        return lifecycleView(ix, ix.step(i).after, int(q, 'ctx'), int(q, 'id'), i);
      }
      case 'GET query':
        return session.query(q.get('q') ?? '', Math.min(5000, int(q, 'limit', 500)));
      case 'GET breaks':
        return session.breakpoints.map(bpJson);
      case 'POST break': {
        const b = await body(req);
        const spec = parseBreak(String(b['spec'] ?? '').trim().split(/\s+/).filter(Boolean));
        return bpJson(session.addBreak(spec));
      }
      case 'POST delete': {
        const b = await body(req);
        session.deleteBreak(b['id'] === 'all' ? 'all' : Number(b['id']));
        return session.breakpoints.map(bpJson);
      }
      case 'POST run': {
        const b = await body(req);
        if (typeof b['from'] === 'number') session.goto(b['from']);
        const r = await session.run(b['dir'] === -1 ? -1 : 1);
        const p: RunPayload = { at: r.at, hit: r.hit ? bpJson(r.hit) : null, reason: r.reason };
        return p;
      }
      case 'POST exec': {
        const b = await body(req);
        if (typeof b['from'] === 'number') session.goto(b['from']);
        const out = await session.exec(String(b['line'] ?? ''));
        return { output: out ?? '(quit is a terminal command)', at: session.at };
      }
      default:
        throw new HttpError(404, `no API ${req.method} /api/${route}`);
    }
  };

  const serveStatic = async (res: ServerResponse, pathname: string) => {
    const rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname.slice(1));
    const full = normalize(join(uiDir, rel));
    if (!full.startsWith(normalize(uiDir) + sep) && full !== normalize(uiDir)) throw new HttpError(403, 'outside the UI directory');
    let data: Buffer;
    try {
      data = await readFile(full);
    } catch {
      throw new HttpError(404, `not found: ${pathname}`);
    }
    res.writeHead(200, { 'content-type': TYPES[extname(full)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(data);
  };

  const server = createServer((req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('forbidden host');
      return;
    }
    // A page from elsewhere may still send simple cross-origin POSTs here (no
    // preflight for text/plain); they would move the cursor and breakpoints
    // or run commands. Browsers name their origin on those: only our own passes.
    const origin = req.headers.origin;
    if (req.method !== 'GET' && req.method !== 'HEAD' && origin !== undefined && !isOwnOrigin(origin, req.headers.host ?? '')) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('forbidden origin');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    (async () => {
      if (url.pathname.startsWith('/api/')) {
        const v = await api(req, url);
        const s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? hex(x) : x));
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
        res.end(s);
      } else if (req.method === 'GET') await serveStatic(res, url.pathname);
      else throw new HttpError(405, 'method not allowed');
    })().catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : e instanceof RangeError ? 404 : 400;
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      resolve({
        url: `http://127.0.0.1:${port}/`,
        port,
        server,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}
