import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureEmulator, type AzureEmulator } from './emulators/azure/index.ts';
import { createSelfDeallocateRole } from './helpers/azure-roles.js';
import { CLI, cliEnv, tempHome } from './helpers/cli.js';
import { KEY, PtySession } from './helpers/pty.js';

describe('the wizard offers Azure', () => {
  let az: AzureEmulator;
  beforeAll(async () => {
    az = await startAzureEmulator();
    createSelfDeallocateRole(az);
  });
  afterAll(async () => az?.close());

  it('Azure, a service principal (secret masked), region and size, then the plan with its cost', async () => {
    const env = cliEnv(tempHome('c4m-azure-wizard-'), {
      CRAWL4AI_MCP_SECRET_BACKEND: 'file',
      CRAWL4AI_MCP_PASSPHRASE: 'wizard passphrase',
      CRAWL4AI_MCP_AZURE_ENDPOINT: az.url,
      CRAWL4AI_MCP_AZURE_AUTHORITY_HOST: az.url,
      NODE_EXTRA_CA_CERTS: az.caFile,
      CI: undefined,
    });
    const pty = new PtySession(`${process.execPath} ${CLI} plan`, env);
    try {
      await pty.waitFor('Which cloud should run your crawler VM?');
      await pty.press(KEY.down, '❯ GCP');
      await pty.press(KEY.down, '❯ AZURE');
      pty.type(KEY.enter);
      await pty.waitFor('Which credentials?');
      await pty.waitFor('A service principal with the least-privilege custom role');
      expect(pty.text).toContain('My Azure CLI login (az login)');
      pty.type(KEY.enter);
      const answer = async (question: string, value: string) => {
        await pty.waitFor(question);
        pty.type(value + KEY.enter);
      };
      await answer('Azure tenant (directory) ID', az.tenantId);
      await answer('Azure service principal client (application) ID', az.clientId);
      await answer('Azure service principal client secret', az.clientSecret);
      await answer('Azure subscription ID', az.subscriptionId);
      await pty.waitFor('? Region');
      pty.type(KEY.enter); // eastus, the first
      await pty.waitFor('VM size');
      pty.type(KEY.enter); // default: medium
      await pty.waitFor('How should your Worker reach the VM?');
      pty.type(KEY.enter); // default: Cloudflare Tunnel
      await pty.waitFor(/total\s+\$[\d.]+\/month running/);
      expect(await pty.exited).toBe(0);
      const screen = pty.text;
      expect(screen).toMatch(/Plan for AZURE eastus/i);
      expect(screen).toContain('Standard_B2ms');
      expect(screen).toContain('no inbound allow rule at all');
      expect(screen).not.toContain(az.clientSecret);
      expect(az.resourcesOf('default')).toEqual([]); // plan creates nothing
    } finally {
      pty.kill();
    }
  }, 120_000);
});
