export * from './schema.js';
export { StateStore, parseStateFile } from './store.js';
export { withDeploymentLock, readLock, lockPath, type LockInfo } from './lock.js';
export { Journal, type IntendOptions, type Meta, type MetaValue } from './journal.js';
