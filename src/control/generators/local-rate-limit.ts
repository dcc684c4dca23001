import type { Resource } from '../../config/index.ts';
import type { HTTPRoute } from '../../config/kinds/networking/virtual-service.ts';
import { resolveVirtualServiceReference, type TokenBucket as TokenBucketSpec } from '../../config/kinds/weft/local-rate-limit.ts';
import {
  HTTP_FILTER, HTTP_STATUS_CODE_NAMES, LOCAL_RATE_LIMIT_TYPE,
  type HttpFilter, type LocalRateLimit, type RuntimeFractionalPercent, type TokenBucket, type TypedAny,
} from '../../xds/envoy/index.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import type { VirtualServiceInput } from './http-route-translation.ts';
import { protoDuration } from './proto-duration.ts';

/**
 * A LocalRateLimit in Envoy's terms: the local rate limit filter just before the router of the
 * HTTP connection managers it concerns, and a route's own limit in the `typedPerFilterConfig` of
 * the Envoy routes made from a named VirtualService HTTP route (a route's config replaces the
 * filter's for requests on that route).
 *
 * The workload's bucket is enforced where the workload receives requests: a sidecar's inbound
 * connection managers, a gateway's. Route limits apply where the proxy routes by VirtualServices:
 * a sidecar's outbound connection managers, a gateway's; there the filter is placed even without a
 * workload bucket, enabled for no request, since Envoy runs a route's config only for a filter of
 * the chain.
 */

const LOCAL_RATE_LIMIT_STAT_PREFIX = 'http_local_rate_limiter';

/** Which of a proxy's connection managers: those serving its workload (sidecar inbound) or those routing by VirtualServices (outbound, gateway). */
export type HttpTraffic = 'inbound' | 'outbound';

/** The local rate limit filter for the proxy's connection managers of `traffic`, or nothing when no limit concerns them. */
export function localRateLimitFilters(proxy: ProxyView, snapshot: MeshSnapshot, traffic: HttpTraffic): HttpFilter[] {
  const limit = snapshot.localRateLimitFor(proxy.namespace, proxy.labels);
  if (limit === undefined) return [];
  const spec = limit.object.spec;
  // A gateway's requests all pass through its routing connection managers; a sidecar serves its workload inbound.
  const servesWorkload = proxy.kind === 'router' ? traffic === 'outbound' : traffic === 'inbound';
  if (servesWorkload && spec.tokenBucket !== undefined) return [filter(enforcedConfig(spec.tokenBucket, spec.status))];
  if (traffic === 'outbound' && spec.routes.length > 0) return [filter({ '@type': LOCAL_RATE_LIMIT_TYPE, statPrefix: LOCAL_RATE_LIMIT_STAT_PREFIX, filterEnabled: percent(0) })];
  return [];
}

/** The per-filter configs a proxy's LocalRateLimit puts on the routes of one HTTP rule: keyed by filter name, undefined for none. */
export type RoutePolicyConfigs = (vs: VirtualServiceInput, rule: HTTPRoute) => Readonly<Record<string, TypedAny>> | undefined;

/** The route limits of the LocalRateLimit that applies to the proxy, by VirtualService and HTTP route name. */
export function localRateLimitRouteConfigs(proxy: ProxyView, snapshot: MeshSnapshot): RoutePolicyConfigs | undefined {
  const limit = snapshot.localRateLimitFor(proxy.namespace, proxy.labels);
  if (limit === undefined || limit.object.spec.routes.length === 0) return undefined;
  const byRoute = routeLimits(limit);
  return (vs, rule) => {
    const config = rule.name !== undefined ? byRoute.get(routeKey(vs.namespace, vs.name, rule.name)) : undefined;
    return config !== undefined ? { [HTTP_FILTER.localRateLimit]: config } : undefined;
  };
}

function routeLimits(limit: Resource<'LocalRateLimit'>): Map<string, LocalRateLimit> {
  const out = new Map<string, LocalRateLimit>();
  for (const entry of limit.object.spec.routes) {
    const vs = resolveVirtualServiceReference(entry.virtualService, limit.namespace);
    out.set(routeKey(vs.namespace, vs.name, entry.route), enforcedConfig(entry.tokenBucket, limit.object.spec.status));
  }
  return out;
}

function routeKey(namespace: string, vsName: string, routeName: string): string {
  return `${namespace}/${vsName}\n${routeName}`;
}

/** A limit that every request is checked against and refused by when the bucket is empty, with the x-ratelimit-* headers. */
function enforcedConfig(bucket: TokenBucketSpec, status: number): LocalRateLimit {
  return {
    '@type': LOCAL_RATE_LIMIT_TYPE,
    statPrefix: LOCAL_RATE_LIMIT_STAT_PREFIX,
    status: { code: HTTP_STATUS_CODE_NAMES[status] ?? status },
    tokenBucket: envoyTokenBucket(bucket),
    filterEnabled: percent(100),
    filterEnforced: percent(100),
    enableXRatelimitHeaders: 'DRAFT_VERSION_03',
  };
}

function envoyTokenBucket(bucket: TokenBucketSpec): TokenBucket {
  return { maxTokens: bucket.maxTokens, tokensPerFill: bucket.tokensPerFill, fillInterval: protoDuration(bucket.fillInterval) };
}

function percent(numerator: number): RuntimeFractionalPercent {
  return { defaultValue: { numerator, denominator: 'HUNDRED' } };
}

function filter(config: LocalRateLimit): HttpFilter {
  return { name: HTTP_FILTER.localRateLimit, typedConfig: config };
}
