import type { Clock, Result } from '../../../core/index.ts';
import { HTTP_FILTER, LOCAL_RATE_LIMIT_TYPE } from '../../../xds/envoy/index.ts';
import type { HttpExchange, HttpFilter, HttpResponse } from '../../http/exchange.ts';
import type { FilterDeps, HttpFilterFactory } from '../../http/filter-factory.ts';
import { appendHeader, type Headers } from '../../http/headers.ts';
import { isGrpcRequest, localReply } from '../../http/local-reply.ts';
import { applyHeaderMutation } from '../../route/header-mutation.ts';
import type { Counter, StatsScope } from '../../telemetry/stats.ts';
import { LocalRateLimitSettings, parseLocalRateLimit } from './local-ratelimit-settings.ts';
import type { TokenBucket } from './token-bucket.ts';

/** gRPC's RESOURCE_EXHAUSTED, for `rateLimitedAsResourceExhausted`. */
const GRPC_RESOURCE_EXHAUSTED = '8';

/**
 * `envoy.filters.http.local_ratelimit`: a token bucket in front of the upstream, as Envoy has it.
 * A route's or virtual host's `typedPerFilterConfig['envoy.filters.http.local_ratelimit']`
 * replaces the filter's own config for its requests, with a bucket of its own.
 *
 * For the share of requests in filterEnabled (none when unset), the request takes a token: with
 * one it goes on (`ok`); without (`rate_limited`), for the share in filterEnforced (none when
 * unset) it is answered here (`enforced`) with the configured status (429), body
 * `local_rate_limited`, flag RL, details `local_rate_limited` and responseHeadersToAdd, never
 * reaching the upstream; otherwise it goes on with requestHeadersToAddWhenNotEnforced. A limited
 * gRPC call is answered trailers-only with UNAVAILABLE, or RESOURCE_EXHAUSTED when
 * rateLimitedAsResourceExhausted. As in Envoy's code (whatever its docs say), no
 * `x-envoy-ratelimited` header is set: that is the global rate limit filter's. A config without a
 * tokenBucket (the filter's own, leaving limits to routes) checks nothing.
 *
 * With `enableXRatelimitHeaders: DRAFT_VERSION_03`, every response to a checked request, limited
 * or not, gets x-ratelimit-limit (maxTokens), x-ratelimit-remaining (tokens left) and
 * x-ratelimit-reset (whole seconds until the next fill, rounded up), read as the response passes.
 *
 * Stats are Envoy's `<statPrefix>.http_local_rate_limit.{enabled,enforced,rate_limited,ok}`,
 * named by the config that applied and kept in the proxy's root scope (`deps.stats`), where
 * Envoy keeps them: not under the connection manager's `http.<stat_prefix>.`.
 */
export class LocalRateLimitFilterFactory implements HttpFilterFactory<LocalRateLimitSettings, LocalRateLimitSettings> {
  readonly typeUrl = LOCAL_RATE_LIMIT_TYPE;

  parse(config: Readonly<Record<string, unknown>>): Result<LocalRateLimitSettings, string> {
    return parseLocalRateLimit(config, false);
  }

  parsePerRoute(config: Readonly<Record<string, unknown>>): Result<LocalRateLimitSettings, string> {
    return parseLocalRateLimit(config, true);
  }

  create(settings: LocalRateLimitSettings, deps: FilterDeps): HttpFilter {
    return new LocalRateLimitFilter(settings, deps);
  }
}

class LocalRateLimitStats {
  readonly enabled: Counter;
  readonly enforced: Counter;
  readonly rateLimited: Counter;
  readonly ok: Counter;

  constructor(scope: StatsScope) {
    this.enabled = scope.counter('enabled');
    this.enforced = scope.counter('enforced');
    this.rateLimited = scope.counter('rate_limited');
    this.ok = scope.counter('ok');
  }
}

class LocalRateLimitFilter implements HttpFilter {
  readonly #settings: LocalRateLimitSettings;
  readonly #stats: StatsScope;
  readonly #clock: Clock;
  readonly #random: () => number;
  /** Each config's counters, made once rather than per request. */
  readonly #statsBySettings = new WeakMap<LocalRateLimitSettings, LocalRateLimitStats>();

  constructor(settings: LocalRateLimitSettings, deps: FilterDeps) {
    this.#settings = settings;
    this.#stats = deps.stats;
    this.#clock = deps.clock;
    this.#random = deps.random;
  }

  handle(exchange: HttpExchange, next: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const own = exchange.route?.perFilterConfig.get(HTTP_FILTER.localRateLimit);
    const settings = own instanceof LocalRateLimitSettings ? own : this.#settings;
    const bucket = settings.bucketFor(exchange.downstream);
    if (bucket === undefined || !settings.enabled.includes(this.#random)) return next();

    const stats = this.#statsFor(settings);
    stats.enabled.inc();
    if (bucket.tryTake(this.#clock.now())) {
      stats.ok.inc();
      return this.#forward(settings, bucket, next);
    }
    stats.rateLimited.inc();
    if (!settings.enforced.includes(this.#random)) {
      applyHeaderMutation(exchange.request.headers, settings.requestHeadersWhenNotEnforced);
      return this.#forward(settings, bucket, next);
    }
    stats.enforced.inc();
    const grpc = isGrpcRequest(exchange.request.headers);
    const response = localReply(exchange.info, { status: settings.status, body: 'local_rate_limited', flag: 'RL', details: 'local_rate_limited', grpc });
    if (grpc && settings.grpcResourceExhausted) response.headers['grpc-status'] = GRPC_RESOURCE_EXHAUSTED;
    applyHeaderMutation(response.headers, settings.responseHeaders);
    this.#addRateLimitHeaders(settings, bucket, response.headers);
    return Promise.resolve(response);
  }

  async #forward(settings: LocalRateLimitSettings, bucket: TokenBucket, next: () => Promise<HttpResponse>): Promise<HttpResponse> {
    if (!settings.xRateLimitHeaders) return next();
    const response = await next();
    this.#addRateLimitHeaders(settings, bucket, response.headers);
    return response;
  }

  /** Added beside any the upstream sent, as Envoy adds them. */
  #addRateLimitHeaders(settings: LocalRateLimitSettings, bucket: TokenBucket, headers: Headers): void {
    if (!settings.xRateLimitHeaders) return;
    const now = this.#clock.now();
    appendHeader(headers, 'x-ratelimit-limit', String(bucket.spec.maxTokens));
    appendHeader(headers, 'x-ratelimit-remaining', String(bucket.remaining(now)));
    appendHeader(headers, 'x-ratelimit-reset', String(Math.ceil(bucket.untilNextFill(now) / 1000)));
  }

  #statsFor(settings: LocalRateLimitSettings): LocalRateLimitStats {
    let stats = this.#statsBySettings.get(settings);
    if (stats === undefined) {
      stats = new LocalRateLimitStats(this.#stats.scope(`${settings.statPrefix}.http_local_rate_limit`));
      this.#statsBySettings.set(settings, stats);
    }
    return stats;
  }
}
