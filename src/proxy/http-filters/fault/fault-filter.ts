import type { Clock, Result, Timers } from '../../../core/index.ts';
import { FAULT_TYPE, HTTP_FILTER } from '../../../xds/envoy/index.ts';
import type { HttpExchange, HttpFilter, HttpResponse } from '../../http/exchange.ts';
import type { FilterDeps, HttpFilterFactory } from '../../http/filter-factory.ts';
import { headerValue } from '../../http/headers.ts';
import { isGrpcRequest, localReply } from '../../http/local-reply.ts';
import { RequestView } from '../../route/route-match.ts';
import type { Counter, Gauge, StatsScope } from '../../telemetry/stats.ts';
import { FaultSettings, parseFaultSettings, type AbortStatus } from './fault-settings.ts';
import { RateLimitedBody } from './rate-limited-body.ts';

export interface FaultFilterOptions {
  /** For delays and the response rate limit. */
  readonly timers: Timers;
}

const DOWNSTREAM_NODE = 'x-envoy-downstream-service-node';
const DOWNSTREAM_CLUSTER = 'x-envoy-downstream-service-cluster';

/**
 * `envoy.filters.http.fault`: injects delays, aborts and response rate limits into a share of
 * requests, as Envoy does. A route's `typedPerFilterConfig['envoy.filters.http.fault']` replaces
 * the filter's own config for its requests (Istio puts a VirtualService's `fault` there and leaves
 * the filter's config empty).
 *
 * Per request, for settings whose upstreamCluster, downstreamNodes and headers admit it, and in
 * Envoy's order, each fault that is configured draws once from `random` against its percentage:
 * the response rate limit, then the delay; after the delay (or at once when there is none) the
 * abort. A delayed request waits on the injected timers before going on (flag DI); a request
 * whose client goes away meanwhile never goes on. An abort answers locally with `fault filter
 * abort` (flag FI, details `fault_filter_abort`): an HTTP status, or for a gRPC status 200 with
 * that grpc-status in trailers-only form. The route timeout is not charged for the delay: as in
 * Envoy, the router starts it when the request reaches it, after the delay.
 *
 * A request holds one active fault while a delay or rate limit runs (or for the abort); beyond
 * maxActiveFaults a fault is not injected and `faults_overflow` counts it. The count is per
 * filter instance, i.e. per connection manager.
 *
 * Stats are Envoy's `http.<stat_prefix>.fault.*` (under `deps.httpStats`): delays_injected, aborts_injected,
 * response_rl_injected, faults_overflow, active_faults, and delays/aborts per
 * x-envoy-downstream-service-cluster unless disableDownstreamClusterStats.
 */
export class FaultFilterFactory implements HttpFilterFactory<FaultSettings, FaultSettings> {
  readonly typeUrl = FAULT_TYPE;
  readonly #timers: Timers;

  constructor(options: FaultFilterOptions) {
    this.#timers = options.timers;
  }

  parse(config: Readonly<Record<string, unknown>>): Result<FaultSettings, string> {
    return parseFaultSettings(config);
  }

  parsePerRoute(config: Readonly<Record<string, unknown>>): Result<FaultSettings, string> {
    return parseFaultSettings(config);
  }

