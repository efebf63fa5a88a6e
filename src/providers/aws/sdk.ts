import { createRequire } from 'node:module';

/**
 * The AWS SDK's clients, loaded with require() on first use. Why require(): they are CommonJS
 * packages without a "type" field, and an ESM import of one makes Node parse its 2 MB bundle once
 * to detect the module format and once more to run it. Why on first use: loading client-ec2 costs
 * about 0.5 s of CPU (it builds all ~800 command classes), and `status` reads EC2 through the
 * light Query client (ec2-query.ts) without it. Each export below is the SDK's own class or
 * function; the module behind it is required when one is first constructed or called.
 * Types still come from the packages (`import type`).
 */
const require = createRequire(import.meta.url);

type Ec2Module = typeof import('@aws-sdk/client-ec2');
type StsModule = typeof import('@aws-sdk/client-sts');
let ec2Module: Ec2Module | undefined;
let stsModule: StsModule | undefined;
const ec2 = (): Ec2Module => (ec2Module ??= require('@aws-sdk/client-ec2') as Ec2Module);
const sts = (): StsModule => (stsModule ??= require('@aws-sdk/client-sts') as StsModule);

/** A stand-in for an SDK class: `new` on it loads the module and returns an instance of the real class. */
function lazyClass<T extends abstract new (...args: never[]) => unknown>(load: () => T): T {
  return function (...args: unknown[]) {
    return new (load() as unknown as new (...a: unknown[]) => object)(...args);
  } as unknown as T;
}

/** A stand-in for an SDK function (the paginators): the first call loads the module. */
function lazyFn<T extends (...args: never[]) => unknown>(load: () => T): T {
  return ((...args: unknown[]) => (load() as unknown as (...a: unknown[]) => unknown)(...args)) as unknown as T;
}

export const AllocateAddressCommand = lazyClass(() => ec2().AllocateAddressCommand);
export const AssociateAddressCommand = lazyClass(() => ec2().AssociateAddressCommand);
export const AuthorizeSecurityGroupIngressCommand = lazyClass(() => ec2().AuthorizeSecurityGroupIngressCommand);
export const CreateSecurityGroupCommand = lazyClass(() => ec2().CreateSecurityGroupCommand);
export const CreateTagsCommand = lazyClass(() => ec2().CreateTagsCommand);
export const DeleteSecurityGroupCommand = lazyClass(() => ec2().DeleteSecurityGroupCommand);
export const DeleteTagsCommand = lazyClass(() => ec2().DeleteTagsCommand);
export const DescribeAddressesCommand = lazyClass(() => ec2().DescribeAddressesCommand);
export const DescribeImagesCommand = lazyClass(() => ec2().DescribeImagesCommand);
export const DescribeInstanceCreditSpecificationsCommand = lazyClass(() => ec2().DescribeInstanceCreditSpecificationsCommand);
export const DescribeInstancesCommand = lazyClass(() => ec2().DescribeInstancesCommand);
export const DescribeSecurityGroupsCommand = lazyClass(() => ec2().DescribeSecurityGroupsCommand);
export const DescribeSubnetsCommand = lazyClass(() => ec2().DescribeSubnetsCommand);
export const DescribeVpcsCommand = lazyClass(() => ec2().DescribeVpcsCommand);
export const DisassociateAddressCommand = lazyClass(() => ec2().DisassociateAddressCommand);
export const EC2Client = lazyClass(() => ec2().EC2Client);
export const GetConsoleOutputCommand = lazyClass(() => ec2().GetConsoleOutputCommand);
export const ModifyInstanceAttributeCommand = lazyClass(() => ec2().ModifyInstanceAttributeCommand);
export const ModifyInstanceCreditSpecificationCommand = lazyClass(() => ec2().ModifyInstanceCreditSpecificationCommand);
export const ReleaseAddressCommand = lazyClass(() => ec2().ReleaseAddressCommand);
export const RevokeSecurityGroupIngressCommand = lazyClass(() => ec2().RevokeSecurityGroupIngressCommand);
export const RunInstancesCommand = lazyClass(() => ec2().RunInstancesCommand);
export const StartInstancesCommand = lazyClass(() => ec2().StartInstancesCommand);
export const StopInstancesCommand = lazyClass(() => ec2().StopInstancesCommand);
export const TerminateInstancesCommand = lazyClass(() => ec2().TerminateInstancesCommand);
export const paginateDescribeImages = lazyFn(() => ec2().paginateDescribeImages);
export const paginateDescribeInstanceTypeOfferings = lazyFn(() => ec2().paginateDescribeInstanceTypeOfferings);
export const paginateDescribeInstances = lazyFn(() => ec2().paginateDescribeInstances);
export const paginateDescribeSecurityGroups = lazyFn(() => ec2().paginateDescribeSecurityGroups);

export const GetCallerIdentityCommand = lazyClass(() => sts().GetCallerIdentityCommand);
export const STSClient = lazyClass(() => sts().STSClient);

/** the client classes as types too (their instances are passed around) */
export type EC2Client = import('@aws-sdk/client-ec2').EC2Client;
export type STSClient = import('@aws-sdk/client-sts').STSClient;

/** IAM (the Worker's wake credential, init/destroy only): loaded on first use, so `status` never pays for it */
export function loadIam(): typeof import('@aws-sdk/client-iam') {
  return require('@aws-sdk/client-iam') as typeof import('@aws-sdk/client-iam');
}
