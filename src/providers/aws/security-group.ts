import type { IpPermission, SecurityGroup } from '@aws-sdk/client-ec2';
import { AuthorizeSecurityGroupIngressCommand, CreateSecurityGroupCommand, DeleteSecurityGroupCommand, DescribeSecurityGroupsCommand, RevokeSecurityGroupIngressCommand } from './sdk.js';
import { CliError } from '../../ground/errors.js';
import { retry } from '../../ground/wait.js';
import { TAG_DEPLOYMENT } from '../../model/deployment.js';
import type { AwsClients } from './clients.js';
import { awsCall, isAwsError, isNotFound, toCliError } from './errors.js';
import { awsReadAfterWrite } from './read-after-write.js';
import { resourceName, tagSpecifications } from './tags.js';

/**
 * The deployment's security group: the only inbound rules are the network mode's ports (tunnel:
 * none; public: 443 from anywhere, IPv4 and IPv6). Never 22. Outbound stays open (the VM pulls
 * its image and, in tunnel mode, dials Cloudflare).
 */

const c = (aws: AwsClients, action: string) => ({ action, region: aws.region });

export async function describeSecurityGroup(aws: AwsClients, groupId: string): Promise<SecurityGroup | undefined> {
  try {
    const out = await aws.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
    return out.SecurityGroups?.[0];
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw toCliError(e, c(aws, 'DescribeSecurityGroups'));
  }
}

/** Our group by name in the VPC (after a crash between the create call and the journal write). */
export async function findSecurityGroupByName(aws: AwsClients, deployment: string, vpcId: string): Promise<SecurityGroup | undefined> {
  const name = resourceName(deployment);
  const out = await awsCall(c(aws, 'DescribeSecurityGroups'), () =>
    aws.ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'group-name', Values: [name] },
          { Name: 'vpc-id', Values: [vpcId] },
        ],
      }),
    ),
  );
  const group = out.SecurityGroups?.[0];
  if (group && !group.Tags?.some((t) => t.Key === TAG_DEPLOYMENT && t.Value === deployment)) {
    throw new CliError(`a security group named ${name} (${group.GroupId}) already exists in ${vpcId} but was not created by crawl4ai-mcp`, {
      hint: `delete or rename it, or pick another --name`,
    });
  }
  return group;
}

/** Creates the group (tagged at creation); an existing group of ours with that name is adopted. */
export async function createSecurityGroup(aws: AwsClients, deployment: string, vpcId: string): Promise<string> {
  const existing = await findSecurityGroupByName(aws, deployment, vpcId);
  if (existing?.GroupId) return existing.GroupId;
  try {
    const out = await aws.ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: resourceName(deployment),
        Description: `crawl4ai-mcp deployment ${deployment} (managed by crawl4ai-mcp)`,
        VpcId: vpcId,
        TagSpecifications: tagSpecifications(deployment, 'security-group'),
      }),
    );
    if (!out.GroupId) throw new CliError('AWS CreateSecurityGroup answered without a group id');
    return out.GroupId;
  } catch (e) {
    if (isAwsError(e, 'InvalidGroup.Duplicate')) {
      const group = await findSecurityGroupByName(aws, deployment, vpcId);
      if (group?.GroupId) return group.GroupId;
    }
    throw toCliError(e, c(aws, 'CreateSecurityGroup'));
  }
}

const OPEN_V4 = '0.0.0.0/0';
const OPEN_V6 = '::/0';

function wantedPermission(port: number): IpPermission {
  return {
    IpProtocol: 'tcp',
    FromPort: port,
    ToPort: port,
    IpRanges: [{ CidrIp: OPEN_V4, Description: 'crawl4ai-mcp' }],
    Ipv6Ranges: [{ CidrIpv6: OPEN_V6, Description: 'crawl4ai-mcp' }],
  };
}

