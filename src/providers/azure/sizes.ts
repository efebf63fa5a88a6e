import { SIZE_NAMES, instanceTypes, sizeSpec, type SizeSpec } from '../../pricing/catalog.js';
import type { SizeName } from '../../model/deployment.js';

/** The catalog (src/pricing) is the one source of truth for what each size means on Azure. */
export const azureSize = (size: SizeName): SizeSpec => sizeSpec('azure', size);
export const vmSizeOf = (size: SizeName): string => azureSize(size).instanceType;
/** The other sizes, suggested when one has no capacity. */
export const otherSizes = (size: SizeName): string[] => SIZE_NAMES.filter((s) => s !== size);
export const azureVmSizes = (): Record<SizeName, string> => instanceTypes('azure');
