import type { UpstreamHost } from '../cluster.ts';
import type { HttpConnectionPool, UpstreamResult } from './connection-pool.ts';
import type { PoolStats } from './pool-stats.ts';

/**
 * The pool of a host whose transport socket cannot be served (its secrets come from SDS, which
 * the proxy does not speak yet): every request fails at once as a connect failure (503 UF), with
 * the reason as the transport failure reason, and counts as a failed connection.
 */
export class UnavailablePool implements HttpConnectionPool {
  readonly protocol: 'http1' | 'http2';
  readonly #result: UpstreamResult;
  readonly #host: UpstreamHost;
  readonly #stats: PoolStats;

  constructor(protocol: 'http1' | 'http2', reason: string, host: UpstreamHost, stats: PoolStats) {
    this.protocol = protocol;
    this.#result = { ok: false, error: { kind: 'connect-failure', message: reason, transportFailureReason: reason } };
    this.#host = host;
    this.#stats = stats;
  }

  request(): Promise<UpstreamResult> {
    this.#stats.cxConnectFail.inc();
    if (this.#host.stats !== undefined) this.#host.stats.cxConnectFail++;
    return Promise.resolve(this.#result);
  }

  isIdle(): boolean {
    return true;
  }

  drain(): void {}

  close(): void {}
}
