import type { Duplex } from 'node:stream';
import type { Clock, Logger, Result } from '../../core/index.ts';
import type { DownstreamInfo } from '../http/exchange.ts';
import type { StatsScope } from '../telemetry/stats.ts';
import type { AccessLogSink } from '../telemetry/access-log.ts';
import type { ClusterManager } from '../upstream/cluster.ts';

/** An accepted connection, handed to the network filter of the filter chain that matched it. */
export interface DownstreamConnection {
  /** A net.Socket, or a TLS socket once TLS is terminated. Bytes read for sniffing were put back (unshift). */
  readonly socket: Duplex;
  readonly downstream: DownstreamInfo;
  /** Where the client meant to connect: SO_ORIGINAL_DST for redirected traffic, else the local address. */
  readonly originalDestination: { readonly address: string; readonly port: number };
  readonly listenerName: string;
  /** What the listener filters found: TLS SNI, ALPN, `tls`/`raw_buffer`, `http/1.1`/`h2c`. */
  readonly sniffed: { readonly sni?: string; readonly transportProtocol: string; readonly applicationProtocols: readonly string[] };
}

/** A terminal network filter (http_connection_manager, tcp_proxy) that takes over a connection. */
export interface NetworkFilter {
  onConnection(connection: DownstreamConnection): void;
  /** Stops taking new streams on existing connections (draining); in-flight work finishes. */
  drain?(): void;
  close?(): void;
}

export interface NetworkFilterDeps {
  readonly clusters: ClusterManager;
  readonly stats: StatsScope;
  readonly accessLog: AccessLogSink;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
}

/**
 * Builds one kind of network filter from its typed config (a filter chain's `filters[].typedConfig`).
 * `parse` runs when LDS arrives: an error NACKs the listener and the old one keeps serving.
 */
export interface NetworkFilterFactory<C = unknown> {
  readonly typeUrl: string;
  parse(config: Readonly<Record<string, unknown>>): Result<C, string>;
  create(config: C, deps: NetworkFilterDeps): NetworkFilter;
}

/**
 * A filter that runs before a chain's terminal filter (Envoy's network RBAC): it sees the
 * connection once it is established (TLS, if any, done) and lets it go on or closes it.
 */
export interface ConnectionFilter {
  /** 'continue' hands the connection to the next filter; 'stop' means this filter closed it (and logged why). */
  onConnection(connection: DownstreamConnection): 'continue' | 'stop';
}

export interface ConnectionFilterFactory<C = unknown> {
  readonly typeUrl: string;
  /** Tells it apart from a terminal filter's factory in the registry. */
  readonly role: 'connection';
  parse(config: Readonly<Record<string, unknown>>): Result<C, string>;
  create(config: C, deps: NetworkFilterDeps): ConnectionFilter;
}

export type NetworkFilterRegistry = ReadonlyMap<string, NetworkFilterFactory | ConnectionFilterFactory>;
