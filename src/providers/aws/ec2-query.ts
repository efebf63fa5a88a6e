import type { Address, Filter, Instance, InstanceCreditSpecification, InstanceStateName, SecurityGroup } from '@aws-sdk/client-ec2';
import { AwsClient } from 'aws4fetch';
import { createRequire } from 'node:module';
import { sleep } from '../../ground/wait.js';
import type { ProviderTiming } from '../timing.js';
import { isThrottling } from './errors.js';
import { FINAL_SERVER_ERRORS, retryDelayMs } from './retry-strategy.js';

/**
 * The five read-only EC2 calls `status` (and every other command) makes, as plain EC2 Query
 * requests: SigV4 by aws4fetch (the Worker's signer), the XML read by the AWS SDK's own small
 * parser (@aws-sdk/xml-builder), answers in the SDK's output shapes. Why not the SDK's EC2Client:
 * loading @aws-sdk/client-ec2 costs ~0.5 s of CPU per process, most of a `status`. Writes, and
 * credentials that only the SDK's chain can resolve (profiles, SSO, IMDS), keep the SDK.
 * Retries follow the SDK client's policy (retry-strategy.ts): throttling and 5xx/network errors,
 * same attempts and backoff; an answer that is an error throws an object awsErrorCode() reads.
 */

export interface Ec2Reads {
  /** every page */
  describeInstances(input: { InstanceIds?: string[]; Filters?: Filter[] }): Promise<Instance[]>;
  /** every page */
  describeSecurityGroups(input: { Filters?: Filter[]; GroupIds?: string[] }): Promise<SecurityGroup[]>;
  /** not paginated by EC2 */
  describeAddresses(input: { Filters?: Filter[]; AllocationIds?: string[] }): Promise<Address[]>;
  describeInstanceCreditSpecifications(input: { InstanceIds: string[] }): Promise<InstanceCreditSpecification[]>;
  getConsoleOutput(input: { InstanceId: string; Latest?: boolean }): Promise<{ Output?: string }>;
}

export type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

export interface Ec2QueryOptions {
  region: string;
  /** AWS_ENDPOINT_URL_EC2 and friends; else the region's public endpoint */
  endpoint?: string;
  /** resolved once per client (static keys, or the SDK's chain for `--credentials chain`) */
  credentials: () => Promise<Credentials>;
  timing: ProviderTiming;
  maxAttempts: number;
}

const EC2_VERSION = '2016-11-15';
type Xml = Record<string, unknown>;

// The SDK's XML reader, a 10 KB CommonJS module (require: see sdk.ts for why not import).
const { parseXML } = createRequire(import.meta.url)('@aws-sdk/xml-builder') as { parseXML(xml: string): Xml };

export function ec2QueryReads(opts: Ec2QueryOptions): Ec2Reads {
  const url = opts.endpoint ? new URL(opts.endpoint).toString() : `https://ec2.${opts.region}.amazonaws.com/`;
  let signer: Promise<AwsClient> | undefined;
  const client = () =>
    (signer ??= opts.credentials().then((c) => new AwsClient({ ...c, service: 'ec2', region: opts.region, retries: 0 })));

  async function once(params: URLSearchParams): Promise<Xml> {
    const signed = await (await client()).sign(url, {
      method: 'POST',
      body: params.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    });
    const res = await fetch(signed, { signal: AbortSignal.timeout(opts.timing.requestTimeoutMs) });
    const text = await res.text();
    if (res.ok) return firstChild(parseXML(text));
    throw ec2Error(res, text);
  }

  async function call(action: string, params: Record<string, string>): Promise<Xml> {
    const body = new URLSearchParams({ Action: action, Version: EC2_VERSION, ...params });
    for (let attempt = 0; ; attempt++) {
      try {
        return await once(body);
      } catch (e) {
        const kind = retryKind(e);
        if (!kind || attempt + 1 >= opts.maxAttempts) throw e;
        // the SDK client's own pause (retry-strategy.ts)
        await sleep(retryDelayMs(attempt, kind === 'throttling', { baseMs: opts.timing.retryBaseMs, maxMs: opts.timing.retryMaxMs }));
      }
    }
  }

  async function allPages(action: string, params: Record<string, string>, read: (page: Xml) => void): Promise<void> {
    let token: string | undefined;
    do {
      const page = await call(action, token ? { ...params, NextToken: token } : params);
      read(page);
      token = text(page.nextToken);
    } while (token);
  }

  return {
    async describeInstances(input) {
      const found: Instance[] = [];
      await allPages('DescribeInstances', { ...list('InstanceId', input.InstanceIds), ...filters(input.Filters) }, (page) => {
        for (const r of items(page.reservationSet)) for (const i of items(r.instancesSet)) found.push(toInstance(i));
      });
      return found;
    },
    async describeSecurityGroups(input) {
      const found: SecurityGroup[] = [];
      await allPages('DescribeSecurityGroups', { ...list('GroupId', input.GroupIds), ...filters(input.Filters) }, (page) => {
        for (const g of items(page.securityGroupInfo)) found.push({ GroupId: text(g.groupId), GroupName: text(g.groupName), VpcId: text(g.vpcId) });
      });
      return found;
    },
    async describeAddresses(input) {
      const page = await call('DescribeAddresses', { ...list('AllocationId', input.AllocationIds), ...filters(input.Filters) });
      return items(page.addressesSet).map((a) => ({
        AllocationId: text(a.allocationId),
        AssociationId: text(a.associationId),
        PublicIp: text(a.publicIp),
        InstanceId: text(a.instanceId),
        Tags: tags(a.tagSet),
      }));
    },
    async describeInstanceCreditSpecifications(input) {
      const page = await call('DescribeInstanceCreditSpecifications', list('InstanceId', input.InstanceIds));
      return items(page.instanceCreditSpecificationSet).map((c) => ({ InstanceId: text(c.instanceId), CpuCredits: text(c.cpuCredits) }));
    },
    async getConsoleOutput(input) {
      const page = await call('GetConsoleOutput', { InstanceId: input.InstanceId, ...(input.Latest ? { Latest: 'true' } : {}) });
      const output = text(page.output);
      return output ? { Output: output } : {};
    },
  };
}

