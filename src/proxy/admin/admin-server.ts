import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../../core/index.ts';

export interface AdminRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
}

export interface AdminResponse {
  readonly status: number;
  /** `text/plain; charset=UTF-8` unless said otherwise. */
  readonly contentType?: string;
  readonly body: string;
  /** Runs once the response has been sent (`/quitquitquit` shuts down after answering). */
  readonly afterSent?: () => void;
}

/** One path of an admin port. Endpoints that change the proxy take POST only, as Envoy's do. */
export interface AdminEndpoint {
  readonly path: string;
  readonly help: string;
  readonly method: 'GET' | 'POST';
  handle(request: AdminRequest): AdminResponse | Promise<AdminResponse>;
}

export interface AdminServerOptions {
  readonly endpoints: readonly AdminEndpoint[];
  readonly logger: Logger;
}

export const TEXT = 'text/plain; charset=UTF-8';
export const JSON_TYPE = 'application/json';

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  if (colon <= 0) throw new Error(`"${address}" is not host:port`);
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(colon + 1)) };
}

/**
 * A small HTTP server for operating the proxy, on the model of Envoy's admin port: each path is an
 * `AdminEndpoint`. The same class serves the admin port (15000), the health port (15021) and the
 * Prometheus port (15090), each with its own endpoints.
 */
export class AdminServer {
  readonly #options: AdminServerOptions;
  readonly #endpoints: ReadonlyMap<string, AdminEndpoint>;
  readonly #server: Server;

  constructor(options: AdminServerOptions) {
    this.#options = options;
    this.#endpoints = new Map(options.endpoints.map((e) => [e.path, e]));
    this.#server = createServer((request, response) => void this.#serve(request, response));
  }

  /** Binds `host:port` (port 0 picks one) and returns the port. */
  listen(address: string): Promise<number> {
    const { host, port } = splitAddress(address);
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        const bound = this.#server.address();
        resolve(typeof bound === 'object' && bound !== null ? bound.port : port);
      });
    });
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #help(): string {
    return [...this.#endpoints.values()].map((e) => `  ${e.path}${e.method === 'POST' ? ' (POST)' : ''}: ${e.help}`).join('\n');
  }

  async #serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://admin');
    const method = request.method ?? 'GET';
    let result: AdminResponse;
    const endpoint = this.#endpoints.get(url.pathname);
    if (url.pathname === '/help' || (url.pathname === '/' && endpoint === undefined)) {
      result = { status: 200, body: `admin commands are:\n${this.#help()}\n` };
    } else if (endpoint === undefined) {
      result = { status: 404, body: `invalid path. admin commands are:\n${this.#help()}\n` };
    } else if (endpoint.method === 'POST' && method !== 'POST') {
      result = { status: 405, body: `Method ${method} not allowed, POST required.\n` };
    } else {
      try {
        result = await endpoint.handle({ method, path: url.pathname, query: url.searchParams });
      } catch (error) {
        this.#options.logger.error('admin: an endpoint failed', { path: url.pathname, error: error instanceof Error ? error.message : String(error) });
        result = { status: 500, body: `${error instanceof Error ? error.message : String(error)}\n` };
      }
    }
    // The request body is never read; drain it so that keep-alive connections stay usable.
    request.resume();
    response.writeHead(result.status, { 'content-type': result.contentType ?? TEXT, 'cache-control': 'no-cache, max-age=0', 'x-content-type-options': 'nosniff' });
    response.end(method === 'HEAD' ? undefined : result.body, () => result.afterSent?.());
  }
}
