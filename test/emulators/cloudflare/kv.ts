// Workers KV: namespaces (account-level objects) and their keys. Key data lives in the same Miniflare persistence
// directory the deployed Workers use, so a value written through the API is what the Worker reads, and back.
import { CfApiError, ErrorCodes, hexId, paginate } from './envelope.js';
import { formBody, jsonBody, type ApiRequest, type Router } from './router.js';

export interface KvNamespaceRecord {
  id: string;
  title: string;
  supports_url_encoding: boolean;
}

/** The subset of the runtime's KVNamespace the API needs. */
export interface KvNamespaceData {
  get(key: string, type: 'arrayBuffer'): Promise<ArrayBuffer | null>;
  getWithMetadata(key: string, type: 'arrayBuffer'): Promise<{ value: ArrayBuffer | null; metadata: unknown }>;
  put(key: string, value: ArrayBuffer | Uint8Array | string, options?: { expiration?: number; expirationTtl?: number; metadata?: unknown }): Promise<void>;
  delete(key: string): Promise<void>;
  list(options?: { prefix?: string; limit?: number; cursor?: string }): Promise<{
    keys: Array<{ name: string; expiration?: number; metadata?: unknown }>;
    list_complete: boolean;
    cursor?: string;
  }>;
}

export type KvDataAccess = (namespaceId: string) => Promise<KvNamespaceData>;

export class KvStore {
  readonly #namespaces = new Map<string, KvNamespaceRecord>();

  constructor(private readonly data: KvDataAccess) {}

  list(): KvNamespaceRecord[] {
    return [...this.#namespaces.values()];
  }

  has(id: string): boolean {
    return this.#namespaces.has(id);
  }

  #get(id: string): KvNamespaceRecord {
    const ns = this.#namespaces.get(id);
    if (!ns) throw new CfApiError(404, ErrorCodes.kvNamespaceNotFound, 'namespace not found');
    return ns;
  }

