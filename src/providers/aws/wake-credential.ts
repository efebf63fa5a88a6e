/**
 * The Worker's wake credential: an IAM user `/crawl4ai-mcp/<deployment>-wake` whose only inline
 * policy lets it describe instances and start the one instance tagged with this deployment. Its
 * secret goes only into the Worker (as a secret); everything else about it is derivable from the
 * deployment name, so `destroy` finds it even without a state file.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import { MANAGED_BY, TAG_DEPLOYMENT, TAG_MANAGED_BY } from '../../model/deployment.js';

/** IAM path of every user this tool creates; the installer's IAM permissions are scoped to it. */
export const WAKE_USER_PATH = '/crawl4ai-mcp/';
export const WAKE_POLICY_NAME = 'start-this-deployment-only';
export const wakeUserName = (deployment: string) => `${deployment}-wake`;

export interface WakePolicyDocument {
  Version: '2012-10-17';
  Statement: Array<{ Sid: string; Effect: 'Allow'; Action: string; Resource: string; Condition?: Record<string, Record<string, string>> }>;
}

/** StartInstances only on instances in `region` carrying this deployment's tags; DescribeInstances (no resource-level permissions exist for it). */
export function wakePolicy(deployment: string, region: string): WakePolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'StartOnlyThisDeploymentsInstance',
        Effect: 'Allow',
        Action: 'ec2:StartInstances',
        Resource: `arn:aws:ec2:${region}:*:instance/*`,
        Condition: { StringEquals: { [`aws:ResourceTag/${TAG_DEPLOYMENT}`]: deployment, [`aws:ResourceTag/${TAG_MANAGED_BY}`]: MANAGED_BY } },
      },
      { Sid: 'SeeWhetherItIsStopped', Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' },
    ],
  };
}

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
export async function createWakeCredential(iam: IAMClient, deployment: string, region: string): Promise<WakeKey> {
  const { CreateUserCommand, PutUserPolicyCommand, CreateAccessKeyCommand } = await import('@aws-sdk/client-iam');
  const UserName = wakeUserName(deployment);
  try {
    // no Tags: tagging on create needs iam:TagUser too; the path and name identify the user
    await iam.send(new CreateUserCommand({ UserName, Path: WAKE_USER_PATH }));
  } catch (e) {
    if (errorName(e) !== 'EntityAlreadyExistsException') throw e;
  }
  await iam.send(new PutUserPolicyCommand({ UserName, PolicyName: WAKE_POLICY_NAME, PolicyDocument: JSON.stringify(wakePolicy(deployment, region)) }));
  await deleteAccessKeys(iam, UserName);
  const out = await iam.send(new CreateAccessKeyCommand({ UserName }));
  const key = out.AccessKey;
  if (!key?.AccessKeyId || !key.SecretAccessKey) throw new Error('IAM CreateAccessKey answered without a key');
  return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
}

async function deleteAccessKeys(iam: IAMClient, UserName: string): Promise<void> {
  const { ListAccessKeysCommand, DeleteAccessKeyCommand } = await import('@aws-sdk/client-iam');
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
  const { paginateListUsers, ListUserPoliciesCommand, DeleteUserPolicyCommand, DeleteUserCommand } = await import('@aws-sdk/client-iam');
  const UserName = wakeUserName(deployment);
  let found = false;
  for await (const page of paginateListUsers({ client: iam }, { PathPrefix: WAKE_USER_PATH })) {
    if ((page.Users ?? []).some((u) => u.UserName === UserName)) found = true;
  }
  if (!found) return false;
  await deleteAccessKeys(iam, UserName);
  const policies = await iam.send(new ListUserPoliciesCommand({ UserName }));
  for (const PolicyName of policies.PolicyNames ?? []) await ignoreMissing(iam.send(new DeleteUserPolicyCommand({ UserName, PolicyName })));
  await ignoreMissing(iam.send(new DeleteUserCommand({ UserName })));
  return true;
}
