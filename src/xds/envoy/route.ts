import type { DataSource, Metadata, TypedAny } from './core.ts';
import type { StringMatcher } from './tls.ts';

/**
 * The JSON form of `envoy.config.route.v3.RouteConfiguration` (RDS) and the messages in it that
 * Weft sends. Only the fields Weft uses; names are Envoy's JSON names.
 */

/** `envoy.type.v3.FractionalPercent`: numerator / denominator. */
export interface FractionalPercent {
  readonly numerator: number;
  readonly denominator?: 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION';
}

export interface RuntimeFractionalPercent {
  readonly defaultValue: FractionalPercent;
  readonly runtimeKey?: string;
}

export interface RegexMatcher {
  readonly regex: string;
}

export interface RegexMatchAndSubstitute {
  readonly pattern: RegexMatcher;
  readonly substitution: string;
}

/** Matches a request header; one of the specifiers. `invertMatch` turns the result around. */
export interface HeaderMatcher {
  readonly name: string;
  readonly exactMatch?: string;
  readonly prefixMatch?: string;
  readonly suffixMatch?: string;
  readonly containsMatch?: string;
  readonly safeRegexMatch?: RegexMatcher;
  /** `envoy.type.v3.Int64Range`: start inclusive, end exclusive (int64, so a number or a decimal string). */
  readonly rangeMatch?: { readonly start?: number | string; readonly end?: number | string };
  readonly presentMatch?: boolean;
  readonly stringMatch?: StringMatcher;
  readonly invertMatch?: boolean;
  readonly treatMissingHeaderAsEmpty?: boolean;
}

export interface QueryParameterMatcher {
  readonly name: string;
  readonly stringMatch?: StringMatcher;
  readonly presentMatch?: boolean;
}

/** `envoy.type.matcher.v3.ValueMatcher`: one pattern. */
export interface ValueMatcher {
  readonly stringMatch?: StringMatcher;
  readonly presentMatch?: boolean;
  readonly listMatch?: { readonly oneOf: ValueMatcher };
  readonly orMatch?: { readonly valueMatchers: readonly ValueMatcher[] };
}

/** Matches a value in dynamic metadata (JWT claims, written by the authentication filter). */
export interface MetadataMatcher {
  readonly filter: string;
  readonly path: readonly { readonly key: string }[];
  readonly value: ValueMatcher;
  readonly invert?: boolean;
}

/** Exactly one of prefix, path, safeRegex, pathSeparatedPrefix. */
export interface RouteMatch {
  readonly prefix?: string;
  readonly path?: string;
  readonly safeRegex?: RegexMatcher;
  readonly pathSeparatedPrefix?: string;
  /** Applies to prefix and path (not regex); true when unset. */
  readonly caseSensitive?: boolean;
  readonly headers?: readonly HeaderMatcher[];
  readonly queryParameters?: readonly QueryParameterMatcher[];
  readonly dynamicMetadata?: readonly MetadataMatcher[];
  /** Only gRPC requests (content-type application/grpc) match. */
  readonly grpc?: Record<string, never>;
  /** Only CONNECT requests match (and only this matcher matches them). */
  readonly connectMatcher?: Record<string, never>;
  /** Matches this share of requests. */
  readonly runtimeFraction?: RuntimeFractionalPercent;
}

export type HeaderAppendAction = 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';

export interface HeaderValueOption {
  readonly header: { readonly key: string; readonly value: string };
  readonly appendAction?: HeaderAppendAction;
  /** Deprecated: true is APPEND_IF_EXISTS_OR_ADD, false OVERWRITE_IF_EXISTS_OR_ADD; not together with appendAction. */
  readonly append?: boolean;
  /** Adds the header even when its value is empty. */
  readonly keepEmptyValue?: boolean;
}

/** Header changes a route, a weighted cluster or a virtual host makes. */
export interface HeaderMutations {
  readonly requestHeadersToAdd?: readonly HeaderValueOption[];
  readonly requestHeadersToRemove?: readonly string[];
  readonly responseHeadersToAdd?: readonly HeaderValueOption[];
  readonly responseHeadersToRemove?: readonly string[];
}

export interface ClusterWeight extends HeaderMutations {
  readonly name: string;
  readonly weight: number;
  readonly hostRewriteLiteral?: string;
}

/** The clusters' weights are relative; Envoy sums them when totalWeight is unset. */
export interface WeightedCluster {
  readonly clusters: readonly ClusterWeight[];
  /** Deprecated: when set, the weights must add up to it. */
  readonly totalWeight?: number;
}

export interface RetryHostPredicate {
  readonly name: string;
  readonly typedConfig?: TypedAny;
}

export interface RetryPolicy {
  readonly retryOn?: string;
  readonly numRetries?: number;
  readonly perTryTimeout?: string;
  readonly retryPriority?: { readonly name: string; readonly typedConfig?: TypedAny };
  readonly retryHostPredicate?: readonly RetryHostPredicate[];
  readonly hostSelectionRetryMaxAttempts?: number;
  readonly retriableStatusCodes?: readonly number[];
  readonly retryBackOff?: { readonly baseInterval: string; readonly maxInterval?: string };
}

