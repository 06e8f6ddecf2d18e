import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsServer {
  /** https://127.0.0.1:<port>/, answering "trusted". */
  url: string;
  /** The server's self-signed certificate (PEM): what a client must be told to trust. */
  certFile: string;
  /** A directory for the test's own files, removed by close(). */
  dir: string;
  /** A second self-signed certificate (PEM file) that does not sign the server's. */
  otherCert(): Promise<string>;
  close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1 with a fresh self-signed certificate (made by openssl). */
export async function selfSignedTlsServer(): Promise<TlsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'lading-tls-'));
  const selfSigned = async (name: string, cn: string) => {
    const [key, cert] = [join(dir, `${name}.key`), join(dir, `${name}.pem`)];
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=IP:${cn}`]);
    return { key, cert };
  };
  const { key, cert } = await selfSigned('server', '127.0.0.1');
  const server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (_req, res) => res.end('trusted'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as { port: number }).port}/`,
    certFile: cert,
    dir,
    otherCert: async () => (await selfSigned('other', '127.0.0.2')).cert,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
