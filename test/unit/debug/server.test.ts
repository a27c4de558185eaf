/**
 * The debugger's HTTP server without a browser: what it refuses (foreign
 * Host names, cross-site writes, paths outside the UI, bodies too large or
 * not JSON, events out of range) and that its API answers plain JSON.
 */
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTraceSync } from '../../../src/trace/index.js';
import { DebugIndex } from '../../../src/debug/history.js';
import { Session } from '../../../src/debug/session.js';
import { startServer, type DebugServer } from '../../../src/debug/server.js';
import { SAMPLE } from './fixtures.js';

interface Reply {
  status: number;
  body: string;
}

describe('debugger HTTP server', () => {
  let srv: DebugServer;
  let uiDir: string;

  beforeAll(async () => {
    uiDir = mkdtempSync(join(tmpdir(), 'iorewind-srv-'));
    writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>ui</title>');
    const t = readTraceSync(SAMPLE);
    const ix = await DebugIndex.build(t.events, { kernel: t.header.kernel });
    srv = await startServer({ session: new Session(ix), uiDir, file: SAMPLE, port: 0 });
  });
  afterAll(async () => {
    await srv?.close();
    rmSync(uiDir, { recursive: true, force: true });
  });

  /** One request with exactly these headers (fetch would not let us set Host). */
  const send = (method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: srv.port, method, path, headers: { host: `127.0.0.1:${srv.port}`, ...headers } }, (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (b += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: b }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const own = () => `http://127.0.0.1:${srv.port}`;

  it('answers its own page, from loopback names', async () => {
    for (const host of [`127.0.0.1:${srv.port}`, `localhost:${srv.port}`, `[::1]:${srv.port}`]) {
      const r = await send('GET', '/api/info', { host });
      expect(r.status, host).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ length: 863, kernel: '6.12', done: true });
    }
    expect((await send('GET', '/')).body).toContain('<title>ui</title>');
  });

  it('refuses any other Host (DNS rebinding)', async () => {
    for (const host of ['evil.example', `evil.example:${srv.port}`, '127.0.0.1.evil.example', `localhost.:${srv.port}`]) {
      const r = await send('GET', '/api/info', { host });
      expect(r.status, host).toBe(403);
      expect(r.body).toBe('forbidden host');
    }
  });

  it('refuses writes from another origin, takes them from its own page or from no page', async () => {
    const spec = JSON.stringify({ spec: 'errno any' });
    const bad = await send('POST', '/api/break', { origin: 'http://evil.example', 'content-type': 'text/plain' }, spec);
    expect(bad.status).toBe(403);
    expect(bad.body).toBe('forbidden origin');
    expect(JSON.parse((await send('GET', '/api/breaks')).body)).toEqual([]);
    // another port on the same machine is another origin too
    expect((await send('POST', '/api/break', { origin: `http://127.0.0.1:${srv.port + 1}` }, spec)).status).toBe(403);
    const mine = await send('POST', '/api/break', { origin: own() }, spec);
    expect(mine.status).toBe(200);
    expect(JSON.parse(mine.body)).toMatchObject({ id: 1, text: 'any failing event' });
    // curl and scripts send no Origin
    expect((await send('POST', '/api/delete', {}, JSON.stringify({ id: 'all' }))).status).toBe(200);
    expect(JSON.parse((await send('GET', '/api/breaks')).body)).toEqual([]);
  });

  it('refuses paths outside the UI directory', async () => {
    expect((await send('GET', '/..%2f..%2fetc%2fpasswd')).status).toBe(403);
    // dot segments are resolved as the URL is parsed: this one asks for /etc/passwd inside the UI directory
    expect((await send('GET', '/%2e%2e/%2e%2e/etc/passwd')).status).toBe(404);
    expect((await send('GET', '/nope.js')).status).toBe(404);
  });

  it('says what is wrong with a request, as JSON', async () => {
    const err = async (method: string, path: string, status: number, re: RegExp, body?: string) => {
      const r = await send(method, path, { origin: own() }, body);
      expect(r.status, path).toBe(status);
      expect(JSON.parse(r.body).error, path).toMatch(re);
    };
    await err('GET', '/api/step?i=863', 404, /event #863 outside 0\.\.862/);
    await err('GET', '/api/step?i=-1', 404, /outside/);
    await err('GET', '/api/step?i=x', 400, /\?i is not a number/);
    await err('GET', '/api/step', 400, /missing \?i/);
    await err('GET', '/api/iova?i=5&ctx=1&id=1&lo=0x10&hi=0x1', 400, /bad window/);
    await err('GET', '/api/nothing', 404, /no API GET \/api\/nothing/);
    await err('POST', '/api/run', 400, /body is not JSON/, '{');
    await err('POST', '/api/run', 413, /request too large/, JSON.stringify({ pad: 'x'.repeat(70_000) }));
    await err('POST', '/api/break', 400, /unknown errno/, JSON.stringify({ spec: 'errno EFOO' }));
    await err('GET', '/api/query?q=' + encodeURIComponent('when iova 0x0..0x10000000000000000'), 400, /goes past the 64-bit IOVA space/);
    await err('GET', '/api/query?q=' + encodeURIComponent('when iova 0x10000000000000000'), 400, /is past the 64-bit IOVA space/);
    await err('GET', '/api/query?q=' + encodeURIComponent(`when iova 0x${'f'.repeat(5_000)}`), 400, /is past 64 bits/);
    await err('GET', `/api/iova?i=0&ctx=1&id=1&lo=${'9'.repeat(5_000)}`, 400, /is past 64 bits/);
    await err('POST', '/api/break', 400, /goes past the 64-bit IOVA space/, JSON.stringify({ spec: 'iova 0xffffffffffffffff+2' }));
  });

  it('a state-tree path through a map with a key that is not one is no such child', async () => {
    const pid = (JSON.parse((await send('GET', '/api/tree?i=28&path=procs')).body) as { children: { key: string }[] }).children[0]!.key;
    expect(JSON.parse((await send('GET', `/api/tree?i=28&path=procs.${pid}.mm.vmas`)).body).kind).toBeDefined();
    for (const seg of ['hasOwnProperty', '0x1ffffffffffffffff', '99999999999999999999', '1e3', '-1'])
      for (const at of [`procs.${pid}.mm.vmas`, 'procs']) {
        const path = `${at}.${seg}`;
        const r = await send('GET', `/api/tree?i=28&path=${encodeURIComponent(path)}`);
        expect(r.status, path).toBe(400);
        expect(JSON.parse(r.body).error, path).toBe(`no '${seg}' at ${path}`);
      }
  });

  it('a state-tree page out of range is clamped, not empty', async () => {
    const p = JSON.parse((await send('GET', '/api/tree?i=28&offset=-5&limit=-1')).body);
    expect(p.offset).toBe(0);
    const q = JSON.parse((await send('GET', '/api/tree?i=28&offset=-5')).body);
    expect(q.offset).toBe(0);
    expect(q.children.map((c: { key: string }) => c.key)).toContain('ctxs');
  });

  it('steps, with the event decoded and its diff', async () => {
    const r = await send('GET', '/api/step?i=28');
    expect(r.status).toBe(200);
    const p = JSON.parse(r.body);
    expect(p.at).toBe(28);
    expect(p.event.op).toBe('IOMMU_IOAS_MAP');
    expect(p.diff.total).toBeGreaterThan(0);
    expect(JSON.parse((await send('GET', '/api/info')).body).at).toBe(28);
  });

  it('an index within its memory budget has not been thinned', async () => {
    expect(JSON.parse((await send('GET', '/api/info')).body).thinned).toBeNull();
  });
});

describe('debugger HTTP server, index thinned by its memory budget', () => {
  it('says so in /api/info, for the status line', async () => {
    const uiDir = mkdtempSync(join(tmpdir(), 'iorewind-srv-'));
    writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>ui</title>');
    const t = readTraceSync(SAMPLE);
    // a heap over a 64 MiB budget at every checkpoint: thinned whenever more than 8 are held
    const heap = { used: () => Infinity, live: () => 128 << 20 };
    const ix = await DebugIndex.build(t.events, { kernel: t.header.kernel, maxGap: 20, checkpointMs: 1e9, memoryMb: 64, heap });
    const srv = await startServer({ session: new Session(ix), uiDir, file: SAMPLE, port: 0 });
    try {
      const info = await (await fetch(`http://127.0.0.1:${srv.port}/api/info`)).json();
      expect(info.thinned.times).toBeGreaterThan(0);
      expect(info.thinned).toEqual({ times: ix.thinnings, spacing: 2 ** ix.thinnings, memoryMb: 64, seekCheckpoints: ix.seekCheckpoints });
      expect(info.checkpoints).toBeLessThanOrEqual(9);
    } finally {
      await srv.close();
      rmSync(uiDir, { recursive: true, force: true });
    }
  });
});
