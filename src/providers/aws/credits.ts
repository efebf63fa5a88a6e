import { ModifyInstanceCreditSpecificationCommand } from './sdk.js';
import { CliError } from '../../ground/errors.js';
import type { CpuCredits } from '../../model/deployment.js';
import type { AwsClients } from './clients.js';
import { awsCall, isAwsError, toCliError } from './errors.js';

/**
 * The T3 CPU credit option of one instance. 'standard' holds the CPU at its baseline once the
 * earned credits are spent; 'unlimited' bursts on and bills the surplus credits. EC2 changes it on
 * a running instance, no stop needed.
 */

const asMode = (v: string | undefined): CpuCredits | undefined => (v === 'standard' || v === 'unlimited' ? v : undefined);

/**
 * The instance's credit option, or undefined when it cannot be read: a policy from before this
 * call was added (UnauthorizedOperation) must not break `status`.
 */
export async function readCpuCredits(aws: AwsClients, instanceId: string): Promise<CpuCredits | undefined> {
  try {
    const specs = await aws.reads.describeInstanceCreditSpecifications({ InstanceIds: [instanceId] });
    return asMode(specs.find((c) => c.InstanceId === instanceId)?.CpuCredits);
  } catch (e) {
    if (isAwsError(e, 'UnauthorizedOperation', 'InvalidParameterValue')) return undefined;
    throw toCliError(e, { action: 'DescribeInstanceCreditSpecifications', region: aws.region });
  }
}

/** Sets the credit option; EC2 answers per instance, so a refusal for this one is an error here. */
export async function writeCpuCredits(aws: AwsClients, instanceId: string, mode: CpuCredits): Promise<void> {
  const out = await awsCall({ action: 'ModifyInstanceCreditSpecification', region: aws.region }, () =>
    aws.ec2.send(new ModifyInstanceCreditSpecificationCommand({ InstanceCreditSpecifications: [{ InstanceId: instanceId, CpuCredits: mode }] })),
  );
  const failed = out.UnsuccessfulInstanceCreditSpecifications?.find((f) => f.InstanceId === instanceId);
  if (failed || !out.SuccessfulInstanceCreditSpecifications?.some((s) => s.InstanceId === instanceId)) {
    throw new CliError(`AWS did not change the CPU credit option of ${instanceId}: ${failed?.Error?.Code ?? 'no answer for it'}${failed?.Error?.Message ? ` (${failed.Error.Message})` : ''}`);
  }
}
