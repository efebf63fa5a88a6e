/**
 * A throwaway self-signed certificate for 127.0.0.1, made with openssl (the Azure SDK refuses http for bearer tokens).
 * It also names Azure's public hosts, so the Cloudflare edge emulator can forward a Worker's fetch of
 * https://management.azure.com or https://login.microsoftonline.com to it and verify it against this CA.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCertificate {
  key: string;
  cert: string;
  /** the PEM file a child process gets as NODE_EXTRA_CA_CERTS */
  certFile: string;
  dir: string;
}

export function makeTestCertificate(): TestCertificate {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-azure-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:management.azure.com,DNS:login.microsoftonline.com'],
    { stdio: 'ignore' },
  );
  return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8'), certFile, dir };
}
