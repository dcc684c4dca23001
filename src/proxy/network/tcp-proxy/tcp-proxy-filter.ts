import { isIPv6, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TimerHandle, Timers } from '../../../core/index.ts';
import type { ResponseFlag, StreamInfo } from '../../http/exchange.ts';
import type { Counter, Gauge } from '../../telemetry/stats.ts';
import type { UpstreamCluster, UpstreamHost } from '../../upstream/cluster.ts';
import type { ClusterTransports } from '../../upstream/cluster-transport.ts';
import { alpnFor, connectUpstream, PLAINTEXT, tcpKeepaliveOf, transportFailureReason, whenEstablished, type ConnectionSecurity } from '../../upstream/transport-connect.ts';
import type { InternalListeners } from '../../upstream/internal-listeners.ts';
import type { UpstreamTransportSocket } from '../../upstream/upstream-tls.ts';
import type { DownstreamConnection, NetworkFilter, NetworkFilterDeps } from '../network-filter.ts';
import type { TcpProxyConfig } from './tcp-proxy-config.ts';

interface FilterStats {
  readonly total: Counter;
  readonly noRoute: Counter;
  readonly rxBytes: Counter;
  readonly txBytes: Counter;
  readonly idleTimeout: Counter;
  readonly durationTimeout: Counter;
}

interface ClusterStats {
  readonly total: Counter;
  readonly active: Gauge;
  readonly connectFail: Counter;
  readonly connectTimeout: Counter;
  readonly overflow: Counter;
  readonly noneHealthy: Counter;
  readonly rxBytes: Counter;
  readonly txBytes: Counter;
}

/**
 * tcp_proxy: connects each downstream connection to a host of its cluster, plaintext or TLS as the
 * cluster's transport socket says, and copies bytes both ways until both sides are done. A side
 * that ends its writes (half-close) has its end passed on while the other direction keeps flowing.
 * One access log entry per connection.
 */
export class TcpProxyFilter implements NetworkFilter {
  readonly config: TcpProxyConfig;
  readonly deps: NetworkFilterDeps;
  readonly timers: Timers;
  readonly transports: ClusterTransports;
  readonly internalListeners: InternalListeners | undefined;
  readonly stats: FilterStats;
  private readonly clusterStats = new Map<string, ClusterStats>();
  private readonly sessions = new Set<TcpSession>();

  constructor(config: TcpProxyConfig, deps: NetworkFilterDeps, timers: Timers, transports: ClusterTransports, internalListeners?: InternalListeners) {
    this.config = config;
    this.deps = deps;
    this.timers = timers;
    this.transports = transports;
    this.internalListeners = internalListeners;
    const scope = deps.stats.scope(`tcp.${config.statPrefix}`);
    this.stats = {
      total: scope.counter('downstream_cx_total'),
      noRoute: scope.counter('downstream_cx_no_route'),
      rxBytes: scope.counter('downstream_cx_rx_bytes_total'),
      txBytes: scope.counter('downstream_cx_tx_bytes_total'),
      idleTimeout: scope.counter('idle_timeout'),
      durationTimeout: scope.counter('max_downstream_connection_duration'),
    };
  }

  onConnection(connection: DownstreamConnection): void {
    const session = new TcpSession(this, connection);
    this.sessions.add(session);
    session.start();
  }

  /** Ends every connection at once (the drain time is over, or the proxy stops). */
  close(): void {
    for (const session of this.sessions) session.destroy();
  }

  ended(session: TcpSession): void {
    this.sessions.delete(session);
  }

  /** The cluster a new connection goes to: the one, or one by weight. */
  chooseCluster(): string {
    const target = this.config.target;
    if (target.kind === 'cluster') return target.cluster;
    let point = this.deps.random() * target.totalWeight;
    for (const cluster of target.clusters) {
      if (point < cluster.weight) return cluster.name;
      point -= cluster.weight;
    }
    return target.clusters[target.clusters.length - 1]!.name;
  }

  statsOf(cluster: string): ClusterStats {
    let stats = this.clusterStats.get(cluster);
    if (stats === undefined) {
      const scope = this.deps.stats.scope(`cluster.${cluster}`);
      stats = {
        total: scope.counter('upstream_cx_total'),
        active: scope.gauge('upstream_cx_active'),
        connectFail: scope.counter('upstream_cx_connect_fail'),
        connectTimeout: scope.counter('upstream_cx_connect_timeout'),
        overflow: scope.counter('upstream_cx_overflow'),
        noneHealthy: scope.counter('upstream_cx_none_healthy'),
        rxBytes: scope.counter('upstream_cx_rx_bytes_total'),
        txBytes: scope.counter('upstream_cx_tx_bytes_total'),
      };
      this.clusterStats.set(cluster, stats);
    }
    return stats;
  }
}

