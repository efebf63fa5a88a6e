/**
 * A throwaway certificate authority standing in for the public CAs the Cloudflare edge trusts, and
 * leaf certificates it signs for public-looking hostnames, made with openssl. A loopback HTTPS server
 * with such a leaf is "publicly trusted" for the edge emulator (HostTarget.ca); a self-signed one is not.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Leaf {
  cert: string;
  key: string;
}

export interface TestCa {
  /** the CA certificate (PEM): what the edge trusts */
  cert: string;
  /** a leaf for `hostnames`, signed by this CA */
  issue(hostnames: string[]): Leaf;
  /** a self-signed leaf for `hostnames` (no CA the edge knows signed it) */
  selfSigned(hostnames: string[]): Leaf;
  dispose(): void;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

export function makeTestCa(): TestCa {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-test-ca-'));
  const caKey = path.join(dir, 'ca.key');
  const caCert = path.join(dir, 'ca.pem');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '2', '-subj', '/CN=crawl4ai-mcp test public CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let n = 0;
  const san = (hostnames: string[]) => `subjectAltName=${hostnames.map((h) => `DNS:${h}`).join(',')}`;
  return {
    cert: fs.readFileSync(caCert, 'utf8'),
    issue(hostnames) {
      const base = path.join(dir, `leaf${++n}`);
      openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${hostnames[0]}`]);
      fs.writeFileSync(`${base}.ext`, `${san(hostnames)}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', `${base}.pem`, '-days', '2', '-extfile', `${base}.ext`]);
      return { cert: fs.readFileSync(`${base}.pem`, 'utf8'), key: fs.readFileSync(`${base}.key`, 'utf8') };
    },
    selfSigned(hostnames) {
      const base = path.join(dir, `self${++n}`);
      openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.pem`, '-days', '2', '-subj', `/CN=${hostnames[0]}`, '-addext', san(hostnames)]);
      return { cert: fs.readFileSync(`${base}.pem`, 'utf8'), key: fs.readFileSync(`${base}.key`, 'utf8') };
    },
    dispose() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
