import type { Address, Metadata, TransportSocket, TypedAny } from './core.ts';
import type { HttpConnectionManager } from './http-connection-manager.ts';

/**
 * The JSON form of `envoy.config.listener.v3.Listener` (LDS), its filter chains, and the network
 * and listener filters Weft puts in them. Only the fields Weft uses; names are Envoy's JSON names.
 */

export const TCP_PROXY_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const TLS_INSPECTOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';
export const HTTP_INSPECTOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector';
export const ORIGINAL_DST_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst';

/** Filter names. */
export const NETWORK_FILTER = {
  httpConnectionManager: 'envoy.filters.network.http_connection_manager',
  tcpProxy: 'envoy.filters.network.tcp_proxy',
} as const;

export const LISTENER_FILTER = {
  tlsInspector: 'envoy.filters.listener.tls_inspector',
  httpInspector: 'envoy.filters.listener.http_inspector',
  originalDst: 'envoy.filters.listener.original_dst',
} as const;

export interface CidrRange {
  readonly addressPrefix: string;
  readonly prefixLen: number;
}

/** Exactly one of cluster or weightedClusters. */
export interface TcpProxy {
  readonly '@type': typeof TCP_PROXY_TYPE;
  readonly statPrefix: string;
  readonly cluster?: string;
  readonly weightedClusters?: { readonly clusters: readonly { readonly name: string; readonly weight: number }[] };
  readonly idleTimeout?: string;
  /** Upstream connect attempts per downstream connection (default 1). */
  readonly maxConnectAttempts?: number;
  readonly maxDownstreamConnectionDuration?: string;
}

export interface Filter {
  readonly name: string;
  readonly typedConfig: HttpConnectionManager | TcpProxy | TypedAny;
}

/**
 * Which connections a chain takes. Envoy narrows in this order, keeping the most specific at each
 * step: destination port, destination IP, server name (SNI), transport protocol, application
 * protocols (ALPN or what http_inspector detected), then source.
 */
export interface FilterChainMatch {
  readonly destinationPort?: number;
  readonly prefixRanges?: readonly CidrRange[];
  readonly serverNames?: readonly string[];
  readonly transportProtocol?: string;
  readonly applicationProtocols?: readonly string[];
  readonly sourceType?: 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';
  readonly sourcePrefixRanges?: readonly CidrRange[];
  readonly sourcePorts?: readonly number[];
}

export interface FilterChain {
  readonly name?: string;
  readonly filterChainMatch?: FilterChainMatch;
  readonly filters: readonly Filter[];
  readonly transportSocket?: TransportSocket;
  readonly metadata?: Metadata;
}

export interface ListenerFilter {
  readonly name: string;
  readonly typedConfig: TypedAny;
}

/** An API listener: a client (proxyless gRPC) reads its HCM instead of opening a socket. */
export interface ApiListener {
  readonly apiListener: HttpConnectionManager;
}

export interface Listener {
  readonly name: string;
  readonly address?: Address;
  readonly filterChains?: readonly FilterChain[];
  /** Takes connections that no chain of filterChains matches. */
  readonly defaultFilterChain?: FilterChain;
  readonly listenerFilters?: readonly ListenerFilter[];
  readonly listenerFiltersTimeout?: string;
  readonly continueOnListenerFiltersTimeout?: boolean;
  /** Hand each connection to the listener of its original destination (iptables capture). */
  readonly useOriginalDst?: boolean;
  /** false: the listener only receives connections handed over by a useOriginalDst listener. */
  readonly bindToPort?: boolean;
  readonly trafficDirection?: 'UNSPECIFIED' | 'INBOUND' | 'OUTBOUND';
  readonly apiListener?: ApiListener;
  /** Not bound: reached by clusters whose endpoints name it in an envoyInternalAddress. */
  readonly internalListener?: Record<string, never>;
}
