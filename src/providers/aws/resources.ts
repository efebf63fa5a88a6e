/**
 * The AWS resources of one deployment. Each name is both the journal key and the resource kind
 * (a deployment has one of each); discover() reports the same kinds, so journal and tag search
 * can be merged by kind.
 */
export const AWS_RESOURCE = {
  securityGroup: 'aws:security-group',
  instance: 'aws:instance',
  address: 'aws:elastic-ip',
  /** the Worker's wake credential: an IAM user found by path and name (IAM users here are not tagged) */
  wakeUser: 'aws:wake-user',
} as const;
export type AwsResourceKind = (typeof AWS_RESOURCE)[keyof typeof AWS_RESOURCE];
