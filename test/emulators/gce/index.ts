/**
 * A stateful loopback emulator of the Compute Engine v1 REST API (plus the OAuth token endpoint and
 * Resource Manager's projects.testIamPermissions), over HTTPS with a throwaway certificate, for the
 * real @google-cloud/compute clients in REST (fallback) mode pointed at it with `apiEndpoint` +
 * `port`, and the child CLI pointed at it with CRAWL4AI_MCP_GCP_ENDPOINT + NODE_EXTRA_CA_CERTS.
 *
 * Habits of the real API it keeps, so code that ignores them fails here as it would there:
 * - mutations answer an Operation (RUNNING) that a later get/wait shows DONE; a failed create ends
 *   DONE with `error.errors[]` (e.g. ZONE_RESOURCE_POOL_EXHAUSTED) and an HTTP 200: nothing throws;
 * - `requestId` deduplicates a retried insert (the same operation comes back);
 * - 409 alreadyExists for a duplicate name, 404 notFound, 412 conditionNotMet for a stale metadata
 *   fingerprint, 429 rateLimitExceeded, 403 forbidden naming the missing permission, 401 without a token;
 * - list calls page with maxResults / pageToken and filter with `labels.KEY = "VALUE"`;
 * - label keys/values and names are validated; a firewall rule cannot mix IPv4 and IPv6 ranges;
 * - the default network carries default-allow-ssh/rdp/icmp/internal at priority 65534, and
 *   reachable() evaluates the rules by priority and target tag for a given port;
 * - tokens come only from a JWT signed with the service account's key (RS256), exchanged at /token;
 * - IAM: service accounts, their keys, custom roles and instance IAM policies (iam.ts): a token of a
 *   service account made through the IAM API may do only what instance-level bindings grant it.
 */
import { FaultInjector } from '../faults/injector.js';
import { createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { makeTestCertificate } from './tls.js';
import { GOOGLE_TOKEN_URI, IamApiError, IamState } from './iam.js';
import {
  GceState,
  IMAGES,
  MACHINE_TYPES,
  REGION_ZONES,
  SELF_LINK_BASE,
  type FirewallRule,
  type Instance,
  type Operation,
  type StaticAddress,
} from './model.js';

export { GceState, REGION_ZONES, MACHINE_TYPES } from './model.js';
export type { Instance, FirewallRule, StaticAddress, Operation } from './model.js';
export { IamState, GOOGLE_TOKEN_URI } from './iam.js';

/** Google's public hostnames the emulator's certificate also names, so the edge emulator can forward them here. */
export const GOOGLE_API_HOSTS = ['compute.googleapis.com', 'oauth2.googleapis.com', 'iam.googleapis.com'] as const;

export interface GceEmulatorOptions {
  project?: string;
  /** how long an operation runs, and each instance status step; default 100 ms */
  transitionMs?: number;
  /** maximum items per list page (default 500, like the API) */
  pageSize?: number;
  /** a new instance is missing from list calls this long (eventual consistency); default 0 */
  listLagMs?: number;
  /** the emulator's clock (ms since epoch); default Date.now */
  clock?: () => number;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  query: Record<string, string>;
  status?: number;
  reason?: string;
}

export interface GceEmulator {
  /** fault injection on calls named "METHOD /compute/v1/…path": `faults.failCall(/^POST .*\/instances$/, 1, 'lost')` */
  faults: FaultInjector;
  /** https://127.0.0.1:PORT (CRAWL4AI_MCP_GCP_ENDPOINT) */
  url: string;
  port: number;
  /** the certificate file to trust (NODE_EXTRA_CA_CERTS) */
  caFile: string;
  ca: string;
  project: string;
  /** a service-account key file (JSON text) the token endpoint accepts */
  serviceAccountKey: string;
  /** a well-formed key the emulator does not know (its JWT signature fails) */
  foreignServiceAccountKey: string;
  state: GceState;
  /** service accounts, keys, custom roles, instance IAM policies; its switches (propagationMs, keyCreationDisabled, concurrentPolicyChanges) */
  iam: IamState;
  requests: RequestLogEntry[];
  close(): Promise<void>;
  /** live resources labelled crawl4ai-mcp-deployment=<name>, firewall rules by name prefix */
  resourcesOf(deployment: string): Array<{ type: string; id: string; state?: string; labels: Record<string, string> }>;
  /** the next n compute requests answer 429 rateLimitExceeded */
  throttleNext(n: number): void;
  /** these permissions are missing (403 on the calls that need them; testIamPermissions leaves them out) */
  denyPermissions(permissions: string[]): void;
  /** the caller holds only these permissions (a custom role); undefined = all */
  grantOnly(permissions: readonly string[] | undefined): void;
  /** every permission a call was checked for so far */
  permissionsChecked: Set<string>;
  /** inserts/starts of these machine types in these zones end in ZONE_RESOURCE_POOL_EXHAUSTED ('*' = every zone / type) */
  stockout(entries: Array<{ zone: string; machineType: string }>): void;
  /** the next n setMetadata calls find the fingerprint changed behind the caller's back (412) */
  raceMetadataNext(n: number): void;
  removeDefaultNetwork(): void;
  /** the VM with this instance id writes `text` to serial port 1 (what getSerialPortOutput returns; the last 1 MB kept) */
  writeSerial(instanceId: string, text: string): void;
  /**
   * The guest runs `shutdown -h now` (the idle watchdog): a RUNNING instance goes STOPPING, then
   * TERMINATED (vCPU and memory no longer billed; the ephemeral external address is released).
   */
  guestShutdown(name: string): void;
}

/** Compute keeps the most recent 1 MB of each serial port's output. */
export const SERIAL_PORT_MAX_BYTES = 1024 * 1024;

export const DEPLOYMENT_LABEL = 'crawl4ai-mcp-deployment';

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function makeServiceAccountKey(project: string, tokenUri: string, email = `crawl4ai-mcp@${project}.iam.gserviceaccount.com`) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyId = randomBytes(20).toString('hex');
  const json = JSON.stringify({
    type: 'service_account',
    project_id: project,
    private_key_id: keyId,
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: email,
    client_id: String(Date.now()),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
  });
  return { json, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), email };
}

