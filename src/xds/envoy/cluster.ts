import type {
  BindConfig, CommonHttpProtocolOptions, ConfigSource, Http1ProtocolOptions, Http2ProtocolOptions, Metadata, Percent, RuntimeDouble, Struct,
  TcpKeepalive, TransportSocket, TypedExtensionConfig, UpstreamHttpProtocolOptions,
} from './core.ts';
import type { ClusterLoadAssignment } from './endpoint.ts';

/**
 * The JSON form of `envoy.config.cluster.v3.Cluster` and the messages in it that Weft sends.
 * Only the fields Weft uses; names are Envoy's JSON names.
 */

export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
export const HTTP_PROTOCOL_OPTIONS_TYPE = `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_KEY}`;

export type DiscoveryType = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST';

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RING_HASH' | 'RANDOM' | 'MAGLEV' | 'CLUSTER_PROVIDED' | 'LOAD_BALANCING_POLICY_CONFIG';

export type DnsLookupFamily = 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';

export interface EdsClusterConfig {
  readonly edsConfig: ConfigSource;
  readonly serviceName?: string;
}

export interface CircuitBreakerThresholds {
  readonly priority?: 'DEFAULT' | 'HIGH';
  readonly maxConnections?: number;
  readonly maxPendingRequests?: number;
  readonly maxRequests?: number;
  readonly maxRetries?: number;
  /** Limits retries to a share of active requests; Envoy then ignores maxRetries. */
  readonly retryBudget?: { readonly budgetPercent?: Percent; readonly minRetryConcurrency?: number };
  readonly trackRemaining?: boolean;
}

export interface CircuitBreakers {
  readonly thresholds: readonly CircuitBreakerThresholds[];
}

export interface OutlierDetection {
  readonly consecutive5xx?: number;
  readonly interval?: string;
  readonly baseEjectionTime?: string;
  readonly maxEjectionPercent?: number;
  readonly enforcingConsecutive5xx?: number;
  readonly enforcingSuccessRate?: number;
  readonly consecutiveGatewayFailure?: number;
  readonly enforcingConsecutiveGatewayFailure?: number;
  readonly splitExternalLocalOriginErrors?: boolean;
  readonly consecutiveLocalOriginFailure?: number;
  readonly enforcingConsecutiveLocalOriginFailure?: number;
  readonly enforcingLocalOriginSuccessRate?: number;
  readonly maxEjectionTime?: string;
  readonly maxEjectionTimeJitter?: string;
  readonly successRateMinimumHosts?: number;
  readonly successRateRequestVolume?: number;
  readonly successRateStdevFactor?: number;
  readonly failurePercentageThreshold?: number;
  readonly enforcingFailurePercentage?: number;
  readonly enforcingFailurePercentageLocalOrigin?: number;
  readonly failurePercentageMinimumHosts?: number;
  readonly failurePercentageRequestVolume?: number;
}

export interface CommonLbConfig {
  readonly healthyPanicThreshold?: Percent;
  /** Set (empty) to weigh localities by their `loadBalancingWeight`. */
  readonly localityWeightedLbConfig?: Record<string, never>;
}

export interface SlowStartConfig {
  readonly slowStartWindow?: string;
  readonly aggression?: RuntimeDouble;
  readonly minWeightPercent?: Percent;
}

export interface RingHashLbConfig {
  readonly minimumRingSize?: number;
  readonly maximumRingSize?: number;
  readonly hashFunction?: 'XX_HASH' | 'MURMUR_HASH_2';
}

export interface MaglevLbConfig {
  readonly tableSize?: number;
}

export interface LeastRequestLbConfig {
  readonly choiceCount?: number;
  readonly slowStartConfig?: SlowStartConfig;
}

export interface RoundRobinLbConfig {
  readonly slowStartConfig?: SlowStartConfig;
}

/** Ordered candidates; a client uses the first it supports (xDS custom load balancing, gRPC A52). */
export interface LoadBalancingPolicy {
  readonly policies: readonly { readonly typedExtensionConfig: TypedExtensionConfig }[];
}

/** Endpoints whose `envoy.transport_socket_match` metadata contains every key of `match` use this socket. */
export interface TransportSocketMatch {
  readonly name: string;
  readonly match?: Struct;
  readonly transportSocket?: TransportSocket;
}

export interface UpstreamConnectionOptions {
  readonly tcpKeepalive?: TcpKeepalive;
}

/** The HTTP protocol an upstream connection speaks: one of explicitHttpConfig, useDownstreamProtocolConfig, autoConfig. */
export interface HttpProtocolOptions {
  readonly '@type': typeof HTTP_PROTOCOL_OPTIONS_TYPE;
  readonly commonHttpProtocolOptions?: CommonHttpProtocolOptions;
  readonly upstreamHttpProtocolOptions?: UpstreamHttpProtocolOptions;
  readonly explicitHttpConfig?: { readonly httpProtocolOptions: Http1ProtocolOptions } | { readonly http2ProtocolOptions: Http2ProtocolOptions };
  readonly useDownstreamProtocolConfig?: { readonly httpProtocolOptions?: Http1ProtocolOptions; readonly http2ProtocolOptions?: Http2ProtocolOptions };
}

/** A type alias rather than an interface, so that a Cluster is a `ProtoJson` (interfaces have no implicit index signature). */
export type Cluster = {
  readonly name: string;
  readonly altStatName?: string;
  readonly type?: DiscoveryType;
  readonly edsClusterConfig?: EdsClusterConfig;
  readonly connectTimeout?: string;
  readonly lbPolicy?: LbPolicy;
  readonly loadBalancingPolicy?: LoadBalancingPolicy;
  /** The endpoints of STATIC and DNS clusters. */
  readonly loadAssignment?: ClusterLoadAssignment;
  readonly circuitBreakers?: CircuitBreakers;
  readonly typedExtensionProtocolOptions?: { readonly [HTTP_PROTOCOL_OPTIONS_KEY]?: HttpProtocolOptions };
  readonly dnsLookupFamily?: DnsLookupFamily;
  readonly dnsRefreshRate?: string;
  readonly respectDnsTtl?: boolean;
  readonly outlierDetection?: OutlierDetection;
  readonly cleanupInterval?: string;
  readonly upstreamBindConfig?: BindConfig;
  /** At most one of the four *LbConfig. */
  readonly ringHashLbConfig?: RingHashLbConfig;
  readonly maglevLbConfig?: MaglevLbConfig;
  readonly leastRequestLbConfig?: LeastRequestLbConfig;
  readonly roundRobinLbConfig?: RoundRobinLbConfig;
  readonly commonLbConfig?: CommonLbConfig;
  readonly transportSocket?: TransportSocket;
  readonly transportSocketMatches?: readonly TransportSocketMatch[];
  readonly metadata?: Metadata;
  readonly upstreamConnectionOptions?: UpstreamConnectionOptions;
};
