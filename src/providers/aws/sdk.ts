import { createRequire } from 'node:module';

/**
 * The AWS SDK's clients, loaded with require(): they are CommonJS packages without a "type" field,
 * and an ESM import of one makes Node parse its 2 MB bundle once to detect the module format and
 * once more to run it (plus a scan for its named exports) — about 0.1 s of CPU on every `status`.
 * require() compiles it once, and Node's compile cache (bin/crawl4ai-mcp.js) keeps that too.
 * Types still come from the packages (`import type`).
 */
const require = createRequire(import.meta.url);
const ec2 = require('@aws-sdk/client-ec2') as typeof import('@aws-sdk/client-ec2');
const sts = require('@aws-sdk/client-sts') as typeof import('@aws-sdk/client-sts');

export const {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstanceCreditSpecificationsCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DisassociateAddressCommand,
  EC2Client,
  GetConsoleOutputCommand,
  ModifyInstanceAttributeCommand,
  ModifyInstanceCreditSpecificationCommand,
  ReleaseAddressCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeImages,
  paginateDescribeInstanceTypeOfferings,
  paginateDescribeInstances,
  paginateDescribeSecurityGroups,
} = ec2;

export const {
  GetCallerIdentityCommand,
  STSClient,
} = sts;

/** the client classes as types too (their instances are passed around) */
export type EC2Client = import('@aws-sdk/client-ec2').EC2Client;
export type STSClient = import('@aws-sdk/client-sts').STSClient;

/** IAM (the Worker's wake credential, init/destroy only): loaded on first use, so `status` never pays for it */
export function loadIam(): typeof import('@aws-sdk/client-iam') {
  return require('@aws-sdk/client-iam') as typeof import('@aws-sdk/client-iam');
}
