import { err, ok, type Result, type Timers } from '../../../core/index.ts';
import { ROUTER_TYPE } from '../../../xds/envoy/index.ts';
import type { HttpExchange, HttpFilter, HttpResponse } from '../../http/exchange.ts';
import type { FilterDeps, HttpFilterFactory } from '../../http/filter-factory.ts';
import { routeReply } from '../../http/route-reply.ts';
import { ForwardedRequest, RouterStats, type ConnectionPools, type RouterContext } from './forwarded-request.ts';

/** The Router filter's config: of Envoy's fields only `suppressEnvoyHeaders` changes what Weft does. */
export interface RouterConfig {
  /** No `x-envoy-attempt-count`, `x-envoy-expected-rq-timeout-ms`, `x-envoy-upstream-service-time`, `x-envoy-original-path`. */
  readonly suppressEnvoyHeaders: boolean;
}

export interface RouterFilterOptions {
  readonly pools: ConnectionPools;
  readonly timers: Timers;
  /** How much of a request body is kept for retries and mirrors (Envoy's buffer limit); 64 KiB by default. */
  readonly bufferLimitBytes?: number;
}

const DEFAULT_BUFFER_LIMIT_BYTES = 65_536;

/** Envoy's Router fields: accepted (so that Envoy configs load), but only suppressEnvoyHeaders has an effect. */
const ROUTER_FIELDS: ReadonlySet<string> = new Set([
  '@type', 'dynamicStats', 'startChildSpan', 'upstreamLog', 'upstreamLogOptions', 'suppressEnvoyHeaders', 'strictCheckHeaders',
  'respectExpectedRqTimeout', 'suppressGrpcRequestFailureCodeStats', 'upstreamHttpFilters',
]);

/**
 * `envoy.filters.http.router`, the terminal HTTP filter: forwards each request to a host of the
 * route's cluster through the connection pools, with the route's timeouts, retries, header
 * changes and mirrors, and answers redirects, direct responses and unroutable requests itself.
 */
export class RouterFilterFactory implements HttpFilterFactory<RouterConfig> {
  readonly typeUrl = ROUTER_TYPE;
  readonly #options: RouterFilterOptions;

  constructor(options: RouterFilterOptions) {
    this.#options = options;
  }

  parse(config: Readonly<Record<string, unknown>>): Result<RouterConfig, string> {
    for (const field of Object.keys(config)) {
      if (!ROUTER_FIELDS.has(field)) return err(`unknown Router field "${field}"`);
    }
    const suppress = config['suppressEnvoyHeaders'];
    if (suppress !== undefined && typeof suppress !== 'boolean') return err('suppressEnvoyHeaders: must be true or false');
    return ok({ suppressEnvoyHeaders: suppress === true });
  }

  create(config: RouterConfig, deps: FilterDeps): HttpFilter {
    return new RouterFilter({
      clusters: deps.clusters,
      pools: this.#options.pools,
      timers: this.#options.timers,
      clock: deps.clock,
      random: deps.random,
      logger: deps.logger,
      stats: new RouterStats(deps.stats),
      suppressEnvoyHeaders: config.suppressEnvoyHeaders,
      bufferLimitBytes: this.#options.bufferLimitBytes ?? DEFAULT_BUFFER_LIMIT_BYTES,
    });
  }
}

class RouterFilter implements HttpFilter {
  readonly #context: RouterContext;

  constructor(context: RouterContext) {
    this.#context = context;
  }

  /** Only forwarding routes normally reach the router (the connection manager answers the rest); a chain without that step still gets the same answers. */
  handle(exchange: HttpExchange): Promise<HttpResponse> {
    const reply = routeReply(exchange);
    if (reply !== undefined) return Promise.resolve(reply.response);
    const route = exchange.route!;
    if (route.action.kind !== 'forward') throw new Error('routeReply answers every non-forwarding route');
    return new ForwardedRequest(this.#context, exchange, route, route.action).run();
  }
}
