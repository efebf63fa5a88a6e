import { CreateTagsCommand, DeleteTagsCommand } from './sdk.js';
import { HOLD_TAG } from '../../model/deployment.js';
import type { AwsClients } from './clients.js';
import { awsCall } from './errors.js';
import { describeInstance, isHeld } from './instance.js';

/**
 * `stop --hold`: the hold tag on the instance (its value: when). The wake credential's policy
 * refuses StartInstances on an instance carrying it, and the Worker reads it and says so. Only
 * touched when it has to change, so `start` on an instance never held needs no tag permission
 * (credentials from before this statement keep working).
 */
export async function setHold(aws: AwsClients, instanceId: string, hold: boolean): Promise<void> {
  const held = isHeld((await describeInstance(aws, instanceId))?.Tags);
  if (held === hold) return;
  if (hold) {
    await awsCall({ action: 'CreateTags', region: aws.region }, () =>
      aws.ec2.send(new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: HOLD_TAG, Value: new Date().toISOString() }] })),
    );
  } else {
    await awsCall({ action: 'DeleteTags', region: aws.region }, () => aws.ec2.send(new DeleteTagsCommand({ Resources: [instanceId], Tags: [{ Key: HOLD_TAG }] })));
  }
}
