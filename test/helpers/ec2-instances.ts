import { DescribeImagesCommand, RunInstancesCommand, waitUntilInstanceRunning, type EC2Client } from '@aws-sdk/client-ec2';
import { CANONICAL_OWNER } from '../emulators/ec2/index.js';

/** Launches a running instance tagged as deployment `deployment`'s (the tags the wake credential's policy is conditioned on). */
export async function launchDeploymentInstance(client: () => EC2Client, deployment: string): Promise<string> {
  const { Images = [] } = await client().send(new DescribeImagesCommand({ Owners: [CANONICAL_OWNER], Filters: [{ Name: 'architecture', Values: ['x86_64'] }] }));
  const out = await client().send(
    new RunInstancesCommand({
      ImageId: Images[0]!.ImageId!,
      InstanceType: 't3.medium',
      MinCount: 1,
      MaxCount: 1,
      MetadataOptions: { HttpTokens: 'required' },
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'crawl4ai-mcp:deployment', Value: deployment }, { Key: 'managed-by', Value: 'crawl4ai-mcp' }] }],
    }),
  );
  const id = out.Instances![0]!.InstanceId!;
  await waitUntilInstanceRunning({ client: client(), minDelay: 1, maxDelay: 1, maxWaitTime: 20 }, { InstanceIds: [id] });
  return id;
}
