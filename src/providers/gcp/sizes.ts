import { SIZES, sizeSpec, type SizeSpec } from '../../pricing/catalog.js';
import type { SizeName } from '../../model/deployment.js';

/** The catalog (src/pricing) is the one source of truth for what each size means on GCP. */
const SIZE_NAMES = Object.keys(SIZES.gcp) as SizeName[];

export const gcpSize = (size: SizeName): SizeSpec => sizeSpec('gcp', size);
export const machineTypeOf = (size: SizeName): string => gcpSize(size).instanceType;
/** The other sizes, suggested when one has no capacity. */
export const otherSizes = (size: SizeName): string[] => SIZE_NAMES.filter((s) => s !== size);
export const gcpMachineTypes = (): Record<SizeName, string> =>
  Object.fromEntries(SIZE_NAMES.map((s) => [s, machineTypeOf(s)])) as Record<SizeName, string>;
