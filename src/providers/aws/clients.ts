import { EC2Client, STSClient, loadIam } from './sdk.js';
import type { IAMClient } from '@aws-sdk/client-iam';
import { credentialsError } from '../../ground/errors.js';
import { registerSecret } from '../../ground/redact.js';
import type { ProviderContext } from '../provider.js';
import { providerTiming, type ProviderTiming } from '../timing.js';
import { ec2QueryReads, type Ec2Reads } from './ec2-query.js';
import { backoffRetryStrategy } from './retry-strategy.js';

/** How long to wait and how fast to retry: shared by every provider (src/providers/timing.ts). */
export type AwsTiming = ProviderTiming;

export interface AwsClients {
  /** the SDK's EC2 client (writes), made on first use: reads go through `reads` without loading it */
  readonly ec2: EC2Client;
  readonly sts: STSClient;
  /** EC2's read-only calls as plain Query requests (ec2-query.ts) */
  reads: Ec2Reads;
  /** IAM (the Worker's wake credential only), made on first use: other commands never load client-iam */
  iam(): Promise<IAMClient>;
  region: string;
  timing: AwsTiming;
  /** closes every client made (withAws calls it) */
  destroy(): void;
}

/** Attempts per SDK call (the SDK retries throttling, 5xx and network errors with our backoff). */
const MAX_ATTEMPTS = 6;

export const awsTiming = providerTiming;

/**
 * Endpoint overrides use the SDK's own variables, read from ctx.env (not process.env) so a test or
 * an embedding program can point one run elsewhere: AWS_ENDPOINT_URL_<SERVICE>, then
 * AWS_ENDPOINT_URL; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true turns both off.
 */
export function endpointFor(env: NodeJS.ProcessEnv, service: 'EC2' | 'STS' | 'IAM'): string | undefined {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true') return undefined;
  return env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
}

type StaticCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

function staticCredentials(ctx: ProviderContext): StaticCredentials | undefined {
  if (ctx.credentials.kind === 'chain') return undefined; // the SDK's default chain: env, profile, SSO, IMDS
  const v = ctx.credentials.values;
  const accessKeyId = v.accessKeyId;
  const secretAccessKey = v.secretAccessKey;
  if (!accessKeyId || !secretAccessKey) {
    throw credentialsError(
      'the stored AWS credentials are incomplete (an access key id and a secret access key are needed)',
      'run crawl4ai-mcp init again and enter both, or choose the AWS credential chain',
    );
  }
  registerSecret(secretAccessKey);
  registerSecret(v.sessionToken);
  return v.sessionToken ? { accessKeyId, secretAccessKey, sessionToken: v.sessionToken } : { accessKeyId, secretAccessKey };
}

export function createAwsClients(ctx: ProviderContext): AwsClients {
  const region = ctx.spec.region;
  const timing = awsTiming(ctx);
  const credentials = staticCredentials(ctx);
  const common = {
    region,
    maxAttempts: MAX_ATTEMPTS,
    retryStrategy: backoffRetryStrategy({ maxAttempts: MAX_ATTEMPTS, baseMs: timing.retryBaseMs, maxMs: timing.retryMaxMs }),
    // The SDK waits forever for an answer by default: a silent endpoint would hang the CLI. A timed-out
    // call is retried like a dropped connection (idempotency tokens make the retried create safe).
    requestHandler: { connectionTimeout: 10_000, requestTimeout: timing.requestTimeoutMs, throwOnRequestTimeout: true },
    ...(credentials ? { credentials } : {}),
  };
  const ec2Endpoint = endpointFor(ctx.env, 'EC2');
  const stsEndpoint = endpointFor(ctx.env, 'STS');
  if (ec2Endpoint) ctx.debug(`aws: EC2 endpoint ${ec2Endpoint}`);
  if (stsEndpoint) ctx.debug(`aws: STS endpoint ${stsEndpoint}`);
  let ec2: EC2Client | undefined;
  let sts: STSClient | undefined;
  const makeEc2 = () => (ec2 ??= new EC2Client({ ...common, ...(ec2Endpoint ? { endpoint: ec2Endpoint } : {}) }));
  let iam: Promise<IAMClient> | undefined;
  return {
    get ec2() {
      return makeEc2();
    },
    get sts() {
      return (sts ??= new STSClient({ ...common, ...(stsEndpoint ? { endpoint: stsEndpoint } : {}) }));
    },
    reads: ec2QueryReads({
      region,
      ...(ec2Endpoint ? { endpoint: ec2Endpoint } : {}),
      // the credential chain (profiles, SSO, IMDS) is the SDK's: only then is the SDK loaded for a read
      credentials: async () => credentials ?? (await makeEc2().config.credentials()),
      timing,
      maxAttempts: MAX_ATTEMPTS,
    }),
    iam: () =>
      (iam ??= Promise.resolve(loadIam()).then(({ IAMClient }) => {
        const iamEndpoint = endpointFor(ctx.env, 'IAM');
        if (iamEndpoint) ctx.debug(`aws: IAM endpoint ${iamEndpoint}`);
        // IAM is global: the SDK signs for us-east-1 whatever the deployment's region
        return new IAMClient({ ...common, ...(iamEndpoint ? { endpoint: iamEndpoint } : {}) });
      })),
    region,
    timing,
    destroy() {
      ec2?.destroy();
      sts?.destroy();
      void iam?.then((c) => c.destroy());
    },
  };
}
