/**
 * KeyRegistry: the Worker's API-key store, a Durable Object with SQLite storage (binding `KEYS`,
 * one instance named "registry"). Chosen over KV for strong consistency: a Durable Object runs one
 * method at a time, so the check-and-count in `admit` is exact however many calls arrive at once.
 *
 * Speed: a Durable Object holds a response until its storage writes are confirmed (output gate),
 * so the hot path writes nothing. `admit` checks and counts in memory (exact: one method runs at a
 * time, and counters are loaded from SQLite before first use); counters and usage records are
 * written in one transaction at most FLUSH_MS later, and before any management read. A restart of
 * the object can lose at most the last FLUSH_MS of counts, never admit more than the limits in
 * a running object.
 *
 * Per key: name, tool allowlist, requests per minute, daily quota, optional expiry, created /
 * last-used times, revoked time. Usage per key and tool: calls, errors, bytes returned, latency.
 * It holds only SHA-256 hashes of keys, and of each call only the tool name and the URL's host.
 *
 * The bootstrap key's hash comes from the Worker secret `BOOTSTRAP_KEY_SHA256` and is seeded on
 * first use; changing the secret replaces the bootstrap key (the old one stops working).
 */
import { DurableObject } from 'cloudflare:workers';
import { RateWindow } from './rate-window.js';
import { API_KEY_HASH_RE, constantTimeEqual } from '../ground/api-key.js';
import type { KeyInfo, ToolUsage } from '../model/keys.js';
import { createPairingTables, redeemPairingCode, storePairingCode, type Redemption } from './oauth/pairing-store.js';

export type { KeyInfo, ToolUsage } from '../model/keys.js';

/** A verified key, as the Worker needs it on each request (cached briefly per isolate). */
export interface KeyGrant {
  id: string;
  name: string;
  /** tool allowlist; null = every tool */
  tools: string[] | null;
}

export interface KeyCheck {
  ok: boolean;
  id?: string;
  name?: string;
  tools?: string[] | null;
  /** why a known key was refused (expired, revoked) */
  reason?: string;
}

export type Admission =
  | { ok: true; grant: KeyGrant }
  | { ok: false; status: 401; reason: string }
  | { ok: false; status: 429; message: string; retryAfterSeconds: number };

export interface CallRecord {
  keyId: string;
  tool: string;
  /** the URL's host only, never the path or query */
  host: string | null;
  error: boolean;
  bytes: number;
  ms: number;
  at: number;
}

export interface NewKey {
  name: string;
  hash: string;
  tools?: string[] | null;
  rpm?: number | null;
  daily?: number | null;
  expiresAt?: number | null;
  /** 'created' (admin API, dashboard, CLI) or 'oauth' (an approved OAuth client, oauth/consent.ts) */
  source?: 'created' | 'oauth';
}

export interface RecentCall {
  at: number;
  key: string;
  tool: string;
  host: string | null;
  error: number;
  bytes: number;
  ms: number;
}

interface KeyRow {
  id: string;
  name: string;
  hash: string;
  source: string;
  tools: string | null;
  rpm: number | null;
  daily: number | null;
  expires_at: number | null;
}

const RECENT_KEEP = 200;
/** Longest that counters and usage stay in memory only. */
const FLUSH_MS = 1_000;
const DAY = 86_400_000;

/** Columns added after the first release: existing registries get them on start. */
const ADDED_COLUMNS: Array<[string, string]> = [
  ['tools', 'TEXT'],
  ['rpm', 'INTEGER'],
  ['daily', 'INTEGER'],
  ['expires_at', 'INTEGER'],
  ['last_used_at', 'INTEGER'],
];

/** One key's limit counters, as in memory. */
interface Counter {
  /** calls in the sliding minute (requests per minute) */
  minute: RateWindow;
  day: number;
  dn: number;
  lastUsed: number | null;
}

function parseTools(t: string | null): string[] | null {
  return t === null ? null : (JSON.parse(t) as string[]);
}

