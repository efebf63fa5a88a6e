import { createHash } from 'node:crypto';
import { startCrawl4aiEmulator, type Crawl4aiEmulator } from '../emulators/crawl4ai/index.ts';
import type { CloudflareEmulator } from '../emulators/cloudflare/index.ts';

/**
 * No VM boots here, so this stands in for one: it watches a cloud emulator, and when the
 * deployment's instance is running it "boots" it by reading the instance's user data the way
 * cloud-init would (the Crawl4AI token from the 0600 env file, the hostname from the Caddyfile),
 * starts a Crawl4AI emulator with that token, and routes the hostname to it in the Cloudflare
 * emulator's edge — as the internet would reach the VM's Caddy. In tunnel mode it plays
 * cloudflared instead: it reads the connector token from the 0600 env file and registers a
 * connector for that tunnel. When the instance stops, the "VM" goes away (the edge then answers
 * 521/530, or the tunnel loses its connector, as in production).
 * Like a real disk, it keeps what the first boot of an instance wrote (cloud-init's write_files
 * run once per instance): a later boot uses those secrets even if the user data was replaced
 * since, and an instance whose first user data held no token never comes up.
 */
export interface SimulatedInstance {
  id: string;
  running: boolean;
  userData?: string;
  publicIp?: string;
  /** writes to the instance's serial console (what the cloud's console-output API returns) */
  console?(text: string): void;
}

export interface VmSimulator {
  /** the Crawl4AI stand-in of the currently running instance */
  current(): Crawl4aiEmulator | null;
  hostname(): string | null;
  boots: number;
  /** what the first boot of this instance read from its user data (its "disk"), if it booted */
  disk(instanceId: string): Bootstrap | undefined;
  stop(): Promise<void>;
}

export interface Bootstrap {
  token: string;
  hostname: string | null;
  tunnelId: string | null;
  tunnelToken: string | null;
  /** CRAWL4AI_IMAGE of settings.env */
  image: string | null;
}

export function readBootstrap(userData: string): Bootstrap {
  const token = /CRAWL4AI_API_TOKEN=([0-9a-f]{64})/.exec(userData)?.[1];
  if (!token) throw new Error('user data carries no CRAWL4AI_API_TOKEN');
  const host = /\b((?:\d{1,3}-){3}\d{1,3}\.(?:sslip|nip)\.io|[a-z0-9-]+\.[a-z0-9]+\.cloudapp\.azure\.com)\b/.exec(userData)?.[1] ?? null;
  // cloudflared's connector token: base64 of {"a": account, "t": tunnel id, "s": secret}
  const tunnelToken = /TUNNEL_TOKEN=(\S+)/.exec(userData)?.[1];
  const tunnelId = tunnelToken ? (JSON.parse(Buffer.from(tunnelToken, 'base64').toString('utf8')) as { t: string }).t : null;
  const image = /^\s*CRAWL4AI_IMAGE=(\S+)$/m.exec(userData)?.[1] ?? null;
  return { token, hostname: host, tunnelId, tunnelToken: tunnelToken ?? null, image };
}

/** The digest the simulated VM reports for an image: sha256 of its name, so tests can predict it. */
export function simulatedDigest(image: string): string {
  return `sha256:${createHash('sha256').update(image).digest('hex')}`;
}

export function startVmSimulator(list: () => SimulatedInstance[], cf: CloudflareEmulator, intervalMs = 100): VmSimulator {
  let running: { id: string; emu: Crawl4aiEmulator; hostname: string | null; tunnelId: string | null } | null = null;
  let busy = false;
  const disks = new Map<string, Bootstrap>();
  const sim: VmSimulator = {
    boots: 0,
    disk: (id) => disks.get(id),
    current: () => running?.emu ?? null,
    hostname: () => running?.hostname ?? null,
    stop: async () => {
      clearInterval(timer);
      await halt();
    },
  };
  async function halt() {
    if (!running) return;
    if (running.hostname) cf.setHost(running.hostname, null);
    if (running.tunnelId) cf.disconnectTunnel(running.tunnelId);
    await running.emu.close();
    running = null;
  }
  async function tick() {
    if (busy) return;
    busy = true;
    try {
      const inst = list().find((i) => i.running && i.userData);
      if (running && (!inst || inst.id !== running.id)) await halt();
      if (inst && !running) {
        let boot = disks.get(inst.id);
        if (!boot) {
          if (!/CRAWL4AI_API_TOKEN=/.test(inst.userData!)) return; // nothing to boot from
          boot = readBootstrap(inst.userData!);
          disks.set(inst.id, boot);
        }
        const hostname = boot.tunnelId ? null : (boot.hostname ?? inst.publicIp ?? null);
        if (!boot.tunnelId && !hostname) return;
        const emu = await startCrawl4aiEmulator({ token: boot.token });
        if (boot.tunnelId) cf.connectTunnel(boot.tunnelId, emu.url);
        else cf.setHost(hostname!, emu.url);
        running = { id: inst.id, emu, hostname, tunnelId: boot.tunnelId };
        sim.boots++;
        // crawl4ai-run.sh's line at each start (a stand-in digest, fixed per image)
        if (boot.image) inst.console?.(`[   42.000000] crawl4ai-mcp: image ${boot.image} digest ${simulatedDigest(boot.image)}\r\n`);
      }
    } finally {
      busy = false;
    }
  }
  const timer = setInterval(() => void tick(), intervalMs);
  return sim;
}
