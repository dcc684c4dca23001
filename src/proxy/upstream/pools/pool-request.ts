import { err, ok } from '../../../core/index.ts';
import type { RequestHead } from '../../http/request-head.ts';
import type { UpstreamHost } from '../cluster.ts';
import type { UpstreamFailure, UpstreamRequestBody, UpstreamResponse, UpstreamResult } from './connection-pool.ts';
import type { PoolStats } from './pool-stats.ts';

/**
 * One request's life in a pool, shared by both protocols: it holds the `requests` circuit-breaker
 * slot from admission to the end of the response, the `pendingRequests` slot while it waits for a
 * connection or stream, and the host's active-request count; it resolves its promise once.
 */
export class PoolRequest {
  readonly head: RequestHead;
  readonly body: UpstreamRequestBody;
  readonly signal: AbortSignal;
  readonly #host: UpstreamHost;
  readonly #stats: PoolStats;
  readonly #resolve: (result: UpstreamResult) => void;
  #releaseRequest: (() => void) | undefined;
  #releasePending: (() => void) | undefined;
  #onAbort: (() => void) | undefined;
  #settled = false;

  constructor(
    head: RequestHead, body: UpstreamRequestBody, signal: AbortSignal, host: UpstreamHost, stats: PoolStats,
    releaseRequest: () => void, resolve: (result: UpstreamResult) => void,
  ) {
    this.head = head;
    this.body = body;
    this.signal = signal;
    this.#host = host;
    this.#stats = stats;
    this.#releaseRequest = releaseRequest;
    this.#resolve = resolve;
    host.activeRequests++;
    if (host.stats !== undefined) host.stats.rqTotal++;
    stats.rqActive.inc();
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** Waits for a connection (or stream) holding a `pendingRequests` slot. */
  pending(release: () => void): void {
    this.#releasePending = release;
    this.#stats.rqPendingTotal.inc();
    this.#stats.rqPendingActive.inc();
  }

  /** Has a connection: no longer pending. */
  attached(): void {
    if (this.#releasePending === undefined) return;
    this.#releasePending();
    this.#releasePending = undefined;
    this.#stats.rqPendingActive.dec();
  }

  /** Runs `action` when the caller's signal fires (replacing the previous action). */
  onAbort(action: () => void): void {
    if (this.#onAbort !== undefined) this.signal.removeEventListener('abort', this.#onAbort);
    this.#onAbort = action;
    this.signal.addEventListener('abort', action, { once: true });
  }

  respond(response: UpstreamResponse): void {
    if (this.#settled) return;
    this.#settled = true;
    this.attached();
    this.#resolve(ok(response));
  }

  fail(failure: UpstreamFailure): void {
    if (this.#settled) return;
    this.#settled = true;
    this.finish();
    this.#resolve(err(failure));
  }

  /** The exchange is over (response ended, or failed): gives every slot back. Idempotent. */
  finish(): void {
    this.attached();
    if (this.#releaseRequest === undefined) return;
    this.#releaseRequest();
    this.#releaseRequest = undefined;
    this.#host.activeRequests--;
    this.#stats.rqActive.dec();
    if (this.#onAbort !== undefined) {
      this.signal.removeEventListener('abort', this.#onAbort);
      this.#onAbort = undefined;
    }
  }
}
