import type { CommonHttpProtocolOptions, ConfigSource, Http1ProtocolOptions, Http2ProtocolOptions, TypedAny } from './core.ts';
import type { FractionalPercent, HeaderMatcher, RouteConfiguration, RuntimeFractionalPercent } from './route.ts';
import type { StringMatcher } from './tls.ts';

/**
 * The JSON form of the HTTP connection manager network filter and of the HTTP filter configs
 * Weft puts in it (fault, CORS, router). Only the fields Weft uses; names are Envoy's JSON names.
 */

export const HTTP_CONNECTION_MANAGER_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
/** The CORS filter's own (empty) config in the filter chain. */
export const CORS_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
/** A route's CORS policy, in `typedPerFilterConfig`. */
export const CORS_POLICY_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';

/** Filter names, which also key `typedPerFilterConfig`. */
export const HTTP_FILTER = {
  fault: 'envoy.filters.http.fault',
  cors: 'envoy.filters.http.cors',
  localRateLimit: 'envoy.filters.http.local_ratelimit',
  router: 'envoy.filters.http.router',
} as const;

export interface HttpFilter {
  readonly name: string;
  readonly typedConfig: TypedAny;
  readonly isOptional?: boolean;
  /** Runs only where a route's typedPerFilterConfig enables it. */
  readonly disabled?: boolean;
}

export interface Rds {
  readonly configSource: ConfigSource;
  readonly routeConfigName: string;
}

/** Exactly one of rds or routeConfig. */
export interface HttpConnectionManager {
  readonly '@type': typeof HTTP_CONNECTION_MANAGER_TYPE;
  readonly statPrefix?: string;
  readonly codecType?: 'AUTO' | 'HTTP1' | 'HTTP2' | 'HTTP3';
  readonly rds?: Rds;
  readonly routeConfig?: RouteConfiguration;
  /** Run in order; the router is last. */
  readonly httpFilters: readonly HttpFilter[];
  /** Trust the connection's peer address as the client's (true at the edge). */
  readonly useRemoteAddress?: boolean;
  readonly normalizePath?: boolean;
  readonly pathWithEscapedSlashesAction?: 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';
  readonly upgradeConfigs?: readonly { readonly upgradeType: string; readonly enabled?: boolean }[];
  readonly streamIdleTimeout?: string;
  /** Addresses of trusted proxies at the right of x-forwarded-for. */
  readonly xffNumTrustedHops?: number;
  readonly skipXffAppend?: boolean;
  /** Appended to the via header of requests and responses. */
  readonly via?: string;
  /** Defaults to true. */
  readonly generateRequestId?: boolean;
  readonly preserveExternalRequestId?: boolean;
  readonly alwaysSetRequestIdInResponse?: boolean;
  readonly forwardClientCertDetails?: 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
  /** What APPEND_FORWARD and SANITIZE_SET write of the client's certificate. */
  readonly setCurrentClientCertDetails?: { readonly subject?: boolean; readonly cert?: boolean; readonly chain?: boolean; readonly dns?: boolean; readonly uri?: boolean };
  /** The whole request must arrive within it; off by default. */
  readonly requestTimeout?: string;
  /** `idleTimeout` is the connection idle timeout (1 h by default). */
  readonly commonHttpProtocolOptions?: CommonHttpProtocolOptions;
  readonly httpProtocolOptions?: Http1ProtocolOptions;
  readonly http2ProtocolOptions?: Http2ProtocolOptions;
  /** 60 by default. */
  readonly maxRequestHeadersKb?: number;
  /** `envoy` by default; Istio sets `istio-envoy`. */
  readonly serverName?: string;
  readonly serverHeaderTransformation?: 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
  readonly mergeSlashes?: boolean;
  readonly stripMatchingHostPort?: boolean;
  readonly stripAnyHostPort?: boolean;
}

/** `envoy.extensions.filters.common.fault.v3.FaultDelay`: one of fixedDelay or headerDelay. */
export interface FaultDelay {
  readonly fixedDelay?: string;
  /** The delay comes from the request's x-envoy-fault-delay-request header (milliseconds). */
  readonly headerDelay?: Readonly<Record<string, never>>;
  readonly percentage?: FractionalPercent;
}

/** One of httpStatus, grpcStatus or headerAbort. */
export interface FaultAbort {
  readonly httpStatus?: number;
  readonly grpcStatus?: number;
  /** The status comes from the request's x-envoy-fault-abort-request (or -grpc-request) header. */
  readonly headerAbort?: Readonly<Record<string, never>>;
  readonly percentage?: FractionalPercent;
}

/** `envoy.extensions.filters.common.fault.v3.FaultRateLimit`: one of fixedLimit or headerLimit. */
export interface FaultRateLimit {
  /** KiB/s; a uint64, so proto3 JSON may carry it as a decimal string. */
  readonly fixedLimit?: { readonly limitKbps: number | string };
  /** The limit comes from the request's x-envoy-fault-throughput-response header (KiB/s). */
  readonly headerLimit?: Readonly<Record<string, never>>;
  readonly percentage?: FractionalPercent;
}

export interface HTTPFault {
  readonly '@type': typeof FAULT_TYPE;
  readonly delay?: FaultDelay;
  readonly abort?: FaultAbort;
  /** Faults only for requests whose route goes to this cluster. */
  readonly upstreamCluster?: string;
  /** Faults only for requests matching all of these. */
  readonly headers?: readonly HeaderMatcher[];
  /** Faults only for requests whose x-envoy-downstream-service-node is one of these. */
  readonly downstreamNodes?: readonly string[];
  /** Unlimited when unset. */
  readonly maxActiveFaults?: number;
  readonly responseRateLimit?: FaultRateLimit;
  readonly delayPercentRuntime?: string;
  readonly abortPercentRuntime?: string;
  readonly delayDurationRuntime?: string;
  readonly abortHttpStatusRuntime?: string;
  readonly maxActiveFaultsRuntime?: string;
  readonly responseRateLimitPercentRuntime?: string;
  readonly abortGrpcStatusRuntime?: string;
  readonly disableDownstreamClusterStats?: boolean;
}

export interface CorsPolicy {
  readonly '@type': typeof CORS_POLICY_TYPE;
  readonly allowOriginStringMatch?: readonly StringMatcher[];
  /** Comma-separated lists, as the response headers carry them. */
  readonly allowMethods?: string;
  readonly allowHeaders?: string;
  readonly exposeHeaders?: string;
  /** Seconds, as a string. */
  readonly maxAge?: string;
  readonly allowCredentials?: boolean;
  /** Answers a preflight's `Access-Control-Request-Private-Network: true` (Chrome's Private Network Access). */
  readonly allowPrivateNetworkAccess?: boolean;
  readonly filterEnabled?: RuntimeFractionalPercent;
  /** Evaluates the policy without enforcing it (statistics only). */
  readonly shadowEnabled?: RuntimeFractionalPercent;
  readonly forwardNotMatchingPreflights?: boolean;
}
