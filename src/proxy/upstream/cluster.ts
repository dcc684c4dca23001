import type { Cluster } from '../../xds/envoy/index.ts';

/** One upstream endpoint of a cluster, as EDS (or static config, or DNS) describes it. */
export interface UpstreamHost {
  readonly address: string;
  readonly port: number;
  /** `address:port`, for logs and %UPSTREAM_HOST%. */
  readonly id: string;
  /**
   * An endpoint that is an internal listener of this proxy (`envoyInternalAddress`): connections
   * to it are made in-process. Its address is then Envoy's form `envoy://<listener>/<endpoint id>`, its port 0.
   */
  readonly internalListener?: string;
  /** The DNS name a STRICT_DNS/LOGICAL_DNS host was resolved from, or the endpoint's `hostname` (auto host rewrite reads it). */
  readonly hostname?: string;
  readonly weight: number;
  /** `region/zone/subzone`, '' when unknown. */
  readonly locality: string;
  readonly priority: number;
  readonly healthy: boolean;
  /** The endpoint's metadata.filterMetadata, e.g. `envoy.transport_socket_match: { tlsMode: 'istio' }`. */
  readonly metadata: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Requests in flight to this host (least-request balancing reads it). */
  activeRequests: number;
  /** Counts for the admin `/clusters` page, kept by the connection pools and the router; absent on hosts made outside the cluster manager. */
  readonly stats?: HostStats;
  /** Outlier detection's state of this host; absent on hosts made outside the cluster manager. */
  readonly outlier?: HostOutlierRecord;
}

/**
 * What outlier detection keeps per host. It lives with the host, so a cluster replaced by a CDS
 * update keeps its ejections and counters where the endpoint stays.
 */
export interface HostOutlierRecord {
  /** Out of balancing until a sweep returns it. */
  ejected: boolean;
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  consecutiveLocalOriginFailure: number;
  ejectedAt: number;
  unejectedAt: number | undefined;
  /** The multiplier of the base ejection time: ejections in a row. */
  ejectionBackoff: number;
  jitterMs: number;
}

/**
 * What happened on one attempt, as outlier detection counts it: a response's status, a
 * connection that could not be made or was reset before the response (`connect-failed`), a
 * timeout, or a connection made (`final` when nothing else will be reported, as for TCP).
 */
export type UpstreamOutcome =
  | { readonly kind: 'response'; readonly status: number }
  | { readonly kind: 'connect-failed' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'connected'; readonly final: boolean };

/** Takes the outcomes of a cluster's requests and connections (outlier detection). */
export interface OutlierReporter {
  report(host: UpstreamHost, outcome: UpstreamOutcome): void;
}

/** Envoy's per-host counters (`cx_active`, `rq_total`, ...), as `/clusters` shows them. */
export interface HostStats {
  cxActive: number;
  cxTotal: number;
  cxConnectFail: number;
  rqTotal: number;
  rqError: number;
  rqTimeout: number;
}

/** What a load balancer may use to choose: a hash for consistent hashing, hosts to avoid on retry. */
export interface LoadBalancerContext {
  /** From the route's hash policies, for ring hash and maglev. */
  readonly hash?: bigint;
  /** Hosts already tried by this request (previous_hosts). */
  readonly avoid?: ReadonlySet<UpstreamHost>;
  /** Priorities already tried by this request (previous_priorities): the lowest other priority with hosts takes the retry. */
  readonly avoidPriorities?: ReadonlySet<number>;
  /** The original destination (`address:port`), for ORIGINAL_DST clusters. */
  readonly originalDestination?: string;
}

/**
 * Chooses a host, synchronously, on the hot path. Load balancers publish a new immutable picker
 * when the host set changes; a request uses the picker current when it asks.
 */
export interface Picker {
  pick(context: LoadBalancerContext): UpstreamHost | undefined;
}

/** Circuit breaking: a slot is taken for each connection, pending request, request or retry, and given back. */
export interface CircuitBreakers {
  /** Takes a slot, or returns undefined when the limit is reached (503 UO). The function gives it back. */
  tryAcquire(resource: 'connections' | 'pendingRequests' | 'requests' | 'retries'): (() => void) | undefined;
}

/** A cluster as the proxy runs it. */
export interface UpstreamCluster {
  readonly name: string;
  readonly config: Cluster;
  /** The current picker; replaced (not mutated) on endpoint changes. */
  picker(): Picker;
  readonly circuitBreakers: CircuitBreakers;
  /** Present when the cluster has outlier detection. */
  readonly outlierDetector?: OutlierReporter | undefined;
  readonly connectTimeoutMs: number;
  /** Upstream HTTP protocol: http1, http2 (h2c or ALPN h2), or as the downstream used. */
  readonly upstreamProtocol: 'http1' | 'http2' | 'downstream';
}

/** The clusters from CDS with their endpoints from EDS; lookups are by cluster name. */
export interface ClusterManager {
  get(name: string): UpstreamCluster | undefined;
  names(): readonly string[];
}
