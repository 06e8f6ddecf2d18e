import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small in-process distribution-spec registry on 127.0.0.1 for error paths the real registry cannot
 * produce on demand: every request is logged and may be intercepted (faults, odd answers). Optionally
 * serves the referrers API (which 2.8 lacks). Never the only proof: the real registry is tested too.
 */
export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
}

export interface FakeRegistryOptions {
  referrersApi?: boolean;
  /** Runs first; return true when it has answered the request itself. */
  intercept?: (req: FakeRequest, res: ServerResponse, raw: IncomingMessage) => boolean | Promise<boolean>;
}

export interface FakeRegistry {
  host: string;
  url: string;
  requests: FakeRequest[];
  blobs: Map<string, Buffer>;
  manifests: Map<string, { bytes: Buffer; mediaType: string }>;
  tags: Map<string, string>;
  /** Upload sessions completed with a PUT. */
  completedUploads: number;
  close(): Promise<void>;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ code, message }] }));
}

export async function startFakeRegistry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const blobs = new Map<string, Buffer>();
  const repoBlobs = new Map<string, Set<string>>();
  const manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  const tags = new Map<string, string>();
  const uploads = new Map<string, { repo: string; parts: Buffer[] }>();
  const requests: FakeRequest[] = [];
  const state = { completedUploads: 0 };
  const inRepo = (repo: string) => {
    let s = repoBlobs.get(repo);
    if (!s) repoBlobs.set(repo, (s = new Set()));
    return s;
  };

  const handle = async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(raw.url ?? '/', 'http://127.0.0.1');
    const req: FakeRequest = { method: raw.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: raw.headers };
    requests.push(req);
    if (options.intercept && (await options.intercept(req, res, raw))) return;
    const p = url.pathname;
    let m: RegExpExecArray | null;
    if (p === '/v2/' || p === '/v2') {
      res.writeHead(200).end('{}');
    } else if ((m = /^\/v2\/(.+)\/blobs\/uploads\/$/.exec(p)) && req.method === 'POST') {
      const repo = m[1] as string;
      const mount = url.searchParams.get('mount');
      const from = url.searchParams.get('from');
      if (mount && from && repoBlobs.get(from)?.has(mount)) {
        inRepo(repo).add(mount);
        res.writeHead(201, { location: `/v2/${repo}/blobs/${mount}`, 'docker-content-digest': mount }).end();
        return;
      }
      const id = randomUUID();
      uploads.set(id, { repo, parts: [] });
      res.writeHead(202, { location: `/v2/${repo}/blobs/uploads/${id}?_state=secret-state-${id}`, range: '0-0' }).end();
    } else if ((m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/.exec(p))) {
      const upload = uploads.get(m[2] as string);
      const body = await readBody(raw);
      if (!upload) return error(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown');
      if (req.method === 'DELETE') {
        uploads.delete(m[2] as string);
        res.writeHead(204).end();
      } else if (req.method === 'PATCH') {
        upload.parts.push(body);
        const size = upload.parts.reduce((n, b) => n + b.byteLength, 0);
        res.writeHead(202, { location: `/v2/${upload.repo}/blobs/uploads/${m[2]}?_state=next`, range: `0-${size - 1}` }).end();
      } else if (req.method === 'PUT') {
        upload.parts.push(body);
        const bytes = Buffer.concat(upload.parts);
        const digest = url.searchParams.get('digest');
        if (digest !== sha256(bytes)) return error(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
        uploads.delete(m[2] as string);
        blobs.set(digest, bytes);
        inRepo(upload.repo).add(digest);
        state.completedUploads++;
        res.writeHead(201, { location: `/v2/${upload.repo}/blobs/${digest}`, 'docker-content-digest': digest }).end();
      } else {
        res.writeHead(405).end();
      }
    } else if ((m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(p))) {
      const bytes = repoBlobs.get(m[1] as string)?.has(m[2] as string) ? blobs.get(m[2] as string) : undefined;
      if (!bytes) return error(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
      res.writeHead(200, { 'content-length': bytes.byteLength, 'docker-content-digest': m[2] as string });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    } else if ((m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(p))) {
      const [repo, ref] = [m[1] as string, m[2] as string];
      if (req.method === 'PUT') {
        const bytes = await readBody(raw);
        const digest = sha256(bytes);
        const mediaType = String(raw.headers['content-type'] ?? '');
        manifests.set(`${repo}@${digest}`, { bytes, mediaType });
        if (!ref.startsWith('sha256:')) tags.set(`${repo}:${ref}`, digest);
        const headers: Record<string, string> = { location: `/v2/${repo}/manifests/${digest}`, 'docker-content-digest': digest };
        const subject = (JSON.parse(bytes.toString('utf8')) as { subject?: { digest?: string } }).subject?.digest;
        if (subject && options.referrersApi) headers['oci-subject'] = subject;
        res.writeHead(201, headers).end();
        return;
      }
      const digest = ref.startsWith('sha256:') ? ref : tags.get(`${repo}:${ref}`);
      const found = digest ? manifests.get(`${repo}@${digest}`) : undefined;
      if (!found || !digest) return error(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      res.writeHead(200, { 'content-type': found.mediaType, 'content-length': found.bytes.byteLength, 'docker-content-digest': digest });
      res.end(req.method === 'HEAD' ? undefined : found.bytes);
    } else if ((m = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/.exec(p)) && options.referrersApi) {
      const [repo, subject] = [m[1] as string, m[2] as string];
      const list = [];
      for (const [key, { bytes, mediaType }] of manifests) {
        if (!key.startsWith(`${repo}@`)) continue;
        const doc = JSON.parse(bytes.toString('utf8')) as { subject?: { digest: string }; artifactType?: string; config?: { mediaType: string }; annotations?: Record<string, string> };
        if (doc.subject?.digest !== subject) continue;
        list.push({ mediaType, digest: key.slice(repo.length + 1), size: bytes.byteLength, artifactType: doc.artifactType ?? doc.config?.mediaType, ...(doc.annotations ? { annotations: doc.annotations } : {}) });
      }
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
      res.end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: list }));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
    }
  };

  const server: Server = createServer((raw, res) => {
    handle(raw, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    blobs,
    manifests,
    tags,
    get completedUploads() {
      return state.completedUploads;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
