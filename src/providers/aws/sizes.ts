import { SIZES, sizeSpec, type SizeSpec } from '../../pricing/catalog.js';
import type { SizeName } from '../../model/deployment.js';

/** The catalog (src/pricing) is the one source of truth for what each size means on AWS. */
const SIZE_NAMES = Object.keys(SIZES.aws) as SizeName[];

/** An unknown size is a usage error (exit 2) listing the valid ones. */
export const awsSize = (size: SizeName): SizeSpec => sizeSpec('aws', size);

export const instanceTypeOf = (size: SizeName): string => awsSize(size).instanceType;

/** The other sizes, suggested when one has no capacity. */
export const otherSizes = (size: SizeName): string[] => SIZE_NAMES.filter((s) => s !== size);

export const awsInstanceTypes = (): Record<SizeName, string> =>
  Object.fromEntries(SIZE_NAMES.map((s) => [s, instanceTypeOf(s)])) as Record<SizeName, string>;
