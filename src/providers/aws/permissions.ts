/**
 * The AWS permissions crawl4ai-mcp needs: exactly the EC2 (and path-scoped IAM) actions in
 * templates/policies/aws-iam-policy.json (test/policies.test.ts keeps the two equal).
 *
 * - sts:GetCallerIdentity (the identity check of `doctor` and the wizard) needs no permission:
 *   AWS answers it for any valid credentials, even under an explicit deny.
 * - Creates are allowed only with the deployment tags in the request (aws:RequestTag), and
 *   ec2:CreateTags only as part of those creates (ec2:CreateAction): the tool tags at creation.
 * - Changes and deletes are allowed only on resources tagged managed-by=crawl4ai-mcp
 *   (ec2:ResourceTag). So the instance, its root volume and its network interface, the security
 *   group and the Elastic IP must all carry the tags from their create call.
 * - A launch is allowed only of the offered instance types (ec2:InstanceType), with IMDSv2
 *   required (ec2:MetadataHttpTokens), from an image Canonical owns (ec2:Owner 099720109477 on
 *   the image): a leaked key cannot start a GPU fleet, a look-alike AMI, or an IMDSv1 instance.
 *   A resize is limited the same way: the instance's current type (ec2:InstanceType) and the new
 *   one (ec2:Attribute/InstanceType, under ForAllValues so a request without it is not refused
 *   for the key's absence) must be offered types.
 * - The security group a launch uses is not tag-conditioned: `init` proves the launch by a dry
 *   run before creating anything, when the tool's own group does not exist yet (the dry run gets
 *   the VPC's default group); the group's inbound rules can only be changed on tagged groups.
 * - Describe* calls do not support resource-level permissions or tag conditions (Resource "*").
 * - Root volumes are encrypted with the account's default EBS key. With the AWS managed key
 *   (aws/ebs) no KMS permission is needed; an account whose default is a customer managed key
 *   must also allow kms:CreateGrant/Decrypt/GenerateDataKeyWithoutPlaintext/ReEncrypt* on it.
 */
export const AWS_POLICY_FILE = 'templates/policies/aws-iam-policy.json';

/** Read-only calls of plan, status, discover and the validators (Resource "*", no conditions). */
export const AWS_DESCRIBE_ACTIONS = [
  'ec2:DescribeRegions',
  'ec2:DescribeAvailabilityZones',
  'ec2:DescribeImages',
  'ec2:DescribeVpcs',
  'ec2:DescribeSubnets',
  'ec2:DescribeInstanceTypes',
  // which availability zones offer the instance type (launch tries those, one after another)
  'ec2:DescribeInstanceTypeOfferings',
  'ec2:DescribeInstances',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeAddresses',
  'ec2:DescribeVolumes',
  // the T3 credit option, for `status` and `scale --cpu-credits`
  'ec2:DescribeInstanceCreditSpecifications',
] as const;

/** Calls that create a resource; allowed only with the deployment tags in the request. */
export const AWS_CREATE_ACTIONS = [
  'ec2:RunInstances',
  'ec2:CreateSecurityGroup',
  'ec2:AllocateAddress',
  // only as part of the three creates above (TagSpecifications)
  'ec2:CreateTags',
] as const;

/**
 * Calls on an existing resource (change, delete, or read its console for `status`); allowed only on
 * resources tagged managed-by=crawl4ai-mcp.
 */
export const AWS_MANAGE_ACTIONS = [
  'ec2:AuthorizeSecurityGroupIngress',
  'ec2:RevokeSecurityGroupIngress',
  'ec2:DeleteSecurityGroup',
  'ec2:StartInstances',
  'ec2:StopInstances',
  'ec2:TerminateInstances',
  'ec2:ModifyInstanceAttribute',
  'ec2:AssociateAddress',
  'ec2:DisassociateAddress',
  'ec2:ReleaseAddress',
  'ec2:GetConsoleOutput',
  // `scale --cpu-credits`: standard <-> unlimited on the running instance
  'ec2:ModifyInstanceCreditSpecification',
  // `stop --hold` / `start`: the crawl4ai-mcp:hold tag (that key only) on its own instance (CreateTags is in the create list)
  'ec2:DeleteTags',
] as const;

/**
 * The Worker's wake credential (wake-credential.ts): an IAM user, its inline policy and key, all
 * only on users under the path /crawl4ai-mcp/ (Resource arn:aws:iam::*:user/crawl4ai-mcp/*), so
 * the installer cannot touch any other user of the account. No iam:TagUser, iam:PassRole or
 * managed-policy action: the user is found by its path and name.
 */
export const AWS_WAKE_IAM_ACTIONS = [
  'iam:CreateUser',
  'iam:ListUsers',
  'iam:DeleteUser',
  'iam:PutUserPolicy',
  'iam:ListUserPolicies',
  'iam:DeleteUserPolicy',
  'iam:CreateAccessKey',
  'iam:ListAccessKeys',
  'iam:DeleteAccessKey',
] as const;
export const AWS_WAKE_IAM_RESOURCE = 'arn:aws:iam::*:user/crawl4ai-mcp/*';

export type AwsAction = (typeof AWS_DESCRIBE_ACTIONS)[number] | (typeof AWS_CREATE_ACTIONS)[number] | (typeof AWS_MANAGE_ACTIONS)[number] | (typeof AWS_WAKE_IAM_ACTIONS)[number];

/** Every action the policy grants, and nothing else. */
export const AWS_REQUIRED_ACTIONS: readonly AwsAction[] = [...AWS_DESCRIBE_ACTIONS, ...AWS_CREATE_ACTIONS, ...AWS_MANAGE_ACTIONS, ...AWS_WAKE_IAM_ACTIONS];

/** Actions AWS allows without any IAM permission; listed for `doctor` output, not in the policy. */
export const AWS_UNGATED_ACTIONS = ['sts:GetCallerIdentity'] as const;
