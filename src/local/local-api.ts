import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stringify as toYaml } from 'yaml';
import { formatDiagnostic, formatResourceRef, type AnyResource, type Diagnostic, type ResourceRef, type SourceFile } from '../config/index.ts';
import type { Result } from '../core/index.ts';
import type { GatewayStatus, WorkloadStatus } from './local-mesh.ts';

/** What the API changes and reads: the control plane's configuration (validated as a whole before anything changes). */
export interface LocalConfigStore {
  apply(files: readonly SourceFile[]): Result<{ readonly changes: readonly { readonly resource: ResourceRef; readonly action: string }[]; readonly warnings: readonly Diagnostic[] }, Diagnostic[]>;
  delete(input: readonly SourceFile[] | readonly ResourceRef[]): Result<{ readonly deleted: readonly ResourceRef[]; readonly notFound: readonly ResourceRef[] }, Diagnostic[]>;
  resources(): readonly AnyResource[];
}

export interface LocalApiOptions {
  /** Only a caller presenting this token (kept in the state directory, readable by its owner) is served. */
  readonly token: string;
  readonly store: LocalConfigStore;
  readonly status: () => { readonly workloads: readonly WorkloadStatus[]; readonly gateway: GatewayStatus | undefined; readonly controlPlane: Readonly<Record<string, string>> };
  /** `weft down`: answer first, then stop everything. */
  readonly shutdown: () => void;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * The local mode's API, which `weft apply/delete/get/status/down/run` use (`weft logs` reads the files): JSON over HTTP on
 * the loopback, each request carrying the state directory's token as a bearer token.
 */
export class LocalApi {
  readonly #options: LocalApiOptions;
  readonly #server: Server;

  constructor(options: LocalApiOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => void this.#handle(req, res).catch((error: unknown) => {
      send(res, error instanceof BadRequest ? 400 : 500, { error: (error as Error).message });
    }));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve((this.#server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.#authorized(req.headers.authorization)) {
      send(res, 401, { error: 'this API takes the token in the state directory of the running mesh (weft finds it itself)' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://local');
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /v1/status':
        send(res, 200, this.#options.status());
        return;
      case 'POST /v1/apply': {
        const body = await readJson(req);
        const result = this.#options.store.apply(sourceFiles(body));
        if (!result.ok) {
          send(res, 422, { error: 'the configuration was refused; nothing changed', diagnostics: result.error.map(formatDiagnostic) });
          return;
        }
        send(res, 200, {
          changes: result.value.changes.map((c) => `${formatResourceRef(c.resource)} ${c.action}`),
          warnings: result.value.warnings.map(formatDiagnostic),
        });
        return;
      }
      case 'POST /v1/delete': {
        const body = await readJson(req) as { files?: unknown; refs?: ResourceRef[] };
        const kinds = [...new Set(this.#options.store.resources().map((r) => r.kind))];
        const refs = body.refs?.map((ref) => ({ ...ref, kind: kinds.find((k) => kindMatches(k, ref.kind.toLowerCase())) ?? ref.kind }));
        const result = this.#options.store.delete(refs ?? sourceFiles(body));
        if (!result.ok) {
          send(res, 422, { error: 'the deletion was refused; nothing changed', diagnostics: result.error.map(formatDiagnostic) });
          return;
        }
        send(res, 200, { deleted: result.value.deleted.map(formatResourceRef), notFound: result.value.notFound.map(formatResourceRef) });
        return;
      }
      case 'GET /v1/resources': {
        const kind = url.searchParams.get('kind')?.toLowerCase();
        const name = url.searchParams.get('name');
        const namespace = url.searchParams.get('namespace');
        const matches = this.#options.store.resources().filter((r) => (kind === undefined || kindMatches(r.kind, kind))
          && (name === null || r.name === name) && (namespace === null || r.namespace === namespace));
        send(res, 200, {
          resources: matches.map((r) => ({
            kind: r.kind, apiVersion: r.apiVersion, name: r.name, namespace: r.namespace, source: `${r.origin.file}:${r.origin.line}`,
            yaml: toYaml(r.object),
          })),
        });
        return;
      }
      case 'POST /v1/shutdown':
        send(res, 202, { stopping: true });
        this.#options.shutdown();
        return;
      default:
        send(res, 404, { error: `no ${route} in the local API` });
    }
  }

  #authorized(header: string | undefined): boolean {
    const expected = Buffer.from(`Bearer ${this.#options.token}`);
    const given = Buffer.from(header ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/** `vs`, `virtualservice` and `VirtualServices` all name the VirtualService kind, as kubectl takes them. */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  vs: 'virtualservice', dr: 'destinationrule', gw: 'gateway', se: 'serviceentry', pa: 'peerauthentication', ra: 'requestauthentication',
  ap: 'authorizationpolicy', svc: 'service', sa: 'serviceaccount', we: 'workloadentry', lw: 'localworkload', ns: 'namespace',
};

function kindMatches(kind: string, asked: string): boolean {
  const k = kind.toLowerCase();
  const wanted = SHORT_NAMES[asked] ?? asked;
  return k === wanted || `${k}s` === wanted || (k.endsWith('y') && `${k.slice(0, -1)}ies` === wanted);
}

function sourceFiles(body: unknown): SourceFile[] {
  const files = (body as { files?: unknown } | null)?.files;
  if (!Array.isArray(files) || !files.every((f) => typeof f?.name === 'string' && typeof f?.text === 'string')) {
    throw new BadRequest('the request must carry {"files": [{"name": ..., "text": ...}]}');
  }
  return files as SourceFile[];
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(`the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequest('the request body is not JSON');
  }
}

/** A request the API cannot act on: answered 400 with why. */
class BadRequest extends Error {}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
