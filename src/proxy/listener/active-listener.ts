import type { Socket } from 'node:net';
import type { Timers } from '../../core/index.ts';
import type { DownstreamInfo } from '../http/exchange.ts';
import type { ConnectionFilter, DownstreamConnection, NetworkFilter, NetworkFilterDeps } from '../network/network-filter.ts';
import type { Counter, Gauge } from '../telemetry/stats.ts';
import type { CompiledChain, CompiledListener } from './compile-listener.ts';
import { terminateTls, type DownstreamTransport, type TlsRefusal } from './downstream-tls.ts';
import { FilterChainMatcher } from './filter-chain-matcher.ts';
import { unmapIpv4, type Destination } from './original-destination.ts';
import { RAW_BUFFER, sniffConnection, type Sniffed } from './sniff-connection.ts';

/** What every version of every listener shares. */
export interface ListenerContext {
  readonly deps: NetworkFilterDeps;
  readonly timers: Timers;
  /** Connections still in the listener filters, so that closing the manager can end them. */
  readonly inspecting: Set<Socket>;
}

interface RunningChain {
  readonly label: string;
  readonly transport: DownstreamTransport;
  readonly connectionFilters: readonly ConnectionFilter[];
  readonly filter: NetworkFilter;
}

interface ListenerStats {
  readonly total: Counter;
  readonly active: Gauge;
  readonly noFilterChainMatch: Counter;
  readonly listenerFilterTimeout: Counter;
  /** Envoy's `ssl.handshake` and the reasons a TLS connection was refused (`ssl.connection_error`, ...). */
  readonly tlsHandshakes: Counter;
  readonly tlsRefusals: Readonly<Record<TlsRefusal, Counter>>;
}

/**
 * One version of a listener as it runs: its filter chains with their network filters, and the
 * path of an accepted connection through the listener filters to the chain that matches.
 * Immutable: an update builds a new version, keeping the filters of the chains it did not change.
 */
export class ActiveListener {
  readonly config: CompiledListener;
  /** The LDS version that brought this config, and when (ms since the epoch). */
  readonly version: string;
  readonly appliedAt: number;
  /** By chain fingerprint. */
  private readonly filters: ReadonlyMap<string, NetworkFilter>;
  private readonly connectionFilters: ReadonlyMap<string, readonly ConnectionFilter[]>;
  private readonly matcher: FilterChainMatcher<RunningChain>;
  private readonly context: ListenerContext;
  private readonly stats: ListenerStats;

  constructor(config: CompiledListener, context: ListenerContext, version: string, previous?: ActiveListener) {
    this.config = config;
    this.context = context;
    this.version = version;
    this.appliedAt = context.deps.clock.now();
    const filters = new Map<string, NetworkFilter>();
    const connectionFilters = new Map<string, readonly ConnectionFilter[]>();
    const run = (chain: CompiledChain): RunningChain => {
      let filter = filters.get(chain.fingerprint) ?? previous?.filters.get(chain.fingerprint);
      filter ??= chain.factory.create(chain.filterConfig, context.deps);
      filters.set(chain.fingerprint, filter);
      let before = connectionFilters.get(chain.fingerprint) ?? previous?.connectionFilters.get(chain.fingerprint);
      before ??= chain.connectionFilters.map(({ factory, config: filterConfig }) => factory.create(filterConfig, context.deps));
      connectionFilters.set(chain.fingerprint, before);
      return { label: chain.label, transport: chain.transport, connectionFilters: before, filter };
    };
    const chains = config.chains.map((chain) => ({ match: chain.match, value: run(chain) }));
    this.matcher = new FilterChainMatcher(chains, config.defaultChain !== undefined ? run(config.defaultChain) : undefined);
    this.filters = filters;
    this.connectionFilters = connectionFilters;
    // An internal listener has no address to name its stats by: its name does.
    const scope = context.deps.stats.scope(config.internal ? `listener.${config.name}` : `listener.${config.address}_${config.port}`);
    this.stats = {
      total: scope.counter('downstream_cx_total'),
      active: scope.gauge('downstream_cx_active'),
      noFilterChainMatch: scope.counter('no_filter_chain_match'),
      listenerFilterTimeout: scope.counter('downstream_pre_cx_timeout'),
      tlsHandshakes: scope.counter('ssl.handshake'),
      tlsRefusals: {
        no_context: scope.counter('ssl.connection_error'),
        connection_error: scope.counter('ssl.connection_error'),
        fail_verify_no_cert: scope.counter('ssl.fail_verify_no_cert'),
        fail_verify_error: scope.counter('ssl.fail_verify_error'),
        no_sni: scope.counter('ssl.fail_verify_sni'),
      },
    };
  }

