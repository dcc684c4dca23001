import type { Socket } from 'node:net';
import { err, ok, type Logger, type Result, type TimerHandle, type Timers } from '../../../core/index.ts';
import type { RequestHead } from '../../http/request-head.ts';
import type { StatsScope } from '../../telemetry/stats.ts';
import type { ClusterManager, UpstreamCluster, UpstreamHost } from '../cluster.ts';
import { ClusterTransports, sniFromAuthority, type ClusterTransport } from '../cluster-transport.ts';
import type { InternalListeners, InternalOrigin } from '../internal-listeners.ts';
import { alpnFor, PLAINTEXT, type ConnectionSecurity, type ConnectionUse } from '../transport-connect.ts';
import type { SecretLookup } from '../../security/secret-store.ts';
import type { ReadFile } from '../../security/tls-context.ts';
import type { UpstreamTransportSocket } from '../upstream-tls.ts';
import type { HttpConnectionPool, PoolDeps, UpstreamFailure } from './connection-pool.ts';
import { Http1ConnectionPool } from './http1-pool.ts';
import { Http2ConnectionPool } from './http2-pool.ts';
import { poolSettings, type PoolSettings } from './pool-settings.ts';
import { poolStats, type PoolStats } from './pool-stats.ts';
import { UnavailablePool } from './unavailable-pool.ts';
import { openTunnel, openUpgrade, type UpgradeResult } from './upgrade-connection.ts';

export interface UpstreamPoolsOptions {
  readonly timers: Timers;
  /** The proxy's root scope; pools write `cluster.<name>.upstream_cx_*` and `upstream_rq_*`. */
  readonly stats: StatsScope;
  /** When given, pools of clusters it no longer has are drained every `sweepIntervalMs`. */
  readonly clusters?: ClusterManager;
  readonly sweepIntervalMs?: number;
  /** Reads the certificate files of TLS clusters; node's readFileSync by default. */
  readonly readFile?: ReadFile;
  /** Where TLS contexts find the SDS secrets they name. */
  readonly secrets?: SecretLookup | undefined;
  /** Warns of clusters whose TLS connections cannot be made (SDS secrets). */
  readonly logger?: Logger;
  /** Where hosts that are internal listeners are reached; connecting to one is refused without it. */
  readonly internalListeners?: InternalListeners;
}

export interface UpgradeOptions {
  /** The Upgrade token, lower-case (`websocket`); `connect` sends the request as a CONNECT. */
  readonly protocol: string;
  /** Before the answer: fails the upgrade with `aborted`. After a plain answer: cuts its body off. */
  readonly signal: AbortSignal;
}

export interface TunnelOptions {
  /** The CONNECT's authority, from which a cluster with auto SNI takes the SNI. */
  readonly authority: string;
  /** Before the connection is established: fails the tunnel with `aborted`. */
  readonly signal: AbortSignal;
  /** The downstream connection the tunnel carries, for an internal listener's side. */
  readonly origin?: InternalOrigin;
}

interface ClusterPools {
  readonly cluster: UpstreamCluster;
  readonly settings: PoolSettings;
  readonly stats: PoolStats;
  readonly transport: ClusterTransport;
  readonly hosts: Map<string, HostPools>;
}

interface HostPools {
  /** The transport socket the pools were made for: a host whose metadata now picks another gets new pools. */
  readonly socket: UpstreamTransportSocket;
  /** By protocol, or with auto SNI by protocol and SNI (`http1 api.example.com`). */
  readonly pools: Map<string, HttpConnectionPool>;
}

const DEFAULT_SWEEP_INTERVAL_MS = 30_000;

/**
 * The connection pools of the proxy, one per (cluster, host, protocol), and per SNI for clusters
 * with auto SNI, made on first use, plaintext or TLS as the cluster's transport socket (or the
 * transportSocketMatch the host's metadata picks) says. A cluster replaced by CDS (a new
 * UpstreamCluster object) gets fresh pools with its new limits and the old ones drain, as Envoy
 * drains pools on a cluster update. Pools of hosts and clusters that went away drain too, and
 * pools left with nothing open are forgotten. Upgrades (WebSocket) and CONNECT tunnels get
 * connections of their own.
 */
export class UpstreamPools {
  readonly #options: UpstreamPoolsOptions;
  readonly #transports: ClusterTransports;
  readonly #clusters = new Map<string, ClusterPools>();
  /** Pools taking no new requests, kept until they are idle so that close() reaches them. */
  readonly #draining = new Set<HttpConnectionPool>();
  /** Connections of upgrades, open until their session ends. */
  readonly #upgrades = new Set<Socket>();
  #sweepTimer: TimerHandle | undefined;
  #closed = false;

  constructor(options: UpstreamPoolsOptions) {
    this.#options = options;
    this.#transports = new ClusterTransports({ ...(options.readFile !== undefined && { readFile: options.readFile }), secrets: options.secrets, logger: options.logger });
    if (options.clusters !== undefined) this.#scheduleSweep();
  }

  /** `authority`: the request's, from which a cluster with auto SNI takes the SNI. */
  pool(cluster: UpstreamCluster, host: UpstreamHost, protocol: 'http1' | 'http2', authority?: string): HttpConnectionPool {
    const pools = this.#clusterPools(cluster);
    const hostPools = this.#hostPools(pools, host);
    const socket = hostPools.socket;
    const sni = socket.kind === 'tls' && pools.transport.autoSni && authority !== undefined ? sniFromAuthority(authority) : undefined;
    const key = sni === undefined ? protocol : `${protocol} ${sni}`;
    let pool = hostPools.pools.get(key);
    if (pool === undefined) {
      pool = this.#newPool(pools, host, protocol, socket, sni);
      hostPools.pools.set(key, pool);
    }
    return pool;
  }

