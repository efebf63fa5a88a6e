/**
 * The AWS resources of one deployment. Each name is both the journal key and the resource kind
 * (a deployment has one of each); discover() reports the same kinds, so journal and tag search
 * can be merged by kind.
 */
export const AWS_RESOURCE = {
  securityGroup: 'aws:security-group',
  instance: 'aws:instance',
  address: 'aws:elastic-ip',
} as const;
export type AwsResourceKind = (typeof AWS_RESOURCE)[keyof typeof AWS_RESOURCE];
