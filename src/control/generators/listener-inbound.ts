import type { FilterChain, HttpFilter, Listener, RouteConfiguration } from '../../xds/envoy/index.ts';
import { portProtocol, type Protocol, type ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { BLACK_HOLE_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER, inboundClusterName } from './cluster-name.ts';
import {
  HTTP_APPLICATION_PROTOCOLS, HTTP_INSPECTOR, httpConnectionManagerFilter, inboundHttpFilters, ORIGINAL_DST, socketAddress, tcpProxyFilter,
} from './listener-filters.ts';
import { localRateLimitFilters } from './local-rate-limit.ts';
import { isHttpOrSniffed } from './route-outbound.ts';

/** Where iptables sends a sidecar's inbound connections. */
export const VIRTUAL_INBOUND_PORT = 15006;

/** The proxy's own ports, which never carry application traffic. */
const PROXY_PORTS = new Set([15000, 15001, 15004, 15006, 15008, 15020, 15021, 15053, 15090]);

/** A port of the workload that receives traffic through the sidecar. */
export interface InboundPort {
  readonly port: number;
  readonly protocol: Protocol;
  /** The service whose port sends here, which names the route in traces. */
  readonly serviceHostname?: string;
}

/**
 * The workload's ports: those it declares and those services send to (a service port whose
 * endpoint is this proxy). The protocol is the service port's when a service sends there, else
 * the workload port's own (by its name).
 */
export function inboundPorts(proxy: ProxyView, snapshot: MeshSnapshot): InboundPort[] {
  const byPort = new Map<number, InboundPort>();
  const addresses = new Set(proxy.ipAddresses);
  const mine = ownEndpoint(proxy);
  for (const service of snapshot.services) {
    if (service.meshExternal) continue;
    for (const servicePort of service.ports) {
      for (const endpoint of snapshot.endpoints(service, servicePort.port)) {
        if (!addresses.has(endpoint.address) || !mine(endpoint.port) || byPort.has(endpoint.port)) continue;
        byPort.set(endpoint.port, { port: endpoint.port, protocol: servicePort.protocol, serviceHostname: service.hostname });
      }
    }
  }
  for (const workloadPort of proxy.ports) {
    const port = workloadPort.hostPort ?? workloadPort.port;
    if (!byPort.has(port)) byPort.set(port, { port, protocol: portProtocol(workloadPort) });
  }
  return [...byPort.values()].filter((p) => !PROXY_PORTS.has(p.port) && p.protocol !== 'UDP').sort((a, b) => a.port - b.port);
}

/**
 * Whether an endpoint port on the proxy's address is the proxy's own. A proxy whose ports have
 * hostPorts shares its address with others (local mode on one loopback address): only its
 * hostPorts are its own. Otherwise every port of its address is.
 */
export function ownEndpoint(proxy: ProxyView): (port: number) => boolean {
  const hostPorts = new Set(proxy.ports.flatMap((p) => (p.hostPort !== undefined ? [p.hostPort] : [])));
  return hostPorts.size === 0 ? () => true : (port) => hostPorts.has(port);
}

/**
 * `virtualInbound`: every connection iptables redirected to 15006, its original destination
 * restored by the original_dst listener filter (the listener does not hand connections over to
 * other listeners, which are the outbound ones), then a filter chain per workload port, and
 * InboundPassthroughCluster for ports the mesh does not know.
 */
export function virtualInboundListener(proxy: ProxyView, snapshot: MeshSnapshot): Listener {
  const ports = inboundPorts(proxy, snapshot);
  const sniffing = ports.some((p) => p.protocol === 'Unsupported');
  const policies = localRateLimitFilters(proxy, snapshot, 'inbound');
  return {
    name: 'virtualInbound',
    address: socketAddress('0.0.0.0', VIRTUAL_INBOUND_PORT),
    filterChains: [
      { name: 'virtualInbound-blackhole', filterChainMatch: { destinationPort: VIRTUAL_INBOUND_PORT }, filters: [tcpProxyFilter(BLACK_HOLE_CLUSTER, { cluster: BLACK_HOLE_CLUSTER })] },
      ...ports.flatMap((port) => inboundFilterChainsForPort(port, policies)),
      { name: 'virtualInbound-catchall-tcp', filters: [tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, { cluster: INBOUND_PASSTHROUGH_CLUSTER })] },
    ],
    listenerFilters: sniffing ? [ORIGINAL_DST, HTTP_INSPECTOR] : [ORIGINAL_DST],
    ...(sniffing ? { listenerFiltersTimeout: '0.1s', continueOnListenerFiltersTimeout: true } : {}),
    trafficDirection: 'INBOUND',
  };
}

/**
 * The filter chains of one workload port, each matching its destination port: HTTP through a
 * connection manager with the route `inbound|<port>||`, other protocols as TCP to the inbound
 * cluster; a port of unknown protocol gets both, HTTP chosen when http_inspector sees HTTP. This
 * is where variants per transport (mTLS, plain text) are added.
 */
export function inboundFilterChainsForPort(port: InboundPort, policies: readonly HttpFilter[] = []): FilterChain[] {
  const cluster = inboundClusterName(port.port);
  const http: FilterChain = {
    name: `0.0.0.0_${port.port}_http`,
    filterChainMatch: { destinationPort: port.port, ...(port.protocol === 'Unsupported' ? { applicationProtocols: HTTP_APPLICATION_PROTOCOLS } : {}) },
    filters: [httpConnectionManagerFilter({
      statPrefix: `inbound_0.0.0.0_${port.port}`,
      route: { routeConfig: inboundRouteConfiguration(port) },
      httpFilters: inboundHttpFilters(policies),
      useRemoteAddress: false,
    })],
  };
  const tcp: FilterChain = {
    name: `0.0.0.0_${port.port}_tcp`,
    filterChainMatch: { destinationPort: port.port },
    filters: [tcpProxyFilter(cluster, { cluster })],
  };
  if (port.protocol === 'Unsupported') return [http, tcp];
  return isHttpOrSniffed(port.protocol) ? [http] : [tcp];
}

/**
 * `inbound|<port>||`: everything to the application's port, with no timeout (the caller's
 * sidecar enforces the route's), retrying only requests that never reached the application.
 */
export function inboundRouteConfiguration(port: InboundPort): RouteConfiguration {
  const cluster = inboundClusterName(port.port);
  return {
    name: cluster,
    virtualHosts: [{
      name: `inbound|http|${port.port}`,
      domains: ['*'],
      routes: [{
        name: 'default',
        match: { prefix: '/' },
        route: {
          cluster,
          timeout: '0s',
          maxStreamDuration: { maxStreamDuration: '0s', grpcTimeoutHeaderMax: '0s' },
          retryPolicy: { retryOn: 'reset-before-request', numRetries: 2 },
        },
        decorator: { operation: port.serviceHostname !== undefined ? `${port.serviceHostname}:${port.port}/*` : cluster },
      }],
    }],
    validateClusters: false,
  };
}
