/** Reading EC2 Query parameters (`Filter.1.Name`, `TagSpecification.1.Tag.2.Key`, …). */
import { Ec2Error, invalidValue, missing } from './errors.js';

export class Params {
  constructor(
    readonly raw: Record<string, string>,
    readonly prefix = '',
  ) {}

  /** The full wire name of a member, for error messages. */
  name(key: string): string {
    return this.prefix + key;
  }

  get(key: string): string | undefined {
    return this.raw[this.prefix + key];
  }

  has(key: string): boolean {
    const full = this.prefix + key;
    if (full in this.raw) return true;
    const dotted = full + '.';
    return Object.keys(this.raw).some((k) => k.startsWith(dotted));
  }

  req(key: string): string {
    const v = this.get(key);
    if (v === undefined || v === '') throw missing(this.prefix + key);
    return v;
  }

  int(key: string, range?: { min?: number; max?: number }): number | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw invalidValue(this.prefix + key, v, 'Expected an integer.');
    const n = Number(v);
    if (range?.min !== undefined && n < range.min) throw invalidValue(this.prefix + key, v, `Expecting a value greater than or equal to ${range.min}.`);
    if (range?.max !== undefined && n > range.max) throw invalidValue(this.prefix + key, v, `Expecting a value less than or equal to ${range.max}.`);
    return n;
  }

  bool(key: string): boolean | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw invalidValue(this.prefix + key, v, 'Expected a boolean (true|false).');
  }

  private indices(key: string, structured: boolean): number[] {
    const base = this.prefix + key + '.';
    const out = new Set<number>();
    for (const k of Object.keys(this.raw)) {
      if (!k.startsWith(base)) continue;
      const rest = k.slice(base.length);
      const m = structured ? /^(\d+)\./.exec(rest) : /^(\d+)$/.exec(rest);
      if (m) out.add(Number(m[1]));
    }
    return [...out].sort((a, b) => a - b);
  }

  /** `Key.1`, `Key.2`, … in index order. */
  list(key: string): string[] {
    return this.indices(key, false).map((i) => this.raw[`${this.prefix}${key}.${i}`]!);
  }

  /** `Key.1.*`, `Key.2.*`, … as nested Params. */
  structs(key: string): Params[] {
    return this.indices(key, true).map((i) => new Params(this.raw, `${this.prefix}${key}.${i}.`));
  }

  /** `Key.*` as a nested Params (for structure members like `MetadataOptions.HttpTokens`). */
  sub(key: string): Params {
    return new Params(this.raw, `${this.prefix}${key}.`);
  }
}

export interface Filter {
  name: string;
  values: string[];
}

export function readFilters(p: Params): Filter[] {
  return p.structs('Filter').map((f) => {
    const name = f.get('Name');
    if (!name) throw missing(f.name('Name'));
    const values = f.list('Value');
    if (values.length === 0) throw new Ec2Error('InvalidParameterValue', `The filter '${name}' must have at least one value`);
    return { name, values };
  });
}

/** Tag keys/values as EC2 validates them. */
export function validateTag(key: string | undefined, value: string | undefined, where: string): void {
  if (key === undefined || key === '') throw missing(`${where}.Key`);
  if (key.length > 128) throw new Ec2Error('InvalidParameterValue', `Tag key exceeds the maximum length of 128 characters`);
  if ((value ?? '').length > 256) throw new Ec2Error('InvalidParameterValue', `Tag value exceeds the maximum length of 256 characters`);
  if (key.toLowerCase().startsWith('aws:')) throw new Ec2Error('InvalidParameterValue', `Value ( ${key} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use`);
}

export function readTags(p: Params, key = 'Tag'): Record<string, string> {
  const out: Record<string, string> = {};
  const structs = p.structs(key);
  if (structs.length > 50) throw new Ec2Error('TagLimitExceeded', 'The maximum number of Tags for a resource has been reached.');
  for (const t of structs) {
    const k = t.get('Key');
    const v = t.get('Value') ?? '';
    validateTag(k, v, t.prefix.slice(0, -1));
    if (k! in out) throw new Ec2Error('InvalidParameterValue', `Duplicate tag key '${k}' specified.`);
    out[k!] = v;
  }
  return out;
}

/** TagSpecification.N → map of resource type → tags, rejecting types this action cannot tag. */
export function readTagSpecs(p: Params, allowed: string[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const spec of p.structs('TagSpecification')) {
    const type = spec.get('ResourceType');
    if (!type) throw missing(spec.name('ResourceType'));
    if (!allowed.includes(type)) throw new Ec2Error('InvalidParameterValue', `'${type}' is not a valid taggable resource type for this operation.`);
    if (out.has(type)) throw new Ec2Error('InvalidParameterValue', 'The same resource type may not be specified more than once in tag specifications');
    out.set(type, readTags(spec, 'Tag'));
  }
  return out;
}

/** `*` matches any run of characters, `?` exactly one (EC2 filter wildcards); `\` escapes. */
export function globMatch(pattern: string, value: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$').test(value);
}

/** Accessors: filter name → the values of an item it compares against (undefined = no value). */
export type FilterSpec<T> = Record<string, (item: T) => Array<string | number | boolean | undefined> | string | number | boolean | undefined>;

/**
 * Applies EC2 filters: values within one filter are ORed, filters are ANDed; `tag:Key`, `tag-key`,
 * `tag-value` work on every item that has `tags`. Unknown filter names fail like real EC2.
 */
export function applyFilters<T extends object>(list: T[], filters: Filter[], spec: FilterSpec<T>): T[] {
  for (const f of filters) {
    if (!(f.name in spec) && !f.name.startsWith('tag:') && f.name !== 'tag-key' && f.name !== 'tag-value') {
      throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
    }
  }
  return list.filter((item) => {
    const tags = (item as { tags?: Record<string, string> }).tags;
    return filters.every((f) => {
      let actual: Array<string | number | boolean | undefined>;
      if (f.name.startsWith('tag:') && !(f.name in spec)) {
        const k = f.name.slice(4);
        actual = tags && k in tags ? [tags[k]] : [];
      } else if (f.name === 'tag-key' && !(f.name in spec)) actual = Object.keys(tags ?? {});
      else if (f.name === 'tag-value' && !(f.name in spec)) actual = Object.values(tags ?? {});
      else {
        const v = spec[f.name]!(item);
        actual = Array.isArray(v) ? v : [v];
      }
      return actual.some((a) => a !== undefined && f.values.some((want) => globMatch(want, String(a))));
    });
  });
}
