import { instanceTypes, sizeSpec, type SizeSpec } from '../../pricing/catalog.js';
import type { SizeName } from '../../model/deployment.js';

/** The catalog (src/pricing) is the one source of truth for what each size means on GCP. */
export { otherSizes } from '../../pricing/catalog.js';

export const gcpSize = (size: SizeName): SizeSpec => sizeSpec('gcp', size);
export const machineTypeOf = (size: SizeName): string => gcpSize(size).instanceType;
export const gcpMachineTypes = (): Record<SizeName, string> => instanceTypes('gcp');
