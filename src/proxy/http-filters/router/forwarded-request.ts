import { isIPv6 } from 'node:net';
import type { Readable } from 'node:stream';
import { ok, type Clock, type Logger, type Result, type TimerHandle, type Timers } from '../../../core/index.ts';
import type { HttpExchange, HttpResponse } from '../../http/exchange.ts';
import { appendHeader, type Headers } from '../../http/headers.ts';
import { isGrpcRequest, localReply, type LocalReplyOptions } from '../../http/local-reply.ts';
import type { RequestHead } from '../../http/request-head.ts';
import { applyHeaderMutation } from '../../route/index.ts';
import type { ClusterChoice, RouteAction, RouteEntry } from '../../route/route-entry.ts';
import type { Counter, StatsScope } from '../../telemetry/stats.ts';
import type { ClusterManager, LoadBalancerContext, UpstreamCluster, UpstreamHost } from '../../upstream/cluster.ts';
import { requestHash } from '../../upstream/hash-key.ts';
import type { HttpConnectionPool, TunnelOptions, UpgradeOptions, UpgradeResponse, UpgradeResult, UpstreamFailure, UpstreamResponse } from '../../upstream/pools/index.ts';
import { failureReply } from './failure-reply.ts';
import { RequestBodyTee } from './request-body-tee.ts';
import { sendMirror } from './request-mirror.ts';
import { requestTimeouts, type RequestTimeouts } from './request-timeouts.ts';
import { backOffMs, wouldRetry, type AttemptOutcome } from './retry-decision.ts';

type ForwardAction = Extract<RouteAction, { kind: 'forward' }>;

/** The connection pools the router sends through (UpstreamPools in the proxy). */
export interface ConnectionPools {
  /** `authority`: the request's, for clusters that take the TLS SNI from it (auto SNI). */
  pool(cluster: UpstreamCluster, host: UpstreamHost, protocol: 'http1' | 'http2', authority?: string): HttpConnectionPool;
  /** An Upgrade request (or a CONNECT sent on) on a connection of its own. */
  upgrade(cluster: UpstreamCluster, host: UpstreamHost, head: RequestHead, options: UpgradeOptions): Promise<UpgradeResult>;
  /** A raw connection of its own for a CONNECT the router terminates. */
  tunnel(cluster: UpstreamCluster, host: UpstreamHost, options: TunnelOptions): Promise<UpgradeResult>;
}

/** What every request of a router shares. */
export interface RouterContext {
  readonly clusters: ClusterManager;
  readonly pools: ConnectionPools;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
  readonly stats: RouterStats;
  readonly suppressEnvoyHeaders: boolean;
  readonly bufferLimitBytes: number;
}

/** The router's per-cluster counters (`cluster.<name>.upstream_rq_retry`, ...), looked up once per cluster. */
export class RouterStats {
  readonly #scope: StatsScope;
  readonly #byCluster = new Map<string, ClusterRouterStats>();

  constructor(scope: StatsScope) {
    this.#scope = scope;
  }

  of(cluster: string): ClusterRouterStats {
    let stats = this.#byCluster.get(cluster);
    if (stats === undefined) {
      const scope = this.#scope.scope(`cluster.${cluster}`);
      stats = {
        retry: scope.counter('upstream_rq_retry'),
        retryOverflow: scope.counter('upstream_rq_retry_overflow'),
        retryLimitExceeded: scope.counter('upstream_rq_retry_limit_exceeded'),
        timeout: scope.counter('upstream_rq_timeout'),
        perTryTimeout: scope.counter('upstream_rq_per_try_timeout'),
      };
      this.#byCluster.set(cluster, stats);
    }
    return stats;
  }
}

interface ClusterRouterStats {
  readonly retry: Counter;
  readonly retryOverflow: Counter;
  readonly retryLimitExceeded: Counter;
  readonly timeout: Counter;
  readonly perTryTimeout: Counter;
}

/** A response body smaller than this is read to its end on a retry, so its HTTP/1.1 connection is kept. */
const DRAIN_LIMIT_BYTES = 65_536;

