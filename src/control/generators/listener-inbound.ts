import {
  NETWORK_FILTER, type Filter, type FilterChain, type FilterChainMatch, type HttpConnectionManager, type HttpFilter, type Listener, type RouteConfiguration,
} from '../../xds/envoy/index.ts';
import { portProtocol, type Protocol, type ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import type { EffectivePeerAuthentication, MtlsMode } from '../snapshot/peer-authentication-index.ts';
import { BLACK_HOLE_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER, inboundClusterName } from './cluster-name.ts';
import { inboundMtlsTransportSocket } from './inbound-tls.ts';
import type { PathNormalizationOptions } from './security/index.ts';
import {
  HTTP_APPLICATION_PROTOCOLS, HTTP_INSPECTOR, httpConnectionManager, inboundHttpFilters, ORIGINAL_DST, socketAddress, tcpProxyFilter, TLS_INSPECTOR,
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

/** Filters the security policies put in every inbound chain: authentication, then authorization. */
export interface InboundSecurityFilters {
  /** First in each HTTP chain, before the rate limits and the router. */
  readonly http: readonly HttpFilter[];
  /** Before tcp_proxy in each TCP chain (passthrough ones included). */
  readonly tcp: readonly Filter[];
}

/** How the workload's inbound connections are secured. */
export interface InboundSecurity {
  /** Without one, every port takes plaintext only, as under DISABLE. */
  readonly peerAuthentication?: EffectivePeerAuthentication;
  readonly filters?: InboundSecurityFilters;
  readonly pathNormalization?: PathNormalizationOptions;
}

export interface InboundChainOptions {
  /** DISABLE when not given. */
  readonly mode?: MtlsMode;
  readonly filters?: InboundSecurityFilters;
  readonly pathNormalization?: PathNormalizationOptions;
}

const NO_FILTERS: InboundSecurityFilters = { http: [], tcp: [] };
const PLAINTEXT: EffectivePeerAuthentication = { mode: 'DISABLE', portLevel: new Map() };

/**
 * What Istio clients offer in ALPN over mTLS: `istio-peer-exchange` and `istio` from the cluster's
 * TLS context, `istio-http/*` and `istio-h2` when an outbound HTTP filter rewrote them. They tell
 * a sidecar's mTLS from an application's own TLS, which on a PERMISSIVE port passes through.
 */
const MTLS_TCP_ALPNS: readonly string[] = ['istio-peer-exchange', 'istio'];
const MTLS_HTTP_ALPNS: readonly string[] = ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'];
const MTLS_ALPNS: readonly string[] = [...MTLS_TCP_ALPNS, ...MTLS_HTTP_ALPNS];

/** One filter chain of a port: what it takes and how. */
interface ChainVariant {
  readonly kind: 'http' | 'tcp';
  /** Terminates Istio mTLS; otherwise the bytes pass as they arrive (plaintext, or the application's own TLS). */
  readonly mtls: boolean;
  readonly transportProtocol?: 'tls' | 'raw_buffer';
  readonly applicationProtocols?: readonly string[];
}

/**
 * Istio's filter chain match options by the port's protocol (`auto`: sniffed) and mTLS mode. A
 * connection that matches none of its port's chains is closed: Envoy does not fall back to chains
 * without a port, so plaintext to a STRICT port is reset. DISABLE chains match any transport.
 */
const VARIANTS: Readonly<Record<'http' | 'tcp' | 'auto', Readonly<Record<MtlsMode, readonly ChainVariant[]>>>> = {
  http: {
    STRICT: [{ kind: 'http', mtls: true, transportProtocol: 'tls' }],
    PERMISSIVE: [
      { kind: 'http', mtls: true, transportProtocol: 'tls', applicationProtocols: MTLS_ALPNS },
      { kind: 'http', mtls: false, transportProtocol: 'raw_buffer' },
    ],
    DISABLE: [{ kind: 'http', mtls: false }],
  },
  tcp: {
    STRICT: [{ kind: 'tcp', mtls: true, transportProtocol: 'tls' }],
    PERMISSIVE: [
      { kind: 'tcp', mtls: true, transportProtocol: 'tls', applicationProtocols: MTLS_ALPNS },
      { kind: 'tcp', mtls: false, transportProtocol: 'tls' },
      { kind: 'tcp', mtls: false, transportProtocol: 'raw_buffer' },
    ],
    DISABLE: [{ kind: 'tcp', mtls: false }],
  },
  auto: {
    STRICT: [
      { kind: 'http', mtls: true, transportProtocol: 'tls', applicationProtocols: MTLS_HTTP_ALPNS },
      { kind: 'tcp', mtls: true, transportProtocol: 'tls' },
    ],
    PERMISSIVE: [
      { kind: 'http', mtls: true, transportProtocol: 'tls', applicationProtocols: MTLS_HTTP_ALPNS },
      { kind: 'http', mtls: false, transportProtocol: 'raw_buffer', applicationProtocols: HTTP_APPLICATION_PROTOCOLS },
      { kind: 'tcp', mtls: true, transportProtocol: 'tls', applicationProtocols: MTLS_TCP_ALPNS },
      { kind: 'tcp', mtls: false, transportProtocol: 'tls' },
      { kind: 'tcp', mtls: false, transportProtocol: 'raw_buffer' },
    ],
    DISABLE: [
      { kind: 'http', mtls: false, applicationProtocols: HTTP_APPLICATION_PROTOCOLS },
      { kind: 'tcp', mtls: false },
    ],
  },
};

/**
 * `virtualInbound`: every connection iptables redirected to 15006, its original destination
 * restored by the original_dst listener filter (the listener does not hand connections over to
 * other listeners, which are the outbound ones), then the filter chains of each workload port by
 * its PeerAuthentication mode, and InboundPassthroughCluster for ports the mesh does not know, by
 * the workload's mode (and the modes of portLevelMtls ports that are none of the workload's).
 */
export function virtualInboundListener(proxy: ProxyView, snapshot: MeshSnapshot, security: InboundSecurity = {}): Listener {
  const ports = inboundPorts(proxy, snapshot);
  const peer = security.peerAuthentication ?? PLAINTEXT;
  const filters = security.filters ?? NO_FILTERS;
  const policies = localRateLimitFilters(proxy, snapshot, 'inbound');
  const declared = new Set(ports.map((p) => containerPort(proxy, p.port)));
  const undeclared = [...peer.portLevel].filter(([port]) => !declared.has(port) && !PROXY_PORTS.has(port)).sort(([a], [b]) => a - b);
  const filterChains: FilterChain[] = [
    { name: 'virtualInbound-blackhole', filterChainMatch: { destinationPort: VIRTUAL_INBOUND_PORT }, filters: [tcpProxyFilter(BLACK_HOLE_CLUSTER, { cluster: BLACK_HOLE_CLUSTER })] },
    ...ports.flatMap((port) => inboundFilterChainsForPort(port, policies, inboundChainOptions(proxy, security, port))),
    ...undeclared.flatMap(([port, mode]) => passthroughChains(`virtualInbound-catchall-${port}`, mode, filters, port)),
    ...passthroughChains('virtualInbound-catchall', peer.mode, filters),
  ];
  const tls = filterChains.some((c) => c.filterChainMatch?.transportProtocol === 'tls');
  const sniffing = ports.some((p) => p.protocol === 'Unsupported');
  return {
    name: 'virtualInbound',
    address: socketAddress('0.0.0.0', VIRTUAL_INBOUND_PORT),
    filterChains,
    listenerFilters: [ORIGINAL_DST, ...(tls ? [TLS_INSPECTOR] : []), ...(sniffing ? [HTTP_INSPECTOR] : [])],
    ...inspectionTimeout(tls, sniffing),
    trafficDirection: 'INBOUND',
  };
}

/** The workload (container) port behind a port the proxy serves: local mode moves ports with hostPorts. */
function containerPort(proxy: ProxyView, port: number): number {
  return proxy.ports.find((p) => p.hostPort === port)?.port ?? port;
}

/** How one port's chains are secured: its portLevelMtls mode (by container port), else the workload's; DISABLE without a policy. */
export function inboundChainOptions(proxy: ProxyView, security: InboundSecurity, port: InboundPort): InboundChainOptions {
  const peer = security.peerAuthentication ?? PLAINTEXT;
  return {
    mode: peer.portLevel.get(containerPort(proxy, port.port)) ?? peer.mode,
    ...(security.filters !== undefined && { filters: security.filters }),
    ...(security.pathNormalization !== undefined && { pathNormalization: security.pathNormalization }),
  };
}

/**
 * How long the listener filters may wait for a connection's first bytes. Sniffing a port's protocol
 * gives up after 0.1 s and takes the connection as plaintext TCP (a server-first protocol sends
 * nothing). Telling mutual TLS from plaintext alone waits as long as it takes (Istio's default
 * protocolDetectionTimeout, 0s): a timeout there would drop mTLS connections of a busy proxy,
 * which no chain of a STRICT port takes as plaintext.
 */
export function inspectionTimeout(tls: boolean, sniffing: boolean): { listenerFiltersTimeout?: string; continueOnListenerFiltersTimeout?: boolean } {
  if (sniffing) return { listenerFiltersTimeout: '0.1s', continueOnListenerFiltersTimeout: true };
  return tls ? { listenerFiltersTimeout: '0s' } : {};
}

/**
 * The filter chains of one workload port, each matching its destination port, by the port's mTLS
 * mode (see VARIANTS): HTTP through a connection manager with the route `inbound|<port>||`, other
 * protocols as TCP to the inbound cluster; a port of unknown protocol gets both, HTTP chosen when
 * http_inspector sees HTTP (or the mTLS ALPN says so).
 */
export function inboundFilterChainsForPort(port: InboundPort, policies: readonly HttpFilter[] = [], options: InboundChainOptions = {}): FilterChain[] {
  const filters = options.filters ?? NO_FILTERS;
  const cluster = inboundClusterName(port.port);
  const protocol = port.protocol === 'Unsupported' ? 'auto' : isHttpOrSniffed(port.protocol) ? 'http' : 'tcp';
  const http = inboundHttpConnectionManager(port, [...filters.http, ...policies], options.pathNormalization);
  const tcp = [...filters.tcp, tcpProxyFilter(cluster, { cluster })];
  return variantChains(VARIANTS[protocol][options.mode ?? 'DISABLE'], `0.0.0.0_${port.port}`, '_', { destinationPort: port.port }, (kind) => (kind === 'http' ? [http] : tcp));
}

/** Connections to ports the workload does not declare, passed through to the application's address. */
function passthroughChains(prefix: string, mode: MtlsMode, filters: InboundSecurityFilters, destinationPort?: number): FilterChain[] {
  const tcp = [...filters.tcp, tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, { cluster: INBOUND_PASSTHROUGH_CLUSTER })];
  return variantChains(VARIANTS.tcp[mode], prefix, '-', destinationPort !== undefined ? { destinationPort } : {}, () => tcp);
}

/** Named `<prefix><sep>[mtls|tls<sep>]<http|tcp>`, unique in the listener. */
function variantChains(
  variants: readonly ChainVariant[], prefix: string, separator: string, base: FilterChainMatch, filters: (kind: ChainVariant['kind']) => readonly Filter[],
): FilterChain[] {
  return variants.map((variant) => {
    const transport = variant.mtls ? `mtls${separator}` : variant.transportProtocol === 'tls' ? `tls${separator}` : '';
    const match: FilterChainMatch = {
      ...base,
      ...(variant.transportProtocol !== undefined && { transportProtocol: variant.transportProtocol }),
      ...(variant.applicationProtocols !== undefined && { applicationProtocols: variant.applicationProtocols }),
    };
    return {
      name: `${prefix}${separator}${transport}${variant.kind}`,
      ...(Object.keys(match).length > 0 && { filterChainMatch: match }),
      filters: filters(variant.kind),
      ...(variant.mtls && { transportSocket: inboundMtlsTransportSocket(variant.kind) }),
    };
  });
}

/**
 * As Istio's inbound sidecar: the caller's certificate (subject, URI and DNS SANs, hash, with this
 * proxy's own URI as By) is appended to x-forwarded-client-cert for the application. Envoy removes
 * the header from connections without a client certificate, so plaintext chains get it too.
 */
function inboundHttpConnectionManager(port: InboundPort, httpFilters: readonly HttpFilter[], pathNormalization: PathNormalizationOptions | undefined): Filter {
  const config: HttpConnectionManager = {
    ...httpConnectionManager({
      statPrefix: `inbound_0.0.0.0_${port.port}`,
      route: { routeConfig: inboundRouteConfiguration(port) },
      httpFilters: inboundHttpFilters(httpFilters),
      useRemoteAddress: false,
      ...(pathNormalization !== undefined && { pathNormalization }),
    }),
    forwardClientCertDetails: 'APPEND_FORWARD',
    setCurrentClientCertDetails: { subject: true, dns: true, uri: true },
  };
  return { name: NETWORK_FILTER.httpConnectionManager, typedConfig: config };
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
