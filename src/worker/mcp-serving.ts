/**
 * How the Worker hands an MCP request to the SDK. Modern (2026-07-28) requests, and anything the
 * SDK must answer itself, go to `createMcpHandler`. A 2025-era POST (no per-request envelope, as
 * the SDK's own `isLegacyRequest` routes it) is served the way that handler's legacy leg serves it
 * (a fresh server on a fresh stateless streamable HTTP transport, POST only) with one difference:
 * the leg learns the answer's end by re-streaming it, and closes server and transport before it
 * lets that end go, so every answer waits for the teardown. Here the transport's last answer
 * schedules the teardown a turn later and the answer's end leaves first (0.15–0.25 ms less a call
 * in bench/keys-floor.mjs). The teardown still always runs: the request's waitUntil holds it, and
 * a client that goes away tears it down at once.
 */
import {
  createMcpHandler,
  isJSONRPCErrorResponse,
  isJSONRPCResultResponse,
  isLegacyRequest,
  WebStandardStreamableHTTPServerTransport,
  type AuthInfo,
  type JSONRPCMessage,
  type McpServer,
  type RequestId,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';

export interface McpServing {
  fetch(request: Request, options: { authInfo: AuthInfo; parsedBody?: unknown }, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response>;
}

/** The ids of the requests (not notifications or responses) in a POST body: each gets an answer. */
function requestIdsIn(body: unknown): Set<RequestId> {
  const ids = new Set<RequestId>();
  for (const m of Array.isArray(body) ? body : [body]) {
    if (!m || typeof m !== 'object') continue;
    const { method, id } = m as { method?: unknown; id?: unknown };
    if (typeof method === 'string' && (typeof id === 'string' || typeof id === 'number')) ids.add(id);
  }
  return ids;
}

/** `factory` builds the per-request server from the request's authInfo (hooks and scope ride in it). */
export function mcpServing(factory: (authInfo: AuthInfo | undefined) => McpServer): McpServing {
  const handler = createMcpHandler((ctx) => factory(ctx.authInfo), { legacy: 'stateless' });

  async function serveLegacy(request: Request, authInfo: AuthInfo, parsedBody: unknown, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response> {
    const server = factory(authInfo);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await server.connect(transport);
    let tornDown = false;
    let ended!: () => void;
    const end = new Promise<void>((r) => (ended = r));
    const teardown = () => {
      if (tornDown) return;
      tornDown = true;
      request.signal?.removeEventListener('abort', teardown);
      transport.close().catch(() => undefined);
      server.close().catch(() => undefined);
      ended();
    };
    request.signal?.addEventListener('abort', teardown, { once: true });
    const unanswered = requestIdsIn(parsedBody);
    const send = transport.send.bind(transport);
    transport.send = async (message: JSONRPCMessage, options?: TransportSendOptions) => {
      await send(message, options);
      if (!isJSONRPCResultResponse(message) && !isJSONRPCErrorResponse(message)) return;
      if (message.id !== null && message.id !== undefined) unanswered.delete(message.id);
      // the stream ends once its last answer is written; tear down after that end has left
      if (unanswered.size === 0) setTimeout(teardown, 0);
    };
    let response: Response;
    try {
      response = await transport.handleRequest(request, { authInfo, parsedBody });
    } catch (e) {
      teardown();
      throw e;
    }
    // an answer that is no open stream (202 for notifications, a 4xx refusal) is complete already
    if (response.body === null || !/^text\/event-stream\b/i.test(response.headers.get('content-type') ?? '')) teardown();
    else ctx.waitUntil(end);
    return response;
  }

  return {
    async fetch(request, options, ctx) {
      const { authInfo, parsedBody } = options;
      if (request.method === 'POST' && parsedBody !== undefined && (await isLegacyRequest(request, parsedBody))) {
        return serveLegacy(request, authInfo, parsedBody, ctx);
      }
      return handler.fetch(request, { authInfo, ...(parsedBody !== undefined ? { parsedBody } : {}) });
    },
  };
}
