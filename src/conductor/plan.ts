import type { Plan, ProviderCredentials, DeploymentSpec } from '../model/deployment.js';
import type { Provider } from '../providers/provider.js';
import { workerScriptName } from '../cloudflare/worker-deployer.js';
import { loadProvider } from './providers.js';
import { providerContext, type Session } from './session.js';

/** `plan` (and the plan screen of `init`): what the provider would create, plus the Cloudflare side. Creates nothing. */
export async function planDeployment(spec: DeploymentSpec, credentials: ProviderCredentials, s: Session): Promise<{ provider: Provider; plan: Plan }> {
  const provider = await loadProvider(spec.provider);
  const plan = await provider.plan(providerContext(spec, credentials, s));
  return { provider, plan: { ...plan, resources: [...plan.resources, ...cloudflareResources(spec)] } };
}

/** What the deployment creates on Cloudflare, whatever the cloud (free on the Workers free plan). */
function cloudflareResources(spec: DeploymentSpec): Plan['resources'] {
  const name = workerScriptName(spec.name);
  return [
    ...(spec.network === 'tunnel'
      ? [
          { kind: 'Cloudflare Tunnel', name, detail: 'remotely managed; cloudflared on the VM connects out over QUIC' },
          { kind: 'Workers VPC service', name, detail: 'http://127.0.0.1:11235 on the VM, through the tunnel' },
        ]
      : []),
    { kind: 'Cloudflare Worker', name, detail: 'the MCP endpoint; API key hashes in its SQLite Durable Object' },
  ];
}

