import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { CLI, cliEnv, tempHome } from './helpers/cli.js';
import { KEY, PtySession } from './helpers/pty.js';

const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('the wizard in a real terminal', () => {
  let ec2: Ec2Emulator;
  beforeAll(async () => {
    ec2 = await startEc2Emulator({ accessKeyId: ACCESS_KEY });
  });
  afterAll(async () => ec2?.close());

  it('asks cloud, credentials (masked), region and size, then shows the plan with its cost', async () => {
    const env = cliEnv(tempHome('c4m-wizard-'), {
      CRAWL4AI_MCP_SECRET_BACKEND: 'file',
      CRAWL4AI_MCP_PASSPHRASE: 'wizard passphrase',
      AWS_ENDPOINT_URL_EC2: ec2.url,
      AWS_ENDPOINT_URL_STS: ec2.url,
      CI: undefined,
    });
    const pty = new PtySession(`${process.execPath} ${CLI} plan`, env);
    try {
      await pty.waitFor('Which cloud should run your crawler VM?');
      pty.type(KEY.enter); // AWS (first)
      await pty.waitFor('Which credentials?');
      pty.type(KEY.enter); // an access key in the keychain
      await pty.waitFor('AWS access key ID');
      pty.type(ACCESS_KEY + KEY.enter);
      await pty.waitFor('AWS secret access key');
      pty.type(SECRET_KEY + KEY.enter);
      await pty.waitFor('? Region');
      pty.type(KEY.down); // the second region in the list
      await pty.waitFor('❯ us-east-2');
      pty.type(KEY.enter);
      await pty.waitFor('VM size');
      pty.type(KEY.enter); // default: medium
      await pty.waitFor('How should your Worker reach the VM?');
      pty.type(KEY.enter); // default: Cloudflare Tunnel
      await pty.waitFor(/total\s+\$[\d.]+\/month running/);
      expect(await pty.exited).toBe(0);
      const screen = pty.text;
      expect(screen).toContain('Plan for AWS us-east-2');
      expect(screen).toContain('✔ reading images, network and prices in us-east-2'); // the ora spinner finished its step
      expect(screen).toContain('t3.large');
      expect(screen).toContain('no inbound rules at all');
      expect(screen).toContain('Cloudflare Tunnel crawl4ai-mcp-default');
      expect(screen).not.toContain(SECRET_KEY); // the secret was masked while typed
      expect(screen).toMatch(/\*{10,}/);
    } finally {
      pty.kill();
    }
  });
});
