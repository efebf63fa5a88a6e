/**
 * A throwaway self-signed certificate for a loopback HTTPS emulator, made with openssl (as
 * testing-recipes "TLS for emulators" says). The child process trusts it through
 * NODE_EXTRA_CA_CERTS=<certFile>; the test process passes `ca` to its own clients.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCertificate {
  dir: string;
  certFile: string;
  cert: string;
  key: string;
}

/** `dnsNames`: public hostnames the certificate also names (the edge emulator checks the name it forwards for). */
export function makeTestCertificate(prefix: string, dnsNames: readonly string[] = []): TestCertificate {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-tls-`));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', `subjectAltName=IP:127.0.0.1,DNS:localhost${dnsNames.map((n) => `,DNS:${n}`).join('')}`],
    { stdio: 'ignore' },
  );
  return { dir, certFile, cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') };
}
