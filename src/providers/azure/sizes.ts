import { instanceTypes, sizeSpec, type SizeSpec } from '../../pricing/catalog.js';
import type { SizeName } from '../../model/deployment.js';

/** The catalog (src/pricing) is the one source of truth for what each size means on Azure. */
export { otherSizes } from '../../pricing/catalog.js';

export const azureSize = (size: SizeName): SizeSpec => sizeSpec('azure', size);
export const vmSizeOf = (size: SizeName): string => azureSize(size).instanceType;
export const azureVmSizes = (): Record<SizeName, string> => instanceTypes('azure');
