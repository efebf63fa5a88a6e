/**
 * The management dashboard, `/dashboard`: server-rendered HTML, no script at all.
 *
 * - Sign in with the admin key: the answer is a session cookie (HttpOnly, Secure, SameSite=Strict,
 *   Path=/dashboard, 12 h) holding an expiry and its HMAC, keyed by the Worker secret
 *   ADMIN_KEY_SHA256, so nothing is stored and a new admin key ends every session.
 * - Every form carries a CSRF token, the HMAC of the session, checked on each POST (on top of
 *   SameSite=Strict and the Worker's Origin check).
 * - CSP: no script, styles only from /dashboard/style.css, forms only to this origin, no framing.
 */
import type { KeyInfo, RecentCall } from './key-registry.js';
import { isAdminKey, parseKeySettings, type AdminEnv } from './admin-api.js';
import { generateApiKey, hashApiKey, constantTimeEqual } from '../ground/api-key.js';
import { registryOf } from './key-auth.js';
import { revokeKeyNamed } from './oauth/admin.js';
import { TOOLS } from '../mcp/server.js';
import type { CostEstimate } from '../model/cost-estimate.js';

/** Crawl4AI's GET /monitor/health, the fields the dashboard shows. */
export interface MonitorHealth {
  container?: { memory_percent?: number; cpu_percent?: number; uptime_seconds?: number };
  pool?: { total_memory_mb?: number };
  janitor?: { memory_pressure?: string };
}

export type OriginFigures =
  | { memoryPercent?: number; cpuPercent?: number; uptimeSeconds?: number; browserMemoryMb?: number; memoryPressure?: string; requests?: number }
  | { error: string };

export interface DashboardDeps {
  version: string;
  /** the COST_ESTIMATE var made by `init` (absent on Workers deployed before it existed) */
  costEstimate?: CostEstimate;
  originHealth(): Promise<{ ok: boolean; version?: string; error?: string }>;
  originFigures(): Promise<OriginFigures>;
}

function figuresHtml(f: OriginFigures): string {
  if ('error' in f) return `<p class="muted" id="figures">Crawl4AI's monitor figures are not available (${esc(f.error)}).</p>`;
  const cell = (label: string, v: unknown) => (v === undefined ? '' : `<div><span class="muted">${label}</span><br><strong>${esc(v)}</strong></div>`);
  return `<div class="grid" id="figures">${cell('memory', f.memoryPercent === undefined ? undefined : `${f.memoryPercent}%`)}${cell('CPU', f.cpuPercent === undefined ? undefined : `${f.cpuPercent}%`)}${cell('browser pool', f.browserMemoryMb === undefined ? undefined : `${f.browserMemoryMb} MB`)}${cell('memory pressure', f.memoryPressure)}${cell('requests served', f.requests)}${cell('up', f.uptimeSeconds === undefined ? undefined : `${Math.floor(f.uptimeSeconds / 3600)} h ${Math.floor((f.uptimeSeconds % 3600) / 60)} min`)}</div>`;
}

const usdText = (n: number) => `$${n.toFixed(2)}`;

function costHtml(c: CostEstimate | undefined): string {
  if (!c) return '<p class="muted" id="cost">No cost estimate in this Worker (deployed by an older version): <code>crawl4ai-mcp status</code> shows it; re-running <code>crawl4ai-mcp init</code> adds it here.</p>';
  const rows = c.lines.map((l) => `<tr><td>${esc(l.item)}</td><td>${usdText(l.monthlyUsd)}</td></tr>`).join('');
  return `<div id="cost"><p><strong>about ${usdText(c.monthlyUsd)}/month</strong> running, ${usdText(c.stoppedMonthlyUsd)}/month stopped · ${esc(c.provider.toUpperCase())} ${esc(c.region)}, size ${esc(c.size)} (${esc(c.instanceType)})</p>
<div class="scroll"><table><thead><tr><th>item</th><th>per month</th></tr></thead><tbody>${rows}</tbody></table></div>
<p class="muted">List prices of ${esc(c.priceDate)}, as planned at deploy time; after <code>crawl4ai-mcp scale</code>, <code>crawl4ai-mcp status</code> has the current figure.</p></div>`;
}

const COOKIE = 'c4m_session';
const SESSION_SECONDS = 12 * 3600;
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  // not no-referrer: with it Chromium sends "Origin: null" on form posts, which the Origin guard refuses
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

const enc = new TextEncoder();

