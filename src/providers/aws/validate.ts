import { randomBytes } from 'node:crypto';
import { AllocateAddressCommand, CreateSecurityGroupCommand, DescribeAddressesCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcsCommand, RunInstancesCommand } from './sdk.js';
import { GetCallerIdentityCommand } from './sdk.js';
import type { ValidationResult } from '../../model/deployment.js';
import type { ProviderContext } from '../provider.js';
import type { AwsClients } from './clients.js';
import { awsCall, awsErrorCode, toCliError } from './errors.js';
import { runInstancesInput } from './launch.js';
import { findDefaultNetwork, findUbuntuImage } from './lookups.js';
import { resourceName, tagSpecifications } from './tags.js';

/**
 * PreCreateCheck: who the credentials are (STS GetCallerIdentity), then a DryRun of each call
 * that creates something, with the real arguments (image, instance type, subnet, tags: a tag
 * condition or a missing ec2:CreateTags shows up as a denied create). EC2 answers a dry run with
 * DryRunOperation (allowed) or UnauthorizedOperation (missing). Calls that need an existing
 * resource id (terminate, delete, associate, modify) cannot be dry-run before anything exists;
 * the IAM policy template lists them.
 */
export async function validateAwsCredentials(aws: AwsClients, ctx: ProviderContext, instanceType: string): Promise<ValidationResult> {
  const identity = await awsCall({ action: 'GetCallerIdentity', region: aws.region }, () => aws.sts.send(new GetCallerIdentityCommand({})));
  const result: ValidationResult = { identity: identity.Arn ?? identity.UserId ?? 'unknown', allowed: [], missing: [] };
  ctx.debug(`aws: credentials are ${result.identity}`);

  const tryRun = async (action: string, call: () => Promise<unknown>): Promise<boolean> => {
    try {
      await call();
      result.allowed.push(`ec2:${action}`); // a call that ignored DryRun still proves the permission
      return true;
    } catch (e) {
      const code = awsErrorCode(e);
      if (code === 'DryRunOperation') {
        result.allowed.push(`ec2:${action}`);
        return true;
      }
      if (code === 'UnauthorizedOperation') {
        result.missing.push(`ec2:${action}`);
        return false;
      }
      throw toCliError(e, { action, region: aws.region });
    }
  };
  const ec2 = aws.ec2;
  const DryRun = true;
  await tryRun('DescribeImages', () => ec2.send(new DescribeImagesCommand({ DryRun, Owners: ['self'] })));
  await tryRun('DescribeVpcs', () => ec2.send(new DescribeVpcsCommand({ DryRun })));
  await tryRun('DescribeSubnets', () => ec2.send(new DescribeSubnetsCommand({ DryRun })));
  await tryRun('DescribeInstances', () => ec2.send(new DescribeInstancesCommand({ DryRun })));
  await tryRun('DescribeSecurityGroups', () => ec2.send(new DescribeSecurityGroupsCommand({ DryRun })));
  await tryRun('DescribeAddresses', () => ec2.send(new DescribeAddressesCommand({ DryRun })));

  // The create calls need the real image and network; without the Describe permissions they
  // cannot be looked up, and the missing Describe actions are already reported.
  if (['ec2:DescribeImages', 'ec2:DescribeVpcs', 'ec2:DescribeSubnets'].every((a) => result.allowed.includes(a))) {
    const [image, net] = await Promise.all([findUbuntuImage(aws), findDefaultNetwork(aws)]);
    await tryRun('CreateSecurityGroup', () =>
      ec2.send(
        new CreateSecurityGroupCommand({
          DryRun,
          // A throwaway name: on a resumed init the real group already exists, and a dry run of a
          // duplicate name can answer InvalidGroup.Duplicate instead of the permission verdict.
          GroupName: `${resourceName(ctx.spec.name)}-dryrun-${randomBytes(3).toString('hex')}`,
          Description: `crawl4ai-mcp deployment ${ctx.spec.name} (managed by crawl4ai-mcp)`,
          VpcId: net.vpcId,
          TagSpecifications: tagSpecifications(ctx.spec.name, 'security-group'),
        }),
      ),
    );
    const launch = { deployment: ctx.spec.name, imageId: image.id, rootDeviceName: image.rootDeviceName, instanceType, subnetId: net.subnetId, cpuCredits: ctx.spec.cpuCredits ?? 'standard' };
    await tryRun('RunInstances', () => ec2.send(new RunInstancesCommand({ ...runInstancesInput(launch, '#cloud-config\n'), DryRun })));
  }
  if (ctx.spec.network === 'public') {
    await tryRun('AllocateAddress', () =>
      ec2.send(new AllocateAddressCommand({ DryRun, Domain: 'vpc', TagSpecifications: tagSpecifications(ctx.spec.name, 'elastic-ip') })),
    );
  }
  return result;
}
