// Workers scripts: uploads, versions, deployments, settings, workers.dev subdomain, references, delete.
// Every change of code, bindings or secrets is a new version; a deployment points at the version that serves.
import { CfApiError, ErrorCodes, hexId, nowIso, uuid } from './envelope.js';
import type { DurableObjectStore } from './durable-objects.js';
import { formBody, jsonBody, type ApiRequest, type Router } from './router.js';
import { parseWorkerUpload, publicBinding, type ParsedUpload, type UploadedModule, type UploadMetadata, type WorkerBinding } from './upload.js';

export interface ScriptVersion {
  id: string;
  number: number;
  createdOn: string;
  modules: UploadedModule[];
  bindings: WorkerBinding[];
  compatibilityDate?: string;
  compatibilityFlags: string[];
  annotations: Record<string, string>;
  etag: string;
  source: 'wrangler' | 'api';
}

export interface ScriptDeployment {
  id: string;
  createdOn: string;
  source: string;
  strategy: 'percentage';
  versions: Array<{ version_id: string; percentage: number }>;
  annotations: Record<string, string>;
}

export interface ScriptRecord {
  name: string;
  tag: string;
  createdOn: string;
  modifiedOn: string;
  migrationTag?: string;
  versions: ScriptVersion[];
  deployments: ScriptDeployment[];
  workersDev: { enabled: boolean; previews_enabled: boolean };
  settings: { logpush: boolean; observability: unknown; tail_consumers: unknown[]; tags: string[] };
  schedules: Array<{ cron: string }>;
}

/** Checks a binding list against account resources; throws a CfApiError to reject the upload. */
export type BindingValidator = (binding: WorkerBinding, script: string) => void;

export interface ScriptHooks {
  /** the serving version changed (new deployment, secret change) */
  onDeployed(script: string): void;
  /** the Worker is gone, with the Durable Object classes it implemented */
  onDeleted(script: string, durableObjectClasses: string[]): void;
}

const scriptNotFound = (): CfApiError => new CfApiError(404, ErrorCodes.scriptNotFound, 'This Worker does not exist on your account.');
const serviceNotFound = (): CfApiError => new CfApiError(404, ErrorCodes.serviceNotFound, 'This Worker does not exist on your account.');

export class ScriptStore {
  readonly #scripts = new Map<string, ScriptRecord>();
  readonly #validators: BindingValidator[] = [];

  constructor(
    private readonly durableObjects: DurableObjectStore,
    private readonly hooks: ScriptHooks,
  ) {}

  addValidator(validator: BindingValidator): void {
    this.#validators.push(validator);
  }

  names(): string[] {
    return [...this.#scripts.keys()];
  }

  get(name: string): ScriptRecord | undefined {
    return this.#scripts.get(name);
  }

  /** The version that serves traffic: the one with the largest share in the latest deployment. */
  activeVersion(name: string): ScriptVersion | undefined {
    const script = this.#scripts.get(name);
    const deployment = script?.deployments.at(-1);
    if (!script || !deployment) return undefined;
    const top = [...deployment.versions].sort((a, b) => b.percentage - a.percentage)[0];
    return script.versions.find((v) => v.id === top?.version_id);
  }

  secretsOf(name: string): string[] {
    return (this.activeVersion(name)?.bindings ?? []).filter((b) => b.type === 'secret_text' || b.type === 'secret_key').map((b) => b.name);
  }

  #require(name: string): ScriptRecord {
    const script = this.#scripts.get(name);
    if (!script) throw scriptNotFound();
    return script;
  }

