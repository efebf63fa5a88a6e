import { capacityError, CliError, credentialsError, ExitCode, usageError } from '../../ground/errors.js';
import { AZURE_POLICY_FILE } from './permissions.js';

/**
 * The error code Azure answered with: a RestError's `code` (ARM's error.code), an identity error's
 * AADSTS code, or the code a failed long-running operation names in its message ("The
 * long-running operation has failed. AllocationFailed. …").
 */
export function azureErrorCode(e: unknown): string | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const err = e as { name?: unknown; code?: unknown; message?: unknown; errorResponse?: { error?: unknown; errorDescription?: unknown } };
  // identity errors (the pipeline's bearer policy wraps them in AuthenticationRequiredError)
  if (typeof err.name === 'string' && /Authentication/.test(err.name)) {
    const aadsts = /AADSTS\d+/.exec(String(err.errorResponse?.errorDescription ?? err.message ?? ''));
    return aadsts?.[0] ?? String(err.errorResponse?.error ?? 'AuthenticationError');
  }
  if (err.name === 'CredentialUnavailableError') return 'CredentialUnavailable';
  const lroFailed = /^The long-running operation has failed\. ([A-Za-z]+)\./.exec(String(err.message ?? ''));
  if (lroFailed) return lroFailed[1];
  if (err.name === 'RestError' && typeof err.code === 'string') return err.code;
  return undefined;
}

export const statusOf = (e: unknown): number | undefined => {
  const s = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
};

export const isNotFound = (e: unknown): boolean =>
  statusOf(e) === 404 || ['ResourceNotFound', 'ResourceGroupNotFound', 'NotFound'].includes(azureErrorCode(e) ?? '');

/** The capacity answers: synchronous SkuNotAvailable (409) or an operation that failed to allocate. */
export const isCapacity = (e: unknown): boolean =>
  ['SkuNotAvailable', 'AllocationFailed', 'ZonalAllocationFailed', 'OverconstrainedAllocationRequest', 'OverconstrainedZonalAllocationRequest'].includes(azureErrorCode(e) ?? '');

const QUOTA_CODES = ['QuotaExceeded', 'OperationNotAllowed', 'PublicIPCountLimitReached', 'SubscriptionRequestsThrottled'];

export interface AzureErrorContext {
  /** what was being done, e.g. "create virtual machine crawl4ai-mcp-x" */
  action: string;
  location: string;
  /** sizes tried or suggested, on capacity errors */
  otherSizes?: string[];
  tried?: string;
}

/**
 * One readable line per Azure failure, with the exit-code table of ground/errors.ts. Azure's own
 * message is kept (it names the action or the resource), never anything from the request.
 */
export function toCliError(e: unknown, c: AzureErrorContext): CliError {
  if (e instanceof CliError) return e;
  const code = azureErrorCode(e);
  const message = firstLine(e);
  if (code === 'AuthorizationFailed' || code === 'LinkedAuthorizationFailed') {
    const action = /perform action '([^']+)'/.exec(message)?.[1] ?? 'this action';
    return credentialsError(
      `Azure denied ${action} (${c.action}): the credentials lack this permission`,
      `assign the custom role in ${AZURE_POLICY_FILE} to the service principal at the subscription (see README "Azure")`,
      e,
    );
  }
  if (code?.startsWith('AADSTS') || code === 'invalid_client' || code === 'unauthorized_client' || code === 'AuthenticationError' || code === 'InvalidAuthenticationToken' || code === 'AuthenticationFailed') {
    return credentialsError(
      `Azure rejected the credentials (${code})`,
      'check the tenant id, client id and client secret (the secret VALUE, not its id), and that the secret has not expired',
      e,
    );
  }
  if (code === 'CredentialUnavailable') {
    return credentialsError('the Azure CLI login is not available', 'run `az login` (and `az account set --subscription <id>`), or enter a service principal in crawl4ai-mcp init', e);
  }
  if (code === 'SubscriptionNotFound' || code === 'InvalidSubscriptionId') {
    return credentialsError(`Azure does not know the subscription, or the credentials cannot see it (${code})`, 'check the subscription id (az account list -o table)', e);
  }
  if (code === 'MissingSubscriptionRegistration') {
    return usageError(`the subscription is not registered for a resource provider: ${message}`, 'run az provider register -n Microsoft.Compute and -n Microsoft.Network, then try again');
  }
  if (code === 'LocationNotAvailableForResourceType' || code === 'NoRegisteredProviderFound' || code === 'LocationNotAvailableForResourceGroup') {
    return usageError(`Azure location ${c.location} is not available to this subscription (${code})`, 'pick another --region (az account list-locations -o table)');
  }
  if (code !== undefined && isCapacity(e)) {
    const sizes = c.otherSizes?.length ? `try --size ${c.otherSizes.join(' or --size ')} or another --region` : 'try another --region';
    return capacityError(`Azure has no capacity for this VM size in ${c.location} right now (${code}${c.tried ? `; tried ${c.tried}` : ''})`, sizes, e);
  }
  if (code !== undefined && QUOTA_CODES.includes(code)) {
    return capacityError(`an Azure quota is exhausted in ${c.location} (${code}): ${message}`, 'free unused resources or request a quota increase (az vm list-usage --location <region>)', e);
  }
  if (statusOf(e) === 429 || code === 'TooManyRequests') {
    return new CliError(`Azure kept throttling requests (${c.action}) after several retries`, {
      hint: 'wait a minute and run the command again: it resumes where it stopped',
      exitCode: ExitCode.failed,
      cause: e,
    });
  }
  if (code !== undefined) return new CliError(`Azure failed to ${c.action}: ${code}: ${message}`, { exitCode: ExitCode.failed, cause: e });
  const net = (e as { code?: unknown } | null)?.code;
  if (typeof net === 'string' && /^E[A-Z_]+$/.test(net)) {
    return new CliError(`cannot reach Azure to ${c.action} (${net})`, {
      hint: 'check your network; if CRAWL4AI_MCP_AZURE_ENDPOINT / CRAWL4AI_MCP_AZURE_AUTHORITY_HOST are set, check they point at a running endpoint',
      cause: e,
    });
  }
  return new CliError(`Azure failed to ${c.action}: ${message}`, { cause: e });
}

function firstLine(e: unknown): string {
  const m = (e as { message?: unknown } | null)?.message;
  const text = typeof m === 'string' && m ? m : String(e);
  return text.split('\n')[0]!.slice(0, 300);
}

/** Runs one Azure call, turning any failure into a CliError. */
export async function azureCall<T>(c: AzureErrorContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toCliError(e, c);
  }
}

/** The resource, or undefined when Azure says 404. */
export async function getOrUndefined<T>(c: AzureErrorContext, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw toCliError(e, c);
  }
}
