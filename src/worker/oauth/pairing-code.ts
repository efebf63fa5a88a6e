/**
 * Pairing codes as people type them: 8 characters of Crockford's base32 (no I, L, O, U, so no
 * 1/I or 0/O mix-ups), shown as XXXX-XXXX. Input is forgiving: case, spaces and dashes are
 * ignored, and the look-alikes I/L and O are read as 1 and 0.
 */
import { hashApiKey } from '../../ground/api-key.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const LENGTH = 8;

export function generatePairingCode(): string {
  const bytes = new Uint8Array(LENGTH);
  crypto.getRandomValues(bytes);
  // 256 is a multiple of 32: every letter equally likely
  const raw = [...bytes].map((b) => ALPHABET[b % 32]).join('');
  return `${raw.slice(0, 4)}-${raw.slice(4)}`;
}

/** The canonical 8 characters of what someone typed, or undefined when it cannot be a code. */
export function normalisePairingCode(typed: string): string | undefined {
  const s = typed.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (s.length !== LENGTH) return undefined;
  for (const c of s) if (!ALPHABET.includes(c)) return undefined;
  return s;
}

export async function hashPairingCode(canonical: string): Promise<string> {
  return hashApiKey(`pairing:${canonical}`);
}
