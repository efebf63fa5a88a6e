import { CliError, ExitCode } from '../../ground/errors.js';
import { registerSecret } from '../../ground/redact.js';
import type { VmStatus } from '../../model/deployment.js';
import { imageFromConsole, type ConsoleOutput } from '../console.js';
import type { AzureClients } from './clients.js';
import { azureCall } from './errors.js';
import { resourceNames } from './names.js';

/** How long the read-only SAS URL of the serial log is valid: one read, so the minimum. */
const SAS_MINUTES = 1;

/**
 * The serial log of the VM's managed boot diagnostics: virtualMachines.retrieveBootDiagnosticsData
 * gives a short-lived read-only SAS URL of the log blob, which is then fetched over HTTPS. (With
 * managed storage the instance view carries no blob URIs; this POST is the only way.) The URL is a
 * credential: it is registered for redaction and never printed. The whole log comes back each
 * time, so `next` stays undefined and a follower compares windows.
 */
export async function readBootLog(az: AzureClients, deployment: string): Promise<ConsoleOutput> {
  const n = resourceNames(deployment);
  let uri: string | undefined;
  try {
    uri = (await azureCall({ action: `read the boot diagnostics of virtual machine ${n.vm}`, location: az.location }, () =>
      az.compute.virtualMachines.retrieveBootDiagnosticsData(n.group, n.vm, { sasUriExpirationTimeInMinutes: SAS_MINUTES }),
    )).serialConsoleLogBlobUri;
  } catch (e) {
    if (e instanceof CliError && /boot diagnostics is not enabled/i.test(e.message)) {
      throw new CliError(`boot diagnostics is off on virtual machine ${n.vm} (it was created before crawl4ai-mcp turned it on)`, {
        exitCode: ExitCode.failed,
        hint: `turn it on (managed storage, no account to create): az vm boot-diagnostics enable -g ${n.group} -n ${n.vm}`,
        cause: e,
      });
    }
    throw e;
  }
  if (!uri) return { text: '' };
  registerSecret(uri);
  registerSecret(new URL(uri).searchParams.get('sig'));
  let res: Response;
  try {
    res = await fetch(uri, { signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    throw new CliError(`could not download the serial log of virtual machine ${n.vm} from Azure Storage (${(e as Error).message})`, { exitCode: ExitCode.failed, hint: 'retry in a moment', cause: e });
  }
  // Azure posts the log blob once the VM has written to its console: none yet is an empty console
  if (res.status === 404) return { text: '' };
  if (!res.ok) {
    const code = res.headers.get('x-ms-error-code') ?? `HTTP ${res.status}`;
    throw new CliError(`Azure Storage refused the serial log of virtual machine ${n.vm} (${code})`, { exitCode: ExitCode.failed, hint: 'retry; the link Azure gave is valid for a minute' });
  }
  return { text: await res.text() };
}

/** The image the VM reports on its serial console (status); a refused or failed read says why. */
export async function runningImage(az: AzureClients, deployment: string): Promise<NonNullable<VmStatus['image']>> {
  try {
    return imageFromConsole((await readBootLog(az, deployment)).text, 'Azure posts the serial log a few minutes after boot');
  } catch (e) {
    return { unknown: e instanceof Error ? e.message : String(e) };
  }
}
