import fs from 'node:fs/promises';
import path from 'node:path';
import { renderWranglerConfig, WORKER_MAIN_PATH, type ContainerConfig } from './wrangler-config.js';
import { runWrangler, WranglerError, wranglerWorkdir, type CloudflareAccount } from './wrangler.js';
import { CloudflareApi } from './api.js';
import { deleteOAuthKv, ensureOAuthKv } from './oauth-kv.js';

export function workerScriptName(deployment: string): string {
  return `crawl4ai-mcp-${deployment}`;
}

export interface WorkerDeployInput {
  deployment: string;
  /** public mode: https://<hostname> of the VM's Caddy */
  originUrl?: string;
  /** tunnel mode: the Workers VPC service bound as CRAWL4AI */
  vpcServiceId?: string;
  /** provider cloudflare: Crawl4AI as a Container (wrangler creates or updates the application) */
  container?: ContainerConfig;
  /** Worker secrets; passed to wrangler on stdin only. Omitted: a redeploy that keeps the ones set. */
  secrets?: Record<string, string>;
  /** plain vars (never secrets), e.g. COST_ESTIMATE */
  vars?: Record<string, string>;
}

export interface DeployedWorker {
  scriptName: string;
  url: string;
}

/**
 * Deploys and deletes the deployment's Worker with the bundled wrangler. The URL is the one
 * wrangler reports (https://<script>.<subdomain>.workers.dev); CRAWL4AI_MCP_WORKERS_URL_TEMPLATE
 * (e.g. http://127.0.0.1:8800/__workers/{script}) overrides it for emulators and proxies.
 */
export class WorkerDeployer {
  constructor(
    private readonly account: CloudflareAccount,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: (line: string) => void = () => {},
  ) {}

  async deploy(input: WorkerDeployInput): Promise<DeployedWorker> {
    const scriptName = workerScriptName(input.deployment);
    // the OAuth store first: the Worker is uploaded bound to it
    this.log('ensuring the OAuth KV namespace');
    const oauthKvId = await ensureOAuthKv(this.api(), input.deployment);
    const work = await wranglerWorkdir();
    try {
      const configPath = path.join(work.dir, 'wrangler.json');
      const config = renderWranglerConfig({
        scriptName,
        mainPath: WORKER_MAIN_PATH,
        oauthKvId,
        ...(input.originUrl ? { originUrl: input.originUrl } : {}),
        ...(input.vpcServiceId ? { vpcServiceId: input.vpcServiceId } : {}),
        ...(input.vars ? { vars: input.vars } : {}),
        ...(input.container ? { container: input.container } : {}),
      });
      await fs.writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
      this.log(`deploying Worker ${scriptName}`);
      const deployed = await runWrangler(['deploy', '--config', configPath], { account: this.account, env: this.env, cwd: work.dir, log: this.log });
      if (!input.secrets) return { scriptName, url: this.urlFor(scriptName, deployed.events) };
      this.log('uploading Worker secrets');
      await runWrangler(['secret', 'bulk', '--config', configPath], {
        account: this.account,
        env: this.env,
        cwd: work.dir,
        log: this.log,
        input: JSON.stringify(input.secrets),
      });
      return { scriptName, url: this.urlFor(scriptName, deployed.events) };
    } finally {
      await work.dispose();
    }
  }

  /**
   * Adds secrets to the deployed Worker (wrangler secret bulk, values on stdin only): for secrets
   * known only after the deploy, such as the wake credential issued once the VM exists.
   */
  async putSecrets(deployment: string, secrets: Record<string, string>): Promise<void> {
    const work = await wranglerWorkdir();
    try {
      this.log(`uploading ${Object.keys(secrets).length} more Worker secrets`);
      await runWrangler(['secret', 'bulk', '--name', workerScriptName(deployment)], {
        account: this.account,
        env: this.env,
        cwd: work.dir,
        log: this.log,
        input: JSON.stringify(secrets),
      });
    } finally {
      await work.dispose();
    }
  }

  private api(): CloudflareApi {
    return new CloudflareApi(this.account, { env: this.env, log: this.log });
  }

  /**
   * Deletes the Worker (and with it its Durable Objects and secrets), then its OAuth KV namespace
   * (found by title, so a lost state file leaves nothing behind). Missing is not an error.
   */
  async delete(deployment: string): Promise<boolean> {
    const scriptName = workerScriptName(deployment);
    const gone = await this.deleteScript(scriptName);
    if (await deleteOAuthKv(this.api(), deployment)) this.log('deleted the OAuth KV namespace');
    return gone;
  }

  private async deleteScript(scriptName: string): Promise<boolean> {
    const work = await wranglerWorkdir();
    try {
      await runWrangler(['delete', '--name', scriptName, '--force'], { account: this.account, env: this.env, cwd: work.dir, log: this.log });
      return true;
    } catch (e) {
      // 10007 / 10090: "This Worker does not exist on your account" (the script or its service)
      if (e instanceof WranglerError && (e.code === 10007 || e.code === 10090)) return false;
      if (/not found|does not exist/i.test((e as Error).message)) return false;
      throw e;
    } finally {
      await work.dispose();
    }
  }

  urlFor(scriptName: string, events: Array<Record<string, unknown>> = []): string {
    const template = this.env.CRAWL4AI_MCP_WORKERS_URL_TEMPLATE;
    if (template) return template.replaceAll('{script}', scriptName);
    const deploy = events.find((e) => e.type === 'deploy');
    const targets = (deploy?.targets as string[] | undefined) ?? [];
    const workersDev = targets.find((t) => t.includes('.workers.dev'));
    if (workersDev) return workersDev.startsWith('http') ? workersDev : `https://${workersDev}`;
    throw new Error(`wrangler did not report a workers.dev URL for ${scriptName}`);
  }
}
