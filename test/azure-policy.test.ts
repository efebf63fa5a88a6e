// templates/policies/azure-custom-role.json: exactly the actions the Azure provider needs, checked
// twice: against the list in src/providers/azure/permissions.ts, and against the actions the ARM
// emulator saw the provider need (its RBAC check per request) over a whole deployment life.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createAzureProvider } from '../src/providers/azure/index.js';
import { AZURE_POLICY_FILE, AZURE_REQUIRED_ACTIONS, grants } from '../src/providers/azure/permissions.js';
import type { ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { SELF_DEALLOCATE_ACTIONS, SELF_DEALLOCATE_ROLE_FILE, SELF_DEALLOCATE_ROLE_NAME } from '../src/providers/azure/self-deallocate.js';
import { startAzureEmulator } from './emulators/azure/index.js';
import { createSelfDeallocateRole, deployerCondition, roleTemplate, setUpWake, WAKE_GROUP, WAKE_IDENTITIES_TEMPLATE } from './helpers/azure-roles.js';
import { WAKE_IDENTITY_ACTIONS, WAKE_IDENTITIES_ROLE_NAME } from '../src/providers/azure/wake.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const role = JSON.parse(fs.readFileSync(path.join(ROOT, AZURE_POLICY_FILE), 'utf8')) as Record<string, unknown> & { Actions: string[] };

/** Joins ARM checks on linked resources (a NIC using a subnet, an NSG, a public IP): real RBAC needs them, the emulator does not model them. */
const LINKED_ACCESS = /\/join\/action$/;

describe('templates/policies/azure-custom-role.json', () => {
  it('is a custom role definition (az role definition create) granting exactly AZURE_REQUIRED_ACTIONS, no wildcard, at the subscription', () => {
    expect(Object.keys(role).sort()).toEqual(['Actions', 'AssignableScopes', 'DataActions', 'Description', 'IsCustom', 'Name', 'NotActions', 'NotDataActions']);
    expect(role.IsCustom).toBe(true);
    expect([...role.Actions].sort()).toEqual([...AZURE_REQUIRED_ACTIONS].sort());
    // never at the subscription: a federated credential write there would let its holder sign in as any identity
    expect(role.Actions.filter((a) => a.startsWith('Microsoft.ManagedIdentity/'))).toEqual([]);
    expect(new Set(role.Actions).size).toBe(role.Actions.length);
    for (const a of role.Actions) expect(a).not.toContain('*');
    expect(role.NotActions).toEqual([]);
    expect(role.DataActions).toEqual([]);
    expect(role.AssignableScopes).toEqual(['/subscriptions/{subscriptionId}']);
    // role definitions are the user's (set-up); role assignment writes are bounded by the condition
    expect(role.Actions.filter((a) => a.startsWith('Microsoft.Authorization/'))).toEqual([
      'Microsoft.Authorization/permissions/read',
      'Microsoft.Authorization/roleAssignments/delete',
      'Microsoft.Authorization/roleAssignments/read',
      'Microsoft.Authorization/roleAssignments/write',
      'Microsoft.Authorization/roleDefinitions/read',
    ]);
  });

  it('azure-self-deallocate-role.json is the shared role: read and deallocate a VM, nothing else, assignable in the subscription', () => {
    const sd = JSON.parse(fs.readFileSync(path.join(ROOT, SELF_DEALLOCATE_ROLE_FILE), 'utf8')) as Record<string, unknown>;
    expect(sd).toMatchObject({ Name: SELF_DEALLOCATE_ROLE_NAME, IsCustom: true, Actions: [...SELF_DEALLOCATE_ACTIONS], NotActions: [], DataActions: [], NotDataActions: [], AssignableScopes: ['/subscriptions/{subscriptionId}'] });
  });

  it('azure-wake-identities-role.json: create, delete and federate identities, assignable on crawl4ai-mcp_wake only', () => {
    const ids = JSON.parse(fs.readFileSync(path.join(ROOT, 'templates/policies/azure-wake-identities-role.json'), 'utf8')) as Record<string, unknown>;
    expect(ids).toMatchObject({ Name: WAKE_IDENTITIES_ROLE_NAME, IsCustom: true, Actions: [...WAKE_IDENTITY_ACTIONS], NotActions: [], DataActions: [], NotDataActions: [], AssignableScopes: ['/subscriptions/{subscriptionId}/resourceGroups/crawl4ai-mcp_wake'] });
  });

  it('grants what a whole life needs (plan, init in both modes with idle auto-stop and wake on request, stop, start, scale, discover, destroy) and nothing it never needs', async () => {
    const emu = await startAzureEmulator({ lroMs: 20 });
    // the README's set-up: the shared roles, and the deployer's assignment carrying the condition
    emu.constrainRoleAssignments(deployerCondition(createSelfDeallocateRole(emu), setUpWake(emu)));
    const ids = roleTemplate(emu, WAKE_IDENTITIES_TEMPLATE);
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), emu.caPem]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-azure-policy-'));
    try {
      const azure = createAzureProvider();
      for (const network of ['public', 'tunnel'] as const) {
        const name = `pol-${network}`;
        const ctx: ProviderContext = {
          spec: { name, provider: 'azure', region: 'eastus', size: 'small', network, profile: 'default', idleStopMinutes: 60 },
          credentials: { kind: 'static', values: { tenantId: emu.tenantId, clientId: emu.clientId, clientSecret: emu.clientSecret, subscriptionId: emu.subscriptionId } },
          env: { CRAWL4AI_MCP_AZURE_ENDPOINT: emu.url, CRAWL4AI_MCP_AZURE_AUTHORITY_HOST: emu.url },
          pollMs: 10,
          progress: () => {},
          debug: () => {},
        };
        const journal = new Journal(new StateStore(path.join(dir, name)), newDeploymentState(name));
        await azure.validateCredentials(ctx);
        await azure.plan(ctx);
        await azure.apply(ctx, journal, () => ({ userData: '#cloud-config\n', inboundPorts: network === 'public' ? [443] : [] }));
        expect(await azure.issueWakeCredential!(ctx, journal, { workerUrl: async () => `https://crawl4ai-mcp-${name}.test-user.workers.dev` })).toBeDefined();
        await azure.status(ctx, journal);
        await azure.stop(ctx, journal);
        await azure.start(ctx, journal);
        await azure.resize(ctx, journal, 'medium');
        await azure.setIdleStop!(ctx, journal, 30);
        await azure.discover(ctx);
        await azure.destroy(ctx, journal);
      }
      expect(emu.requests.filter((r) => r.status === 403), 'the condition refused a call the tool makes').toEqual([]);
      const used = new Set(emu.requests.map((r) => r.action).filter((a): a is string => a !== undefined));
      // the wake identities' actions only ever in their group (where their role is assigned)
      const identityCalls = emu.requests.filter((r) => r.action?.startsWith('Microsoft.ManagedIdentity/'));
      expect(identityCalls.length).toBeGreaterThan(0);
      for (const r of identityCalls) expect(r.path.toLowerCase()).toContain(`/resourcegroups/${WAKE_GROUP}/`.toLowerCase());
      const policy = [{ actions: [...role.Actions, ...ids.Actions] }];
      for (const a of used) expect(grants(policy, a), `${a} is used but not granted`).toBe(true);
      const unused = [...role.Actions, ...ids.Actions].filter((a) => !LINKED_ACCESS.test(a) && !used.has(a));
      expect(unused, 'granted but never needed').toEqual([]);
    } finally {
      await emu.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
