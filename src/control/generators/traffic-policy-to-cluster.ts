import type { MeshConfig, Protocol } from '../model/index.ts';
import type { ClusterTrafficPolicy } from '../snapshot/index.ts';
import {
  HTTP_PROTOCOL_OPTIONS_TYPE,
  type CircuitBreakerThresholds, type Cluster, type CommonHttpProtocolOptions, type DiscoveryType, type Http2ProtocolOptions,
  type HttpProtocolOptions, type OutlierDetection, type SlowStartConfig, type TcpKeepalive,
} from '../../xds/envoy/index.ts';
import { durationSeconds, protoDuration } from './proto-duration.ts';

type LoadBalancerSettings = NonNullable<ClusterTrafficPolicy['loadBalancer']>;
type ConnectionPoolSettings = NonNullable<ClusterTrafficPolicy['connectionPool']>;
type IstioOutlierDetection = NonNullable<ClusterTrafficPolicy['outlierDetection']>;

/** Envoy's circuit breakers default to 1024 connections and requests; Istio lifts them to the maximum. */
const UNLIMITED = 4_294_967_295;
/** Envoy's default ring size, which Istio writes out when the rule gives none. */
const DEFAULT_RING_SIZE = 1024;

/** What the cluster is, beyond its policy. */
export interface ClusterShape {
  readonly type: DiscoveryType;
  readonly protocol: Protocol;
  readonly direction: 'outbound' | 'inbound';
  readonly proxyKind: 'sidecar' | 'router';
}

/** The Cluster fields a traffic policy decides. */
export type PolicyFields = Pick<Cluster,
  'type' | 'lbPolicy' | 'ringHashLbConfig' | 'maglevLbConfig' | 'leastRequestLbConfig' | 'roundRobinLbConfig' | 'connectTimeout' |
  'circuitBreakers' | 'upstreamConnectionOptions' | 'outlierDetection' | 'commonLbConfig'>;

/**
 * Translates a DestinationRule traffic policy (already resolved for the cluster's port and subset)
 * into Envoy Cluster fields, with Istio's defaults: LEAST_REQUEST balancing, the mesh connect
 * timeout, circuit breakers at their maximum, success-rate ejection off; a retry budget limits
 * concurrent retries (its interval has no Envoy counterpart). Inbound clusters take
 * only the connection pool, as in Istio. TLS and the HTTP protocol options are built separately
 * (`upstreamTransport`, `httpProtocolOptions`) because they depend on each other.
 */
export function trafficPolicyToCluster(policy: ClusterTrafficPolicy, shape: ClusterShape, mesh: MeshConfig): PolicyFields {
  const pool = connectionPoolToCluster(policy.connectionPool, mesh);
  if (shape.direction === 'inbound') return pool;
  const outlier = policy.outlierDetection === undefined ? undefined : outlierDetectionToCluster(policy.outlierDetection);
  const budget = policy.retryBudget;
  return {
    ...pool,
    ...(budget !== undefined && pool.circuitBreakers !== undefined && {
      circuitBreakers: {
        thresholds: pool.circuitBreakers.thresholds.map((t) => ({
          ...t,
          retryBudget: {
            ...(budget.percent !== undefined && { budgetPercent: { value: budget.percent } }),
            ...(budget.minRetryConcurrency !== undefined && { minRetryConcurrency: budget.minRetryConcurrency }),
          },
        })),
      },
    }),
    ...loadBalancing(policy.loadBalancer, shape.type),
    ...(outlier !== undefined && {
      outlierDetection: outlier,
      // Envoy's panic mode (below 50% healthy, send to all) suits few-pod services badly; Istio sets it from minHealthPercent, 0 by default.
      commonLbConfig: { healthyPanicThreshold: { value: policy.outlierDetection?.minHealthPercent ?? 0 } },
    }),
  };
}

