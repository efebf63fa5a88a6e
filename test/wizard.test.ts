import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startGceEmulator } from './emulators/gce/index.ts';
import { startCloudflareEmulator } from './emulators/cloudflare/index.ts';
import { CLI, cliEnv, runCli, tempHome } from './helpers/cli.js';
import { KEY, PtySession } from './helpers/pty.js';
import { ec2Instances } from './helpers/journey.js';
import { startVmSimulator } from './helpers/vm-simulator.js';

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
      AWS_ENDPOINT_URL_IAM: ec2.url,
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
      await pty.press(KEY.down, '❯ us-east-2'); // the second region in the list
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

  it('offers GCP: a service-account key (masked), GCP regions and machine types, then the plan', async () => {
    const gce = await startGceEmulator();
    const env = cliEnv(tempHome('c4m-wizard-gcp-'), {
      CRAWL4AI_MCP_SECRET_BACKEND: 'file',
      CRAWL4AI_MCP_PASSPHRASE: 'wizard passphrase',
      CRAWL4AI_MCP_GCP_ENDPOINT: gce.url,
      NODE_EXTRA_CA_CERTS: gce.caFile,
      CI: undefined,
    });
    const key = JSON.stringify(JSON.parse(gce.serviceAccountKey)); // the key file on one line, as `jq -c . key.json` prints it
    const pty = new PtySession(`${process.execPath} ${CLI} plan`, env);
    try {
      await pty.waitFor('Which cloud should run your crawler VM?');
      await pty.press(KEY.down, '❯ GCP');
      pty.type(KEY.enter);
      await pty.waitFor('A key of a least-privilege service account');
      pty.type(KEY.enter);
      await pty.waitFor('GCP service-account key');
      pty.type(key + KEY.enter);
      await pty.waitFor('? Region');
      await pty.waitFor('❯ us-central1');
      pty.type(KEY.enter);
      await pty.waitFor('VM size');
      pty.type(KEY.enter); // default: medium
      await pty.waitFor('How should your Worker reach the VM?');
      pty.type(KEY.enter);
      await pty.waitFor(/total\s+\$[\d.]+\/month running/);
      expect(await pty.exited).toBe(0);
      const screen = pty.text;
      expect(screen).toContain('Plan for GCP us-central1');
      expect(screen).toContain('e2-standard-2');
      expect(screen).toContain('ubuntu-2404-noble-amd64');
      expect(screen).not.toContain('PRIVATE KEY'); // masked while typed
    } finally {
      pty.kill();
      await gce.close();
    }
  }, 120_000);

  it('init: answers every question, confirms the plan, and ends with the client snippets', async () => {
    const cfToken = 'cf-wizard-' + 'w'.repeat(30);
    const cf = await startCloudflareEmulator({ apiToken: cfToken });
    const sim = startVmSimulator(ec2Instances(ec2, 'wiz'), cf);
    const env = cliEnv(tempHome('c4m-wizard-init-'), {
      CRAWL4AI_MCP_SECRET_BACKEND: 'file',
      CRAWL4AI_MCP_PASSPHRASE: 'wizard passphrase',
      AWS_ENDPOINT_URL_EC2: ec2.url,
      AWS_ENDPOINT_URL_STS: ec2.url,
      AWS_ENDPOINT_URL_IAM: ec2.url,
      CLOUDFLARE_API_BASE_URL: cf.apiBaseUrl,
      CRAWL4AI_MCP_WORKERS_URL_TEMPLATE: cf.workersUrlTemplate,
      CRAWL4AI_MCP_POLL_MS: '100',
      CRAWL4AI_MCP_HEALTH_INTERVAL_MS: '300',
      CI: undefined,
    });
    const pty = new PtySession(`${process.execPath} ${CLI} --name wiz init`, env);
    try {
      const answer = async (question: string, keys: string) => {
        await pty.waitFor(question);
        pty.type(keys);
      };
      await answer('Which cloud should run your crawler VM?', KEY.enter);
      await answer('Which credentials?', KEY.enter);
      await answer('AWS access key ID', ACCESS_KEY + KEY.enter);
      await answer('AWS secret access key', SECRET_KEY + KEY.enter);
      await answer('? Region', KEY.enter);
      await pty.waitFor('VM size');
      await pty.press(KEY.down, '❯ large');
      await pty.press(KEY.up, '❯ medium'); // arrow keys move both ways
      await pty.press(KEY.down, '❯ large');
      pty.type(KEY.enter);
      await answer('How should your Worker reach the VM?', KEY.enter);
      await answer('Cloudflare account ID', cf.accountId + KEY.enter);
      await answer('Cloudflare API token', cfToken + KEY.enter);
      await answer('Create these resources', KEY.enter); // default: yes
      await pty.waitFor('deployment "wiz" is ready', 120_000);
      await pty.waitFor('Claude Desktop');
      expect(await pty.exited).toBe(0);
      const screen = pty.text;
      expect(screen).toContain('Plan for AWS us-east-1');
      expect(screen).toContain('✔ VM size large');
      expect(screen).toMatch(/VM\s+t3\.xlarge \(4 vCPU, 16 GiB RAM/);
      expect(screen).toContain('Cloudflare Tunnel crawl4ai-mcp-wiz');
      expect(screen).toContain('✔ waiting for Crawl4AI to answer through the Worker');
      expect(screen).not.toContain(SECRET_KEY);
      expect(screen).not.toContain(cfToken);
      expect(screen).toMatch(/c4m_[A-Za-z0-9_-]{43}/); // the snippets carry the user's own key
    } finally {
      pty.kill();
      const destroy = await runCli(['--name', 'wiz', 'destroy', '--yes'], { env, timeoutMs: 120_000 });
      expect(destroy.code, destroy.stderr).toBe(0);
      expect(ec2.resourcesOf('wiz')).toEqual([]);
      await sim.stop();
      await cf.close();
    }
  }, 240_000);
});
