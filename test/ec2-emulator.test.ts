// The EC2/STS emulator, exercised only through the real AWS SDK clients (and raw HTTP for the wire edge cases).
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_CONFIG_FILE = '/nonexistent';
process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteSecurityGroupCommand,
  DescribeAddressesCommand,
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeTagsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  DisassociateAddressCommand,
  EC2Client,
  GetConsoleOutputCommand,
  ModifyInstanceAttributeCommand,
  paginateDescribeInstances,
  ReleaseAddressCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  type _InstanceType,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANONICAL_OWNER, startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.js';

const region = 'us-east-1';
const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const W = { minDelay: 1, maxDelay: 1, maxWaitTime: 20 };
const DEPLOY = 'crawl4ai-mcp:deployment';

function ec2(emu: Ec2Emulator, extra: Partial<ConstructorParameters<typeof EC2Client>[0]> = {}) {
  return new EC2Client({ endpoint: emu.url, region, credentials: creds, ...extra });
}

async function caught<T>(p: Promise<T>): Promise<Error & { $metadata?: { httpStatusCode?: number }; Code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { $metadata?: { httpStatusCode?: number } };
  }
  throw new Error('expected the call to fail');
}

/** Fake (unverified) SigV4 header: accepted when the emulator has no accessKeyId/secret configured. */
const fakeAuth = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=00';
async function rawPost(emu: Ec2Emulator, body: string, headers: Record<string, string> = { authorization: fakeAuth }) {
  const res = await fetch(emu.url + '/', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  return { status: res.status, text: await res.text() };
}

async function latestUbuntu(client: EC2Client, arch = 'x86_64') {
  const { Images = [] } = await client.send(
    new DescribeImagesCommand({
      Owners: [CANONICAL_OWNER],
      Filters: [
        { Name: 'name', Values: ['ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-*-server-*'] },
        { Name: 'architecture', Values: [arch] },
        { Name: 'state', Values: ['available'] },
      ],
    }),
  );
  return [...Images].sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0]!;
}

describe('EC2 emulator: catalog', () => {
  let emu: Ec2Emulator;
  let client: EC2Client;
  beforeAll(async () => {
    emu = await startEc2Emulator();
    client = ec2(emu);
  });
  afterAll(() => emu.close());

  it('answers regions, zones, the default VPC and its subnets', async () => {
    const regions = await client.send(new DescribeRegionsCommand({}));
    const names = regions.Regions!.map((r) => r.RegionName);
    expect(names).toContain('us-east-1');
    expect(names).not.toContain('af-south-1');
    const all = await client.send(new DescribeRegionsCommand({ AllRegions: true }));
    expect(all.Regions!.find((r) => r.RegionName === 'af-south-1')?.OptInStatus).toBe('not-opted-in');

    const zones = await client.send(new DescribeAvailabilityZonesCommand({ Filters: [{ Name: 'state', Values: ['available'] }] }));
    expect(zones.AvailabilityZones!.map((z) => z.ZoneName)).toEqual(['a', 'b', 'c', 'd', 'e', 'f'].map((x) => `us-east-1${x}`));

    const allVpcs = await client.send(new DescribeVpcsCommand({}));
    expect(allVpcs.Vpcs).toHaveLength(2); // the default one and a private corporate one
    const { Vpcs } = await client.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }));
    expect(Vpcs).toHaveLength(1);
    expect(Vpcs![0]).toMatchObject({ IsDefault: true, CidrBlock: '172.31.0.0/16', State: 'available' });
    const { Subnets } = await client.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [Vpcs![0]!.VpcId!] }, { Name: 'default-for-az', Values: ['true'] }] }),
    );
    expect(Subnets).toHaveLength(6);
    expect(Subnets![0]).toMatchObject({ MapPublicIpOnLaunch: true, DefaultForAz: true, AvailabilityZone: 'us-east-1a' });

    const bad = await caught(client.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is_default', Values: ['true'] }] })));
    expect(bad.name).toBe('InvalidParameterValue');
    expect(bad.message).toContain("The filter 'is_default' is invalid");
  });

  it('finds Canonical Ubuntu images by owner, name glob and architecture', async () => {
    const amd = await latestUbuntu(client);
    expect(amd).toMatchObject({ OwnerId: CANONICAL_OWNER, Architecture: 'x86_64', State: 'available', RootDeviceName: '/dev/sda1' });
    expect(amd.Name).toBe('ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20251014');
    const arm = await latestUbuntu(client, 'arm64');
    expect(arm.Name).toContain('arm64');
    expect(arm.ImageId).not.toBe(amd.ImageId);

    // Without Owners, a newer look-alike from a stranger's account shows up: owner filtering matters.
    const { Images = [] } = await client.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['ubuntu/images/*noble*amd64*'] }] }));
    expect(Images.some((i) => i.OwnerId !== CANONICAL_OWNER)).toBe(true);

    const missing = await caught(client.send(new DescribeImagesCommand({ ImageIds: ['ami-0123456789abcdef0'] })));
    expect(missing.name).toBe('InvalidAMIID.NotFound');
  });

  it('describes instance types with memory and vCPUs', async () => {
    const { InstanceTypes = [] } = await client.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t3.medium', 'm7i.large', 't4g.medium'] }));
    const byName = Object.fromEntries(InstanceTypes.map((t) => [t.InstanceType, t]));
    expect(byName['t3.medium']).toMatchObject({ MemoryInfo: { SizeInMiB: 4096 }, VCpuInfo: { DefaultVCpus: 2 }, ProcessorInfo: { SupportedArchitectures: ['x86_64'] } });
    expect(byName['m7i.large']!.MemoryInfo!.SizeInMiB).toBe(8192);
    expect(byName['t4g.medium']!.ProcessorInfo!.SupportedArchitectures).toEqual(['arm64']);
    const err = await caught(client.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t3.nope' as _InstanceType] })));
    expect(err.name).toBe('InvalidInstanceType');
  });
});

