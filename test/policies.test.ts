import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CLOUDFLARE_TOKEN_NOTES,
  CLOUDFLARE_TOKEN_PERMISSIONS,
  cloudflarePermissionsFor,
  permissionLabel,
} from '../src/cloudflare/permissions.js';
import {
  AWS_CREATE_ACTIONS,
  AWS_DESCRIBE_ACTIONS,
  AWS_MANAGE_ACTIONS,
  AWS_POLICY_FILE,
  AWS_REQUIRED_ACTIONS,
  AWS_WAKE_IAM_ACTIONS,
  AWS_WAKE_IAM_RESOURCE,
} from '../src/providers/aws/permissions.js';
import { MANAGED_BY, TAG_DEPLOYMENT, TAG_MANAGED_BY } from '../src/model/deployment.js';
import { CANONICAL_OWNER_ID } from '../src/providers/aws/lookups.js';
import { isAllowed, type AuthorizationRequest, type PolicyDocument } from './emulators/ec2/iam-policy.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Statement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
  [key: string]: unknown;
}
const raw = fs.readFileSync(path.join(ROOT, AWS_POLICY_FILE), 'utf8');
const policy = JSON.parse(raw) as { Version: string; Statement: Statement[] };
const list = <T>(v: T | T[]) => (Array.isArray(v) ? v : [v]);
const actionsOf = (s: Statement) => list(s.Action);
const resourcesOf = (s: Statement) => list(s.Resource);

