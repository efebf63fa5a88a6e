// The IAM emulator and the Worker's wake credential, exercised through the real @aws-sdk/client-iam
// and client-ec2: what the installer creates, what the created key may and may not do, and destroy.
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_CONFIG_FILE = '/nonexistent';
process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
} from '@aws-sdk/client-ec2';
import { HOLD_TAG } from '../src/model/deployment.js';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  GetUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUsersCommand,
  PutUserPolicyCommand,
  paginateListUsers,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWakeCredential, deleteWakeCredential, WAKE_USER_PATH, wakePolicy, wakeUserName } from '../src/providers/aws/wake-credential.js';
import { launchDeploymentInstance } from './helpers/ec2-instances.js';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.js';

const region = 'us-east-1';
const admin = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const W = { minDelay: 1, maxDelay: 1, maxWaitTime: 20 };

type AwsErr = Error & { name: string; $metadata?: { httpStatusCode?: number } };
async function caught(p: Promise<unknown>): Promise<AwsErr> {
  try {
    await p;
  } catch (e) {
    return e as AwsErr;
  }
  throw new Error('expected the call to fail');
}

let emu: Ec2Emulator;
const ec2 = (credentials = admin) => new EC2Client({ endpoint: emu.url, region, credentials, maxAttempts: 1 });
const iamClient = (credentials = admin) => new IAMClient({ endpoint: emu.url, region, credentials, maxAttempts: 1 });

const launch = (deployment: string) => launchDeploymentInstance(() => ec2(), deployment);

beforeAll(async () => {
  emu = await startEc2Emulator({ transitionMs: 50, accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey });
});
afterAll(async () => {
  await emu?.close();
});

