import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, sign, verify as cryptoVerify, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A Fulcio and a Rekor for keyless tests, on loopback, that behave like the real ones where verification
 * looks: a test CA (openssl) certifies the ephemeral key for the token's identity and OIDC issuer; the log
 * keeps an RFC 6962 Merkle tree of canonical `dsse` entry bodies, answers with a real inclusion proof, a
 * checkpoint (signed note) and a signed entry timestamp made with its own P-256 key. `trustedRoot()` is the
 * Sigstore trusted root naming that CA and that log. Faults for negative tests: `mode`.
 */
export interface FakeSigstore {
  url: string;
  /** The CA certificate (PEM). */
  caPem: string;
  /** The identity and issuer the CA writes into every certificate. */
  identity: string;
  issuer: string;
  /** `ok`; `bad-proof`: a wrong sibling hash in the inclusion proof; `foreign-checkpoint`: the checkpoint signed by another key. */
  mode: 'ok' | 'bad-proof' | 'foreign-checkpoint';
  /** Every request received (method and path, parsed JSON body), for request-shape tests. */
  requests: { url: string; body: Record<string, any> }[];
  /** Fulcio's status: not 200 → refuses with `{code, message: "token <token> rejected"}` (the token echoed, to test redaction). */
  fulcioStatus: number;
  /** When set, Rekor answers this instead of logging the entry. */
  rekorAnswer?: { status: number; body: unknown };
  /** Entries in the log (the tree is pre-filled with unrelated entries so proofs have depth). */
  size(): number;
  /** The trusted root JSON; `logKey: 'other'` names a different log key (nothing the log signed verifies). */
  trustedRoot(options?: { logKey?: 'own' | 'other' }): Record<string, unknown>;
  close(): Promise<void>;
}