/** True when `perm` is exactly "tcp <port> from anywhere" for one of `ports`. */
function isWanted(perm: IpPermission, ports: number[]): boolean {
  return (
    perm.IpProtocol === 'tcp' &&
    perm.FromPort !== undefined &&
    perm.FromPort === perm.ToPort &&
    ports.includes(perm.FromPort) &&
    (perm.IpRanges ?? []).every((r) => r.CidrIp === OPEN_V4) &&
    (perm.Ipv6Ranges ?? []).every((r) => r.CidrIpv6 === OPEN_V6) &&
    !perm.UserIdGroupPairs?.length &&
    !perm.PrefixListIds?.length
  );
}

/**
 * Makes the group's inbound rules exactly `ports` (tcp, from anywhere): missing rules are added,
 * any other rule (someone opened 22 by hand, or the network mode changed) is revoked.
 */
export async function reconcileIngress(aws: AwsClients, groupId: string, ports: number[]): Promise<void> {
  if (ports.includes(22)) throw new CliError('refusing to open port 22: crawl4ai-mcp never opens SSH');
  // called right after CreateSecurityGroup: the new group may not be visible yet
  const group = await awsReadAfterWrite(aws, `security group ${groupId}`, () => describeSecurityGroup(aws, groupId));
  const current = group.IpPermissions ?? [];

  const unwanted = current.filter((p) => !isWanted(p, ports));
  if (unwanted.length) {
    await awsCall(c(aws, 'RevokeSecurityGroupIngress'), () =>
      aws.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: unwanted.map(stripRule) })),
    );
  }
  const has = (port: number, v6: boolean) =>
    current.some(
      (p) => isWanted(p, [port]) && p.FromPort === port && (v6 ? p.Ipv6Ranges?.some((r) => r.CidrIpv6 === OPEN_V6) : p.IpRanges?.some((r) => r.CidrIp === OPEN_V4)),
    );
  for (const port of ports) {
    const want = wantedPermission(port);
    if (has(port, false)) delete want.IpRanges;
    if (has(port, true)) delete want.Ipv6Ranges;
    if (!want.IpRanges && !want.Ipv6Ranges) continue;
    try {
      await aws.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [want] }));
    } catch (e) {
      if (!isAwsError(e, 'InvalidPermission.Duplicate')) throw toCliError(e, c(aws, 'AuthorizeSecurityGroupIngress'));
    }
  }
}

/** A described rule as a revoke request accepts it (descriptions are not part of the match). */
function stripRule(p: IpPermission): IpPermission {
  return {
    IpProtocol: p.IpProtocol,
    FromPort: p.FromPort,
    ToPort: p.ToPort,
    IpRanges: p.IpRanges?.map((r) => ({ CidrIp: r.CidrIp })),
    Ipv6Ranges: p.Ipv6Ranges?.map((r) => ({ CidrIpv6: r.CidrIpv6 })),
    PrefixListIds: p.PrefixListIds?.map((r) => ({ PrefixListId: r.PrefixListId })),
    UserIdGroupPairs: p.UserIdGroupPairs?.map((g) => ({ GroupId: g.GroupId })),
  };
}

/**
 * Deletes the group, retrying DependencyViolation with backoff: EC2 keeps a group "in use" for a
 * while after its instance terminated. A group already gone is fine.
 */
export async function deleteSecurityGroup(aws: AwsClients, groupId: string, progress?: (m: string) => void): Promise<void> {
  let told = false;
  try {
    await retry(() => aws.ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId })), {
      retryIf: (e) => isAwsError(e, 'DependencyViolation', 'InvalidGroup.InUse'),
      attempts: 10_000,
      deadlineMs: aws.timing.dependencyTimeoutMs,
      baseMs: aws.timing.pollMs,
      maxMs: aws.timing.maxPollMs,
      onRetry: () => {
        if (!told) progress?.(`security group ${groupId} is still in use; retrying`);
        told = true;
      },
    });
  } catch (e) {
    if (isNotFound(e)) return;
    if (isAwsError(e, 'DependencyViolation', 'InvalidGroup.InUse')) {
      throw new CliError(`security group ${groupId} is still in use by another resource`, {
        hint: 'run crawl4ai-mcp destroy again in a few minutes; if it persists, check what uses the group in the EC2 console',
        cause: e,
      });
    }
    throw toCliError(e, c(aws, 'DeleteSecurityGroup'));
  }
}