/**
 * One request forwarded upstream: the attempts, their timeouts and retries, mirrors, and the
 * response on its way back. Built for one exchange and run once.
 */
export class ForwardedRequest {
  readonly #context: RouterContext;
  readonly #exchange: HttpExchange;
  readonly #route: RouteEntry;
  readonly #action: ForwardAction;
  #choice!: ClusterChoice;
  #cluster!: UpstreamCluster;
  #stats!: ClusterRouterStats;
  #head!: RequestHead;
  #grpc = false;
  #protocol: 'http1' | 'http2' = 'http1';
  #timeouts: RequestTimeouts = { globalMs: 0, perTryMs: 0 };
  #lbContext: LoadBalancerContext = {};
  #tried: Set<UpstreamHost> | undefined;
  #triedPriorities: Set<number> | undefined;
  #setCookies: readonly string[] = [];
  /** null: the request has no body; undefined: the body streams as is (nothing may need it twice). */
  #tee: RequestBodyTee | null | undefined;
  #bodyDone = false;
  #attempts = 0;
  #retries = 0;
  #retrySlot: (() => void) | undefined;
  #controller: AbortController | undefined;
  #globalTimer: TimerHandle | undefined;
  #perTryTimer: TimerHandle | undefined;
  #globalTimedOut = false;
  #perTryTimedOut = false;
  /** Ends a back-off early (timeout, downstream gone). */
  #interrupt: (() => void) | undefined;
  /** The upstream response body once it is on its way downstream. */
  #responseBody: Readable | undefined;
  #done = false;

  constructor(context: RouterContext, exchange: HttpExchange, route: RouteEntry, action: ForwardAction) {
    this.#context = context;
    this.#exchange = exchange;
    this.#route = route;
    this.#action = action;
  }