const b64 = (b: Buffer) => b.toString('base64');
const sha256 = (...parts: (Buffer | string)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** RFC 8785-style canonical JSON for the plain values a Rekor entry holds (sorted keys, no spaces). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const leafHash = (leaf: Buffer) => sha256(Buffer.from([0]), leaf);
const nodeHash = (l: Buffer, r: Buffer) => sha256(Buffer.from([1]), l, r);
const split = (n: number) => 2 ** Math.floor(Math.log2(n - 1)); // largest power of two < n

/** RFC 6962 §2.1 Merkle tree hash. */
function treeHash(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leafHash(leaves[0]!);
  const k = split(leaves.length);
  return nodeHash(treeHash(leaves.slice(0, k)), treeHash(leaves.slice(k)));
}

/** RFC 6962 §2.1.1 audit path of leaf m, lowest level first. */
function auditPath(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return m < k ? [...auditPath(m, leaves.slice(0, k)), treeHash(leaves.slice(k))] : [...auditPath(m - k, leaves.slice(k)), treeHash(leaves.slice(0, k))];
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, any>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, any>;
}

export async function startFakeSigstore(identity = 'dev@example.com', issuer = 'https://issuer.example'): Promise<FakeSigstore> {
  const dir = mkdtempSync(join(tmpdir(), 'lading-fake-sigstore-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'),
    '-subj', '/O=lading test/CN=lading test CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], { stdio: 'ignore' });
  const caPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
  const logKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const otherKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  const logId = sha256(spki(logKey.publicKey));
  const leaves: Buffer[] = Array.from({ length: 6 }, (_, i) => Buffer.from(canonicalJson({ unrelated: i })));

  /** Fulcio: check the proof of possession (the token's subject signed), certify the key for identity + issuer. */
  const certify = (req: Record<string, any>): string => {
    const pub = req.publicKeyRequest.publicKey.content as string;
    const sub = JSON.parse(Buffer.from(String(req.credentials.oidcIdentityToken).split('.')[1]!, 'base64url').toString()).sub as string;
    if (!cryptoVerify('sha256', Buffer.from(sub), createPublicKey(pub), Buffer.from(req.publicKeyRequest.proofOfPossession, 'base64'))) throw new Error('bad proof of possession');
    writeFileSync(join(dir, 'leaf.pub'), pub);
    writeFileSync(join(dir, 'ext.cnf'), `[v3]\nsubjectAltName=critical,email:${identity}\n1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:${issuer}\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n`);
    execFileSync('openssl', ['x509', '-new', '-force_pubkey', join(dir, 'leaf.pub'), '-subj', '/', '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'),
      '-days', '1', '-extfile', join(dir, 'ext.cnf'), '-extensions', 'v3', '-out', join(dir, 'leaf.pem')], { stdio: 'ignore' });
    return readFileSync(join(dir, 'leaf.pem'), 'utf8');
  };

  let url = '';
  /** Rekor (API v1, dsse 0.0.1): canonicalize the entry as Rekor does, append it, answer with proof, checkpoint and SET. */
  const logEntry = (req: Record<string, any>): Record<string, unknown> => {
    const envelope = String(req.spec.proposedContent.envelope);
    const env = JSON.parse(envelope) as { payload: string; signatures: { sig: string }[] };
    const body = Buffer.from(canonicalJson({
      apiVersion: '0.0.1', kind: 'dsse',
      spec: {
        envelopeHash: { algorithm: 'sha256', value: sha256(envelope).toString('hex') },
        payloadHash: { algorithm: 'sha256', value: sha256(Buffer.from(env.payload, 'base64')).toString('hex') },
        signatures: env.signatures.map((s) => ({ signature: s.sig, verifier: req.spec.proposedContent.verifiers[0] })),
      },
    }));
    leaves.push(body);
    const index = leaves.length - 1;
    const size = leaves.length;
    const root = treeHash(leaves);
    const path = auditPath(index, leaves);
    if (fake.mode === 'bad-proof') path[0] = sha256('not the sibling');
    const integratedTime = Math.floor(Date.now() / 1000);
    const set = sign('sha256', Buffer.from(canonicalJson({ body: b64(body), integratedTime, logID: logId.toString('hex'), logIndex: index })), logKey.privateKey);
    const note = `lading-test-log - 1\n${size}\n${b64(root)}\n`;
    const noteKey = fake.mode === 'foreign-checkpoint' ? otherKey.privateKey : logKey.privateKey;
    const checkpoint = `${note}\n\u2014 ${new URL(url).host} ${b64(Buffer.concat([logId.subarray(0, 4), sign('sha256', Buffer.from(note), noteKey)]))}\n`;
    return {
      [sha256(body).toString('hex')]: {
        body: b64(body), integratedTime, logID: logId.toString('hex'), logIndex: index,
        verification: {
          inclusionProof: { checkpoint, hashes: path.map((h) => h.toString('hex')), logIndex: index, rootHash: root.toString('hex'), treeSize: size },
          signedEntryTimestamp: b64(set),
        },
      },
    };
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await jsonBody(req);
      fake.requests.push({ url: `${req.method} ${req.url}`, body });
      const send = (status: number, v: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (req.method === 'POST' && req.url === '/api/v2/signingCert') {
        if (fake.fulcioStatus !== 200) return send(fake.fulcioStatus, { code: fake.fulcioStatus, message: `token ${body.credentials?.oidcIdentityToken} rejected` });
        return send(200, { signedCertificateEmbeddedSct: { chain: { certificates: [certify(body), caPem] } } });
      }
      if (req.method === 'POST' && req.url === '/api/v1/log/entries') {
        return fake.rekorAnswer ? send(fake.rekorAnswer.status, fake.rekorAnswer.body) : send(201, logEntry(body));
      }
      send(404, { message: 'no route' });
    })().catch((err: Error) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: err.message }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeSigstore = {
    url, caPem, identity, issuer, mode: 'ok', requests: [], fulcioStatus: 200,
    size: () => leaves.length,
    trustedRoot: (options = {}) => {
      const key = options.logKey === 'other' ? otherKey.publicKey : logKey.publicKey;
      return {
        mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
        tlogs: [{
          baseUrl: url, hashAlgorithm: 'SHA2_256',
          publicKey: { rawBytes: b64(spki(key)), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2000-01-01T00:00:00Z' } },
          logId: { keyId: b64(sha256(spki(key))) },
        }],
        certificateAuthorities: [{
          subject: { organization: 'lading test', commonName: 'lading test CA' }, uri: url,
          certChain: { certificates: [{ rawBytes: b64(new NodeX509(caPem).raw) }] }, validFor: { start: '2000-01-01T00:00:00Z' },
        }],
        ctlogs: [],
        timestampAuthorities: [],
      };
    },
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fake;
}