/** One proxied connection, from accept to the access log entry. */
class TcpSession {
  private readonly filter: TcpProxyFilter;
  private readonly connection: DownstreamConnection;
  private readonly downstream: Duplex;
  private readonly info: StreamInfo;
  private cluster: UpstreamCluster | undefined;
  private clusterStats: ClusterStats | undefined;
  private release: (() => void) | undefined;
  private readonly tried = new Set<UpstreamHost>();
  /** The connected upstream, once connected. */
  private upstream: Socket | undefined;
  private host: UpstreamHost | undefined;
  /** The upstream connection being attempted. */
  private attempt: { readonly socket: Socket; readonly host: UpstreamHost; readonly timer: TimerHandle } | undefined;
  private downstreamEnded = false;
  private upstreamEnded = false;
  private downstreamClosed = false;
  private upstreamClosed = false;
  private finished = false;
  private lastActivity = 0;
  private idleTimer: TimerHandle | undefined;
  private durationTimer: TimerHandle | undefined;

  constructor(filter: TcpProxyFilter, connection: DownstreamConnection) {
    this.filter = filter;
    this.connection = connection;
    this.downstream = connection.socket;
    this.info = {
      requestId: '',
      startTime: filter.deps.clock.now(),
      responseFlags: new Set<ResponseFlag>(),
      attemptCount: 0,
      bytesReceived: 0,
      bytesSent: 0,
    };
  }

  start(): void {
    const { filter, downstream } = this;
    filter.stats.total.inc();
    if (downstream.closed) {
      // Gone between the listener and here: nothing to proxy, but still a connection to log.
      this.info.responseFlags.add('DC');
      this.onDownstreamClose();
      return;
    }
    downstream.on('close', () => this.onDownstreamClose());
    // A socket emits 'end' for a FIN that arrives while nothing reads it: listen from the start.
    downstream.on('end', () => {
      this.downstreamEnded = true;
      this.upstream?.end();
    });
    downstream.on('error', (error) => filter.deps.logger.debug('tcp_proxy downstream failed', { error: error.message }));
    const durationMs = filter.config.maxDownstreamConnectionDurationMs;
    if (durationMs > 0) {
      this.durationTimer = filter.timers.setTimeout(() => {
        this.durationTimer = undefined;
        filter.stats.durationTimeout.inc();
        this.fail('DT');
      }, durationMs);
    }

    const name = filter.chooseCluster();
    this.info.upstreamCluster = name;
    const cluster = filter.deps.clusters.get(name);
    if (cluster === undefined) {
      filter.stats.noRoute.inc();
      this.fail('NC', 'cluster_not_found');
      return;
    }
    this.cluster = cluster;
    this.clusterStats = filter.statsOf(name);
    const release = cluster.circuitBreakers.tryAcquire('connections');
    if (release === undefined) {
      this.clusterStats.overflow.inc();
      this.fail('UO', 'upstream_overflow');
      return;
    }
    this.release = release;
    this.connectNext();
  }

  /** Ends both sides now. */
  destroy(): void {
    this.abandonAttempt();
    this.upstream?.destroy();
    this.downstream.destroy();
  }

  private connectNext(): void {
    const cluster = this.cluster!;
    const stats = this.clusterStats!;
    const destination = this.connection.originalDestination;
    const host = cluster.picker().pick({
      originalDestination: isIPv6(destination.address) ? `[${destination.address}]:${destination.port}` : `${destination.address}:${destination.port}`,
      ...(this.tried.size > 0 ? { avoid: this.tried } : {}),
    });
    if (host === undefined) {
      stats.noneHealthy.inc();
      this.fail('UH', 'no_healthy_upstream');
      return;
    }
    this.info.attemptCount++;
    this.info.upstreamHost = host.id;
    stats.total.inc();
    if (host.stats !== undefined) host.stats.cxTotal++;
    const security = this.security(this.filter.transports.of(cluster).forHost(host));
    if (security.kind === 'unavailable') {
      this.info.upstreamTransportFailureReason = security.reason;
      this.attemptFailed(host);
      return;
    }
    const socket = connectUpstream(host, security, { allowHalfOpen: true, internal: this.filter.internalListeners, origin: this.connection.downstream, keepalive: tcpKeepaliveOf(cluster.config) });
    // The connect timeout covers the TLS handshake too, as in Envoy.
    const timer = this.filter.timers.setTimeout(() => {
      stats.connectTimeout.inc();
      this.abandonAttempt();
      cluster.outlierDetector?.report(host, { kind: 'timeout' });
      this.attemptFailed(host);
    }, cluster.connectTimeoutMs);
    this.attempt = { socket, host, timer };
    socket.once('error', (error: Error) => {
      if (this.attempt?.socket !== socket) return;
      const reason = transportFailureReason(socket, error);
      if (reason !== undefined) this.info.upstreamTransportFailureReason = reason;
      this.abandonAttempt();
      cluster.outlierDetector?.report(host, { kind: 'connect-failed' });
      this.attemptFailed(host);
    });
    whenEstablished(socket, () => {
      if (this.attempt?.socket !== socket) return;
      this.filter.timers.clearTimeout(timer);
      this.attempt = undefined;
      cluster.outlierDetector?.report(host, { kind: 'connected', final: true });
      this.connected(socket, host);
    });
  }

