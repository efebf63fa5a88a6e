/**
 * Network latency for the emulators: a loopback TCP proxy that holds every chunk, both ways, for
 * half the round trip. It sits in front of any emulator (http or https: it never reads the bytes),
 * so a TLS handshake pays its round trips too, as over a real network. Used by bench/ to time
 * init against clouds that answer in tens of milliseconds instead of microseconds.
 */
import net from 'node:net';

export interface LatencyProxy {
  /** the target URL with the proxy's port */
  url: string;
  close(): Promise<void>;
}

export async function startLatencyProxy(target: string, rttMs: number): Promise<LatencyProxy> {
  const t = new URL(target);
  const port = Number(t.port || (t.protocol === 'https:' ? 443 : 80));
  const oneWay = rttMs / 2;
  const sockets = new Set<net.Socket>();
  // Timers of equal delay fire in the order they were set, so chunks keep their order.
  const forward = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), oneWay));
    from.on('end', () => setTimeout(() => to.end(), oneWay));
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), oneWay));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, t.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const u = new URL(target);
  u.port = String((server.address() as net.AddressInfo).port);
  return {
    url: u.toString().replace(/\/$/, target.endsWith('/') ? '/' : ''),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
