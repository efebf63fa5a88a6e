// The GCP custom role file lists exactly the permissions the code uses: the file equals
// GCP_REQUIRED_PERMISSIONS, and a whole life of a deployment (both network modes) against the
// Compute emulator, granted only the role's permissions, succeeds and is checked for every one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { createGcpProvider } from '../src/providers/gcp/index.js';
import { GCP_POLICY_FILE, GCP_REQUIRED_PERMISSIONS } from '../src/providers/gcp/permissions.js';
import type { NetworkMode } from '../src/model/deployment.js';
import type { ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { startGceEmulator } from './emulators/gce/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const role = YAML.parse(fs.readFileSync(path.join(ROOT, GCP_POLICY_FILE), 'utf8')) as { title: string; stage: string; includedPermissions: string[] };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-gcp-policy-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe(GCP_POLICY_FILE, () => {
  it('is a gcloud custom role file granting exactly GCP_REQUIRED_PERMISSIONS, no wildcard, no duplicate', () => {
    expect(Object.keys(role).sort()).toEqual(['description', 'includedPermissions', 'stage', 'title']);
    expect(role.stage).toBe('GA');
    expect([...role.includedPermissions].sort()).toEqual([...GCP_REQUIRED_PERMISSIONS].sort());
    expect(new Set(role.includedPermissions).size).toBe(role.includedPermissions.length);
    for (const p of role.includedPermissions) expect(p).toMatch(/^compute\.[a-zA-Z]+\.[a-zA-Z]+$/);
  });

  it('is enough for a whole life in both network modes, and every permission in it is used', async () => {
    const emu = await startGceEmulator({ transitionMs: 30 });
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), emu.ca]);
    emu.grantOnly(role.includedPermissions);
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
        await gcp.scrubBootstrap(ctx, journal);
        await gcp.resize(ctx, journal, 'medium');
        await gcp.stop(ctx, journal);
        await gcp.start(ctx, journal);
        await gcp.status(ctx, journal);
        await gcp.destroy(ctx, journal);
        expect(emu.resourcesOf(name)).toEqual([]);
      }
      expect([...emu.permissionsChecked].sort()).toEqual([...GCP_REQUIRED_PERMISSIONS].sort());
    } finally {
      await emu.close();
    }
  });
});
