import { TypeUrl } from '../../xds/index.ts';
import type { RouteConfiguration } from '../../xds/envoy/index.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { HTTP_PROXY_ROUTE, httpProxyRouteConfiguration } from './explicit-proxy.ts';
import { proxyKey, type Generator, type NamedResource, type ProxyField, type ResourceKind } from './generator.ts';
import { gatewayRouteConfiguration, gatewayRouteName, gatewayServersByPort } from './route-gateway.ts';
import { allGrpcTargets, grpcRouteConfiguration, grpcTarget } from './route-grpc.ts';
import { httpServicesOnPort, outboundRouteConfiguration } from './route-outbound.ts';
import { outboundScope } from './route-scope.ts';

/** The proxy fields this generator (and what it calls) reads. */
const SHARING_FIELDS: readonly ProxyField[] = ['kind', 'generator', 'namespace', 'labels', 'interceptionMode'];

/**
 * RDS, as Istio serves it: a sidecar asks for `<port>` (the route configuration of its
 * `0.0.0.0_<port>` listener), a gateway for `http.<port>`, a proxyless gRPC client for the
 * `<host>:<port>` it dials. Names it does not know are left out of the answer.
 */
export class RouteGenerator implements Generator {
  readonly typeUrl = TypeUrl.RouteConfiguration;
  readonly inputs: ReadonlySet<ResourceKind> = new Set<ResourceKind>(['VirtualService', 'DestinationRule', 'Service', 'ServiceEntry', 'Gateway', 'Sidecar', 'LocalRateLimit']);

  sharingKey(proxy: ProxyView): string {
    return proxyKey(proxy, SHARING_FIELDS);
  }

  generate(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): NamedResource[] {
    const configs = proxy.generator === 'grpc' ? grpcConfigs(proxy, snapshot, names)
      : proxy.kind === 'router' ? gatewayConfigs(proxy, snapshot, names)
        : sidecarConfigs(proxy, snapshot, names);
    return configs.map((config) => ({ name: config.name, resource: config as unknown as NamedResource['resource'] }));
  }
}

function sidecarConfigs(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): RouteConfiguration[] {
  const scope = outboundScope(proxy, snapshot);
  const explicit = proxy.interceptionMode === 'NONE' && (names === 'all' || names.has(HTTP_PROXY_ROUTE)) ? [httpProxyRouteConfiguration(proxy, snapshot, scope)] : [];
  const ports = names === 'all'
    ? [...new Set(scope.services.flatMap((s) => s.ports.map((p) => p.port)))].filter((p) => httpServicesOnPort(scope, p).length > 0).sort((a, b) => a - b)
    : [...names].filter((n) => /^\d+$/.test(n)).map(Number).filter((p) => p > 0 && p <= 65535);
  return [...explicit, ...ports.map((port) => outboundRouteConfiguration(proxy, snapshot, scope, port))];
}

function gatewayConfigs(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): RouteConfiguration[] {
  const ports = [...gatewayServersByPort(proxy, snapshot, 'http').keys()].sort((a, b) => a - b);
  return ports.filter((p) => names === 'all' || names.has(gatewayRouteName(p))).map((port) => gatewayRouteConfiguration(proxy, snapshot, port));
}

function grpcConfigs(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): RouteConfiguration[] {
  const scope = outboundScope(proxy, snapshot);
  const targets = names === 'all' ? allGrpcTargets(scope) : [...names].flatMap((n) => grpcTarget(n, proxy, snapshot, scope) ?? []);
  return targets.map((target) => grpcRouteConfiguration(proxy, snapshot, scope, target));
}
