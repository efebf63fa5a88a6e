/**
 * The IAM side of the Compute Engine emulator: IAM API v1 service accounts and their keys
 * (iam.googleapis.com/v1/projects/P/serviceAccounts…), custom roles, and the IAM policies of
 * instances (Compute's instances.getIamPolicy / setIamPolicy). Habits of the real APIs it keeps:
 * - create answers 409 ALREADY_EXISTS for a taken account id, get/delete 404 NOT_FOUND;
 * - keys.create answers `privateKeyData`: base64 of a key file whose token_uri is Google's
 *   (https://oauth2.googleapis.com/token; tests route that host to the emulator);
 * - the org policy constraints/iam.disableServiceAccountKeyCreation refuses keys.create with
 *   400 FAILED_PRECONDITION and a PreconditionFailure violation naming the constraint;
 * - a service account just created is not yet a valid binding member for `propagationMs`
 *   (400 "Service account … does not exist."): IAM is eventually consistent;
 * - an instance policy carries an etag; a setIamPolicy with a stale etag is refused (409, "There
 *   were concurrent policy changes…"); a binding to a role that does not exist is refused (400);
 * - a deleted account stays in bindings as `deleted:serviceAccount:EMAIL?uid=…` (a new account of
 *   the same name is not granted by them);
 * - what a created service account may do comes only from instance-level bindings of roles that
 *   hold the permission (nothing at project level: it may start its own instance, nothing else);
 * - a service account is also a resource with its own IAM policy (`…/serviceAccounts/EMAIL:getIamPolicy`
 *   / `:setIamPolicy`): keys.create / list / delete on it are allowed by the caller's project-level
 *   grants or by a binding on that account's policy; a caller refused (or asking about an account
 *   that does not exist, which a caller without project-level grants cannot tell apart) gets
 *   403 PERMISSION_DENIED naming the permission;
 * - an account holds at most 10 user-managed keys: the 11th keys.create is refused with
 *   400 FAILED_PRECONDITION "Precondition check failed." (what the API answers since 2022; it once
 *   answered 429 RESOURCE_EXHAUSTED "Maximum number of keys on account reached.").
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';

export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';

export class IamApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: 'ALREADY_EXISTS' | 'NOT_FOUND' | 'PERMISSION_DENIED' | 'FAILED_PRECONDITION' | 'INVALID_ARGUMENT' | 'ABORTED',
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
  }
}

export interface ServiceAccountKeyRecord {
  id: string;
  publicKey: string;
  validAfterTime: string;
}

export interface ServiceAccount {
  email: string;
  uniqueId: string;
  displayName: string;
  description: string;
  createdAt: number;
  keys: Map<string, ServiceAccountKeyRecord>;
}

export interface Binding {
  role: string;
  members: string[];
}

export interface ResourcePolicy {
  version: number;
  etagSeq: number;
  bindings: Binding[];
}

const ACCOUNT_ID = /^[a-z]([-a-z0-9]{4,28}[a-z0-9])$/;
/** user-managed keys per service account */
export const MAX_USER_MANAGED_KEYS = 10;

export class IamState {
  readonly accounts = new Map<string, ServiceAccount>(); // by email
  /** custom roles by full name (projects/P/roles/ID) -> permissions */
  readonly roles = new Map<string, Set<string>>();
  /** instance policies by "zone/name" */
  readonly policies = new Map<string, ResourcePolicy>();
  /** service accounts' own policies by email (who may manage that account's keys) */
  readonly accountPolicies = new Map<string, ResourcePolicy>();
  /** how long a new service account is refused as a binding member */
  propagationMs = 0;
  /** the org policy constraints/iam.disableServiceAccountKeyCreation is enforced */
  keyCreationDisabled = false;
  /** the next n setIamPolicy calls find the policy changed since it was read (a concurrent writer) */
  concurrentPolicyChanges = 0;

  constructor(
    readonly project: string,
    private readonly clock: () => number,
  ) {}

  emailOf(accountId: string): string {
    return `${accountId}@${this.project}.iam.gserviceaccount.com`;
  }