function b64url(bytes: ArrayBuffer): string {
  let bin = '';
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function mac(env: AdminEnv, what: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', enc.encode(`dashboard:${(env.ADMIN_KEY_SHA256 ?? '').trim().toLowerCase()}`), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return b64url(await crypto.subtle.sign('HMAC', key, enc.encode(what)));
}

async function newSession(env: AdminEnv): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + SESSION_SECONDS;
  return `${exp}.${await mac(env, `session.${exp}`)}`;
}

function cookieOf(request: Request): string | undefined {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

/** The valid session of the request, or undefined. */
async function sessionOf(request: Request, env: AdminEnv): Promise<string | undefined> {
  const s = cookieOf(request);
  const m = s ? /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(s) : null;
  if (!m || Number(m[1]) * 1000 <= Date.now()) return undefined;
  return constantTimeEqual(m[2]!, await mac(env, `session.${m[1]}`)) ? s : undefined;
}

const csrfFor = (env: AdminEnv, session: string) => mac(env, `csrf.${session}`);

function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string, status = 200, extra: Record<string, string> = {}): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · crawl4ai-mcp</title><link rel="stylesheet" href="/dashboard/style.css"></head><body><main>${body}</main></body></html>`;
  return new Response(html, { status, headers: { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS, ...extra } });
}

const CSS = `*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1d2330;background:#f5f6f8}
main{max-width:980px;margin:0 auto;padding:16px}h1{font-size:1.35rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:12px 14px;margin-bottom:14px}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eceff3;white-space:nowrap}
th{font-weight:600;color:#555}.ok{color:#137333}.bad{color:#b3261e}.muted{color:#6b7280}
form.inline{display:inline}button{font:inherit;padding:5px 10px;border-radius:6px;border:1px solid #b9c0cb;background:#fff;cursor:pointer}
button.danger{border-color:#e0a8a4;color:#b3261e}button.primary{background:#1a56db;border-color:#1a56db;color:#fff}
label{display:block;margin:.4rem 0 .15rem;font-size:.85rem;color:#444}input{font:inherit;width:100%;max-width:420px;padding:6px 8px;border:1px solid #b9c0cb;border-radius:6px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:8px 14px}.key{font-family:ui-monospace,monospace;word-break:break-all;background:#fff8e1;padding:8px;border-radius:6px}
header{display:flex;justify-content:space-between;align-items:center;gap:8px;flex-wrap:wrap}svg{max-width:100%;height:auto}
fieldset{border:1px solid #dde1e7;border-radius:6px;margin:0 0 10px;padding:6px 10px}ul.plain{list-style:none;padding:0;margin:0}ul.plain label{display:flex;gap:6px;align-items:center;font-size:.9rem}input[type=checkbox]{width:auto}
@media (max-width:600px){main{padding:8px}th,td{padding:5px 6px}}`;

function loginPage(message?: string, status = 200): Response {
  return page(
    'Sign in',
    `<h1>crawl4ai-mcp dashboard</h1><section>${message ? `<p class="bad" role="alert">${esc(message)}</p>` : ''}
<form method="post" action="/dashboard/login"><label for="key">Admin key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required>
<p class="muted">The admin key is in your secret store (made by <code>crawl4ai-mcp init</code>); <code>crawl4ai-mcp dashboard</code> opens this page.</p>
<button class="primary" type="submit">Sign in</button></form></section>`,
    status,
  );
}

const when = (ms: number | null) => (ms === null ? '–' : new Date(ms).toISOString().slice(0, 16).replace('T', ' '));

function usageChart(keys: KeyInfo[]): string {
  const rows = keys.filter((k) => k.revoked_at === null || k.usage.calls > 0);
  const max = Math.max(1, ...rows.map((k) => k.usage.calls));
  const h = 24;
  const bars = rows
    .map((k, i) => {
      const w = Math.round((k.usage.calls / max) * 300);
      const we = Math.round((k.usage.errors / max) * 300);
      return `<text x="0" y="${i * h + 16}" font-size="12">${esc(k.name.slice(0, 18))}</text><rect x="130" y="${i * h + 4}" width="${w}" height="15" fill="#1a56db"></rect><rect x="130" y="${i * h + 4}" width="${we}" height="15" fill="#b3261e"></rect><text x="${136 + w}" y="${i * h + 16}" font-size="12">${k.usage.calls}</text>`;
    })
    .join('');
  return `<svg role="img" aria-label="tool calls per key" viewBox="0 0 520 ${Math.max(1, rows.length) * h + 4}" width="520">${bars}</svg><p class="muted">Tool calls per key (errors in red).</p>`;
}

async function mainPage(env: AdminEnv, deps: DashboardDeps, session: string, notice = ''): Promise<Response> {
  const registry = registryOf(env);
  const [keys, recent, origin, figures, csrf] = await Promise.all([registry.listKeys(true), registry.recentCalls(30), deps.originHealth(), deps.originFigures(), csrfFor(env, session)]);
  const token = `<input type="hidden" name="csrf" value="${esc(csrf)}">`;
  const active = keys.filter((k) => k.revoked_at === null);
  const keyRows = keys
    .map((k) => {
      const state = k.revoked_at !== null ? 'revoked' : k.expires_at !== null && k.expires_at <= Date.now() ? 'expired' : 'active';
      const actions =
        state === 'active' && k.source !== 'bootstrap'
          ? `${k.source === 'oauth' ? '' : `<form class="inline" method="post" action="/dashboard/keys/rotate">${token}<input type="hidden" name="name" value="${esc(k.name)}"><button type="submit">Rotate</button></form>`}
<form class="inline" method="post" action="/dashboard/keys/revoke">${token}<input type="hidden" name="name" value="${esc(k.name)}"><button class="danger" type="submit" aria-label="Revoke ${esc(k.name)}">Revoke</button></form>`
          : '';
      return `<tr data-key="${esc(k.name)}"><td>${esc(k.name)}</td><td class="${state === 'active' ? 'ok' : 'bad'}">${state}</td><td>${esc(k.tools ? k.tools.join(', ') : 'all')}</td><td>${esc(k.rpm ?? '∞')}/min, ${esc(k.daily ?? '∞')}/day</td><td class="calls">${k.usage.calls}</td><td>${k.usage.today}</td><td>${k.usage.errors}</td><td>${k.usage.bytes}</td><td>${when(k.last_used_at)}</td><td>${when(k.expires_at)}</td><td>${actions}</td></tr>`;
    })
    .join('');
  const recentRows = recent
    .map((c: RecentCall) => `<tr><td>${when(c.at)}</td><td>${esc(c.key)}</td><td>${esc(c.tool)}</td><td>${esc(c.host ?? '–')}</td><td class="${c.error ? 'bad' : 'ok'}">${c.error ? 'error' : 'ok'}</td><td>${c.ms} ms</td></tr>`)
    .join('');
  return page(
    'Dashboard',
    `<header><h1>crawl4ai-mcp dashboard</h1><form class="inline" method="post" action="/dashboard/logout">${token}<button type="submit">Sign out</button></form></header>
${notice}
<section><h2>Origin</h2><p class="${origin.ok ? 'ok' : 'bad'}" id="origin">${origin.ok ? `Crawl4AI healthy${origin.version ? ` (${esc(origin.version)})` : ''}` : `Crawl4AI unreachable: ${esc(origin.error ?? 'unknown')}`}</p>
${figuresHtml(figures)}
<p class="muted">Worker ${esc(deps.version)} · ${active.length} active key${active.length === 1 ? '' : 's'}</p></section>
<section><h2>Cost estimate</h2>${costHtml(deps.costEstimate)}</section>
<section><h2>Usage</h2>${usageChart(keys)}</section>
<section><h2>Keys</h2><div class="scroll"><table><thead><tr><th>name</th><th>state</th><th>tools</th><th>limits</th><th>calls</th><th>today</th><th>errors</th><th>bytes</th><th>last used</th><th>expires</th><th></th></tr></thead><tbody>${keyRows}</tbody></table></div></section>
<section><h2>Create a key</h2><form method="post" action="/dashboard/keys">${token}<div class="grid">
<div><label for="name">Name</label><input id="name" name="name" required pattern="[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}"></div>
<div><label for="tools">Tools (comma-separated; empty = all)</label><input id="tools" name="tools" placeholder="${esc(TOOLS.map((t) => t.name).slice(0, 3).join(','))}"></div>
<div><label for="rpm">Calls per minute</label><input id="rpm" name="rpm" inputmode="numeric"></div>
<div><label for="daily">Calls per day</label><input id="daily" name="daily" inputmode="numeric"></div>
<div><label for="expires_days">Expires in days</label><input id="expires_days" name="expires_days" inputmode="numeric"></div></div>
<p><button class="primary" type="submit">Create key</button></p></form></section>
<section><h2>Recent calls</h2><div class="scroll"><table><thead><tr><th>time (UTC)</th><th>key</th><th>tool</th><th>host</th><th>status</th><th>latency</th></tr></thead><tbody>${recentRows}</tbody></table></div></section>`,
  );
}

function newKeyNotice(verb: string, name: string, apiKey: string): string {
  return `<section role="status"><p><strong>${esc(verb)} key “${esc(name)}”.</strong> Copy it now: it is shown once (only its hash is kept).</p><p class="key" id="new-key">${esc(apiKey)}</p></section>`;
}

function errorNotice(message: string): string {
  return `<section role="alert"><p class="bad">${esc(message)}</p></section>`;
}

const intOrUndefined = (v: FormDataEntryValue | null) => (typeof v === 'string' && v.trim() !== '' ? Number(v.trim()) : undefined);

export async function dashboardRoute(request: Request, env: AdminEnv, path: string, deps: DashboardDeps): Promise<Response> {
  if (path === '/dashboard/style.css') return new Response(CSS, { headers: { 'content-type': 'text/css; charset=utf-8', ...SECURITY_HEADERS } });
  if (!env.ADMIN_KEY_SHA256) return page('Not set up', '<h1>No admin key</h1><p>Redeploy with <code>crawl4ai-mcp init</code> to make one.</p>', 404);

  if (path === '/dashboard/login' && request.method === 'POST') {
    const form = await request.formData().catch(() => null);
    const key = form?.get('key');
    if (typeof key !== 'string' || !(await isAdminKey(key.trim(), env))) return loginPage('wrong admin key', 401);
    return new Response(null, {
      status: 303,
      headers: { location: '/dashboard', 'set-cookie': `${COOKIE}=${await newSession(env)}; Path=/dashboard; HttpOnly; Secure; SameSite=Strict; Max-Age=${SESSION_SECONDS}`, ...SECURITY_HEADERS },
    });
  }

  const session = await sessionOf(request, env);
  if (path === '/dashboard' && request.method === 'GET') return session ? mainPage(env, deps, session) : loginPage();
  if (request.method !== 'POST') return page('Not found', '<h1>Not found</h1>', 404);
  if (!session) return loginPage('please sign in', 401);
  const form = await request.formData().catch(() => null);
  const csrf = form?.get('csrf');
  if (!form || typeof csrf !== 'string' || !constantTimeEqual(csrf, await csrfFor(env, session))) {
    return page('Refused', '<h1>Refused</h1><p class="bad">The form is missing its security token (CSRF). Reload the dashboard and try again.</p>', 403);
  }
  const registry = registryOf(env);
  const name = String(form.get('name') ?? '');
  if (path === '/dashboard/logout') {
    return new Response(null, { status: 303, headers: { location: '/dashboard', 'set-cookie': `${COOKIE}=; Path=/dashboard; HttpOnly; Secure; SameSite=Strict; Max-Age=0`, ...SECURITY_HEADERS } });
  }
  if (path === '/dashboard/keys') {
    const tools = String(form.get('tools') ?? '').split(',').map((t) => t.trim()).filter(Boolean);
    const days = intOrUndefined(form.get('expires_days'));
    const s = parseKeySettings({
      name,
      tools: tools.length ? tools : undefined,
      rpm: intOrUndefined(form.get('rpm')),
      daily: intOrUndefined(form.get('daily')),
      expires_in_seconds: days === undefined ? undefined : days * 86_400,
    });
    if (!s.ok) return mainPage(env, deps, session, errorNotice(((await s.response.json()) as { message: string }).message));
    const apiKey = generateApiKey();
    const made = await registry.createKey({ ...s.value, hash: await hashApiKey(apiKey) });
    if ('error' in made) return mainPage(env, deps, session, errorNotice(made.error));
    return mainPage(env, deps, session, newKeyNotice('Created', name, apiKey));
  }
  if (path === '/dashboard/keys/revoke') {
    const n = await revokeKeyNamed(env, name); // an OAuth client loses its registration too
    return mainPage(env, deps, session, n ? `<section role="status"><p>Revoked “${esc(name)}”.</p></section>` : errorNotice(`no active key named "${name}"`));
  }
  if (path === '/dashboard/keys/rotate') {
    const apiKey = generateApiKey();
    const made = await registry.rotateKey(name, await hashApiKey(apiKey), 0);
    if ('error' in made) return mainPage(env, deps, session, errorNotice(made.error));
    return mainPage(env, deps, session, newKeyNotice('Rotated', name, apiKey));
  }
  return page('Not found', '<h1>Not found</h1>', 404);
}
