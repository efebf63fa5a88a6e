import { instanceTypes, sizeSpec, type SizeSpec } from '../../pricing/catalog.js';
import type { SizeName } from '../../model/deployment.js';

/** The catalog (src/pricing) is the one source of truth for what each size means on AWS. */
export { otherSizes } from '../../pricing/catalog.js';

/** An unknown size is a usage error (exit 2) listing the valid ones. */
export const awsSize = (size: SizeName): SizeSpec => sizeSpec('aws', size);

export const instanceTypeOf = (size: SizeName): string => awsSize(size).instanceType;

export const awsInstanceTypes = (): Record<SizeName, string> => instanceTypes('aws');
