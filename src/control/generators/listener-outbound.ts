import type { FilterChain, FilterChainMatch, HttpFilter, Listener } from '../../xds/envoy/index.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshService, MeshSnapshot, ServicePort } from '../snapshot/index.ts';
import { BLACK_HOLE_CLUSTER, outboundClusterName } from './cluster-name.ts';
import {
  cidrRange, HTTP_APPLICATION_PROTOCOLS, HTTP_INSPECTOR, httpConnectionManagerFilter, outboundHttpFilters, passthroughChain, socketAddress, TLS_INSPECTOR,
  tcpProxyFilter, type TcpTarget,
} from './listener-filters.ts';
import { tcpRoutes, tlsRoutes, type L4Route } from './listener-tcp-routes.ts';
import { localRateLimitFilters } from './local-rate-limit.ts';
import { MESH_GATEWAYS, routeContext } from './route-context.ts';
import { claimServices, isHttpOrSniffed } from './route-outbound.ts';
import type { OutboundScope } from './route-scope.ts';

/** Where iptables sends a sidecar's outbound connections. */
export const VIRTUAL_OUTBOUND_PORT = 15001;
const ANY_ADDRESS = '0.0.0.0';

/**
 * A sidecar's outbound listeners: `virtualOutbound`, which receives every captured connection and
 * hands it to the listener of its original destination (or passes it through), and per service
 * port a listener that does not bind: `0.0.0.0_<port>` for HTTP (one per port, routed by the
 * route configuration `<port>`), `<vip>_<port>` for TCP and TLS (`0.0.0.0_<port>` for services
 * without a virtual IP).
 */
export function outboundListeners(proxy: ProxyView, snapshot: MeshSnapshot, scope: OutboundScope): Listener[] {
  const httpPorts = new Map<number, { service: MeshService; port: ServicePort }[]>();
  const tcpListeners = new Map<string, { address: string; port: number; members: { service: MeshService; port: ServicePort }[] }>();
  for (const { service, ports } of scope.services) {
    for (const port of ports) {
      if (port.protocol === 'UDP') continue;
      if (isHttpOrSniffed(port.protocol)) {
        const list = httpPorts.get(port.port) ?? [];
        httpPorts.set(port.port, [...list, { service, port }]);
        continue;
      }
      const vip = service.address !== undefined && !service.address.includes('/') ? service.address : undefined;
      const key = listenerName(vip ?? ANY_ADDRESS, port.port);
      const entry = tcpListeners.get(key) ?? { address: vip ?? ANY_ADDRESS, port: port.port, members: [] };
      entry.members.push({ service, port });
      tcpListeners.set(key, entry);
    }
  }

  const listeners: Listener[] = [virtualOutboundListener(scope.outboundTrafficPolicy)];
  const policies = localRateLimitFilters(proxy, snapshot, 'outbound');
  for (const [port, members] of [...httpPorts].sort(([a], [b]) => a - b)) listeners.push(httpOutboundListener(port, members, scope, policies));
  for (const [name, entry] of [...tcpListeners].sort(([a], [b]) => compareText(a, b))) {
    // The HTTP listener of the port already takes connections to addresses without a listener of their own.
    if (entry.address === ANY_ADDRESS && httpPorts.has(entry.port)) continue;
    listeners.push(tcpOutboundListener(name, entry.address, entry.port, entry.members, proxy, snapshot, scope));
  }
  return listeners;
}

export function listenerName(address: string, port: number): string {
  return `${address}_${port}`;
}

/**
 * Takes every connection iptables redirected and, by its original destination, hands it to the
 * listener for that address and port; what no listener takes is passed through (or refused under
 * REGISTRY_ONLY). A connection to 15001 itself would loop, so it is closed.
 */
function virtualOutboundListener(policy: OutboundScope['outboundTrafficPolicy']): Listener {
  return {
    name: 'virtualOutbound',
    address: socketAddress(ANY_ADDRESS, VIRTUAL_OUTBOUND_PORT),
    filterChains: [
      { name: 'virtualOutbound-blackhole', filterChainMatch: { destinationPort: VIRTUAL_OUTBOUND_PORT }, filters: [tcpProxyFilter(BLACK_HOLE_CLUSTER, { cluster: BLACK_HOLE_CLUSTER })] },
      passthroughChain('virtualOutbound-catchall-tcp', policy),
    ],
    useOriginalDst: true,
    trafficDirection: 'OUTBOUND',
  };
}

/**
 * `0.0.0.0_<port>`: HTTP through the route configuration `<port>`. When a service on the port
 * does not declare its protocol, http_inspector tells HTTP from other bytes: HTTP to that
 * service's address is routed, anything else goes to its cluster as TCP; HTTP to other addresses
 * is routed; other connections are passed through.
 */
