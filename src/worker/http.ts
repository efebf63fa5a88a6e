/** Small response helpers shared by the Worker's routes. */

export const REALM = 'crawl4ai-mcp';

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
  });
}

export function unauthorized(error: 'invalid_request' | 'invalid_token', description: string): Response {
  const challenge =
    error === 'invalid_request' ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`;
  return json({ error, error_description: description }, 401, { 'www-authenticate': challenge });
}

const BEARER_RE = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The bearer token of a request, or the 401 to answer. */
export function bearerOf(request: Request): string | Response {
  const header = request.headers.get('authorization');
  if (!header) return unauthorized('invalid_request', 'missing Authorization: Bearer <API key>');
  const m = BEARER_RE.exec(header);
  if (!m) return unauthorized('invalid_token', 'the Authorization header must be "Bearer <API key>"');
  return m[1]!;
}
