import type { RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import { DescribeInstancesCommand, RunInstancesCommand } from './sdk.js';
import { CliError } from '../../ground/errors.js';
import { DEFAULT_DISK_GIB } from '../../pricing/catalog.js';
import type { CpuCredits } from '../../model/deployment.js';
import type { AwsClients } from './clients.js';
import { awsCall, isAwsError } from './errors.js';
import { tagSpecifications } from './tags.js';

/** Root volume: encrypted gp3, deleted with the instance; its size is the one the price table assumes. */
export const ROOT_VOLUME_GIB = DEFAULT_DISK_GIB;
/** EC2's limit on user data, in bytes before base64. */
const USER_DATA_MAX_BYTES = 16_384;

/** Everything RunInstances needs, fixed before the first call so a resumed call sends the same request. */
export interface LaunchParams {
  deployment: string;
  imageId: string;
  rootDeviceName: string;
  instanceType: string;
  subnetId: string;
  /** undefined only for a permission dry run, before the group exists */
  securityGroupId?: string;
  /** T3 credit option; every offered size is a T3 */
  cpuCredits: CpuCredits;
}

/**
 * The RunInstances request: IMDSv2 only with hop limit 1 (containers cannot reach the metadata
 * service through the Docker bridge), encrypted gp3 root, tags on the instance, its volume and its
 * network interface from the first moment, a public IPv4 address for outbound traffic, no key pair
 * and no instance profile (nothing logs in, and the VM needs no AWS permission). The CPU credit
 * option is always sent: EC2 would otherwise launch T3 in unlimited mode, where a busy Chromium is
 * billed for surplus credits. A shutdown from inside the guest (the idle watchdog) stops the
 * instance, never terminates it: said explicitly so nothing depends on EC2's default.
 */
export function runInstancesInput(p: LaunchParams, userData: string, clientToken?: string): RunInstancesCommandInput {
  return {
    ImageId: p.imageId,
    InstanceType: p.instanceType as RunInstancesCommandInput['InstanceType'],
    MinCount: 1,
    MaxCount: 1,
    ...(clientToken ? { ClientToken: clientToken } : {}),
    NetworkInterfaces: [
      {
        DeviceIndex: 0,
        SubnetId: p.subnetId,
        ...(p.securityGroupId ? { Groups: [p.securityGroupId] } : {}),
        AssociatePublicIpAddress: true,
        DeleteOnTermination: true,
      },
    ],
    UserData: Buffer.from(userData, 'utf8').toString('base64'),
    CreditSpecification: { CpuCredits: p.cpuCredits },
    InstanceInitiatedShutdownBehavior: 'stop',
    MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' },
    BlockDeviceMappings: [
      {
        DeviceName: p.rootDeviceName,
        Ebs: { VolumeSize: ROOT_VOLUME_GIB, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true },
      },
    ],
    TagSpecifications: tagSpecifications(p.deployment, 'instance', 'volume', 'network-interface'),
  };
}

/**
 * Launches the instance with `clientToken` (EC2 deduplicates: the same token returns the instance
 * it already made). If EC2 says the token was used with other arguments (the run that created it
 * chose a different image or group), the instance made with that token is looked up and adopted.
 */
export async function runInstance(aws: AwsClients, p: LaunchParams, userData: string, clientToken: string): Promise<string> {
  if (Buffer.byteLength(userData, 'utf8') > USER_DATA_MAX_BYTES) {
    throw new CliError(`the VM bootstrap is ${Buffer.byteLength(userData, 'utf8')} bytes; EC2 accepts at most ${USER_DATA_MAX_BYTES}`, {
      hint: 'this is a bug in crawl4ai-mcp: please report it',
    });
  }
  const c = { action: 'RunInstances', region: aws.region };
  try {
    const out = await aws.ec2.send(new RunInstancesCommand(runInstancesInput(p, userData, clientToken)));
    const id = out.Instances?.[0]?.InstanceId;
    if (!id) throw new CliError('AWS RunInstances answered without an instance id');
    return id;
  } catch (e) {
    if (!isAwsError(e, 'IdempotentParameterMismatch')) throw e;
    const prior = await awsCall({ ...c, action: 'DescribeInstances' }, () =>
      aws.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: [clientToken] }] })),
    );
    const id = prior.Reservations?.flatMap((r) => r.Instances ?? [])[0]?.InstanceId;
    if (!id) throw e;
    return id;
  }
}