  /** Bindings of a new version: the upload's, `inherit` resolved and `keep_bindings` types carried over. */
  #resolveBindings(script: string, metadata: UploadMetadata, previous: ScriptVersion | undefined): WorkerBinding[] {
    const uploaded = metadata.bindings ?? [];
    const result: WorkerBinding[] = [];
    const seen = new Set<string>();
    for (const binding of uploaded) {
      if (!binding.name) throw new CfApiError(400, ErrorCodes.scriptValidation, `A binding of type ${binding.type} has no name`);
      if (seen.has(binding.name)) throw new CfApiError(400, ErrorCodes.scriptValidation, `Binding name '${binding.name}' is used more than once`);
      seen.add(binding.name);
      if (binding.type === 'inherit') {
        const inherited = previous?.bindings.find((b) => b.name === binding.name);
        if (!inherited) {
          throw new CfApiError(400, ErrorCodes.scriptValidation, `Cannot inherit binding '${binding.name}': the previous version has no binding of that name`);
        }
        result.push(inherited);
      } else {
        const { raw: _raw, ...rest } = binding;
        result.push(rest as WorkerBinding);
      }
    }
    const keep = new Set(metadata.keep_bindings ?? []);
    for (const binding of previous?.bindings ?? []) {
      if (keep.has(binding.type) && !seen.has(binding.name)) result.push(binding);
    }
    for (const binding of result) for (const validate of this.#validators) validate(binding, script);
    return result;
  }

