import type { TimerHandle, Timers } from '../../../core/index.ts';
import type { StatsScope } from '../../telemetry/stats.ts';
import type { ClusterManager, UpstreamCluster, UpstreamHost } from '../cluster.ts';
import type { HttpConnectionPool, PoolDeps } from './connection-pool.ts';
import { Http1ConnectionPool } from './http1-pool.ts';
import { Http2ConnectionPool } from './http2-pool.ts';
import { poolSettings, type PoolSettings } from './pool-settings.ts';
import { poolStats, type PoolStats } from './pool-stats.ts';

export interface UpstreamPoolsOptions {
  readonly timers: Timers;
  /** The proxy's root scope; pools write `cluster.<name>.upstream_cx_*` and `upstream_rq_*`. */
  readonly stats: StatsScope;
  /** When given, pools of clusters it no longer has are drained every `sweepIntervalMs`. */
  readonly clusters?: ClusterManager;
  readonly sweepIntervalMs?: number;
}

interface ClusterPools {
  readonly cluster: UpstreamCluster;
  readonly settings: PoolSettings;
  readonly stats: PoolStats;
  readonly hosts: Map<string, HostPools>;
}

interface HostPools {
  http1?: HttpConnectionPool;
  http2?: HttpConnectionPool;
}

const DEFAULT_SWEEP_INTERVAL_MS = 30_000;

/**
 * The connection pools of the proxy, one per (cluster, host, protocol), made on first use.
 * A cluster replaced by CDS (a new UpstreamCluster object) gets fresh pools with its new limits
 * and the old ones drain, as Envoy drains pools on a cluster update. Pools of hosts and clusters
 * that went away drain too, and pools left with nothing open are forgotten.
 */
export class UpstreamPools {
  readonly #options: UpstreamPoolsOptions;
  readonly #clusters = new Map<string, ClusterPools>();
  /** Pools taking no new requests, kept until they are idle so that close() reaches them. */
  readonly #draining = new Set<HttpConnectionPool>();
  #sweepTimer: TimerHandle | undefined;
  #closed = false;

  constructor(options: UpstreamPoolsOptions) {
    this.#options = options;
    if (options.clusters !== undefined) this.#scheduleSweep();
  }

  pool(cluster: UpstreamCluster, host: UpstreamHost, protocol: 'http1' | 'http2'): HttpConnectionPool {
    let pools = this.#clusters.get(cluster.name);
    if (pools === undefined || pools.cluster !== cluster) {
      if (pools !== undefined) this.#drainCluster(pools);
      pools = {
        cluster,
        settings: poolSettings(cluster),
        stats: poolStats(this.#options.stats.scope(`cluster.${cluster.name}`)),
        hosts: new Map(),
      };
      this.#clusters.set(cluster.name, pools);
    }
    let hostPools = pools.hosts.get(host.id);
    if (hostPools === undefined) {
      hostPools = {};
      pools.hosts.set(host.id, hostPools);
    }
    let pool = hostPools[protocol];
    if (pool === undefined) {
      const deps: PoolDeps = { cluster, host, settings: pools.settings, timers: this.#options.timers, stats: pools.stats };
      pool = protocol === 'http1' ? new Http1ConnectionPool(deps) : new Http2ConnectionPool(deps);
      hostPools[protocol] = pool;
    }
    return pool;
  }

  /** Drains the pools of a cluster's hosts that are not in `hostIds` (after an EDS update). */
  retainHosts(clusterName: string, hostIds: ReadonlySet<string>): void {
    const pools = this.#clusters.get(clusterName);
    if (pools === undefined) return;
    for (const [id, hostPools] of pools.hosts) {
      if (hostIds.has(id)) continue;
      pools.hosts.delete(id);
      this.#drainHost(hostPools);
    }
  }

  /** Drains every pool of a cluster (after CDS removed it). */
  removeCluster(clusterName: string): void {
    const pools = this.#clusters.get(clusterName);
    if (pools === undefined) return;
    this.#drainCluster(pools);
  }

  /**
   * Drains pools of clusters the cluster manager no longer has (or has replaced), forgets pools
   * with nothing open, and lets go of drained pools once idle.
   */
  sweep(clusters: ClusterManager): void {
    for (const pools of [...this.#clusters.values()]) {
      if (clusters.get(pools.cluster.name) !== pools.cluster) {
        this.#drainCluster(pools);
        continue;
      }
      for (const [id, hostPools] of pools.hosts) {
        if (hostPools.http1?.isIdle() === true) delete hostPools.http1;
        if (hostPools.http2?.isIdle() === true) delete hostPools.http2;
        if (hostPools.http1 === undefined && hostPools.http2 === undefined) pools.hosts.delete(id);
      }
    }
    for (const pool of this.#draining) {
      if (pool.isIdle()) this.#draining.delete(pool);
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#sweepTimer !== undefined) this.#options.timers.clearTimeout(this.#sweepTimer);
    for (const pools of this.#clusters.values()) {
      for (const hostPools of pools.hosts.values()) {
        hostPools.http1?.close();
        hostPools.http2?.close();
      }
    }
    this.#clusters.clear();
    for (const pool of this.#draining) pool.close();
    this.#draining.clear();
  }

  #drainCluster(pools: ClusterPools): void {
    if (this.#clusters.get(pools.cluster.name) === pools) this.#clusters.delete(pools.cluster.name);
    for (const hostPools of pools.hosts.values()) this.#drainHost(hostPools);
    pools.hosts.clear();
  }

  #drainHost(hostPools: HostPools): void {
    for (const pool of [hostPools.http1, hostPools.http2]) {
      if (pool === undefined) continue;
      pool.drain();
      if (!pool.isIdle()) this.#draining.add(pool);
    }
  }

  #scheduleSweep(): void {
    const clusters = this.#options.clusters;
    if (clusters === undefined || this.#closed) return;
    this.#sweepTimer = this.#options.timers.setTimeout(() => {
      this.sweep(clusters);
      this.#scheduleSweep();
    }, this.#options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
  }
}
