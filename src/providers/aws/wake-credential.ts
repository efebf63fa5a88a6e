/**
 * The Worker's wake credential: an IAM user `/crawl4ai-mcp/<deployment>-wake` whose only inline
 * policy lets it describe instances and start the one instance tagged with this deployment. Its
 * secret goes only into the Worker (as a secret); everything else about it is derivable from the
 * deployment name, so `destroy` finds it even without a state file.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import { loadIam } from './sdk.js';
import { retry } from '../../ground/wait.js';
import { HOLD_TAG, MANAGED_BY, TAG_DEPLOYMENT, TAG_MANAGED_BY } from '../../model/deployment.js';

/** IAM path of every user this tool creates; the installer's IAM permissions are scoped to it. */
export const WAKE_USER_PATH = '/crawl4ai-mcp/';
export const WAKE_POLICY_NAME = 'start-this-deployment-only';
export const wakeUserName = (deployment: string) => `${deployment}-wake`;

export interface WakePolicyDocument {
  Version: '2012-10-17';
  Statement: Array<{ Sid: string; Effect: 'Allow'; Action: string; Resource: string; Condition?: Record<string, Record<string, string>> }>;
}

/**
 * StartInstances only on instances in `region` carrying this deployment's tags and not the hold tag
 * (`stop --hold`: IAM itself refuses the wake then); DescribeInstances (no resource-level
 * permissions exist for it).
 */
export function wakePolicy(deployment: string, region: string): WakePolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'StartOnlyThisDeploymentsInstance',
        Effect: 'Allow',
        Action: 'ec2:StartInstances',
        Resource: `arn:aws:ec2:${region}:*:instance/*`,
        Condition: {
          StringEquals: { [`aws:ResourceTag/${TAG_DEPLOYMENT}`]: deployment, [`aws:ResourceTag/${TAG_MANAGED_BY}`]: MANAGED_BY },
          Null: { [`aws:ResourceTag/${HOLD_TAG}`]: 'true' },
        },
      },
      { Sid: 'SeeWhetherItIsStopped', Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' },
    ],
  };
}

/** How long and how often to wait out IAM's propagation after CreateUser. */
export interface Propagation {
  deadlineMs: number;
  baseMs: number;
  maxMs: number;
}
const IAM_PROPAGATION: Propagation = { deadlineMs: 60_000, baseMs: 500, maxMs: 5_000 };

export interface WakeKey {
  accessKeyId: string;
  secretAccessKey: string;
}

const errorName = (e: unknown) => (e as { name?: string } | undefined)?.name;

/**
 * Creates (or adopts, on a re-run) the wake user, (re)writes its policy and issues a fresh key.
 * Keys from an earlier run are deleted first: only the Worker holds a key, and a re-run redeploys
 * the Worker with the new one.
 */
export async function createWakeCredential(iam: IAMClient, deployment: string, region: string, propagation: Propagation = IAM_PROPAGATION): Promise<WakeKey> {
  const { CreateUserCommand, PutUserPolicyCommand, CreateAccessKeyCommand } = loadIam();
  const UserName = wakeUserName(deployment);
  try {
    // no Tags: tagging on create needs iam:TagUser too; the path and name identify the user
    await iam.send(new CreateUserCommand({ UserName, Path: WAKE_USER_PATH }));
  } catch (e) {
    if (errorName(e) !== 'EntityAlreadyExistsException') throw e;
  }
  // IAM is eventually consistent: a user just created may answer NoSuchEntity for a few seconds
  const visible = <T>(call: () => Promise<T>) => retry(call, { retryIf: (e) => errorName(e) === 'NoSuchEntityException', attempts: 1_000, ...propagation });
  await visible(() => iam.send(new PutUserPolicyCommand({ UserName, PolicyName: WAKE_POLICY_NAME, PolicyDocument: JSON.stringify(wakePolicy(deployment, region)) })));
  await visible(() => deleteAccessKeys(iam, UserName));
  const out = await visible(() => iam.send(new CreateAccessKeyCommand({ UserName })));
  const key = out.AccessKey;
  if (!key?.AccessKeyId || !key.SecretAccessKey) throw new Error('IAM CreateAccessKey answered without a key');
  return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
}

async function deleteAccessKeys(iam: IAMClient, UserName: string): Promise<void> {
  const { ListAccessKeysCommand, DeleteAccessKeyCommand } = loadIam();
  const keys = await iam.send(new ListAccessKeysCommand({ UserName }));
  for (const k of keys.AccessKeyMetadata ?? []) {
    if (k.AccessKeyId) await ignoreMissing(iam.send(new DeleteAccessKeyCommand({ UserName, AccessKeyId: k.AccessKeyId })));
  }
}

async function ignoreMissing(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (errorName(e) !== 'NoSuchEntityException') throw e;
  }
}

/**
 * Deletes the wake user's keys, its inline policies and the user; nothing there is fine. Found by
 * name under WAKE_USER_PATH (ListUsers), so it works with the state file gone.
 */
export async function deleteWakeCredential(iam: IAMClient, deployment: string): Promise<boolean> {
  const { ListUserPoliciesCommand, DeleteUserPolicyCommand, DeleteUserCommand } = loadIam();
  const UserName = wakeUserName(deployment);
  if ((await findWakeUsers(iam, deployment)).length === 0) return false;
  await deleteAccessKeys(iam, UserName);
  const policies = await iam.send(new ListUserPoliciesCommand({ UserName }));
  for (const PolicyName of policies.PolicyNames ?? []) await ignoreMissing(iam.send(new DeleteUserPolicyCommand({ UserName, PolicyName })));
  await ignoreMissing(iam.send(new DeleteUserCommand({ UserName })));
  return true;
}

/** The Worker secrets that carry the wake key (never in argv, state or logs). */
export const WAKE_SECRET_NAMES = { accessKeyId: 'WAKE_AWS_ACCESS_KEY_ID', secretAccessKey: 'WAKE_AWS_SECRET_ACCESS_KEY' } as const;

/**
 * The Worker's plain vars for waking this deployment on AWS: the region and the deployment's tag
 * value. The Worker finds the instance by the same tag the policy is conditioned on, so they are
 * known before the instance exists (init deploys the Worker while the VM launches) and stay true
 * if a later init replaces the instance.
 */
export function wakeVars(deployment: string, region: string): Record<string, string> {
  return { WAKE_CLOUD: 'aws', WAKE_AWS_REGION: region, WAKE_AWS_DEPLOYMENT: deployment };
}

/** IAM refused the installer's credentials (a policy from before wake on request). */
export const isIamAccessDenied = (e: unknown) => errorName(e) === 'AccessDenied';

/** Names of this deployment's wake users that exist (0 or 1), found by path and name. */
export async function findWakeUsers(iam: IAMClient, deployment: string): Promise<string[]> {
  const { paginateListUsers } = loadIam();
  const UserName = wakeUserName(deployment);
  const found: string[] = [];
  for await (const page of paginateListUsers({ client: iam }, { PathPrefix: WAKE_USER_PATH })) {
    for (const u of page.Users ?? []) if (u.UserName === UserName) found.push(UserName);
  }
  return found;
}