  /** How connections to a host are secured; no ALPN unless the TLS context names some. */
  private security(socket: UpstreamTransportSocket): ConnectionSecurity | { readonly kind: 'unavailable'; readonly reason: string } {
    switch (socket.kind) {
      case 'raw': return PLAINTEXT;
      case 'unavailable': return socket;
      case 'tls': return { kind: 'tls', tls: socket.tls, serverName: socket.tls.sni, sanHost: undefined, alpn: alpnFor(socket.tls.alpn, 'tcp') };
    }
  }

  /** A connection to `host` failed: another host is tried while attempts remain, else the connection fails UF. */
  private attemptFailed(host: UpstreamHost): void {
    this.clusterStats!.connectFail.inc();
    if (host.stats !== undefined) host.stats.cxConnectFail++;
    this.tried.add(host);
    if (this.info.attemptCount < this.filter.config.maxConnectAttempts) this.connectNext();
    else this.fail('UF', 'upstream_connect_failure');
  }

  private abandonAttempt(): void {
    const attempt = this.attempt;
    if (attempt === undefined) return;
    this.attempt = undefined;
    this.filter.timers.clearTimeout(attempt.timer);
    attempt.socket.on('error', () => {});
    attempt.socket.destroy();
  }

  private connected(upstream: Socket, host: UpstreamHost): void {
    const { filter, downstream, info } = this;
    const stats = this.clusterStats!;
    this.upstream = upstream;
    this.host = host;
    host.activeRequests++;
    if (host.stats !== undefined) host.stats.cxActive++;
    stats.active.inc();
    if (upstream.localAddress !== undefined) info.upstreamLocalAddress = `${upstream.localAddress}:${upstream.localPort ?? 0}`;
    this.lastActivity = filter.deps.clock.now();
    this.armIdle(filter.config.idleTimeoutMs);

    downstream.on('data', (chunk: Buffer) => {
      info.bytesReceived += chunk.length;
      filter.stats.rxBytes.inc(chunk.length);
      stats.txBytes.inc(chunk.length);
      this.lastActivity = filter.deps.clock.now();
      if (!upstream.write(chunk)) downstream.pause();
    });
    upstream.on('data', (chunk: Buffer) => {
      info.bytesSent += chunk.length;
      filter.stats.txBytes.inc(chunk.length);
      stats.rxBytes.inc(chunk.length);
      this.lastActivity = filter.deps.clock.now();
      if (!downstream.write(chunk)) upstream.pause();
    });
    upstream.on('drain', () => downstream.resume());
    downstream.on('drain', () => upstream.resume());
    // Half-close: an end of writes is passed on; the other direction keeps flowing until it ends too.
    if (this.downstreamEnded) upstream.end();
    upstream.on('end', () => {
      this.upstreamEnded = true;
      downstream.end();
    });
    upstream.on('error', (error) => filter.deps.logger.debug('tcp_proxy upstream failed', { cluster: info.upstreamCluster, host: host.id, error: error.message }));
    upstream.on('close', () => this.onUpstreamClose());
    downstream.resume();
  }

  private onDownstreamClose(): void {
    this.downstreamClosed = true;
    this.abandonAttempt();
    // Closed without both directions ending cleanly: a reset, an error or a local close.
    if (!(this.downstreamEnded && this.upstreamEnded)) this.upstream?.destroy();
    this.finishIfDone();
  }

  private onUpstreamClose(): void {
    this.upstreamClosed = true;
    if (!(this.downstreamEnded && this.upstreamEnded)) this.downstream.destroy();
    this.finishIfDone();
  }

  private fail(flag: ResponseFlag, details?: string): void {
    this.info.responseFlags.add(flag);
    if (details !== undefined) this.info.responseCodeDetails = details;
    this.destroy();
  }

  private armIdle(ms: number): void {
    if (this.filter.config.idleTimeoutMs === 0) return;
    this.idleTimer = this.filter.timers.setTimeout(() => {
      this.idleTimer = undefined;
      const idleMs = this.filter.config.idleTimeoutMs;
      const quiet = this.filter.deps.clock.now() - this.lastActivity;
      if (quiet < idleMs) {
        this.armIdle(Math.max(1, idleMs - quiet));
        return;
      }
      this.filter.stats.idleTimeout.inc();
      this.fail('UT', 'idle_timeout');
    }, ms);
  }

  private finishIfDone(): void {
    if (this.finished || !this.downstreamClosed || (this.upstream !== undefined && !this.upstreamClosed)) return;
    this.finished = true;
    const { filter, info } = this;
    const timers = filter.timers;
    if (this.idleTimer !== undefined) timers.clearTimeout(this.idleTimer);
    if (this.durationTimer !== undefined) timers.clearTimeout(this.durationTimer);
    this.release?.();
    if (this.host !== undefined) {
      this.host.activeRequests--;
      if (this.host.stats !== undefined) this.host.stats.cxActive--;
      this.clusterStats?.active.dec();
    }
    filter.ended(this);
    filter.deps.accessLog.log({
      kind: 'tcp',
      downstream: this.connection.downstream,
      info,
      durationMs: filter.deps.clock.now() - info.startTime,
      listenerName: this.connection.listenerName,
    });
  }
}