  async run(): Promise<HttpResponse> {
    const context = this.#context;
    const exchange = this.#exchange;
    const action = this.#action;
    const info = exchange.info;
    const choice = action.pickCluster(context.random());
    this.#choice = choice;
    info.upstreamCluster = choice.name;
    const cluster = context.clusters.get(choice.name);
    if (cluster === undefined) return this.#reply({ status: 503, flag: 'NC', details: 'cluster_not_found' });
    this.#cluster = cluster;
    this.#stats = context.stats.of(cluster.name);

    const head = upstreamHead(exchange.request);
    this.#head = head;
    applyHeaderMutation(head.headers, choice.requestHeaders);
    applyHeaderMutation(head.headers, this.#route.requestHeaders);
    const originalPath = head.path;
    action.rewrite(head, choice);
    if (head.path !== originalPath && !context.suppressEnvoyHeaders) head.headers['x-envoy-original-path'] = originalPath;
    this.#grpc = isGrpcRequest(head.headers);
    this.#timeouts = requestTimeouts(action, head.headers, this.#grpc, context.suppressEnvoyHeaders);
    this.#protocol = cluster.upstreamProtocol === 'http2' || (cluster.upstreamProtocol === 'downstream' && exchange.request.protocol === 'HTTP/2') ? 'http2' : 'http1';

    const hash = requestHash(action.hashPolicies, head, exchange.downstream);
    this.#setCookies = hash.setCookies;
    this.#tried = action.retry?.avoidPreviousHosts === true ? new Set() : undefined;
    this.#triedPriorities = action.retry?.avoidPreviousPriorities === true ? new Set() : undefined;
    const originalDestination = cluster.config.type === 'ORIGINAL_DST' ? hostPort(exchange.downstream.localAddress, exchange.downstream.localPort) : undefined;
    this.#lbContext = {
      ...(hash.hash !== undefined ? { hash: hash.hash } : {}),
      ...(this.#tried !== undefined ? { avoid: this.#tried } : {}),
      ...(this.#triedPriorities !== undefined ? { avoidPriorities: this.#triedPriorities } : {}),
      ...(originalDestination !== undefined ? { originalDestination } : {}),
    };

    if (exchange.signal.aborted) return this.#downstreamGone();
    exchange.signal.addEventListener('abort', this.#onDownstreamAbort);
    const upgrade = exchange.upgrade;
    if (upgrade !== undefined) {
      const pools = context.pools;
      if (upgrade.protocol === 'connect' && action.terminateConnect === true) {
        return this.#dedicated((host, signal) => pools.tunnel(cluster, host, { authority: exchange.request.authority, signal, origin: exchange.downstream }));
      }
      return this.#dedicated((host, signal) => pools.upgrade(cluster, host, head, { protocol: upgrade.protocol, signal }));
    }
    const mirrors = action.mirrors.length === 0 ? action.mirrors : action.mirrors.filter((mirror) => mirror.fraction >= 1 || context.random() < mirror.fraction);
    this.#setUpBody(mirrors.length > 0);
    for (const mirror of mirrors) this.#mirror(mirror.cluster);
    return this.#attemptLoop();
  }

  /** Chooses how the body travels: not at all, streamed as is, or through a tee that can replay it. */
  #setUpBody(mirrored: boolean): void {
    const exchange = this.#exchange;
    if (hasNoBody(exchange)) {
      this.#tee = null;
      this.#bodyComplete();
      return;
    }
    const retry = this.#action.retry;
    if ((retry !== undefined && retry.numRetries > 0) || mirrored) {
      const tee = new RequestBodyTee(exchange.body, this.#context.bufferLimitBytes);
      this.#tee = tee;
      void tee.done.then(() => this.#bodyComplete());
      return;
    }
    if (exchange.body.readableEnded) this.#bodyComplete();
    else exchange.body.once('end', () => this.#bodyComplete());
  }

  async #attemptLoop(): Promise<HttpResponse> {
    const exchange = this.#exchange;
    const info = exchange.info;
    const context = this.#context;
    const head = this.#head;
    for (;;) {
      const host = this.#cluster.picker().pick(this.#lbContext);
      if (host === undefined) return this.#reply({ status: 503, flag: 'UH', details: 'no_healthy_upstream', body: 'no healthy upstream' });
      this.#tried?.add(host);
      this.#triedPriorities?.add(host.priority);
      this.#attempts++;
      info.upstreamHost = host.id;
      info.attemptCount = this.#attempts;
      if (!context.suppressEnvoyHeaders) head.headers['x-envoy-attempt-count'] = String(this.#attempts);
      if (this.#action.autoHostRewrite === true && host.hostname !== undefined) head.authority = host.hostname;
      const tee = this.#tee;
      const body = tee === null ? null : tee === undefined ? exchange.body : tee.open()!;
      this.#retrySlot?.();
      this.#retrySlot = undefined;
      const controller = new AbortController();
      this.#controller = controller;
      this.#perTryTimedOut = false;
      this.#armPerTryTimer();
      const started = context.clock.now();
      const result = await context.pools.pool(this.#cluster, host, this.#protocol, head.authority).request(head, body, { signal: controller.signal });
      this.#reportOutcome(host, result);

      if (result.ok) {
        const response = result.value;
        // A timeout that fired as the head arrived has already cut the response off.
        const timedOut = this.#globalTimedOut || this.#perTryTimedOut;
        if (!timedOut && !this.#shouldRetry({ kind: 'response', status: response.status, headers: response.headers })) {
          return this.#respond(response, started, host);
        }
        if (response.status >= 500 && host.stats !== undefined) host.stats.rqError++;
        discard(response);
      }
      this.#clearPerTryTimer();
      if (this.#globalTimedOut) return this.#timedOut(host, 'upstream_response_timeout');
      if (this.#perTryTimedOut) {
        this.#stats.perTryTimeout.inc();
        if (!this.#shouldRetry({ kind: 'per-try-timeout' })) return this.#timedOut(host, 'upstream_per_try_timeout');
      } else if (!result.ok) {
        const failure = result.error;
        if (failure.kind === 'aborted') return this.#downstreamGone();
        this.#attemptFailed(host, failure);
        if (!this.#shouldRetry({ kind: 'failure', failure })) {
          const reply = failureReply(failure, this.#retries > 0);
          return this.#reply(reply);
        }
      }
      if (!(await this.#backOff())) return this.#globalTimedOut ? this.#timedOut(host, 'upstream_response_timeout') : this.#downstreamGone();
    }
  }

  /**
   * An Upgrade (WebSocket) or a CONNECT: one attempt, never retried nor mirrored, on a connection
   * of its own: an HTTP/1.1 request sent on, or for a CONNECT the route terminates a raw connection
   * to the host (200 once it is established). The route's timeouts run until the upstream answers;
   * a 101 (2xx for a CONNECT) hands the connection to the connection manager, and the session then
   * lives as long as both sides keep it.
   */
  async #dedicated(open: (host: UpstreamHost, signal: AbortSignal) => Promise<UpgradeResult>): Promise<HttpResponse> {
    const exchange = this.#exchange;
    const context = this.#context;
    const info = exchange.info;
    const head = this.#head;
    // An HTTP/1 Upgrade or CONNECT has no body of its own: what follows its head belongs to the
    // new protocol. An HTTP/2 CONNECT's stream is the tunnel itself, which the codec carries.
    this.#tee = null;
    if (exchange.request.protocol !== 'HTTP/2') exchange.body.resume();
    const host = this.#cluster.picker().pick(this.#lbContext);
    if (host === undefined) return this.#reply({ status: 503, flag: 'UH', details: 'no_healthy_upstream', body: 'no healthy upstream' });
    this.#attempts = 1;
    info.upstreamHost = host.id;
    info.attemptCount = 1;
    if (!context.suppressEnvoyHeaders) head.headers['x-envoy-attempt-count'] = '1';
    if (this.#action.autoHostRewrite === true && host.hostname !== undefined) head.authority = host.hostname;
    const controller = new AbortController();
    this.#controller = controller;
    this.#bodyComplete();
    const started = context.clock.now();
    const result = await open(host, controller.signal);
    this.#reportOutcome(host, result.ok ? ok({ status: result.value.kind === 'upgraded' ? result.value.status : result.value.response.status }) : result);
    // A timeout that fired as the answer arrived has already cut it off.
    const timedOut = this.#globalTimedOut || this.#perTryTimedOut;
    if (!timedOut) {
      if (result.ok) return result.value.kind === 'upgraded' ? this.#upgraded(result.value, started) : this.#respond(result.value.response, started, host);
      const failure = result.error;
      if (failure.kind === 'aborted') return this.#downstreamGone();
      this.#attemptFailed(host, failure);
      return this.#reply(failureReply(failure, false));
    }
    if (result.ok) {
      if (result.value.kind === 'upgraded') result.value.socket.destroy();
      else discard(result.value.response);
    }
    if (this.#globalTimedOut) return this.#timedOut(host, 'upstream_response_timeout');
    this.#stats.perTryTimeout.inc();
    return this.#timedOut(host, 'upstream_per_try_timeout');
  }

  /**
   * Tells outlier detection how an attempt went: a timeout (even one that cut a response off), a
   * response's status, or a connection that failed or was reset; not a breaker's refusal nor the
   * downstream's going away, which say nothing about the host.
   */
  #reportOutcome(host: UpstreamHost, result: Result<{ readonly status: number }, UpstreamFailure>): void {
    const detector = this.#cluster.outlierDetector;
    if (detector === undefined) return;
    if (this.#globalTimedOut || this.#perTryTimedOut) detector.report(host, { kind: 'timeout' });
    else if (result.ok) detector.report(host, { kind: 'response', status: result.value.status });
    else if (result.error.kind === 'connect-timeout') detector.report(host, { kind: 'timeout' });
    else if (result.error.kind === 'connect-failure' || result.error.kind === 'reset' || result.error.kind === 'refused-stream') detector.report(host, { kind: 'connect-failed' });
  }

  /** Counts a failed attempt against its host and keeps a TLS failure's reason for the access log. */
  #attemptFailed(host: UpstreamHost, failure: UpstreamFailure): void {
    if (host.stats !== undefined) host.stats.rqError++;
    if (failure.kind === 'connect-failure' && failure.transportFailureReason !== undefined) this.#exchange.info.upstreamTransportFailureReason = failure.transportFailureReason;
  }

  /** The upstream switched protocols: the route's timers stop, the raw connection goes to the connection manager. */
  #upgraded(answer: Extract<UpgradeResponse, { kind: 'upgraded' }>, started: number): HttpResponse {
    const info = this.#exchange.info;
    info.responseCodeDetails = 'via_upstream';
    if (answer.localAddress !== undefined) info.upstreamLocalAddress = answer.localAddress;
    const headers = this.#responseHeaders(answer.headers, started);
    this.#finish();
    return { status: answer.status, headers, body: null, upgraded: answer.socket };
  }

  /**
   * Whether to try again after this outcome, taking a `retries` circuit-breaker slot (held through
   * the back-off) when so. A retriable outcome with no retry left flags URX; a full breaker, UO.
   */
  #shouldRetry(outcome: AttemptOutcome): boolean {
    const policy = this.#action.retry;
    if (policy === undefined || !wouldRetry(policy, outcome)) return false;
    const info = this.#exchange.info;
    if (this.#retries >= policy.numRetries) {
      info.responseFlags.add('URX');
      this.#stats.retryLimitExceeded.inc();
      return false;
    }
    const tee = this.#tee;
    if (tee === undefined || (tee !== null && !tee.replayable)) return false;
    if (this.#exchange.signal.aborted) return false;
    const slot = this.#cluster.circuitBreakers.tryAcquire('retries');
    if (slot === undefined) {
      info.responseFlags.add('UO');
      this.#stats.retryOverflow.inc();
      return false;
    }
    this.#retrySlot = slot;
    this.#retries++;
    this.#stats.retry.inc();
    return true;
  }

  /** Waits before the next attempt; false when a timeout or the downstream ended the wait. */
  #backOff(): Promise<boolean> {
    const policy = this.#action.retry!;
    const ms = backOffMs(policy, this.#retries, this.#context.random);
    const timers = this.#context.timers;
    return new Promise((resolve) => {
      if (this.#globalTimedOut || this.#exchange.signal.aborted) {
        resolve(false);
        return;
      }
      const timer = timers.setTimeout(() => {
        this.#interrupt = undefined;
        resolve(true);
      }, ms);
      this.#interrupt = () => {
        timers.clearTimeout(timer);
        this.#interrupt = undefined;
        resolve(false);
      };
    });
  }

  #respond(response: UpstreamResponse, started: number, host: UpstreamHost): HttpResponse {
    const info = this.#exchange.info;
    info.responseCodeDetails = 'via_upstream';
    if (response.localAddress !== undefined) info.upstreamLocalAddress = response.localAddress;
    if (response.status >= 500 && host.stats !== undefined) host.stats.rqError++;
    const headers = this.#responseHeaders(response.headers, started);
    const body = response.body;
    this.#responseBody = body;
    body.once('close', () => this.#finish());
    return { status: response.status, headers, body, trailers: response.trailers };
  }

  /** The upstream's headers with the service time, the route's and cluster's changes and the hash policies' cookies. */
  #responseHeaders(headers: Headers, started: number): Headers {
    const serviceTime = this.#context.clock.now() - started;
    this.#exchange.info.upstreamServiceTime = serviceTime;
    if (!this.#context.suppressEnvoyHeaders) headers['x-envoy-upstream-service-time'] = String(serviceTime);
    applyHeaderMutation(headers, this.#choice.responseHeaders);
    applyHeaderMutation(headers, this.#route.responseHeaders);
    for (const cookie of this.#setCookies) appendHeader(headers, 'set-cookie', cookie);
    return headers;
  }

  #timedOut(host: UpstreamHost, details: 'upstream_response_timeout' | 'upstream_per_try_timeout'): HttpResponse {
    if (details === 'upstream_response_timeout') this.#stats.timeout.inc();
    if (host.stats !== undefined) host.stats.rqTimeout++;
    return this.#reply({ status: 504, flag: 'UT', details, body: 'upstream request timeout' });
  }

  /** The downstream reset or went away: nothing will read the answer. */
  #downstreamGone(): HttpResponse {
    return this.#reply({ status: 503, flag: 'DC', details: 'downstream_remote_disconnect' });
  }

  /** A local reply; a circuit breaker's refusal says so in `x-envoy-overloaded`, as Envoy's does. */
  #reply(options: Omit<LocalReplyOptions, 'grpc'>): HttpResponse {
    this.#finish();
    const overloaded = options.flag === 'UO' && !this.#context.suppressEnvoyHeaders;
    return localReply(this.#exchange.info, { ...options, grpc: this.#grpc, ...(overloaded && { headers: { ...options.headers, 'x-envoy-overloaded': 'true' } }) });
  }

  #bodyComplete(): void {
    if (this.#bodyDone || this.#done) return;
    this.#bodyDone = true;
    // Envoy's timeouts count from the end of the downstream request.
    const globalMs = this.#timeouts.globalMs;
    if (globalMs > 0) this.#globalTimer = this.#context.timers.setTimeout(this.#onGlobalTimeout, globalMs);
    this.#armPerTryTimer();
  }

  #armPerTryTimer(): void {
    const perTryMs = this.#timeouts.perTryMs;
    if (perTryMs <= 0 || !this.#bodyDone || this.#controller === undefined || this.#perTryTimer !== undefined || this.#done) return;
    const controller = this.#controller;
    this.#perTryTimer = this.#context.timers.setTimeout(() => {
      this.#perTryTimer = undefined;
      if (controller !== this.#controller) return;
      this.#perTryTimedOut = true;
      if (this.#responseBody !== undefined) this.#exchange.info.responseFlags.add('UT');
      controller.abort();
    }, perTryMs);
  }

  #clearPerTryTimer(): void {
    if (this.#perTryTimer === undefined) return;
    this.#context.timers.clearTimeout(this.#perTryTimer);
    this.#perTryTimer = undefined;
  }

  readonly #onGlobalTimeout = (): void => {
    this.#globalTimer = undefined;
    this.#globalTimedOut = true;
    // After the response head, a timeout can only cut the body short.
    if (this.#responseBody !== undefined) {
      this.#exchange.info.responseFlags.add('UT');
      this.#stats.timeout.inc();
    }
    this.#controller?.abort();
    this.#interrupt?.();
  };

  readonly #onDownstreamAbort = (): void => {
    this.#controller?.abort();
    this.#interrupt?.();
  };

  /** The request is over: timers, listeners and slots go. */
  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    const timers = this.#context.timers;
    if (this.#globalTimer !== undefined) timers.clearTimeout(this.#globalTimer);
    this.#clearPerTryTimer();
    this.#retrySlot?.();
    this.#retrySlot = undefined;
    this.#exchange.signal.removeEventListener('abort', this.#onDownstreamAbort);
  }

  #mirror(clusterName: string): void {
    const tee = this.#tee;
    const body = tee === null ? Promise.resolve(null) : tee === undefined ? Promise.resolve(undefined) : tee.whole();
    const context = this.#context;
    sendMirror(context, clusterName, this.#head, body, this.#timeouts.globalMs).catch((error: unknown) => {
      context.logger.debug('mirror request failed', { cluster: clusterName, error: String(error) });
    });
  }
}

/** A copy of the downstream head that the router may change (headers, rewrites) without touching the exchange's. */
function upstreamHead(request: RequestHead): RequestHead {
  return { method: request.method, path: request.path, authority: request.authority, scheme: request.scheme, headers: { ...request.headers }, protocol: request.protocol };
}

/**
 * Whether the request certainly has no body: `content-length: 0`, or a body stream that has
 * already ended. (The connection manager strips transfer-encoding, so an HTTP/1.1 request without
 * content-length may still be chunked; such a body is streamed and found empty on the way.)
 */
function hasNoBody(exchange: HttpExchange): boolean {
  return exchange.request.headers['content-length'] === '0' || exchange.body.readableEnded;
}

/** Lets go of a response that will not be forwarded; a small one is read out so its connection stays usable. */
function discard(response: UpstreamResponse): void {
  const body = response.body;
  body.on('error', () => {});
  const length = Number(response.headers['content-length']);
  if (length <= DRAIN_LIMIT_BYTES) body.resume();
  else body.destroy();
}

function hostPort(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}