describe('EC2 emulator: lifecycle of one deployment', () => {
  let emu: Ec2Emulator;
  let client: EC2Client;
  beforeAll(async () => {
    emu = await startEc2Emulator({ transitionMs: 200 });
    client = ec2(emu);
  });
  afterAll(() => emu.close());

  it('creates, runs idempotently, stops, resizes, starts, terminates and cleans up', async () => {
    const tags = [
      { Key: DEPLOY, Value: 'alpha' },
      { Key: 'managed-by', Value: 'crawl4ai-mcp' },
    ];
    const { Vpcs } = await client.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }));
    const vpcId = Vpcs![0]!.VpcId!;

    // --- security group with one ingress rule
    const sg = await client.send(
      new CreateSecurityGroupCommand({ GroupName: 'crawl4ai-mcp-alpha', Description: 'crawl4ai-mcp alpha', VpcId: vpcId, TagSpecifications: [{ ResourceType: 'security-group', Tags: tags }] }),
    );
    const groupId = sg.GroupId!;
    expect(groupId).toMatch(/^sg-[0-9a-f]{17}$/);
    const dup = await caught(client.send(new CreateSecurityGroupCommand({ GroupName: 'crawl4ai-mcp-alpha', Description: 'again', VpcId: vpcId })));
    expect(dup.name).toBe('InvalidGroup.Duplicate');

    const https = { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'https' }] };
    const auth = await client.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [https] }));
    expect(auth.Return).toBe(true);
    expect(auth.SecurityGroupRules![0]).toMatchObject({ IpProtocol: 'tcp', FromPort: 443, CidrIpv4: '0.0.0.0/0', IsEgress: false });
    const again = await caught(client.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [https] })));
    expect(again.name).toBe('InvalidPermission.Duplicate');

    const found = await client.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: `tag:${DEPLOY}`, Values: ['alpha'] }] }));
    expect(found.SecurityGroups).toHaveLength(1);
    expect(found.SecurityGroups![0]!.IpPermissions).toEqual([
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'https' }], Ipv6Ranges: [], PrefixListIds: [], UserIdGroupPairs: [] },
    ]);
    expect(found.SecurityGroups![0]!.IpPermissionsEgress![0]).toMatchObject({ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] });
    expect(emu.state.securityGroups.get(groupId)!.ingress).toHaveLength(1);

    // --- RunInstances with a ClientToken, sent twice: one instance
    const image = await latestUbuntu(client);
    const cloudInit = '#cloud-config\npackages: [docker.io]\n';
    const run: RunInstancesCommandInput = {
      ImageId: image.ImageId!,
      InstanceType: 't3.medium',
      MinCount: 1,
      MaxCount: 1,
      SecurityGroupIds: [groupId],
      UserData: Buffer.from(cloudInit).toString('base64'),
      ClientToken: 'alpha-run-1',
      IamInstanceProfile: { Name: 'crawl4ai-mcp-alpha' },
      MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' },
      BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeSize: 30, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } }],
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    };
    const first = await client.send(new RunInstancesCommand(run));
    const second = await client.send(new RunInstancesCommand(run));
    const instanceId = first.Instances![0]!.InstanceId!;
    expect(second.Instances![0]!.InstanceId).toBe(instanceId);
    expect(second.ReservationId).toBe(first.ReservationId);
    expect(emu.state.instances.size).toBe(1);
    expect(first.Instances![0]!.State).toEqual({ Code: 0, Name: 'pending' });
    expect(first.Instances![0]!.PublicIpAddress).toBeUndefined();
    const mismatch = await caught(client.send(new RunInstancesCommand({ ...run, InstanceType: 't3.large' })));
    expect(mismatch.name).toBe('IdempotentParameterMismatch');

    const model = emu.state.instances.get(instanceId)!;
    expect(model.userData).toBe(cloudInit);
    expect(model.metadataOptions).toMatchObject({ httpTokens: 'required', httpPutResponseHopLimit: 1, httpEndpoint: 'enabled' });
    expect(model.iamInstanceProfile).toEqual({ name: 'crawl4ai-mcp-alpha', arn: undefined });
    const vol = emu.state.volumes.get(model.blockDevices[0]!.volumeId)!;
    expect(vol).toMatchObject({ size: 30, volumeType: 'gp3', encrypted: true, tags: { [DEPLOY]: 'alpha' } });

    // --- running: public IP, tags, volumes visible through the API
    await waitUntilInstanceRunning({ client, ...W }, { InstanceIds: [instanceId] });
    expect(emu.state.instanceState(model)).toBe('running');
    const described = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const inst = described.Reservations![0]!.Instances![0]!;
    expect(inst).toMatchObject({ InstanceType: 't3.medium', State: { Name: 'running', Code: 16 }, VpcId: vpcId, ImageId: image.ImageId });
    expect(inst.PublicIpAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(inst.PrivateIpAddress).toMatch(/^172\.31\./);
    expect(inst.SecurityGroups).toEqual([{ GroupId: groupId, GroupName: 'crawl4ai-mcp-alpha' }]);
    expect(inst.Tags).toEqual(expect.arrayContaining(tags));
    expect(inst.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    const vols = await client.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }] }));
    expect(vols.Volumes![0]).toMatchObject({ Size: 30, Encrypted: true, State: 'in-use' });
    const tagRows = await client.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: [DEPLOY] }, { Name: 'value', Values: ['alpha'] }] }));
    expect(new Set(tagRows.Tags!.map((t) => t.ResourceType))).toEqual(new Set(['instance', 'security-group', 'volume']));

    // --- Elastic IP: survives stop/start
    const eip = await client.send(new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: tags }] }));
    const assoc = await client.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: instanceId }));
    expect(assoc.AssociationId).toMatch(/^eipassoc-/);
    const withEip = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    expect(withEip.Reservations![0]!.Instances![0]!.PublicIpAddress).toBe(eip.PublicIp);

    // --- resize needs a stopped instance
    const early = await caught(client.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, InstanceType: { Value: 't3.large' } })));
    expect(early.name).toBe('IncorrectInstanceState');
    const stop = await client.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    expect(stop.StoppingInstances![0]).toMatchObject({ CurrentState: { Name: 'stopping' }, PreviousState: { Name: 'running' } });
    const cannotStart = await caught(client.send(new StartInstancesCommand({ InstanceIds: [instanceId] })));
    expect(cannotStart.name).toBe('IncorrectInstanceState');
    await waitUntilInstanceStopped({ client, ...W }, { InstanceIds: [instanceId] });
    await client.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, InstanceType: { Value: 't3.large' } }));
    const armType = await caught(client.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, InstanceType: { Value: 't4g.large' } })));
    expect(armType.name).toBe('Unsupported');
    await client.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    await waitUntilInstanceRunning({ client, ...W }, { InstanceIds: [instanceId] });
    const resized = (await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0]!.Instances![0]!;
    expect(resized.InstanceType).toBe('t3.large');
    expect(resized.PublicIpAddress).toBe(eip.PublicIp);

    // --- teardown order matters, like on real AWS
    const inUse = await caught(client.send(new DeleteSecurityGroupCommand({ GroupId: groupId })));
    expect(inUse.name).toBe('DependencyViolation');
    expect(inUse.$metadata?.httpStatusCode).toBe(400);
    const stillAssociated = await caught(client.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId })));
    expect(stillAssociated.name).toBe('InvalidIPAddress.InUse');
    await client.send(new DisassociateAddressCommand({ AssociationId: assoc.AssociationId }));
    await client.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }));
    expect((await client.send(new DescribeAddressesCommand({}))).Addresses).toEqual([]);

    const term = await client.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    expect(term.TerminatingInstances![0]!.CurrentState!.Name).toBe('shutting-down');
    const stillShuttingDown = await caught(client.send(new DeleteSecurityGroupCommand({ GroupId: groupId })));
    expect(stillShuttingDown.name).toBe('DependencyViolation');
    await waitUntilInstanceTerminated({ client, ...W }, { InstanceIds: [instanceId] });
    await client.send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
    const gone = await caught(client.send(new DeleteSecurityGroupCommand({ GroupId: groupId })));
    expect(gone.name).toBe('InvalidGroup.NotFound');

    // terminated instances stay visible for a while; nothing of the deployment is left
    const after = await client.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${DEPLOY}`, Values: ['alpha'] }] }));
    expect(after.Reservations![0]!.Instances![0]!.State!.Name).toBe('terminated');
    expect(emu.resourcesOf('alpha')).toEqual([]);
  });
});

describe('EC2 emulator: real-world failure modes', () => {
  let emu: Ec2Emulator;
  let client: EC2Client;
  let imageId: string;
  beforeAll(async () => {
    emu = await startEc2Emulator({ transitionMs: 0 });
    client = ec2(emu);
    imageId = (await latestUbuntu(client)).ImageId!;
  });
  afterAll(() => emu.close());

  it('DryRun: 412 DryRunOperation when allowed, 403 UnauthorizedOperation when denied', async () => {
    const input: RunInstancesCommandInput = { ImageId: imageId, InstanceType: 't3.medium', MinCount: 1, MaxCount: 1, DryRun: true };
    const allowed = await caught(client.send(new RunInstancesCommand(input)));
    expect(allowed.name).toBe('DryRunOperation');
    expect(allowed.message).toBe('Request would have succeeded, but DryRun flag is set.');
    expect(allowed.$metadata?.httpStatusCode).toBe(412);

    // a dry run still validates, and changes nothing
    const badAmi = await caught(client.send(new RunInstancesCommand({ ...input, ImageId: 'ami-0000000000000000f' })));
    expect(badAmi.name).toBe('InvalidAMIID.NotFound');
    const noSuch = await caught(client.send(new TerminateInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'], DryRun: true })));
    expect(noSuch.name).toBe('InvalidInstanceID.NotFound');
    const sgDry = await caught(client.send(new CreateSecurityGroupCommand({ GroupName: 'dry', Description: 'dry', DryRun: true })));
    expect(sgDry.name).toBe('DryRunOperation');
    expect([...emu.state.securityGroups.values()].map((g) => g.groupName)).not.toContain('dry');

    emu.denyActions(['ec2:RunInstances', 'DescribeAddresses']);
    const denied = await caught(client.send(new RunInstancesCommand(input)));
    expect(denied.name).toBe('UnauthorizedOperation');
    expect(denied.$metadata?.httpStatusCode).toBe(403);
    expect(denied.message).toContain('User: arn:aws:iam::123456789012:user/test is not authorized to perform: ec2:RunInstances');
    const real = await caught(client.send(new RunInstancesCommand({ ...input, DryRun: false })));
    expect(real.name).toBe('UnauthorizedOperation');
    expect((await caught(client.send(new DescribeAddressesCommand({})))).name).toBe('UnauthorizedOperation');
    emu.denyActions([]);
    expect(emu.state.instances.size).toBe(0);
  });

  it('throttling: 503 RequestLimitExceeded is retried by the SDK', async () => {
    emu.throttleNext(2);
    const out = await client.send(new DescribeRegionsCommand({}));
    expect(out.Regions!.length).toBeGreaterThan(5);
    const log = emu.requests.filter((r) => r.action === 'DescribeRegions').slice(-3);
    expect(log.map((r) => r.status)).toEqual([503, 503, 200]);

    emu.throttleNext(1);
    const once = ec2(emu, { maxAttempts: 1 });
    const err = await caught(once.send(new DescribeRegionsCommand({})));
    expect(err.name).toBe('RequestLimitExceeded');
    expect(err.$metadata?.httpStatusCode).toBe(503);
  });

  it('validates RunInstances like EC2 does', async () => {
    const once = ec2(emu, { maxAttempts: 1 });
    const base: RunInstancesCommandInput = { ImageId: imageId, InstanceType: 't3.medium', MinCount: 1, MaxCount: 1 };
    expect((await caught(client.send(new RunInstancesCommand({ ...base, ImageId: 'ami-0000000000000000f' })))).name).toBe('InvalidAMIID.NotFound');
    expect((await caught(client.send(new RunInstancesCommand({ ...base, ImageId: 'ubuntu' })))).name).toBe('InvalidAMIID.Malformed');
    expect((await caught(client.send(new RunInstancesCommand({ ...base, InstanceType: 't3.gigantic' as _InstanceType })))).name).toBe('InvalidParameterValue');
    const arch = await caught(client.send(new RunInstancesCommand({ ...base, InstanceType: 't4g.medium' })));
    expect(arch.message).toContain("architecture 'arm64' of the specified instance type does not match");
    const plain = await caught(client.send(new RunInstancesCommand({ ...base, UserData: '#!/bin/bash\necho hi' })));
    expect(plain.message).toBe('Invalid BASE64 encoding of user data.');
    const sg = await caught(client.send(new RunInstancesCommand({ ...base, SecurityGroupIds: ['sg-0123456789abcdef0'] })));
    expect(sg.name).toBe('InvalidGroup.NotFound');
    const small = await caught(client.send(new RunInstancesCommand({ ...base, BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeSize: 4 } }] })));
    expect(small.name).toBe('InvalidBlockDeviceMapping');
    const badTag = await caught(client.send(new RunInstancesCommand({ ...base, TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'a', Value: 'b' }] }] })));
    expect(badTag.name).toBe('InvalidParameterValue');

    emu.insufficientCapacity(['t3.medium']);
    const cap = await caught(once.send(new RunInstancesCommand(base)));
    expect(cap.name).toBe('InsufficientInstanceCapacity');
    expect(cap.message).toContain('We currently do not have sufficient t3.medium capacity');
    emu.insufficientCapacity([]);
    expect(emu.state.instances.size).toBe(0);
  });

  it('no default VPC: VPCIdNotSpecified unless a subnet / VPC is given', async () => {
    const local = await startEc2Emulator({ transitionMs: 0 });
    try {
      const c = ec2(local);
      local.removeDefaultVpc();
      const img = (await latestUbuntu(c)).ImageId!;
      const err = await caught(c.send(new RunInstancesCommand({ ImageId: img, InstanceType: 't3.medium', MinCount: 1, MaxCount: 1 })));
      expect(err.name).toBe('VPCIdNotSpecified');
      expect((await caught(c.send(new CreateSecurityGroupCommand({ GroupName: 'x', Description: 'x' })))).name).toBe('VPCIdNotSpecified');
      const { Vpcs = [] } = await c.send(new DescribeVpcsCommand({}));
      expect(Vpcs.map((v) => v.IsDefault)).toEqual([false]);
      const { Subnets = [] } = await c.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [Vpcs[0]!.VpcId!] }] }));
      const sg = await c.send(new CreateSecurityGroupCommand({ GroupName: 'x', Description: 'x', VpcId: Vpcs[0]!.VpcId }));
      const ok = await c.send(
        new RunInstancesCommand({ ImageId: img, InstanceType: 't3.medium', MinCount: 1, MaxCount: 1, SubnetId: Subnets[0]!.SubnetId, SecurityGroupIds: [sg.GroupId!] }),
      );
      expect(ok.Instances![0]!.SubnetId).toBe(Subnets[0]!.SubnetId);
    } finally {
      await local.close();
    }
  });

  it('security group rules: revoke, dependency on referencing groups', async () => {
    const a = await client.send(new CreateSecurityGroupCommand({ GroupName: 'a', Description: 'a' }));
    const b = await client.send(new CreateSecurityGroupCommand({ GroupName: 'b', Description: 'b' }));
    await client.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: b.GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, UserIdGroupPairs: [{ GroupId: a.GroupId }] }] }));
    expect((await caught(client.send(new DeleteSecurityGroupCommand({ GroupId: a.GroupId }))))).toMatchObject({ name: 'DependencyViolation' });
    const rev = await client.send(new RevokeSecurityGroupIngressCommand({ GroupId: b.GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, UserIdGroupPairs: [{ GroupId: a.GroupId }] }] }));
    expect(rev.Return).toBe(true);
    await client.send(new DeleteSecurityGroupCommand({ GroupId: a.GroupId }));
    const badDesc = await caught(client.send(new CreateSecurityGroupCommand({ GroupName: 'c', Description: 'crawl4ai — résumé' })));
    expect(badDesc.name).toBe('InvalidParameterValue');
  });
});

describe('EC2 emulator: eventual consistency and pagination', () => {
  it('InvalidInstanceID.NotFound right after RunInstances; the waiter rides it out', async () => {
    const emu = await startEc2Emulator({ consistencyDelayMs: 500, transitionMs: 100 });
    try {
      const client = ec2(emu);
      const image = await latestUbuntu(client);
      const run = await client.send(new RunInstancesCommand({ ImageId: image.ImageId, InstanceType: 't3.medium', MinCount: 1, MaxCount: 1 }));
      const id = run.Instances![0]!.InstanceId!;
      const nf = await caught(client.send(new DescribeInstancesCommand({ InstanceIds: [id] })));
      expect(nf.name).toBe('InvalidInstanceID.NotFound');
      expect(nf.message).toBe(`The instance ID '${id}' does not exist`);
      expect((await caught(client.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'k', Value: 'v' }] }))))).toMatchObject({ name: 'InvalidInstanceID.NotFound' });
      await waitUntilInstanceRunning({ client, ...W }, { InstanceIds: [id] });
      await client.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'k', Value: 'v' }] }));
      expect(emu.state.instances.get(id)!.tags).toEqual({ k: 'v' });
    } finally {
      await emu.close();
    }
  });

  it('paginates DescribeInstances with NextToken (pageSize 2) for the SDK paginator', async () => {
    const emu = await startEc2Emulator({ pageSize: 2, transitionMs: 0 });
    try {
      const client = ec2(emu);
      const image = await latestUbuntu(client);
      await client.send(
        new RunInstancesCommand({
          ImageId: image.ImageId,
          InstanceType: 't3.micro',
          MinCount: 5,
          MaxCount: 5,
          TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: DEPLOY, Value: 'paged' }] }],
        }),
      );
      const before = emu.requests.length;
      const ids: string[] = [];
      for await (const page of paginateDescribeInstances({ client }, { Filters: [{ Name: `tag:${DEPLOY}`, Values: ['paged'] }, { Name: 'instance-state-name', Values: ['pending', 'running'] }] })) {
        for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) ids.push(i.InstanceId!);
      }
      expect(new Set(ids).size).toBe(5);
      expect(emu.requests.slice(before).filter((r) => r.action === 'DescribeInstances')).toHaveLength(3);
      expect(emu.resourcesOf('paged').filter((r) => r.type === 'instance')).toHaveLength(5);

      const tooSmall = await caught(client.send(new DescribeInstancesCommand({ MaxResults: 3 })));
      expect(tooSmall.name).toBe('InvalidParameterValue');
      const combo = await caught(client.send(new DescribeInstancesCommand({ InstanceIds: [ids[0]!], MaxResults: 5 })));
      expect(combo.name).toBe('InvalidParameterCombination');
      const forged = await caught(client.send(new DescribeInstancesCommand({ NextToken: 'bm9wZQ' })));
      expect(forged.name).toBe('InvalidParameterValue');
    } finally {
      await emu.close();
    }
  });
});

describe('EC2 emulator: identity and authentication', () => {
  let emu: Ec2Emulator;
  beforeAll(async () => {
    emu = await startEc2Emulator({ accountId: '210987654321', accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey });
  });
  afterAll(() => emu.close());

  it('STS GetCallerIdentity, also through AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL_EC2', async () => {
    const sts = new STSClient({ endpoint: emu.url, region, credentials: creds });
    const me = await sts.send(new GetCallerIdentityCommand({}));
    expect(me).toMatchObject({ Account: '210987654321', Arn: 'arn:aws:iam::210987654321:user/test' });
    expect(me.UserId).toMatch(/^AIDA[0-9A-Z]+$/);

    process.env.AWS_ENDPOINT_URL_STS = emu.url;
    process.env.AWS_ENDPOINT_URL_EC2 = emu.url;
    try {
      const viaEnv = await new STSClient({ region, credentials: creds }).send(new GetCallerIdentityCommand({}));
      expect(viaEnv.Account).toBe('210987654321');
      const regions = await new EC2Client({ region, credentials: creds }).send(new DescribeRegionsCommand({}));
      expect(regions.Regions!.length).toBeGreaterThan(5);
    } finally {
      delete process.env.AWS_ENDPOINT_URL_STS;
      delete process.env.AWS_ENDPOINT_URL_EC2;
    }
  });

  it('AuthFailure for another key id, SignatureDoesNotMatch for a wrong secret, 401 without SigV4', async () => {
    const otherKey = { accessKeyId: 'AKIDOTHER', secretAccessKey: creds.secretAccessKey };
    const e1 = await caught(new EC2Client({ endpoint: emu.url, region, credentials: otherKey }).send(new DescribeRegionsCommand({})));
    expect(e1.name).toBe('AuthFailure');
    expect(e1.$metadata?.httpStatusCode).toBe(401);
    const e2 = await caught(new STSClient({ endpoint: emu.url, region, credentials: otherKey }).send(new GetCallerIdentityCommand({})));
    expect(e2.name).toBe('InvalidClientTokenId');
    const wrongSecret = { accessKeyId: creds.accessKeyId, secretAccessKey: 'not-the-secret' };
    const e3 = await caught(new EC2Client({ endpoint: emu.url, region, credentials: wrongSecret }).send(new DescribeRegionsCommand({})));
    expect(e3.name).toBe('SignatureDoesNotMatch');

    const unsigned = await rawPost(emu, 'Action=DescribeRegions&Version=2016-11-15', {});
    expect(unsigned.status).toBe(401);
    expect(unsigned.text).toContain('<Code>AuthFailure</Code>');
    const optIn = await caught(new EC2Client({ endpoint: emu.url, region: 'af-south-1', credentials: creds }).send(new DescribeRegionsCommand({})));
    expect(optIn.name).toBe('AuthFailure');
  });

  it('wire-level errors: InvalidAction, UnknownParameter, MissingParameter', async () => {
    const open = await startEc2Emulator();
    try {
      const unknown = await rawPost(open, 'Action=DescribeUnicorns&Version=2016-11-15');
      expect(unknown.status).toBe(400);
      expect(unknown.text).toMatch(/<Response><Errors><Error><Code>InvalidAction<\/Code><Message>The action DescribeUnicorns is not valid for this web service.<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>/);
      const param = await rawPost(open, 'Action=DescribeInstances&Version=2016-11-15&InstanceIds.1=i-12345678');
      expect(param.text).toContain('<Code>UnknownParameter</Code>');
      const miss = await rawPost(open, 'Action=RunInstances&Version=2016-11-15&ImageId=ami-12345678&MaxCount=1');
      expect(miss.text).toContain('The request must contain the parameter MinCount');
      const ok = await rawPost(open, 'Action=DescribeVpcs&Version=2016-11-15');
      expect(ok.status).toBe(200);
      expect(ok.text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<DescribeVpcsResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/"><requestId>/);
    } finally {
      await open.close();
    }
  });
});

describe('EC2 emulator: user data and console output, as anyone with the permission reads them', () => {
  let emu: Ec2Emulator;
  let client: EC2Client;
  beforeAll(async () => {
    emu = await startEc2Emulator({ transitionMs: 0 });
    client = ec2(emu);
  });
  afterAll(() => emu.close());

  it('DescribeInstanceAttribute returns the user data base64-encoded; it changes only while stopped', async () => {
    const imageId = (await latestUbuntu(client)).ImageId!;
    const secret = '#cloud-config\nwrite_files: [{path: /etc/t, content: "T=secret-value"}]\n';
    const run = await client.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.medium', MinCount: 1, MaxCount: 1, UserData: Buffer.from(secret).toString('base64') }));
    const InstanceId = run.Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning({ client, ...W }, { InstanceIds: [InstanceId] });
    const read = async () => (await client.send(new DescribeInstanceAttributeCommand({ InstanceId, Attribute: 'userData' }))).UserData?.Value;
    expect(Buffer.from((await read())!, 'base64').toString()).toBe(secret);
    expect((await client.send(new DescribeInstanceAttributeCommand({ InstanceId, Attribute: 'instanceType' }))).InstanceType?.Value).toBe('t3.medium');
    const unknown = await caught(client.send(new DescribeInstanceAttributeCommand({ InstanceId, Attribute: 'bogus' as never })));
    expect(unknown.name).toBe('InvalidParameterValue');

    const clean = '#cloud-config\n# nothing\n';
    const running = await caught(client.send(new ModifyInstanceAttributeCommand({ InstanceId, UserData: { Value: Buffer.from(clean) } })));
    expect(running.name).toBe('IncorrectInstanceState');
    await client.send(new StopInstancesCommand({ InstanceIds: [InstanceId] }));
    await waitUntilInstanceStopped({ client, ...W }, { InstanceIds: [InstanceId] });
    await client.send(new ModifyInstanceAttributeCommand({ InstanceId, UserData: { Value: Buffer.from(clean) } }));
    expect(Buffer.from((await read())!, 'base64').toString()).toBe(clean);
    expect(emu.state.instances.get(InstanceId)!.userData).toBe(clean);

    // an instance launched without user data answers an empty attribute
    const bare = await client.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.medium', MinCount: 1, MaxCount: 1 }));
    const bareId = bare.Instances![0]!.InstanceId!;
    expect((await client.send(new DescribeInstanceAttributeCommand({ InstanceId: bareId, Attribute: 'userData' }))).UserData?.Value).toBeUndefined();
  });

  it('GetConsoleOutput has no output until the VM writes some, then the last 64 KB, base64-encoded', async () => {
    const imageId = (await latestUbuntu(client)).ImageId!;
    const run = await client.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.medium', MinCount: 1, MaxCount: 1 }));
    const InstanceId = run.Instances![0]!.InstanceId!;
    const first = await client.send(new GetConsoleOutputCommand({ InstanceId }));
    expect(first.InstanceId).toBe(InstanceId);
    expect(first.Output).toBeUndefined();
    emu.writeConsole(InstanceId, 'x'.repeat(70 * 1024));
    emu.writeConsole(InstanceId, 'crawl4ai-mcp: image a digest b\r\n');
    const out = await client.send(new GetConsoleOutputCommand({ InstanceId }));
    const text = Buffer.from(out.Output!, 'base64').toString();
    expect(text.length).toBe(64 * 1024);
    expect(text.endsWith('crawl4ai-mcp: image a digest b\r\n')).toBe(true);
    expect(out.Timestamp).toBeInstanceOf(Date);
    const missing = await caught(client.send(new GetConsoleOutputCommand({ InstanceId: 'i-0123456789abcdef0' })));
    expect(missing.name).toBe('InvalidInstanceID.NotFound');
  });
});
