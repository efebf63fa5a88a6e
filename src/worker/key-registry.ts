/**
 * KeyRegistry: the Worker's API-key store, a Durable Object with SQLite storage (binding `KEYS`,
 * one instance named "registry"). Chosen over KV for strong consistency: the keys issue adds
 * per-key tool scopes, rate limits and exact daily counters here, which KV's eventual consistency
 * cannot give.
 *
 * It holds only SHA-256 hashes. The bootstrap key's hash comes from the Worker secret
 * `BOOTSTRAP_KEY_SHA256` and is seeded on first use; changing the secret replaces the bootstrap
 * key (the old one stops working).
 */
import { DurableObject } from 'cloudflare:workers';
import { API_KEY_HASH_RE, constantTimeEqual } from '../ground/api-key.js';

export interface KeyCheck {
  ok: boolean;
  id?: string;
  name?: string;
}

interface KeyRow {
  id: string;
  name: string;
  hash: string;
}

export class KeyRegistry extends DurableObject {
  /** Active keys, loaded once per instance and refreshed when the table changes. */
  private active: KeyRow[] | null = null;
  private seeded: string | undefined;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS api_keys (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      hash TEXT NOT NULL UNIQUE,
      source TEXT NOT NULL DEFAULT 'created',
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    )`);
  }

  private load(): KeyRow[] {
    if (!this.active) {
      this.active = this.ctx.storage.sql.exec<KeyRow>('SELECT id, name, hash FROM api_keys WHERE revoked_at IS NULL').toArray();
    }
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
   * Is `hash` the hash of an active key? Every stored hash is compared in constant time (no early
   * exit), so the answer time does not depend on which key, if any, matched.
   */
  verify(hash: string, bootstrapHash?: string): KeyCheck {
    if (bootstrapHash) this.seedBootstrap(bootstrapHash.trim().toLowerCase());
    let match: KeyRow | undefined;
    for (const row of this.load()) {
      const eq = constantTimeEqual(row.hash, hash);
      if (eq && !match) match = row;
    }
    return match ? { ok: true, id: match.id, name: match.name } : { ok: false };
  }

  /** Number of active keys (diagnostics; the keys issue adds management). */
  count(): number {
    return this.load().length;
  }
}