function httpOutboundListener(
  port: number, members: readonly { service: MeshService; port: ServicePort }[], scope: OutboundScope, policies: readonly HttpFilter[],
): Listener {
  const name = listenerName(ANY_ADDRESS, port);
  const hcm = httpConnectionManagerFilter({ statPrefix: `outbound_${name}`, route: { rds: String(port) }, httpFilters: outboundHttpFilters(policies), useRemoteAddress: false });
  const base = { name, address: socketAddress(ANY_ADDRESS, port), bindToPort: false, trafficDirection: 'OUTBOUND' as const };
  const sniffed = members.filter((m) => m.port.protocol === 'Unsupported');
  if (sniffed.length === 0) return { ...base, filterChains: [{ name, filters: [hcm] }] };

  const chains: FilterChain[] = [];
  const seen = new Set<string>();
  for (const { service } of sniffed) {
    if (service.address === undefined || seen.has(service.address)) continue;
    seen.add(service.address);
    const prefixRanges = [cidrRange(service.address)];
    const cluster = outboundClusterName(port, undefined, service.hostname);
    chains.push({ name: `${listenerName(service.address, port)}-http`, filterChainMatch: { prefixRanges, applicationProtocols: HTTP_APPLICATION_PROTOCOLS }, filters: [hcm] });
    chains.push({ name: `${listenerName(service.address, port)}-tcp`, filterChainMatch: { prefixRanges }, filters: [tcpProxyFilter(cluster, { cluster })] });
  }
  chains.push({ name: `${name}-http`, filterChainMatch: { applicationProtocols: HTTP_APPLICATION_PROTOCOLS }, filters: [hcm] });
  return {
    ...base,
    filterChains: chains,
    defaultFilterChain: passthroughChain(`${name}-passthrough`, scope.outboundTrafficPolicy),
    listenerFilters: [HTTP_INSPECTOR],
    listenerFiltersTimeout: '0.1s',
    continueOnListenerFiltersTimeout: true,
  };
}

/**
 * A TCP or TLS listener. With a virtual IP it serves one service: its VirtualService's `tls`
 * routes by SNI (or `tcp` routes by destination subnet), then the service's own cluster. Without
 * one (`0.0.0.0_<port>`), services share it: TLS ones by their hostname as SNI, a TCP one (the
 * first) for all other connections, and the passthrough chain for the rest.
 */
function tcpOutboundListener(
  name: string, address: string, port: number, members: readonly { service: MeshService; port: ServicePort }[],
  proxy: ProxyView, snapshot: MeshSnapshot, scope: OutboundScope,
): Listener {
  const shared = address === ANY_ADDRESS;
  const ctx = routeContext(proxy, snapshot, port, MESH_GATEWAYS);
  const source = { listenPort: port, gatewayNames: MESH_GATEWAYS, proxyLabels: proxy.labels, proxyNamespace: proxy.namespace };
  const routes: L4Route[] = [];
  let hasDefault = false;
  for (const { service, port: servicePort } of members) {
    const tls = servicePort.protocol === 'TLS' || servicePort.protocol === 'HTTPS';
    const vs = claimServices([service], scope.virtualServices).get(service.hostname);
    const subnet = service.address?.includes('/') === true ? { prefixRanges: [cidrRange(service.address)] } : {};
    const own: TcpTarget = { cluster: outboundClusterName(port, undefined, service.hostname) };
    if (tls) {
      routes.push(...(vs !== undefined ? tlsRoutes(vs, source, ctx) : []).map((r) => ({ ...r, match: { ...subnet, ...r.match } })));
      routes.push({ match: shared ? { ...subnet, serverNames: [service.hostname] } : subnet, target: own });
      continue;
    }
    const viaVs = vs !== undefined ? tcpRoutes(vs, source, ctx) : [];
    for (const route of viaVs.length > 0 && viaVs.some((r) => isEmptyMatch(r.match)) ? viaVs : [...viaVs, { match: {}, target: own }]) {
      const match = { ...subnet, ...route.match };
      // Only the first service without an address of its own may take every connection.
      if (isEmptyMatch(match)) {
        if (hasDefault) continue;
        hasDefault = true;
      }
      routes.push({ match, target: route.target });
    }
  }

  const chains: FilterChain[] = [];
  const seen = new Set<string>();
  for (const route of routes) {
    const key = JSON.stringify(route.match);
    if (seen.has(key)) continue;
    seen.add(key);
    const statPrefix = 'cluster' in route.target ? route.target.cluster : name;
    chains.push({
      name: `${name}-${chains.length}`,
      ...(isEmptyMatch(route.match) ? {} : { filterChainMatch: route.match }),
      filters: [tcpProxyFilter(statPrefix, route.target)],
    });
  }
  const usesSni = routes.some((r) => r.match.serverNames !== undefined);
  return {
    name,
    address: socketAddress(address, port),
    bindToPort: false,
    trafficDirection: 'OUTBOUND',
    filterChains: chains,
    ...(shared && !hasDefault ? { defaultFilterChain: passthroughChain(`${name}-passthrough`, scope.outboundTrafficPolicy) } : {}),
    ...(usesSni ? { listenerFilters: [TLS_INSPECTOR] } : {}),
  };
}

function isEmptyMatch(match: FilterChainMatch): boolean {
  return Object.keys(match).length === 0;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
