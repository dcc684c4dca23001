import type { Readable } from 'node:stream';
import type { Result, Timers } from '../../../core/index.ts';
import type { Headers } from '../../http/headers.ts';
import type { RequestHead } from '../../http/request-head.ts';
import type { UpstreamCluster, UpstreamHost } from '../cluster.ts';
import type { InternalListeners } from '../internal-listeners.ts';
import type { ConnectionSecurity } from '../transport-connect.ts';
import type { PoolSettings } from './pool-settings.ts';
import type { PoolStats } from './pool-stats.ts';

/**
 * Connection pools carry requests to one host of one cluster over HTTP/1.1 or HTTP/2. A pool
 * owns its connections, enforces the cluster's circuit breakers and reports failures as values
 * that tell the router what went wrong, because retries and response flags depend on it.
 */

/** The request body as the router hands it over: none, complete, or streamed. */
export type UpstreamRequestBody = Buffer | Readable | null;

export interface PoolRequestOptions {
  /**
   * Cancels the request: before the response head it fails with `aborted`; after it, the
   * response body is destroyed. The router aborts on downstream resets and on its timeouts.
   */
  readonly signal: AbortSignal;
}

export interface UpstreamResponse {
  readonly status: number;
  /** Lower-case names; hop-by-hop headers and pseudo-headers removed. */
  readonly headers: Headers;
  /** Streams until the upstream response ends; errors if the upstream resets mid-body. */
  readonly body: Readable;
  /** Resolves once the body has ended: the trailers, or undefined when there were none. */
  readonly trailers: Promise<Headers | undefined>;
  /** `address:port` of the connection's local end, for %UPSTREAM_LOCAL_ADDRESS%. */
  readonly localAddress?: string;
}

/**
 * Why a request got no response head. Envoy's reset reasons, which decide retries
 * (connect-failure, reset-before-request, refused-stream, ...) and flags (UF, UO, UR, UC).
 */
export type UpstreamFailure =
  /** `transportFailureReason`: the TLS handshake failed or the server's certificate was refused (Envoy's %UPSTREAM_TRANSPORT_FAILURE_REASON%). */
  | { readonly kind: 'connect-failure'; readonly message: string; readonly transportFailureReason?: string }
  | { readonly kind: 'connect-timeout' }
  /** The circuit breaker refused a request, a pending request or a connection: 503 UO, never retried. */
  | { readonly kind: 'overflow' }
  /**
   * The stream or connection went away before a response head. `remote` is an HTTP/2 RST_STREAM
   * from the upstream (UR); otherwise the connection closed (UC). `requestSent` is false while the
   * request head has not been written, for reset-before-request.
   */
  | { readonly kind: 'reset'; readonly remote: boolean; readonly requestSent: boolean; readonly message: string }
  /** HTTP/2 REFUSED_STREAM (also streams above a GOAWAY's last stream id): safe to retry. */
  | { readonly kind: 'refused-stream' }
  /** The caller's signal fired first. */
  | { readonly kind: 'aborted' };

export type UpstreamResult = Result<UpstreamResponse, UpstreamFailure>;

export interface HttpConnectionPool {
  readonly protocol: 'http1' | 'http2';
  request(head: RequestHead, body: UpstreamRequestBody, options: PoolRequestOptions): Promise<UpstreamResult>;
  /** True when the pool has no open connection, no request in flight and none waiting. */
  isIdle(): boolean;
  /** Takes no new requests; closes connections as soon as their requests are done. */
  drain(): void;
  /** Destroys every connection now; requests in flight fail. */
  close(): void;
}

/** What a pool of one (cluster, host) is made with. */
export interface PoolDeps {
  readonly cluster: UpstreamCluster;
  readonly host: UpstreamHost;
  readonly settings: PoolSettings;
  readonly timers: Timers;
  readonly stats: PoolStats;
  /** How its connections are secured; plaintext when absent. */
  readonly security?: ConnectionSecurity;
  /** Where a host that is an internal listener is reached; connecting to one is refused without it. */
  readonly internal?: InternalListeners;
}