/** What kind of retry an error deserves, as the SDK classifies it; undefined = answer final. */
function retryKind(e: unknown): 'throttling' | 'transient' | undefined {
  if (isThrottling(e)) return 'throttling';
  const err = e as { $metadata?: { httpStatusCode?: number }; name?: string };
  const status = err.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 && !FINAL_SERVER_ERRORS.includes(err.name ?? '') ? 'transient' : undefined;
  return 'transient'; // no answer at all: refused, reset or timed out
}

/** EC2's `<Response><Errors><Error><Code>…` as an error shaped like the SDK's service exceptions. */
function ec2Error(res: Response, body: string): Error {
  let code = `HTTP${res.status}`;
  let message = `EC2 answered HTTP ${res.status}`;
  let requestId: string | undefined;
  try {
    const doc = firstChild(parseXML(body));
    const error = (doc.Errors as Xml | undefined)?.Error;
    const found = (Array.isArray(error) ? error[0] : error) as Xml | undefined;
    if (found && typeof found === 'object' && text(found.Code)) {
      code = text(found.Code)!;
      message = text(found.Message) ?? code;
    }
    requestId = text(doc.RequestID) ?? text(doc.RequestId);
  } catch {
    // not XML (a proxy's page): the status says enough
  }
  return Object.assign(new Error(message), {
    name: code,
    $fault: res.status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: res.status, ...(requestId ? { requestId } : {}) },
  });
}

function firstChild(doc: Xml): Xml {
  const root = Object.values(doc)[0];
  return root && typeof root === 'object' ? (root as Xml) : {};
}

/** `<xSet><item>…</item></xSet>`: the parser gives one item as an object, several as an array, none as ''. */
function items(set: unknown): Xml[] {
  if (!set || typeof set !== 'object') return [];
  const s = set as Xml;
  const item = s.item;
  if (Array.isArray(item)) return item as Xml[];
  return item && typeof item === 'object' ? [item as Xml] : [];
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

function tags(set: unknown): Array<{ Key?: string; Value?: string }> {
  return items(set).map((t) => ({ Key: text(t.key), Value: typeof t.value === 'string' ? t.value : text(t.value) }));
}

function toInstance(i: Xml): Instance {
  const state = (i.instanceState ?? {}) as Xml;
  const reason = (i.stateReason ?? undefined) as Xml | undefined;
  const launch = text(i.launchTime);
  return {
    InstanceId: text(i.instanceId),
    ImageId: text(i.imageId),
    InstanceType: text(i.instanceType) as Instance['InstanceType'],
    State: { Name: text(state.name) as InstanceStateName, Code: Number(text(state.code) ?? 0) },
    StateTransitionReason: typeof i.reason === 'string' ? i.reason : undefined,
    ...(reason && typeof reason === 'object' ? { StateReason: { Code: text(reason.code), Message: text(reason.message) } } : {}),
    PublicIpAddress: text(i.ipAddress),
    PrivateIpAddress: text(i.privateIpAddress),
    ...(launch ? { LaunchTime: new Date(launch) } : {}),
    Tags: tags(i.tagSet),
  };
}

/** `InstanceId.1=…&InstanceId.2=…` */
function list(name: string, values: string[] | undefined): Record<string, string> {
  return Object.fromEntries((values ?? []).map((v, n) => [`${name}.${n + 1}`, v]));
}

/** `Filter.1.Name=…&Filter.1.Value.1=…` */
function filters(list: Filter[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  (list ?? []).forEach((f, n) => {
    out[`Filter.${n + 1}.Name`] = f.Name ?? '';
    (f.Values ?? []).forEach((v, m) => (out[`Filter.${n + 1}.Value.${m + 1}`] = v));
  });
  return out;
}