export class KeyRegistry extends DurableObject {
  /** Active (unrevoked) keys, loaded once per instance and dropped whenever the table changes. */
  private active: KeyRow[] | null = null;
  private seeded: string | undefined;
  private counters = new Map<string, Counter>();
  private dirty = new Set<string>();
  private pending: CallRecord[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS api_keys (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      hash TEXT NOT NULL UNIQUE,
      source TEXT NOT NULL DEFAULT 'created',
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    )`);
    const have = new Set(sql.exec<{ name: string }>('PRAGMA table_info(api_keys)').toArray().map((c) => c.name));
    for (const [col, type] of ADDED_COLUMNS) if (!have.has(col)) sql.exec(`ALTER TABLE api_keys ADD COLUMN ${col} ${type}`);
    // the sliding one-minute window per key (requests per minute): calls per one-second slot with
    // the time of its latest call (rate-window.ts). The fixed-window table `rate` of earlier
    // releases is dropped.
    sql.exec('DROP TABLE IF EXISTS rate');
    sql.exec('CREATE TABLE IF NOT EXISTS rate_slots (key_id TEXT NOT NULL, sec INTEGER NOT NULL, n INTEGER NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (key_id, sec))');
    // admitted calls per key and UTC day (daily quota)
    sql.exec('CREATE TABLE IF NOT EXISTS daily (key_id TEXT NOT NULL, day INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (key_id, day))');
    sql.exec(`CREATE TABLE IF NOT EXISTS usage (
      key_id TEXT NOT NULL, tool TEXT NOT NULL,
      calls INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,
      latency_ms_total INTEGER NOT NULL DEFAULT 0, latency_ms_max INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (key_id, tool))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS recent (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, key_id TEXT NOT NULL, tool TEXT NOT NULL,
      host TEXT, error INTEGER NOT NULL, bytes INTEGER NOT NULL, ms INTEGER NOT NULL)`);
    createPairingTables(sql);
  }

  private load(): KeyRow[] {
    this.active ??= this.ctx.storage.sql
      .exec<KeyRow>('SELECT id, name, hash, source, tools, rpm, daily, expires_at FROM api_keys WHERE revoked_at IS NULL')
      .toArray();
    return this.active;
  }

  private seedBootstrap(hash: string): void {
    if (this.seeded === hash) return;
    if (API_KEY_HASH_RE.test(hash)) {
      const sql = this.ctx.storage.sql;
      this.ctx.storage.transactionSync(() => {
        sql.exec(`DELETE FROM api_keys WHERE source = 'bootstrap' AND hash != ?`, hash);
        sql.exec(
          `INSERT OR IGNORE INTO api_keys (id, name, hash, source, created_at) VALUES ('bootstrap', 'bootstrap', ?, 'bootstrap', ?)`,
          hash,
          Date.now(),
        );
      });
      this.active = null;
    }
    this.seeded = hash;
  }

  /**
   * The active key whose hash is `hash`. Every stored hash is compared in constant time (no early
   * exit), so the answer time does not depend on which key, if any, matched.
   */
  private find(hash: string, bootstrapHash: string | undefined): KeyRow | undefined {
    if (bootstrapHash) this.seedBootstrap(bootstrapHash.trim().toLowerCase());
    let match: KeyRow | undefined;
    for (const row of this.load()) {
      const eq = constantTimeEqual(row.hash, hash);
      if (eq && !match) match = row;
    }
    return match;
  }

  /** Is `hash` the hash of an active, unexpired key? (no counting: initialize, tools/list, /status) */
  verify(hash: string, bootstrapHash?: string): KeyCheck {
    const row = this.find(hash, bootstrapHash);
    if (!row) return { ok: false };
    if (row.expires_at !== null && row.expires_at <= Date.now()) return { ok: false, reason: 'expired' };
    return { ok: true, id: row.id, name: row.name, tools: parseTools(row.tools) };
  }

  /**
   * The one round trip of a tool call: verify the key, then check and count `calls` calls against
   * its per-minute and daily limits, all or nothing. Runs to completion before the next request is
   * served (no await inside), so concurrent calls never over-admit. `finished`: usage records of
   * earlier calls riding along (the Worker's usage-outbox.ts), kept whatever this call's answer.
   */
  admit(hash: string, bootstrapHash: string | undefined, calls: number, finished: CallRecord[] = []): Admission {
    if (finished.length > 0) this.record(finished);
    const now = Date.now();
    const row = this.find(hash, bootstrapHash);
    if (!row) return { ok: false, status: 401, reason: 'unknown or revoked API key' };
    if (row.expires_at !== null && row.expires_at <= now) return { ok: false, status: 401, reason: 'this API key has expired' };
    const c = this.counter(row.id, now);
    if (row.rpm !== null && c.minute.used(now) + calls > row.rpm) {
      const retry = c.minute.retryAfterSeconds(now, row.rpm, calls);
      return { ok: false, status: 429, retryAfterSeconds: retry, message: `rate limit: key "${row.name}" may make ${row.rpm} tool calls per minute; retry after ${retry} s` };
    }
    if (row.daily !== null && c.dn + calls > row.daily) {
      const retry = Math.max(1, Math.ceil(((c.day + 1) * DAY - now) / 1000));
      return {
        ok: false,
        status: 429,
        retryAfterSeconds: retry,
        message: `daily quota: key "${row.name}" may make ${row.daily} tool calls per day (UTC); retry after ${retry} s (at 00:00 UTC)`,
      };
    }
    c.minute.add(now, calls);
    c.dn += calls;
    c.lastUsed = now;
    this.dirty.add(row.id);
    this.scheduleFlush();
    return { ok: true, grant: { id: row.id, name: row.name, tools: parseTools(row.tools) } };
  }

  /** A key's counters for the sliding minute and the UTC day, read from SQLite on first use. */
  private counter(id: string, now: number): Counter {
    const day = Math.floor(now / DAY);
    let c = this.counters.get(id);
    if (!c) {
      const sql = this.ctx.storage.sql;
      const slots = sql.exec<{ sec: number; n: number; last: number }>('SELECT sec, n, last FROM rate_slots WHERE key_id = ?', id).toArray();
      const d = sql.exec<{ n: number }>('SELECT n FROM daily WHERE key_id = ? AND day = ?', id, day).toArray()[0];
      c = { minute: new RateWindow(slots), day, dn: d?.n ?? 0, lastUsed: null };
      this.counters.set(id, c);
    }
    if (c.day !== day) {
      c.day = day;
      c.dn = 0;
    }
    return c;
  }

  private scheduleFlush(): void {
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Writes the dirty counters and the pending usage records in one transaction. */
  private flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.dirty.size === 0 && this.pending.length === 0) return;
    const sql = this.ctx.storage.sql;
    const dirty = [...this.dirty];
    const records = this.pending;
    this.dirty = new Set();
    this.pending = [];
    this.ctx.storage.transactionSync(() => {
      const now = Date.now();
      for (const id of dirty) {
        const c = this.counters.get(id);
        if (!c) continue;
        // only what changed: the slots called in since the last flush, and those out of the window
        // (Durable Object storage is billed by rows written; the window is up to 61 rows a key)
        sql.exec('DELETE FROM rate_slots WHERE key_id = ? AND last <= ?', id, RateWindow.expiredBefore(now));
        for (const slot of c.minute.takeChanged(now)) {
          sql.exec('INSERT INTO rate_slots (key_id, sec, n, last) VALUES (?, ?, ?, ?) ON CONFLICT (key_id, sec) DO UPDATE SET n = excluded.n, last = excluded.last', id, slot.sec, slot.n, slot.last);
        }
        sql.exec('INSERT INTO daily (key_id, day, n) VALUES (?, ?, ?) ON CONFLICT (key_id, day) DO UPDATE SET n = excluded.n', id, c.day, c.dn);
        if (c.lastUsed !== null) sql.exec('UPDATE api_keys SET last_used_at = ? WHERE id = ?', c.lastUsed, id);
      }
      this.writeRecords(records);
    });
  }

  /** Usage of finished calls (sent after the answer, with waitUntil; written with the next flush). */
  record(calls: CallRecord[]): void {
    this.pending.push(...calls);
    this.scheduleFlush();
  }

  /**
   * One upsert per key and tool for the whole batch (not one per call), and only the newest
   * RECENT_KEEP calls into `recent`, which keeps no more: rows written are what storage bills.
   */
  private writeRecords(calls: CallRecord[]): void {
    if (calls.length === 0) return;
    const sql = this.ctx.storage.sql;
    const totals = new Map<string, { keyId: string; tool: string; calls: number; errors: number; bytes: number; msTotal: number; msMax: number }>();
    for (const c of calls) {
      const ms = Math.max(0, Math.round(c.ms));
      const k = `${c.keyId}\u0000${c.tool}`;
      let t = totals.get(k);
      if (!t) totals.set(k, (t = { keyId: c.keyId, tool: c.tool, calls: 0, errors: 0, bytes: 0, msTotal: 0, msMax: 0 }));
      t.calls += 1;
      t.errors += c.error ? 1 : 0;
      t.bytes += c.bytes;
      t.msTotal += ms;
      t.msMax = Math.max(t.msMax, ms);
    }
    for (const t of totals.values()) {
      sql.exec(
        `INSERT INTO usage (key_id, tool, calls, errors, bytes, latency_ms_total, latency_ms_max) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key_id, tool) DO UPDATE SET calls = calls + excluded.calls, errors = errors + excluded.errors, bytes = bytes + excluded.bytes,
           latency_ms_total = latency_ms_total + excluded.latency_ms_total, latency_ms_max = MAX(latency_ms_max, excluded.latency_ms_max)`,
        t.keyId,
        t.tool,
        t.calls,
        t.errors,
        t.bytes,
        t.msTotal,
        t.msMax,
      );
    }
    for (const c of calls.slice(-RECENT_KEEP)) {
      sql.exec('INSERT INTO recent (at, key_id, tool, host, error, bytes, ms) VALUES (?, ?, ?, ?, ?, ?, ?)', c.at, c.keyId, c.tool, c.host, c.error ? 1 : 0, c.bytes, Math.max(0, Math.round(c.ms)));
    }
    sql.exec('DELETE FROM recent WHERE seq <= (SELECT MAX(seq) FROM recent) - ?', RECENT_KEEP);
  }

  // ---- management (the admin API) ----

  createKey(k: NewKey): KeyInfo | { error: string } {
    if (!API_KEY_HASH_RE.test(k.hash)) return { error: 'hash must be 64 lowercase hex characters (SHA-256 of the key)' };
    const sql = this.ctx.storage.sql;
    if (sql.exec('SELECT 1 FROM api_keys WHERE name = ? AND revoked_at IS NULL', k.name).toArray().length > 0) {
      return { error: `a key named "${k.name}" already exists` };
    }
    if (sql.exec('SELECT 1 FROM api_keys WHERE hash = ?', k.hash).toArray().length > 0) return { error: 'that key is already registered' };
    const id = `k_${crypto.randomUUID().replace(/-/g, '').slice(0, 16)}`;
    sql.exec(
      'INSERT INTO api_keys (id, name, hash, source, created_at, tools, rpm, daily, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      id,
      k.name,
      k.hash,
      k.source ?? 'created',
      Date.now(),
      k.tools ? JSON.stringify(k.tools) : null,
      k.rpm ?? null,
      k.daily ?? null,
      k.expiresAt ?? null,
    );
    this.active = null;
    return this.listKeys().find((x) => x.id === id)!;
  }

  /** Revokes every active key named `name` (a rotated key's predecessor included). */
  revokeKey(name: string): number {
    const cur = this.ctx.storage.sql.exec("UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL AND source != 'bootstrap'", Date.now(), name);
    this.active = null;
    return cur.rowsWritten;
  }

  /**
   * A new key under the same name with the same scopes and limits; the old one keeps working for
   * `graceMs` (0 = revoked now) and then expires.
   */
  rotateKey(name: string, newHash: string, graceMs: number): KeyInfo | { error: string } {
    if (!API_KEY_HASH_RE.test(newHash)) return { error: 'hash must be 64 lowercase hex characters (SHA-256 of the key)' };
    const sql = this.ctx.storage.sql;
    const old = sql
      .exec<KeyRow>("SELECT id, name, hash, source, tools, rpm, daily, expires_at FROM api_keys WHERE name = ? AND revoked_at IS NULL AND source != 'bootstrap' ORDER BY created_at DESC", name)
      .toArray();
    const cur = old[0];
    if (!cur) return { error: `no active key named "${name}"` };
    const now = Date.now();
    const id = `k_${crypto.randomUUID().replace(/-/g, '').slice(0, 16)}`;
    this.ctx.storage.transactionSync(() => {
      for (const o of old) {
        if (graceMs <= 0) sql.exec('UPDATE api_keys SET revoked_at = ? WHERE id = ?', now, o.id);
        else sql.exec('UPDATE api_keys SET expires_at = MIN(COALESCE(expires_at, ?), ?) WHERE id = ?', now + graceMs, now + graceMs, o.id);
      }
      sql.exec(
        "INSERT INTO api_keys (id, name, hash, source, created_at, tools, rpm, daily, expires_at) VALUES (?, ?, ?, 'created', ?, ?, ?, ?, ?)",
        id,
        name,
        newHash,
        now,
        cur.tools,
        cur.rpm,
        cur.daily,
        cur.expires_at,
      );
    });
    this.active = null;
    return this.listKeys().find((x) => x.id === id)!;
  }

  listKeys(includeRevoked = false): KeyInfo[] {
    this.flush(); // management reads see every admitted and finished call
    const sql = this.ctx.storage.sql;
    const day = Math.floor(Date.now() / DAY);
    const rows = sql
      .exec<Omit<KeyInfo, 'usage' | 'tools'> & { tools: string | null }>(
        `SELECT id, name, source, tools, rpm, daily, created_at, last_used_at, expires_at, revoked_at FROM api_keys ${includeRevoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY created_at`,
      )
      .toArray();
    const usage = sql.exec<ToolUsage & { key_id: string }>('SELECT * FROM usage ORDER BY tool').toArray();
    const today = new Map(sql.exec<{ key_id: string; n: number }>('SELECT key_id, n FROM daily WHERE day = ?', day).toArray().map((r) => [r.key_id, r.n]));
    return rows.map((r) => {
      const by = usage.filter((u) => u.key_id === r.id).map(({ key_id: _k, ...u }) => u);
      const sum = (f: keyof Omit<ToolUsage, 'tool'>) => by.reduce((a, u) => a + u[f], 0);
      return {
        ...r,
        tools: parseTools(r.tools),
        usage: { calls: sum('calls'), errors: sum('errors'), bytes: sum('bytes'), latency_ms_total: sum('latency_ms_total'), today: today.get(r.id) ?? 0, by_tool: by },
      };
    });
  }

  recentCalls(limit = 50): RecentCall[] {
    this.flush(); // management reads see every admitted and finished call
    return this.ctx.storage.sql
      .exec<RecentCall>(
        'SELECT r.at, COALESCE(k.name, r.key_id) AS key, r.tool, r.host, r.error, r.bytes, r.ms FROM recent r LEFT JOIN api_keys k ON k.id = r.key_id ORDER BY r.seq DESC LIMIT ?',
        Math.min(Math.max(1, limit), RECENT_KEEP),
      )
      .toArray();
  }

  // ---- OAuth pairing codes (oauth/pairing-store.ts) ----

  addPairingCode(hash: string): { expiresAt: number } {
    return storePairingCode(this.ctx.storage.sql, hash, Date.now());
  }

  usePairingCode(hash: string): Redemption {
    return redeemPairingCode(this.ctx.storage.sql, hash, Date.now());
  }

  /** Number of active keys (diagnostics). */
  count(): number {
    return this.load().length;
  }
}
