/**
 * IAM (Query protocol, API version 2010-05-08) on the EC2 emulator's server: users with a path,
 * inline user policies and access keys. The keys it creates are identities the same server accepts
 * for EC2 (and IAM, STS) calls, judged by the user's inline policies with the evaluator in
 * iam-policy.ts — so a test can hand a created key to a real SDK and see what it may do.
 *
 * Followed from IAM: user names are unique case-insensitively (EntityAlreadyExists 409); a path
 * starts and ends with `/`; at most 2 access keys per user (LimitExceeded 409); a user with keys or
 * policies cannot be deleted (DeleteConflict 409); missing entities answer NoSuchEntity 404; a
 * malformed policy document answers MalformedPolicyDocument 400; lists page with Marker/MaxItems;
 * a user just created is not yet visible to calls naming it (propagationMs, NoSuchEntity).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Ec2Error } from './errors.js';
import type { AuthorizationRequest, PolicyDocument } from './iam-policy.js';
import { el, esc, iso } from './xml.js';

export interface IamAccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  status: 'Active' | 'Inactive';
  createDate: number;
}

export interface IamUser {
  userName: string;
  path: string;
  userId: string;
  arn: string;
  createDate: number;
  /** policy name → document (JSON text as given) */
  policies: Map<string, string>;
  keys: Map<string, IamAccessKey>;
  tags: Record<string, string>;
}

const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const MAX_KEYS_PER_USER = 2;

export class IamState {
  /** lower-cased user name → user */
  readonly users = new Map<string, IamUser>();
  /**
   * IAM is eventually consistent: for this long after CreateUser, calls naming the new user answer
   * NoSuchEntity (Terraform's AWS provider retries PutUserPolicy on it for the same reason).
   */
  propagationMs = 0;
  constructor(
    readonly accountId: string,
    private readonly clock: () => number,
  ) {}

  user(name: string): IamUser | undefined {
    return this.users.get(name.toLowerCase());
  }

  /** the user owning an access key id created here, with the key */
  byAccessKey(accessKeyId: string): { user: IamUser; key: IamAccessKey } | undefined {
    for (const user of this.users.values()) {
      const key = user.keys.get(accessKeyId);
      if (key) return { user, key };
    }
    return undefined;
  }

  /** the user's inline policies as one document (IAM evaluates their union) */
  policyOf(user: IamUser): PolicyDocument {
    return { Version: '2012-10-17', Statement: [...user.policies.values()].flatMap((doc) => (JSON.parse(doc) as PolicyDocument).Statement) };
  }

  now(): number {
    return this.clock();
  }
}

const noSuchUser = (name: string) => new Ec2Error('NoSuchEntity', `The user with name ${name} cannot be found.`, 404);
const validation = (msg: string) => new Ec2Error('ValidationError', msg, 400);

function checkUserName(name: string | undefined, param = 'userName'): string {
  if (name === undefined || name === '') throw validation(`1 validation error detected: Value null at '${param}' failed to satisfy constraint: Member must not be null`);
  if (!/^[\w+=,.@-]{1,64}$/.test(name)) {
    throw validation(`1 validation error detected: Value '${name}' at '${param}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`);
  }
  return name;
}

function checkPath(path: string | undefined, param = 'path'): string {
  if (path === undefined) return '/';
  if (!/^\/([\u0021-\u007E]*\/)?$/.test(path) || path.length > 512) {
    throw validation(`The specified value for ${param} is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.`);
  }
  return path;
}

