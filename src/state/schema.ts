import { z } from 'zod';

/**
 * The per-deployment state file. It records what the deployment is and every resource it owns,
 * as a journal: a record is written with phase "intent" (and the idempotency token) BEFORE the
 * create call, and updated with the cloud's id AFTER it. A re-run resumes from it; `destroy`
 * walks it backwards. It never holds a secret (StateStore.write refuses known secret values).
 */
export const STATE_SCHEMA_VERSION = 1;

export const ResourcePhase = z.enum(['intent', 'created', 'deleting', 'deleted']);
export type ResourcePhase = z.infer<typeof ResourcePhase>;

export const ResourceRecord = z.object({
  /** logical key, unique within the deployment, e.g. "aws:security-group" or "cloudflare:worker" */
  key: z.string().min(1),
  /** resource type, e.g. "aws:instance", "cloudflare:kv-namespace" */
  kind: z.string().min(1),
  phase: ResourcePhase,
  /** the cloud's id, known once the create call answered */
  id: z.string().optional(),
  /** idempotency token sent with the create call (EC2 ClientToken, GCP requestId, ...) */
  token: z.string().optional(),
  region: z.string().optional(),
  /** non-secret facts about the resource (ip address, hostname, ...) */
  meta: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).default({}),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type ResourceRecord = z.infer<typeof ResourceRecord>;

export const DeploymentStatus = z.enum(['planned', 'provisioning', 'ready', 'stopped', 'failed', 'destroying']);
export type DeploymentStatus = z.infer<typeof DeploymentStatus>;

export const DeploymentState = z.object({
  schemaVersion: z.literal(STATE_SCHEMA_VERSION),
  /** marks the file as ours, so a foreign JSON file is refused with a clear error */
  tool: z.literal('crawl4ai-mcp'),
  name: z.string().regex(/^[a-z0-9-]{1,32}$/),
  createdAt: z.string(),
  updatedAt: z.string(),
  status: DeploymentStatus,
  provider: z.enum(['aws', 'gcp', 'azure', 'cloudflare', 'local']).nullable(),
  region: z.string().optional(),
  size: z.string().optional(),
  network: z.enum(['tunnel', 'public', 'container']).optional(),
  /** the credential profile used (names a secret-store namespace, never a secret) */
  profile: z.string().optional(),
  /** where the cloud credentials come from: the secret store profile, or the cloud SDK's chain */
  credentials: z.enum(['keychain', 'chain']).optional(),
  worker: z
    .object({
      scriptName: z.string(),
      /** base URL of the deployed Worker; the MCP endpoint is `${url}/mcp` */
      url: z.string().url(),
      accountId: z.string().optional(),
    })
    .optional(),
  /** non-secret outputs: public address, hostname, crawl4ai version, ... */
  outputs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).default({}),
  resources: z.array(ResourceRecord).default([]),
});
export type DeploymentState = z.infer<typeof DeploymentState>;

export function newDeploymentState(name: string, now = new Date()): DeploymentState {
  const t = now.toISOString();
  return {
    schemaVersion: STATE_SCHEMA_VERSION,
    tool: 'crawl4ai-mcp',
    name,
    createdAt: t,
    updatedAt: t,
    status: 'planned',
    provider: null,
    outputs: {},
    resources: [],
  };
}