  /** The network filters of this version that `next` (a later version, or none) does not keep. */
  retiredBy(next: ActiveListener | undefined): NetworkFilter[] {
    const kept = new Set(next?.filters.values() ?? []);
    return [...new Set(this.filters.values())].filter((f) => !kept.has(f));
  }

  /**
   * Takes an accepted (or handed over) connection: runs the TLS and HTTP inspectors when this
   * listener has them, then gives the connection to the matching chain's network filter, or
   * closes it when no chain matches.
   */
  serve(socket: Socket, destination: Destination, connectionId: number): void {
    const startTime = this.context.deps.clock.now();
    this.stats.total.inc();
    this.stats.active.inc();
    socket.once('close', () => this.stats.active.dec());
    const config = this.config;
    if (!config.tlsInspector && !config.httpInspector) {
      this.dispatch(socket, destination, connectionId, RAW_BUFFER, startTime);
      return;
    }
    const inspecting = this.context.inspecting;
    inspecting.add(socket);
    const options = {
      tls: config.tlsInspector,
      http: config.httpInspector,
      timeoutMs: config.listenerFiltersTimeoutMs,
      continueOnTimeout: config.continueOnListenerFiltersTimeout,
    };
    sniffConnection(socket, options, this.context.timers, (outcome) => {
      inspecting.delete(socket);
      if (outcome.kind === 'sniffed') {
        this.dispatch(socket, destination, connectionId, outcome.sniffed, startTime);
        return;
      }
      if (outcome.kind === 'timeout') this.stats.listenerFilterTimeout.inc();
      socket.destroy();
    });
  }

  private dispatch(socket: Socket, destination: Destination, connectionId: number, sniffed: Sniffed, startTime: number): void {
    const remoteAddress = socket.remoteAddress;
    if (remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    const downstream: DownstreamInfo = {
      connectionId,
      remoteAddress: unmapIpv4(remoteAddress),
      remotePort: socket.remotePort ?? 0,
      localAddress: destination.address,
      localPort: destination.port,
    };
    const chain = this.matcher.select({
      destinationAddress: destination.address,
      destinationPort: destination.port,
      sourceAddress: downstream.remoteAddress,
      sourcePort: downstream.remotePort,
      ...(sniffed.sni !== undefined ? { serverName: sniffed.sni } : {}),
      transportProtocol: sniffed.transportProtocol,
      applicationProtocols: sniffed.applicationProtocols,
    });
    if (chain === undefined) {
      this.stats.noFilterChainMatch.inc();
      this.logNoFilterChain(downstream, startTime);
      socket.destroy();
      return;
    }
    const transport = chain.transport;
    if (transport.kind === 'raw') {
      this.connect(chain, { socket, downstream, originalDestination: destination, listenerName: this.config.name, sniffed });
      return;
    }
    const inspecting = this.context.inspecting;
    inspecting.add(socket);
    terminateTls(socket, transport.tls, this.context.timers, (outcome) => {
      inspecting.delete(socket);
      if (outcome.kind === 'refused') {
        this.stats.tlsRefusals[outcome.refusal].inc();
        this.context.deps.logger.debug('TLS connection refused', { listener: this.config.name, chain: chain.label, remote: `${downstream.remoteAddress}:${downstream.remotePort}`, reason: outcome.reason });
        return;
      }
      this.stats.tlsHandshakes.inc();
      this.connect(chain, { socket: outcome.socket, downstream: { ...downstream, tls: outcome.tls }, originalDestination: destination, listenerName: this.config.name, sniffed });
    });
  }

  /** Runs the chain's connection filters, then hands the connection to its terminal filter. */
  private connect(chain: RunningChain, connection: DownstreamConnection): void {
    for (const filter of chain.connectionFilters) {
      if (filter.onConnection(connection) === 'stop') return;
    }
    chain.filter.onConnection(connection);
  }

  /** Envoy's NR for a connection no filter chain takes. */
  private logNoFilterChain(downstream: DownstreamInfo, startTime: number): void {
    const now = this.context.deps.clock.now();
    this.context.deps.accessLog.log({
      kind: 'tcp',
      downstream,
      info: {
        requestId: '',
        startTime,
        responseFlags: new Set(['NR']),
        responseCodeDetails: 'filter_chain_not_found',
        attemptCount: 0,
        bytesReceived: 0,
        bytesSent: 0,
      },
      durationMs: now - startTime,
      listenerName: this.config.name,
    });
  }
}
