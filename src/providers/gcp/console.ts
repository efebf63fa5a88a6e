import type { VmStatus } from '../../model/deployment.js';
import { imageFromConsole, type ConsoleOutput } from '../console.js';
import { callContext, type GcpClients } from './clients.js';
import { CALL_OPTIONS, gcpCall } from './errors.js';
import type { InstanceRef } from './instance.js';

/** int64 fields come back from the REST transport as strings (or Long-like objects). */
const toNumber = (v: unknown): number | undefined => (v === null || v === undefined || v === '' ? undefined : Number(String(v)));

/**
 * instances.getSerialPortOutput, port 1: the console from byte `start` (GCE keeps the last 1 MB;
 * a negative start reads the last |start| bytes). `next` is where the following read continues,
 * which is how `logs --follow` polls without printing a line twice.
 */
export async function readSerialPort(gcp: GcpClients, ref: InstanceRef, start = 0): Promise<ConsoleOutput> {
  const [out] = await gcpCall(callContext(gcp, 'instances.getSerialPortOutput'), () =>
    gcp.instances.getSerialPortOutput({ project: gcp.project, zone: ref.zone, instance: ref.name, port: 1, start }, CALL_OPTIONS),
  );
  const began = toNumber(out.start) ?? start;
  const next = toNumber(out.next);
  return { text: out.contents ?? '', ...(next !== undefined ? { next } : {}), ...(start >= 0 && began > start ? { truncated: true } : {}) };
}

/** The image the VM reports on its serial console (status); a refused or failed read says why. */
export async function runningImage(gcp: GcpClients, ref: InstanceRef): Promise<NonNullable<VmStatus['image']>> {
  try {
    return imageFromConsole((await readSerialPort(gcp, ref, -64 * 1024)).text, '');
  } catch (e) {
    return { unknown: e instanceof Error ? e.message : String(e) };
  }
}
