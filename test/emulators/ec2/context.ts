/** What every action handler receives, plus helpers shared by the action modules. */
import { createHash } from 'node:crypto';
import { Ec2Error, malformed } from './errors.js';
import type { EmulatorState } from './model.js';
import type { Params } from './params.js';
import type { PolicyDocument } from './iam-policy.js';
import type { CapacityControls } from './capacity.js';

export interface EmulatorControls {
  accountId: string;
  pageSize: number;
  consistencyDelayMs: number;
  transitionMs: number;
  vcpuLimit: number;
  addressLimit: number;
  deniedActions: Set<string>;
  insufficientCapacity: Set<string>;
  /** when set, every EC2 call is judged by this identity policy (test/emulators/ec2/iam-policy.ts) */
  iamPolicy?: PolicyDocument;
  /** zone offerings and per-zone capacity (capacity.ts) */
  capacity: CapacityControls;
}

export interface Ctx {
  state: EmulatorState;
  controls: EmulatorControls;
  region: string;
  action: string;
  p: Params;
  now: number;
  /** DryRun=true: the handler runs for validation only (the server rolls the state back); skip capacity/quota checks */
  dryRun: boolean;
}

export interface ActionDef {
  handler: (ctx: Ctx) => string;
  /** top-level parameter names the SDK can send for this action (others → UnknownParameter) */
  params: string[];
  /** checked before the permission / DryRun step, like real EC2's request validation */
  required?: string[];
}

/** Validates `i-…`, `sg-…`-style ids the way EC2 does before looking them up. */
export function checkId(id: string, prefix: string, code: string): void {
  if (!new RegExp(`^${prefix}-[0-9a-f]{8}([0-9a-f]{9})?$`).test(id)) throw malformed(code, id, prefix);
}

interface PageToken {
  o: number;
  f: string;
}

function fingerprint(p: Params): string {
  const entries = Object.entries(p.raw)
    .filter(([k]) => k !== 'NextToken' && k !== 'MaxResults' && k !== 'DryRun')
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 16);
}

/**
 * Slices one page. MaxResults (validated against the action's real range) and the emulator's
 * pageSize both cap the page; the opaque NextToken is bound to the request's other parameters.
 */
export function paginate<T>(ctx: Ctx, list: T[], range: { min: number; max: number }, enabled = true): { page: T[]; nextToken?: string } {
  const max = ctx.p.int('MaxResults');
  if (max !== undefined && (max < range.min || max > range.max)) {
    throw new Ec2Error('InvalidParameterValue', `Value ( ${max} ) for parameter maxResults is invalid. Expecting a value between ${range.min} and ${range.max}.`);
  }
  const tokenRaw = ctx.p.get('NextToken');
  let offset = 0;
  const fp = fingerprint(ctx.p);
  if (tokenRaw !== undefined) {
    let tok: PageToken | undefined;
    try {
      tok = JSON.parse(Buffer.from(tokenRaw, 'base64url').toString('utf8')) as PageToken;
    } catch {
      tok = undefined;
    }
    if (!tok || typeof tok.o !== 'number' || tok.f !== fp) throw new Ec2Error('InvalidParameterValue', `Invalid value '${tokenRaw}' for nextToken`);
    offset = tok.o;
  }
  if (!enabled) return { page: list };
  const size = Math.min(max ?? Number.POSITIVE_INFINITY, ctx.controls.pageSize);
  const page = list.slice(offset, offset + size);
  const next = offset + size;
  return { page, nextToken: next < list.length ? Buffer.from(JSON.stringify({ o: next, f: fp } satisfies PageToken)).toString('base64url') : undefined };
}

export function inRegion<T extends { region: string }>(ctx: Ctx, m: Map<string, T>): T[] {
  return [...m.values()].filter((x) => x.region === ctx.region);
}

export const uniq = <T>(xs: T[]) => [...new Set(xs)];