function loadBalancing(lb: LoadBalancerSettings | undefined, type: DiscoveryType): PolicyFields {
  if (type === 'ORIGINAL_DST') return { lbPolicy: 'CLUSTER_PROVIDED' };
  const hash = lb?.consistentHash;
  if (hash !== undefined) {
    if (hash.maglev !== undefined) return { lbPolicy: 'MAGLEV', ...(hash.maglev.tableSize !== undefined && { maglevLbConfig: { tableSize: hash.maglev.tableSize } }) };
    if (hash.ringHash !== undefined) {
      const size = hash.ringHash.minimumRingSize;
      return { lbPolicy: 'RING_HASH', ...(size !== undefined && size > 0 && { ringHashLbConfig: { minimumRingSize: size } }) };
    }
    return { lbPolicy: 'RING_HASH', ringHashLbConfig: { minimumRingSize: hash.minimumRingSize !== undefined && hash.minimumRingSize > 0 ? hash.minimumRingSize : DEFAULT_RING_SIZE } };
  }
  const slowStart = slowStartConfig(lb);
  switch (lb?.simple) {
    case 'PASSTHROUGH':
      return { type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED' };
    case 'RANDOM':
      return { lbPolicy: 'RANDOM' };
    case 'ROUND_ROBIN':
      return { lbPolicy: 'ROUND_ROBIN', ...(slowStart !== undefined && { roundRobinLbConfig: { slowStartConfig: slowStart } }) };
    case 'LEAST_REQUEST':
    case 'LEAST_CONN':
    case 'UNSPECIFIED':
    case undefined:
      return { lbPolicy: 'LEAST_REQUEST', ...(slowStart !== undefined && { leastRequestLbConfig: { slowStartConfig: slowStart } }) };
  }
}

function slowStartConfig(lb: LoadBalancerSettings | undefined): SlowStartConfig | undefined {
  if (lb?.warmup !== undefined) {
    const { duration, minimumPercent, aggression } = lb.warmup;
    return {
      slowStartWindow: protoDuration(duration),
      ...(aggression !== undefined && { aggression: { defaultValue: aggression, runtimeKey: 'upstream.slow_start.aggression' } }),
      ...(minimumPercent !== undefined && { minWeightPercent: { value: minimumPercent } }),
    };
  }
  return lb?.warmupDurationSecs === undefined ? undefined : { slowStartWindow: protoDuration(lb.warmupDurationSecs) };
}

/** Connect timeout, circuit breakers (Istio's maximums where the pool sets nothing) and TCP keepalive. */
export function connectionPoolToCluster(pool: ConnectionPoolSettings | undefined, mesh: MeshConfig): Pick<Cluster, 'connectTimeout' | 'circuitBreakers' | 'upstreamConnectionOptions'> {
  const http = pool?.http;
  const tcp = pool?.tcp;
  // Zero reads as "unset" in Istio's API, so it keeps the default.
  const limit = (value: number | undefined): number => (value !== undefined && value > 0 ? value : UNLIMITED);
  const thresholds: CircuitBreakerThresholds = {
    maxConnections: limit(tcp?.maxConnections),
    maxPendingRequests: limit(http?.http1MaxPendingRequests),
    maxRequests: limit(http?.http2MaxRequests),
    maxRetries: limit(http?.maxRetries),
    trackRemaining: true,
  };
  const keepalive = tcp?.tcpKeepalive === undefined ? undefined : tcpKeepalive(tcp.tcpKeepalive);
  return {
    connectTimeout: protoDuration(tcp?.connectTimeout ?? mesh.connectTimeout),
    circuitBreakers: { thresholds: [thresholds] },
    ...(keepalive !== undefined && { upstreamConnectionOptions: { tcpKeepalive: keepalive } }),
  };
}

function tcpKeepalive(k: NonNullable<NonNullable<ConnectionPoolSettings['tcp']>['tcpKeepalive']>): TcpKeepalive {
  return {
    ...(k.probes !== undefined && k.probes > 0 && { keepaliveProbes: k.probes }),
    ...(k.time !== undefined && { keepaliveTime: durationSeconds(k.time) }),
    ...(k.interval !== undefined && { keepaliveInterval: durationSeconds(k.interval) }),
  };
}

/**
 * Istio's outlier detection: consecutive-error ejection only (success-rate ejection is off),
 * each counter enforced at 100% when set above zero. The deprecated `consecutiveErrors` counted
 * 502/503/504, which Envoy calls gateway failures.
 */
export function outlierDetectionToCluster(o: IstioOutlierDetection): OutlierDetection {
  const enforce = (n: number): number => (n > 0 ? 100 : 0);
  const gateway = o.consecutiveGatewayErrors ?? (o.consecutiveErrors !== undefined && o.consecutiveErrors >= 0 ? o.consecutiveErrors : undefined);
  const localOrigin = o.splitExternalLocalOriginErrors === true && o.consecutiveLocalOriginFailures !== undefined && o.consecutiveLocalOriginFailures > 0
    ? o.consecutiveLocalOriginFailures
    : undefined;
  return {
    ...(o.consecutive5xxErrors !== undefined && { consecutive5xx: o.consecutive5xxErrors, enforcingConsecutive5xx: enforce(o.consecutive5xxErrors) }),
    ...(o.interval !== undefined && { interval: protoDuration(o.interval) }),
    ...(o.baseEjectionTime !== undefined && { baseEjectionTime: protoDuration(o.baseEjectionTime) }),
    ...(o.maxEjectionPercent !== undefined && o.maxEjectionPercent > 0 && { maxEjectionPercent: o.maxEjectionPercent }),
    enforcingSuccessRate: 0,
    ...(gateway !== undefined && { consecutiveGatewayFailure: gateway, enforcingConsecutiveGatewayFailure: enforce(gateway) }),
    ...(o.splitExternalLocalOriginErrors === true && {
      splitExternalLocalOriginErrors: true,
      ...(localOrigin !== undefined && { consecutiveLocalOriginFailure: localOrigin, enforcingConsecutiveLocalOriginFailure: 100 }),
      enforcingLocalOriginSuccessRate: 0,
    }),
  };
}

/**
 * The HTTP protocol options of a cluster (`typedExtensionProtocolOptions`), or undefined when it
 * needs none. HTTP2 and gRPC ports speak HTTP/2; a sidecar's port of unknown protocol (sniffed)
 * speaks what the client spoke, as does `useClientProtocol`; `h2UpgradePolicy: UPGRADE` upgrades
 * HTTP/1.1 to HTTP/2 on outbound clusters. Idle timeout, requests per connection and connection
 * duration go to the common options; maxConcurrentStreams and http2KeepAlive only apply to HTTP/2.
 * `upstream` carries the automatic SNI and SAN checks TLS origination asks for.
 */
export function httpProtocolOptions(pool: ConnectionPoolSettings | undefined, shape: ClusterShape, upstream?: HttpProtocolOptions['upstreamHttpProtocolOptions']): HttpProtocolOptions | undefined {
  const http = pool?.http;
  let protocol: 'http1' | 'http2' | 'downstream' | undefined;
  if (shape.protocol === 'HTTP2' || shape.protocol === 'GRPC') protocol = 'http2';
  else if (shape.protocol === 'Unsupported' && shape.proxyKind === 'sidecar') protocol = 'downstream';
  if (http?.useClientProtocol === true) protocol = 'downstream';
  if (shape.direction === 'outbound' && http?.h2UpgradePolicy === 'UPGRADE') protocol = 'http2';

  const idleTimeout = http?.idleTimeout ?? pool?.tcp?.idleTimeout;
  const common: CommonHttpProtocolOptions = {
    ...(idleTimeout !== undefined && { idleTimeout: protoDuration(idleTimeout) }),
    ...(http?.maxRequestsPerConnection !== undefined && http.maxRequestsPerConnection > 0 && { maxRequestsPerConnection: http.maxRequestsPerConnection }),
    ...(pool?.tcp?.maxConnectionDuration !== undefined && { maxConnectionDuration: protoDuration(pool.tcp.maxConnectionDuration) }),
  };
  const hasCommon = Object.keys(common).length > 0;
  if (protocol === undefined && !hasCommon && upstream === undefined) return undefined;

  const h2: Http2ProtocolOptions = {
    ...(http?.maxConcurrentStreams !== undefined && http.maxConcurrentStreams > 0 && { maxConcurrentStreams: http.maxConcurrentStreams }),
    ...(http?.http2KeepAlive !== undefined && { connectionKeepalive: { interval: protoDuration(http.http2KeepAlive.interval), timeout: protoDuration(http.http2KeepAlive.timeout) } }),
  };
  return {
    '@type': HTTP_PROTOCOL_OPTIONS_TYPE,
    ...(hasCommon && { commonHttpProtocolOptions: common }),
    ...(upstream !== undefined && { upstreamHttpProtocolOptions: upstream }),
    ...(protocol === 'downstream'
      ? { useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} } }
      : { explicitHttpConfig: protocol === 'http2' ? { http2ProtocolOptions: h2 } : { httpProtocolOptions: {} } }),
  };
}

export function speaksHttp2(options: HttpProtocolOptions | undefined): boolean {
  return options?.explicitHttpConfig !== undefined && 'http2ProtocolOptions' in options.explicitHttpConfig;
}
