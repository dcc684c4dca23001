import type { Listener } from '../../xds/envoy/index.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { httpConnectionManagerFilter, outboundHttpFilters, socketAddress, tcpProxyFilter } from './listener-filters.ts';
import { tcpRoutes, type L4Route } from './listener-tcp-routes.ts';
import { localRateLimitFilters } from './local-rate-limit.ts';
import { meshPathNormalization, securityFilters } from './security-filters.ts';
import { routeContext } from './route-context.ts';
import { gatewayName, gatewayRouteName, gatewayServersByPort, serverHostsFor } from './route-gateway.ts';

/**
 * A gateway's listeners, one per server port of the Gateways selecting it, bound to the port:
 * `0.0.0.0_<port>` for plain-text HTTP servers, routed by `http.<port>`; for TCP servers, the
 * first `tcp` rule of a VirtualService bound to the gateway whose hosts the server admits. A port
 * that has HTTP servers serves HTTP only. HTTPS and TLS servers get no listener yet.
 */
export function gatewayListeners(proxy: ProxyView, snapshot: MeshSnapshot): Listener[] {
  const http = gatewayServersByPort(proxy, snapshot, 'http');
  const listeners: Listener[] = [];
  const policies = localRateLimitFilters(proxy, snapshot, 'outbound');
  const security = securityFilters(proxy, snapshot, true);
  for (const [port, servers] of [...http].sort(([a], [b]) => a - b)) {
    const address = servers[0]?.server.bind ?? '0.0.0.0';
    const name = `${address}_${port}`;
    listeners.push({
      name,
      address: socketAddress(address, port),
      filterChains: [{
        name,
        filters: [httpConnectionManagerFilter({ statPrefix: `outbound_${name}`, route: { rds: gatewayRouteName(port) }, httpFilters: outboundHttpFilters([...security.http, ...policies]), useRemoteAddress: true, pathNormalization: meshPathNormalization(snapshot) })],
      }],
      trafficDirection: 'OUTBOUND',
    });
  }
  for (const [port, servers] of [...gatewayServersByPort(proxy, snapshot, 'tcp')].sort(([a], [b]) => a - b)) {
    if (http.has(port)) continue;
    const gatewayNames = new Set(servers.map((s) => gatewayName(s.gateway)));
    const ctx = routeContext(proxy, snapshot, port, gatewayNames);
    const source = { listenPort: port, gatewayNames, proxyLabels: proxy.labels, proxyNamespace: proxy.namespace };
    let route: L4Route | undefined;
    for (const { gateway, server } of servers) {
      for (const vs of snapshot.virtualServices(gatewayName(gateway), proxy.namespace)) {
        if (serverHostsFor(vs.object.spec.hosts ?? [], vs.namespace, server, gateway.namespace).length === 0) continue;
        route = tcpRoutes(vs, source, ctx).find((r) => Object.keys(r.match).length === 0);
        if (route !== undefined) break;
      }
      if (route !== undefined) break;
    }
    if (route === undefined) continue;
    const address = servers[0]?.server.bind ?? '0.0.0.0';
    const name = `${address}_${port}`;
    const statPrefix = 'cluster' in route.target ? route.target.cluster : name;
    listeners.push({ name, address: socketAddress(address, port), filterChains: [{ name, filters: [...security.tcp, tcpProxyFilter(statPrefix, route.target)] }], trafficDirection: 'OUTBOUND' });
  }
  return listeners;
}
