import { DescribeInstanceAttributeCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { Ec2Emulator } from '../emulators/ec2/index.ts';
import type { GceEmulator } from '../emulators/gce/index.ts';
import { READER_ACCESS_KEY_ID } from '../emulators/ec2/iam-policy.ts';
import type { CloudflareEmulator } from '../emulators/cloudflare/index.ts';
import { TYPES, type AzureEmulator } from '../emulators/azure/index.ts';
import { cliEnv, tempHome } from './cli.js';
import type { SimulatedInstance } from './vm-simulator.js';

/** Credentials the emulators accept; the CLI gets them only from its environment, as in CI. */
export const AWS_ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
export const AWS_SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

/**
 * The environment of a user running the CLI against the emulators: the cloud's and Cloudflare's
 * endpoints overridden with their tools' own variables, a fresh config home, the encrypted-file
 * secret store, and short poll intervals so a journey takes seconds instead of minutes.
 */
function emulatedEnv(cloud: Record<string, string>, cf: CloudflareEmulator, cfToken: string, prefix: string): NodeJS.ProcessEnv {
  return cliEnv(tempHome(prefix), {
    CRAWL4AI_MCP_SECRET_BACKEND: 'file',
    CRAWL4AI_MCP_PASSPHRASE: `${prefix} passphrase`,
    ...cloud,
    CLOUDFLARE_API_BASE_URL: cf.apiBaseUrl,
    CLOUDFLARE_ACCOUNT_ID: cf.accountId,
    CLOUDFLARE_API_TOKEN: cfToken,
    CRAWL4AI_MCP_WORKERS_URL_TEMPLATE: cf.workersUrlTemplate,
    CRAWL4AI_MCP_POLL_MS: '100',
    CRAWL4AI_MCP_HEALTH_INTERVAL_MS: '300',
    CRAWL4AI_MCP_HEALTH_TIMEOUT_MS: '60000',
  });
}

export function journeyEnv(ec2: Ec2Emulator, cf: CloudflareEmulator, cfToken: string, prefix: string): NodeJS.ProcessEnv {
  return emulatedEnv(
    { AWS_ENDPOINT_URL_EC2: ec2.url, AWS_ENDPOINT_URL_STS: ec2.url, AWS_ENDPOINT_URL_IAM: ec2.url, AWS_ACCESS_KEY_ID: AWS_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: AWS_SECRET_KEY },
    cf,
    cfToken,
    prefix,
  );
}

/** GCP: the Compute endpoint, its certificate (trusted through NODE_EXTRA_CA_CERTS) and a service-account key it accepts. */
export function gcpJourneyEnv(gce: GceEmulator, cf: CloudflareEmulator, cfToken: string, prefix: string): NodeJS.ProcessEnv {
  return emulatedEnv({ CRAWL4AI_MCP_GCP_ENDPOINT: gce.url, NODE_EXTRA_CA_CERTS: gce.caFile, CRAWL4AI_MCP_GCP_KEY: gce.serviceAccountKey }, cf, cfToken, prefix);
}

/** A deployment's Compute instances as the simulated VM sees them. */
export function gceInstances(gce: GceEmulator, deployment: string): () => SimulatedInstance[] {
  return () => {
    gce.state.tick();
    return [...gce.state.instances.values()]
      .filter((i) => i.labels['crawl4ai-mcp-deployment'] === deployment)
      .map((i) => ({
        id: i.id,
        running: i.status === 'RUNNING',
        userData: i.metadata.items.find((m) => m.key === 'user-data')?.value,
        publicIp: gce.state.externalIpOf(i),
        console: (text: string) => gce.writeSerial(i.id, text),
      }));
  };
}

/** A deployment's EC2 instances as the simulated VM sees them. */
export function ec2Instances(emu: Ec2Emulator, deployment: string): () => SimulatedInstance[] {
  return () =>
    [...emu.state.instances.values()]
      .filter((i) => i.tags['crawl4ai-mcp:deployment'] === deployment)
      .map((i) => ({
        id: i.instanceId,
        running: emu.state.instanceState(i) === 'running',
        userData: i.userData,
        publicIp: emu.state.publicIpOf(i),
        console: (text: string) => emu.writeConsole(i.instanceId, text),
      }));
}

/**
 * The instance's user data as a cloud reader with read-only access (AWS's ReadOnlyAccess includes
 * ec2:DescribeInstanceAttribute) reads it: through the real SDK, decoded from base64 ('' when none).
 */
export async function userDataAsTheCloudShowsIt(emu: Ec2Emulator, instanceId: string, region = 'us-east-1'): Promise<string> {
  const ec2 = new EC2Client({ endpoint: emu.url, region, credentials: { accessKeyId: READER_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_KEY } });
  try {
    const out = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }));
    return Buffer.from(out.UserData?.Value ?? '', 'base64').toString('utf8');
  } finally {
    ec2.destroy();
  }
}

/**
 * The same user environment against the Azure emulator: ARM and Entra endpoints through the
 * tool's own variables, a service principal in AZURE_* variables, and the emulator's test CA
 * trusted through NODE_EXTRA_CA_CERTS (the Azure SDK refuses http).
 */
export function azureJourneyEnv(az: AzureEmulator, cf: CloudflareEmulator, cfToken: string, prefix: string): NodeJS.ProcessEnv {
  return emulatedEnv({
    CRAWL4AI_MCP_AZURE_ENDPOINT: az.url,
    CRAWL4AI_MCP_AZURE_AUTHORITY_HOST: az.url,
    NODE_EXTRA_CA_CERTS: az.caFile,
    AZURE_TENANT_ID: az.tenantId,
    AZURE_CLIENT_ID: az.clientId,
    AZURE_CLIENT_SECRET: az.clientSecret,
    AZURE_SUBSCRIPTION_ID: az.subscriptionId,
  }, cf, cfToken, prefix);
}

/** A deployment's Azure VM as the simulated VM sees it (customData decoded, as cloud-init reads it). */
export function azureVms(az: AzureEmulator, deployment: string): () => SimulatedInstance[] {
  return () =>
    az.resourcesOf(deployment)
      .filter((r) => r.type === TYPES.vm)
      .map((r) => az.state.get(r.id)!)
      .filter(Boolean)
      .map((vm) => {
        const nic = az.state.get(vm.properties.networkProfile.networkInterfaces[0].id);
        const pipId = nic?.properties.ipConfigurations?.[0]?.properties?.publicIPAddress?.id;
        const publicIp = pipId ? az.state.get(pipId)?.properties.ipAddress : undefined;
        return {
          id: vm.properties.vmId,
          running: vm.vm?.powerState === 'running',
          ...(vm.vm?.customData ? { userData: Buffer.from(vm.vm.customData, 'base64').toString('utf8') } : {}),
          ...(publicIp ? { publicIp } : {}),
          console: (text: string) => az.writeSerial(vm.properties.vmId, text),
        };
      });
}
