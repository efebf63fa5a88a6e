// The Azure set-up the README asks of the user, done to the ARM emulator: the shared roles
// "crawl4ai-mcp self-deallocate" and "crawl4ai-mcp wake" from their templates (as `az role
// definition create` would), and the deployer's ABAC condition from its template with those
// roles' ids filled in.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AzureEmulator } from '../emulators/azure/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SELF_DEALLOCATE_TEMPLATE = 'templates/policies/azure-self-deallocate-role.json';
export const WAKE_TEMPLATE = 'templates/policies/azure-wake-role.json';
export const WAKE_IDENTITIES_TEMPLATE = 'templates/policies/azure-wake-identities-role.json';
export const WAKE_GROUP = 'crawl4ai-mcp_wake';
export const DEPLOYER_CONDITION_TEMPLATE = 'templates/policies/azure-deployer-condition.txt';

/** `az role definition create --role-definition @<template>`; returns the role's GUID. */
function createRole(emu: AzureEmulator, template: string): string {
  const t = roleTemplate(emu, template);
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

export function roleTemplate(emu: AzureEmulator, template: string) {
  return JSON.parse(fs.readFileSync(path.join(ROOT, template), 'utf8').replaceAll('{subscriptionId}', emu.subscriptionId)) as {
    Name: string;
    Description: string;
    Actions: string[];
    NotActions: string[];
    DataActions: string[];
    NotDataActions: string[];
    AssignableScopes: string[];
  };
}

export const createSelfDeallocateRole = (emu: AzureEmulator): string => createRole(emu, SELF_DEALLOCATE_TEMPLATE);
export const createWakeRole = (emu: AzureEmulator): string => createRole(emu, WAKE_TEMPLATE);

/**
 * The README's wake on request set-up: the role "crawl4ai-mcp wake", the resource group
 * crawl4ai-mcp_wake, and the role "crawl4ai-mcp wake identities" assigned to the installer on that
 * group only (its Microsoft.ManagedIdentity actions hold there and nowhere else). Returns the wake
 * role's GUID, for the deployer's condition.
 */
export function setUpWake(emu: AzureEmulator, location = 'eastus'): string {
  const wake = createWakeRole(emu);
  const scope = `/subscriptions/${emu.subscriptionId}/resourceGroups/${WAKE_GROUP}`;
  emu.state.groups.set(WAKE_GROUP.toLowerCase(), { id: scope, name: WAKE_GROUP, location, tags: {}, provisioningState: 'Succeeded' });
  const ids = roleTemplate(emu, WAKE_IDENTITIES_TEMPLATE);
  createRole(emu, WAKE_IDENTITIES_TEMPLATE);
  emu.grantOnlyUnder(ids.Actions, scope);
  return wake;
}

/**
 * The condition the README puts on the deployer's role assignment, for the self-deallocate role
 * and the wake role. Without a wake role id, one that names no role in this subscription (a set-up
 * whose wake role was never created or was deleted).
 */
export function deployerCondition(selfDeallocateGuid: string, wakeGuid: string = randomUUID()): string {
  return fs.readFileSync(path.join(ROOT, DEPLOYER_CONDITION_TEMPLATE), 'utf8').replaceAll('{selfDeallocateRoleId}', selfDeallocateGuid).replaceAll('{wakeRoleId}', wakeGuid);
}

/** The deployer's condition as it was before wake on request: the self-deallocate role only. */
export function selfDeallocateOnlyCondition(selfDeallocateGuid: string): string {
  return deployerCondition(selfDeallocateGuid, selfDeallocateGuid).replaceAll(`{${selfDeallocateGuid}, ${selfDeallocateGuid}}`, `{${selfDeallocateGuid}}`);
}
