import { randomUUID } from 'node:crypto';
import type { DeploymentState, ResourceRecord } from './schema.js';
import type { StateStore } from './store.js';

export type MetaValue = string | number | boolean | null;
export type Meta = Record<string, MetaValue>;

export interface IntendOptions {
  /** idempotency token for the create call; a fresh UUID when omitted (valid as EC2 ClientToken and GCP requestId) */
  token?: string;
  region?: string;
  meta?: Meta;
}

/**
 * The resource journal of one deployment. Every method that changes the state persists it
 * before returning, so the file on disk survives a crash between two cloud calls:
 *
 *   const rec = await journal.intend('aws:instance', 'aws:instance', { region });  // BEFORE the call
 *   const id = await ec2.runInstances({ ClientToken: rec.token, ... });
 *   await journal.created('aws:instance', id, { publicIp });                      // AFTER the call
 *
 * If a write fails (e.g. a secret slipped into meta) the in-memory state is rolled back too.
 */
export class Journal {
  private readonly store: StateStore;
  private current: DeploymentState;

  constructor(store: StateStore, state: DeploymentState) {
    this.store = store;
    this.current = state;
  }

  get state(): DeploymentState {
    return this.current;
  }

  find(key: string): ResourceRecord | undefined {
    return this.current.resources.find((r) => r.key === key);
  }

  /**
   * Records the intent to create `key` (phase 'intent') and persists it. Resuming: an existing
   * record in phase 'intent' keeps its token (so the retried create call is deduplicated by the
   * cloud); a record in phase 'deleted' starts over with a fresh token and moves to the end of the
   * creation order. Throws if the record is 'created' or 'deleting' — check find() first.
   */
  async intend(key: string, kind: string, opts: IntendOptions = {}): Promise<ResourceRecord> {
    const existing = this.find(key);
    if (existing && (existing.phase === 'created' || existing.phase === 'deleting')) {
      throw new Error(
        `journal: resource ${key} is already ${existing.phase}${existing.id ? ` (id ${existing.id})` : ''}; check find() before intend()`,
      );
    }
    await this.commit((s) => {
      const now = new Date().toISOString();
      if (existing && existing.phase === 'intent') {
        const rec = s.resources.find((r) => r.key === key)!;
        rec.kind = kind;
        if (opts.region !== undefined) rec.region = opts.region;
        rec.token ??= opts.token ?? randomUUID();
        rec.meta = { ...rec.meta, ...opts.meta };
        rec.updatedAt = now;
        return;
      }
      s.resources = s.resources.filter((r) => r.key !== key);
      const rec: ResourceRecord = {
        key,
        kind,
        phase: 'intent',
        token: opts.token ?? randomUUID(),
        meta: { ...opts.meta },
        createdAt: now,
        updatedAt: now,
      };
      if (opts.region !== undefined) rec.region = opts.region;
      s.resources.push(rec);
    });
    return this.find(key)!;
  }

  /** The create call answered: phase 'created' with the cloud's id (meta is merged). */
  async created(key: string, id: string, meta?: Meta): Promise<void> {
    this.mustFind(key);
    await this.commit((s) => {
      const rec = s.resources.find((r) => r.key === key)!;
      rec.phase = 'created';
      rec.id = id;
      if (meta) rec.meta = { ...rec.meta, ...meta };
      rec.updatedAt = new Date().toISOString();
    });
  }

  /** About to issue the delete call. */
  async deleting(key: string): Promise<void> {
    await this.setPhase(key, 'deleting');
  }

  /** The resource is gone; the record is kept (phase 'deleted') for history. */
  async deleted(key: string): Promise<void> {
    await this.setPhase(key, 'deleted');
  }

  /** Records that may own a cloud resource (intent, created, deleting), in creation order. Destroy walks it backwards. */
  live(): ResourceRecord[] {
    return this.current.resources.filter((r) => r.phase !== 'deleted');
  }

  /**
   * Shallow-merges `patch` into the state and persists it (e.g. `{ status: 'ready', outputs }`).
   * Top-level fields are replaced, not merged: pass the whole `outputs` object.
   */
  async update(patch: Partial<DeploymentState>): Promise<void> {
    if (patch.name !== undefined && patch.name !== this.current.name) {
      throw new Error(`journal: cannot rename deployment ${this.current.name} to ${patch.name}`);
    }
    await this.commit((s) => {
      Object.assign(s, patch);
    });
  }

  private mustFind(key: string): ResourceRecord {
    const rec = this.find(key);
    if (!rec) throw new Error(`journal: no resource record ${key} (call intend() first)`);
    return rec;
  }

  private async setPhase(key: string, phase: ResourceRecord['phase']): Promise<void> {
    this.mustFind(key);
    await this.commit((s) => {
      const rec = s.resources.find((r) => r.key === key)!;
      rec.phase = phase;
      rec.updatedAt = new Date().toISOString();
    });
  }

  /** Commits run one at a time, in call order (init journals two chains at once: the VM and the Worker). */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Applies `mutate` to the state and persists it; on a failed write the state is restored.
   * Serialised: two overlapping writes could otherwise land out of order (an older state renamed
   * over a newer one) or sweep each other's temp file.
   */
  private commit(mutate: (s: DeploymentState) => void): Promise<void> {
    const run = this.queue.then(() => this.commitNow(mutate));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async commitNow(mutate: (s: DeploymentState) => void): Promise<void> {
    const before = structuredClone(this.current);
    mutate(this.current);
    try {
      await this.store.write(this.current);
    } catch (e) {
      // Restore in place, so references callers hold to the state object stay valid.
      for (const k of Object.keys(this.current)) delete (this.current as Record<string, unknown>)[k];
      Object.assign(this.current, before);
      throw e;
    }
  }
}