  create(settings: FaultSettings, deps: FilterDeps): HttpFilter {
    const stats = new FaultStats(deps.httpStats.scope('fault'));
    return new FaultFilter(settings, { timers: this.#timers, clock: deps.clock, random: deps.random, stats, active: new ActiveFaults(stats) });
  }
}

interface FaultContext {
  readonly timers: Timers;
  readonly clock: Clock;
  readonly random: () => number;
  readonly stats: FaultStats;
  readonly active: ActiveFaults;
}

/** The requests of one filter instance now holding an active fault (Envoy's active_faults gauge, readable). */
class ActiveFaults {
  readonly #gauge: Gauge;
  readonly #overflow: Counter;
  #count = 0;

  constructor(stats: FaultStats) {
    this.#gauge = stats.activeFaults;
    this.#overflow = stats.faultsOverflow;
  }

  /** False, counting faults_overflow, when `max` faults are already active. */
  tryAcquire(max: number): boolean {
    if (this.#count >= max) {
      this.#overflow.inc();
      return false;
    }
    this.#count++;
    this.#gauge.inc();
    return true;
  }

  release(): void {
    this.#count--;
    this.#gauge.dec();
  }
}

class FaultStats {
  readonly #scope: StatsScope;
  readonly delaysInjected: Counter;
  readonly abortsInjected: Counter;
  readonly responseRlInjected: Counter;
  readonly faultsOverflow: Counter;
  readonly activeFaults: Gauge;

  constructor(scope: StatsScope) {
    this.#scope = scope;
    this.delaysInjected = scope.counter('delays_injected');
    this.abortsInjected = scope.counter('aborts_injected');
    this.responseRlInjected = scope.counter('response_rl_injected');
    this.faultsOverflow = scope.counter('faults_overflow');
    this.activeFaults = scope.gauge('active_faults');
  }

  /** `<downstream-cluster>.delays_injected` or `.aborts_injected`. */
  byDownstreamCluster(cluster: string, name: 'delays_injected' | 'aborts_injected'): Counter {
    return this.#scope.scope(cluster).counter(name);
  }
}

class FaultFilter implements HttpFilter {
  readonly #settings: FaultSettings;
  readonly #context: FaultContext;

  constructor(settings: FaultSettings, context: FaultContext) {
    this.#settings = settings;
    this.#context = context;
  }

  handle(exchange: HttpExchange, next: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const own = exchange.route?.perFilterConfig.get(HTTP_FILTER.fault);
    const settings = own instanceof FaultSettings ? own : this.#settings;
    if (settings.inert || !this.#admits(settings, exchange)) return next();
    return new FaultedRequest(settings, this.#context, exchange).run(next);
  }

  #admits(settings: FaultSettings, exchange: HttpExchange): boolean {
    if (settings.upstreamCluster !== '') {
      const action = exchange.route?.action;
      // The cluster the route names. For weighted clusters the filter draws its own pick and the
      // router draws again later, so the two agree only on single-cluster routes.
      if (action?.kind !== 'forward' || action.pickCluster(this.#context.random()).name !== settings.upstreamCluster) return false;
    }
    const headers = exchange.request.headers;
    if (settings.downstreamNodes !== undefined) {
      const node = headerValue(headers, DOWNSTREAM_NODE);
      if (node === undefined || !settings.downstreamNodes.has(node)) return false;
    }
    return settings.headersMatch === undefined || settings.headersMatch(new RequestView(exchange.request));
  }
}

/** One request the settings apply to, from the first draw until its active fault is released. */
class FaultedRequest {
  readonly #settings: FaultSettings;
  readonly #context: FaultContext;
  readonly #exchange: HttpExchange;
  #active = false;

  constructor(settings: FaultSettings, context: FaultContext, exchange: HttpExchange) {
    this.#settings = settings;
    this.#context = context;
    this.#exchange = exchange;
  }

  async run(next: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const settings = this.#settings;
    const headers = this.#exchange.request.headers;
    let limitKbps: number | undefined;
    const rateLimit = settings.responseRateLimit;
    if (rateLimit !== undefined && rateLimit.share.includes(this.#context.random(), headers)) {
      const kbps = settings.rateLimitKbps(headers);
      if (kbps !== undefined && this.#acquire()) {
        this.#context.stats.responseRlInjected.inc();
        limitKbps = kbps;
      }
    }

    const delay = settings.delay;
    const delayMs = delay !== undefined && delay.share.includes(this.#context.random(), headers) ? settings.delayMs(headers) : undefined;
    if (delayMs !== undefined && this.#acquire()) {
      this.#count('delays_injected');
      this.#exchange.info.responseFlags.add('DI');
      if (!(await this.#sleep(delayMs))) {
        this.#release();
        return abandoned();
      }
      // Delays can be followed by aborts; the delayed request already holds its active fault.
      const status = this.#abortStatus();
      if (status !== undefined) return this.#abort(status);
      if (limitKbps === undefined) this.#release();
      return this.#forward(next, limitKbps);
    }

    const status = this.#abortStatus();
    if (status !== undefined && this.#acquire()) return this.#abort(status);
    return this.#forward(next, limitKbps);
  }

  #abortStatus(): AbortStatus | undefined {
    const abort = this.#settings.abort;
    const headers = this.#exchange.request.headers;
    if (abort === undefined || !abort.share.includes(this.#context.random(), headers)) return undefined;
    return this.#settings.abortStatus(headers);
  }

  #abort(status: AbortStatus): HttpResponse {
    this.#count('aborts_injected');
    this.#release();
    const exchange = this.#exchange;
    const grpc = isGrpcRequest(exchange.request.headers);
    const response = localReply(exchange.info, {
      status: status.kind === 'http' ? status.status : 200,
      body: 'fault filter abort',
      flag: 'FI',
      details: 'fault_filter_abort',
      grpc,
    });
    if (grpc && status.kind === 'grpc') response.headers['grpc-status'] = String(status.status);
    return response;
  }

  /** Passes the request on; with a rate limit, the response body is slowed and the fault held until it is over. */
  async #forward(next: () => Promise<HttpResponse>, limitKbps: number | undefined): Promise<HttpResponse> {
    if (limitKbps === undefined) return next();
    let response: HttpResponse;
    try {
      response = await next();
    } catch (error) {
      this.#release();
      throw error;
    }
    const body = response.body;
    if (body === null || response.upgraded !== undefined || (Buffer.isBuffer(body) && body.length === 0)) {
      this.#release();
      return response;
    }
    const limited = RateLimitedBody.wrap(body, limitKbps * 1024, this.#context.timers, this.#context.clock);
    limited.once('close', () => this.#release());
    return { ...response, body: limited };
  }

  /** Waits `ms`; false when the client went away (or the stream was otherwise ended) first. */
  #sleep(ms: number): Promise<boolean> {
    const signal = this.#exchange.signal;
    if (signal.aborted) return Promise.resolve(false);
    const timers = this.#context.timers;
    return new Promise((resolve) => {
      const onAbort = (): void => {
        timers.clearTimeout(timer);
        resolve(false);
      };
      const timer = timers.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Takes an active fault for the request, once; false (and faults_overflow) at maxActiveFaults. */
  #acquire(): boolean {
    if (!this.#active) this.#active = this.#context.active.tryAcquire(this.#settings.maxActiveFaults);
    return this.#active;
  }

  #release(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#context.active.release();
  }

  #count(name: 'delays_injected' | 'aborts_injected'): void {
    const stats = this.#context.stats;
    (name === 'delays_injected' ? stats.delaysInjected : stats.abortsInjected).inc();
    if (!this.#settings.downstreamClusterStats) return;
    const cluster = headerValue(this.#exchange.request.headers, DOWNSTREAM_CLUSTER);
    if (cluster !== undefined && cluster !== '') stats.byDownstreamCluster(cluster, name).inc();
  }
}

/**
 * What a request abandoned during its delay resolves to. The connection manager has already
 * ended the stream (and recorded why), so nobody sends this, and the stream info is left alone.
 */
function abandoned(): HttpResponse {
  return { status: 503, headers: {}, body: null };
}
