// Idle auto-stop on Azure, for real: the provider gives the VM a managed identity and a custom role
// that may only read and deallocate that VM, assigned at the VM's scope; idle-stop.sh, run under
// bash with its settings pointing at the ARM emulator and at an IMDS emulator answering as that VM,
// takes a token from IMDS and deallocates the VM (compute billing stops). The same token cannot
// touch another VM or delete its own; destroy leaves no role or assignment behind, state file or not.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderBootstrapFile } from '../src/bootstrap/cloud-init.js';
import { createAzureProvider } from '../src/providers/azure/index.js';
import { SELF_DEALLOCATE_ROLE_NAME } from '../src/providers/azure/self-deallocate.js';
import type { ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { startAzureEmulator, TYPES, type AzureEmulator } from './emulators/azure/index.js';
import { createSelfDeallocateRole, deployerCondition } from './helpers/azure-roles.js';

const TOKEN = 'f'.repeat(64);
const SCRIPT = renderBootstrapFile(
  { deployment: 'azidle', network: 'tunnel', crawl4aiImage: 'unclecode/crawl4ai:0.9.4', crawl4aiToken: TOKEN, memoryLimit: '3g', tunnelToken: 'e'.repeat(64), idleStopMinutes: 60, idleStopAction: 'azure-deallocate' },
  'idle-stop.sh',
);

let az: AzureEmulator;
/** the shared role's GUID (the user's set-up) */
let shared: string;
let dir: string;
let bin: string;
const azure = createAzureProvider();

function ctxFor(name: string, idleStopMinutes = 60): ProviderContext {
  return {
    spec: { name, provider: 'azure', region: 'eastus', size: 'small', network: 'tunnel', profile: 'default', idleStopMinutes },
    credentials: { kind: 'static', values: { tenantId: az.tenantId, clientId: az.clientId, clientSecret: az.clientSecret, subscriptionId: az.subscriptionId } },
    env: { CRAWL4AI_MCP_AZURE_ENDPOINT: az.url, CRAWL4AI_MCP_AZURE_AUTHORITY_HOST: az.url },
    pollMs: 10,
    progress: () => {},
    debug: () => {},
  };
}
const journalFor = (name: string) => new Journal(new StateStore(path.join(dir, 'state', name)), newDeploymentState(name));
const vmOf = (name: string) => az.state.get(az.resourcesOf(name).find((r) => r.type === TYPES.vm)!.id)!;

beforeAll(async () => {
  // long enough that the first assignment always meets the replication delay, even on a loaded machine
  az = await startAzureEmulator({ lroMs: 20, principalReplicationMs: 3000 });
  shared = createSelfDeallocateRole(az);
  // the deployer's assignment carries the README's condition: it may assign only that role, only to service principals
  az.constrainRoleAssignments(deployerCondition(shared));
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), az.caPem]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-azidle-'));
  bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  // fake clock, connection table and init system; curl, sed, base64 are real
  fs.writeFileSync(path.join(bin, 'date'), `#!/bin/sh\ncat "${dir}/now"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'ss'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >>"${dir}/systemctl"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'script.sh'), SCRIPT, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'crawl4ai.env'), `CRAWL4AI_API_TOKEN=${TOKEN}\n`, { mode: 0o600 });
}, 60_000);

afterAll(async () => {
  await az?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** One timer run at minute `t`, as the VM `vmId` (its IMDS); returns what it printed and whether it powered off. */
async function runAt(t: number, imds: string, minutes: number, state: string) {
  fs.writeFileSync(path.join(dir, 'now'), String(1_800_000_000 + t * 60));
  // Crawl4AI on a closed port: nothing counts as activity
  fs.writeFileSync(
    path.join(dir, 'settings.env'),
    `IDLE_STOP_MINUTES=${minutes}\nIDLE_STOP_ACTION=azure-deallocate\nAZURE_IMDS_URL=${imds}\nAZURE_ARM_URL=${az.url}\nCRAWL4AI_URL=http://127.0.0.1:9\nCRAWL4AI_ENV_FILE=${dir}/crawl4ai.env\nSTATE_DIR=${dir}/${state}\n`,
  );
  fs.rmSync(path.join(dir, 'systemctl'), { force: true });
  const r = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
    execFile('bash', [path.join(dir, 'script.sh')], { env: { PATH: `${bin}:/usr/bin:/bin`, IDLE_STOP_CONFIG: path.join(dir, 'settings.env'), CURL_CA_BUNDLE: az.caFile } }, (e, stdout, stderr) =>
      resolve({ status: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
  expect(r.status, r.stderr).toBe(0);
  const poweredOff = fs.existsSync(path.join(dir, 'systemctl')) && fs.readFileSync(path.join(dir, 'systemctl'), 'utf8').includes('poweroff');
  return { ...r, poweredOff };
}

async function powerOf(name: string) {
  await new Promise((r) => setTimeout(r, 60)); // the LRO finishes after lroMs
  az.state.tick(Date.now());
  return vmOf(name).vm!.powerState;
}

async function imdsToken(imds: string): Promise<string> {
  const res = await fetch(`${imds}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F`, { headers: { Metadata: 'true' } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('Azure idle auto-stop: the VM deallocates itself', () => {
  it("the Azure path of idle-stop.sh passes shellcheck (the other clouds' render is checked in cloud-init.test.ts)", async () => {
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile('shellcheck', ['-s', 'bash', path.join(dir, 'script.sh')], (e, stdout, stderr) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out: stdout + stderr })),
    );
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
    expect(SCRIPT).toContain('IDLE_STOP_ACTION" = azure-deallocate');
  });

  it('init gives the VM an identity and the shared role (read + deallocate) assigned at its scope only, creating no role (PrincipalNotFound retried)', async () => {
    const journal = journalFor('azidle');
    await azure.apply(ctxFor('azidle'), journal, () => ({ userData: '#cloud-config\n', inboundPorts: [] }));
    const vm = vmOf('azidle');
    expect(vm.identity).toMatchObject({ type: 'SystemAssigned', principalId: expect.any(String) });
    const defs = [...az.state.roleDefinitions.values()];
    expect(defs.map((d) => d.roleName)).toEqual([SELF_DEALLOCATE_ROLE_NAME]);
    expect(defs[0]!.permissions).toEqual([{ actions: ['Microsoft.Compute/virtualMachines/read', 'Microsoft.Compute/virtualMachines/deallocate/action'], notActions: [], dataActions: [], notDataActions: [] }]);
    expect(az.requests.filter((r) => r.path.includes('/roleDefinitions') && r.method !== 'GET')).toEqual([]);
    const assignments = [...az.state.roleAssignments.values()].filter((a) => a.roleDefinitionName === shared);
    expect(assignments).toEqual([expect.objectContaining({ scope: vm.id, principalId: vm.identity!.principalId, principalType: 'ServicePrincipal' })]);
    // the new identity was not in the directory yet: the first PUT failed, a later one succeeded
    const puts = az.requests.filter((r) => r.method === 'PUT' && r.path.includes('/roleAssignments/'));
    expect(puts[0]).toMatchObject({ status: 400, error: 'PrincipalNotFound' });
    expect(puts.at(-1)!.status).toBe(201);
    expect(journal.find('azure:role-definition')).toBeUndefined();
    expect(journal.find('azure:role-assignment')?.phase).toBe('created');
    // a rerun of init is idempotent: same role, one assignment
    await azure.apply(ctxFor('azidle'), journal, () => ({ userData: '#cloud-config\n', inboundPorts: [] }));
    expect([...az.state.roleAssignments.values()].filter((a) => a.roleDefinitionName === shared)).toHaveLength(1);
    // status sees no drift from them
    const found = await azure.discover(ctxFor('azidle'));
    expect(found.filter((f) => f.kind.startsWith('azure:role-')).map((f) => f.id)).toEqual([journal.find('azure:role-assignment')!.id]);
  }, 60_000);

  it('idle-stop.sh run for real on the idle VM deallocates it through ARM with the IMDS token; not a minute early', async () => {
    const vm = vmOf('azidle');
    const imds = await az.imdsFor(vm.id);
    expect((await runAt(0, imds, 60, 's1')).poweredOff).toBe(false);
    const early = await runAt(59, imds, 60, 's1');
    expect(early.poweredOff).toBe(false);
    expect(await powerOf('azidle')).toBe('running');
    const r = await runAt(60, imds, 60, 's1');
    expect(r.stdout).toMatch(/crawl4ai-mcp: idle 60 min: deallocating/);
    expect(r.poweredOff).toBe(false); // Azure shuts it down; a guest power-off would leave it allocated
    expect(await powerOf('azidle')).toBe('deallocated');
    const call = az.requests.filter((q) => q.path.endsWith('/deallocate')).at(-1)!;
    expect(call).toMatchObject({ status: 202, principal: vm.identity!.principalId, action: 'Microsoft.Compute/virtualMachines/deallocate/action' });
    // billing-stopped: the provider's own status says deallocated (stopped, compute not billed)
    expect((await azure.status(ctxFor('azidle'), journalFor('azidle'))).state).toBe('stopped');
    await azure.start(ctxFor('azidle'), journalFor('azidle'));
  }, 60_000);

  it("the VM's token cannot deallocate another VM, nor delete or write its own", async () => {
    await azure.apply(ctxFor('azidle2'), journalFor('azidle2'), () => ({ userData: '#cloud-config\n', inboundPorts: [] }));
    const mine = vmOf('azidle');
    const other = vmOf('azidle2');
    const token = await imdsToken(await az.imdsFor(mine.id));
    const call = (method: string, p: string, body?: unknown) =>
      fetch(`${az.url}${p}?api-version=2024-07-01`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const otherDeallocate = await call('POST', `${other.id}/deallocate`);
    expect(otherDeallocate.status).toBe(403);
    expect(((await otherDeallocate.json()) as any).error.code).toBe('AuthorizationFailed');
    const del = await call('DELETE', mine.id);
    expect(del.status).toBe(403);
    expect(((await del.json()) as any).error.message).toContain("perform action 'Microsoft.Compute/virtualMachines/delete'");
    expect((await call('PATCH', mine.id, { tags: {} })).status).toBe(403);
    expect((await call('POST', `${mine.id}/start`)).status).toBe(403);
    expect((await call('GET', mine.id)).status).toBe(200); // read is allowed
    expect(await powerOf('azidle2')).toBe('running');
    expect(az.state.get(mine.id)).toBeDefined();
  }, 60_000);

  it('without its role assignment the deallocate is refused: the script says why on the console and powers off', async () => {
    const vm = vmOf('azidle2');
    const saved = [...az.state.roleAssignments.entries()].filter(([, a]) => a.scope === vm.id);
    for (const [k] of saved) az.state.roleAssignments.delete(k);
    try {
      const imds = await az.imdsFor(vm.id);
      await runAt(0, imds, 60, 's2');
      const r = await runAt(61, imds, 60, 's2');
      expect(r.stdout).toMatch(/could not deallocate \(Resource Manager answered 403: AuthorizationFailed\); powering off: the VM stays allocated and its compute is still billed/);
      expect(r.poweredOff).toBe(true);
    } finally {
      for (const [k, a] of saved) az.state.roleAssignments.set(k, a);
    }
  }, 60_000);

  it('scale --idle-stop on Azure: the minutes go to the VM userData (IMDS serves it), no restart; the watchdog uses them', async () => {
    const vm = vmOf('azidle2');
    const journal = journalFor('azidle2');
    const deallocs = az.requests.filter((r) => r.path.endsWith('/deallocate')).length;
    const status = await azure.setIdleStop!(ctxFor('azidle2'), journal, 30);
    expect(status.state).toBe('running');
    expect(az.requests.filter((r) => r.path.endsWith('/deallocate')).length).toBe(deallocs);
    expect(Buffer.from(vmOf('azidle2').properties.userData, 'base64').toString()).toBe('IDLE_STOP_MINUTES=30\n');
    const imds = await az.imdsFor(vm.id);
    // settings.env still says 60 (first boot); the userData's 30 wins
    await runAt(0, imds, 60, 's3');
    expect((await runAt(29, imds, 60, 's3')).stdout).toBe('');
    expect((await runAt(30, imds, 60, 's3')).stdout).toMatch(/idle 30 min: deallocating/);
    expect(await powerOf('azidle2')).toBe('deallocated');
  }, 60_000);

  it('destroy deletes the role assignment (the shared role stays), also with the state file lost', async () => {
    await azure.destroy(ctxFor('azidle'), journalFor('azidle'));
    // lost state: an empty journal; found by the role's name
    await azure.destroy(ctxFor('azidle2'), new Journal(new StateStore(path.join(dir, 'state', 'lost')), newDeploymentState('azidle2')));
    expect(az.resourcesOf('azidle')).toEqual([]);
    expect(az.resourcesOf('azidle2')).toEqual([]);
    expect([...az.state.roleDefinitions.keys()]).toEqual([shared]);
    expect([...az.state.roleAssignments.values()]).toEqual([]);
  }, 60_000);
});

const OWNER = '8e3af657-a8ff-443c-a325-c5ff6c7d3c5b';

/** The installer's own credentials PUT a role assignment (as a stolen secret would). */
async function assign(scope: string, guid: string, roleGuid: string, principalId: string, principalType: string) {
  const res = await fetch(`${az.url}${scope}/providers/Microsoft.Authorization/roleAssignments/${guid}?api-version=2022-04-01`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${az.issueToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ properties: { roleDefinitionId: `/subscriptions/${az.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`, principalId, principalType } }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

describe("the deployer's role assignment condition (README, Azure set-up)", () => {
  it('with it the installer cannot grant Owner to itself at the subscription, nor the shared role to a user; without it, it can', async () => {
    const sub = `/subscriptions/${az.subscriptionId}`;
    az.state.roleDefinitions.set(OWNER, { name: OWNER, roleName: 'Owner', description: 'built-in', permissions: [{ actions: ['*'], notActions: [], dataActions: [], notDataActions: [] }], assignableScopes: [sub], createdOn: new Date(0).toISOString() });
    try {
      const me = az.installerPrincipalId;
      const owner = await assign(sub, '00000000-0000-4000-8000-00000000000a', OWNER, me, 'ServicePrincipal');
      expect(owner.status).toBe(403);
      expect(owner.body.error).toMatchObject({ code: 'AuthorizationFailed', message: expect.stringContaining("'Microsoft.Authorization/roleAssignments/write'") });
      const asUser = await assign(sub, '00000000-0000-4000-8000-00000000000b', shared, me, 'User');
      expect(asUser.status).toBe(403);
      expect([...az.state.roleAssignments.values()].filter((a) => a.principalId === me)).toEqual([]);
      // the shared role to a service principal is what it may do (a nuisance at most: deallocate a VM)
      const ok = await assign(sub, '00000000-0000-4000-8000-00000000000c', shared, me, 'ServicePrincipal');
      expect(ok.status).toBe(201);
      // and it cannot delete assignments of other roles (someone's Owner)
      az.constrainRoleAssignments(undefined);
      expect((await assign(sub, '00000000-0000-4000-8000-00000000000a', OWNER, me, 'ServicePrincipal')).status).toBe(201);
      az.constrainRoleAssignments(deployerCondition(shared));
      const delOwner = await fetch(`${az.url}${sub}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-00000000000a?api-version=2022-04-01`, { method: 'DELETE', headers: { authorization: `Bearer ${az.issueToken()}` } });
      expect(delOwner.status).toBe(403);
      const delShared = await fetch(`${az.url}${sub}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-00000000000c?api-version=2022-04-01`, { method: 'DELETE', headers: { authorization: `Bearer ${az.issueToken()}` } });
      expect(delShared.status).toBe(200);
    } finally {
      for (const k of ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000c']) az.state.roleAssignments.delete(k);
      az.state.roleDefinitions.delete(OWNER);
      az.constrainRoleAssignments(deployerCondition(shared));
    }
  });

  it('the emulator refuses a condition it does not parse (no test passes on an unread condition)', () => {
    expect(() => az.constrainRoleAssignments("@Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {00000000-0000-0000-0000-000000000000}")).toThrow(/not understood/);
    expect(() => az.constrainRoleAssignments(deployerCondition(shared).replace('ForAnyOfAnyValues:GuidEquals', 'ForAllOfAnyValues:GuidEquals'))).toThrow(/not understood/);
    expect(() => az.constrainRoleAssignments(`${deployerCondition(shared)} junk`)).toThrow(/not understood/);
    az.constrainRoleAssignments(deployerCondition(shared));
  });

  it('without the shared role, the credentials check names the az command that creates it (before anything is created)', async () => {
    const saved = az.state.roleDefinitions.get(shared)!;
    az.state.roleDefinitions.delete(shared);
    try {
      const err = await azure.validateCredentials(ctxFor('aznorole')).then(
        () => undefined,
        (e: unknown) => e as Error & { hint?: string },
      );
      expect(err?.message).toBe('the Azure subscription has no role "crawl4ai-mcp self-deallocate" (idle auto-stop gives it to the VM)');
      expect(err?.hint).toContain('az role definition create --role-definition');
      expect(err?.hint).toContain('templates/policies/azure-self-deallocate-role.json');
      expect(err?.hint).toContain('--idle-stop off');
      expect(az.resourcesOf('aznorole')).toEqual([]);
      // with idle auto-stop off the role is not needed
      expect((await azure.validateCredentials(ctxFor('aznorole', 0))).missing).toEqual([]);
    } finally {
      az.state.roleDefinitions.set(shared, saved);
    }
  });

  it('a role of that name granting more than read + deallocate is refused (every VM would get it)', async () => {
    const saved = az.state.roleDefinitions.get(shared)!;
    az.state.roleDefinitions.set(shared, { ...saved, permissions: [{ ...saved.permissions[0]!, actions: [...saved.permissions[0]!.actions, 'Microsoft.Compute/virtualMachines/delete'] }] });
    try {
      await expect(azure.validateCredentials(ctxFor('azwide'))).rejects.toThrow('the role "crawl4ai-mcp self-deallocate" grants more than read and deallocate (Microsoft.Compute/virtualMachines/delete); every VM would get that');
    } finally {
      az.state.roleDefinitions.set(shared, saved);
    }
  });
});

describe('ARM emulator: Microsoft.Authorization habits', () => {
  it('a second assignment of the same role to the same principal at the same scope is 409 RoleAssignmentExists; a role with assignments cannot be deleted', async () => {
    const journal = journalFor('azhabit');
    await azure.apply(ctxFor('azhabit'), journal, () => ({ userData: '#cloud-config\n', inboundPorts: [] }));
    const vm = vmOf('azhabit');
    const a = [...az.state.roleAssignments.values()].find((x) => x.scope === vm.id)!;
    const token = az.issueToken();
    const put = await fetch(`${az.url}${vm.id}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-000000000001?api-version=2022-04-01`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { roleDefinitionId: `/subscriptions/${az.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${a.roleDefinitionName}`, principalId: a.principalId, principalType: 'ServicePrincipal' } }),
    });
    expect(put.status).toBe(409);
    expect(((await put.json()) as any).error.code).toBe('RoleAssignmentExists');
    const del = await fetch(`${az.url}/subscriptions/${az.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${a.roleDefinitionName}?api-version=2022-04-01`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(del.status).toBe(409);
    expect(((await del.json()) as any).error.code).toBe('RoleDefinitionHasAssignments');
    await azure.destroy(ctxFor('azhabit'), journal);
    expect([...az.state.roleAssignments.values()].filter((x) => x.scope === vm.id)).toEqual([]);
  }, 60_000);

  it('an assignment PUT whose answer is lost took effect: the retry meets 409 RoleAssignmentExists and records the one that is there', async () => {
    const journal = journalFor('azlost');
    await azure.apply(ctxFor('azlost', 0), journal, () => ({ userData: '#cloud-config\n', inboundPorts: [] }));
    await new Promise((r) => setTimeout(r, 3_100)); // past the identity's replication delay: the first PUT takes effect
    az.injector.failCall(/^PUT .*\/roleAssignments\//, 1, 'lost');
    await azure.setIdleStop!(ctxFor('azlost', 60), journal, 60);
    const vm = vmOf('azlost');
    const mine = [...az.state.roleAssignments.values()].filter((a) => a.principalId === vm.identity!.principalId);
    expect(mine).toHaveLength(1);
    expect(az.requests.some((r) => r.method === 'PUT' && r.path.includes('/roleAssignments/') && r.error === 'RoleAssignmentExists')).toBe(true);
    expect(journal.find('azure:role-assignment')).toMatchObject({ phase: 'created', id: expect.stringContaining(mine[0]!.name) });
    await azure.destroy(ctxFor('azlost'), journal);
    expect([...az.state.roleAssignments.values()].filter((a) => a.principalId === vm.identity!.principalId)).toEqual([]);
  }, 60_000);

  it('with --idle-stop off no role is made and no Authorization permission is needed; scale --idle-stop adds the role later', async () => {
    az.denyActions(['Microsoft.Authorization/roleDefinitions/*', 'Microsoft.Authorization/roleAssignments/*']);
    const journal = journalFor('azoff');
    try {
      expect((await azure.validateCredentials(ctxFor('azoff', 0))).missing).toEqual([]);
      await azure.apply(ctxFor('azoff', 0), journal, () => ({ userData: '#cloud-config\n', inboundPorts: [] }));
      expect([...az.state.roleAssignments.values()].filter((a) => a.scope.includes('crawl4ai-mcp-azoff'))).toEqual([]);
      expect(Buffer.from(vmOf('azoff').properties.userData, 'base64').toString()).toBe('IDLE_STOP_MINUTES=0\n');
      // status (discovery) works without Authorization reads
      expect((await azure.discover(ctxFor('azoff', 0))).some((r) => r.kind === 'azure:virtual-machine')).toBe(true);
      // turning it on needs them, and says which
      await expect(azure.setIdleStop!(ctxFor('azoff', 45), journal, 45)).rejects.toThrow(/Microsoft\.Authorization\/roleDefinitions\/read/);
    } finally {
      az.denyActions([]);
    }
    await azure.setIdleStop!(ctxFor('azoff', 45), journal, 45);
    const vm = vmOf('azoff');
    expect([...az.state.roleAssignments.values()].filter((a) => a.scope === vm.id && a.principalId === vm.identity!.principalId)).toHaveLength(1);
    expect(Buffer.from(vm.properties.userData, 'base64').toString()).toBe('IDLE_STOP_MINUTES=45\n');
    await azure.destroy(ctxFor('azoff', 45), journal);
    expect([...az.state.roleAssignments.values()].filter((a) => a.scope === vm.id)).toEqual([]);
  }, 60_000);

  it('init names the Authorization permission the installer lacks', async () => {
    az.denyActions(['Microsoft.Authorization/roleAssignments/write']);
    try {
      expect((await azure.validateCredentials(ctxFor('azdeny'))).missing).toEqual(['Microsoft.Authorization/roleAssignments/write']);
      const journal = journalFor('azdeny');
      await expect(azure.apply(ctxFor('azdeny'), journal, () => ({ userData: '#cloud-config\n', inboundPorts: [] }))).rejects.toThrow(/Microsoft\.Authorization\/roleAssignments\/write/);
      await azure.destroy(ctxFor('azdeny'), journal);
    } finally {
      az.denyActions([]);
    }
  }, 60_000);
});