describe('templates/policies/aws-iam-policy.json', () => {
  it('is an IAM policy document of version 2012-10-17 with unique alphanumeric Sids', () => {
    expect(Object.keys(policy).sort()).toEqual(['Statement', 'Version']);
    expect(policy.Version).toBe('2012-10-17');
    const sids = policy.Statement.map((s) => s.Sid);
    for (const sid of sids) expect(sid).toMatch(/^[A-Za-z0-9]+$/);
    expect(new Set(sids).size).toBe(sids.length);
    for (const s of policy.Statement) {
      expect(Object.keys(s).every((k) => ['Sid', 'Effect', 'Action', 'Resource', 'Condition'].includes(k)), s.Sid).toBe(true);
      expect(s.Effect).toBe('Allow');
    }
    // IAM counts managed policy size without whitespace: at most 6,144 characters
    expect(JSON.stringify(policy).length).toBeLessThan(6144);
  });

  it('grants exactly AWS_REQUIRED_ACTIONS, with no wildcard action', () => {
    const granted = new Set(policy.Statement.flatMap(actionsOf));
    expect([...granted].sort()).toEqual([...AWS_REQUIRED_ACTIONS].sort());
    for (const a of granted) {
      expect(a).toMatch(/^(ec2|iam):[A-Z][A-Za-z]+$/);
      expect(a).not.toContain('*');
    }
    expect(new Set(AWS_REQUIRED_ACTIONS).size).toBe(AWS_REQUIRED_ACTIONS.length);
  });

  it('uses Resource "*" only for Describe calls, and well-formed EC2 ARNs otherwise', () => {
    for (const s of policy.Statement) {
      const describe = actionsOf(s).every((a) => (AWS_DESCRIBE_ACTIONS as readonly string[]).includes(a));
      if (describe) {
        expect(s.Resource, s.Sid).toBe('*');
        expect(s.Condition, s.Sid).toBeUndefined();
      } else if (actionsOf(s).some((a) => a.startsWith('iam:'))) {
        // IAM only on the wake users' path, never account-wide
        expect(actionsOf(s).every((a) => (AWS_WAKE_IAM_ACTIONS as readonly string[]).includes(a)), s.Sid).toBe(true);
        expect(s.Resource, s.Sid).toBe(AWS_WAKE_IAM_RESOURCE);
      } else {
        for (const r of resourcesOf(s)) expect(r, s.Sid).toMatch(/^arn:aws:ec2:\*:(\*)?:[a-z-]+\/\*$/);
      }
    }
  });

  it('allows creates only with the deployment tags in the request, and CreateTags only while creating', () => {
    const tagged = ['instance', 'volume', 'network-interface', 'security-group', 'elastic-ip'];
    for (const action of AWS_CREATE_ACTIONS.filter((a) => a !== 'ec2:CreateTags')) {
      const statements = policy.Statement.filter((s) => actionsOf(s).includes(action));
      expect(statements.length, action).toBeGreaterThan(0);
      for (const s of statements) {
        const createsTagged = resourcesOf(s).some((r) => tagged.some((t) => r.endsWith(`:${t}/*`)) && !(action === 'ec2:RunInstances' && r.endsWith(':security-group/*')));
        if (!createsTagged) continue; // existing resources a create refers to (image, subnet, vpc, the group)
        expect(s.Condition?.StringEquals?.[`aws:RequestTag/${TAG_MANAGED_BY}`], `${s.Sid} ${action}`).toBe(MANAGED_BY);
        expect(s.Condition?.Null?.[`aws:RequestTag/${TAG_DEPLOYMENT}`], `${s.Sid} ${action}`).toBe('false');
      }
    }
    const tagging = policy.Statement.filter((s) => actionsOf(s).includes('ec2:CreateTags'));
    expect(tagging).toHaveLength(2);
    const whileCreating = tagging.find((s) => s.Condition?.StringEquals?.['ec2:CreateAction'])!;
    expect([...list(whileCreating.Condition!.StringEquals!['ec2:CreateAction']!)].sort()).toEqual(['AllocateAddress', 'CreateSecurityGroup', 'RunInstances']);
    // outside a create: only the hold tag, only on its own instances (so it can never tag a foreign resource as its own)
    const hold = tagging.find((s) => s !== whileCreating)!;
    expect(resourcesOf(hold)).toEqual(['arn:aws:ec2:*:*:instance/*']);
    expect(hold.Condition?.StringEquals?.[`ec2:ResourceTag/${TAG_MANAGED_BY}`]).toBe(MANAGED_BY);
    expect(hold.Condition?.['ForAllValues:StringEquals']?.['aws:TagKeys']).toEqual(['crawl4ai-mcp:hold']);
    expect(hold.Condition?.Null?.['aws:TagKeys']).toBe('false');
  });

  it('allows changes and deletes only on resources tagged managed-by=crawl4ai-mcp', () => {
    for (const action of AWS_MANAGE_ACTIONS) {
      const statements = policy.Statement.filter((s) => actionsOf(s).includes(action));
      expect(statements.length, action).toBeGreaterThan(0);
      for (const s of statements) {
        // A new ingress rule is its own resource type without tags; the group it goes into is checked.
        if (resourcesOf(s).every((r) => r.endsWith(':security-group-rule/*'))) {
          expect(actionsOf(s)).toEqual(['ec2:AuthorizeSecurityGroupIngress']);
          continue;
        }
        expect(s.Condition?.StringEquals?.[`ec2:ResourceTag/${TAG_MANAGED_BY}`], `${s.Sid} ${action}`).toBe(MANAGED_BY);
      }
    }
  });

  it('launches only from Canonical images, with IMDSv2 required (the image owner is the one the lookup asks for)', () => {
    const launch = policy.Statement.filter((s) => actionsOf(s).includes('ec2:RunInstances'));
    const image = launch.filter((s) => resourcesOf(s).some((r) => r.includes(':image/')));
    expect(image).toHaveLength(1);
    expect(image[0]!.Condition?.StringEquals?.['ec2:Owner']).toBe(CANONICAL_OWNER_ID);
    const instance = launch.filter((s) => resourcesOf(s).some((r) => r.endsWith(':instance/*')));
    expect(instance).toHaveLength(1);
    expect(instance[0]!.Condition?.StringEquals?.['ec2:MetadataHttpTokens']).toBe('required');
  });

  it('grants nothing for key pairs, instance profiles or other services, and IAM only for users under /crawl4ai-mcp/', () => {
    expect(raw).not.toMatch(/PassRole|KeyPair|key-pair|ssm:|s3:|"iam:\*"/);
    // no roles, groups, managed policies, tags or console passwords: nothing to escalate with
    for (const a of policy.Statement.flatMap(actionsOf).filter((x) => x.startsWith('iam:'))) expect(a).not.toMatch(/Role|Group|Attach|Tag|LoginProfile|PolicyVersion/);
    const iamStatements = policy.Statement.filter((s) => actionsOf(s).some((a) => a.startsWith('iam:')));
    expect(iamStatements).toHaveLength(1);
    expect(resourcesOf(iamStatements[0]!)).toEqual(['arn:aws:iam::*:user/crawl4ai-mcp/*']);
    expect([...actionsOf(iamStatements[0]!)].sort()).toEqual([...AWS_WAKE_IAM_ACTIONS].sort());
  });
});

