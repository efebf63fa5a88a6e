/**
 * Process-wide redaction: every secret value the process learns is registered here, and every
 * line the CLI prints (stdout, stderr, --verbose traces, error messages) passes through `redact`.
 * Registering happens where secrets enter (secret store reads, prompts, env), so no caller has to
 * remember to mask.
 */
const MASK = '****';
const MIN_LENGTH = 6; // shorter values would mask ordinary words
const known = new Set<string>();
let pattern: RegExp | null = null;

export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < MIN_LENGTH || known.has(value)) return;
  known.add(value);
  // Also mask common encodings a secret may travel in.
  const b64 = Buffer.from(value, 'utf8').toString('base64');
  if (b64.length >= MIN_LENGTH) known.add(b64);
  const uri = encodeURIComponent(value);
  if (uri !== value) known.add(uri);
  pattern = null;
}

function compiled(): RegExp | null {
  if (known.size === 0) return null;
  if (!pattern) {
    // Longest first so a secret that contains another is masked whole.
    const parts = [...known].sort((a, b) => b.length - a.length).map(escapeRegExp);
    pattern = new RegExp(parts.join('|'), 'g');
  }
  return pattern;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Masks every known secret in `text`. `reveal` lists values the caller deliberately shows (only
 * `connect`, whose whole purpose is to print the user's own API key into a config snippet).
 */
export function redact(text: string, reveal?: ReadonlySet<string>): string {
  const re = compiled();
  if (!re) return text;
  return text.replace(re, (m) => (reveal?.has(m) ? m : MASK));
}

/** True when `text` contains any registered secret value (or a registered encoding of one). */
export function containsKnownSecret(text: string): boolean {
  const re = compiled();
  // `search` always starts at index 0 and ignores the global regex's lastIndex.
  return re ? text.search(re) !== -1 : false;
}

/**
 * Masks what looks like a secret in text the CLI did not write and whose secrets it may not know
 * (a VM's console, a server's log lines): values of NAME=/NAME: settings whose name says token,
 * secret, key, password or passphrase; Bearer credentials; crawl4ai-mcp keys (c4m_…); cloudflared
 * connector tokens (base64 JSON, "eyJ…"); bare 64-hex tokens (not the sha256: of an image digest).
 * Known secrets are masked by `redact` as well, on output.
 */
export function redactLikelySecrets(text: string): string {
  return text
    .replace(/\b([A-Za-z0-9_.-]*(?:TOKEN|SECRET|PASSWORD|PASSPHRASE|API_?KEY|PRIVATE_KEY|ACCESS_KEY)[A-Za-z0-9_.-]*)(["']?\s*[=:]\s*["']?)[^\s"',;]+/gi, `$1$2${MASK}`)
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${MASK}`)
    .replace(/\bc4m_[A-Za-z0-9_-]{43}\b/g, MASK)
    .replace(/\beyJ[A-Za-z0-9+/=_-]{20,}/g, MASK)
    .replace(/(?<!sha256:)\b[0-9a-fA-F]{64}\b/g, MASK);
}
