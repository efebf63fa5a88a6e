// Durable Object namespaces: created by the migrations in a Worker upload, listed by the API, removed with the Worker.
import { CfApiError, hexId, paginate } from './envelope.js';
import type { Router } from './router.js';
import type { Migrations } from './upload.js';

export interface DurableObjectNamespace {
  id: string;
  name: string;
  script: string;
  class: string;
  use_sqlite: boolean;
}

/** [U] codes for migration errors. */
const MIGRATION_TAG_MISMATCH = 10079;

export class DurableObjectStore {
  readonly #namespaces = new Map<string, DurableObjectNamespace>();

  constructor(readonly accountId: string) {}

  list(): DurableObjectNamespace[] {
    return [...this.#namespaces.values()];
  }

  classesOf(script: string): DurableObjectNamespace[] {
    return this.list().filter((ns) => ns.script === script);
  }

  find(script: string, className: string): DurableObjectNamespace | undefined {
    return this.list().find((ns) => ns.script === script && ns.class === className);
  }

  /**
   * Checks the migrations of an upload against the Worker's current tag; returns a function that applies them
   * (so a failed upload changes nothing) and the tag the Worker will have afterwards.
   */
  planMigrations(script: string, currentTag: string | undefined, migrations: Migrations | undefined): { apply: () => void; newTag: string | undefined } {
    if (!migrations) return { apply: () => {}, newTag: currentTag };
    if (migrations.old_tag !== undefined && migrations.old_tag !== currentTag) {
      throw new CfApiError(
        400,
        MIGRATION_TAG_MISMATCH,
        `Migration precondition failed: old_tag "${migrations.old_tag}" does not match the script's current migration tag "${currentTag ?? ''}"`,
      );
    }
    const steps = migrations.steps ?? [];
    const apply = (): void => {
      for (const step of steps) {
        for (const className of step.new_classes ?? []) this.#create(script, className, false);
        for (const className of step.new_sqlite_classes ?? []) this.#create(script, className, true);
        for (const { from, to } of step.renamed_classes ?? []) {
          const ns = this.find(script, from);
          if (ns) {
            ns.class = to;
            ns.name = `${script}_${to}`;
          }
        }
        for (const className of step.deleted_classes ?? []) {
          const ns = this.find(script, className);
          if (ns) this.#namespaces.delete(ns.id);
        }
      }
    };
    return { apply, newTag: migrations.new_tag ?? currentTag };
  }

  deleteForScript(script: string): void {
    for (const ns of this.classesOf(script)) this.#namespaces.delete(ns.id);
  }

  #create(script: string, className: string, useSqlite: boolean): void {
    if (this.find(script, className)) return;
    const id = hexId();
    this.#namespaces.set(id, { id, name: `${script}_${className}`, script, class: className, use_sqlite: useSqlite });
  }

  register(router: Router): void {
    router.on('GET', '/accounts/:account/workers/durable_objects/namespaces', (req) => {
      const { result, resultInfo } = paginate(this.list(), req.query, 20, 1000);
      return { result, resultInfo };
    });
    router.on('GET', '/accounts/:account/workers/durable_objects/namespaces/:id', (req) => {
      const ns = this.#namespaces.get(req.params.id!);
      if (!ns) throw new CfApiError(404, 10066, 'Durable Object namespace not found');
      return { result: ns };
    });
  }
}
