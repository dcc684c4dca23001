import type { ProxyView } from '../model/index.ts';
import { effectiveTrafficPolicy, type MeshSnapshot } from '../snapshot/index.ts';
import { hashPolicyFor } from './hash-policy.ts';
import type { RouteTranslationContext } from './http-route-translation.ts';
import { localRateLimitRouteConfigs } from './local-rate-limit.ts';

/**
 * The route translation context for one proxy and one port, read from the snapshot: the proxy's
 * identity for source matches, the registry for destination ports, the DestinationRules (as
 * the proxy sees them) for consistent-hash policies, and its LocalRateLimit's route limits.
 */
export function routeContext(proxy: ProxyView, snapshot: MeshSnapshot, listenPort: number, gatewayNames: ReadonlySet<string>): RouteTranslationContext {
  const policyConfigs = localRateLimitRouteConfigs(proxy, snapshot);
  return {
    listenPort,
    gatewayNames,
    proxyLabels: proxy.labels,
    proxyNamespace: proxy.namespace,
    client: proxy.generator,
    defaultRetryPolicy: snapshot.mesh.defaultHttpRetryPolicy,
    resolveHost: (host, namespace) => snapshot.resolveHost(host, namespace),
    service: (hostname) => snapshot.service(hostname),
    hashPolicy: (hostname, subset, port) => hashPolicyFor(effectiveTrafficPolicy(snapshot.destinationRule(hostname, proxy.namespace, proxy.labels), port, subset)),
    ...(policyConfigs !== undefined ? { policyConfigs } : {}),
  };
}

/** The gateway name sidecars' routes are built for. */
export const MESH_GATEWAYS: ReadonlySet<string> = new Set(['mesh']);