describe('IAM emulator (real client-iam)', () => {
  it('a user just created is not visible for a moment (NoSuchEntity), and the wake credential waits that out', async () => {
    emu.iam.propagationMs = 600;
    try {
      await iamClient().send(new CreateUserCommand({ UserName: 'fresh', Path: '/p/' }));
      const early = await caught(iamClient().send(new PutUserPolicyCommand({ UserName: 'fresh', PolicyName: 'x', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' }] }) })));
      expect([early.name, early.$metadata?.httpStatusCode]).toEqual(['NoSuchEntityException', 404]);
      const key = await createWakeCredential(iamClient(), 'propagating', region, { deadlineMs: 10_000, baseMs: 50, maxMs: 200 });
      expect([...emu.iam.user('propagating-wake')!.keys.keys()]).toEqual([key.accessKeyId]);
      expect(emu.iam.user('propagating-wake')!.policies.has('start-this-deployment-only')).toBe(true);
    } finally {
      emu.iam.propagationMs = 0;
    }
    await new Promise((r) => setTimeout(r, 700));
    expect(await deleteWakeCredential(iamClient(), 'propagating')).toBe(true);
    await iamClient().send(new DeleteUserCommand({ UserName: 'fresh' }));
  });

  it('creates users under a path, lists them by PathPrefix with paging, and answers IAM error codes', async () => {
    const iam = iamClient();
    const made = await iam.send(new CreateUserCommand({ UserName: 'alpha', Path: '/team-x/' }));
    expect(made.User).toMatchObject({ UserName: 'alpha', Path: '/team-x/', Arn: `arn:aws:iam::123456789012:user/team-x/alpha` });
    expect(made.User?.UserId).toMatch(/^AIDA[A-Z0-9]{17}$/);
    await iam.send(new CreateUserCommand({ UserName: 'beta', Path: '/team-x/' }));
    await iam.send(new CreateUserCommand({ UserName: 'gamma' }));

    const dup = await caught(iam.send(new CreateUserCommand({ UserName: 'ALPHA' }))); // names are unique case-insensitively
    expect([dup.name, dup.$metadata?.httpStatusCode]).toEqual(['EntityAlreadyExistsException', 409]);
    const badPath = await caught(iam.send(new CreateUserCommand({ UserName: 'delta', Path: 'no-slashes' })));
    expect([badPath.name, badPath.$metadata?.httpStatusCode]).toEqual(['ValidationError', 400]);

    const firstPage = await iam.send(new ListUsersCommand({ PathPrefix: '/team-x/', MaxItems: 1 }));
    expect(firstPage.Users?.map((u) => u.UserName)).toEqual(['alpha']);
    expect(firstPage.IsTruncated).toBe(true);
    const all: string[] = [];
    for await (const page of paginateListUsers({ client: iam, pageSize: 1 }, { PathPrefix: '/team-x/' })) all.push(...(page.Users ?? []).map((u) => u.UserName!));
    expect(all).toEqual(['alpha', 'beta']);

    const missing = await caught(iam.send(new GetUserCommand({ UserName: 'nobody' })));
    expect([missing.name, missing.$metadata?.httpStatusCode]).toEqual(['NoSuchEntityException', 404]);
    expect(missing.message).toBe('The user with name nobody cannot be found.');
  });

  it('refuses to delete a user with keys or policies (DeleteConflict 409), caps keys at 2, and NoSuchEntity on gone things', async () => {
    const iam = iamClient();
    await iam.send(new CreateUserCommand({ UserName: 'conflicted' }));
    await iam.send(new PutUserPolicyCommand({ UserName: 'conflicted', PolicyName: 'p', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' }] }) }));
    const k1 = await iam.send(new CreateAccessKeyCommand({ UserName: 'conflicted' }));
    await iam.send(new CreateAccessKeyCommand({ UserName: 'conflicted' }));
    const third = await caught(iam.send(new CreateAccessKeyCommand({ UserName: 'conflicted' })));
    expect([third.name, third.$metadata?.httpStatusCode]).toEqual(['LimitExceededException', 409]);

    const withKeys = await caught(iam.send(new DeleteUserCommand({ UserName: 'conflicted' })));
    expect([withKeys.name, withKeys.$metadata?.httpStatusCode]).toEqual(['DeleteConflictException', 409]);
    for (const k of (await iam.send(new ListAccessKeysCommand({ UserName: 'conflicted' }))).AccessKeyMetadata ?? []) {
      await iam.send(new DeleteAccessKeyCommand({ UserName: 'conflicted', AccessKeyId: k.AccessKeyId! }));
    }
    const withPolicy = await caught(iam.send(new DeleteUserCommand({ UserName: 'conflicted' })));
    expect(withPolicy.name).toBe('DeleteConflictException');
    expect(withPolicy.message).toMatch(/policies/);
    await iam.send(new DeleteUserPolicyCommand({ UserName: 'conflicted', PolicyName: 'p' }));
    await iam.send(new DeleteUserCommand({ UserName: 'conflicted' }));

    const goneKey = await caught(iam.send(new DeleteAccessKeyCommand({ UserName: 'ghost', AccessKeyId: k1.AccessKey!.AccessKeyId! })));
    expect(goneKey.name).toBe('NoSuchEntityException');
    const goneUser = await caught(iam.send(new DeleteUserCommand({ UserName: 'conflicted' })));
    expect([goneUser.name, goneUser.$metadata?.httpStatusCode]).toEqual(['NoSuchEntityException', 404]);
    const badDoc = await caught(iam.send(new PutUserPolicyCommand({ UserName: 'gamma', PolicyName: 'x', PolicyDocument: '{not json' })));
    expect([badDoc.name, badDoc.$metadata?.httpStatusCode]).toEqual(['MalformedPolicyDocumentException', 400]);
  });

  it('a created key is an identity: its own secret signs, a wrong secret is refused, and a deleted key stops working', async () => {
    const iam = iamClient();
    await iam.send(new CreateUserCommand({ UserName: 'signer', Path: '/p/' }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'signer' }));
    const key = { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
    expect(key.accessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    const sts = new STSClient({ endpoint: emu.url, region, credentials: key, maxAttempts: 1 });
    expect((await sts.send(new GetCallerIdentityCommand({}))).Arn).toBe('arn:aws:iam::123456789012:user/p/signer');
    const forged = await caught(ec2({ accessKeyId: key.accessKeyId, secretAccessKey: admin.secretAccessKey }).send(new DescribeInstancesCommand({})));
    expect(forged.name).toBe('SignatureDoesNotMatch');
    // no policy: IAM's implicit deny
    const denied = await caught(ec2(key).send(new DescribeInstancesCommand({})));
    expect([denied.name, denied.$metadata?.httpStatusCode]).toEqual(['UnauthorizedOperation', 403]);
    expect(denied.message).toContain('arn:aws:iam::123456789012:user/p/signer');
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'signer', AccessKeyId: key.accessKeyId }));
    const revoked = await caught(ec2(key).send(new DescribeInstancesCommand({})));
    expect([revoked.name, revoked.$metadata?.httpStatusCode]).toEqual(['AuthFailure', 401]);
  });
});

describe('the wake credential', () => {
  let mine: string;
  let theirs: string;
  let key: { accessKeyId: string; secretAccessKey: string };

  beforeAll(async () => {
    mine = await launch('wakeme');
    theirs = await launch('someone-else');
    // the installer works under the shipped policy (templates/policies/aws-iam-policy.json)
    emu.useIamPolicy('template');
    key = await createWakeCredential(iamClient(), 'wakeme', region);
  });
  afterAll(() => emu.useIamPolicy(null));

  it('is the user /crawl4ai-mcp/<deployment>-wake with exactly the start-only policy', () => {
    const user = emu.iam.user(wakeUserName('wakeme'))!;
    expect(user.arn).toBe('arn:aws:iam::123456789012:user/crawl4ai-mcp/wakeme-wake');
    expect([...user.policies.values()].map((d) => JSON.parse(d))).toEqual([wakePolicy('wakeme', region)]);
    expect([...user.keys.keys()]).toEqual([key.accessKeyId]);
  });

  it('starts its own stopped instance and sees its state', async () => {
    await ec2().send(new StopInstancesCommand({ InstanceIds: [mine] })); // admin (template policy allows tagged stop)
    await waitUntilInstanceStopped({ client: ec2(), ...W }, { InstanceIds: [mine] });
    const seen = await ec2(key).send(new DescribeInstancesCommand({ InstanceIds: [mine] }));
    expect(seen.Reservations?.[0]?.Instances?.[0]?.State?.Name).toBe('stopped');
    const started = await ec2(key).send(new StartInstancesCommand({ InstanceIds: [mine] }));
    expect(started.StartingInstances?.[0]?.CurrentState?.Name).toBe('pending');
    await waitUntilInstanceRunning({ client: ec2(key), ...W }, { InstanceIds: [mine] });
  });

  it('is refused StopInstances, TerminateInstances, RunInstances and another deployment’s instance', async () => {
    for (const call of [new StopInstancesCommand({ InstanceIds: [mine] }), new TerminateInstancesCommand({ InstanceIds: [mine] }), new StartInstancesCommand({ InstanceIds: [theirs] })]) {
      const e = await caught(ec2(key).send(call as StartInstancesCommand));
      expect([e.name, e.$metadata?.httpStatusCode], call.constructor.name).toEqual(['UnauthorizedOperation', 403]);
    }
    const run = await caught(ec2(key).send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.medium', MinCount: 1, MaxCount: 1 })));
    expect(run.name).toBe('UnauthorizedOperation');
    const stopDry = await caught(ec2(key).send(new StopInstancesCommand({ InstanceIds: [mine], DryRun: true })));
    expect(stopDry.name).toBe('UnauthorizedOperation');
    expect(emu.state.instances.get(mine)?.state).toBe('running');
    expect(emu.state.instances.get(theirs)?.state).toBe('running');
  });

  it('may not start its instance while it carries the hold tag (`stop --hold`); the installer may put and lift only that tag, only on instances tagged managed-by=crawl4ai-mcp', async () => {
    await ec2().send(new StopInstancesCommand({ InstanceIds: [mine] }));
    await waitUntilInstanceStopped({ client: ec2(), ...W }, { InstanceIds: [mine] });
    // the installer (template policy): the hold tag on its own instance, yes; any other key, or a foreign instance, no
    await ec2().send(new CreateTagsCommand({ Resources: [mine], Tags: [{ Key: HOLD_TAG, Value: 'now' }] }));
    expect((await caught(ec2().send(new CreateTagsCommand({ Resources: [mine], Tags: [{ Key: 'crawl4ai-mcp:deployment', Value: 'someone-else' }] })))).name).toBe('UnauthorizedOperation');
    expect((await caught(ec2().send(new CreateTagsCommand({ Resources: [mine], Tags: [{ Key: HOLD_TAG, Value: 'x' }, { Key: 'Name', Value: 'x' }] })))).name).toBe('UnauthorizedOperation');
    expect((await caught(ec2().send(new DeleteTagsCommand({ Resources: [mine], Tags: [{ Key: 'managed-by' }] })))).name).toBe('UnauthorizedOperation');
    expect((await caught(ec2().send(new DeleteTagsCommand({ Resources: [mine] })))).name).toBe('UnauthorizedOperation'); // "all tags" counts every key
    emu.useIamPolicy(null);
    const foreign = (await ec2().send(new RunInstancesCommand({ ImageId: emu.state.instances.get(mine)!.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    emu.useIamPolicy('template');
    expect((await caught(ec2().send(new CreateTagsCommand({ Resources: [foreign], Tags: [{ Key: HOLD_TAG, Value: 'now' }] })))).name).toBe('UnauthorizedOperation');

    // the wake key: refused while held
    const held = await caught(ec2(key).send(new StartInstancesCommand({ InstanceIds: [mine] })));
    expect([held.name, held.$metadata?.httpStatusCode]).toEqual(['UnauthorizedOperation', 403]);
    expect(emu.state.instances.get(mine)?.state).toBe('stopped');
    // lifted (as `start` does): it may start it again
    await ec2().send(new DeleteTagsCommand({ Resources: [mine], Tags: [{ Key: HOLD_TAG }] }));
    await ec2(key).send(new StartInstancesCommand({ InstanceIds: [mine] }));
    await waitUntilInstanceRunning({ client: ec2(key), ...W }, { InstanceIds: [mine] });
  });

  it('is refused every IAM call (AccessDenied 403), its own user included', async () => {
    const iam = iamClient(key);
    for (const call of [new ListUsersCommand({}), new CreateUserCommand({ UserName: 'escalate', Path: WAKE_USER_PATH }), new CreateAccessKeyCommand({ UserName: 'wakeme-wake' }), new GetUserCommand({})]) {
      const e = await caught(iam.send(call as ListUsersCommand));
      expect([e.name, e.$metadata?.httpStatusCode], call.constructor.name).toEqual(['AccessDenied', 403]);
    }
    expect(emu.iam.user('escalate')).toBeUndefined();
  });

  it('the installer policy creates users only under /crawl4ai-mcp/', async () => {
    const e = await caught(iamClient().send(new CreateUserCommand({ UserName: 'admin2', Path: '/' })));
    expect([e.name, e.$metadata?.httpStatusCode]).toEqual(['AccessDenied', 403]);
    expect(e.message).toContain('iam:CreateUser on resource: arn:aws:iam::123456789012:user/admin2');
    const other = await caught(iamClient().send(new PutUserPolicyCommand({ UserName: 'gamma', PolicyName: 'x', PolicyDocument: JSON.stringify(wakePolicy('x', region)) })));
    expect(other.name).toBe('AccessDenied');
  });

  it('a re-run replaces the key (the old one stops working); destroy removes keys, policy and user, and is idempotent', async () => {
    const again = await createWakeCredential(iamClient(), 'wakeme', region);
    expect(again.accessKeyId).not.toBe(key.accessKeyId);
    expect((await caught(ec2(key).send(new DescribeInstancesCommand({})))).name).toBe('AuthFailure');
    await ec2(again).send(new DescribeInstancesCommand({ InstanceIds: [mine] }));

    expect(await deleteWakeCredential(iamClient(), 'wakeme')).toBe(true);
    expect(emu.iam.user('wakeme-wake')).toBeUndefined();
    expect((await caught(ec2(again).send(new DescribeInstancesCommand({})))).name).toBe('AuthFailure');
    expect(await deleteWakeCredential(iamClient(), 'wakeme')).toBe(false);
    const listed = await iamClient().send(new ListUsersCommand({ PathPrefix: WAKE_USER_PATH }));
    expect(listed.Users).toEqual([]);
  });
});