  #create(title: string): KvNamespaceRecord {
    if (!title) throw new CfApiError(400, ErrorCodes.badRequest, 'title is required');
    if (this.list().some((ns) => ns.title === title)) {
      throw new CfApiError(400, ErrorCodes.kvTitleTaken, 'a namespace with this account ID and title already exists');
    }
    const ns = { id: hexId(), title, supports_url_encoding: true };
    this.#namespaces.set(ns.id, ns);
    return ns;
  }

  register(router: Router): void {
    const base = '/accounts/:account/storage/kv/namespaces';
    router.on('GET', base, (req) => {
      const order = req.query.get('order');
      const direction = req.query.get('direction') === 'desc' ? -1 : 1;
      const items = this.list();
      if (order === 'title' || order === 'id') items.sort((a, b) => direction * a[order].localeCompare(b[order]));
      const { result, resultInfo } = paginate(items, req.query, 20, 1000);
      return { result, resultInfo };
    });
    router.on('POST', base, (req) => ({ result: this.#create(String(jsonBody<{ title?: string }>(req).title ?? '')) }));
    router.on('GET', `${base}/:id`, (req) => ({ result: this.#get(req.params.id!) }));
    router.on('PUT', `${base}/:id`, (req) => {
      const ns = this.#get(req.params.id!);
      const title = String(jsonBody<{ title?: string }>(req).title ?? '');
      if (this.list().some((other) => other.title === title && other.id !== ns.id)) {
        throw new CfApiError(400, ErrorCodes.kvTitleTaken, 'a namespace with this account ID and title already exists');
      }
      ns.title = title;
      return { result: null };
    });
    router.on('DELETE', `${base}/:id`, (req) => {
      this.#get(req.params.id!);
      this.#namespaces.delete(req.params.id!);
      return { result: {} };
    });

    // keys and values
    router.on('GET', `${base}/:id/keys`, async (req) => {
      this.#get(req.params.id!);
      const kv = await this.data(req.params.id!);
      const limit = Math.min(1000, Math.max(10, Number.parseInt(req.query.get('limit') ?? '1000', 10) || 1000));
      const listed = await kv.list({
        limit,
        ...(req.query.get('prefix') ? { prefix: req.query.get('prefix')! } : {}),
        ...(req.query.get('cursor') ? { cursor: req.query.get('cursor')! } : {}),
      });
      return {
        result: listed.keys,
        resultInfo: { count: listed.keys.length, cursor: listed.list_complete ? '' : (listed.cursor ?? '') },
      };
    });
    router.on('GET', `${base}/:id/values/:key`, async (req) => {
      this.#get(req.params.id!);
      const value = await (await this.data(req.params.id!)).get(req.params.key!, 'arrayBuffer');
      if (value === null) throw new CfApiError(404, ErrorCodes.kvKeyNotFound, "get: 'key not found'");
      return { result: null, raw: Buffer.from(value), contentType: 'application/octet-stream' };
    });
    router.on('GET', `${base}/:id/metadata/:key`, async (req) => {
      this.#get(req.params.id!);
      const { value, metadata } = await (await this.data(req.params.id!)).getWithMetadata(req.params.key!, 'arrayBuffer');
      if (value === null) throw new CfApiError(404, ErrorCodes.kvKeyNotFound, "metadata: 'key not found'");
      return { result: metadata ?? null };
    });
    router.on('PUT', `${base}/:id/values/:key`, async (req) => {
      this.#get(req.params.id!);
      const { value, metadata } = await readValue(req);
      await (await this.data(req.params.id!)).put(req.params.key!, value, { ...expiryOptions(req.query), ...(metadata !== undefined ? { metadata } : {}) });
      return { result: {} };
    });
    router.on('DELETE', `${base}/:id/values/:key`, async (req) => {
      this.#get(req.params.id!);
      await (await this.data(req.params.id!)).delete(req.params.key!);
      return { result: {} };
    });
    router.on('PUT', `${base}/:id/bulk`, async (req) => {
      this.#get(req.params.id!);
      const kv = await this.data(req.params.id!);
      const items = jsonBody<Array<{ key: string; value: string; base64?: boolean; expiration?: number; expiration_ttl?: number; metadata?: unknown }>>(req);
      for (const item of items) {
        const value = item.base64 ? Buffer.from(item.value, 'base64') : item.value;
        await kv.put(item.key, value, {
          ...(item.expiration ? { expiration: item.expiration } : {}),
          ...(item.expiration_ttl ? { expirationTtl: item.expiration_ttl } : {}),
          ...(item.metadata !== undefined ? { metadata: item.metadata } : {}),
        });
      }
      return { result: { successful_key_count: items.length, unsuccessful_keys: [] } };
    });
    const bulkDelete = async (req: ApiRequest) => {
      this.#get(req.params.id!);
      const kv = await this.data(req.params.id!);
      const keys = jsonBody<string[]>(req);
      for (const key of keys) await kv.delete(key);
      return { result: { successful_key_count: keys.length, unsuccessful_keys: [] } };
    };
    router.on('POST', `${base}/:id/bulk/delete`, bulkDelete);
    router.on('DELETE', `${base}/:id/bulk`, bulkDelete);
  }
}

function expiryOptions(query: URLSearchParams): { expiration?: number; expirationTtl?: number } {
  const expiration = Number(query.get('expiration'));
  const ttl = Number(query.get('expiration_ttl'));
  return { ...(expiration > 0 ? { expiration } : {}), ...(ttl > 0 ? { expirationTtl: ttl } : {}) };
}

async function readValue(req: ApiRequest): Promise<{ value: Uint8Array; metadata?: unknown }> {
  if (String(req.headers['content-type'] ?? '').startsWith('multipart/form-data')) {
    const form = await formBody(req);
    const value = form.get('value');
    const rawMetadata = form.get('metadata');
    const bytes = value === null ? new Uint8Array() : typeof value === 'string' ? new TextEncoder().encode(value) : new Uint8Array(await value.arrayBuffer());
    const metadataText = rawMetadata === null ? undefined : typeof rawMetadata === 'string' ? rawMetadata : await rawMetadata.text();
    return { value: bytes, ...(metadataText ? { metadata: JSON.parse(metadataText) as unknown } : {}) };
  }
  return { value: new Uint8Array(req.body) };
}
