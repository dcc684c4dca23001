import type { Result, Timers } from '../../../core/index.ts';
import { HTTP_CONNECTION_MANAGER_TYPE } from '../../../xds/envoy/index.ts';
import { FilterChain } from '../../http/filter-chain.ts';
import type { HttpFilterRegistry } from '../../http/filter-factory.ts';
import type { RouteTable } from '../../route/index.ts';
import type { NetworkFilter, NetworkFilterDeps, NetworkFilterFactory } from '../network-filter.ts';
import { parseHcmConfig, type HcmConfig } from './hcm-config.ts';
import { HcmStats } from './hcm-stats.ts';
import { HttpConnectionManager } from './http-connection-manager.ts';
import { RouteReplyFilter } from './route-reply-filter.ts';

export interface HttpConnectionManagerOptions {
  /** RDS route tables by name: the RouteConfigStore. Read for each request, so an update reaches the next one. */
  readonly routes: { get(name: string): RouteTable | undefined };
  /** The HTTP filter factories, by config type URL; the router among them. */
  readonly httpFilters: HttpFilterRegistry;
  readonly timers: Timers;
  /** A fresh x-request-id: a UUID v4 (main/ gives `crypto.randomUUID`). */
  readonly newRequestId: () => string;
}

/**
 * `envoy.filters.network.http_connection_manager`. Parsing validates the whole config, the HTTP
 * filters' configs and an inline route configuration, so that any error NACKs the listener;
 * each filter chain gets its own manager, with its HTTP filters created once and shared by its
 * requests. Filters get the network filter deps (clusters, stats, clock, random, logger).
 */
export class HttpConnectionManagerFactory implements NetworkFilterFactory<HcmConfig> {
  readonly typeUrl = HTTP_CONNECTION_MANAGER_TYPE;
  readonly #options: HttpConnectionManagerOptions;

  constructor(options: HttpConnectionManagerOptions) {
    this.#options = options;
  }

  parse(config: Readonly<Record<string, unknown>>): Result<HcmConfig, string> {
    return parseHcmConfig(config, this.#options.httpFilters);
  }

  create(config: HcmConfig, deps: NetworkFilterDeps): NetworkFilter {
    const stats = new HcmStats(deps.stats, config.statPrefix);
    const filterDeps = { ...deps, httpStats: deps.stats.scope(`http.${config.statPrefix}`) };
    const filters = config.httpFilters.map((filter) => filter.factory.create(filter.config, filterDeps));
    // Answers for unroutable requests, redirects and direct responses sit just before the router.
    filters.splice(filters.length - 1, 0, new RouteReplyFilter(stats));
    const routes = config.routes;
    const store = this.#options.routes;
    return new HttpConnectionManager({
      config,
      stats,
      chain: new FilterChain(filters),
      routeTable: routes.kind === 'static' ? () => routes.table : () => store.get(routes.name),
      clock: deps.clock,
      timers: this.#options.timers,
      random: deps.random,
      newRequestId: this.#options.newRequestId,
      logger: deps.logger,
      accessLog: deps.accessLog,
    });
  }
}
