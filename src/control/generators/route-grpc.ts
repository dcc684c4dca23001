import type { RouteConfiguration } from '../../xds/envoy/index.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshService, MeshSnapshot } from '../snapshot/index.ts';
import { outboundClusterName } from './cluster-name.ts';
import { defaultOutboundRoute, translateVirtualService } from './http-route-translation.ts';
import { MESH_GATEWAYS, routeContext } from './route-context.ts';
import { claimServices, isHttpOrSniffed } from './route-outbound.ts';
import type { OutboundScope } from './route-scope.ts';

/**
 * Proxyless gRPC clients ask for a listener, and then a route configuration, named after the
 * target they dial (`xds:///reviews.default.svc.cluster.local:9080` asks for
 * `reviews.default.svc.cluster.local:9080`).
 */
export interface GrpcTarget {
  readonly name: string;
  readonly service: MeshService;
  readonly port: number;
}

/**
 * The service and port a target name stands for, as the client's namespace would resolve it by
 * DNS: the FQDN, `reviews.default.svc`, `reviews.default`, or the short `reviews`. Undefined
 * when it names no service port the client sees.
 */
export function grpcTarget(name: string, proxy: ProxyView, snapshot: MeshSnapshot, scope: OutboundScope): GrpcTarget | undefined {
  const colon = name.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const host = name.slice(0, colon).toLowerCase();
  const port = Number(name.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0) return undefined;
  const domain = snapshot.mesh.clusterDomain;
  const candidates = [host, `${host}.${domain}`, `${host}.svc.${domain}`, snapshot.resolveHost(host, proxy.namespace)];
  for (const candidate of candidates) {
    const imported = scope.services.find((s) => s.service.hostname === candidate);
    if (imported?.ports.some((p) => p.port === port && isHttpOrSniffed(p.protocol)) === true) return { name, service: imported.service, port };
  }
  return undefined;
}

/** Every service port a client could dial, named by FQDN, for a client that subscribes to all listeners. */
export function allGrpcTargets(scope: OutboundScope): GrpcTarget[] {
  return scope.services.flatMap((s) =>
    s.ports.filter((p) => isHttpOrSniffed(p.protocol)).map((p) => ({ name: `${s.service.hostname}:${p.port}`, service: s.service, port: p.port })));
}

/**
 * The route configuration of one target: a single virtual host for the name the client dialled,
 * routed by the VirtualService that claims the service (in the subset of the route API gRPC
 * clients accept), else to the service port's cluster.
 */
export function grpcRouteConfiguration(proxy: ProxyView, snapshot: MeshSnapshot, scope: OutboundScope, target: GrpcTarget): RouteConfiguration {
  const ctx = routeContext(proxy, snapshot, target.port, MESH_GATEWAYS);
  const vs = claimServices([target.service], scope.virtualServices).get(target.service.hostname);
  const routed = vs !== undefined ? translateVirtualService({ name: vs.name, namespace: vs.namespace, spec: vs.object.spec }, ctx) : [];
  const hostname = target.service.hostname;
  const routes = routed.length > 0
    ? routed
    : [defaultOutboundRoute(outboundClusterName(target.port, undefined, hostname), `${hostname}:${target.port}/*`, ctx, ctx.hashPolicy(hostname, undefined, target.port))];
  return { name: target.name, virtualHosts: [{ name: target.name, domains: [target.name], routes }] };
}
