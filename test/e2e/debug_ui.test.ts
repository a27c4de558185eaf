/**
 * The debugger's web UI end to end, in real headless Chromium (Debian's
 * `chromium` package, driven by playwright-core; nothing is downloaded):
 * load the bundled trace, step with the keyboard, scrub, watch the IOVA
 * picture change, run a query and a breakpoint.
 * Skipped, saying so, when /usr/bin/chromium is absent.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { openSource } from '../../src/engine/source.js';
import { DebugIndex } from '../../src/debug/history.js';
import { Session } from '../../src/debug/session.js';
import { startServer, type DebugServer } from '../../src/debug/server.js';
import { ensureUi } from '../../src/debug/ui_build.js';
import { ROOT, SAMPLE, writeCutSample } from '../unit/debug/fixtures.js';
import { vmTrace } from '../../src/bench/vm_trace.js';
import ts from 'typescript';

const CHROMIUM = '/usr/bin/chromium';
const HAVE = existsSync(CHROMIUM);
if (!HAVE) console.warn(`SKIP debugger UI end-to-end test: ${CHROMIUM} is absent (apt-get install chromium to run it)`);

describe('debugger UI sources', () => {
  it('type-check against the API payload types (ui/debug/tsconfig.json)', () => {
    const file = join(ROOT, 'ui/debug/tsconfig.json');
    const cfg = ts.getParsedCommandLineOfConfigFile(file, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(String(d.messageText)); } })!;
    const program = ts.createProgram(cfg.fileNames, cfg.options);
    const diags = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(diags).toEqual([]);
  });
});

describe.skipIf(!HAVE)('iorewind debug web UI (headless Chromium)', () => {
  let srv: DebugServer;
  let ctx: BrowserContext;
  let page: Page;
  const dirs: string[] = [];

  beforeAll(async () => {
    const uiDir = mkdtempSync(join(tmpdir(), 'iorewind-ui-'));
    dirs.push(uiDir);
    await ensureUi({ outDir: uiDir, force: true });
    const src = await openSource(SAMPLE);
    const ix = await DebugIndex.build(src.events, { kernel: src.kernel });
    srv = await startServer({ session: new Session(ix), uiDir, file: SAMPLE, port: 0 });
    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(join(tmpdir(), 'iorewind-chromium-'));
    dirs.push(profile);
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1500, height: 950 },
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(srv.url);
    await page.waitForSelector('.ev.sel');
  }, 120_000);

  afterAll(async () => {
    await ctx?.close();
    await srv?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const at = () => page.evaluate(() => Number(document.body.dataset['at']));
  const waitAt = (i: number) => page.waitForFunction((n) => document.body.dataset['at'] === String(n), i);

  it('opens on event 0 with the trace name and event count', async () => {
    expect(await at()).toBe(0);
    expect(await page.textContent('#file')).toContain('selftest-mock-domain.iort');
    expect(await page.textContent('#len')).toContain('862');
    expect(await page.textContent('.ev-op')).toBe('note');
  });

  it('steps with the arrow keys (shift for ten)', async () => {
    await page.keyboard.press('ArrowRight');
    await waitAt(1);
    await page.keyboard.press('Shift+ArrowRight');
    await waitAt(11);
    await page.keyboard.press('ArrowLeft');
    await waitAt(10);
    expect(await page.textContent('.ev-op')).toBe('IOMMU_TEST_OP_MOCK_DOMAIN');
  });

  it('the IOVA picture changes as the trace maps and unmaps', async () => {
    await page.fill('#pos', '13');
    await page.press('#pos', 'Enter');
    await waitAt(13);
    await page.waitForSelector('.iova-svg');
    expect(await page.locator('.iova-svg rect.area').count()).toBe(0);
    await page.keyboard.press('ArrowRight'); // #14 IOMMU_IOAS_MAP
    await waitAt(14);
    await page.waitForFunction(() => document.querySelectorAll('.iova-svg rect.area').length === 1);
    expect(await page.locator('.iova-svg rect.touch.k-map').count()).toBe(1);
    expect(await page.locator('.iova-svg rect.pin').count()).toBe(1);
    expect(await page.textContent('#event-detail')).toContain('WRITEABLE|READABLE');
    await page.fill('#pos', '20'); // IOMMU_IOAS_UNMAP
    await page.press('#pos', 'Enter');
    await waitAt(20);
    await page.waitForFunction(() => document.querySelectorAll('.iova-svg rect.area').length === 0);
    expect(await page.locator('.iova-svg rect.touch.k-unmap').count()).toBe(1);
  });

  it('zooms from the whole 64-bit space down to pages', async () => {
    await page.fill('#pos', '14');
    await page.press('#pos', 'Enter');
    await waitAt(14);
    await page.click('#z-all');
    await page.waitForFunction(() => document.querySelector('.iova-svg')?.getAttribute('data-hi') === '0xffffffffffffffff');
    await page.click('#z-event');
    await page.waitForFunction(() => document.querySelector('.iova-svg')?.getAttribute('data-hi') !== '0xffffffffffffffff');
    expect(await page.textContent('#z-info')).toMatch(/pages\)/);
  });

  it('scrubbing the strip moves through the trace', async () => {
    const box = (await page.locator('#scrub').boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.waitForFunction(() => Math.abs(Number(document.body.dataset['at']) - 431) <= 3);
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 8 });
    await page.mouse.up();
    await page.waitForFunction(() => Math.abs(Number(document.body.dataset['at']) - 647) <= 3);
  });

  it('runs a history query and jumps to a hit', async () => {
    await page.fill('#query', 'when iova 0x1000800');
    await page.press('#query', 'Enter');
    await page.waitForSelector('#query-result .hits li');
    expect(await page.textContent('#query-result .q-title')).toMatch(/IOVA 0x1000800: \d+ touches/);
    const first = page.locator('#query-result .hits li').first();
    const i = Number(await first.getAttribute('data-i'));
    expect(i).toBe(21);
    await first.click();
    await waitAt(21);
  });

  it('checks invariants with the catalogue of src/invariants, and says so', async () => {
    expect(await page.textContent('#status')).toMatch(/invariants: src\/invariants \(\d+ state and step invariants, checked incrementally\)/);
    await page.fill('#query', 'when invariant');
    await page.press('#query', 'Enter');
    await page.waitForSelector('#query-result .q-title:has-text("invariant")');
    expect(await page.textContent('#query-result .q-title')).toMatch(/^no invariant violated \(searched to #862\)$/);
  });

  it('breakpoints: continue and reverse-continue', async () => {
    await page.fill('#pos', '0');
    await page.press('#pos', 'Enter');
    await waitAt(0);
    // the form fits its column (a 1500-pixel window once pushed the Add button past the panel's edge)
    const panel = (await page.locator('#bp-panel').boundingBox())!;
    const add = (await page.locator('#bp-form button[type=submit]').boundingBox())!;
    expect(add.x + add.width).toBeLessThanOrEqual(panel.x + panel.width);
    await page.selectOption('#bp-kind', 'op');
    await page.fill('#bp-arg', 'IOMMU_DESTROY');
    await page.click('#bp-form button[type=submit]');
    await page.waitForSelector('#bp-list li:has-text("op IOMMU_DESTROY")');
    await page.click('#b-cont');
    await waitAt(19);
    await page.keyboard.press('c');
    await waitAt(26);
    await page.keyboard.press('Shift+C');
    await waitAt(19);
    expect(await page.textContent('#run-result')).toContain('breakpoint 1: op IOMMU_DESTROY');
  });

  it('object graph and lifecycle', async () => {
    await page.fill('#pos', '15');
    await page.press('#pos', 'Enter');
    await waitAt(15);
    await page.click('[data-tab=graph]');
    await page.waitForSelector('.graph-svg .node.t-hwpt_paging');
    expect(await page.locator('.graph-svg .node.t-device').count()).toBe(3);
    await page.click('.graph-svg .node.t-hwpt_paging');
    await page.waitForSelector('#tab-life.on .machine');
    expect(await page.textContent('#tab-life')).toContain('auto.attached');
    await page.click('[data-tab=state]');
    await page.waitForSelector('#tab-state .tree');
    expect(await page.textContent('#tab-state')).toContain('ctxs');
  });

  it('a trace cut short: the events before the bad record, and where indexing stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iorewind-cut-'));
    dirs.push(dir);
    const cut = writeCutSample(dir);
    const src = await openSource(cut);
    const ix = new DebugIndex({ kernel: src.kernel });
    await expect(ix.ingestSource(src)).rejects.toThrow(/truncated file/);
    const srv2 = await startServer({ session: new Session(ix), uiDir: dirs[0]!, file: cut, port: 0 });
    const p2 = await ctx.newPage();
    try {
      await p2.goto(srv2.url);
      await p2.waitForSelector('.ev.sel');
      await p2.waitForSelector('#len.stopped');
      expect(await p2.textContent('#len')).toMatch(/ \/ 799 · indexing stopped at event 800: .*truncated file/);
    } finally {
      await p2.close();
      await srv2.close();
    }
  });

  it('a nested HWPT\'s picture says, beside its range, that it shows the parent\'s', async () => {
    const file = join(ROOT, 'traces/pri-fault-storm.iort');
    const src = await openSource(file);
    const srv2 = await startServer({ session: new Session(await DebugIndex.build(src.events, { kernel: src.kernel })), uiDir: dirs[0]!, file, port: 0 });
    const p2 = await ctx.newPage();
    try {
      await p2.goto(srv2.url);
      await p2.waitForSelector('.ev.sel');
      await p2.fill('#pos', '34'); // an iopf on HWPT 7, nested on HWPT 5
      await p2.press('#pos', 'Enter');
      await p2.waitForFunction(() => document.body.dataset['at'] === '34');
      await p2.selectOption('#space', '1:7');
      await p2.waitForFunction(() => /showing parent HWPT 5/.test(document.querySelector('#z-info')?.textContent ?? ''));
      expect(await p2.textContent('#z-info')).toMatch(/^0x[0-9a-f]+ – 0x[0-9a-f]+ \(.*\) · nested HWPT 7: stage-1 tables are the guest's; showing parent HWPT 5$/);
      expect(await p2.locator('.iova-svg text', { hasText: 'stage-1' }).count()).toBe(0);
    } finally {
      await p2.close();
      await srv2.close();
    }
  });

  it('a long trace: six-digit event numbers show whole, and the state tree pages through hundreds of areas', async () => {
    const ix = await DebugIndex.build(vmTrace({ events: 150_000 }), { kernel: '6.12' });
    const srv2 = await startServer({ session: new Session(ix), uiDir: dirs[0]!, file: 'vm.iort', port: 0 });
    const p2 = await ctx.newPage();
    try {
      await p2.goto(srv2.url);
      await p2.waitForSelector('.ev.sel');
      await p2.keyboard.press('End');
      await p2.waitForFunction(() => document.body.dataset['at'] === '149999');
      const cells = await p2.$$eval('.ev .i', (xs) => xs.map((x) => ({ text: x.textContent, clipped: x.scrollWidth > x.clientWidth })));
      expect(cells.length).toBeGreaterThan(10);
      expect(cells.find((c) => c.text === '149999')).toEqual({ text: '149999', clipped: false });
      expect(cells.filter((c) => c.clipped)).toEqual([]);

      // the state tree pages through a collection of hundreds of areas
      await p2.click('[data-tab=state]');
      const twisty = (key: string) => `#tab-state li:has(> .tk:text-is("${key}")) > .tw`;
      await p2.click(twisty('2'));
      await p2.click(twisty('iopt'));
      await p2.click(twisty('areas'));
      const areas = '#tab-state li:has(> .tk:text-is("areas")) > ul > li:not(.more)';
      await p2.waitForSelector(areas);
      expect(await p2.locator(areas).count()).toBe(200);
      const more = p2.locator('#tab-state li:has(> .tk:text-is("areas")) > ul > li.more');
      const total = 200 + Number((await more.textContent())!.match(/… (\d+) more/)![1]);
      expect(total).toBeGreaterThan(400);
      await more.click();
      await p2.locator(areas).nth(Math.min(400, total) - 1).waitFor();
      expect(await p2.locator(areas).count()).toBe(Math.min(400, total));
      // paged-in entries stay as the cursor moves
      await p2.keyboard.press('ArrowLeft');
      await p2.waitForFunction(() => document.body.dataset['at'] === '149998');
      await p2.waitForFunction(() => document.querySelector('#status')?.textContent?.startsWith('#149998'));
      await p2.locator(areas).nth(399).waitFor();
    } finally {
      await p2.close();
      await srv2.close();
    }
  });
});
