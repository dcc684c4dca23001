import type { HashPolicy, Struct } from '../../xds/envoy/index.ts';
import type { RequestHead } from '../http/request-head.ts';

/**
 * A route as the proxy runs it: an Envoy `Route` compiled once when RDS arrives (regexes built,
 * durations in milliseconds, weights summed), so that the per-request path only reads it.
 */

/**
 * Header changes, applied as one pass of Envoy's header parser (`applyHeaderMutation`): first
 * `remove`; then, judged against the headers as they are after removal, `set` replaces a header,
 * `overwriteIfExists` replaces it only when present, `addIfAbsent` adds it only when absent, and
 * `append` adds a value. For one name the values land in that order (set, overwriteIfExists,
 * addIfAbsent, append). Names are lower-case. Several levels of Envoy config (route, virtual host,
 * route configuration) compile into one such mutation with the same effect.
 */
export interface HeaderMutation {
  readonly remove: readonly string[];
  readonly set: readonly (readonly [name: string, value: string])[];
  readonly append: readonly (readonly [name: string, value: string])[];
  readonly addIfAbsent: readonly (readonly [name: string, value: string])[];
  readonly overwriteIfExists?: readonly (readonly [name: string, value: string])[];
}

/** Envoy's retry conditions (x-envoy-retry-on and x-envoy-retry-grpc-on). */
export type RetryCondition =
  | '5xx' | 'gateway-error' | 'reset' | 'reset-before-request' | 'connect-failure' | 'envoy-ratelimited' | 'retriable-4xx'
  | 'refused-stream' | 'retriable-status-codes' | 'retriable-headers' | 'http3-post-connect-failure'
  | 'cancelled' | 'deadline-exceeded' | 'internal' | 'resource-exhausted' | 'unavailable';

export interface RetryPolicy {
  readonly retryOn: ReadonlySet<RetryCondition>;
  readonly numRetries: number;
  /** 0 when the per-try timeout is the route timeout. */
  readonly perTryTimeoutMs: number;
  readonly retriableStatusCodes: ReadonlySet<number>;
  /** Exponential back-off with full jitter: base and cap (Envoy's default cap is 10x base). */
  readonly backOff: { readonly baseMs: number; readonly maxMs: number };
  /** Retry on another host than the ones already tried (previous_hosts predicate). */
  readonly avoidPreviousHosts: boolean;
  /** Retry in another priority than the ones already tried (previous_priorities; Istio's retryRemoteLocalities). */
  readonly avoidPreviousPriorities: boolean;
  readonly hostSelectionRetryMaxAttempts: number;
}

/**
 * One of a route's clusters, with the header changes that belong to it (a weighted cluster's own).
 * Envoy's order on the request: the choice's `requestHeaders`, then the entry's, then
 * `action.rewrite(head, choice)`; on the response: the choice's `responseHeaders`, then the entry's.
 */
export interface ClusterChoice {
  readonly name: string;
  readonly requestHeaders: HeaderMutation;
  readonly responseHeaders: HeaderMutation;
  /** The weighted cluster's Host rewrite; a route-level `hostRewriteLiteral` overrides it, as in Envoy. */
  readonly hostRewriteLiteral?: string;
}

export interface RequestMirror {
  readonly cluster: string;
  /** 0..1; 1 when the policy gives no fraction. */
  readonly fraction: number;
}

export type RouteAction =
  | {
      readonly kind: 'forward';
      /** Picks the cluster for one request; `random` is in [0, 1). A single cluster always wins. */
      pickCluster(random: number): ClusterChoice;
      /** 0 means no timeout (Envoy's `timeout: 0s`); Envoy's default when unset is 15 s. */
      readonly timeoutMs: number;
      /** The route's stream idle timeout (0 disables it); unset leaves the connection manager's. */
      readonly idleTimeoutMs?: number;
      readonly retry?: RetryPolicy;
      /**
       * Applies prefix/regex path rewrites and host rewrites to the head being sent upstream; with
       * the chosen cluster, its Host rewrite too.
       */
      rewrite(head: RequestHead, choice?: ClusterChoice): void;
      readonly hashPolicies: readonly HashPolicy[];
      readonly mirrors: readonly RequestMirror[];
      /**
       * When set, a gRPC request's grpc-timeout replaces the route timeout, capped at this value
       * (0: not capped). Unset: grpc-timeout is ignored (Envoy's maxGrpcTimeout / grpcTimeoutHeaderMax).
       */
      readonly maxGrpcTimeoutMs?: number;
      /** Envoy's autoHostRewrite: the Host becomes the upstream host's hostname. */
      readonly autoHostRewrite?: boolean;
      /**
       * The route's `upgradeConfigs`: whether each upgrade type (lower-case; `connect` for CONNECT)
       * is allowed on this route, which overrides the connection manager's `upgradeConfigs`.
       */
      readonly upgrades?: ReadonlyMap<string, boolean>;
      /**
       * A CONNECT on this route is terminated here (its CONNECT upgrade has `connectConfig`): the
       * router opens a connection to a host of the cluster, answers 200 and carries the tunnel's
       * bytes both ways. Otherwise a CONNECT is sent on upstream.
       */
      readonly terminateConnect?: boolean;
    }
  | {
      readonly kind: 'redirect';
      /** The status (301 by default) and Location for a request. */
      redirect(head: RequestHead): { readonly status: number; readonly location: string };
    }
  | { readonly kind: 'direct'; readonly status: number; readonly body?: string };

export interface RouteEntry {
  /** The route's name, for %ROUTE_NAME% (may be ''). */
  readonly name: string;
  readonly virtualHostName: string;
  readonly action: RouteAction;
  /** The route's, virtual host's and route configuration's header changes, compiled into one mutation in Envoy's order. */
  readonly requestHeaders: HeaderMutation;
  readonly responseHeaders: HeaderMutation;
  /** Per-route filter configs, parsed by each filter's parser when the route was compiled, by filter name. */
  readonly perFilterConfig: ReadonlyMap<string, unknown>;
  /** x-envoy-decorator-operation / the span name, when set. */
  readonly decoratorOperation?: string;
}

/** What route matching reads of a request. */
export interface RouteRequest {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly scheme: 'http' | 'https';
  readonly headers: Readonly<Record<string, string | string[]>>;
  /** Dynamic metadata by filter name (JWT claims under `istio_authn`), for `dynamicMetadata` matches. */
  readonly dynamicMetadata?: Readonly<Record<string, Struct>>;
}

/** A compiled RouteConfiguration: matches requests to routes. Immutable; RDS updates replace it. */
export interface RouteTable {
  readonly name: string;
  /**
   * The route for a request, or undefined when no virtual host or route matches (404 NR).
   * `random`, in [0, 1), decides `runtimeFraction` matches; header names in `request` are lower-case.
   */
  match(request: RouteRequest, random: number): RouteEntry | undefined;
}
