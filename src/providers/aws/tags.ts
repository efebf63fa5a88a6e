import type { Filter, ResourceType, Tag, TagSpecification } from '@aws-sdk/client-ec2';
import { MANAGED_BY, TAG_DEPLOYMENT, TAG_MANAGED_BY } from '../../model/deployment.js';

/** `crawl4ai-mcp-<deployment>`: the Name tag and security group name of every resource. */
export const resourceName = (deployment: string) => `crawl4ai-mcp-${deployment}`;

export function deploymentTags(deployment: string): Tag[] {
  return [
    { Key: TAG_DEPLOYMENT, Value: deployment },
    { Key: TAG_MANAGED_BY, Value: MANAGED_BY },
    { Key: 'Name', Value: resourceName(deployment) },
  ];
}

/** Tags applied atomically by the create call itself, so nothing ever exists untagged. */
export function tagSpecifications(deployment: string, ...types: ResourceType[]): TagSpecification[] {
  return types.map((ResourceType) => ({ ResourceType, Tags: deploymentTags(deployment) }));
}

/** Filters matching exactly the resources this tool created for `deployment`. */
export function deploymentFilters(deployment: string): Filter[] {
  return [
    { Name: `tag:${TAG_DEPLOYMENT}`, Values: [deployment] },
    { Name: `tag:${TAG_MANAGED_BY}`, Values: [MANAGED_BY] },
  ];
}
