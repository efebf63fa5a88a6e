/**
 * ARM handlers: resource groups, network and compute resources, long-running operations, paging.
 * Each handler gets the parsed request and answers { status, body, headers } or throws an ArmError.
 */
import { randomUUID } from 'node:crypto';
import { ArmError, IMAGES, LOCATIONS, TYPES, VM_SIZES, type ArmResource, type ArmState, type PowerState, type RoleAssignment, type RoleDefinition } from './model.js';

export interface ArmRequest {
  method: string;
  /** path without the query, original casing */
  path: string;
  query: URLSearchParams;
  body: any;
}

export interface ArmResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ArmFaults {
  /** ARM actions (Microsoft.Compute/virtualMachines/write) answered 403 AuthorizationFailed and missing from the permissions API */
  denied: Set<string>;
  /** VM sizes with no capacity: create answers 409 SkuNotAvailable, start fails with AllocationFailed */
  noCapacity: Set<string>;
  /** VM sizes whose create is accepted (201) but whose operation then fails with AllocationFailed, leaving the VM in Failed state */
  allocationFails: Set<string>;
  /** locations where Microsoft.Network offers no virtualNetworks to the subscription */
  noNetworkIn: Set<string>;
  /** actions (patterns) the installer holds only at or under a scope (a role assigned on one resource group) */
  scoped?: Array<{ pattern: string; scope: string }>;
}

export interface ArmOptions {
  baseUrl: () => string;
  /** how long an LRO stays InProgress */
  lroMs: number;
  /** Retry-After (seconds) sent on 201/202 answers and operation polls */
  retryAfterSeconds: number;
  /** items per page before nextLink */
  pageSize: number;
  principalId: string;
  tenantId: string;
  /** how long a new managed identity's service principal is unknown to role assignments (Entra replication) */
  principalReplicationMs: number;
  /** a read-only SAS URL (on the emulator's blob endpoint) of a boot diagnostics blob, valid until `expires` */
  blobSas(path: string, expires: Date): string;
}

const json = (status: number, body?: unknown, headers?: Record<string, string>): ArmResponse => ({ status, body, headers });

function notFound(type: string, name: string, group: string): ArmError {
  return new ArmError(404, 'ResourceNotFound', `The Resource '${type}/${name}' under resource group '${group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
}

/** The ARM action a request needs (for AuthorizationFailed and the permissions API). */
export function actionOf(method: string, type: string, sub?: string): string {
  if (sub) return `${type}/${sub}/action`;
  return `${type}/${method === 'GET' || method === 'HEAD' ? 'read' : method === 'DELETE' ? 'delete' : 'write'}`;
}

/** Does one permission pattern ("*", "Microsoft.Compute/*", "*\/read") grant the action? */
function matches(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`, 'i');
  return re.test(action);
}

