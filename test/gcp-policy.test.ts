// The GCP custom role files list exactly the permissions the code uses: the installer's file equals
// GCP_ROLE_PERMISSIONS (the commands' and wake on request's; no iam.* permission), the wake role's
// file GCP_WAKE_ROLE_PERMISSIONS, the wake keys role's GCP_WAKE_KEYS_ROLE_PERMISSIONS, and a whole
// life of a deployment (both network modes) against the Compute emulator, granted only the role's
// permissions (and the keys role on the shared wake account), succeeds and is checked for every one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { createGcpProvider } from '../src/providers/gcp/index.js';
import { GCP_POLICY_FILE, GCP_ROLE_PERMISSIONS, GCP_WAKE_KEYS_ROLE_PERMISSIONS, GCP_WAKE_ROLE_PERMISSIONS } from '../src/providers/gcp/permissions.js';
import { GCP_WAKE_KEYS_ROLE_FILE, GCP_WAKE_ROLE_FILE } from '../src/providers/gcp/wake-credential.js';
import type { NetworkMode } from '../src/model/deployment.js';
import type { ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { startGceEmulator } from './emulators/gce/index.js';
import { setUpGcpWake } from './helpers/gcp-wake-setup.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const role = YAML.parse(fs.readFileSync(path.join(ROOT, GCP_POLICY_FILE), 'utf8')) as { title: string; stage: string; includedPermissions: string[] };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-gcp-policy-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe(GCP_POLICY_FILE, () => {
  it('is a gcloud custom role file granting exactly GCP_ROLE_PERMISSIONS, no wildcard, no duplicate', () => {
    expect(Object.keys(role).sort()).toEqual(['description', 'includedPermissions', 'stage', 'title']);
    expect(role.stage).toBe('GA');
    expect([...role.includedPermissions].sort()).toEqual([...GCP_ROLE_PERMISSIONS].sort());
    expect(new Set(role.includedPermissions).size).toBe(role.includedPermissions.length);
    for (const p of role.includedPermissions) expect(p).toMatch(/^(compute|iam)\.[a-zA-Z]+\.[a-zA-Z]+$/);
    // no iam.* at project level: a leaked key of this account cannot mint keys for any service account
    expect(role.includedPermissions.filter((p) => p.startsWith('iam.'))).toEqual([]);
    expect(role.includedPermissions.filter((p) => /IamPolicy$/.test(p)).sort()).toEqual(['compute.instances.getIamPolicy', 'compute.instances.setIamPolicy']);
  });

  it(`${GCP_WAKE_KEYS_ROLE_FILE} grants exactly keys create, list and delete (granted on the shared wake account only)`, () => {
    const keys = YAML.parse(fs.readFileSync(path.join(ROOT, GCP_WAKE_KEYS_ROLE_FILE), 'utf8')) as typeof role;
    expect(Object.keys(keys).sort()).toEqual(['description', 'includedPermissions', 'stage', 'title']);
    expect([...keys.includedPermissions].sort()).toEqual([...GCP_WAKE_KEYS_ROLE_PERMISSIONS].sort());
    expect([...keys.includedPermissions].sort()).toEqual(['iam.serviceAccountKeys.create', 'iam.serviceAccountKeys.delete', 'iam.serviceAccountKeys.list']);
  });

  it(`${GCP_WAKE_ROLE_FILE} grants exactly compute.instances.get and compute.instances.start`, () => {
    const wake = YAML.parse(fs.readFileSync(path.join(ROOT, GCP_WAKE_ROLE_FILE), 'utf8')) as typeof role;
    expect(Object.keys(wake).sort()).toEqual(['description', 'includedPermissions', 'stage', 'title']);
    expect([...wake.includedPermissions].sort()).toEqual([...GCP_WAKE_ROLE_PERMISSIONS].sort());
    expect(wake.includedPermissions).toEqual(['compute.instances.get', 'compute.instances.start']);
  });

  it('is enough for a whole life in both network modes, and every permission in it is used', async () => {
    const emu = await startGceEmulator({ transitionMs: 30 });
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), emu.ca]);
    emu.grantOnly(role.includedPermissions);
    const shared = setUpGcpWake(emu);
    const gcp = createGcpProvider();
    try {
      for (const network of ['tunnel', 'public'] as NetworkMode[]) {
        const name = `role-${network}`;
        const ctx: ProviderContext = {
          spec: { name, provider: 'gcp', region: 'us-central1', size: 'small', network, profile: 'default' },
          credentials: { kind: 'static', values: { serviceAccountKey: emu.serviceAccountKey } },
          env: { CRAWL4AI_MCP_GCP_ENDPOINT: emu.url },
          pollMs: 20,
          progress: () => {},
          debug: () => {},
        };
        const journal = new Journal(new StateStore(path.join(dir, name)), newDeploymentState(name));
        expect((await gcp.validateCredentials(ctx)).missing).toEqual([]);
        await gcp.plan(ctx);
        const bootstrap = () => ({ userData: '#cloud-config\n', inboundPorts: network === 'public' ? [443] : [] });
        await gcp.apply(ctx, journal, bootstrap);
        await gcp.apply(ctx, journal, bootstrap); // a re-run resumes: reads what the journal holds
        expect((await gcp.issueWakeCredential!(ctx, journal))?.secrets.WAKE_GCP_KEY).toBeDefined();
        await gcp.issueWakeCredential!(ctx, journal); // a re-run: a fresh key, the old one deleted
        await gcp.scrubBootstrap(ctx, journal);
        await gcp.resize(ctx, journal, 'medium');
        await gcp.stop(ctx, journal);
        await gcp.start(ctx, journal);
        await gcp.status(ctx, journal);
        await gcp.destroy(ctx, journal);
        expect(emu.resourcesOf(name)).toEqual([]);
      }
      expect(emu.iam.account(shared).keys.size).toBe(0);
      // every project-level permission used; the keys ones were allowed by the grant on the account alone
      expect([...emu.permissionsChecked].sort()).toEqual([...GCP_ROLE_PERMISSIONS].sort());
      const keyCalls = emu.requests.filter((r) => decodeURIComponent(r.path).startsWith(`/v1/projects/${emu.project}/serviceAccounts/${shared}/keys`));
      expect(new Set(keyCalls.map((r) => `${r.method} ${r.status}`))).toEqual(new Set(['GET 200', 'POST 200', 'DELETE 200']));
    } finally {
      await emu.close();
    }
  });
});