function checkPolicyDocument(text: string | undefined): string {
  if (text === undefined || text === '') throw validation(`1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Ec2Error('MalformedPolicyDocument', 'Syntax errors in policy.', 400);
  }
  const d = doc as Partial<PolicyDocument>;
  if (!d || typeof d !== 'object' || !Array.isArray(d.Statement) || d.Statement.length === 0) throw new Ec2Error('MalformedPolicyDocument', 'Syntax errors in policy.', 400);
  for (const s of d.Statement) {
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new Ec2Error('MalformedPolicyDocument', 'Policy statement must contain a valid Effect.', 400);
    if (s.Action === undefined) throw new Ec2Error('MalformedPolicyDocument', 'Policy statement must contain actions.', 400);
    if (s.Resource === undefined) throw new Ec2Error('MalformedPolicyDocument', 'Policy statement must contain resources.', 400);
  }
  return text;
}

const userXml = (u: IamUser) => el('Path', u.path) + el('UserName', u.userName) + el('UserId', u.userId) + el('Arn', u.arn) + el('CreateDate', iso(u.createDate));
const members = (name: string, xs: string[]) => (xs.length ? `<${name}>${xs.map((x) => `<member>${x}</member>`).join('')}</${name}>` : `<${name}/>`);

export function iamResponse(action: string, requestId: string, result: string | undefined): string {
  const inner = result === undefined ? '' : `<${action}Result>${result}</${action}Result>`;
  return `<${action}Response xmlns="${IAM_NS}">${inner}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>\n`;
}

export function iamErrorXml(code: string, message: string, requestId: string, type = 'Sender'): string {
  return `<ErrorResponse xmlns="${IAM_NS}"><Error><Type>${type}</Type><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>\n`;
}

/** Marker/MaxItems paging (MaxItems 1..1000, default 100); the marker is opaque. */
function page<T>(raw: Record<string, string>, list: T[]): { page: T[]; more: string } {
  const max = raw.MaxItems === undefined ? 100 : Number(raw.MaxItems);
  if (!Number.isInteger(max) || max < 1 || max > 1000) throw validation(`1 validation error detected: Value '${raw.MaxItems}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000`);
  let offset = 0;
  if (raw.Marker !== undefined) {
    offset = Number.parseInt(Buffer.from(raw.Marker, 'base64url').toString('utf8').replace(/^m:/, ''), 10);
    if (!Number.isInteger(offset) || offset < 0) throw validation('Invalid Marker.');
  }
  const slice = list.slice(offset, offset + max);
  const next = offset + max;
  const more = next < list.length ? el('IsTruncated', 'true') + el('Marker', Buffer.from(`m:${next}`).toString('base64url')) : el('IsTruncated', 'false');
  return { page: slice, more };
}

export interface IamCall {
  action: string;
  raw: Record<string, string>;
  /** the calling IAM user, when the key is one IAM created (GetUser without UserName answers it) */
  caller?: IamUser;
}

/** The resource ARN IAM authorizes for a call (user actions: the target user's ARN, with its path). */
export function iamAuthorization(iam: IamState, call: IamCall): AuthorizationRequest {
  const { action, raw } = call;
  const account = iam.accountId;
  let resource: string;
  if (action === 'ListUsers') resource = `arn:aws:iam::${account}:user${raw.PathPrefix ?? '/'}`;
  else if (action === 'CreateUser') resource = `arn:aws:iam::${account}:user${raw.Path ?? '/'}${raw.UserName ?? ''}`;
  else {
    const name = raw.UserName ?? call.caller?.userName ?? '';
    const existing = iam.user(name);
    // A user that does not exist yet (or any more) is authorized at the root path, as IAM does.
    resource = existing ? existing.arn : `arn:aws:iam::${account}:user/${name}`;
  }
  return { action: `iam:${action}`, resource, context: {} };
}

const ACTIONS = new Set(['CreateUser', 'GetUser', 'ListUsers', 'DeleteUser', 'PutUserPolicy', 'DeleteUserPolicy', 'GetUserPolicy', 'ListUserPolicies', 'CreateAccessKey', 'DeleteAccessKey', 'ListAccessKeys']);

export function isIamAction(action: string): boolean {
  return ACTIONS.has(action);
}

/** Runs one IAM action; returns the `…Result` body (undefined for actions without one). */
export function runIamAction(iam: IamState, call: IamCall): string | undefined {
  const { action, raw } = call;
  const need = (name: string) => {
    const u = iam.user(checkUserName(raw.UserName));
    if (!u || iam.now() - u.createDate < iam.propagationMs) throw noSuchUser(name);
    return u;
  };
  switch (action) {
    case 'CreateUser': {
      const name = checkUserName(raw.UserName);
      const path = checkPath(raw.Path);
      if (iam.user(name)) throw new Ec2Error('EntityAlreadyExists', `User with name ${name} already exists.`, 409);
      const tags: Record<string, string> = {};
      for (let i = 1; raw[`Tags.member.${i}.Key`] !== undefined; i++) tags[raw[`Tags.member.${i}.Key`]!] = raw[`Tags.member.${i}.Value`] ?? '';
      const user: IamUser = {
        userName: name,
        path,
        userId: `AIDA${randomBytes(9).toString('hex').toUpperCase().slice(0, 17)}`,
        arn: `arn:aws:iam::${iam.accountId}:user${path}${name}`,
        createDate: iam.now(),
        policies: new Map(),
        keys: new Map(),
        tags,
      };
      iam.users.set(name.toLowerCase(), user);
      return `<User>${userXml(user)}</User>`;
    }
    case 'GetUser': {
      if (raw.UserName === undefined) {
        if (!call.caller) throw validation('Must specify userName when calling with non-User credentials');
        return `<User>${userXml(call.caller)}</User>`;
      }
      return `<User>${userXml(need(raw.UserName))}</User>`;
    }
    case 'ListUsers': {
      const prefix = raw.PathPrefix ?? '/';
      if (!prefix.startsWith('/')) throw validation(`1 validation error detected: Value '${prefix}' at 'pathPrefix' failed to satisfy constraint: Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*`);
      const all = [...iam.users.values()].filter((u) => u.path.startsWith(prefix)).sort((a, b) => (a.userName.toLowerCase() < b.userName.toLowerCase() ? -1 : 1));
      const { page: p, more } = page(raw, all);
      return members('Users', p.map(userXml)) + more;
    }
    case 'DeleteUser': {
      const u = need(raw.UserName ?? '');
      if (u.keys.size) throw new Ec2Error('DeleteConflict', 'Cannot delete entity, must delete access keys first.', 409);
      if (u.policies.size) throw new Ec2Error('DeleteConflict', 'Cannot delete entity, must delete policies first.', 409);
      iam.users.delete(u.userName.toLowerCase());
      return undefined;
    }
    case 'PutUserPolicy': {
      const u = need(raw.UserName ?? '');
      if (!raw.PolicyName || !/^[\w+=,.@-]{1,128}$/.test(raw.PolicyName)) throw validation(`1 validation error detected: Value '${raw.PolicyName ?? 'null'}' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`);
      u.policies.set(raw.PolicyName, checkPolicyDocument(raw.PolicyDocument));
      return undefined;
    }
    case 'GetUserPolicy': {
      const u = need(raw.UserName ?? '');
      const doc = u.policies.get(raw.PolicyName ?? '');
      if (doc === undefined) throw new Ec2Error('NoSuchEntity', `The user policy with name ${raw.PolicyName ?? ''} cannot be found.`, 404);
      return el('UserName', u.userName) + el('PolicyName', raw.PolicyName) + el('PolicyDocument', encodeURIComponent(doc));
    }
    case 'ListUserPolicies': {
      const u = need(raw.UserName ?? '');
      const { page: p, more } = page(raw, [...u.policies.keys()].sort());
      return members('PolicyNames', p.map(esc)) + more;
    }
    case 'DeleteUserPolicy': {
      const u = need(raw.UserName ?? '');
      if (!u.policies.delete(raw.PolicyName ?? '')) throw new Ec2Error('NoSuchEntity', `The user policy with name ${raw.PolicyName ?? ''} cannot be found.`, 404);
      return undefined;
    }
    case 'CreateAccessKey': {
      const u = raw.UserName === undefined ? call.caller : need(raw.UserName);
      if (!u) throw validation('Must specify userName when calling with non-User credentials');
      if (u.keys.size >= MAX_KEYS_PER_USER) throw new Ec2Error('LimitExceeded', `Cannot exceed quota for AccessKeysPerUser: ${MAX_KEYS_PER_USER}`, 409);
      const key: IamAccessKey = {
        accessKeyId: `AKIA${createHash('sha256').update(randomBytes(16)).digest('hex').toUpperCase().replace(/[^A-Z2-7]/g, '').padEnd(16, 'Q').slice(0, 16)}`,
        secretAccessKey: randomBytes(30).toString('base64').slice(0, 40),
        status: 'Active',
        createDate: iam.now(),
      };
      u.keys.set(key.accessKeyId, key);
      return `<AccessKey>${el('UserName', u.userName)}${el('AccessKeyId', key.accessKeyId)}${el('Status', key.status)}${el('SecretAccessKey', key.secretAccessKey)}${el('CreateDate', iso(key.createDate))}</AccessKey>`;
    }
    case 'ListAccessKeys': {
      const u = raw.UserName === undefined ? call.caller : need(raw.UserName);
      if (!u) throw validation('Must specify userName when calling with non-User credentials');
      const { page: p, more } = page(raw, [...u.keys.values()]);
      return members('AccessKeyMetadata', p.map((k) => el('UserName', u.userName) + el('AccessKeyId', k.accessKeyId) + el('Status', k.status) + el('CreateDate', iso(k.createDate)))) + more;
    }
    case 'DeleteAccessKey': {
      const u = raw.UserName === undefined ? call.caller : need(raw.UserName);
      const id = raw.AccessKeyId ?? '';
      if (!u || !u.keys.delete(id)) throw new Ec2Error('NoSuchEntity', `The Access Key with id ${id} cannot be found.`, 404);
      return undefined;
    }
    default:
      throw new Ec2Error('InvalidAction', `Could not find operation ${action} for version 2010-05-08`, 400);
  }
}