  account(email: string): ServiceAccount {
    const sa = this.accounts.get(email);
    if (!sa) throw new IamApiError(404, 'NOT_FOUND', `Unknown service account`);
    return sa;
  }

  // ------------------------------------------------------------------ IAM API v1 routes
  /**
   * `/v1/projects/P/serviceAccounts…`; `need` checks the caller's project-level permission, or
   * (given an account) a binding on that account's own policy too.
   */
  route(method: string, rest: string, q: Record<string, string>, body: Record<string, unknown>, need: (permission: string, onAccount?: string) => void): unknown {
    let r: RegExpExecArray | null;
    if ((r = /^\/([^/:]+):(getIamPolicy|setIamPolicy)$/.exec(rest)) && method === 'POST') {
      const email = decodeURIComponent(r[1]!);
      need(`iam.serviceAccounts.${r[2]}`, email);
      this.account(email);
      if (r[2] === 'getIamPolicy') return this.policyJsonOf(this.accountPolicyOf(email));
      const policy = (body.policy ?? {}) as { etag?: string; bindings?: Binding[] };
      const p = this.accountPolicyOf(email);
      if (policy.etag && policy.etag !== IamState.etag(p)) throw new IamApiError(409, 'ABORTED', 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.');
      this.setAccountPolicy(email, policy.bindings ?? []);
      return this.policyJsonOf(p);
    }
    if (rest === '') {
      if (method === 'POST') {
        need('iam.serviceAccounts.create');
        const accountId = String(body.accountId ?? '');
        if (!ACCOUNT_ID.test(accountId)) throw new IamApiError(400, 'INVALID_ARGUMENT', `Invalid account_id: "${accountId}". Account IDs must be between 6 and 30 characters.`);
        const email = this.emailOf(accountId);
        if (this.accounts.has(email)) throw new IamApiError(409, 'ALREADY_EXISTS', `Service account ${accountId} already exists within project projects/${this.project}.`);
        const sa = (body.serviceAccount ?? {}) as { displayName?: string; description?: string };
        const created: ServiceAccount = {
          email,
          uniqueId: String(100000000000000000000n + BigInt(randomBytes(6).readUIntBE(0, 6))),
          displayName: sa.displayName ?? '',
          description: sa.description ?? '',
          createdAt: this.clock(),
          keys: new Map(),
        };
        this.accounts.set(email, created);
        return this.accountJson(created);
      }
      if (method === 'GET') {
        need('iam.serviceAccounts.list');
        const all = [...this.accounts.values()].sort((a, b) => a.email.localeCompare(b.email));
        const size = Math.min(Number(q.pageSize ?? 100) || 100, 100);
        const start = q.pageToken ? Number(Buffer.from(q.pageToken, 'base64url').toString()) : 0;
        const items = all.slice(start, start + size);
        const next = start + size < all.length ? Buffer.from(String(start + size)).toString('base64url') : undefined;
        return { accounts: items.map((a) => this.accountJson(a)), ...(next ? { nextPageToken: next } : {}) };
      }
    }
    if ((r = /^\/([^/]+)$/.exec(rest))) {
      const email = decodeURIComponent(r[1]!);
      if (method === 'GET') {
        need('iam.serviceAccounts.get');
        return this.accountJson(this.account(email));
      }
      if (method === 'DELETE') {
        need('iam.serviceAccounts.delete');
        const gone = this.account(email);
        this.accounts.delete(email);
        // bindings keep naming it as deleted (with its uid): a new account of the same name is not them
        for (const p of this.policies.values()) {
          for (const b of p.bindings) b.members = b.members.map((m) => (m === `serviceAccount:${email}` ? `deleted:serviceAccount:${email}?uid=${gone.uniqueId}` : m));
        }
        return {};
      }
    }
    if ((r = /^\/([^/]+)\/keys$/.exec(rest))) {
      const sa = () => this.account(decodeURIComponent(r![1]!));
      if (method === 'POST') {
        need('iam.serviceAccountKeys.create', decodeURIComponent(r[1]!));
        const account = sa();
        if (this.keyCreationDisabled) {
          throw new IamApiError(400, 'FAILED_PRECONDITION', 'Key creation is not allowed on this service account.', [
            {
              '@type': 'type.googleapis.com/google.rpc.PreconditionFailure',
              violations: [
                {
                  type: 'constraints/iam.disableServiceAccountKeyCreation',
                  subject: `projects/${this.project}/serviceAccounts/${account.email}?configvalue=${encodeURIComponent(account.email)}`,
                  description: 'Key creation is not allowed on this service account.',
                },
              ],
            },
          ]);
        }
        if (account.keys.size >= MAX_USER_MANAGED_KEYS) throw new IamApiError(400, 'FAILED_PRECONDITION', 'Precondition check failed.');
        return this.createKey(account);
      }
      if (method === 'GET') {
        need('iam.serviceAccountKeys.list', decodeURIComponent(r[1]!));
        const account = sa();
        return { keys: [...account.keys.values()].map((k) => this.keyJson(account, k)) };
      }
    }
    if ((r = /^\/([^/]+)\/keys\/([^/]+)$/.exec(rest)) && method === 'DELETE') {
      need('iam.serviceAccountKeys.delete', decodeURIComponent(r[1]!));
      const account = this.account(decodeURIComponent(r[1]!));
      if (!account.keys.delete(r[2]!)) throw new IamApiError(404, 'NOT_FOUND', `Service account key ${r[2]} does not exist.`);
      return {};
    }
    throw new IamApiError(404, 'NOT_FOUND', `The requested URL was not found on this server.`);
  }

  private accountJson(a: ServiceAccount) {
    return {
      name: `projects/${this.project}/serviceAccounts/${a.email}`,
      projectId: this.project,
      uniqueId: a.uniqueId,
      email: a.email,
      displayName: a.displayName,
      description: a.description,
      etag: 'MDEwMjE5MjA=',
      oauth2ClientId: a.uniqueId,
    };
  }

  private keyJson(a: ServiceAccount, k: ServiceAccountKeyRecord) {
    return {
      name: `projects/${this.project}/serviceAccounts/${a.email}/keys/${k.id}`,
      validAfterTime: k.validAfterTime,
      validBeforeTime: '9999-12-31T23:59:59Z',
      keyAlgorithm: 'KEY_ALG_RSA_2048',
      keyOrigin: 'GOOGLE_PROVIDED',
      keyType: 'USER_MANAGED',
    };
  }

  private createKey(a: ServiceAccount) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const id = randomBytes(20).toString('hex');
    const rec: ServiceAccountKeyRecord = { id, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), validAfterTime: new Date(this.clock()).toISOString() };
    a.keys.set(id, rec);
    const file = {
      type: 'service_account',
      project_id: this.project,
      private_key_id: id,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: a.email,
      client_id: a.uniqueId,
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: GOOGLE_TOKEN_URI,
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(a.email)}`,
      universe_domain: 'googleapis.com',
    };
    return { ...this.keyJson(a, rec), privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE', privateKeyData: Buffer.from(JSON.stringify(file)).toString('base64') };
  }

  // ------------------------------------------------------------------ service accounts' own policies
  accountPolicyOf(email: string): ResourcePolicy {
    let p = this.accountPolicies.get(email);
    if (!p) {
      p = { version: 1, etagSeq: 0, bindings: [] };
      this.accountPolicies.set(email, p);
    }
    return p;
  }

  /** What `gcloud iam service-accounts add-iam-policy-binding` ends in (the project owner's set-up). */
  setAccountPolicy(email: string, bindings: Binding[]): void {
    this.account(email);
    const p = this.accountPolicyOf(email);
    p.bindings = bindings.map((b) => ({ role: String(b.role), members: [...(b.members ?? [])].map(String) }));
    p.etagSeq++;
  }

  /** Creates an account as the project owner would (`gcloud iam service-accounts create`), outside the API's permission checks. */
  createAccountAsOwner(accountId: string, displayName = ''): string {
    const email = this.emailOf(accountId);
    if (!this.accounts.has(email)) {
      this.accounts.set(email, { email, uniqueId: String(100000000000000000000n + BigInt(randomBytes(6).readUIntBE(0, 6))), displayName, description: '', createdAt: this.clock(), keys: new Map() });
    }
    return email;
  }

  /** Whether `member` holds `permission` on the account through the account's own policy. */
  allowedOnAccount(email: string, member: string, permission: string): boolean {
    if (!this.accounts.has(email)) return false;
    return (this.accountPolicies.get(email)?.bindings ?? []).some((b) => b.members.includes(`serviceAccount:${member}`) && (this.roles.get(b.role)?.has(permission) ?? false));
  }

  private policyJsonOf(p: ResourcePolicy) {
    return { version: p.version, etag: IamState.etag(p), ...(p.bindings.length ? { bindings: p.bindings.map((b) => ({ role: b.role, members: [...b.members] })) } : {}) };
  }

  // ------------------------------------------------------------------ instance policies
  policyOf(instanceKey: string): ResourcePolicy {
    let p = this.policies.get(instanceKey);
    if (!p) {
      p = { version: 1, etagSeq: 0, bindings: [] };
      this.policies.set(instanceKey, p);
    }
    return p;
  }

  static etag(p: ResourcePolicy): string {
    return Buffer.from(`BwY${p.etagSeq.toString(16).padStart(8, '0')}`).toString('base64');
  }

  policyJson(instanceKey: string) {
    const p = this.policyOf(instanceKey);
    return { version: p.version, etag: IamState.etag(p), ...(p.bindings.length ? { bindings: p.bindings.map((b) => ({ role: b.role, members: [...b.members] })) } : {}) };
  }

  /** Compute's setIamPolicy body: ZoneSetPolicyRequest {policy, bindings?, etag?}. Errors are [status, reason, message]. */
  setPolicy(instanceKey: string, body: Record<string, unknown>): { ok: true } | { ok: false; status: number; reason: string; message: string } {
    const p = this.policyOf(instanceKey);
    if (this.concurrentPolicyChanges > 0) {
      this.concurrentPolicyChanges--;
      p.etagSeq++; // another writer got there first
    }
    const policy = (body.policy ?? {}) as { etag?: string; bindings?: Binding[] };
    const etag = policy.etag ?? (body.etag as string | undefined);
    if (etag && etag !== IamState.etag(p)) {
      return { ok: false, status: 409, reason: 'conflict', message: 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.' };
    }
    const bindings = (policy.bindings ?? []).map((b) => ({ role: String(b.role), members: [...(b.members ?? [])].map(String) }));
    for (const b of bindings) {
      if (b.role.startsWith('projects/') && !this.roles.has(b.role)) {
        return { ok: false, status: 400, reason: 'badRequest', message: `Role (${b.role}) does not exist in the resource's hierarchy.` };
      }
      for (const m of b.members) {
        const email = /^serviceAccount:(.+)$/.exec(m)?.[1];
        if (!email || !email.endsWith(`@${this.project}.iam.gserviceaccount.com`)) continue;
        const sa = this.accounts.get(email);
        if (!sa || this.clock() - sa.createdAt < this.propagationMs) {
          return { ok: false, status: 400, reason: 'badRequest', message: `Service account ${email} does not exist.` };
        }
      }
    }
    p.bindings = bindings;
    p.etagSeq++;
    return { ok: true };
  }

  /** Whether `email` holds `permission` on the instance through its own bindings. */
  allowedOnInstance(instanceKey: string, email: string, permission: string): boolean {
    const p = this.policies.get(instanceKey);
    return (p?.bindings ?? []).some((b) => b.members.includes(`serviceAccount:${email}`) && (this.roles.get(b.role)?.has(permission) ?? false));
  }

  /** A key of the account that verifies a JWT, checked by the caller (token endpoint). */
  publicKeys(email: string): string[] {
    return [...(this.accounts.get(email)?.keys.values() ?? [])].map((k) => k.publicKey);
  }
}
