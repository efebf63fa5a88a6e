import { usageError } from '../ground/errors.js';

/**
 * Account names are the keys of the secret store (see keys.ts). Names starting with "__" are
 * reserved for the store's own bookkeeping (keychain index, probe entries).
 */
export function assertAccount(account: string): void {
  if (typeof account !== 'string' || account.length === 0 || account.length > 200) {
    throw usageError(`invalid secret name ${JSON.stringify(account)}`, 'secret names are 1-200 characters');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(account) || account.startsWith('__')) {
    throw usageError(`invalid secret name ${JSON.stringify(account)}`, 'no control characters and no leading "__"');
  }
}

/**
 * A prefix selects a namespace: "" (everything) or a string ending in "/", e.g. deploymentPrefix(name).
 * Requiring the trailing slash keeps "deployment/prod" from also matching "deployment/prod-2/...".
 */
export function assertPrefix(prefix: string, allowEmpty: boolean): void {
  if (prefix === '' ? !allowEmpty : !prefix.endsWith('/')) {
    throw usageError(
      `invalid secret prefix ${JSON.stringify(prefix)}`,
      allowEmpty ? 'a prefix is "" or ends with "/", e.g. deploymentPrefix(name)' : 'a prefix ends with "/", e.g. deploymentPrefix(name)',
    );
  }
}

export const isInternalAccount = (account: string) => account.startsWith('__');
