import { capacityError, CliError, credentialsError, ExitCode, usageError } from '../../ground/errors.js';
import { AWS_POLICY_FILE } from './permissions.js';

/** The error code AWS answered with (`e.name` for SDK service errors), or undefined for non-AWS errors. */
export function awsErrorCode(e: unknown): string | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const err = e as { name?: unknown; Code?: unknown; $fault?: unknown };
  if (typeof err.Code === 'string') return err.Code;
  // service exceptions carry $fault; network errors also get $metadata, so that is no sign
  if (typeof err.$fault === 'string' && typeof err.name === 'string') return err.name;
  if (err.name === 'CredentialsProviderError') return err.name;
  return undefined;
}

export function isAwsError(e: unknown, ...codes: string[]): boolean {
  const code = awsErrorCode(e);
  return code !== undefined && codes.includes(code);
}

/** "The instance ID 'i-1' does not exist" and friends: the thing is gone (or not visible yet). */
export const isNotFound = (e: unknown): boolean => {
  const code = awsErrorCode(e);
  return code !== undefined && (code.endsWith('.NotFound') || code === 'InvalidAllocationID.NotFound');
};

/**
 * AWS answered with an error code that means "rejected, nothing was created" (as opposed to a
 * timeout, a dropped connection or an internal error, after which the outcome is unknown).
 * InsufficientInstanceCapacity comes back as HTTP 500, so this looks at the code, not the status.
 */
export function isDefiniteFailure(e: unknown): boolean {
  const code = awsErrorCode(e);
  return code !== undefined && !isThrottling(e) && !AMBIGUOUS_CODES.includes(code);
}
const AMBIGUOUS_CODES = ['InternalError', 'InternalFailure', 'ServiceUnavailable', 'Unavailable', 'ServerInternal'];

export const isThrottling = (e: unknown) =>
  isAwsError(e, 'RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequestsException');

const CREDENTIAL_CODES = [
  'AuthFailure',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'InvalidAccessKeyId',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'CredentialsProviderError',
];

/** Instance, vCPU, address and group quotas: the cloud said "no more", which is exit 4 like capacity. */
const QUOTA_CODES = [
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'AddressLimitExceeded',
  'SecurityGroupLimitExceeded',
  'RulesPerSecurityGroupLimitExceeded',
  'ResourceLimitExceeded',
  'MaxIOPSLimitExceeded',
  'VolumeLimitExceeded',
];

export interface AwsErrorContext {
  /** the EC2/STS action that failed, e.g. "RunInstances" */
  action: string;
  region: string;
  /** valid sizes other than the current one, suggested on capacity errors */
  otherSizes?: string[];
  /** the action's service prefix in IAM policies (default ec2) */
  service?: 'ec2' | 'iam';
}

/**
 * One readable line per AWS failure, with the exit-code table of ground/errors.ts. The AWS message
 * is kept (it names the resource), but never anything from the request, so no credential can leak.
 */
export function toCliError(e: unknown, c: AwsErrorContext): CliError {
  if (e instanceof CliError) return e;
  const code = awsErrorCode(e);
  const message = awsMessage(e);
  if (code === 'UnauthorizedOperation' || code === 'AccessDenied' || code === 'AccessDeniedException') {
    return credentialsError(
      `AWS denied ${c.service ?? 'ec2'}:${c.action}: the credentials lack this permission`,
      `attach the policy in ${AWS_POLICY_FILE} to the IAM user or role`,
      e,
    );
  }
  if (code === 'CredentialsProviderError') {
    return credentialsError(
      'no AWS credentials found in the AWS credential chain (environment, profile, SSO)',
      'run `aws configure` or `aws sso login`, set AWS_PROFILE, or enter an access key in crawl4ai-mcp init',
      e,
    );
  }
  if (code !== undefined && CREDENTIAL_CODES.includes(code)) {
    return credentialsError(
      `AWS rejected the credentials (${code})`,
      `check the access key id and secret, that the key is active, that your clock is correct, and that region ${c.region} is enabled for the account`,
      e,
    );
  }
  if (code === 'OptInRequired') {
    return usageError(`region ${c.region} is not enabled for this AWS account (${code})`, 'enable it in the AWS console or pick another --region');
  }
  if (code === 'InsufficientInstanceCapacity' || code === 'InsufficientAddressCapacity') {
    const sizes = c.otherSizes?.length ? `try --size ${c.otherSizes.join(' or --size ')} or another --region` : 'try another --region';
    return capacityError(`AWS has no capacity for this instance type in ${c.region} right now (${code})`, sizes, e);
  }
  if (code !== undefined && QUOTA_CODES.includes(code)) {
    return capacityError(
      `an AWS quota is exhausted in ${c.region} (${code}): ${message}`,
      'release unused resources, request a quota increase in the Service Quotas console, or pick another --region',
      e,
    );
  }
  if (isThrottling(e)) {
    return new CliError(`AWS kept throttling ${c.action} (${code}) after several retries`, {
      hint: 'wait a minute and run the command again: it resumes where it stopped',
      exitCode: ExitCode.failed,
      cause: e,
    });
  }
  if (code !== undefined) {
    return new CliError(`AWS ${c.action} failed: ${code}: ${message}`, { exitCode: ExitCode.failed, cause: e });
  }
  const netCode = (e as { code?: unknown } | null)?.code;
  if (typeof netCode === 'string' && /^E[A-Z]+$/.test(netCode)) {
    return new CliError(`cannot reach AWS for ${c.action} in ${c.region} (${netCode})`, {
      hint: 'check your network; if AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL_STS are set, check they point at a running endpoint',
      cause: e,
    });
  }
  return new CliError(`AWS ${c.action} failed: ${message}`, { cause: e });
}

function awsMessage(e: unknown): string {
  const m = (e as { message?: unknown } | null)?.message;
  const text = typeof m === 'string' && m ? m : String(e);
  return text.split('\n')[0]!.slice(0, 300);
}

/** Runs one AWS call, turning any failure into a CliError named after `action`. */
export async function awsCall<T>(c: AwsErrorContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toCliError(e, c);
  }
}