  /**
   * Sends an Upgrade request to a host on a new HTTP/1.1 connection, whatever the cluster's
   * protocol (as Envoy does without extended CONNECT), secured as the host's other connections.
   */
  upgrade(cluster: UpstreamCluster, host: UpstreamHost, head: RequestHead, options: UpgradeOptions): Promise<UpgradeResult> {
    const deps = this.#dedicatedDeps(cluster, host, head.authority, 'http1');
    if (!deps.ok) return Promise.resolve(deps);
    return openUpgrade(deps.value, head, options.protocol, options.signal, this.#upgrades);
  }

  /**
   * A raw connection to a host for a CONNECT the proxy terminates, on a new connection of its own,
   * secured as the host's other connections (without an HTTP ALPN).
   */
  tunnel(cluster: UpstreamCluster, host: UpstreamHost, options: TunnelOptions): Promise<UpgradeResult> {
    const deps = this.#dedicatedDeps(cluster, host, options.authority, 'tcp');
    if (!deps.ok) return Promise.resolve(deps);
    return openTunnel(deps.value, options.signal, this.#upgrades, options.origin);
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
        for (const [key, pool] of hostPools.pools) if (pool.isIdle()) hostPools.pools.delete(key);
        if (hostPools.pools.size === 0) pools.hosts.delete(id);
      }
    }
    for (const pool of this.#draining) {
      if (pool.isIdle()) this.#draining.delete(pool);
    }
  }

  /** Closes every connection: pooled, draining, and upgraded sessions. */
  close(): void {
    this.#closed = true;
    if (this.#sweepTimer !== undefined) this.#options.timers.clearTimeout(this.#sweepTimer);
    for (const pools of this.#clusters.values()) {
      for (const hostPools of pools.hosts.values()) for (const pool of hostPools.pools.values()) pool.close();
    }
    this.#clusters.clear();
    for (const pool of this.#draining) pool.close();
    this.#draining.clear();
    for (const socket of this.#upgrades) socket.destroy();
    this.#upgrades.clear();
  }

  /** What a connection of its own to a host is made with, or why none can be. */
  #dedicatedDeps(cluster: UpstreamCluster, host: UpstreamHost, authority: string, use: ConnectionUse): Result<PoolDeps, UpstreamFailure> {
    if (this.#closed) return err({ kind: 'reset', remote: false, requestSent: false, message: 'connection pools closed' });
    const pools = this.#clusterPools(cluster);
    const socket = this.#hostPools(pools, host).socket;
    if (socket.kind === 'unavailable') {
      pools.stats.cxConnectFail.inc();
      if (host.stats !== undefined) host.stats.cxConnectFail++;
      return err({ kind: 'connect-failure', message: socket.reason, transportFailureReason: socket.reason });
    }
    const sni = socket.kind === 'tls' && pools.transport.autoSni ? sniFromAuthority(authority) : undefined;
    return ok(this.#deps(pools, host, this.#security(pools.transport, socket, sni, use)));
  }

  #clusterPools(cluster: UpstreamCluster): ClusterPools {
    let pools = this.#clusters.get(cluster.name);
    if (pools === undefined || pools.cluster !== cluster) {
      if (pools !== undefined) this.#drainCluster(pools);
      pools = {
        cluster,
        settings: poolSettings(cluster),
        stats: poolStats(this.#options.stats.scope(`cluster.${cluster.name}`)),
        transport: this.#transports.of(cluster),
        hosts: new Map(),
      };
      this.#clusters.set(cluster.name, pools);
    }
    return pools;
  }

  #hostPools(pools: ClusterPools, host: UpstreamHost): HostPools {
    const socket = pools.transport.forHost(host);
    let hostPools = pools.hosts.get(host.id);
    if (hostPools === undefined || hostPools.socket !== socket) {
      if (hostPools !== undefined) this.#drainHost(hostPools);
      hostPools = { socket, pools: new Map() };
      pools.hosts.set(host.id, hostPools);
    }
    return hostPools;
  }

  #newPool(pools: ClusterPools, host: UpstreamHost, protocol: 'http1' | 'http2', socket: UpstreamTransportSocket, sni: string | undefined): HttpConnectionPool {
    if (socket.kind === 'unavailable') return new UnavailablePool(protocol, socket.reason, host, pools.stats);
    const deps = this.#deps(pools, host, this.#security(pools.transport, socket, sni, protocol));
    return protocol === 'http1' ? new Http1ConnectionPool(deps) : new Http2ConnectionPool(deps);
  }

  #deps(pools: ClusterPools, host: UpstreamHost, security: ConnectionSecurity): PoolDeps {
    return { cluster: pools.cluster, host, settings: pools.settings, timers: this.#options.timers, stats: pools.stats, security, internal: this.#options.internalListeners };
  }

  #security(transport: ClusterTransport, socket: Exclude<UpstreamTransportSocket, { kind: 'unavailable' }>, sni: string | undefined, use: ConnectionUse): ConnectionSecurity {
    if (socket.kind === 'raw') return PLAINTEXT;
    const tls = socket.tls;
    return {
      kind: 'tls',
      tls,
      serverName: sni ?? tls.sni,
      sanHost: transport.autoSanValidation ? sni : undefined,
      alpn: alpnFor(tls.alpn, use),
    };
  }

  #drainCluster(pools: ClusterPools): void {
    if (this.#clusters.get(pools.cluster.name) === pools) this.#clusters.delete(pools.cluster.name);
    for (const hostPools of pools.hosts.values()) this.#drainHost(hostPools);
    pools.hosts.clear();
  }

  #drainHost(hostPools: HostPools): void {
    for (const pool of hostPools.pools.values()) {
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
