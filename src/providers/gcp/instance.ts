import { randomUUID } from 'node:crypto';
import type { protos } from '@google-cloud/compute';
import { CliError, ExitCode } from '../../ground/errors.js';
import { retry, waitFor } from '../../ground/wait.js';
import { HOLD_LABEL, type VmState, type VmStatus } from '../../model/deployment.js';
import { callContext, type GcpClients } from './clients.js';
import { CALL_OPTIONS, gcpCall, isFingerprintConflict, isNotFound } from './errors.js';
import { lastSegment } from './names.js';
import { waitOperation } from './operations.js';

/**
 * One Compute Engine instance: look it up, wait for a status, stop, start, change its machine
 * type, scrub its bootstrap, delete it. Compute calls a stopped instance TERMINATED.
 */
export type Instance = protos.google.cloud.compute.v1.IInstance;

export interface InstanceRef {
  zone: string;
  name: string;
}

const where = (ref: InstanceRef) => `instance ${ref.name} in ${ref.zone}`;

export async function getInstance(gcp: GcpClients, ref: InstanceRef): Promise<Instance | undefined> {
  try {
    const [inst] = await gcpCall(callContext(gcp, 'instances.get'), () => gcp.instances.get({ project: gcp.project, zone: ref.zone, instance: ref.name }, CALL_OPTIONS), isNotFound);
    return inst;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export function toVmState(status: string | null | undefined): VmState {
  switch (status) {
    case 'PROVISIONING':
    case 'STAGING':
    case 'REPAIRING':
      return 'pending';
    case 'RUNNING':
      return 'running';
    case 'STOPPING':
    case 'SUSPENDING':
      return 'stopping';
    case 'TERMINATED':
    case 'SUSPENDED':
      return 'stopped';
    default:
      return 'unknown';
  }
}

export function toVmStatus(inst: Instance | undefined): VmStatus {
  if (!inst) return { state: 'missing' };
  const status: VmStatus = { state: toVmState(inst.status) };
  if (inst.machineType) status.instanceType = lastSegment(inst.machineType);
  const nic = inst.networkInterfaces?.[0];
  const natIP = nic?.accessConfigs?.[0]?.natIP;
  if (natIP) status.publicIp = natIP;
  if (nic?.networkIP) status.privateIp = nic.networkIP;
  if (inst.creationTimestamp) status.launchedAt = new Date(inst.creationTimestamp).toISOString();
  const iso = (t: string | null | undefined) => (t && Number.isFinite(Date.parse(t)) ? new Date(t).toISOString() : undefined);
  const started = status.state === 'running' ? iso(inst.lastStartTimestamp) : undefined;
  const stopped = status.state === 'stopped' || status.state === 'stopping' ? iso(inst.lastStopTimestamp) : undefined;
  if (started) status.startedAt = started;
  if (stopped) status.stoppedAt = stopped;
  if (inst.labels?.[HOLD_LABEL] !== undefined) status.held = true;
  return status;
}

type Target = 'RUNNING' | 'TERMINATED';
const EN_ROUTE: Record<Target, string[]> = {
  RUNNING: ['PROVISIONING', 'STAGING', 'RUNNING', 'TERMINATED'],
  TERMINATED: ['RUNNING', 'STOPPING', 'TERMINATED', 'STAGING'],
};

export async function waitForStatus(gcp: GcpClients, ref: InstanceRef, target: Target): Promise<Instance> {
  return waitFor(
    async () => {
      const inst = await getInstance(gcp, ref);
      if (!inst) throw new CliError(`${where(ref)} no longer exists`, { hint: 'run crawl4ai-mcp destroy to clean up, then init again', exitCode: ExitCode.notFound });
      if (inst.status === target) return inst;
      if (inst.status && !EN_ROUTE[target].includes(inst.status)) throw new CliError(`${where(ref)} went ${inst.status} while waiting for it to be ${target}`);
      return undefined;
    },
    { what: `${where(ref)} to be ${target}`, intervalMs: gcp.timing.pollMs, maxIntervalMs: gcp.timing.maxPollMs, timeoutMs: gcp.timing.waitTimeoutMs },
  );
}

/** A zonal mutation with its own requestId (a retried call is deduplicated), waited for. */
async function mutate(gcp: GcpClients, ref: InstanceRef, action: string, call: (requestId: string) => Promise<unknown>, extra: { otherSizes?: string[]; machineType?: string } = {}): Promise<void> {
  const requestId = randomUUID();
  const c = callContext(gcp, `instances.${action}`, { permission: `compute.instances.${action}`, zone: ref.zone, ...extra });
  const answer = await gcpCall(c, () => call(requestId));
  await gcpCall(c, () => waitOperation(gcp, answer, { zone: ref.zone }, `${action} of ${where(ref)}`));
}

const base = (gcp: GcpClients, ref: InstanceRef) => ({ project: gcp.project, zone: ref.zone, instance: ref.name });

export async function stopInstance(gcp: GcpClients, ref: InstanceRef): Promise<Instance> {
  let inst = await mustGet(gcp, ref);
  if (inst.status === 'PROVISIONING' || inst.status === 'STAGING') inst = await waitForStatus(gcp, ref, 'RUNNING');
  if (inst.status !== 'TERMINATED') {
    await mutate(gcp, ref, 'stop', (requestId) => gcp.instances.stop({ ...base(gcp, ref), requestId }, CALL_OPTIONS));
  }
  return waitForStatus(gcp, ref, 'TERMINATED');
}

/** Starts the instance (a stockout of its zone is exit 4 naming other sizes) and waits until it runs. */
export async function startInstance(gcp: GcpClients, ref: InstanceRef, otherSizes?: string[]): Promise<Instance> {
  let inst = await mustGet(gcp, ref);
  if (inst.status === 'STOPPING') inst = await waitForStatus(gcp, ref, 'TERMINATED');
  if (inst.status === 'TERMINATED') {
    const machineType = lastSegment(inst.machineType);
    await mutate(gcp, ref, 'start', (requestId) => gcp.instances.start({ ...base(gcp, ref), requestId }, CALL_OPTIONS), { machineType, ...(otherSizes ? { otherSizes } : {}) });
  }
  return waitForStatus(gcp, ref, 'RUNNING');
}

export async function setMachineType(gcp: GcpClients, ref: InstanceRef, machineType: string): Promise<void> {
  await mutate(gcp, ref, 'setMachineType', (requestId) =>
    gcp.instances.setMachineType(
      { ...base(gcp, ref), requestId, instancesSetMachineTypeRequestResource: { machineType: `zones/${ref.zone}/machineTypes/${machineType}` } },
      CALL_OPTIONS,
    ),
  );
}

/**
 * Replaces the instance's `user-data` metadata (the rendered cloud-init, which carries the VM's
 * secrets) with `userData`, or removes it when `userData` is undefined; the other items stay.
 * Compute allows it while the VM runs. setMetadata needs the current fingerprint; when another
 * writer changed the metadata in between, Compute answers 412 and the read-modify-write is done
 * again. Returns false when there was nothing to change.
 */
export function setUserData(gcp: GcpClients, ref: InstanceRef, userData: string | undefined): Promise<boolean> {
  return readModifyWrite(gcp, ref, 'metadata', 'its bootstrap was being replaced', async (inst) => {
    const items = inst.metadata?.items ?? [];
    const current = items.find((i) => i.key === 'user-data');
    if (userData === undefined ? !current : current?.value === userData) return false;
    const kept = items.filter((i) => i.key !== 'user-data').map((i) => ({ key: i.key, value: i.value }));
    const next = userData === undefined ? kept : [...kept, { key: 'user-data', value: userData }];
    const c = callContext(gcp, 'instances.setMetadata', { permission: 'compute.instances.setMetadata' });
    const answer = await gcpCall(
      c,
      () => gcp.instances.setMetadata({ ...base(gcp, ref), requestId: randomUUID(), metadataResource: { fingerprint: inst.metadata?.fingerprint ?? null, items: next } }, CALL_OPTIONS),
      isFingerprintConflict,
    );
    await gcpCall(c, () => waitOperation(gcp, answer, { zone: ref.zone }, `metadata update of ${where(ref)}`));
    return true;
  });
}

/**
 * Puts or removes the hold label (`stop --hold`: the Worker does not wake a VM carrying it). The
 * other labels stay; setLabels replaces the whole set under the label fingerprint. Returns false
 * when there was nothing to change (so `start` of a VM never held makes no write).
 */
export function setHoldLabel(gcp: GcpClients, ref: InstanceRef, hold: boolean): Promise<boolean> {
  return readModifyWrite(gcp, ref, 'labels', 'it was being held or released', async (inst) => {
    const labels: Record<string, string> = { ...(inst.labels ?? {}) };
    if ((HOLD_LABEL in labels) === hold) return false;
    if (hold) labels[HOLD_LABEL] = 'true';
    else delete labels[HOLD_LABEL];
    const c = callContext(gcp, 'instances.setLabels', { permission: 'compute.instances.setLabels' });
    const answer = await gcpCall(
      c,
      () => gcp.instances.setLabels({ ...base(gcp, ref), requestId: randomUUID(), instancesSetLabelsRequestResource: { labels, labelFingerprint: inst.labelFingerprint ?? null } }, CALL_OPTIONS),
      isFingerprintConflict,
    );
    await gcpCall(c, () => waitOperation(gcp, answer, { zone: ref.zone }, `label update of ${where(ref)}`));
    return true;
  });
}

/**
 * A read-modify-write under one of the instance's fingerprints: when another writer changed it in
 * between, Compute answers 412 and the whole step (read included) is done again, a few times.
 */
function readModifyWrite(gcp: GcpClients, ref: InstanceRef, what: string, during: string, step: (inst: Instance) => Promise<boolean>): Promise<boolean> {
  return retry(async () => step(await mustGet(gcp, ref)), { retryIf: isFingerprintConflict, attempts: 6, baseMs: gcp.timing.retryBaseMs, maxMs: gcp.timing.retryMaxMs }).catch((e: unknown) => {
    if (isFingerprintConflict(e)) throw new CliError(`the ${what} of ${where(ref)} kept changing while ${during}`, { hint: 'run the command again' });
    throw e;
  });
}

/** Deletes the instance (its boot disk goes with it) and waits; one already gone is fine. */
export async function deleteInstance(gcp: GcpClients, ref: InstanceRef): Promise<void> {
  const requestId = randomUUID();
  const c = callContext(gcp, 'instances.delete', { permission: 'compute.instances.delete' });
  try {
    const answer = await gcpCall(c, () => gcp.instances.delete({ ...base(gcp, ref), requestId }, CALL_OPTIONS), isNotFound);
    await gcpCall(c, () => waitOperation(gcp, answer, { zone: ref.zone }, `deletion of ${where(ref)}`));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

async function mustGet(gcp: GcpClients, ref: InstanceRef): Promise<Instance> {
  const inst = await getInstance(gcp, ref);
  if (!inst) {
    throw new CliError(`${where(ref)} no longer exists`, { hint: 'run crawl4ai-mcp destroy to clean up, then init again', exitCode: ExitCode.notFound });
  }
  return inst;
}
