/**
 * The container application calls wrangler lacks (provider `cloudflare`). `wrangler deploy`
 * creates or updates the application from the Worker's `containers` entry, but `wrangler delete`
 * leaves it running (and billing), and no wrangler command scales it without a redeploy. So
 * status, stop/start (max_instances), destroy and discovery talk to the API here.
 */
import { credentialsError } from '../ground/errors.js';
import type { ContainerApplicationView } from '../model/deployment.js';
import { CloudflareApi, isCloudflareApiError } from './api.js';
import { CONTAINER_CLASS_NAME } from './wrangler-config.js';

const APPS = '/accounts/{account_id}/containers/applications';

/** wrangler names the application `<worker>-<class>`, lower-cased (observed with 4.164). */
export function containerApplicationName(scriptName: string): string {
  return `${scriptName}-${CONTAINER_CLASS_NAME}`.toLowerCase();
}

interface ApiApplication {
  id: string;
  name: string;
  created_at?: string;
  max_instances?: number;
  configuration?: { image?: string; instance_type?: string };
  health?: { instances?: { healthy?: number; starting?: number; failed?: number } };
}

function view(a: ApiApplication): ContainerApplicationView {
  const h = a.health?.instances;
  return {
    id: a.id,
    name: a.name,
    image: a.configuration?.image ?? '',
    instanceType: a.configuration?.instance_type ?? '',
    maxInstances: a.max_instances ?? 0,
    ...(a.created_at ? { createdAt: a.created_at } : {}),
    ...(h ? { instances: { healthy: h.healthy ?? 0, starting: h.starting ?? 0, failed: h.failed ?? 0 } } : {}),
  };
}

export const PLAN_HINT = 'Containers need the Workers Paid plan ($5/month): subscribe under Workers & Pages › Plans in the Cloudflare dashboard, then run the command again';
export const PERMISSION_LABEL = 'Account › Workers Containers › Edit';

export class ContainerApplications {
  constructor(private readonly api: CloudflareApi) {}

  async list(): Promise<ContainerApplicationView[]> {
    return (await this.api.list<ApiApplication>(APPS)).map(view);
  }

  async find(name: string): Promise<ContainerApplicationView | undefined> {
    return (await this.list()).find((a) => a.name === name);
  }

  /** Every application a crawl4ai-mcp Worker made (names `crawl4ai-mcp-<deployment>-…`). */
  async listManaged(): Promise<ContainerApplicationView[]> {
    return (await this.list()).filter((a) => a.name.startsWith('crawl4ai-mcp-'));
  }

  async setMaxInstances(id: string, maxInstances: number): Promise<void> {
    await this.api.patch(`${APPS}/${encodeURIComponent(id)}`, { max_instances: maxInstances });
  }

  /** Deletes the application (and so stops its instances). Missing is not an error. */
  async delete(id: string): Promise<boolean> {
    try {
      await this.api.delete(`${APPS}/${encodeURIComponent(id)}`);
      return true;
    } catch (e) {
      if (isCloudflareApiError(e) && e.status === 404) return false;
      throw e;
    }
  }

  /**
   * Whether the account may run Containers at all, before anything is created: a token without
   * the Containers permission and an account without the Workers Paid plan both get 403 here,
   * told apart by the authentication code (10000) the token case carries.
   */
  async checkAllowed(): Promise<{ ok: true } | { ok: false; missingPermission: string }> {
    try {
      await this.api.get('/accounts/{account_id}/containers/me');
      return { ok: true };
    } catch (e) {
      if (!isCloudflareApiError(e) || !e.isAuth) throw e;
      if (e.codes.includes(10000)) return { ok: false, missingPermission: PERMISSION_LABEL };
      throw credentialsError(`this Cloudflare account cannot run Containers (${e.apiMessage})`, PLAN_HINT, e);
    }
  }
}