  #newVersion(script: ScriptRecord, upload: ParsedUpload, bindings: WorkerBinding[], source: ScriptVersion['source']): ScriptVersion {
    const version: ScriptVersion = {
      id: uuid(),
      number: script.versions.length + 1,
      createdOn: nowIso(),
      modules: upload.modules,
      bindings,
      ...(upload.metadata.compatibility_date ? { compatibilityDate: upload.metadata.compatibility_date } : {}),
      compatibilityFlags: upload.metadata.compatibility_flags ?? [],
      annotations: { ...(upload.metadata.annotations ?? {}) },
      etag: hexId() + hexId(),
      source,
    };
    script.versions.push(version);
    script.modifiedOn = version.createdOn;
    return version;
  }

  #deploy(script: ScriptRecord, versions: ScriptDeployment['versions'], annotations: Record<string, string> = {}, source = 'wrangler'): ScriptDeployment {
    const deployment: ScriptDeployment = { id: uuid(), createdOn: nowIso(), source, strategy: 'percentage', versions, annotations };
    script.deployments.push(deployment);
    script.modifiedOn = deployment.createdOn;
    this.hooks.onDeployed(script.name);
    return deployment;
  }

  /** A new version that differs from the serving one only in bindings (secrets), deployed at once. */
  replaceBindings(name: string, change: (bindings: WorkerBinding[]) => WorkerBinding[]): ScriptVersion {
    const script = this.#require(name);
    const active = this.activeVersion(name);
    const version: ScriptVersion = {
      ...(active ?? { modules: [], compatibilityFlags: [], annotations: {}, source: 'api' as const }),
      id: uuid(),
      number: script.versions.length + 1,
      createdOn: nowIso(),
      bindings: change([...(active?.bindings ?? [])]),
      etag: hexId() + hexId(),
      annotations: { 'workers/triggered_by': 'secret' },
    };
    script.versions.push(version);
    this.#deploy(script, [{ version_id: version.id, percentage: 100 }], {}, 'api');
    return version;
  }

  delete(name: string): void {
    if (!this.#scripts.delete(name)) throw serviceNotFound();
    const classes = this.durableObjects.classesOf(name).map((ns) => ns.class);
    this.durableObjects.deleteForScript(name);
    this.hooks.onDeleted(name, classes);
  }

  #scriptJson(script: ScriptRecord): Record<string, unknown> {
    const active = this.activeVersion(script.name);
    return {
      id: script.name,
      tag: script.tag,
      tags: script.settings.tags,
      etag: active?.etag,
      handlers: ['fetch'],
      created_on: script.createdOn,
      modified_on: script.modifiedOn,
      usage_model: 'standard',
      compatibility_date: active?.compatibilityDate,
      compatibility_flags: active?.compatibilityFlags ?? [],
      ...(script.migrationTag ? { migration_tag: script.migrationTag } : {}),
      last_deployed_from: 'wrangler',
      logpush: script.settings.logpush,
      has_assets: false,
      has_modules: true,
      placement_mode: null,
    };
  }

  #versionJson(script: ScriptRecord, version: ScriptVersion): Record<string, unknown> {
    return {
      id: version.id,
      number: version.number,
      metadata: {
        created_on: version.createdOn,
        modified_on: version.createdOn,
        source: version.source,
        author_id: 'emulator',
        author_email: 'user@example.com',
        has_preview: false,
      },
      annotations: version.annotations,
      resources: {
        // the API names the namespace of each Durable Object binding (wrangler's containers step reads it)
        bindings: version.bindings.map((b) => {
          const pub = publicBinding(b);
          if (b.type !== 'durable_object_namespace' || (b.script_name && b.script_name !== script.name)) return pub;
          const ns = this.durableObjects.find(script.name, String(b.class_name));
          return ns ? { ...pub, namespace_id: ns.id } : pub;
        }),
        script: { etag: version.etag, handlers: ['fetch'], last_deployed_from: 'wrangler' },
        script_runtime: {
          compatibility_date: version.compatibilityDate,
          compatibility_flags: version.compatibilityFlags,
          usage_model: 'standard',
        },
      },
      startup_time_ms: 1,
      script_name: script.name,
    };
  }

  #deploymentJson(d: ScriptDeployment): Record<string, unknown> {
    return {
      id: d.id,
      source: d.source,
      strategy: d.strategy,
      author_email: 'user@example.com',
      created_on: d.createdOn,
      annotations: d.annotations,
      versions: d.versions,
    };
  }

  #settingsJson(script: ScriptRecord): Record<string, unknown> {
    const active = this.activeVersion(script.name);
    return {
      bindings: (active?.bindings ?? []).map(publicBinding),
      compatibility_date: active?.compatibilityDate,
      compatibility_flags: active?.compatibilityFlags ?? [],
      logpush: script.settings.logpush,
      observability: script.settings.observability,
      placement: {},
      tail_consumers: script.settings.tail_consumers,
      tags: script.settings.tags,
      usage_model: 'standard',
    };
  }

  async #upload(req: ApiRequest, createIfMissing: boolean): Promise<{ script: ScriptRecord; version: ScriptVersion }> {
    const name = req.params.script!;
    const upload = await parseWorkerUpload(await formBody(req));
    const existing = this.#scripts.get(name);
    if (!existing && !createIfMissing) throw scriptNotFound();
    const previous = existing ? this.activeVersion(name) : undefined;
    const plan = this.durableObjects.planMigrations(name, existing?.migrationTag, upload.metadata.migrations);
    // validate before changing anything: DO classes the upload binds must exist after its migrations
    const classesAfter = new Set(this.durableObjects.classesOf(name).map((ns) => ns.class));
    for (const step of upload.metadata.migrations?.steps ?? []) {
      for (const c of [...(step.new_classes ?? []), ...(step.new_sqlite_classes ?? [])]) classesAfter.add(c);
      for (const r of step.renamed_classes ?? []) {
        classesAfter.delete(r.from);
        classesAfter.add(r.to);
      }
      for (const c of step.deleted_classes ?? []) classesAfter.delete(c);
    }
    const bindings = this.#resolveBindings(name, upload.metadata, previous);
    for (const b of bindings) {
      if (b.type === 'durable_object_namespace' && !b.script_name && !classesAfter.has(String(b.class_name))) {
        throw new CfApiError(
          400,
          10061,
          `Cannot create binding for class '${String(b.class_name)}' because it is not currently configured to implement Durable Objects. Did you forget to apply a migration?`,
        );
      }
    }
    const script: ScriptRecord = existing ?? {
      name,
      tag: hexId(),
      createdOn: nowIso(),
      modifiedOn: nowIso(),
      versions: [],
      deployments: [],
      workersDev: { enabled: false, previews_enabled: false },
      settings: { logpush: false, observability: undefined, tail_consumers: [], tags: [] },
      schedules: [],
    };
    plan.apply();
    if (plan.newTag !== undefined) script.migrationTag = plan.newTag;
    if (upload.metadata.logpush !== undefined) script.settings.logpush = upload.metadata.logpush;
    if (upload.metadata.observability !== undefined) script.settings.observability = upload.metadata.observability;
    if (upload.metadata.tail_consumers !== undefined) script.settings.tail_consumers = upload.metadata.tail_consumers;
    this.#scripts.set(name, script);
    const version = this.#newVersion(script, upload, bindings, 'wrangler');
    return { script, version };
  }

  register(router: Router): void {
    const s = '/accounts/:account/workers/scripts/:script';

    router.on('GET', '/accounts/:account/workers/scripts', () => ({ result: [...this.#scripts.values()].map((x) => this.#scriptJson(x)) }));

    // upload + deploy at once (first deploy, or any deploy with migrations)
    router.on('PUT', s, async (req) => {
      const { script, version } = await this.#upload(req, true);
      this.#deploy(script, [{ version_id: version.id, percentage: 100 }], version.annotations);
      return {
        result: {
          ...this.#scriptJson(script),
          deployment_id: version.id,
          startup_time_ms: 1,
        },
      };
    });
    router.on('DELETE', s, (req) => {
      this.#require(req.params.script!);
      this.delete(req.params.script!);
      return { result: null };
    });

    // versions and deployments (gradual-deployments API, used by redeploys)
    router.on('POST', `${s}/versions`, async (req) => {
      const { script, version } = await this.#upload(req, false);
      return { result: this.#versionJson(script, version) };
    });
    router.on('GET', `${s}/versions`, (req) => {
      const script = this.#require(req.params.script!);
      const items = [...script.versions].reverse().map((v) => this.#versionJson(script, v));
      return { result: { items } };
    });
    router.on('GET', `${s}/versions/:version`, (req) => {
      const script = this.#require(req.params.script!);
      const version = script.versions.find((v) => v.id === req.params.version);
      if (!version) throw new CfApiError(404, 10219, 'Version not found');
      return { result: this.#versionJson(script, version) };
    });
    router.on('POST', `${s}/deployments`, (req) => {
      const script = this.#require(req.params.script!);
      const body = jsonBody<{ versions?: Array<{ version_id: string; percentage: number }>; annotations?: Record<string, string> }>(req);
      const versions = body.versions ?? [];
      if (versions.length === 0 || versions.reduce((sum, v) => sum + v.percentage, 0) !== 100) {
        throw new CfApiError(400, ErrorCodes.badRequest, 'A deployment needs versions whose percentages add up to 100');
      }
      for (const v of versions) {
        if (!script.versions.some((x) => x.id === v.version_id)) throw new CfApiError(404, 10219, `Version ${v.version_id} not found`);
      }
      const deployment = this.#deploy(script, versions.map((v) => ({ version_id: v.version_id, percentage: v.percentage })), body.annotations ?? {});
      return { result: this.#deploymentJson(deployment) };
    });
    router.on('GET', `${s}/deployments`, (req) => {
      const script = this.#require(req.params.script!);
      return { result: { deployments: [...script.deployments].reverse().map((d) => this.#deploymentJson(d)) } };
    });
    router.on('GET', `${s}/deployments/:deployment`, (req) => {
      const script = this.#require(req.params.script!);
      const d = script.deployments.find((x) => x.id === req.params.deployment);
      if (!d) throw new CfApiError(404, 10216, 'Deployment not found');
      return { result: this.#deploymentJson(d) };
    });

    // settings
    router.on('GET', `${s}/settings`, (req) => ({ result: this.#settingsJson(this.#require(req.params.script!)) }));
    router.on('GET', `${s}/script-settings`, (req) => {
      const script = this.#require(req.params.script!);
      return { result: { ...script.settings } };
    });
    router.on('PATCH', `${s}/script-settings`, (req) => {
      const script = this.#require(req.params.script!);
      const body = jsonBody<Partial<ScriptRecord['settings']>>(req);
      if (body.logpush !== undefined) script.settings.logpush = body.logpush;
      if (body.observability !== undefined) script.settings.observability = body.observability;
      if (body.tail_consumers !== undefined) script.settings.tail_consumers = body.tail_consumers ?? [];
      if (body.tags !== undefined) script.settings.tags = body.tags ?? [];
      return { result: { ...script.settings } };
    });
    router.on('GET', `${s}/schedules`, (req) => ({ result: { schedules: this.#require(req.params.script!).schedules } }));
    router.on('PUT', `${s}/schedules`, (req) => {
      const script = this.#require(req.params.script!);
      script.schedules = jsonBody<Array<{ cron: string }>>(req);
      return { result: { schedules: script.schedules } };
    });

    // workers.dev
    const subdomainOf = (req: ApiRequest) => ({ ...this.#require(req.params.script!).workersDev });
    router.on('GET', `${s}/subdomain`, (req) => ({ result: subdomainOf(req) }));
    router.on('POST', `${s}/subdomain`, (req) => {
      const script = this.#require(req.params.script!);
      const body = jsonBody<{ enabled?: boolean; previews_enabled?: boolean }>(req);
      if (body.enabled !== undefined) script.workersDev.enabled = body.enabled;
      if (body.previews_enabled !== undefined) script.workersDev.previews_enabled = body.previews_enabled;
      return { result: { ...script.workersDev } };
    });
    router.on('DELETE', `${s}/subdomain`, (req) => {
      const script = this.#require(req.params.script!);
      script.workersDev = { enabled: false, previews_enabled: false };
      return { result: null };
    });

    // dependency checks before delete
    router.on('GET', `${s}/references`, (req) => {
      const script = this.#require(req.params.script!);
      const incoming = [...this.#scripts.values()]
        .filter((other) => other.name !== script.name)
        .filter((other) => (this.activeVersion(other.name)?.bindings ?? []).some((b) => b.type === 'service' && b.service === script.name))
        .map((other) => ({ service: other.name, environment: 'production', name: other.name }));
      const durable_objects = this.durableObjects.classesOf(script.name).flatMap((ns) =>
        [...this.#scripts.values()]
          .filter((other) =>
            (this.activeVersion(other.name)?.bindings ?? []).some(
              (b) => b.type === 'durable_object_namespace' && b.class_name === ns.class && (b.script_name ?? other.name) === script.name,
            ),
          )
          .map((other) => ({ namespace_id: ns.id, namespace_name: ns.name, durable_object_namespace_name: ns.name, service: other.name, environment: 'production' })),
      );
      return { result: { services: { incoming, outgoing: [], pages_function: false }, durable_objects, dispatch_outbounds: [] } };
    });
    router.on('GET', `${s}/tails`, (req) => {
      this.#require(req.params.script!);
      return { result: [] };
    });
    router.on('GET', '/accounts/:account/workers/tails/by-consumer/:script', () => ({ result: [] }));

    // services (the older name of a Worker) and workers (the newer one)
    router.on('GET', '/accounts/:account/workers/services/:script', (req) => {
      const script = this.#scripts.get(req.params.script!);
      if (!script) throw serviceNotFound();
      return {
        result: {
          id: script.name,
          default_environment: {
            environment: 'production',
            created_on: script.createdOn,
            modified_on: script.modifiedOn,
            script: this.#scriptJson(script),
          },
          created_on: script.createdOn,
          modified_on: script.modifiedOn,
        },
      };
    });
    router.on('DELETE', '/accounts/:account/workers/services/:script', (req) => {
      this.delete(req.params.script!);
      return { result: null };
    });
    router.on('GET', '/accounts/:account/workers/workers/:script', (req) => {
      const script = this.#require(req.params.script!);
      return {
        result: {
          id: script.tag,
          name: script.name,
          created_on: script.createdOn,
          updated_on: script.modifiedOn,
          logpush: script.settings.logpush,
          observability: script.settings.observability ?? { enabled: false },
          subdomain: { ...script.workersDev },
          tags: script.settings.tags,
          tail_consumers: script.settings.tail_consumers,
        },
      };
    });
  }
}
