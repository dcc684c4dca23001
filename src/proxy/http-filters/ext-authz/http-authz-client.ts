import type { Timers } from '../../../core/index.ts';
import { HOP_BY_HOP_HEADERS, type Headers } from '../../http/headers.ts';
import type { RequestHead } from '../../http/request-head.ts';
import type { ClusterManager, UpstreamCluster, UpstreamHost } from '../../upstream/cluster.ts';
import type { HttpConnectionPool } from '../../upstream/pools/index.ts';
import type { ExtAuthzConfig } from './ext-authz-config.ts';

/** The connection pools the check requests go through: the proxy's UpstreamPools. */
export interface AuthzPools {
  pool(cluster: UpstreamCluster, host: UpstreamHost, protocol: 'http1' | 'http2', authority?: string): HttpConnectionPool;
}

/** What the authorizer said. */
export type AuthzAnswer =
  /** 200: the request may go on; `headers` are the answer's, for the configured header lists to pick from. */
  | { readonly kind: 'allowed'; readonly headers: Headers }
  /** Any other status below 500: the client gets it, with the body and the allowed headers. */
  | { readonly kind: 'denied'; readonly status: number; readonly headers: Headers; readonly body: Buffer }
  /** No answer (unknown cluster, no host, connection failure, timeout) or a 5xx. */
  | { readonly kind: 'error'; readonly reason: string };

/** The body the check request carries (withRequestBody). */
export interface CheckBody {
  readonly bytes: Buffer;
  /** Only the first maxRequestBytes of a longer body. */
  readonly partial: boolean;
}

/** Envoy tells the authorizer whether the body it got is cut short, when the allowed headers let it. */
const PARTIAL_BODY_HEADER = 'x-envoy-auth-partial-body';

/**
 * Asks an HTTP authorization service about a request, as Envoy's raw HTTP ext_authz client does:
 * the check request has the request's method and path (pathPrefix first), its host, its
 * authorization header and the other headers `requestHeaders` allows, headersToAdd, and
 * `content-length` of the body sent (none by default). It goes to a host the cluster's load
 * balancer picks, through the proxy's connection pools (so the cluster's TLS and circuit breakers
 * apply), and must be answered within the timeout.
 */
export class HttpAuthzClient {
  readonly #clusters: ClusterManager;
  readonly #pools: AuthzPools;
  readonly #timers: Timers;

  constructor(clusters: ClusterManager, pools: AuthzPools, timers: Timers) {
    this.#clusters = clusters;
    this.#pools = pools;
    this.#timers = timers;
  }

  /** `signal`: the downstream going away, which cancels the check. */
  async check(config: ExtAuthzConfig, request: RequestHead, body: CheckBody | undefined, signal: AbortSignal): Promise<AuthzAnswer> {
    const cluster = this.#clusters.get(config.cluster);
    if (cluster === undefined) return { kind: 'error', reason: `cluster ${config.cluster} not found` };
    const host = cluster.picker().pick({});
    if (host === undefined) return { kind: 'error', reason: `no healthy host in cluster ${config.cluster}` };

    const head = checkRequest(config, request, body);
    const protocol = cluster.upstreamProtocol === 'http2' ? 'http2' : 'http1';
    const timeout = new AbortController();
    const timer = this.#timers.setTimeout(() => timeout.abort(), config.timeoutMs);
    const abort = AbortSignal.any([timeout.signal, signal]);
    try {
      const sent = await this.#pools.pool(cluster, host, protocol, head.authority).request(head, body === undefined || body.bytes.length === 0 ? null : body.bytes, { signal: abort });
      if (!sent.ok) return { kind: 'error', reason: timeout.signal.aborted ? 'timeout' : sent.error.kind };
      const response = sent.value;
      const chunks: Buffer[] = [];
      for await (const chunk of response.body) chunks.push(chunk as Buffer);
      if (response.status >= 500) return { kind: 'error', reason: `authorization service answered ${response.status}` };
      if (response.status === 200) return { kind: 'allowed', headers: response.headers };
      return { kind: 'denied', status: response.status, headers: response.headers, body: Buffer.concat(chunks) };
    } catch {
      // The answer's body broke off, or the timeout cut it short.
      return { kind: 'error', reason: timeout.signal.aborted ? 'timeout' : 'authorization service reset the response' };
    } finally {
      this.#timers.clearTimeout(timer);
    }
  }
}

function checkRequest(config: ExtAuthzConfig, request: RequestHead, body: CheckBody | undefined): RequestHead {
  const headers: Headers = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (name === 'content-length' || name === 'host' || HOP_BY_HOP_HEADERS.has(name) || !config.requestHeaders(name)) continue;
    headers[name] = value;
  }
  headers['content-length'] = String(body?.bytes.length ?? 0);
  if (body !== undefined && config.requestHeaders(PARTIAL_BODY_HEADER)) headers[PARTIAL_BODY_HEADER] = String(body.partial);
  for (const [name, value] of config.headersToAdd) headers[name] = value;
  return { method: request.method, path: config.pathPrefix + request.path, authority: request.authority, scheme: request.scheme, headers, protocol: 'HTTP/1.1' };
}
