/**
 * The JSON form (proto3 JSON, as `assertValidMessage` checks it) of the `envoy.config.core.v3`
 * messages that several areas share: addresses, metadata, config sources, transport sockets.
 * Only the fields Weft uses; names are Envoy's JSON names. Durations are strings such as "10s";
 * wrapper types are plain values; an `Any` is `{ '@type': url, ...fields }`.
 */

/**
 * A `google.protobuf.Any` in JSON form: its type URL, with the fields of that message beside it.
 * Either the message's own interface (with a literal `@type`; interfaces have no index signature,
 * hence the first member) or a plain object literal.
 */
export type TypedAny = { readonly '@type': string } | { readonly '@type': string; readonly [field: string]: unknown };

/** `google.protobuf.Struct`: any JSON object. */
export type Struct = { readonly [key: string]: unknown };

export interface SocketAddress {
  readonly address: string;
  readonly portValue?: number;
  readonly protocol?: 'TCP' | 'UDP';
}

export interface Pipe {
  readonly path: string;
}

/** An internal listener of the same proxy, reached in-process by its name. */
export interface EnvoyInternalAddress {
  readonly serverListenerName: string;
}

/** `envoy.config.core.v3.Address`: one of socketAddress, pipe or envoyInternalAddress. */
export type Address =
  | { readonly socketAddress: SocketAddress; readonly pipe?: never; readonly envoyInternalAddress?: never }
  | { readonly pipe: Pipe; readonly socketAddress?: never; readonly envoyInternalAddress?: never }
  | { readonly envoyInternalAddress: EnvoyInternalAddress; readonly socketAddress?: never; readonly pipe?: never };

/** Per-filter metadata, keyed by filter name (`istio`, `envoy.transport_socket_match`). */
export interface Metadata {
  readonly filterMetadata?: { readonly [filter: string]: Struct };
}

export interface Locality {
  readonly region?: string;
  readonly zone?: string;
  readonly subZone?: string;
}

export type HealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

/** Where a dynamic resource comes from; Weft always answers over the ADS stream. */
export interface ConfigSource {
  readonly ads?: Record<string, never>;
  readonly resourceApiVersion?: 'AUTO' | 'V2' | 'V3';
  readonly initialFetchTimeout?: string;
}

export interface TransportSocket {
  readonly name: string;
  readonly typedConfig?: TypedAny;
}

/** One of filename, inlineString or inlineBytes. */
export interface DataSource {
  readonly filename?: string;
  readonly inlineString?: string;
  readonly inlineBytes?: string;
  readonly environmentVariable?: string;
}

export interface TypedExtensionConfig {
  readonly name: string;
  readonly typedConfig: TypedAny;
}

export interface RuntimeDouble {
  readonly defaultValue: number;
  readonly runtimeKey: string;
}

/** `envoy.type.v3.Percent`, 0..100. */
export interface Percent {
  readonly value: number;
}

/** Seconds, as whole numbers (the fields are UInt32Value). */
export interface TcpKeepalive {
  readonly keepaliveProbes?: number;
  readonly keepaliveTime?: number;
  readonly keepaliveInterval?: number;
}

/** `envoy.config.core.v3.HttpProtocolOptions`: settings common to HTTP/1 and HTTP/2 connections. */
export interface CommonHttpProtocolOptions {
  readonly idleTimeout?: string;
  readonly maxConnectionDuration?: string;
  readonly maxRequestsPerConnection?: number;
  readonly maxStreamDuration?: string;
  /** Request (or response) headers allowed; 100 by default. */
  readonly maxHeadersCount?: number;
}

export interface Http1ProtocolOptions {
  readonly acceptHttp10?: boolean;
  /** The Host given to an HTTP/1.0 request that has none (with acceptHttp10). */
  readonly defaultHostForHttp10?: string;
}

export interface KeepaliveSettings {
  readonly interval?: string;
  readonly timeout?: string;
}

export interface Http2ProtocolOptions {
  readonly maxConcurrentStreams?: number;
  readonly initialStreamWindowSize?: number;
  readonly initialConnectionWindowSize?: number;
  readonly connectionKeepalive?: KeepaliveSettings;
}

export interface UpstreamHttpProtocolOptions {
  readonly autoSni?: boolean;
  readonly autoSanValidation?: boolean;
}

export interface BindConfig {
  readonly sourceAddress: SocketAddress;
}
