import type { Resource } from '../../config/index.ts';
import { hostCoveredBy, isWildcardHost } from '../../config/analysis/index.ts';
import type { Route, RouteConfiguration, VirtualHost } from '../../xds/envoy/index.ts';
import type { ProxyView, Protocol } from '../model/index.ts';
import { isHttpProtocol } from '../model/index.ts';
import type { MeshService, MeshSnapshot } from '../snapshot/index.ts';
import { outboundClusterName, PASSTHROUGH_CLUSTER } from './cluster-name.ts';
import { defaultOutboundRoute, translateVirtualService } from './http-route-translation.ts';
import { MESH_GATEWAYS, routeContext } from './route-context.ts';
import { claimDomains, serviceDomains } from './route-domains.ts';
import type { OutboundScope } from './route-scope.ts';

/** Istio's limit on a direct response body, raised from Envoy's 4 KiB. */
export const MAX_DIRECT_RESPONSE_BODY_BYTES = 1024 * 1024;

/** Ports whose traffic a sidecar routes as HTTP: declared HTTP, HTTP2, gRPC, or undeclared (sniffed). */
export function isHttpOrSniffed(protocol: Protocol): boolean {
  return isHttpProtocol(protocol) || protocol === 'Unsupported';
}

/** The services of the scope with `port` as an HTTP (or sniffed) port, by hostname. */
export function httpServicesOnPort(scope: OutboundScope, port: number): MeshService[] {
  return scope.services.filter((s) => s.ports.some((p) => p.port === port && isHttpOrSniffed(p.protocol))).map((s) => s.service);
}

/**
 * A sidecar's route configuration `<port>`, served to the `0.0.0.0_<port>` listener: a virtual
 * host per service with that port, routed by the VirtualService that claims the service (the
 * first naming it exactly, else the one with the most specific wildcard covering it) or by
 * default to the service's cluster; a virtual host per VirtualService host outside the registry;
 * then `allow_any` (ALLOW_ANY: pass through) or `block_all` (REGISTRY_ONLY: 502) for any other host.
 */
export function outboundRouteConfiguration(proxy: ProxyView, snapshot: MeshSnapshot, scope: OutboundScope, port: number): RouteConfiguration {
  const ctx = routeContext(proxy, snapshot, port, MESH_GATEWAYS);
  const services = httpServicesOnPort(scope, port);
  const claims = claimServices(services, scope.virtualServices);
  const visible = new Set(scope.services.map((s) => s.service.hostname));

  const hosts: { name: string; domains: string[]; routes: readonly Route[] }[] = [];
  const routed = new Set<string>();
  for (const vs of scope.virtualServices) {
    const claimed = services.filter((s) => claims.get(s.hostname) === vs);
    const outside = (vs.object.spec.hosts ?? []).filter((h) => !visible.has(h) && !(isWildcardHost(h) && [...visible].some((v) => hostCoveredBy(v, h))));
    if (claimed.length === 0 && (outside.length === 0 || port !== 80)) continue;
    const routes = translateVirtualService({ name: vs.name, namespace: vs.namespace, spec: vs.object.spec }, ctx);
    if (routes.length === 0) continue;
    for (const host of outside) hosts.push({ name: `${host}:${port}`, domains: [host, `${host}:${port}`], routes });
    for (const service of claimed) {
      routed.add(service.hostname);
      hosts.push({ name: `${service.hostname}:${port}`, domains: serviceDomains(service, port, proxy.namespace, snapshot.mesh.clusterDomain), routes });
    }
  }
  for (const service of services) {
    if (routed.has(service.hostname)) continue;
    const cluster = outboundClusterName(port, undefined, service.hostname);
    const route = defaultOutboundRoute(cluster, `${service.hostname}:${port}/*`, ctx, ctx.hashPolicy(service.hostname, undefined, port));
    hosts.push({ name: `${service.hostname}:${port}`, domains: serviceDomains(service, port, proxy.namespace, snapshot.mesh.clusterDomain), routes: [route] });
  }

  const names = new Set<string>();
  const claimedDomains = new Set<string>();
  const virtualHosts: VirtualHost[] = [];
  for (const host of hosts) {
    if (names.has(host.name)) continue;
    names.add(host.name);
    const domains = claimDomains(host.domains, claimedDomains);
    if (domains.length > 0) virtualHosts.push({ name: host.name, domains, routes: host.routes, includeRequestAttemptCount: true });
  }
  virtualHosts.sort((a, b) => compareText(a.name, b.name));
  virtualHosts.push(catchAllVirtualHost(scope.outboundTrafficPolicy));
  return { name: String(port), virtualHosts, validateClusters: false, maxDirectResponseBodySizeBytes: MAX_DIRECT_RESPONSE_BODY_BYTES };
}

/**
 * Which VirtualService routes each service: the first (in Istio's order) with the service's
 * hostname among its hosts; failing that, the one whose wildcard host covering it is the longest.
 */
export function claimServices(services: readonly MeshService[], virtualServices: readonly Resource<'VirtualService'>[]): Map<string, Resource<'VirtualService'>> {
  const out = new Map<string, Resource<'VirtualService'>>();
  for (const service of services) {
    const exact = virtualServices.find((vs) => (vs.object.spec.hosts ?? []).includes(service.hostname));
    if (exact !== undefined) {
      out.set(service.hostname, exact);
      continue;
    }
    let best: { vs: Resource<'VirtualService'>; length: number } | undefined;
    for (const vs of virtualServices) {
      for (const host of vs.object.spec.hosts ?? []) {
        if (isWildcardHost(host) && hostCoveredBy(service.hostname, host) && (best === undefined || host.length > best.length)) best = { vs, length: host.length };
      }
    }
    if (best !== undefined) out.set(service.hostname, best.vs);
  }
  return out;
}

/** Traffic for a host no virtual host names: passed through under ALLOW_ANY, answered 502 under REGISTRY_ONLY. */
function catchAllVirtualHost(policy: OutboundScope['outboundTrafficPolicy']): VirtualHost {
  if (policy === 'ALLOW_ANY') {
    return {
      name: 'allow_any',
      domains: ['*'],
      routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER, timeout: '0s', maxGrpcTimeout: '0s' } }],
      includeRequestAttemptCount: true,
    };
  }
  return {
    name: 'block_all',
    domains: ['*'],
    routes: [{ name: 'block_all', match: { prefix: '/' }, directResponse: { status: 502 } }],
    includeRequestAttemptCount: true,
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
