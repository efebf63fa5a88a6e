import type { VmStatus } from '../../model/deployment.js';
import { imageFromConsole, type ConsoleOutput } from '../console.js';
import type { AwsClients } from './clients.js';
import { awsCall, toCliError } from './errors.js';

/**
 * EC2 GetConsoleOutput: the instance's serial console, the most recent 64 KB (Latest=true asks
 * Nitro instances for the current output instead of the snapshot taken at boot/stop). EC2 has
 * no offsets, so `next` stays undefined and a follower compares windows.
 */
export async function readConsole(aws: AwsClients, instanceId: string): Promise<ConsoleOutput> {
  const out = await awsCall({ action: 'GetConsoleOutput', region: aws.region }, () =>
    aws.reads.getConsoleOutput({ InstanceId: instanceId, Latest: true }),
  );
  return { text: out.Output ? Buffer.from(out.Output, 'base64').toString('utf8') : '' };
}

/**
 * The Crawl4AI image the VM runs, from the line crawl4ai-run.sh prints to the serial console at
 * each start. EC2 posts console output some minutes after boot, so it is often absent at first:
 * then, or when the call is refused, the answer says why instead of failing `status`.
 */
export async function runningImage(aws: AwsClients, instanceId: string): Promise<NonNullable<VmStatus['image']>> {
  try {
    return imageFromConsole((await readConsole(aws, instanceId)).text, 'EC2 posts it a few minutes after boot');
  } catch (e) {
    return { unknown: toCliError(e, { action: 'GetConsoleOutput', region: aws.region }).message };
  }
}
