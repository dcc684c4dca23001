import type { Clock, Logger, Result } from '../../core/index.ts';
import type { ClusterManager } from '../upstream/cluster.ts';
import type { StatsScope } from '../telemetry/stats.ts';
import type { HttpFilter } from './exchange.ts';

/** What a filter may use; injected so that tests control time and randomness. */
export interface FilterDeps {
  readonly clusters: ClusterManager;
  /** The proxy's root scope (the router writes `cluster.<name>.*` there). */
  readonly stats: StatsScope;
  /** The connection manager's scope, `http.<stat_prefix>.`: where a filter's own stats go, as in Envoy. */
  readonly httpStats: StatsScope;
  readonly clock: Clock;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  readonly logger: Logger;
}

/**
 * Builds one kind of HTTP filter from its typed config (the `typedConfig` of an
 * HttpConnectionManager's `httpFilters` entry). Parsing happens when LDS arrives, so a bad
 * config NACKs the listener; `parsePerRoute` does the same for `typedPerFilterConfig` on routes.
 */
export interface HttpFilterFactory<C = unknown, R = unknown> {
  /** The config's type URL, e.g. `type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault`. */
  readonly typeUrl: string;
  parse(config: Readonly<Record<string, unknown>>): Result<C, string>;
  parsePerRoute?(config: Readonly<Record<string, unknown>>): Result<R, string>;
  create(config: C, deps: FilterDeps): HttpFilter;
}

/** The factories the proxy knows, by type URL; built in main/, never filled by imports. */
export type HttpFilterRegistry = ReadonlyMap<string, HttpFilterFactory>;
