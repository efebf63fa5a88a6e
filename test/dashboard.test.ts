/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core (no browser
 * download), against the Worker in workerd and the Crawl4AI emulator, with usage made by the
 * official MCP client. A screenshot is kept in test/artifacts/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it as baseIt } from 'vitest';
import type { Browser } from 'playwright-core';
import { startCrawl4aiEmulator, type Crawl4aiEmulator } from './emulators/crawl4ai/index.ts';
import { ROOT, startWorker, type RunningWorker } from './helpers/mcp-worker.ts';
import { connectV2 } from './helpers/mcp-clients.ts';
import { launchChromium } from './helpers/browser.ts';
import { itWith } from './helpers/system-tools.ts';

const it = itWith([{ cmd: 'chromium', pkg: 'chromium' }]);
const ADMIN_KEY = 'c4m_' + 'dashdashdashdashdashdashdashdashdashdash123';
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');

let emu: Crawl4aiEmulator;
let worker: RunningWorker;
let browser: Browser | undefined;

beforeAll(async () => {
  emu = await startCrawl4aiEmulator({});
  worker = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN_KEY });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await worker?.close();
  await emu?.close();
});

describe('dashboard in chromium', () => {
  it('a wrong admin key is refused and sets no cookie', async () => {
    const ctx = await browser!.newContext();
    const p = await ctx.newPage();
    const r = await p.goto(`${worker.url}/dashboard`);
    expect(r!.headers()['content-security-policy']).toMatch(/default-src 'none'/);
    expect(r!.headers()['content-security-policy']).not.toMatch(/script-src/);
    await p.fill('#key', 'c4m_' + 'W'.repeat(43));
    await p.click('button[type=submit]');
    await expect.poll(() => p.textContent('[role=alert]')).toMatch(/wrong admin key/);
    expect(await ctx.cookies()).toEqual([]);
    // an MCP key is no admin key either
    await p.fill('#key', worker.apiKey);
    await p.click('button[type=submit]');
    await expect.poll(() => p.textContent('[role=alert]')).toMatch(/wrong admin key/);
    await ctx.close();
  });

  it('sign in, see usage made by a real MCP client, create a key, revoke it and watch the client get refused; CSRF without the token refused', async () => {
    const ctx = await browser!.newContext({ viewport: { width: 390, height: 844 } }); // a phone-sized screen
    const p = await ctx.newPage();
    await p.goto(`${worker.url}/dashboard`);
    await p.fill('#key', ADMIN_KEY);
    await p.click('button[type=submit]');
    await p.waitForSelector('#origin');
    expect(await p.textContent('#origin')).toMatch(/Crawl4AI healthy \(0\.9\.4\)/);
    // Crawl4AI's own figures through the origin: /monitor/health and /metrics
    const figures = (await p.textContent('#figures'))!;
    expect(figures).toMatch(/memory\s*21\.4%/);
    expect(figures).toMatch(/browser pool\s*270 MB/);
    expect(figures).toMatch(/requests served\s*\d+/);
    const [cookie] = await ctx.cookies();
    expect(cookie).toMatchObject({ name: 'c4m_session', httpOnly: true, secure: true, sameSite: 'Strict', path: '/dashboard' });

    // create a key in the form; it is shown once
    await p.fill('#name', 'phone');
    await p.fill('#tools', 'scrape,health');
    await p.fill('#rpm', '100');
    await p.click('form[action="/dashboard/keys"] button[type=submit]');
    await p.waitForSelector('#new-key');
    const key = (await p.textContent('#new-key'))!.trim();
    expect(key).toMatch(/^c4m_[A-Za-z0-9_-]{43}$/);

    // a real MCP client uses it
    const client = await connectV2(worker.mcpUrl, key);
    for (let i = 0; i < 3; i++) expect((await client.callTool('scrape', { url: `${emu.fixtures.docs.root}?q=${i}` })).isError).toBeFalsy();
    await expect
      .poll(async () => {
        await p.goto(`${worker.url}/dashboard`);
        return p.textContent('tr[data-key="phone"] td.calls');
      })
      .toBe('3');
    const html = await p.content();
    expect(html).toContain(new URL(emu.fixtures.docs.root).hostname);
    expect(html).not.toContain('?q=');
    expect(html).not.toContain(key); // shown once, not again
    expect(await p.locator('svg[aria-label="tool calls per key"] rect').count()).toBeGreaterThan(0);
    // nothing wider than the phone screen but the scrollable tables
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await p.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // CSRF: the session cookie alone (a forged cross-site form would have it at most) is refused
    const forged = await fetch(`${worker.url}/dashboard/keys/revoke`, {
      method: 'POST',
      headers: { cookie: `${cookie!.name}=${cookie!.value}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=phone',
    });
    expect(forged.status).toBe(403);
    const wrongToken = await fetch(`${worker.url}/dashboard/keys/revoke`, {
      method: 'POST',
      headers: { cookie: `${cookie!.name}=${cookie!.value}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=phone&csrf=' + 'A'.repeat(43),
    });
    expect(wrongToken.status).toBe(403);
    expect((await client.callTool('health')).isError).toBeFalsy();

    // revoke in the dashboard: the client's next call is refused
    await p.click('tr[data-key="phone"] button.danger');
    await expect.poll(() => p.textContent('tr[data-key="phone"]')).toMatch(/revoked/);
    await expect(client.callTool('health')).rejects.toThrow(/401|revoked/);
    await client.close().catch(() => undefined);

    // signed out: the dashboard asks for the key again
    await p.click('form[action="/dashboard/logout"] button');
    await p.waitForSelector('#key');
    await ctx.close();
  });
});

describe('dashboard cost estimate (the COST_ESTIMATE var init sets)', () => {
  /** Signs in with the admin key as the browser's form does and returns the main page's HTML. */
  async function dashboardHtml(w: RunningWorker): Promise<string> {
    const login = await fetch(`${w.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ key: ADMIN_KEY }), redirect: 'manual' });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    return (await fetch(`${w.url}/dashboard`, { headers: { cookie } })).text();
  }

  baseIt('shows the plan: monthly running and stopped figures, its lines, the price date; markup in the var is escaped', async () => {
    const { costEstimateVar } = await import('../src/model/cost-estimate.ts');
    const plan = {
      provider: 'aws',
      region: 'us-east-1',
      size: 'medium',
      instanceType: 't3.large',
      cost: { monthlyUsd: 64.58, stoppedMonthlyUsd: 5.6, priceDate: '2026-11-01', excludes: [], lines: [{ item: 'VM t3.large <script>', monthlyUsd: 60.74, detail: '' }, { item: 'disk 30 GiB gp3', monthlyUsd: 2.4, detail: '' }] },
    } as unknown as import('../src/model/deployment.ts').Plan;
    const w = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN_KEY, vars: { COST_ESTIMATE: costEstimateVar(plan) } });
    try {
      const html = await dashboardHtml(w);
      const cost = /<section><h2>Cost estimate<\/h2>([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
      expect(cost).toContain('about $64.58/month</strong> running, $5.60/month stopped · AWS us-east-1, size medium (t3.large)');
      expect(cost).toContain('<td>VM t3.large &#60;script&#62;</td><td>$60.74</td>');
      expect(cost).not.toContain('<script>');
      expect(cost).toContain('<td>disk 30 GiB gp3</td><td>$2.40</td>');
      expect(html).toContain('List prices of 2026-11-01');
    } finally {
      await w.close();
    }
  });

  baseIt('a Worker without the var (deployed by an older version), or with a malformed one, says where the estimate is', async () => {
    expect(await dashboardHtml(worker)).toMatch(/id="cost">No cost estimate in this Worker/);
    const w = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN_KEY, vars: { COST_ESTIMATE: '{"provider":"aws","monthlyUsd":"lots"}' } });
    try {
      expect(await dashboardHtml(w)).toMatch(/id="cost">No cost estimate in this Worker/);
    } finally {
      await w.close();
    }
  });
});