export interface RequestMirrorPolicy {
  readonly cluster: string;
  readonly runtimeFraction?: RuntimeFractionalPercent;
  readonly traceSampled?: boolean;
}

/** `RouteAction.HashPolicy`: one of header, cookie, connectionProperties, queryParameter, filterState. */
export interface HashPolicy {
  readonly header?: { readonly headerName: string };
  readonly cookie?: { readonly name: string; readonly ttl?: string; readonly path?: string };
  readonly connectionProperties?: { readonly sourceIp: boolean };
  readonly queryParameter?: { readonly name: string };
  readonly filterState?: { readonly key: string };
  readonly terminal?: boolean;
}

export interface MaxStreamDuration {
  readonly maxStreamDuration?: string;
  readonly grpcTimeoutHeaderMax?: string;
}

/** Exactly one of cluster or weightedClusters. */
export interface RouteAction {
  readonly cluster?: string;
  readonly weightedClusters?: WeightedCluster;
  readonly clusterNotFoundResponseCode?: 'SERVICE_UNAVAILABLE' | 'NOT_FOUND' | 'INTERNAL_SERVER_ERROR';
  /** Replaces the matched prefix (or the whole path after a path or regex match). */
  readonly prefixRewrite?: string;
  readonly regexRewrite?: RegexMatchAndSubstitute;
  readonly hostRewriteLiteral?: string;
  /** Sets the Host to the upstream host's hostname. */
  readonly autoHostRewrite?: boolean;
  /** "0s" disables the timeout. */
  readonly timeout?: string;
  /** The stream idle timeout for this route; "0s" disables it. */
  readonly idleTimeout?: string;
  readonly retryPolicy?: RetryPolicy;
  readonly requestMirrorPolicies?: readonly RequestMirrorPolicy[];
  readonly hashPolicy?: readonly HashPolicy[];
  readonly maxGrpcTimeout?: string;
  readonly maxStreamDuration?: MaxStreamDuration;
  /** With `connectConfig`, the proxy terminates a CONNECT: it answers 200 and carries the tunnel's bytes to the cluster. */
  readonly upgradeConfigs?: readonly { readonly upgradeType: string; readonly enabled?: boolean; readonly connectConfig?: Record<string, never> }[];
}

export type RedirectResponseCode = 'MOVED_PERMANENTLY' | 'FOUND' | 'SEE_OTHER' | 'TEMPORARY_REDIRECT' | 'PERMANENT_REDIRECT';

export interface RedirectAction {
  readonly schemeRedirect?: string;
  readonly httpsRedirect?: boolean;
  readonly hostRedirect?: string;
  readonly portRedirect?: number;
  readonly pathRedirect?: string;
  readonly prefixRewrite?: string;
  readonly regexRewrite?: RegexMatchAndSubstitute;
  readonly responseCode?: RedirectResponseCode;
  readonly stripQuery?: boolean;
}

export interface DirectResponseAction {
  readonly status: number;
  readonly body?: DataSource;
}

export interface Decorator {
  readonly operation: string;
}

/** Exactly one of route, redirect, directResponse. */
export interface Route extends HeaderMutations {
  readonly name?: string;
  /** Names the route's statistics (`vhost.<vhost>.route.<statPrefix>.*`). */
  readonly statPrefix?: string;
  readonly match: RouteMatch;
  readonly route?: RouteAction;
  readonly redirect?: RedirectAction;
  readonly directResponse?: DirectResponseAction;
  readonly metadata?: Metadata;
  readonly decorator?: Decorator;
  /** Per-route filter settings, keyed by filter name (`envoy.filters.http.fault`). */
  readonly typedPerFilterConfig?: { readonly [filter: string]: TypedAny };
}

export interface VirtualHost extends HeaderMutations {
  readonly name: string;
  readonly domains: readonly string[];
  readonly routes: readonly Route[];
  readonly requireTls?: 'NONE' | 'EXTERNAL_ONLY' | 'ALL';
  readonly includeRequestAttemptCount?: boolean;
  readonly retryPolicy?: RetryPolicy;
  readonly requestMirrorPolicies?: readonly RequestMirrorPolicy[];
  readonly typedPerFilterConfig?: { readonly [filter: string]: TypedAny };
}

/** `envoy.config.route.v3.FilterConfig`: wraps a per-route filter config to mark it optional (or to disable the filter). */
export const FILTER_CONFIG_TYPE = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

export interface FilterConfig {
  readonly '@type': typeof FILTER_CONFIG_TYPE;
  readonly config?: TypedAny;
  readonly isOptional?: boolean;
  readonly disabled?: boolean;
}

export interface RouteConfiguration extends HeaderMutations {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHost[];
  readonly validateClusters?: boolean;
  readonly maxDirectResponseBodySizeBytes?: number;
  /** Match domains against the Host without its port. */
  readonly ignorePortInHostMatching?: boolean;
  readonly requestMirrorPolicies?: readonly RequestMirrorPolicy[];
  readonly typedPerFilterConfig?: { readonly [filter: string]: TypedAny };
}
