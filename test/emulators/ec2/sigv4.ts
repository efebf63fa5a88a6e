/** Parsing and (optionally) verifying AWS Signature Version 4 on incoming requests. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SigV4Auth {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** `AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/ec2/aws4_request, SignedHeaders=a;b, Signature=hex` */
export function parseAuthorization(header: string | undefined): SigV4Auth | undefined {
  if (!header || !header.startsWith('AWS4-HMAC-SHA256 ')) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.slice('AWS4-HMAC-SHA256 '.length).split(',')) {
    const [k, ...v] = part.trim().split('=');
    if (k) fields.set(k, v.join('='));
  }
  const cred = fields.get('Credential')?.split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!cred || cred.length !== 5 || cred[4] !== 'aws4_request' || !cred[0] || !signedHeaders || !signature) return undefined;
  return { accessKeyId: cred[0], date: cred[1]!, region: cred[2]!, service: cred[3]!, signedHeaders: signedHeaders.split(';'), signature };
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Recomputes the signature with the known secret; true when it matches. */
export function verifySignature(method: string, url: string, headers: IncomingHttpHeaders, body: Buffer, auth: SigV4Auth, secret: string): boolean {
  const [rawPath = '/', rawQuery = ''] = url.split('?', 2) as [string, string?];
  const path = rawPath
    .split('/')
    .map((seg) => rfc3986(seg))
    .join('/');
  const query = rawQuery
    ? [...new URLSearchParams(rawQuery).entries()]
        .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
        .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
        .map(([k, v]) => `${k}=${v}`)
        .join('&')
    : '';
  const header = (name: string) => {
    const v = headers[name];
    return (Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/\s+/g, ' ');
  };
  const canonicalHeaders = auth.signedHeaders.map((h) => `${h}:${header(h)}\n`).join('');
  const declared = headers['x-amz-content-sha256'];
  const payloadHash = typeof declared === 'string' ? declared : sha256(body);
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256(body)) return false;
  const canonical = [method, path, query, canonicalHeaders, auth.signedHeaders.join(';'), payloadHash].join('\n');
  const amzDate = header('x-amz-date');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, auth.date), auth.region), auth.service), 'aws4_request');
  const expected = createHmac('sha256', key).update(stringToSign).digest();
  const given = Buffer.from(auth.signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
