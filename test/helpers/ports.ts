import net from 'node:net';

/**
 * A free port below Linux's ephemeral range (32768-60999), for a child (wrangler dev) that must be
 * told its port: a port the kernel handed out with listen(0) is also handed to outgoing
 * connections, so on a busy machine another process can take it between this check and the bind.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return p;
  }
}
