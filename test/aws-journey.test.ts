import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import fs from 'node:fs';
import path from 'node:path';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { lines, runCli } from './helpers/cli.js';
import { simulatedDigest, startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY as ACCESS_KEY, AWS_SECRET_KEY as SECRET_KEY, ec2Instances, journeyEnv, userDataAsTheCloudShowsIt } from './helpers/journey.js';

const CF_TOKEN = 'cf-token-' + 'x'.repeat(32);
const CF_ACCOUNT = 'acc0000000000000000000000000000a';

describe('AWS journey through the built CLI: init -> status -> connect -> MCP call -> scale -> stop -> start -> destroy', () => {
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let sim: VmSimulator;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    // every EC2 call is judged by the real IAM policy template, as AWS would judge the user's key
    ec2 = await startEc2Emulator({ transitionMs: 200, consistencyDelayMs: 300, accessKeyId: ACCESS_KEY, iamPolicy: 'template' });
    cf = await startCloudflareEmulator({ accountId: CF_ACCOUNT, apiToken: CF_TOKEN });
    sim = startVmSimulator(ec2Instances(ec2, 'journey'), cf);
    env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-journey-');
  }, 120_000);

  afterAll(async () => {
    await sim?.stop();
    await cf?.close();
    await ec2?.close();
  });

  const cli = (args: string[], extra: Record<string, string | undefined> = {}) =>
    runCli(['--name', 'journey', ...args], { env: { ...env, ...extra }, timeoutMs: 240_000 });

  it('runs the whole life of a deployment and leaves nothing behind', async () => {
    const init = await cli(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'medium', '--network', 'public', '--json', '--verbose']);
    if (init.code !== 0) console.error(init.stderr, cf.workerLogs?.slice(-20));
    expect(init.stderr + init.stdout).not.toContain(SECRET_KEY);
    expect(init.stderr + init.stdout).not.toContain(CF_TOKEN);
    expect(init.code, init.stderr).toBe(0);
    const created = JSON.parse(init.stdout);
    expect(created.status).toBe('ready');
    expect(created.idleStopMinutes).toBe(60); // idle auto-stop is on by default
    expect(created.mcpUrl).toBe(cf.workerUrl('crawl4ai-mcp-journey') + '/mcp');

    // What was created, as the cloud sees it.
    const sg = [...ec2.state.securityGroups.values()].find((g) => g.tags['crawl4ai-mcp:deployment'] === 'journey')!;
    // Public mode opens 443 only (IPv4 and IPv6), never 22.
    expect(sg.ingress.map((r) => `${r.protocol}:${r.fromPort}-${r.toPort}:${r.cidrIpv4 ?? r.cidrIpv6}`).sort()).toEqual(['tcp:443-443:0.0.0.0/0', 'tcp:443-443:::/0']);
    const inst = [...ec2.state.instances.values()].find((i) => i.tags['crawl4ai-mcp:deployment'] === 'journey')!;
    expect(inst.metadataOptions.httpTokens).toBe('required');
    expect(inst.metadataOptions.httpPutResponseHopLimit).toBe(1);
    expect(inst.keyName).toBeUndefined();
    expect(inst.iamInstanceProfile).toBeUndefined();
    expect(inst.instanceType).toBe('t3.large');
    expect(inst.cpuCredits).toBe('standard'); // not EC2's T3 default (unlimited): bursts are never billed
    // After init the cloud's copy of the user data holds no secret; the VM kept its own (first boot).
    const disk = sim.disk(inst.instanceId)!;
    expect(disk.token).toMatch(/^[0-9a-f]{64}$/);
    const userData = await userDataAsTheCloudShowsIt(ec2, inst.instanceId);
    expect(userData).toMatch(/^#cloud-config\n/);
    expect(userData).not.toContain(disk.token);
    expect(userData).not.toMatch(/CRAWL4AI_API_TOKEN|TUNNEL_TOKEN/);
    expect(sim.boots).toBeGreaterThanOrEqual(2);
    expect(cf.scripts()).toContain('crawl4ai-mcp-journey');
    expect(cf.secretsOf('crawl4ai-mcp-journey').sort()).toEqual(['ADMIN_KEY_SHA256', 'BOOTSTRAP_KEY_SHA256', 'CRAWL4AI_API_TOKEN', 'WAKE_AWS_ACCESS_KEY_ID', 'WAKE_AWS_SECRET_ACCESS_KEY']);
    // the wake credential: its user exists under the tool's path; its secret is only in the Worker
    const wakeUser = ec2.iam.users.get('journey-wake');
    expect(wakeUser?.path).toBe('/crawl4ai-mcp/');

    // The state file holds no secret.
    const stateText = fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'journey.json'), 'utf8');
    expect(stateText).not.toMatch(/c4m_[A-Za-z0-9_-]{43}/);
    expect(stateText).not.toContain(SECRET_KEY);
    for (const k of wakeUser!.keys.values()) expect(stateText + init.stdout + init.stderr).not.toContain(k.secretAccessKey);

    const status = await cli(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const st = JSON.parse(status.stdout);
    expect(st.vm.state).toBe('running');
    expect(st.cost.hourlyUsd).toBeCloseTo(0.0832 + (30 * 0.08) / 730 + 0.005, 4); // t3.large running, disk, address
    expect(st.crawl4ai.ok).toBe(true);
    expect(st.crawl4ai.version).toBe('0.9.4');
    // the image the VM reported on its serial console, read with GetConsoleOutput
    expect(st.vm.image).toEqual({ ref: `unclecode/crawl4ai:0.9.4@${simulatedDigest('unclecode/crawl4ai:0.9.4')}` });
    const human = await cli(['status']);
    expect(human.stdout).toContain(`  image: unclecode/crawl4ai:0.9.4@${simulatedDigest('unclecode/crawl4ai:0.9.4')}\n`);
    expect(ec2.requests.some((r) => r.action === 'GetConsoleOutput')).toBe(true);
    // credentials without ec2:GetConsoleOutput (an older policy): status still answers, and says why
    ec2.denyActions(['GetConsoleOutput']);
    try {
      const denied = await cli(['status', '--json']);
      expect(denied.code, denied.stderr).toBe(0);
      expect(JSON.parse(denied.stdout).vm.image).toEqual({ unknown: 'AWS denied ec2:GetConsoleOutput: the credentials lack this permission' });
    } finally {
      ec2.denyActions([]);
    }
    expect(st.worker.ok).toBe(true);
    expect(st.drift).toEqual({ missing: [], unexpected: [] });

    // connect -> a real MCP client call through the deployed Worker to the "VM".
    const connect = await cli(['connect', '--client', 'cursor']);
    const server = JSON.parse(connect.stdout).mcpServers['crawl4ai-journey'];
    const client = new Client({ name: 'journey-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } }));
    const scraped = await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/' } });
    expect(scraped.isError).toBeFalsy();
    expect(JSON.stringify(scraped.content)).toContain('docs');
    await client.close();

    const scale = await cli(['scale', '--size', 'large']);
    expect(scale.code, scale.stderr).toBe(0);
    expect(ec2.state.instances.get(inst.instanceId)!.instanceType).toBe('t3.xlarge');

    // opt in to unlimited CPU credits: in place, no stop; the price of it is said
    const stopsBefore = ec2.requests.filter((r) => r.action === 'StopInstances').length;
    const credits = await cli(['scale', '--cpu-credits', 'unlimited']);
    expect(credits.code, credits.stderr).toBe(0);
    expect(credits.stdout).toMatch(/CPU credits unlimited; bursts are now billed: up to \$87\.60\/month more at 100% CPU/);
    expect(ec2.state.instances.get(inst.instanceId)!.cpuCredits).toBe('unlimited');
    expect(ec2.requests.filter((r) => r.action === 'StopInstances').length).toBe(stopsBefore);
    expect(JSON.parse((await cli(['status', '--json'])).stdout).vm.cpuCredits).toBe('unlimited');

    // idle auto-stop changed on the running deployment: the secret-free user data carries it to
    // the VM (a bootcmd), the VM restarts and is healthy again through the Worker
    const idle = await cli(['scale', '--idle-stop', '30m']);
    expect(idle.code, idle.stderr).toBe(0);
    expect(idle.stdout).toMatch(/idle auto-stop after 30 min without a crawl request; VM running, Crawl4AI healthy through the Worker/);
    const idleUserData = await userDataAsTheCloudShowsIt(ec2, inst.instanceId);
    expect(idleUserData).toContain('s/^IDLE_STOP_MINUTES=.*/IDLE_STOP_MINUTES=30/');
    expect(idleUserData).not.toMatch(/CRAWL4AI_API_TOKEN|TUNNEL_TOKEN/);
    expect(JSON.parse(fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'journey.json'), 'utf8')).outputs.idleStopMinutes).toBe(30);

    const stop = await cli(['stop']);
    expect(stop.code, stop.stderr).toBe(0);
    const stopped = JSON.parse((await cli(['status', '--json'])).stdout);
    expect(stopped.vm.state).toBe('stopped');
    expect(stopped.crawl4ai.ok).toBe(false);
    // The power history feeds the cost so far: running hours stop counting while stopped.
    const stoppedState = JSON.parse(fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'journey.json'), 'utf8'));
    expect(stoppedState.outputs.runningSince).toBeNull();
    expect(stoppedState.outputs.runningHoursBefore).toBeGreaterThan(0);
    expect(stopped.cost.soFarUsd).toBeGreaterThanOrEqual(0);
    // the rate now: stopped, only the disk (30 GiB gp3) and the Elastic IP are billed
    expect(stopped.cost.hourlyUsd).toBeCloseTo((30 * 0.08) / 730 + 0.005, 4);

    const start = await cli(['start']);
    expect(start.code, start.stderr).toBe(0);
    const startedState = JSON.parse(fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'journey.json'), 'utf8'));
    expect(typeof startedState.outputs.runningSince).toBe('string');

    const destroy = await cli(['destroy', '--yes']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(ec2.resourcesOf('journey')).toEqual([]);
    expect(ec2.iam.users.has('journey-wake')).toBe(false);
    expect(cf.scripts()).not.toContain('crawl4ai-mcp-journey');
    expect(fs.existsSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'journey.json'))).toBe(false);
    const after = await cli(['connect']);
    expect(after.code).toBe(5);
  }, 400_000);

  it('destroy after the state file is lost removes every tagged resource, the Worker and the keys', async () => {
    const lost = (args: string[]) => runCli(['--name', 'lost', ...args], { env, timeoutMs: 240_000 });
    const lostSim = startVmSimulator(ec2Instances(ec2, 'lost'), cf);
    try {
      const init = await lost(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public']);
      expect(init.code, init.stderr).toBe(0);
    } finally {
      await lostSim.stop();
    }
    expect(ec2.resourcesOf('lost').length).toBeGreaterThan(0);
    expect(ec2.iam.users.has('lost-wake')).toBe(true);
    fs.rmSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'lost.json'));

    const noHint = await lost(['destroy', '--yes']);
    expect(noHint.code).toBe(2);
    expect(lines(noHint.stderr)[1]).toContain('--provider and --region');

    const destroy = await lost(['destroy', '--yes', '--provider', 'aws', '--region', 'us-east-1']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(ec2.resourcesOf('lost')).toEqual([]);
    expect(ec2.iam.users.has('lost-wake')).toBe(false); // found by path and name, not by the state
    expect(cf.scripts()).not.toContain('crawl4ai-mcp-lost');
    // The deployment's keychain entries went too: a new init would make a fresh API key.
    const secrets = fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'secrets.enc.json'), 'utf8');
    expect(secrets).not.toContain('deployment/lost/');
  }, 300_000);

  it('names the permission a least-privilege user lacks, before creating anything', async () => {
    ec2.denyActions(['RunInstances']);
    try {
      const r = await runCli(['--name', 'denied', 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small'], { env });
      expect(r.code).toBe(3);
      // progress lines (›) may precede it; the failure itself is one error line and one hint
      const err = lines(r.stderr).filter((l) => !l.startsWith('›'));
      expect(err[0]).toMatch(/^error: .*ec2:RunInstances/);
      expect(err[1]).toMatch(/^hint: .*aws-iam-policy\.json/);
      expect(err.length).toBe(2);
      expect(ec2.resourcesOf('denied')).toEqual([]);
      expect(cf.scripts()).not.toContain('crawl4ai-mcp-denied');
    } finally {
      ec2.denyActions([]);
    }
  });

  it('explains how to fix a region without a default VPC', async () => {
    const bare = await startEc2Emulator({ accessKeyId: ACCESS_KEY });
    bare.removeDefaultVpc();
    try {
      const r = await runCli(['--name', 'novpc', 'plan', '--yes', '--provider', 'aws', '--region', 'us-west-2'], {
        env: { ...env, AWS_ENDPOINT_URL_EC2: bare.url, AWS_ENDPOINT_URL_STS: bare.url, AWS_ENDPOINT_URL_IAM: bare.url },
      });
      expect(r.code).toBe(2);
      const err = lines(r.stderr).filter((l) => !l.startsWith('›'));
      expect(err[0]).toContain('no default VPC');
      expect(err[1]).toContain('create-default-vpc --region us-west-2');
    } finally {
      await bare.close();
    }
  });

  it('refuses an unknown size and lists the valid ones', async () => {
    const r = await cli(['scale', '--size', 'huge']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/small=t3\.medium.*medium=t3\.large.*large=t3\.xlarge/s);
  });

  it('an init cut off while clearing the secrets from the user data finishes that on the next run', async () => {
    const scrub = (args: string[]) => runCli(['--name', 'scrub', ...args], { env, timeoutMs: 240_000 });
    const scrubSim = startVmSimulator(ec2Instances(ec2, 'scrub'), cf);
    try {
      // The VM booted healthy and was stopped; then replacing its user data fails (as a crash would leave it).
      ec2.denyActions(['ModifyInstanceAttribute']);
      const first = await scrub(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public']);
      ec2.denyActions([]);
      expect(first.code).toBe(3);
      const state = JSON.parse(fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'scrub.json'), 'utf8'));
      expect(state.status).toBe('provisioning');
      expect(state.outputs.bootstrapScrub).toBe('started');
      const inst = [...ec2.state.instances.values()].find((i) => i.tags['crawl4ai-mcp:deployment'] === 'scrub')!;
      expect(ec2.state.instanceState(inst)).toBe('stopped');
      expect(await userDataAsTheCloudShowsIt(ec2, inst.instanceId)).toContain('CRAWL4AI_API_TOKEN=');

      const second = await scrub(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public', '--json']);
      expect(second.code, second.stderr).toBe(0);
      expect(JSON.parse(second.stdout).status).toBe('ready');
      const userData = await userDataAsTheCloudShowsIt(ec2, inst.instanceId);
      expect(userData).toMatch(/^#cloud-config\n/);
      expect(userData).not.toContain(scrubSim.disk(inst.instanceId)!.token);
      const done = JSON.parse(fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'scrub.json'), 'utf8'));
      expect(done.outputs.bootstrapScrub).toBe('done');
      expect(ec2.resourcesOf('scrub').filter((r) => r.type === 'instance')).toHaveLength(1);

      const destroy = await scrub(['destroy', '--yes']);
      expect(destroy.code, destroy.stderr).toBe(0);
    } finally {
      ec2.denyActions([]);
      await scrubSim.stop();
    }
  }, 300_000);

  it('an init that fails at the Worker deploy resumes on the next run without a second VM', async () => {
    const resume = (args: string[]) => runCli(['--name', 'resume', ...args], { env, timeoutMs: 240_000 });
    const resumeSim = startVmSimulator(ec2Instances(ec2, 'resume'), cf);
    try {
      // Cloudflare refuses the script upload once (as it does for a token without Workers Scripts edit).
      cf.failNext('PUT', /\/workers\/scripts\/crawl4ai-mcp-resume$/, 403, 10000);
      const first = await resume(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public']);
      expect(first.code).toBe(3);
      expect(lines(first.stderr).filter((l) => l.startsWith('error:'))[0]).toMatch(/Cloudflare refused the API token during `wrangler deploy`/);
      const instancesAfterFailure = ec2.resourcesOf('resume').filter((r) => r.type === 'instance');
      expect(instancesAfterFailure).toHaveLength(1);
      const state = JSON.parse(fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'resume.json'), 'utf8'));
      expect(state.status).toBe('provisioning');
      expect(state.resources.find((r: { key: string }) => r.key === 'cloudflare:worker').phase).toBe('intent');

      const second = await resume(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public']);
      expect(second.code, second.stderr).toBe(0);
      expect(ec2.resourcesOf('resume').filter((r) => r.type === 'instance')).toEqual(instancesAfterFailure);

      const destroy = await resume(['destroy', '--yes']);
      expect(destroy.code, destroy.stderr).toBe(0);
      expect(ec2.resourcesOf('resume')).toEqual([]);
    } finally {
      await resumeSim.stop();
    }
  }, 300_000);
});
