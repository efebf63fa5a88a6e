/**
 * One-time pairing codes, kept in the KeyRegistry Durable Object's SQLite (strongly consistent,
 * one method at a time, so "single use" and the failure count are exact).
 *
 * A code is minted by the owner (`crawl4ai-mcp connect --client claude-ai`, through the admin API)
 * and typed on the consent page to prove the approver is the owner. Only its SHA-256 is stored.
 *
 * Brute force: every wrong code is counted in a sliding window shared by the whole deployment
 * (one owner, so no per-user buckets to dodge); past MAX_FAILURES in FAILURE_WINDOW_MS every
 * redemption is refused, the right code included, until the window has room again. With 8
 * characters of a 32-letter alphabet (40 bits), 10 minutes of life and 5 tries per 10 minutes, a
 * guess succeeds with probability about 5e-12.
 */

export const PAIRING_TTL_MS = 10 * 60_000;
export const MAX_FAILURES = 5;
export const FAILURE_WINDOW_MS = 10 * 60_000;
/** Most unredeemed codes kept at once (older ones are dropped). */
const MAX_LIVE_CODES = 20;

interface Sql {
  exec<T = Record<string, unknown>>(query: string, ...bindings: unknown[]): { toArray(): T[]; readonly rowsWritten: number };
}

export type Redemption = { ok: true } | { ok: false; reason: 'wrong_code' | 'rate_limited'; retryAfterSeconds?: number };

export function createPairingTables(sql: Sql): void {
  sql.exec('CREATE TABLE IF NOT EXISTS pairing_codes (hash TEXT PRIMARY KEY, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)');
  sql.exec('CREATE TABLE IF NOT EXISTS pairing_failures (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL)');
}

export function storePairingCode(sql: Sql, hash: string, now: number): { expiresAt: number } {
  const expiresAt = now + PAIRING_TTL_MS;
  sql.exec('DELETE FROM pairing_codes WHERE expires_at <= ?', now);
  sql.exec('INSERT OR REPLACE INTO pairing_codes (hash, created_at, expires_at) VALUES (?, ?, ?)', hash, now, expiresAt);
  sql.exec('DELETE FROM pairing_codes WHERE hash NOT IN (SELECT hash FROM pairing_codes ORDER BY created_at DESC LIMIT ?)', MAX_LIVE_CODES);
  return { expiresAt };
}

/** Uses up the code whose hash is `hash` if it is live and the failure budget allows a try. */
export function redeemPairingCode(sql: Sql, hash: string, now: number): Redemption {
  sql.exec('DELETE FROM pairing_failures WHERE at <= ?', now - FAILURE_WINDOW_MS);
  const failures = sql.exec<{ at: number }>('SELECT at FROM pairing_failures ORDER BY at').toArray();
  if (failures.length >= MAX_FAILURES) {
    const oldest = failures[0]!.at;
    return { ok: false, reason: 'rate_limited', retryAfterSeconds: Math.max(1, Math.ceil((oldest + FAILURE_WINDOW_MS - now) / 1000)) };
  }
  const used = sql.exec('DELETE FROM pairing_codes WHERE hash = ? AND expires_at > ?', hash, now);
  if (used.rowsWritten > 0) return { ok: true };
  sql.exec('INSERT INTO pairing_failures (at) VALUES (?)', now);
  return { ok: false, reason: 'wrong_code' };
}