describe('templates/policies/cloudflare-token.json', () => {
  const doc = JSON.parse(fs.readFileSync(path.join(ROOT, 'templates/policies/cloudflare-token.json'), 'utf8')) as {
    description: string;
    notes: string[];
    permissions: Array<Record<string, unknown> & { label: string }>;
  };

  it('lists exactly CLOUDFLARE_TOKEN_PERMISSIONS and the notes', () => {
    expect(doc.permissions.map(({ label, ...p }) => p)).toEqual(CLOUDFLARE_TOKEN_PERMISSIONS);
    expect(doc.permissions.map((p) => p.label)).toEqual(CLOUDFLARE_TOKEN_PERMISSIONS.map(permissionLabel));
    expect(doc.notes).toEqual(CLOUDFLARE_TOKEN_NOTES);
  });

  it('needs the Workers permissions in both modes and the tunnel ones only in tunnel mode', () => {
    const labels = (mode: 'tunnel' | 'public') => cloudflarePermissionsFor(mode).map(permissionLabel);
    // KV: the OAUTH_KV namespace of the OAuth provider (claude.ai connectors)
    const workers = ['Account › Workers Scripts › Edit', 'Account › Workers KV Storage › Edit', 'Account › Account Settings › Read'];
    expect(labels('public')).toEqual(workers);
    expect(labels('tunnel')).toEqual([
      ...workers,
      'Account › Cloudflare Tunnel › Edit',
      'Account › Connectivity Directory › Admin',
      'Account › Connectivity Directory › Bind',
    ]);
    expect(cloudflarePermissionsFor('container').map(permissionLabel)).toEqual([...workers, 'Account › Workers Containers › Edit']);
    expect(cloudflarePermissionsFor('public', { includeOptional: true }).map(permissionLabel)).toEqual([
      ...workers,
      'User › User Details › Read',
      'User › Memberships › Read',
    ]);
  });

  it('names are confirmed (but the Containers one); every permission but Bind has a read-only probe, Bind is checked by its API group', () => {
    expect(CLOUDFLARE_TOKEN_PERMISSIONS.filter((p) => !p.nameConfirmed).map((p) => p.name)).toEqual(['Workers Containers']);
    expect(doc.notes.some((n) => n.includes('#15704') && n.includes('Connectivity Directory - Bind'))).toBe(true);
    for (const p of CLOUDFLARE_TOKEN_PERMISSIONS) {
      expect(p.apiGroup).toBe(`${p.name} ${p.access === 'Edit' ? 'Write' : p.access}`);
      expect(p.why.length).toBeGreaterThan(20);
      if (p.access === 'Bind') {
        expect(p.probe).toBeNull();
        continue;
      }
      expect(p.probe!.method).toBe('GET');
      expect(p.probe!.path).toMatch(/^\/(accounts\/\{account_id\}|user|memberships)/);
    }
  });
});