export async function startGceEmulator(opts: GceEmulatorOptions = {}): Promise<GceEmulator> {
  const project = opts.project ?? 'c4m-test-project';
  const transitionMs = opts.transitionMs ?? 100;
  const pageSize = opts.pageSize ?? 500;
  const listLagMs = opts.listLagMs ?? 0;
  const state = new GceState(project, opts.clock);
  const tls = makeTestCertificate('gce-emulator', GOOGLE_API_HOSTS);
  const requests: RequestLogEntry[] = [];
  const tokens = new Map<string, string>(); // access token -> service account email
  const faults = new FaultInjector();
  const controls = {
    throttle: 0,
    denied: new Set<string>(),
    grantedOnly: undefined as Set<string> | undefined,
    stockouts: [] as Array<{ zone: string; machineType: string }>,
    metadataRaces: 0,
  };
  const server = https.createServer({ cert: tls.cert, key: tls.key });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;
  const account = makeServiceAccountKey(project, `${url}/token`);
  const foreign = makeServiceAccountKey(project, `${url}/token`, `stranger@${project}.iam.gserviceaccount.com`);

  const link = (path: string) => `${SELF_LINK_BASE}projects/${project}/${path}`;
  const regionOfZone = (zone: string) => Object.keys(REGION_ZONES).find((r) => REGION_ZONES[r]!.includes(zone));
  const isStockedOut = (zone: string, machineType: string) =>
    controls.stockouts.some((s) => (s.zone === '*' || s.zone === zone) && (s.machineType === '*' || s.machineType === machineType));

  const permissionsChecked = new Set<string>();
  const iam = new IamState(project, () => state.now());
  /** who the current request's token belongs to: the installer's account, or one made through the IAM API */
  let caller = account.email;
  const isInstaller = () => caller === account.email;
  const lacks = (p: string) => controls.denied.has(p) || (controls.grantedOnly !== undefined && !controls.grantedOnly.has(p));
  // project-level permissions: the installer's grants; a service account made here holds none
  const need = (...permissions: string[]) => {
    for (const p of permissions) {
      if (isInstaller()) permissionsChecked.add(p);
      if (!isInstaller() || lacks(p)) throw new ApiError(403, 'forbidden', `Required '${p}' permission for 'projects/${project}'`);
    }
  };
  /** on one instance: the installer's project grants, or the instance's own bindings for anyone else */
  const needOn = (inst: Instance | undefined, ...permissions: string[]) => {
    if (isInstaller() || !inst) return need(...permissions);
    for (const p of permissions) {
      if (!iam.allowedOnInstance(`${inst.zone}/${inst.name}`, caller, p)) throw new ApiError(403, 'forbidden', `Required '${p}' permission for 'projects/${project}/zones/${inst.zone}/instances/${inst.name}'`);
    }
  };
  /** IAM API permissions: the installer's project grants, or (on a service account) that account's own policy for anyone */
  const needIam = (p: string, onAccount?: string) => {
    if (isInstaller() && !lacks(p)) return void permissionsChecked.add(p);
    if (onAccount && iam.allowedOnAccount(onAccount, caller, p)) return;
    if (isInstaller()) permissionsChecked.add(p);
    throw new IamApiError(403, 'PERMISSION_DENIED', `Permission '${p}' denied on resource (or it may not exist).`, [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'IAM_PERMISSION_DENIED', domain: 'iam.googleapis.com', metadata: { permission: p } },
    ]);
  };
  const notFound = (what: string) => new ApiError(404, 'notFound', `The resource '${what}' was not found`);
  const checkLabels = (labels: unknown): Record<string, string> => {
    if (labels === undefined) return {};
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
      if (!LABEL_KEY.test(k) || typeof v !== 'string' || !LABEL_VALUE.test(v)) {
        throw new ApiError(400, 'invalid', `Invalid value for field 'resource.labels': '${k}'. Label keys and values can only contain lowercase letters, numeric characters, underscores and dashes.`);
      }
      out[k] = v;
    }
    return out;
  };
  const checkName = (name: unknown, field = 'resource.name'): string => {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new ApiError(400, 'invalid', `Invalid value for field '${field}': '${String(name)}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`);
    }
    return name;
  };
  const checkRequestId = (rid: string | undefined) => {
    if (rid !== undefined && !UUID.test(rid)) throw new ApiError(400, 'invalid', `Invalid value for field 'requestId': '${rid}'. Must be a UUID.`);
  };
  /** A retried mutation with a known requestId answers the first one's operation. */
  const dedup = (rid: string | undefined): Operation | undefined => {
    const name = rid ? state.requestIds.get(rid) : undefined;
    return name ? state.operations.get(name) : undefined;
  };

  // ---------------------------------------------------------------- rendering
  const opJson = (op: Operation) => ({
    kind: 'compute#operation',
    id: op.id,
    name: op.name,
    operationType: op.operationType,
    targetLink: op.targetLink,
    ...(op.targetId ? { targetId: op.targetId } : {}),
    status: op.status,
    progress: op.status === 'DONE' ? 100 : 0,
    insertTime: op.insertTime,
    ...(op.endTime ? { endTime: op.endTime } : {}),
    user: account.email,
    ...(op.scope.zone ? { zone: link(`zones/${op.scope.zone}`) } : {}),
    ...(op.scope.region ? { region: link(`regions/${op.scope.region}`) } : {}),
    selfLink: link(`${op.scope.zone ? `zones/${op.scope.zone}` : op.scope.region ? `regions/${op.scope.region}` : 'global'}/operations/${op.name}`),
    ...(op.status === 'DONE' && op.error ? { error: { errors: op.error }, httpErrorStatusCode: 503, httpErrorMessage: 'SERVICE UNAVAILABLE' } : {}),
  });
  const instanceJson = (i: Instance) => {
    const ip = state.externalIpOf(i);
    return {
      kind: 'compute#instance',
      id: i.id,
      name: i.name,
      zone: link(`zones/${i.zone}`),
      machineType: link(`zones/${i.zone}/machineTypes/${i.machineType}`),
      status: i.status,
      creationTimestamp: i.creationTimestamp,
      ...(i.lastStartTimestamp ? { lastStartTimestamp: i.lastStartTimestamp } : {}),
      ...(i.lastStopTimestamp ? { lastStopTimestamp: i.lastStopTimestamp } : {}),
      tags: { items: i.tags, fingerprint: 'tags-fp' },
      labels: i.labels,
      labelFingerprint: i.labelFingerprint ?? 'labels-fp',
      metadata: { kind: 'compute#metadata', fingerprint: i.metadata.fingerprint, items: i.metadata.items },
      disks: [
        { kind: 'compute#attachedDisk', type: 'PERSISTENT', mode: 'READ_WRITE', boot: true, autoDelete: i.disk.autoDelete, deviceName: i.disk.name, source: link(`zones/${i.zone}/disks/${i.disk.name}`), diskSizeGb: String(i.disk.sizeGb) },
      ],
      networkInterfaces: [
        {
          network: link(`global/networks/${i.network}`),
          subnetwork: link(`regions/${regionOfZone(i.zone)}/subnetworks/${i.network}`),
          networkIP: i.networkIP,
          name: 'nic0',
          ...(i.external ? { accessConfigs: [{ type: 'ONE_TO_ONE_NAT', name: 'External NAT', networkTier: 'PREMIUM', ...(ip ? { natIP: ip } : {}) }] } : {}),
        },
      ],
      shieldedInstanceConfig: i.shielded,
      ...(i.serviceAccounts.length ? { serviceAccounts: i.serviceAccounts } : {}),
      selfLink: link(`zones/${i.zone}/instances/${i.name}`),
    };
  };
  const firewallJson = (f: FirewallRule) => ({
    kind: 'compute#firewall',
    id: f.id,
    name: f.name,
    network: link(`global/networks/${f.network}`),
    direction: f.direction,
    priority: f.priority,
    sourceRanges: f.sourceRanges,
    ...(f.targetTags.length ? { targetTags: f.targetTags } : {}),
    ...(f.allowed.length ? { allowed: f.allowed } : {}),
    ...(f.denied.length ? { denied: f.denied } : {}),
    description: f.description,
    disabled: false,
    creationTimestamp: f.creationTimestamp,
    selfLink: link(`global/firewalls/${f.name}`),
  });
  const addressUsers = (a: StaticAddress) =>
    [...state.instances.values()].filter((i) => i.natIP === a.address).map((i) => link(`zones/${i.zone}/instances/${i.name}`));
  const addressJson = (a: StaticAddress) => {
    const users = addressUsers(a);
    return {
      kind: 'compute#address',
      id: a.id,
      name: a.name,
      address: a.address,
      addressType: 'EXTERNAL',
      networkTier: 'PREMIUM',
      status: users.length ? 'IN_USE' : 'RESERVED',
      ...(users.length ? { users } : {}),
      region: link(`regions/${a.region}`),
      labels: a.labels,
      labelFingerprint: 'labels-fp',
      description: a.description,
      creationTimestamp: a.creationTimestamp,
      selfLink: link(`regions/${a.region}/addresses/${a.name}`),
    };
  };

  // ---------------------------------------------------------------- list helpers
  function applyFilter<T extends object>(items: T[], filter: string | undefined): T[] {
    if (!filter) return items;
    const terms = filter.split(/\s+AND\s+/i).map((t) => t.trim().replace(/^\(\s*/, '').replace(/\s*\)$/, ''));
    const preds = terms.map((t) => {
      const m = /^([A-Za-z0-9_.-]+)\s*(=|eq|!=|ne)\s*"?([^"]*)"?$/.exec(t);
      if (!m) throw new ApiError(400, 'invalid', `Invalid value for field 'filter': '${filter}'. Invalid list filter expression.`);
      const [, field, op, value] = m;
      return (item: T) => {
        let v: unknown = item;
        for (const part of field!.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
        const equal = op === 'eq' || op === 'ne' ? new RegExp(`^(?:${value})$`).test(String(v ?? '')) : String(v ?? '') === value;
        return op === '=' || op === 'eq' ? equal : !equal;
      };
    });
    return items.filter((i) => preds.every((p) => p(i)));
  }
  function page<T extends object>(kind: string, all: T[], q: Record<string, string>) {
    const filtered = applyFilter(all, q.filter);
    const max = Math.min(Number(q.maxResults ?? pageSize) || pageSize, pageSize);
    const start = q.pageToken ? Number(Buffer.from(q.pageToken, 'base64url').toString()) : 0;
    if (!Number.isInteger(start) || start < 0) throw new ApiError(400, 'invalid', `Invalid value for field 'pageToken': '${q.pageToken}'.`);
    const items = filtered.slice(start, start + max);
    const next = start + max < filtered.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
    return { kind, id: 'list', items, ...(next ? { nextPageToken: next } : {}), selfLink: link('list') };
  }

  // ---------------------------------------------------------------- compute routes
  function compute(method: string, path: string, q: Record<string, string>, body: Record<string, unknown>): unknown {
    const m = /^\/compute\/v1\/projects\/([^/]+)\/(.*)$/.exec(path);
    if (!m) throw new ApiError(404, 'notFound', `The requested URL ${path} was not found on this server.`);
    const [, proj, rest] = m;
    if (proj === 'ubuntu-os-cloud') {
      const fam = /^global\/images\/family\/([^/]+)$/.exec(rest!);
      if (method === 'GET' && fam) {
        const newest = IMAGES.filter((i) => i.family === fam[1] && !i.deprecated).sort((a, b) => b.creationTimestamp.localeCompare(a.creationTimestamp))[0];
        if (!newest) throw notFound(`projects/ubuntu-os-cloud/global/images/family/${fam[1]}`);
        return {
          kind: 'compute#image',
          id: String(newest.creationTimestamp.length * 1e9),
          name: newest.name,
          family: newest.family,
          diskSizeGb: String(newest.diskSizeGb),
          status: 'READY',
          architecture: 'X86_64',
          creationTimestamp: newest.creationTimestamp,
          selfLink: `${SELF_LINK_BASE}projects/ubuntu-os-cloud/global/images/${newest.name}`,
        };
      }
      throw new ApiError(403, 'forbidden', `Required 'compute.images.get' permission for 'projects/ubuntu-os-cloud'`);
    }
    if (proj !== project) throw notFound(`projects/${proj}`);
    state.tick();
    let r: RegExpExecArray | null;

    // regions
    if ((r = /^regions\/([^/]+)$/.exec(rest!)) && method === 'GET') {
      need('compute.regions.get');
      const zones = REGION_ZONES[r[1]!];
      if (!zones) throw notFound(`projects/${project}/regions/${r[1]}`);
      return { kind: 'compute#region', name: r[1], status: 'UP', zones: zones.map((z) => link(`zones/${z}`)), selfLink: link(`regions/${r[1]}`) };
    }
    // networks
    if ((r = /^global\/networks\/([^/]+)$/.exec(rest!)) && method === 'GET') {
      need('compute.networks.get');
      if (!state.networks.has(r[1]!)) throw notFound(`projects/${project}/global/networks/${r[1]}`);
      return { kind: 'compute#network', name: r[1], autoCreateSubnetworks: true, selfLink: link(`global/networks/${r[1]}`) };
    }
    // operations
    if ((r = /^(zones\/([^/]+)|regions\/([^/]+)|global)\/operations\/([^/]+)(\/wait)?$/.exec(rest!))) {
      const kind = r[2] ? 'zoneOperations' : r[3] ? 'regionOperations' : 'globalOperations';
      need(`compute.${kind}.get`);
      const op = state.operations.get(r[4]!);
      if (!op || (op.scope.zone ?? null) !== (r[2] ?? null) || (op.scope.region ?? null) !== (r[3] ?? null)) throw notFound(`projects/${project}/${r[1]}/operations/${r[4]}`);
      if (r[5] && method === 'POST') return { wait: op };
      if (method === 'GET') return opJson(op);
    }
    // firewalls
    if (rest === 'global/firewalls') {
      if (method === 'GET') {
        need('compute.firewalls.list');
        return page('compute#firewallList', [...state.firewalls.values()].map(firewallJson), q);
      }
      if (method === 'POST') return insertFirewall(q, body);
    }
    if ((r = /^global\/firewalls\/([^/]+)$/.exec(rest!))) {
      const fw = state.firewalls.get(r[1]!);
      if (method === 'GET') {
        need('compute.firewalls.get');
        if (!fw) throw notFound(`projects/${project}/global/firewalls/${r[1]}`);
        return firewallJson(fw);
      }
      if (method === 'DELETE') {
        need('compute.firewalls.delete', 'compute.networks.updatePolicy');
        const prior = dedup(q.requestId);
        if (prior) return opJson(prior);
        if (!fw) throw notFound(`projects/${project}/global/firewalls/${r[1]}`);
        const op = state.newOperation({}, 'delete', link(`global/firewalls/${fw.name}`), transitionMs, q.requestId);
        state.schedule(op.doneAt, () => state.firewalls.delete(fw.name));
        return opJson(op);
      }
    }
    // addresses
    if ((r = /^regions\/([^/]+)\/addresses$/.exec(rest!))) {
      const region = r[1]!;
      if (!REGION_ZONES[region]) throw notFound(`projects/${project}/regions/${region}`);
      if (method === 'GET') {
        need('compute.addresses.list');
        return page('compute#addressList', [...state.addresses.values()].filter((a) => a.region === region).map(addressJson), q);
      }
      if (method === 'POST') return insertAddress(region, q, body);
    }
    if ((r = /^regions\/([^/]+)\/addresses\/([^/]+)$/.exec(rest!))) {
      const a = state.addresses.get(`${r[1]}/${r[2]}`);
      if (method === 'GET') {
        need('compute.addresses.get');
        if (!a) throw notFound(`projects/${project}/regions/${r[1]}/addresses/${r[2]}`);
        return addressJson(a);
      }
      if (method === 'DELETE') {
        need('compute.addresses.delete');
        const prior = dedup(q.requestId);
        if (prior) return opJson(prior);
        if (!a) throw notFound(`projects/${project}/regions/${r[1]}/addresses/${r[2]}`);
        const users = addressUsers(a);
        if (users.length) {
          throw new ApiError(400, 'resourceInUseByAnotherResource', `The address resource 'projects/${project}/regions/${a.region}/addresses/${a.name}' is already being used by '${users[0]}'`);
        }
        const op = state.newOperation({ region: a.region }, 'delete', link(`regions/${a.region}/addresses/${a.name}`), transitionMs, q.requestId);
        state.schedule(op.doneAt, () => state.addresses.delete(`${a.region}/${a.name}`));
        return opJson(op);
      }
    }
    // instances
    if ((r = /^zones\/([^/]+)\/instances$/.exec(rest!))) {
      const zone = r[1]!;
      if (!regionOfZone(zone)) throw notFound(`projects/${project}/zones/${zone}`);
      if (method === 'GET') {
        need('compute.instances.list');
        const visible = [...state.instances.values()].filter((i) => i.zone === zone && state.now() - i.createdAt >= listLagMs);
        return page('compute#instanceList', visible.map(instanceJson), q);
      }
      if (method === 'POST') return insertInstance(zone, q, body);
    }
    if ((r = /^zones\/([^/]+)\/instances\/([^/]+)\/serialPort$/.exec(rest!)) && method === 'GET') {
      need('compute.instances.getSerialPortOutput');
      const inst = state.findInstance(r[1]!, r[2]!);
      if (!inst) throw notFound(`projects/${project}/zones/${r[1]}/instances/${r[2]}`);
      return serialPortOutput(inst, q);
    }
    if ((r = /^zones\/([^/]+)\/instances\/([^/]+)(\/(stop|start|setMachineType|setMetadata|setLabels|getIamPolicy|setIamPolicy))?$/.exec(rest!))) {
      const [, zone, name, , verb] = r;
      const inst = state.findInstance(zone!, name!);
      const missing = () => notFound(`projects/${project}/zones/${zone}/instances/${name}`);
      if (method === 'GET' && !verb) {
        needOn(inst, 'compute.instances.get');
        if (!inst) throw missing();
        return instanceJson(inst);
      }
      if (method === 'GET' && verb === 'getIamPolicy') {
        needOn(inst, 'compute.instances.getIamPolicy');
        if (!inst) throw missing();
        return iam.policyJson(`${inst.zone}/${inst.name}`);
      }
      if (method === 'DELETE' && !verb) {
        needOn(inst, 'compute.instances.delete');
        need('compute.disks.delete');
        const prior = dedup(q.requestId);
        if (prior) return opJson(prior);
        if (!inst) throw missing();
        inst.status = 'STOPPING';
        const op = state.newOperation({ zone: inst.zone }, 'delete', link(`zones/${inst.zone}/instances/${inst.name}`), transitionMs, q.requestId);
        op.targetId = inst.id;
        state.schedule(op.doneAt, () => state.instances.delete(`${inst.zone}/${inst.name}`));
        return opJson(op);
      }
      if (method === 'POST' && verb) {
        if (!inst) throw missing();
        return instanceVerb(inst, verb, q, body);
      }
    }
    throw new ApiError(404, 'notFound', `The requested URL ${path} was not found on this server.`);
  }

  /**
   * instances.getSerialPortOutput: bytes from `start` (default 0) to the end; a negative start
   * means the last |start| bytes; a start older than the 1 MB buffer is moved to the oldest byte
   * kept (the answer's `start` says where it really began); `next` is where to continue.
   */
  function serialPortOutput(inst: Instance, q: Record<string, string>) {
    const port = q.port === undefined ? 1 : Number(q.port);
    if (!Number.isInteger(port) || port < 1 || port > 4) throw new ApiError(400, 'invalid', `Invalid value for field 'port': '${q.port}'. Must be greater than or equal to 1 and less than or equal to 4.`);
    const requested = q.start === undefined ? 0 : Number(q.start);
    if (!Number.isInteger(requested)) throw new ApiError(400, 'invalid', `Invalid value for field 'start': '${q.start}'.`);
    const { bytes, dropped } = port === 1 && inst.serial ? inst.serial : { bytes: Buffer.alloc(0), dropped: 0 };
    const total = dropped + bytes.length;
    const start = Math.min(total, Math.max(dropped, requested < 0 ? total + requested : requested));
    return {
      kind: 'compute#serialPortOutput',
      contents: bytes.subarray(start - dropped).toString('utf8'),
      start: String(start),
      next: String(total),
      selfLink: link(`zones/${inst.zone}/instances/${inst.name}/serialPort?port=${port}`),
    };
  }

  function insertFirewall(q: Record<string, string>, body: Record<string, unknown>) {
    need('compute.firewalls.create', 'compute.networks.updatePolicy');
    checkRequestId(q.requestId);
    const prior = dedup(q.requestId);
    if (prior) return opJson(prior);
    if ('labels' in body) throw new ApiError(400, 'invalid', `Invalid JSON payload received. Unknown name "labels" at 'resource': Cannot find field.`);
    const name = checkName(body.name);
    const network = String(body.network ?? 'global/networks/default').split('/').pop()!;
    if (!state.networks.has(network)) throw notFound(`projects/${project}/global/networks/${network}`);
    if (state.firewalls.has(name)) throw new ApiError(409, 'alreadyExists', `The resource 'projects/${project}/global/firewalls/${name}' already exists`);
    const sourceRanges = (body.sourceRanges as string[] | undefined) ?? [];
    const families = new Set(sourceRanges.map((s) => (s.includes(':') ? 6 : 4)));
    if (families.size > 1) throw new ApiError(400, 'invalid', `Invalid value for field 'resource.sourceRanges': IPv4 and IPv6 ranges cannot be mixed in one firewall rule.`);
    const allowed = (body.allowed as FirewallRule['allowed'] | undefined) ?? [];
    const denied = (body.denied as FirewallRule['denied'] | undefined) ?? [];
    if ((allowed.length > 0) === (denied.length > 0)) throw new ApiError(400, 'invalid', `Invalid value for field 'resource': exactly one of 'allowed' and 'denied' must be set.`);
    const priority = body.priority === undefined ? 1000 : Number(body.priority);
    if (!Number.isInteger(priority) || priority < 0 || priority > 65535) throw new ApiError(400, 'invalid', `Invalid value for field 'resource.priority': '${String(body.priority)}'.`);
    const rule: FirewallRule = {
      id: state.newId(),
      name,
      network,
      direction: body.direction === 'EGRESS' ? 'EGRESS' : 'INGRESS',
      priority,
      sourceRanges: sourceRanges.length ? sourceRanges : ['0.0.0.0/0'],
      targetTags: (body.targetTags as string[] | undefined) ?? [],
      allowed: allowed.map((a) => ({ IPProtocol: a.IPProtocol, ...(a.ports?.length ? { ports: a.ports } : {}) })),
      denied: denied.map((a) => ({ IPProtocol: a.IPProtocol, ...(a.ports?.length ? { ports: a.ports } : {}) })),
      description: String(body.description ?? ''),
      creationTimestamp: new Date(state.now()).toISOString(),
    };
    const op = state.newOperation({}, 'insert', link(`global/firewalls/${name}`), transitionMs, q.requestId);
    op.targetId = rule.id;
    state.schedule(op.doneAt, () => state.firewalls.set(name, rule));
    return opJson(op);
  }

  function insertAddress(region: string, q: Record<string, string>, body: Record<string, unknown>) {
    need('compute.addresses.create');
    const labels = checkLabels(body.labels);
    if (Object.keys(labels).length) need('compute.addresses.setLabels');
    checkRequestId(q.requestId);
    const prior = dedup(q.requestId);
    if (prior) return opJson(prior);
    const name = checkName(body.name);
    if (state.addresses.has(`${region}/${name}`)) throw new ApiError(409, 'alreadyExists', `The resource 'projects/${project}/regions/${region}/addresses/${name}' already exists`);
    const a: StaticAddress = {
      id: state.newId(),
      name,
      region,
      address: state.randomPublicIp(),
      labels,
      description: String(body.description ?? ''),
      creationTimestamp: new Date(state.now()).toISOString(),
    };
    const op = state.newOperation({ region }, 'insert', link(`regions/${region}/addresses/${name}`), transitionMs, q.requestId);
    op.targetId = a.id;
    state.schedule(op.doneAt, () => state.addresses.set(`${region}/${name}`, a));
    return opJson(op);
  }

  function insertInstance(zone: string, q: Record<string, string>, body: Record<string, unknown>) {
    need('compute.instances.create', 'compute.disks.create', 'compute.subnetworks.use');
    checkRequestId(q.requestId);
    const prior = dedup(q.requestId);
    if (prior) return opJson(prior);
    const name = checkName(body.name);
    const machineType = String(body.machineType ?? '').split('/').pop()!;
    if (!MACHINE_TYPES[machineType]) throw new ApiError(400, 'invalid', `Invalid value for field 'resource.machineType': '${String(body.machineType)}'. Machine type with name '${machineType}' does not exist in zone '${zone}'.`);
    const labels = checkLabels(body.labels);
    const metadata = (body.metadata as { items?: Array<{ key: string; value?: string }> } | undefined)?.items ?? [];
    const tags = (body.tags as { items?: string[] } | undefined)?.items ?? [];
    const serviceAccounts = (body.serviceAccounts as Instance['serviceAccounts'] | undefined) ?? [];
    if (Object.keys(labels).length) need('compute.instances.setLabels');
    if (metadata.length) need('compute.instances.setMetadata');
    if (tags.length) need('compute.instances.setTags');
    if (serviceAccounts.length) need('compute.instances.setServiceAccount', 'iam.serviceAccounts.actAs');
    for (const t of tags) checkName(t, 'resource.tags.items');
    const disks = (body.disks as Array<Record<string, unknown>> | undefined) ?? [];
    const boot = disks.find((d) => d.boot);
    const init = boot?.initializeParams as { sourceImage?: string; diskSizeGb?: string | number; diskType?: string; labels?: Record<string, string> } | undefined;
    if (!boot || !init?.sourceImage) throw new ApiError(400, 'invalid', `Invalid value for field 'resource.disks': ''. Boot disk must be specified.`);
    const imagePath = init.sourceImage.replace(/^https:\/\/[^/]+\/compute\/v1\//, '');
    const image = IMAGES.find((i) => `projects/${i.project}/global/images/${i.name}` === imagePath);
    if (!image) throw notFound(imagePath);
    const sizeGb = Number(init.diskSizeGb ?? image.diskSizeGb);
    if (sizeGb < image.diskSizeGb) throw new ApiError(400, 'invalid', `Invalid value for field 'resource.disks[0].initializeParams.diskSizeGb': '${sizeGb}'. Requested disk size cannot be smaller than the image size (${image.diskSizeGb} GB).`);
    const diskLabels = checkLabels(init.labels);
    const nic = ((body.networkInterfaces as Array<Record<string, unknown>> | undefined) ?? [])[0] ?? {};
    const network = String(nic.network ?? 'global/networks/default').split('/').pop()!;
    if (!state.networks.has(network)) throw notFound(`projects/${project}/global/networks/${network}`);
    const access = (nic.accessConfigs as Array<{ natIP?: string }> | undefined) ?? [];
    const natIP = access[0]?.natIP;
    if (access.length) need('compute.subnetworks.useExternalIp');
    if (natIP) {
      need('compute.addresses.use');
      const a = [...state.addresses.values()].find((x) => x.address === natIP && x.region === regionOfZone(zone));
      if (!a) throw new ApiError(400, 'invalid', `Invalid value for field 'resource.networkInterfaces[0].accessConfigs[0].natIP': '${natIP}'. The specified external IP address '${natIP}' was not found in region '${regionOfZone(zone)}'.`);
      if (addressUsers(a).length) throw new ApiError(400, 'invalid', `The address '${natIP}' is already being used by another resource.`);
    }
    if (state.findInstance(zone, name)) throw new ApiError(409, 'alreadyExists', `The resource 'projects/${project}/zones/${zone}/instances/${name}' already exists`);
    const target = link(`zones/${zone}/instances/${name}`);
    if (isStockedOut(zone, machineType)) {
      // Real Compute accepts the insert and fails the operation: HTTP 200, then DONE with an error.
      const op = state.newOperation({ zone }, 'insert', target, transitionMs, q.requestId);
      op.error = [{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: `The zone 'projects/${project}/zones/${zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.` }];
      return opJson(op);
    }
    const sh = (body.shieldedInstanceConfig as Partial<Instance['shielded']> | undefined) ?? {};
    const now = state.now();
    const inst: Instance = {
      id: state.newId(),
      name,
      zone,
      machineType,
      status: 'PROVISIONING',
      creationTimestamp: new Date(now).toISOString(),
      createdAt: now,
      disk: { name, sizeGb, sourceImage: imagePath, type: String(init.diskType ?? 'pd-standard').split('/').pop()!, labels: diskLabels, autoDelete: boot.autoDelete !== false, encrypted: true },
      network,
      ...(natIP ? { natIP } : {}),
      external: access.length > 0,
      networkIP: `10.128.0.${2 + state.instances.size}`,
      metadata: { fingerprint: state.fingerprint(), items: metadata.map((i) => ({ key: i.key, ...(i.value !== undefined ? { value: i.value } : {}) })) },
      tags,
      labels,
      shielded: { enableSecureBoot: sh.enableSecureBoot === true, enableVtpm: sh.enableVtpm !== false, enableIntegrityMonitoring: sh.enableIntegrityMonitoring !== false },
      serviceAccounts,
      ...(q.requestId ? { requestId: q.requestId } : {}),
    };
    state.instances.set(`${zone}/${name}`, inst);
    const op = state.newOperation({ zone }, 'insert', target, transitionMs, q.requestId);
    op.targetId = inst.id;
    state.schedule(op.doneAt, () => {
      if (inst.status === 'PROVISIONING') inst.status = 'STAGING';
    });
    state.schedule(op.doneAt + transitionMs, (at) => toRunning(inst, at));
    return opJson(op);
  }

  function toRunning(inst: Instance, at: number) {
    if (inst.status !== 'STAGING') return;
    inst.status = 'RUNNING';
    inst.lastStartTimestamp = new Date(at).toISOString();
    if (inst.external && !inst.natIP) inst.ephemeralIp = state.randomPublicIp();
  }

  /** STOPPING → TERMINATED: compute billing ends, the ephemeral address goes, the time is kept. */
  function toTerminated(inst: Instance, at: number) {
    inst.status = 'TERMINATED';
    inst.lastStopTimestamp = new Date(at).toISOString();
    delete inst.ephemeralIp;
  }

  function instanceVerb(inst: Instance, verb: string, q: Record<string, string>, body: Record<string, unknown>) {
    const target = link(`zones/${inst.zone}/instances/${inst.name}`);
    const prior = dedup(q.requestId);
    if (prior) return opJson(prior);
    const op = () => {
      const o = state.newOperation({ zone: inst.zone }, verb, target, transitionMs, q.requestId);
      o.targetId = inst.id;
      return o;
    };
    switch (verb) {
      case 'stop': {
        needOn(inst, 'compute.instances.stop');
        const o = op();
        if (inst.status !== 'TERMINATED') {
          inst.status = 'STOPPING';
          state.schedule(o.doneAt, (at) => toTerminated(inst, at));
        }
        return opJson(o);
      }
      case 'start': {
        needOn(inst, 'compute.instances.start');
        if (inst.status === 'STOPPING') throw new ApiError(400, 'resourceNotReady', `The resource '${target.replace(SELF_LINK_BASE, '')}' is not ready`);
        const o = op();
        if (inst.status === 'TERMINATED') {
          if (isStockedOut(inst.zone, inst.machineType)) {
            o.error = [{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: `The zone 'projects/${project}/zones/${inst.zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.` }];
            return opJson(o);
          }
          inst.status = 'STAGING';
          state.schedule(o.doneAt, (at) => toRunning(inst, at));
        }
        return opJson(o);
      }
      case 'setMachineType': {
        needOn(inst, 'compute.instances.setMachineType');
        const mt = String(body.machineType ?? '').split('/').pop()!;
        if (!MACHINE_TYPES[mt]) throw new ApiError(400, 'invalid', `Invalid value for field 'resource.machineType': '${String(body.machineType)}'.`);
        if (inst.status !== 'TERMINATED') throw new ApiError(400, 'invalid', `Instance '${inst.name}' must be stopped to change its machine type (status ${inst.status}).`);
        const o = op();
        state.schedule(o.doneAt, () => {
          inst.machineType = mt;
        });
        return opJson(o);
      }
      case 'setMetadata': {
        needOn(inst, 'compute.instances.setMetadata');
        if (controls.metadataRaces > 0) {
          controls.metadataRaces--;
          inst.metadata.fingerprint = state.fingerprint(); // another writer (e.g. the guest agent) got there first
        }
        if (body.fingerprint !== inst.metadata.fingerprint) {
          throw new ApiError(412, 'conditionNotMet', 'Supplied fingerprint does not match current metadata fingerprint.');
        }
        const items = ((body.items as Array<{ key: string; value?: string }> | undefined) ?? []).map((i) => ({ key: i.key, ...(i.value !== undefined ? { value: i.value } : {}) }));
        inst.metadata = { fingerprint: state.fingerprint(), items };
        return opJson(op());
      }
      case 'setLabels': {
        // the whole label set is replaced; its fingerprint must be the current one (412 otherwise)
        needOn(inst, 'compute.instances.setLabels');
        if (body.labelFingerprint !== (inst.labelFingerprint ?? 'labels-fp')) {
          throw new ApiError(412, 'conditionNotMet', 'Labels fingerprint either invalid or resource labels have changed');
        }
        inst.labels = checkLabels(body.labels);
        inst.labelFingerprint = state.fingerprint();
        return opJson(op());
      }
      case 'setIamPolicy': {
        needOn(inst, 'compute.instances.setIamPolicy');
        const out = iam.setPolicy(`${inst.zone}/${inst.name}`, body);
        if (!out.ok) throw new ApiError(out.status, out.reason, out.message);
        return iam.policyJson(`${inst.zone}/${inst.name}`);
      }
    }
    throw new ApiError(404, 'notFound', `unknown verb ${verb}`);
  }

  // ---------------------------------------------------------------- token + resource manager
  function token(body: string): { status: number; json: unknown } {
    const form = new URLSearchParams(body);
    const bad = (d: string) => ({ status: 400, json: { error: 'invalid_grant', error_description: d } });
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return { status: 400, json: { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' } };
    const parts = (form.get('assertion') ?? '').split('.');
    if (parts.length !== 3) return bad('Invalid JWT.');
    const [h, p, s] = parts as [string, string, string];
    let claims: { iss?: string; aud?: string; exp?: number; scope?: string };
    try {
      claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as typeof claims;
    } catch {
      return bad('Invalid JWT.');
    }
    // the installer's key, or a key the IAM API issued to the account named as issuer
    const keys = claims.iss === account.email ? [account.publicKey] : iam.publicKeys(claims.iss ?? '');
    const ok = keys.some((k) => verify('RSA-SHA256', Buffer.from(`${h}.${p}`), createPublicKey(k), Buffer.from(s, 'base64url')));
    if (!ok) return bad('Invalid JWT Signature.');
    if (claims.aud !== `${url}/token` && claims.aud !== GOOGLE_TOKEN_URI) return bad('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
    if (!claims.exp || claims.exp * 1000 < Date.now()) return bad('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    const access = `ya29.emu-${randomBytes(24).toString('base64url')}`;
    tokens.set(access, claims.iss!);
    return { status: 200, json: { access_token: access, expires_in: 3599, token_type: 'Bearer' } };
  }

  const handler = async (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', url);
    const q = Object.fromEntries(u.searchParams);
    const entry: RequestLogEntry = { method: req.method ?? 'GET', path: u.pathname, query: q };
    requests.push(entry);
    const send = (status: number, json: unknown) => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(json));
    };
    try {
      if (u.pathname === '/token' && req.method === 'POST') {
        const t = token(raw);
        return send(t.status, t.json);
      }
      const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      if (!auth || !tokens.has(auth[1]!)) {
        throw new ApiError(401, 'authError', 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.', { status: 'UNAUTHENTICATED' });
      }
      caller = tokens.get(auth[1]!)!;
      // a deleted service account's tokens stop working
      if (!isInstaller() && !iam.accounts.has(caller)) throw new ApiError(401, 'authError', 'Request had invalid authentication credentials.', { status: 'UNAUTHENTICATED' });
      const fault = faults.take(`${req.method ?? 'GET'} ${u.pathname}`);
      if (fault === 'hang') {
        setTimeout(() => res.destroy(), faults.hangMs);
        return;
      }
      if (fault === '5xx') throw new ApiError(503, 'backendError', 'The service is currently unavailable.', { status: 'UNAVAILABLE' });
      if (fault === 'throttle') controls.throttle = Math.max(controls.throttle, 1);
      if (fault === 'lost') {
        // the call takes effect, its answer never arrives
        const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
        try {
          // the IAM API's calls take effect too (a key is made whose answer never arrives)
          const lostSa = /^\/v1\/projects\/([^/]+)\/serviceAccounts(.*)$/.exec(u.pathname);
          if (lostSa) iam.route(req.method ?? 'GET', lostSa[2]!, q, body, needIam);
          else compute(req.method ?? 'GET', u.pathname, q, body);
        } catch {
          /* a refused call took no effect either */
        }
        res.destroy();
        return;
      }
      if (controls.throttle > 0) {
        controls.throttle--;
        throw new ApiError(429, 'rateLimitExceeded', `Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com' for consumer 'project_number:1234567890'.`, { status: 'RESOURCE_EXHAUSTED' });
      }
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const rm = /^\/v1\/projects\/([^/:]+):testIamPermissions$/.exec(u.pathname);
      if (rm && req.method === 'POST') {
        if (rm[1] !== project) throw new ApiError(403, 'forbidden', `The caller does not have permission`, { status: 'PERMISSION_DENIED' });
        const asked = (body.permissions as string[] | undefined) ?? [];
        const granted = asked.filter((p) => !lacks(p));
        return send(200, granted.length ? { permissions: granted } : {});
      }
      const sa = /^\/v1\/projects\/([^/]+)\/serviceAccounts(.*)$/.exec(u.pathname);
      if (sa) {
        if (sa[1] !== project && sa[1] !== '-') throw new IamApiError(403, 'PERMISSION_DENIED', `Permission denied on resource project ${sa[1]}.`);
        return send(200, iam.route(req.method ?? 'GET', sa[2]!, q, body, needIam));
      }
      const out = compute(req.method ?? 'GET', u.pathname, q, body);
      if (out && typeof out === 'object' && 'wait' in out) {
        // operations.wait: returns when DONE, or after a while (real: up to 2 minutes) still RUNNING
        const op = (out as { wait: Operation }).wait;
        const until = Date.now() + Math.min(2 * transitionMs, 500);
        while (op.status !== 'DONE' && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 10));
          state.tick();
        }
        return send(200, opJson(op));
      }
      return send(200, out);
    } catch (e) {
      if (e instanceof IamApiError) {
        // IAM's answers are google.rpc.Status: a status name and details, no errors[] array
        entry.reason = e.code;
        return send(e.status, { error: { code: e.status, message: e.message, status: e.code, ...(e.details.length ? { details: e.details } : {}) } });
      }
      if (e instanceof ApiError) {
        entry.reason = e.reason;
        return send(e.status, {
          error: {
            code: e.status,
            message: e.message,
            errors: [{ message: e.message, domain: e.status === 429 ? 'usageLimits' : 'global', reason: e.reason }],
            ...e.extra,
          },
        });
      }
      console.error('[gce-emulator] internal error', e);
      entry.reason = 'backendError';
      return send(500, { error: { code: 500, message: 'Internal error', errors: [{ message: 'Internal error', domain: 'global', reason: 'backendError' }] } });
    }
  };
  server.on('request', (req, res) => void handler(req, res));

  return {
    faults,
    url,
    port,
    caFile: tls.certFile,
    ca: tls.cert,
    project,
    serviceAccountKey: account.json,
    foreignServiceAccountKey: foreign.json,
    state,
    iam,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(tls.dir, { recursive: true, force: true });
    },
    resourcesOf(deployment) {
      state.tick();
      const out: Array<{ type: string; id: string; state?: string; labels: Record<string, string> }> = [];
      for (const i of state.instances.values()) {
        if (i.labels[DEPLOYMENT_LABEL] !== deployment) continue;
        out.push({ type: 'instance', id: i.name, state: i.status, labels: { ...i.labels } });
        out.push({ type: 'disk', id: i.disk.name, labels: { ...i.disk.labels } });
      }
      for (const f of state.firewalls.values()) {
        if (f.targetTags.includes(`crawl4ai-mcp-${deployment}`)) out.push({ type: 'firewall', id: f.name, labels: {} });
      }
      for (const a of state.addresses.values()) {
        if (a.labels[DEPLOYMENT_LABEL] === deployment) out.push({ type: 'address', id: a.name, labels: { ...a.labels } });
      }
      return out;
    },
    throttleNext(n) {
      controls.throttle = n;
    },
    guestShutdown(name) {
      state.tick();
      const inst = [...state.instances.values()].find((i) => i.name === name);
      if (!inst) throw new Error(`guestShutdown: no instance ${name}`);
      if (inst.status !== 'RUNNING') return;
      inst.status = 'STOPPING';
      state.schedule(state.now() + transitionMs, (at) => toTerminated(inst, at));
    },
    denyPermissions(permissions) {
      controls.denied = new Set(permissions);
    },
    grantOnly(permissions) {
      controls.grantedOnly = permissions ? new Set(permissions) : undefined;
    },
    permissionsChecked,
    stockout(entries) {
      controls.stockouts = entries;
    },
    raceMetadataNext(n) {
      controls.metadataRaces = n;
    },
    removeDefaultNetwork() {
      state.removeDefaultNetwork();
    },
    writeSerial(instanceId, text) {
      const inst = [...state.instances.values()].find((i) => i.id === instanceId);
      if (!inst) throw new Error(`writeSerial: no instance ${instanceId}`);
      const prior = inst.serial ?? { bytes: Buffer.alloc(0), dropped: 0 };
      const all = Buffer.concat([prior.bytes, Buffer.from(text, 'utf8')]);
      const cut = Math.max(0, all.length - SERIAL_PORT_MAX_BYTES);
      inst.serial = { bytes: all.subarray(cut), dropped: prior.dropped + cut };
    },
  };
}