export function createArm(state: ArmState, faults: ArmFaults, opts: ArmOptions) {
  const sub = state.subscriptionId;
  const now = () => Date.now();

  /** Registers an LRO and the headers that announce it (201/202 + Azure-AsyncOperation or Location). */
  function startOperation(complete: () => void, style: 'async' | 'location'): Record<string, string> {
    const id = randomUUID();
    state.operations.set(id, { id, doneAt: now() + opts.lroMs, status: 'InProgress', complete });
    const base = opts.baseUrl();
    const headers: Record<string, string> = { 'Retry-After': String(opts.retryAfterSeconds) };
    if (style === 'async') headers['Azure-AsyncOperation'] = `${base}/subscriptions/${sub}/providers/Microsoft.Emulator/locations/eastus/operations/${id}?api-version=2024-01-01`;
    else headers.Location = `${base}/subscriptions/${sub}/providers/Microsoft.Emulator/locations/eastus/operationResults/${id}?api-version=2024-01-01`;
    return headers;
  }

  function operationStatus(id: string, kind: 'operations' | 'operationResults'): ArmResponse {
    state.tick(now());
    const op = state.operations.get(id);
    if (!op) throw new ArmError(404, 'OperationNotFound', `operation ${id} not found`);
    if (kind === 'operations') {
      const body: Record<string, unknown> = { name: id, status: op.status, startTime: new Date().toISOString() };
      if (op.error) body.error = op.error;
      return json(200, body, op.status === 'InProgress' ? { 'Retry-After': String(opts.retryAfterSeconds) } : undefined);
    }
    if (op.status === 'InProgress') return json(202, undefined, { Location: `${opts.baseUrl()}/subscriptions/${sub}/providers/Microsoft.Emulator/locations/eastus/operationResults/${id}?api-version=2024-01-01`, 'Retry-After': String(opts.retryAfterSeconds) });
    if (op.status === 'Failed') return json(400, { error: op.error });
    return json(200); // done (the SDK's pollers expect 200 here, as ARM answers)
  }

  /** One page of `items` and a nextLink when more remain ($skiptoken is the offset). */
  function page(items: unknown[], req: ArmRequest): ArmResponse {
    const start = Number(req.query.get('$skiptoken') ?? 0);
    const slice = items.slice(start, start + opts.pageSize);
    const body: Record<string, unknown> = { value: slice };
    if (start + opts.pageSize < items.length) {
      const q = new URLSearchParams(req.query);
      q.set('$skiptoken', String(start + opts.pageSize));
      body.nextLink = `${opts.baseUrl()}${req.path}?${q.toString()}`;
    }
    return json(200, body);
  }

  /** `tagName eq 'k' and tagValue eq 'v'`, the one filter shape ARM allows for tags. */
  function tagFilter(req: ArmRequest): ((tags: Record<string, string>) => boolean) | undefined {
    const f = req.query.get('$filter');
    if (!f) return undefined;
    const m = /^tagName eq '([^']*)'(?: and tagValue eq '([^']*)')?$/.exec(f.trim());
    if (!m) throw new ArmError(400, 'InvalidFilterInQueryString', `Invalid $filter '${f}' specified in the query string.`);
    const [, k, v] = m;
    return (tags) => Object.entries(tags).some(([tk, tv]) => tk.toLowerCase() === k!.toLowerCase() && (v === undefined || tv === v));
  }

  const render = (r: ArmResource, expand?: string) => {
    const properties: Record<string, any> = { ...r.properties };
    if (r.type === TYPES.vm) {
      // customData is write-only: neither GET nor IMDS ever returns it
      properties.osProfile = { ...properties.osProfile };
      delete properties.osProfile.customData;
      if (expand === 'instanceView') properties.instanceView = instanceView(r);
      // userData is returned only when asked for ($expand=userData), unlike customData which never is
      if (expand !== 'userData') delete properties.userData;
    }
    return { id: r.id, name: r.name, type: r.type, location: r.location, tags: r.tags, ...(r.sku ? { sku: r.sku } : {}), ...(r.zones ? { zones: r.zones } : {}), ...(r.identity ? { identity: r.identity } : {}), properties };
  };

  function instanceView(r: ArmResource) {
    const ps = r.vm!.powerState;
    return {
      statuses: [
        { code: `ProvisioningState/${String(r.properties.provisioningState).toLowerCase()}`, level: 'Info', displayStatus: `Provisioning ${String(r.properties.provisioningState).toLowerCase()}`, ...(r.vm!.statusTime ? { time: r.vm!.statusTime } : {}) },
        { code: `PowerState/${ps}`, level: 'Info', displayStatus: `VM ${ps}` },
      ],
    };
  }

  function requireGroup(group: string) {
    const g = state.groupOf(group);
    if (!g) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${group}' could not be found.`);
    if (g.provisioningState === 'Deleting') throw new ArmError(409, 'ResourceGroupBeingDeleted', `The resource group '${group}' is in deprovisioning state and cannot perform this operation.`);
    return g;
  }

  const requireRef = (id: string | undefined, what: string): ArmResource => {
    const r = id ? state.get(id) : undefined;
    if (!r) throw new ArmError(400, 'InvalidResourceReference', `Resource ${id ?? '(none)'} referenced by ${what} was not found.`);
    return r;
  };

  // ---- resource groups ----
  function resourceGroups(req: ArmRequest, name?: string): ArmResponse {
    state.tick(now());
    if (!name) {
      const filter = tagFilter(req);
      const all = [...state.groups.values()].filter((g) => !filter || filter(g.tags));
      return page(all.map((g) => ({ id: g.id, name: g.name, location: g.location, tags: g.tags, properties: { provisioningState: g.provisioningState } })), req);
    }
    const g = state.groupOf(name);
    const view = (x: NonNullable<typeof g>) => ({ id: x.id, name: x.name, location: x.location, tags: x.tags, properties: { provisioningState: x.provisioningState } });
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (!g) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`);
      return req.method === 'HEAD' ? json(204) : json(200, view(g));
    }
    if (req.method === 'PUT') {
      if (g?.provisioningState === 'Deleting') throw new ArmError(409, 'ResourceGroupBeingDeleted', `The resource group '${name}' is in deprovisioning state and cannot perform this operation.`);
      if (!req.body?.location) throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
      if (!LOCATIONS[String(req.body.location).toLowerCase()]) throw new ArmError(400, 'LocationNotAvailableForResourceGroup', `The provided location '${req.body.location}' is not available for resource group.`);
      const next = { id: `/subscriptions/${sub}/resourceGroups/${name}`, name, location: String(req.body.location).toLowerCase(), tags: { ...(req.body.tags ?? {}) }, provisioningState: 'Succeeded' as const };
      state.groups.set(name.toLowerCase(), g ? { ...next, name: g.name, id: g.id } : next);
      return json(g ? 200 : 201, view(state.groupOf(name)!));
    }
    if (req.method === 'DELETE') {
      if (!g) return json(204); // deleting what is gone is fine
      g.provisioningState = 'Deleting';
      const headers = startOperation(() => {
        for (const r of state.inGroup(g.name)) state.delete(r.id);
        state.groups.delete(g.name.toLowerCase());
      }, 'location');
      return json(202, undefined, headers);
    }
    throw new ArmError(405, 'MethodNotAllowed', `${req.method} not allowed`);
  }

  // ---- generic resources in a group ----
  function resource(req: ArmRequest, group: string, type: string, name: string, action?: string): ArmResponse {
    state.tick(now());
    const id = state.resourceId(group, type, name);
    const existing = state.get(id);
    if (action) return vmAction(req, group, existing, name, action);
    if (req.method === 'GET') {
      if (!state.groupOf(group)) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${group}' could not be found.`);
      if (!existing) throw notFound(type, name, group);
      return json(200, render(existing, req.query.get('$expand') ?? undefined));
    }
    if (req.method === 'DELETE') {
      if (!existing) return json(204);
      checkDeletable(existing);
      const headers = startOperation(() => deleteResource(existing), 'location');
      return json(202, undefined, headers);
    }
    if (req.method === 'PUT' || req.method === 'PATCH') {
      const g = requireGroup(group);
      if (req.method === 'PATCH' && !existing) throw notFound(type, name, group);
      const body = req.body ?? {};
      const next = req.method === 'PATCH' ? patch(existing!, body) : build(type, id, name, g.name, body, existing);
      validate(next, existing);
      const finalState = next.properties.provisioningState === 'Failed' ? 'Failed' : 'Succeeded';
      next.properties.provisioningState = existing ? 'Updating' : 'Creating';
      state.put(next);
      if (next.type === TYPES.vm && !existing) afterVmCreate(next);
      const failAllocation = next.type === TYPES.vm && !existing && faults.allocationFails.has(next.properties.hardwareProfile.vmSize);
      const headers = startOperation(() => {
        const cur = state.get(id);
        if (failAllocation && cur) {
          // the resource stays, in Failed state, not running (a real habit after a late allocation failure)
          cur.properties.provisioningState = 'Failed';
          cur.vm!.powerState = 'deallocated';
          throw new ArmError(200, 'AllocationFailed', `Allocation failed. We do not have sufficient capacity for the requested VM size ${cur.properties.hardwareProfile.vmSize} in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance`);
        }
        if (cur) cur.properties.provisioningState = finalState;
        if (cur?.type === TYPES.vm && !existing) cur.vm!.powerState = 'running';
        if (cur?.vm) cur.vm.statusTime = new Date(now()).toISOString();
      }, 'async');
      return json(existing ? 200 : 201, render(next), headers);
    }
    throw new ArmError(405, 'MethodNotAllowed', `${req.method} not allowed`);
  }

  function patch(r: ArmResource, body: any): ArmResource {
    const next: ArmResource = structuredClone(r);
    if (body.tags) next.tags = { ...body.tags };
    const props = body.properties ?? {};
    if (r.type === TYPES.vm && props.hardwareProfile?.vmSize) {
      const size = props.hardwareProfile.vmSize;
      if (!VM_SIZES.includes(size)) throw new ArmError(400, 'InvalidParameter', `The value ${size} provided for the VM size is not valid.`);
      if (r.vm!.powerState !== 'deallocated' && faults.noCapacity.has(size)) {
        throw new ArmError(409, 'AllocationFailed', 'Allocation failed. We do not have sufficient capacity for the requested VM size in this region.');
      }
      next.properties.hardwareProfile = { vmSize: size };
    }
    // `az vm boot-diagnostics enable` is a PATCH of diagnosticsProfile, allowed while the VM runs
    if (r.type === TYPES.vm && props.diagnosticsProfile) next.properties.diagnosticsProfile = structuredClone(props.diagnosticsProfile);
    if (r.type === TYPES.vm && body.identity) next.identity = identityOf(body.identity, r);
    // userData can change at any time, running or not (customData cannot)
    if (r.type === TYPES.vm && props.userData !== undefined) {
      checkUserData(props.userData);
      next.properties.userData = props.userData;
    }
    return next;
  }

  function build(type: string, id: string, name: string, group: string, body: any, existing?: ArmResource): ArmResource {
    const location = String(body.location ?? '').toLowerCase();
    if (!location) throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
    if (!LOCATIONS[location]) throw new ArmError(400, 'NoRegisteredProviderFound', `No registered resource provider found for location '${location}'.`);
    if (existing && existing.location !== location) throw new ArmError(400, 'InvalidResourceLocation', `The resource '${name}' already exists in location '${existing.location}'. A resource with the same name cannot be created in location '${location}'.`);
    const r: ArmResource = { id, type, name, resourceGroup: group, location, tags: { ...(body.tags ?? {}) }, properties: structuredClone(body.properties ?? {}) };
    if (body.sku) r.sku = body.sku;
    if (body.zones) r.zones = body.zones;
    if (existing?.vm) r.vm = existing.vm;
    if (type === TYPES.vm) r.identity = identityOf(body.identity, existing);
    if (type === TYPES.vm && r.properties.userData !== undefined) checkUserData(r.properties.userData);
    return r;
  }

  /** A system-assigned identity keeps its service principal for the VM's life; a new one is created in Entra now. */
  function identityOf(asked: any, existing?: ArmResource): ArmResource['identity'] {
    const type = asked?.type ?? existing?.identity?.type;
    if (!type || type === 'None') return undefined;
    if (type !== 'SystemAssigned') throw new ArmError(400, 'InvalidParameter', `The identity type '${type}' is not supported here.`);
    if (existing?.identity) return existing.identity;
    const principalId = randomUUID();
    state.principals.set(principalId, { createdAt: now() });
    return { type, principalId, tenantId: opts.tenantId };
  }

  function checkUserData(v: unknown): void {
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/=]*$/.test(v) || v.length > 87380) {
      throw new ArmError(400, 'InvalidParameter', 'User data must be in Base64 encoding and at most 64 KB.');
    }
  }

  function validate(r: ArmResource, existing?: ArmResource): void {
    const p = r.properties;
    switch (r.type) {
      case TYPES.nsg: {
        const seen = new Set<number>();
        for (const rule of p.securityRules ?? []) {
          const rp = rule.properties ?? {};
          if (!(rp.priority >= 100 && rp.priority <= 4096)) throw new ArmError(400, 'SecurityRuleInvalidPriority', `Security rule ${rule.name} has invalid priority ${rp.priority}. Value provided: ${rp.priority} Allowed range 100-4096.`);
          const key = rp.priority * 2 + (rp.direction === 'Inbound' ? 0 : 1);
          if (seen.has(key)) throw new ArmError(400, 'SecurityRuleConflict', `Security rule ${rule.name} conflicts with another rule: same priority and direction.`);
          seen.add(key);
          rule.id = `${r.id}/securityRules/${rule.name}`;
        }
        p.defaultSecurityRules = [
          { name: 'AllowVnetInBound', properties: { priority: 65000, direction: 'Inbound', access: 'Allow', protocol: '*', sourceAddressPrefix: 'VirtualNetwork', destinationPortRange: '*' } },
          { name: 'AllowAzureLoadBalancerInBound', properties: { priority: 65001, direction: 'Inbound', access: 'Allow', protocol: '*', sourceAddressPrefix: 'AzureLoadBalancer', destinationPortRange: '*' } },
          { name: 'DenyAllInBound', properties: { priority: 65500, direction: 'Inbound', access: 'Deny', protocol: '*', sourceAddressPrefix: '*', destinationPortRange: '*' } },
          { name: 'AllowInternetOutBound', properties: { priority: 65001, direction: 'Outbound', access: 'Allow', protocol: '*', destinationAddressPrefix: 'Internet', destinationPortRange: '*' } },
        ];
        p.resourceGuid ??= randomUUID();
        break;
      }
      case TYPES.vnet: {
        if (faults.noNetworkIn.has(r.location)) throw new ArmError(400, 'LocationNotAvailableForResourceType', `The provided location '${r.location}' is not available for resource type 'Microsoft.Network/virtualNetworks'.`);
        if (!p.addressSpace?.addressPrefixes?.length) throw new ArmError(400, 'InvalidAddressSpace', 'The virtual network needs an address space.');
        for (const s of p.subnets ?? []) {
          s.id = `${r.id}/subnets/${s.name}`;
          if (s.properties?.networkSecurityGroup?.id) requireRef(s.properties.networkSecurityGroup.id, `subnet ${s.name}`);
        }
        break;
      }
      case TYPES.pip: {
        if (r.sku?.name !== 'Standard') throw new ArmError(400, 'BasicSkuPublicIpRetired', 'Basic SKU public IP addresses were retired on 30 September 2025; use the Standard SKU.');
        if (p.publicIPAllocationMethod !== 'Static') throw new ArmError(400, 'StandardSkuPublicIPAddressesMustBeStatic', 'Standard sku publicIp addresses must have allocation method Static.');
        p.ipAddress ??= existing?.properties.ipAddress ?? `20.${10 + state.ofType(TYPES.pip).length}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
        const label = p.dnsSettings?.domainNameLabel;
        if (label) {
          const taken = state.ofType(TYPES.pip).some((o) => o.id.toLowerCase() !== r.id.toLowerCase() && o.location === r.location && o.properties.dnsSettings?.domainNameLabel === label);
          if (taken) throw new ArmError(400, 'DnsRecordInUse', `DNS record ${label}.${r.location}.cloudapp.azure.com is already used by another public IP.`);
          p.dnsSettings.fqdn = `${label}.${r.location}.cloudapp.azure.com`;
        }
        break;
      }
      case TYPES.nic: {
        const ipc = p.ipConfigurations?.[0]?.properties;
        if (!ipc?.subnet?.id) throw new ArmError(400, 'InvalidRequestFormat', 'The network interface needs an IP configuration with a subnet.');
        const [vnetId, subnetName] = ipc.subnet.id.split(/\/subnets\//i);
        const vnet = requireRef(vnetId, 'the network interface');
        if (!vnet.properties.subnets?.some((s: any) => s.name === subnetName)) throw new ArmError(400, 'InvalidResourceReference', `Subnet ${subnetName} not found.`);
        if (ipc.publicIPAddress?.id) requireRef(ipc.publicIPAddress.id, 'the network interface');
        if (p.networkSecurityGroup?.id) requireRef(p.networkSecurityGroup.id, 'the network interface');
        ipc.privateIPAddress ??= existing?.properties.ipConfigurations?.[0]?.properties?.privateIPAddress ?? `10.0.0.${4 + state.ofType(TYPES.nic).length}`;
        p.ipConfigurations[0].id = `${r.id}/ipConfigurations/${p.ipConfigurations[0].name ?? 'ipconfig1'}`;
        if (existing?.properties.virtualMachine) p.virtualMachine = existing.properties.virtualMachine;
        break;
      }
      case TYPES.vm:
        validateVm(r, existing);
        break;
      case TYPES.disk:
        break;
      default:
        throw new ArmError(400, 'InvalidResourceType', `The resource type '${r.type}' could not be found.`);
    }
  }

  function validateVm(r: ArmResource, existing?: ArmResource): void {
    const p = r.properties;
    const size = p.hardwareProfile?.vmSize;
    if (!VM_SIZES.includes(size)) throw new ArmError(400, 'InvalidParameter', `The value ${size} provided for the VM size is not valid.`);
    if (existing) {
      // a PUT on an existing VM keeps what cannot change
      p.osProfile = { ...existing.properties.osProfile };
      p.storageProfile = existing.properties.storageProfile;
      p.vmId = existing.properties.vmId;
      return;
    }
    if (faults.noCapacity.has(size)) {
      throw new ArmError(409, 'SkuNotAvailable', `The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: ${size}' is currently not available in location '${r.location}'. Please try another size or deploy to a different location or different zone. See https://aka.ms/azureskunotavailable for details.`);
    }
    const os = p.osProfile ?? {};
    if (!os.adminUsername) throw new ArmError(400, 'InvalidParameter', "Required parameter 'adminUsername' is missing (null).");
    const linux = os.linuxConfiguration ?? {};
    const keys = linux.ssh?.publicKeys ?? [];
    if (linux.disablePasswordAuthentication && keys.length === 0) {
      throw new ArmError(400, 'InvalidParameter', 'Authentication using either SSH or by user name and password must be enabled in Linux profile.');
    }
    if (!linux.disablePasswordAuthentication && !os.adminPassword) throw new ArmError(400, 'InvalidParameter', "Required parameter 'adminPassword' is missing (null).");
    for (const k of keys) {
      if (!/^ssh-(rsa|ed25519) [A-Za-z0-9+/=]+/.test(k.keyData ?? '')) throw new ArmError(400, 'InvalidParameter', 'The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.');
    }
    if (os.customData !== undefined) {
      if (!/^[A-Za-z0-9+/=]*$/.test(os.customData)) throw new ArmError(400, 'InvalidParameter', 'Custom data in OSProfile must be in Base64 encoding and with a maximum length of 87380 characters.');
      if (os.customData.length > 87380) throw new ArmError(400, 'InvalidParameter', 'Custom data in OSProfile must be in Base64 encoding and with a maximum length of 87380 characters.');
    }
    const img = p.storageProfile?.imageReference ?? {};
    const versions = IMAGES[`${img.publisher}/${img.offer}/${img.sku}`];
    if (!versions || (img.version !== 'latest' && !versions.includes(img.version))) {
      throw new ArmError(404, 'PlatformImageNotFound', `The platform image '${img.publisher}:${img.offer}:${img.sku}:${img.version}' is not available.`);
    }
    const nics = p.networkProfile?.networkInterfaces ?? [];
    if (nics.length !== 1) throw new ArmError(400, 'InvalidParameter', 'The VM needs exactly one network interface here.');
    const nic = requireRef(nics[0].id, 'the virtual machine');
    if (nic.properties.virtualMachine?.id) throw new ArmError(400, 'NicInUse', `Network Interface ${nic.id} is used by existing resource ${nic.properties.virtualMachine.id}.`);
    if (nic.location !== r.location) throw new ArmError(400, 'NicInDifferentLocation', 'The network interface is in another location.');
    p.vmId = randomUUID();
  }

  function afterVmCreate(vm: ArmResource): void {
    const p = vm.properties;
    vm.vm = { powerState: 'starting', customData: p.osProfile?.customData };
    const nic = state.get(p.networkProfile.networkInterfaces[0].id)!;
    nic.properties.virtualMachine = { id: vm.id };
    // the implicit OS disk: a managed disk of its own, WITHOUT the VM's tags (a real habit)
    const os = p.storageProfile.osDisk ?? {};
    const diskName = os.name ?? `${vm.name}_OsDisk_1_${randomUUID().replaceAll('-', '')}`;
    const diskId = state.resourceId(vm.resourceGroup, TYPES.disk, diskName);
    const img = p.storageProfile.imageReference;
    if (img.version === 'latest') img.exactVersion = IMAGES[`${img.publisher}/${img.offer}/${img.sku}`]!.at(-1);
    else img.exactVersion = img.version;
    state.put({
      id: diskId,
      type: TYPES.disk,
      name: diskName,
      resourceGroup: vm.resourceGroup,
      location: vm.location,
      tags: {},
      sku: { name: os.managedDisk?.storageAccountType ?? 'Premium_LRS' },
      properties: {
        diskSizeGB: os.diskSizeGB ?? 30,
        encryption: { type: 'EncryptionAtRestWithPlatformKey' },
        diskState: 'Attached',
        provisioningState: 'Succeeded',
        osType: 'Linux',
      },
    });
    p.storageProfile.osDisk = { ...os, name: diskName, osType: 'Linux', managedDisk: { ...(os.managedDisk ?? {}), id: diskId }, deleteOption: os.deleteOption ?? 'Detach' };
  }

  function checkDeletable(r: ArmResource): void {
    if (r.type === TYPES.nic && r.properties.virtualMachine?.id && state.get(r.properties.virtualMachine.id)) {
      throw new ArmError(400, 'NicInUse', `Network Interface ${r.id} is used by existing resource ${r.properties.virtualMachine.id}. In order to delete the network interface, it must be dissociated from the resource.`);
    }
    if (r.type === TYPES.pip && state.ofType(TYPES.nic).some((n) => n.properties.ipConfigurations?.some((c: any) => c.properties?.publicIPAddress?.id?.toLowerCase() === r.id.toLowerCase()))) {
      throw new ArmError(400, 'PublicIPAddressCannotBeDeleted', `Public IP address ${r.id} can not be deleted since it is still allocated to resource.`);
    }
    if (r.type === TYPES.nsg && state.ofType(TYPES.nic).some((n) => n.properties.networkSecurityGroup?.id?.toLowerCase() === r.id.toLowerCase())) {
      throw new ArmError(400, 'InUseNetworkSecurityGroupCannotBeDeleted', `Network security group ${r.id} cannot be deleted because it is in use.`);
    }
    if (r.type === TYPES.vnet && state.ofType(TYPES.nic).some((n) => n.properties.ipConfigurations?.[0]?.properties?.subnet?.id?.toLowerCase().startsWith(r.id.toLowerCase()))) {
      throw new ArmError(400, 'InUseSubnetCannotBeDeleted', `Subnet of ${r.id} is in use and cannot be deleted.`);
    }
    if (r.type === TYPES.disk && r.properties.diskState === 'Attached') {
      throw new ArmError(409, 'OperationNotAllowed', `Disk ${r.name} is attached to a VM and cannot be deleted.`);
    }
  }

  function deleteResource(r: ArmResource): void {
    state.delete(r.id);
    // a system-assigned identity goes with its VM; role assignments naming it stay behind, orphaned
    if (r.identity) state.principals.delete(r.identity.principalId);
    if (r.type === TYPES.vm) {
      const nic = state.get(r.properties.networkProfile.networkInterfaces[0].id);
      if (nic) delete nic.properties.virtualMachine;
      const os = r.properties.storageProfile.osDisk;
      const disk = state.get(os.managedDisk.id);
      // an OS disk is left behind unless deleteOption says Delete (a real habit)
      if (disk) {
        if (os.deleteOption === 'Delete') state.delete(disk.id);
        else disk.properties.diskState = 'Unattached';
      }
    }
  }

  /**
   * virtualMachines/retrieveBootDiagnosticsData (managed boot diagnostics): read-only SAS URIs of
   * the screenshot and serial log blobs, valid for sasUriExpirationTimeInMinutes (default 120,
   * at most 1440). A VM without boot diagnostics enabled has no such blobs.
   */
  function bootDiagnosticsData(req: ArmRequest, vm: ArmResource): ArmResponse {
    if (!vm.properties.diagnosticsProfile?.bootDiagnostics?.enabled) {
      throw new ArmError(409, 'OperationNotAllowed', `Boot diagnostics is not enabled for virtual machine '${vm.name}'.`);
    }
    const raw = req.query.get('sasUriExpirationTimeInMinutes');
    const minutes = raw === null ? 120 : Number(raw);
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) throw new ArmError(400, 'InvalidParameter', `The value '${raw}' of parameter 'sasUriExpirationTimeInMinutes' is out of range. Value must be between 1 and 1440.`);
    const expires = new Date(now() + minutes * 60_000);
    const vmId = vm.properties.vmId as string;
    return json(200, {
      consoleScreenshotBlobUri: opts.blobSas(`/bootdiagnostics-${vm.name.slice(0, 9).toLowerCase()}-${vmId}/${vm.name}.${vmId}.screenshot.bmp`, expires),
      serialConsoleLogBlobUri: opts.blobSas(`/bootdiagnostics-${vm.name.slice(0, 9).toLowerCase()}-${vmId}/${vm.name}.${vmId}.serialconsole.log`, expires),
    });
  }

  function vmAction(req: ArmRequest, group: string, vm: ArmResource | undefined, name: string, action: string): ArmResponse {
    if (!vm) throw notFound(TYPES.vm, name, group);
    if (action === 'instanceView' && req.method === 'GET') return json(200, instanceView(vm));
    if (req.method !== 'POST') throw new ArmError(405, 'MethodNotAllowed', `${req.method} not allowed`);
    if (action === 'retrieveBootDiagnosticsData') return bootDiagnosticsData(req, vm);
    const transitions: Record<string, [PowerState, PowerState]> = {
      start: ['starting', 'running'],
      deallocate: ['deallocating', 'deallocated'],
      powerOff: ['stopping', 'stopped'],
      restart: ['starting', 'running'],
    };
    const t = transitions[action];
    if (!t) throw new ArmError(400, 'InvalidAction', `unknown action ${action}`);
    const before = vm.vm!.powerState;
    vm.vm!.powerState = t[0];
    const headers = startOperation(() => {
      if ((action === 'start' || action === 'restart') && faults.noCapacity.has(vm.properties.hardwareProfile.vmSize) && before !== 'running') {
        vm.vm!.powerState = before;
        throw new ArmError(409, 'AllocationFailed', `Allocation failed. We do not have sufficient capacity for the requested VM size ${vm.properties.hardwareProfile.vmSize} in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance`);
      }
      vm.vm!.powerState = t[1];
      vm.vm!.statusTime = new Date(now()).toISOString();
    }, 'async');
    return json(202, undefined, headers);
  }

  // ---- subscription-level reads ----
  function listResources(req: ArmRequest, group?: string): ArmResponse {
    state.tick(now());
    if (group) requireGroup(group);
    const filter = tagFilter(req);
    const all = [...state.resources.values()].filter((r) => (!group || r.resourceGroup.toLowerCase() === group.toLowerCase()) && (!filter || filter(r.tags)));
    // a real habit: a list filtered by tag does not return the resources' tags
    return page(all.map((r) => ({ id: r.id, name: r.name, type: r.type, location: r.location, ...(filter ? {} : { tags: r.tags }) })), req);
  }

  function provider(namespace: string): ArmResponse {
    const all = Object.values(LOCATIONS);
    const types: Record<string, string[]> = {
      'microsoft.network': ['virtualNetworks', 'networkSecurityGroups', 'publicIPAddresses', 'networkInterfaces'],
      'microsoft.compute': ['virtualMachines', 'disks'],
    };
    const list = types[namespace.toLowerCase()];
    if (!list) throw new ArmError(404, 'InvalidResourceNamespace', `The resource namespace '${namespace}' is invalid.`);
    return json(200, {
      id: `/subscriptions/${sub}/providers/${namespace}`,
      namespace,
      registrationState: 'Registered',
      resourceTypes: list.map((resourceType) => ({
        resourceType,
        locations: resourceType === 'virtualNetworks' ? Object.entries(LOCATIONS).filter(([k]) => !faults.noNetworkIn.has(k)).map(([, v]) => v) : all,
      })),
    });
  }

  function permissions(req: ArmRequest): ArmResponse {
    // several entries (so callers must union them), more than one page (so callers follow nextLink)
    const items = [
      { actions: ['Microsoft.Authorization/permissions/read'], notActions: [] as string[], dataActions: [], notDataActions: [] },
      { actions: ['*/read'], notActions: [] as string[], dataActions: [], notDataActions: [] },
      {
        actions: ['Microsoft.Resources/*', 'Microsoft.Network/*', 'Microsoft.Compute/*', 'Microsoft.ManagedIdentity/*', 'Microsoft.Authorization/roleDefinitions/*', 'Microsoft.Authorization/roleAssignments/*'],
        // actions held only on a resource group are not the subscription's
        notActions: [...faults.denied, ...(faults.scoped ?? []).map((x) => x.pattern)],
        dataActions: [],
        notDataActions: [],
      },
    ];
    return page(items, req);
  }

  function imageVersions(req: ArmRequest, location: string, publisher: string, offer: string, sku: string, version?: string): ArmResponse {
    if (!LOCATIONS[location.toLowerCase()]) throw new ArmError(404, 'NoRegisteredProviderFound', `No registered resource provider found for location '${location}'.`);
    const versions = IMAGES[`${publisher}/${offer}/${sku}`];
    if (!versions) throw new ArmError(404, 'ArtifactNotFound', `Artifact: VMImage was not found.`);
    const view = (v: string) => ({ id: `/Subscriptions/${sub}/Providers/Microsoft.Compute/Locations/${location}/Publishers/${publisher}/ArtifactTypes/VMImage/Offers/${offer}/Skus/${sku}/Versions/${v}`, name: v, location });
    if (version) {
      if (!versions.includes(version)) throw new ArmError(404, 'ArtifactNotFound', `Artifact: VMImage was not found.`);
      return json(200, { ...view(version), properties: { osImage: { operatingSystem: 'Linux' }, hyperVGeneration: 'V2', architecture: 'x64' } });
    }
    let list = [...versions];
    if (req.query.get('$orderby')?.toLowerCase() === 'name desc') list.reverse();
    const top = Number(req.query.get('$top') ?? 0);
    if (top > 0) list = list.slice(0, top);
    return json(200, list.map(view)); // this one API answers a bare array, not {value}
  }

  /** Does the principal hold `action` at `scope` (the same answer AuthorizationFailed and the permissions API give)? */
  function allowed(action: string, scope?: string): boolean {
    if ([...faults.denied].some((d) => matches(d, action))) return false;
    return (faults.scoped ?? []).every((x) => !matches(x.pattern, action) || (scope !== undefined && within(scope, x.scope)));
  }

  function authorizationFailed(action: string, scope: string, principal = opts.principalId): ArmError {
    return new ArmError(
      403,
      'AuthorizationFailed',
      `The client '${principal}' with object id '${principal}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
  }


  // ---- Microsoft.Authorization: custom roles and role assignments ----
  const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const defId = (name: string) => `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${name}`;
  const within = (scope: string, outer: string) => scope.toLowerCase() === outer.toLowerCase() || scope.toLowerCase().startsWith(`${outer.toLowerCase()}/`);

  function viewDefinition(d: RoleDefinition) {
    return {
      id: defId(d.name),
      name: d.name,
      type: 'Microsoft.Authorization/roleDefinitions',
      properties: { roleName: d.roleName, type: 'CustomRole', description: d.description, assignableScopes: d.assignableScopes, permissions: d.permissions, createdOn: d.createdOn, updatedOn: d.createdOn, createdBy: opts.principalId, updatedBy: opts.principalId },
    };
  }

  function viewAssignment(a: RoleAssignment) {
    return {
      id: `${a.scope}/providers/Microsoft.Authorization/roleAssignments/${a.name}`,
      name: a.name,
      type: 'Microsoft.Authorization/roleAssignments',
      properties: { roleDefinitionId: defId(a.roleDefinitionName), principalId: a.principalId, principalType: a.principalType, scope: a.scope, condition: null, conditionVersion: null, createdOn: a.createdOn, updatedOn: a.createdOn, createdBy: opts.principalId, updatedBy: opts.principalId, delegatedManagedIdentityResourceId: null, description: null },
    };
  }

  /** `{scope}/providers/Microsoft.Authorization/roleDefinitions[/{guid}]`; `$filter=roleName eq '…'` on lists. */
  function roleDefinitions(req: ArmRequest, scope: string, name?: string): ArmResponse {
    if (!name) {
      if (req.method !== 'GET') throw new ArmError(405, 'MethodNotAllowed', `${req.method} not allowed`);
      const f = req.query.get('$filter');
      const m = f ? /^roleName eq '((?:[^']|'')*)'$/.exec(f.trim()) : null;
      if (f && !m) throw new ArmError(400, 'InvalidFilterInQueryString', `Invalid $filter '${f}' specified in the query string.`);
      const wanted = m?.[1]!.replaceAll("''", "'");
      const all = [...state.roleDefinitions.values()].filter((d) => (wanted === undefined || d.roleName.toLowerCase() === wanted.toLowerCase()) && d.assignableScopes.some((s) => within(s, scope) || within(scope, s)));
      return page(all.map(viewDefinition), req);
    }
    const key = name.toLowerCase();
    const existing = state.roleDefinitions.get(key);
    if (req.method === 'GET') {
      if (!existing) throw new ArmError(404, 'RoleDefinitionDoesNotExist', `The specified role definition with ID '${name}' does not exist.`);
      return json(200, viewDefinition(existing));
    }
    if (req.method === 'DELETE') {
      if (!existing) return json(204);
      if ([...state.roleAssignments.values()].some((a) => a.roleDefinitionName.toLowerCase() === key)) {
        throw new ArmError(409, 'RoleDefinitionHasAssignments', 'There are existing role assignments referencing role (code: RoleDefinitionHasAssignments).');
      }
      state.roleDefinitions.delete(key);
      return json(200, viewDefinition(existing));
    }
    if (req.method !== 'PUT') throw new ArmError(405, 'MethodNotAllowed', `${req.method} not allowed`);
    if (!GUID_RE.test(name)) throw new ArmError(400, 'RoleDefinitionIdIsNotValidGuid', `The role definition ID '${name}' is not valid. The role definition ID must be a GUID.`);
    const p = req.body?.properties ?? {};
    if (!p.roleName) throw new ArmError(400, 'RoleDefinitionNameNullOrEmpty', 'The role definition name cannot be null or empty.');
    const scopes: string[] = p.assignableScopes ?? [];
    if (scopes.length === 0) throw new ArmError(400, 'InvalidAssignableScopes', 'The role definition must have at least one assignable scope.');
    for (const s of scopes) {
      if (!within(s, `/subscriptions/${sub}`)) throw new ArmError(400, 'InvalidAssignableScopes', `The assignable scope '${s}' is not valid.`);
      if (!within(s, scope) && !within(scope, s)) throw new ArmError(400, 'InvalidAssignableScopes', `The assignable scope '${s}' must be within the scope '${scope}' the role definition is written at.`);
    }
    const clash = [...state.roleDefinitions.values()].find((d) => d.name !== key && d.roleName.toLowerCase() === String(p.roleName).toLowerCase());
    if (clash) throw new ArmError(409, 'RoleDefinitionWithSameNameExists', 'A custom role with the same name already exists in this directory. Use a different name.');
    const perms = (p.permissions ?? []).map((x: any) => ({ actions: x.actions ?? [], notActions: x.notActions ?? [], dataActions: x.dataActions ?? [], notDataActions: x.notDataActions ?? [] }));
    const d: RoleDefinition = { name: key, roleName: String(p.roleName), description: String(p.description ?? ''), permissions: perms, assignableScopes: scopes, createdOn: existing?.createdOn ?? new Date(now()).toISOString() };
    state.roleDefinitions.set(key, d);
    return json(existing ? 200 : 201, viewDefinition(d));
  }

  /** `{scope}/providers/Microsoft.Authorization/roleAssignments[/{guid}]`; lists show what applies at the scope and below it. */
  function roleAssignments(req: ArmRequest, scope: string, name?: string): ArmResponse {
    if (!name) {
      if (req.method !== 'GET') throw new ArmError(405, 'MethodNotAllowed', `${req.method} not allowed`);
      const f = req.query.get('$filter');
      const m = f ? /^principalId eq '([^']*)'$/.exec(f.trim()) : null;
      if (f && !m && f.trim() !== 'atScope()') throw new ArmError(400, 'UnsupportedQuery', `The filter '${f}' is not supported.`);
      const all = [...state.roleAssignments.values()].filter((a) => (within(a.scope, scope) || within(scope, a.scope)) && (!m || a.principalId === m[1]) && (f?.trim() !== 'atScope()' || within(scope, a.scope)));
      return page(all.map(viewAssignment), req);
    }
    const key = name.toLowerCase();
    const existing = state.roleAssignments.get(key);
    if (req.method === 'GET') {
      if (!existing) throw new ArmError(404, 'RoleAssignmentNotFound', `The role assignment '${name}' is not found.`);
      return json(200, viewAssignment(existing));
    }
    if (req.method === 'DELETE') {
      if (!existing) return json(204);
      state.roleAssignments.delete(key);
      return json(200, viewAssignment(existing));
    }
    if (req.method !== 'PUT') throw new ArmError(405, 'MethodNotAllowed', `${req.method} not allowed`);
    if (!GUID_RE.test(name)) throw new ArmError(400, 'InvalidRoleAssignmentId', `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`);
    const p = req.body?.properties ?? {};
    const roleDef = /\/providers\/Microsoft\.Authorization\/roleDefinitions\/([^/]+)$/i.exec(String(p.roleDefinitionId ?? ''))?.[1]?.toLowerCase();
    const def = roleDef ? state.roleDefinitions.get(roleDef) : undefined;
    if (!def) throw new ArmError(400, 'RoleDefinitionDoesNotExist', `The specified role definition with ID '${roleDef ?? p.roleDefinitionId}' does not exist.`);
    if (!def.assignableScopes.some((s) => within(scope, s))) {
      throw new ArmError(403, 'AuthorizationFailed', `The role definition '${def.name}' is not assignable at scope '${scope}'.`);
    }
    const principal = String(p.principalId ?? '');
    const known = state.principals.get(principal);
    // a managed identity's service principal reaches the directory replica ARM reads some time after it was created
    if (!known || now() - known.createdAt < opts.principalReplicationMs) {
      throw new ArmError(400, 'PrincipalNotFound', `Principal ${principal.replaceAll('-', '')} does not exist in the directory ${opts.tenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype`);
    }
    const same = [...state.roleAssignments.values()].find((a) => a.scope.toLowerCase() === scope.toLowerCase() && a.principalId === principal && a.roleDefinitionName === def.name);
    if (same) throw new ArmError(409, 'RoleAssignmentExists', 'The role assignment already exists.');
    const a: RoleAssignment = { name: key, scope, roleDefinitionName: def.name, principalId: principal, principalType: String(p.principalType ?? 'ServicePrincipal'), createdOn: new Date(now()).toISOString() };
    state.roleAssignments.set(key, a);
    return json(201, viewAssignment(a));
  }

  /**
   * What a managed identity may do: the union of the role definitions assigned to it at the
   * request's scope or above (an assignment on one VM grants nothing on another).
   */
  function allowedFor(principalId: string, action: string, scope: string): boolean {
    return [...state.roleAssignments.values()].some((a) => {
      if (a.principalId !== principalId || !within(scope, a.scope)) return false;
      const def = state.roleDefinitions.get(a.roleDefinitionName);
      return def?.permissions.some((p) => p.actions.some((x) => matches(x, action)) && !p.notActions.some((x) => matches(x, action))) ?? false;
    });
  }

  return { resourceGroups, resource, listResources, provider, permissions, imageVersions, operationStatus, allowed, allowedFor, authorizationFailed, roleDefinitions, roleAssignments };
}
