import type { Resource } from '../../config/index.ts';
import { hostCoveredBy, isWildcardHost } from '../../config/analysis/index.ts';
import { gatewayProtocol, type Server } from '../../config/kinds/networking/gateway.ts';
import type { Route, RouteConfiguration, VirtualHost } from '../../xds/envoy/index.ts';
import { labelsMatch, type ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { translateVirtualService } from './http-route-translation.ts';
import { routeContext } from './route-context.ts';
import { claimDomains } from './route-domains.ts';
import { MAX_DIRECT_RESPONSE_BODY_BYTES } from './route-outbound.ts';

/** A server of a Gateway that selects the proxy. */
export interface GatewayServer {
  readonly gateway: Resource<'Gateway'>;
  readonly server: Server;
}

/** `namespace/name`, as VirtualServices bind to gateways. */
export function gatewayName(gateway: Resource<'Gateway'>): `${string}/${string}` {
  return `${gateway.namespace}/${gateway.name}`;
}

/**
 * The servers of the Gateways selecting a gateway proxy, by the port the proxy listens on, in the
 * Gateways' order. Servers are grouped by `kind`: plain-text HTTP (HTTP, HTTP2, GRPC, GRPC-WEB) and
 * TCP (TCP, MONGO). Terminated or passed-through TLS (HTTPS, TLS) is not served yet.
 *
 * As in Istio, a server's port is the gateway Service's port when the proxy has a Service with
 * that port: the proxy listens on its targetPort (Istio's ingress gateway Service sends 80 to the
 * pod's 8080, so a server on 80 and one on 8080 share the listener on 8080).
 */
export function gatewayServersByPort(proxy: ProxyView, snapshot: MeshSnapshot, kind: 'http' | 'tcp'): Map<number, GatewayServer[]> {
  const out = new Map<number, GatewayServer[]>();
  const targetPorts = gatewayTargetPorts(proxy, snapshot);
  for (const gateway of snapshot.gatewaysFor(proxy.labels)) {
    for (const server of gateway.object.spec.servers ?? []) {
      if (serverKind(server) !== kind) continue;
      const port = targetPorts.get(server.port.number) ?? server.port.number;
      const list = out.get(port);
      if (list === undefined) out.set(port, [{ gateway, server }]);
      else list.push({ gateway, server });
    }
  }
  return out;
}

/** Service port → numeric targetPort, over the Services of the proxy's namespace that select it. */
function gatewayTargetPorts(proxy: ProxyView, snapshot: MeshSnapshot): Map<number, number> {
  const out = new Map<number, number>();
  for (const service of snapshot.services) {
    if (service.origin.kind !== 'Service' || service.namespace !== proxy.namespace) continue;
    const selector = service.origin.object.spec.selector;
    if (selector === undefined || Object.keys(selector).length === 0 || !labelsMatch(selector, proxy.labels)) continue;
    for (const port of service.origin.object.spec.ports ?? []) {
      if (typeof port.targetPort === 'number' && !out.has(port.port)) out.set(port.port, port.targetPort);
    }
  }
  return out;
}

function serverKind(server: Server): 'http' | 'tcp' | 'tls' | undefined {
  switch (gatewayProtocol(server.port.protocol)) {
    case 'HTTP': case 'HTTP2': case 'GRPC': case 'GRPC-WEB': return 'http';
    case 'TCP': case 'MONGO': return 'tcp';
    case 'HTTPS': case 'TLS': return 'tls';
    case undefined: return undefined;
  }
}

/**
 * The hosts a VirtualService of `vsNamespace` gets on a server: each of its hosts that a server
 * host admits (`*` and wildcards intersect: `*.example.com` on a `*` server stays
 * `*.example.com`, `*` on an `api.example.com` server becomes `api.example.com`). A server host
 * `namespace/host` admits only VirtualServices of that namespace (`.` being the Gateway's own,
 * `*` any).
 */
export function serverHostsFor(vsHosts: readonly string[], vsNamespace: string, server: Server, gatewayNamespace: string): string[] {
  const out: string[] = [];
  for (const serverHost of server.hosts) {
    const slash = serverHost.indexOf('/');
    const namespace = slash < 0 ? '*' : serverHost.slice(0, slash);
    const dnsName = (slash < 0 ? serverHost : serverHost.slice(slash + 1)).toLowerCase();
    if (namespace !== '*' && (namespace === '.' ? gatewayNamespace : namespace) !== vsNamespace) continue;
    for (const host of vsHosts) {
      const h = host.toLowerCase();
      const common = hostCoveredBy(h, dnsName) ? h : hostCoveredBy(dnsName, h) ? dnsName : undefined;
      if (common !== undefined && !out.includes(common)) out.push(common);
    }
  }
  return out;
}

interface GatewayHost {
  readonly virtualServices: Resource<'VirtualService'>[];
  requireTls: boolean;
}

/**
 * A gateway's route configuration `http.<port>`: a virtual host per host that a VirtualService
 * bound to one of the port's servers shares with the server, routing by every such
 * VirtualService in order (their routes merged). Nothing else: Envoy answers 404 for a host or
 * path no route takes. `tls.httpsRedirect` makes a host answer plain-text requests with a
 * redirect to https.
 */
export function gatewayRouteConfiguration(proxy: ProxyView, snapshot: MeshSnapshot, port: number): RouteConfiguration {
  const servers = gatewayServersByPort(proxy, snapshot, 'http').get(port) ?? [];
  const gatewayNames = new Set(servers.map((s) => gatewayName(s.gateway)));
  const ctx = routeContext(proxy, snapshot, port, gatewayNames);

  const hosts = new Map<string, GatewayHost>();
  for (const { gateway, server } of servers) {
    for (const vs of snapshot.virtualServices(gatewayName(gateway), proxy.namespace)) {
      for (const host of serverHostsFor(vs.object.spec.hosts ?? [], vs.namespace, server, gateway.namespace)) {
        let entry = hosts.get(host);
        if (entry === undefined) hosts.set(host, (entry = { virtualServices: [], requireTls: false }));
        if (!entry.virtualServices.includes(vs)) entry.virtualServices.push(vs);
        if (server.tls?.httpsRedirect === true) entry.requireTls = true;
      }
    }
  }

  const routesOf = new Map<Resource<'VirtualService'>, Route[]>();
  const claimed = new Set<string>();
  const virtualHosts: VirtualHost[] = [];
  for (const [host, entry] of [...hosts].sort(([a], [b]) => compareText(a, b))) {
    const routes = entry.virtualServices.flatMap((vs) => {
      let list = routesOf.get(vs);
      if (list === undefined) routesOf.set(vs, (list = translateVirtualService({ name: vs.name, namespace: vs.namespace, spec: vs.object.spec }, ctx)));
      return list;
    });
    if (routes.length === 0) continue;
    const domains = claimDomains(host === '*' || isWildcardHost(host) ? [host] : [host, `${host}:*`], claimed);
    if (domains.length === 0) continue;
    virtualHosts.push({
      name: `${host}:${port}`,
      domains,
      routes,
      ...(entry.requireTls ? { requireTls: 'ALL' as const } : {}),
      includeRequestAttemptCount: true,
    });
  }
  return { name: gatewayRouteName(port), virtualHosts, validateClusters: false, maxDirectResponseBodySizeBytes: MAX_DIRECT_RESPONSE_BODY_BYTES };
}

export function gatewayRouteName(port: number): string {
  return `http.${port}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
