/**
 * Wake on request, the installer's half: the journaled create of the Worker's wake credential
 * during init, and its delete during destroy (wake-credential.ts holds the IAM calls).
 */
import { registerSecret } from '../../ground/redact.js';
import type { Journal } from '../../state/journal.js';
import type { ProviderContext, WakeCredential } from '../provider.js';
import type { AwsClients } from './clients.js';
import { toCliError } from './errors.js';
import { AWS_POLICY_FILE } from './permissions.js';
import { AWS_RESOURCE } from './resources.js';
import { createWakeCredential, deleteWakeCredential, findWakeUsers, isIamAccessDenied, WAKE_SECRET_NAMES, wakeUserName, wakeVars } from './wake-credential.js';

/**
 * Creates (or adopts) the wake user and issues a fresh key, journaled as `aws:wake-user` before the
 * first IAM call, so a failed init or a lost state still leaves it findable (by path and name).
 * Credentials whose policy predates wake on request (IAM says AccessDenied on the very first call)
 * leave wake off with a line saying how to turn it on; nothing was created then.
 */
export async function issueWakeCredential(aws: AwsClients, ctx: ProviderContext, journal: Journal): Promise<WakeCredential | undefined> {
  const deployment = ctx.spec.name;
  const userName = wakeUserName(deployment);
  const iam = await aws.iam();
  if (journal.find(AWS_RESOURCE.wakeUser)?.phase !== 'created') {
    // notTagged: IAM users here carry no tags (that would need iam:TagUser), so tag search (status's
    // drift check) never sees it; it is found by path and name instead
    await journal.intend(AWS_RESOURCE.wakeUser, AWS_RESOURCE.wakeUser, { meta: { notTagged: true } });
  }
  ctx.progress(`creating the wake credential (IAM user /crawl4ai-mcp/${userName}: may start this VM and nothing else)`);
  try {
    const key = await createWakeCredential(iam, deployment, aws.region, { deadlineMs: 60_000, baseMs: aws.timing.pollMs, maxMs: aws.timing.maxPollMs });
    registerSecret(key.secretAccessKey);
    await journal.created(AWS_RESOURCE.wakeUser, userName, { notTagged: true });
    return { vars: wakeVars(deployment, aws.region), secrets: { [WAKE_SECRET_NAMES.accessKeyId]: key.accessKeyId, [WAKE_SECRET_NAMES.secretAccessKey]: key.secretAccessKey } };
  } catch (e) {
    if (isIamAccessDenied(e) && (await userAbsent(aws, deployment))) {
      await journal.deleted(AWS_RESOURCE.wakeUser);
      ctx.progress(
        `wake on request is off: the AWS credentials may not create IAM users under /crawl4ai-mcp/ (grant the WakeCredentialUsersUnderOwnPathOnly statement of ${AWS_POLICY_FILE} and run init again); start a stopped VM with crawl4ai-mcp start`,
      );
      return undefined;
    }
    throw toCliError(e, { action: 'CreateUser', region: aws.region, service: 'iam' });
  }
}

/** True when the wake user surely does not exist (or cannot even be listed, so was never made by these credentials). */
async function userAbsent(aws: AwsClients, deployment: string): Promise<boolean> {
  try {
    return (await findWakeUsers(await aws.iam(), deployment)).length === 0;
  } catch (e) {
    return isIamAccessDenied(e);
  }
}

/**
 * The wake user's names to delete beyond the journal's: found by path and name, so destroy works
 * with the state file gone. Credentials that may not list IAM users (a policy from before wake on
 * request) made none, unless the journal says otherwise.
 */
export async function wakeUsersToDelete(aws: AwsClients, ctx: ProviderContext, journal: Journal): Promise<string[]> {
  try {
    return await findWakeUsers(await aws.iam(), ctx.spec.name);
  } catch (e) {
    // journaled: the destroy step deletes it by that name (and reports its own failure)
    if (journal.find(AWS_RESOURCE.wakeUser)) return [];
    if (isIamAccessDenied(e)) {
      ctx.debug('aws: iam:ListUsers denied and no wake user journaled; skipping the wake credential');
      return [];
    }
    throw toCliError(e, { action: 'ListUsers', region: aws.region, service: 'iam' });
  }
}

export async function deleteWakeUser(aws: AwsClients, ctx: ProviderContext): Promise<void> {
  try {
    await deleteWakeCredential(await aws.iam(), ctx.spec.name);
  } catch (e) {
    throw toCliError(e, { action: 'DeleteUser', region: aws.region, service: 'iam' });
  }
}
