// The Azure set-up the README asks of the user, done to the ARM emulator: the shared role
// "crawl4ai-mcp self-deallocate" from its template (as `az role definition create` would), and the
// deployer's ABAC condition from its template with that role's id filled in.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AzureEmulator } from '../emulators/azure/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SELF_DEALLOCATE_TEMPLATE = 'templates/policies/azure-self-deallocate-role.json';
export const DEPLOYER_CONDITION_TEMPLATE = 'templates/policies/azure-deployer-condition.txt';

/** `az role definition create --role-definition @azure-self-deallocate-role.json`; returns the role's GUID. */
export function createSelfDeallocateRole(emu: AzureEmulator): string {
  const t = JSON.parse(fs.readFileSync(path.join(ROOT, SELF_DEALLOCATE_TEMPLATE), 'utf8').replaceAll('{subscriptionId}', emu.subscriptionId)) as {
    Name: string;
    Description: string;
    Actions: string[];
    NotActions: string[];
    DataActions: string[];
    NotDataActions: string[];
    AssignableScopes: string[];
  };
  const name = randomUUID();
  emu.state.roleDefinitions.set(name, {
    name,
    roleName: t.Name,
    description: t.Description,
    permissions: [{ actions: t.Actions, notActions: t.NotActions, dataActions: t.DataActions, notDataActions: t.NotDataActions }],
    assignableScopes: t.AssignableScopes,
    createdOn: new Date().toISOString(),
  });
  return name;
}

/** The condition the README puts on the deployer's role assignment, for the role `roleGuid`. */
export function deployerCondition(roleGuid: string): string {
  return fs.readFileSync(path.join(ROOT, DEPLOYER_CONDITION_TEMPLATE), 'utf8').replaceAll('{selfDeallocateRoleId}', roleGuid);
}
