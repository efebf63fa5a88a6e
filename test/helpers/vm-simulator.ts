import { startCrawl4aiEmulator, type Crawl4aiEmulator } from '../emulators/crawl4ai/index.ts';
import type { CloudflareEmulator } from '../emulators/cloudflare/index.ts';

/**
 * No VM boots here, so this stands in for one: it watches a cloud emulator, and when the
 * deployment's instance is running it "boots" it by reading the instance's user data the way
 * cloud-init would (the Crawl4AI token from the 0600 env file, the hostname from the Caddyfile),
 * starts a Crawl4AI emulator with that token, and routes the hostname to it in the Cloudflare
 * emulator's edge — as the internet would reach the VM's Caddy. When the instance stops, the
 * "VM" goes away (the edge then answers 521/530, as in production).
 */
export interface SimulatedInstance {
  id: string;
  running: boolean;
  userData?: string;
  publicIp?: string;
}

export interface VmSimulator {
  /** the Crawl4AI stand-in of the currently running instance */
  current(): Crawl4aiEmulator | null;
  hostname(): string | null;
  boots: number;
  stop(): Promise<void>;
}

export function readBootstrap(userData: string): { token: string; hostname: string | null } {
  const token = /CRAWL4AI_API_TOKEN=([0-9a-f]{64})/.exec(userData)?.[1];
  if (!token) throw new Error('user data carries no CRAWL4AI_API_TOKEN');
  const host = /\b((?:\d{1,3}-){3}\d{1,3}\.(?:sslip|nip)\.io)\b/.exec(userData)?.[1] ?? null;
  return { token, hostname: host };
}

export function startVmSimulator(list: () => SimulatedInstance[], cf: CloudflareEmulator, intervalMs = 100): VmSimulator {
  let running: { id: string; emu: Crawl4aiEmulator; hostname: string } | null = null;
  let busy = false;
  const sim: VmSimulator = {
    boots: 0,
    current: () => running?.emu ?? null,
    hostname: () => running?.hostname ?? null,
    stop: async () => {
      clearInterval(timer);
      await halt();
    },
  };
  async function halt() {
    if (!running) return;
    cf.setHost(running.hostname, null);
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
        const boot = readBootstrap(inst.userData!);
        const hostname = boot.hostname ?? inst.publicIp;
        if (!hostname) return;
        const emu = await startCrawl4aiEmulator({ token: boot.token });
        cf.setHost(hostname, emu.url);
        running = { id: inst.id, emu, hostname };
        sim.boots++;
      }
    } finally {
      busy = false;
    }
  }
  const timer = setInterval(() => void tick(), intervalMs);
  return sim;
}
