/**
 * API keys for the MCP Worker: `c4m_` + 32 random bytes in base64url (43 characters).
 *
 * Only the SHA-256 hash (lowercase hex) of a key is ever stored: in the Worker's key registry and
 * in the Worker secret `BOOTSTRAP_KEY_SHA256`. WebCrypto only, so the same code runs in the CLI
 * (Node) and in the Worker (workerd).
 */
export const API_KEY_PREFIX = 'c4m_';
export const API_KEY_RANDOM_BYTES = 32;
/** `c4m_` + 43 base64url characters (32 bytes, no padding). */
export const API_KEY_RE = /^c4m_[A-Za-z0-9_-]{43}$/;
/** A SHA-256 hash as stored: 64 lowercase hex characters. */
export const API_KEY_HASH_RE = /^[0-9a-f]{64}$/;

function base64url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** A fresh API key from the platform CSPRNG. */
export function generateApiKey(): string {
  const bytes = new Uint8Array(API_KEY_RANDOM_BYTES);
  globalThis.crypto.getRandomValues(bytes);
  return API_KEY_PREFIX + base64url(bytes);
}

export function isWellFormedApiKey(value: string): boolean {
  return API_KEY_RE.test(value);
}

/** SHA-256 of the key's UTF-8 bytes, as 64 lowercase hex characters. */
export async function hashApiKey(key: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(key));
  return hex(new Uint8Array(digest));
}

/**
 * Compares two strings in time that depends only on their lengths (and on `b`'s length when they
 * differ), never on where they first differ. Meant for equal-length hex hashes.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const len = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < len; i++) {
    // charCodeAt past the end gives NaN; `| 0` turns it into 0 without a branch.
    diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  }
  return diff === 0;
}

/** A short, non-secret label for a key, for listings and logs: `c4m_AbCd…wXyZ`. */
export function apiKeyHint(key: string): string {
  if (key.length < 12) return 'c4m_…';
  return `${key.slice(0, 8)}…${key.slice(-4)}`;
}