describe('the IAM evaluator of the EC2 emulator', () => {
  const req = (context: AuthorizationRequest['context'], action = 'ec2:RunInstances', resource = 'arn:aws:ec2:us-east-1:123456789012:instance/*'): AuthorizationRequest => ({ action, resource, context });
  const doc = (Condition: Record<string, Record<string, string | string[]>>, extra: Partial<Statement> = {}): PolicyDocument => ({
    Version: '2012-10-17',
    Statement: [{ Sid: 'S', Effect: 'Allow', Action: 'ec2:Run*', Resource: 'arn:aws:ec2:*:*:instance/*', Condition, ...extra }],
  });

  it('matches actions case-insensitively with wildcards, and resources segment by segment', () => {
    expect(isAllowed(doc({}), req({}, 'EC2:runinstances'))).toBe(true);
    expect(isAllowed(doc({}), req({}, 'ec2:StartInstances'))).toBe(false);
    expect(isAllowed(doc({}), req({}, 'ec2:RunInstances', 'arn:aws:ec2:us-east-1::image/ami-12345678'))).toBe(false);
    expect(isAllowed(doc({}, { Resource: 'arn:aws:ec2:*::image/*' }), req({}, 'ec2:RunInstances', 'arn:aws:ec2:us-east-1::image/ami-12345678'))).toBe(true);
  });

  it('StringEquals needs the key present and one value to match; key names are case-insensitive, tag keys are not', () => {
    const p = doc({ StringEquals: { 'ec2:InstanceType': ['t3.medium', 't3.large'], 'aws:RequestTag/managed-by': 'crawl4ai-mcp' } });
    expect(isAllowed(p, req({ 'EC2:instancetype': 't3.large', 'aws:RequestTag/managed-by': 'crawl4ai-mcp' }))).toBe(true);
    expect(isAllowed(p, req({ 'ec2:InstanceType': 'p5.48xlarge', 'aws:RequestTag/managed-by': 'crawl4ai-mcp' }))).toBe(false);
    expect(isAllowed(p, req({ 'ec2:InstanceType': 't3.large' }))).toBe(false);
    expect(isAllowed(p, req({ 'ec2:InstanceType': 't3.large', 'aws:RequestTag/Managed-By': 'crawl4ai-mcp' }))).toBe(false);
  });

  it('Null, StringLike, ForAllValues/ForAnyValue and IfExists follow IAM', () => {
    expect(isAllowed(doc({ Null: { 'aws:RequestTag/x': 'false' } }), req({ 'aws:RequestTag/x': 'a' }))).toBe(true);
    expect(isAllowed(doc({ Null: { 'aws:RequestTag/x': 'false' } }), req({}))).toBe(false);
    expect(isAllowed(doc({ Null: { 'aws:RequestTag/x': 'true' } }), req({}))).toBe(true);
    expect(isAllowed(doc({ StringLike: { 'ec2:InstanceType': 't3.*' } }), req({ 'ec2:InstanceType': 't3.nano' }))).toBe(true);
    expect(isAllowed(doc({ StringLike: { 'ec2:InstanceType': 't3.*' } }), req({ 'ec2:InstanceType': 'm5.large' }))).toBe(false);
    const all = doc({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] } });
    expect(isAllowed(all, req({ 'aws:TagKeys': ['a'] }))).toBe(true);
    expect(isAllowed(all, req({ 'aws:TagKeys': ['a', 'c'] }))).toBe(false);
    expect(isAllowed(all, req({}))).toBe(true); // over no values at all: true, as in IAM
    const any = doc({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['a'] } });
    expect(isAllowed(any, req({ 'aws:TagKeys': ['c', 'a'] }))).toBe(true);
    expect(isAllowed(any, req({}))).toBe(false);
    expect(isAllowed(doc({ StringEqualsIfExists: { 'ec2:InstanceType': 't3.large' } }), req({}))).toBe(true);
  });

  it('an explicit Deny wins, and an unknown operator is an error rather than ignored', () => {
    const p: PolicyDocument = { Version: '2012-10-17', Statement: [...doc({}).Statement, { Sid: 'D', Effect: 'Deny', Action: '*', Resource: '*' }] };
    expect(isAllowed(p, req({}))).toBe(false);
    expect(() => isAllowed(doc({ NumericLessThan: { 'ec2:VolumeSize': '30' } }), req({}))).toThrow(/not supported/);
  });
});
