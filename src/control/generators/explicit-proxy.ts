import type { Cluster, HttpFilter, Listener, Route, RouteConfiguration, VirtualHost } from '../../xds/envoy/index.ts';
import type { LocalServicePort, ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { outboundClusterName } from './cluster-name.ts';
import { HTTP_INSPECTOR, httpConnectionManagerFilter, outboundHttpFilters, socketAddress, tcpProxyFilter, TLS_INSPECTOR } from './listener-filters.ts';
import { inboundSecurity } from './security-filters.ts';
import { inboundChainOptions, inboundFilterChainsForPort, inboundPorts, inspectionTimeout } from './listener-inbound.ts';
import { localRateLimitFilters } from './local-rate-limit.ts';
import { claimDomains, serviceDomains } from './route-domains.ts';
import { httpServicesOnPort, isHttpOrSniffed, outboundRouteConfiguration } from './route-outbound.ts';
import { outboundScope, type OutboundScope } from './route-scope.ts';

/**
 * A sidecar whose traffic nothing captures (INTERCEPTION_MODE NONE, Weft's local explicit mode):
 * it binds the workload's ports on the workload's own address for inbound traffic, and takes the
 * app's outbound requests as an HTTP proxy on `<address>:15001`. The proxy listener routes
 * absolute-form requests (`GET http://reviews:9080/x`) by their authority through one route
 * configuration, `http_proxy`, that holds every service port's virtual hosts under their
 * `host:port` names. A CONNECT to an HTTP service (what `fetch` sends through a proxy) is
 * terminated and its tunnel handed to the internal listener `http_proxy_tunnel`, which routes the
 * requests inside by the same configuration; a CONNECT to a TCP service is carried to its cluster.
 * For apps that cannot use a proxy, a service port can also have a port of its own on the
 * sidecar's address (LOCAL_SERVICE_PORTS): whatever arrives there goes to that service, routed by
 * its virtual host whatever the Host header says (HTTP), or to its cluster (TCP).
 */
export const EXPLICIT_PROXY_PORT = 15001;
export const HTTP_PROXY_LISTENER = 'http_proxy';
export const HTTP_PROXY_ROUTE = 'http_proxy';
export const HTTP_PROXY_TUNNEL = 'http_proxy_tunnel';

/** The listeners of an explicit-mode sidecar: one per inbound port, the HTTP proxy, and the tunnel's internal listener. */
export function explicitModeListeners(proxy: ProxyView, snapshot: MeshSnapshot): Listener[] {
  const address = proxy.ipAddresses[0] ?? '127.0.0.1';
  const inboundPolicies = localRateLimitFilters(proxy, snapshot, 'inbound');
  const outboundPolicies = localRateLimitFilters(proxy, snapshot, 'outbound');
  const security = inboundSecurity(proxy, snapshot);
  const inbound: Listener[] = inboundPorts(proxy, snapshot).map((port) => {
    const filterChains = inboundFilterChainsForPort(port, inboundPolicies, inboundChainOptions(proxy, security, port));
    const tls = filterChains.some((c) => c.filterChainMatch?.transportProtocol === 'tls');
    const sniffing = port.protocol === 'Unsupported';
    return {
      name: `${address}_${port.port}`,
      address: socketAddress(address, port.port),
      filterChains,
      trafficDirection: 'INBOUND',
      ...(tls || sniffing ? { listenerFilters: [...(tls ? [TLS_INSPECTOR] : []), ...(sniffing ? [HTTP_INSPECTOR] : [])], ...inspectionTimeout(tls, sniffing) } : {}),
    };
  });
  const proxyChain = (statPrefix: string, connect: boolean) => ({
    name: statPrefix,
    filters: [httpConnectionManagerFilter({ statPrefix, route: { rds: HTTP_PROXY_ROUTE }, httpFilters: outboundHttpFilters(outboundPolicies), useRemoteAddress: false, connect })],
  });
  const scope = outboundScope(proxy, snapshot);
  const local: Listener[] = proxy.localServicePorts.map((entry) => localServiceListener(proxy, snapshot, scope, address, entry, outboundPolicies));
  return [
    ...inbound,
    ...local,
    { name: HTTP_PROXY_LISTENER, address: socketAddress(address, EXPLICIT_PROXY_PORT), filterChains: [proxyChain(`outbound_${HTTP_PROXY_LISTENER}`, true)], trafficDirection: 'OUTBOUND' },
    { name: HTTP_PROXY_TUNNEL, internalListener: {}, filterChains: [proxyChain(`outbound_${HTTP_PROXY_TUNNEL}`, false)], trafficDirection: 'OUTBOUND' },
  ];
}

/** `<address>_<localPort>`: one service port, whatever the Host header says; nothing when the service is gone (502). */
function localServiceListener(
  proxy: ProxyView, snapshot: MeshSnapshot, scope: OutboundScope, address: string, entry: LocalServicePort, policies: readonly HttpFilter[],
): Listener {
  const name = `${address}_${entry.localPort}`;
  const imported = scope.services.find((s) => s.service.hostname === entry.hostname);
  const servicePort = imported?.ports.find((p) => p.port === entry.port);
  const base = { name, address: socketAddress(address, entry.localPort), trafficDirection: 'OUTBOUND' as const };
  if (servicePort !== undefined && !isHttpOrSniffed(servicePort.protocol)) {
    const cluster = outboundClusterName(entry.port, undefined, entry.hostname);
    return { ...base, filterChains: [{ name, filters: [tcpProxyFilter(cluster, { cluster })] }] };
  }
  const config = servicePort === undefined ? undefined : outboundRouteConfiguration(proxy, snapshot, scope, entry.port);
  const host = config?.virtualHosts?.find((h) => h.name === `${entry.hostname}:${entry.port}`);
  const routeConfig: RouteConfiguration = {
    name,
    virtualHosts: [host !== undefined ? { ...host, domains: ['*'] } : {
      name: 'not_in_mesh',
      domains: ['*'],
      routes: [{ name: 'not_in_mesh', match: { prefix: '/' }, directResponse: { status: 502, body: { inlineString: `weft: ${entry.hostname}:${entry.port} is not a service this sidecar sees\n` } } }],
    }],
    validateClusters: false,
  };
  const hcm = httpConnectionManagerFilter({ statPrefix: `outbound_${name}`, route: { routeConfig }, httpFilters: outboundHttpFilters(policies), useRemoteAddress: false });
  return { ...base, filterChains: [{ name, filters: [hcm] }] };
}

/** The cluster whose one endpoint is the tunnel's internal listener. */
export function httpProxyTunnelCluster(connectTimeout: string): Cluster {
  return {
    name: HTTP_PROXY_TUNNEL,
    type: 'STATIC',
    connectTimeout,
    loadAssignment: { clusterName: HTTP_PROXY_TUNNEL, endpoints: [{ lbEndpoints: [{ endpoint: { address: { envoyInternalAddress: { serverListenerName: HTTP_PROXY_TUNNEL } } } }] }] },
  };
}

/**
 * `http_proxy`: per HTTP service port, the virtual hosts of its route configuration `<port>` under
 * the names that carry the port (`reviews:9080`; bare names too for port 80, where clients leave it
 * out), each first terminating CONNECT into the tunnel; per TCP service port, a virtual host that
 * carries a CONNECT to its cluster. Anything else is refused with 502: an explicit proxy cannot
 * pass traffic through to the address the app dialled, since the app dialled the proxy.
 */
export function httpProxyRouteConfiguration(proxy: ProxyView, snapshot: MeshSnapshot, scope: OutboundScope): RouteConfiguration {
  const ports = [...new Set(scope.services.flatMap((s) => s.ports.map((p) => p.port)))].sort((a, b) => a - b);
  const claimed = new Set<string>();
  const virtualHosts: VirtualHost[] = [];
  const add = (host: VirtualHost): void => {
    const domains = claimDomains(host.domains, claimed);
    if (domains.length > 0) virtualHosts.push({ ...host, domains });
  };
  for (const port of ports) {
    if (httpServicesOnPort(scope, port).length === 0) continue;
    const config = outboundRouteConfiguration(proxy, snapshot, scope, port);
    for (const host of config.virtualHosts ?? []) {
      if (host.domains.includes('*')) continue;
      const domains = host.domains.filter((d) => d.endsWith(`:${port}`) || (port === 80 && !hasPort(d)));
      add({ ...host, domains, routes: [connectRoute(HTTP_PROXY_TUNNEL), ...(host.routes ?? [])] });
    }
  }
  for (const { service, ports: servicePorts } of scope.services) {
    for (const port of servicePorts) {
      if (isHttpOrSniffed(port.protocol) || port.protocol === 'UDP') continue;
      const domains = serviceDomains(service, port.port, proxy.namespace, snapshot.mesh.clusterDomain).filter((d) => d.endsWith(`:${port.port}`));
      add({ name: `${service.hostname}:${port.port}`, domains, routes: [connectRoute(outboundClusterName(port.port, undefined, service.hostname))] });
    }
  }
  virtualHosts.push({
    name: 'not_in_mesh',
    domains: ['*'],
    routes: [{ match: { prefix: '/' } }, { match: { connectMatcher: {} } }].map((r) => ({
      name: 'not_in_mesh',
      match: r.match,
      directResponse: { status: 502, body: { inlineString: 'weft: this host is not a service of the mesh, and a sidecar in explicit mode forwards only to services of the mesh\n' } },
    })),
  });
  return { name: HTTP_PROXY_ROUTE, virtualHosts, validateClusters: false };
}

function connectRoute(cluster: string): Route {
  return { name: 'connect', match: { connectMatcher: {} }, route: { cluster, timeout: '0s', upgradeConfigs: [{ upgradeType: 'CONNECT', connectConfig: {} }] } };
}

/** `reviews:9080` and `[::1]:80` carry a port; `reviews` and `[::1]` do not. */
function hasPort(domain: string): boolean {
  return /:\d+$/.test(domain) && !domain.endsWith(']');
}
