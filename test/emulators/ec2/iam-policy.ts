/**
 * A small IAM evaluator for identity-based policies: enough of IAM's rules to judge the policy
 * crawl4ai-mcp asks users to attach (templates/policies/aws-iam-policy.json), so a wrong resource
 * pattern or condition fails a test here instead of a user's `init` in AWS.
 *
 * Rules followed (IAM's): a request is allowed when some Allow statement matches its action, its
 * resource ARN and all of its conditions, and no Deny statement matches. Actions compare
 * case-insensitively with `*`/`?` wildcards; ARNs case-sensitively with wildcards per segment.
 * Condition keys compare case-insensitively (tag keys inside them case-sensitively). Operators:
 * StringEquals, StringNotEquals, StringLike, StringNotLike, Null, each with the ForAllValues: /
 * ForAnyValue: set qualifiers and the IfExists suffix. An operator the evaluator does not know
 * throws, so a policy never passes a test by an unsupported condition being ignored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { globMatch } from './params.js';

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement[];
}

/** One (action, resource) pair a request needs, with the condition keys IAM would know for it. */
export interface AuthorizationRequest {
  /** `ec2:RunInstances` */
  action: string;
  /** `arn:aws:ec2:us-east-1:123456789012:instance/*` */
  resource: string;
  /** condition key (any case) → its value(s); a key that is absent here is absent for IAM */
  context: Record<string, string | string[]>;
}

export const POLICY_TEMPLATE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'templates', 'policies', 'aws-iam-policy.json');

export function loadPolicy(file = POLICY_TEMPLATE): PolicyDocument {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as PolicyDocument;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function actionMatches(pattern: string, action: string): boolean {
  return globMatch(pattern.toLowerCase(), action.toLowerCase());
}

/** ARN patterns match segment by segment (an empty segment, e.g. an image's account, matches only empty or `*`). */
function resourceMatches(pattern: string, arn: string): boolean {
  if (pattern === '*') return true;
  const p = pattern.split(':');
  const a = arn.split(':');
  if (p.length < 6 || a.length < 6) return false;
  const head = (xs: string[]) => xs.slice(0, 5);
  const tail = (xs: string[]) => xs.slice(5).join(':');
  return head(p).every((seg, i) => globMatch(seg, head(a)[i]!)) && globMatch(tail(p), tail(a));
}

function lookup(context: Record<string, string | string[]>, key: string): string[] | undefined {
  // Service and global key names are case-insensitive; a tag key after the `/` is not.
  const [name, ...rest] = key.split('/');
  const tag = rest.join('/');
  for (const [k, v] of Object.entries(context)) {
    const [kn, ...kr] = k.split('/');
    if (kn!.toLowerCase() === name!.toLowerCase() && kr.join('/') === tag) return list(v);
  }
  return undefined;
}

type Compare = (policyValue: string, contextValue: string) => boolean;
const COMPARE: Record<string, { compare: Compare; negated: boolean }> = {
  stringequals: { compare: (p, c) => p === c, negated: false },
  stringnotequals: { compare: (p, c) => p === c, negated: true },
  stringlike: { compare: (p, c) => globMatch(p, c), negated: false },
  stringnotlike: { compare: (p, c) => globMatch(p, c), negated: true },
};

function conditionHolds(operator: string, key: string, policyValues: string[], context: Record<string, string | string[]>): boolean {
  const values = lookup(context, key);
  let op = operator;
  let qualifier: 'all' | 'any' | undefined;
  if (/^forallvalues:/i.test(op)) [qualifier, op] = ['all', op.slice('ForAllValues:'.length)];
  else if (/^foranyvalue:/i.test(op)) [qualifier, op] = ['any', op.slice('ForAnyValue:'.length)];
  let ifExists = false;
  if (/ifexists$/i.test(op)) [ifExists, op] = [true, op.slice(0, -'IfExists'.length)];

  if (op.toLowerCase() === 'null') {
    const wantAbsent = policyValues.some((v) => v.toLowerCase() === 'true');
    return wantAbsent === (values === undefined || values.length === 0);
  }
  const rule = COMPARE[op.toLowerCase()];
  if (!rule) throw new Error(`iam evaluator: condition operator ${operator} is not supported`);
  if (values === undefined || values.length === 0) {
    if (ifExists) return true;
    if (qualifier === 'all') return true; // ForAllValues over an empty set is true (IAM's rule)
    return false;
  }
  const matchesOne = (c: string) => {
    const hit = policyValues.some((p) => rule.compare(p, c));
    return rule.negated ? !hit : hit;
  };
  if (qualifier === 'all') return values.every(matchesOne);
  if (qualifier === 'any') return values.some(matchesOne);
  // a single-valued key: its value must match one of the policy's values
  return values.length === 1 && matchesOne(values[0]!);
}

function statementMatches(s: PolicyStatement, r: AuthorizationRequest): boolean {
  if (!list(s.Action).some((a) => actionMatches(a, r.action))) return false;
  if (!list(s.Resource).some((p) => resourceMatches(p, r.resource))) return false;
  for (const [operator, keys] of Object.entries(s.Condition ?? {})) {
    for (const [key, v] of Object.entries(keys)) {
      if (!conditionHolds(operator, key, list(v), r.context)) return false;
    }
  }
  return true;
}

/** IAM's verdict for one request: an explicit deny wins, then any allow, else the implicit deny. */
export function isAllowed(policy: PolicyDocument, r: AuthorizationRequest): boolean {
  if (policy.Statement.some((s) => s.Effect === 'Deny' && statementMatches(s, r))) return false;
  return policy.Statement.some((s) => s.Effect === 'Allow' && statementMatches(s, r));
}

/**
 * A second identity every emulator knows: a curious cloud reader with AWS's ReadOnlyAccess for EC2
 * (every Describe and Get, nothing else). Tests use it to look at what such a reader can see, e.g.
 * the user data of the deployment's instance.
 */
export const READER_ACCESS_KEY_ID = 'AKIAREADONLYAUDITOR1';
export const READ_ONLY_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['ec2:Describe*', 'ec2:Get*'], Resource: '*' }],
};
