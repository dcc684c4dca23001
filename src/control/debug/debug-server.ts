import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatDiagnostic } from '../../config/index.ts';
import { TypeUrl, type ProtoJson } from '../../xds/index.ts';
import type { ProxyStatus, SentResource, TypeStatus } from '../ads/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import type { ConfigState } from '../sources/index.ts';

/** The proxy's admin port (Envoy's and Istio's 15000). */
const PROXY_ADMIN_PORT = 15000;

/** What the debug API reads; each is a view, never a copy it could change. */
export interface DebugSources {
  proxies(): readonly ProxyStatus[];
  resources(proxyId: string, typeUrl: TypeUrl): readonly SentResource[] | undefined;
  snapshot(): MeshSnapshot;
  config(): ConfigState;
  /** Names this control plane in proxy-status (istioctl's ISTIOD column). */
  readonly controlPlaneId: string;
  readonly clusterId: string;
}

const TYPE_COLUMNS = ['CDS', 'LDS', 'EDS', 'RDS', 'SDS'] as const;

/**
 * The control plane's read-only debug API, JSON over HTTP (Istio's istiod offers the same on its
 * debug port): /debug/syncz, /debug/config_dump?proxyID=, /debug/adminz?proxyID=, /debug/registryz, /debug/configz, /ready.
 */
export class DebugServer {
  readonly #sources: DebugSources;
  readonly #server: Server;

  constructor(sources: DebugSources) {
    this.#sources = sources;
    this.#server = createServer((request, response) => this.#handle(request, response));
  }

  /** Listens on `host:port` (port 0: the OS picks) and returns the bound port. */
  listen(address: string): Promise<number> {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(colon + 1));
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve((this.#server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://debug');
    const send = (status: number, body: unknown) => {
      const text = typeof body === 'string' ? `${body}\n` : `${JSON.stringify(body, null, 2)}\n`;
      response.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json' });
      response.end(text);
    };
    if (request.method !== 'GET') return send(405, 'the debug API is read-only: use GET');
    switch (url.pathname) {
      case '/ready':
        return send(200, 'ready');
      case '/debug/syncz':
        return send(200, this.syncStatus());
      case '/debug/config_dump': {
        const proxyId = url.searchParams.get('proxyID') ?? '';
        const found = this.#findProxy(proxyId);
        if (typeof found === 'string') return send(404, found);
        return send(200, this.configDump(found.proxyId));
      }
      case '/debug/adminz': {
        // Where a proxy's admin port is, as istioctl assumes it: port 15000 on the proxy's own address.
        const found = this.#findProxy(url.searchParams.get('proxyID') ?? '');
        if (typeof found === 'string') return send(404, found);
        const address = found.proxy.ipAddresses[0];
        if (address === undefined) return send(404, `proxy "${found.proxyId}" announced no address`);
        return send(200, { proxyId: found.proxyId, adminAddress: `${address.includes(':') ? `[${address}]` : address}:${PROXY_ADMIN_PORT}` });
      }
      case '/debug/registryz':
        return send(200, this.registry());
      case '/debug/configz':
        return send(200, this.configuration());
      default:
        return send(404, `no such debug endpoint: ${url.pathname} (try /debug/syncz, /debug/config_dump?proxyID=..., /debug/adminz?proxyID=..., /debug/registryz, /debug/configz)`);
    }
  }

  /** One row per connected proxy (its newest stream), as proxy-status shows them. */
  syncStatus(): unknown[] {
    const newest = new Map<string, ProxyStatus>();
    for (const status of this.#sources.proxies()) newest.set(status.proxyId, status);
    return [...newest.values()].map((status) => ({
      name: status.proxyId,
      id: status.proxyId,
      kind: status.proxy.kind,
      cluster: this.#sources.clusterId,
      version: status.proxy.version,
      controlPlane: this.#sources.controlPlaneId,
      mode: status.mode,
      connectedAt: new Date(status.connectedAt).toISOString(),
      types: Object.fromEntries(TYPE_COLUMNS.map((column) => [column, typeCell(status.types.find((t) => t.type === column))])),
    }));
  }

  /** Envoy's admin ConfigDump shape, built from what was last sent to the proxy. */
  configDump(proxyId: string): { configs: ProtoJson[] } {
    const sent = (typeUrl: TypeUrl) => this.#sources.resources(proxyId, typeUrl) ?? [];
    const typed = (typeUrl: TypeUrl, r: SentResource) => ({ '@type': typeUrl, ...r.resource });
    return {
      configs: [
        { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', dynamicActiveClusters: sent(TypeUrl.Cluster).map((r) => ({ versionInfo: r.version, cluster: typed(TypeUrl.Cluster, r) })) },
        { '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump', dynamicListeners: sent(TypeUrl.Listener).map((r) => ({ name: r.name, activeState: { versionInfo: r.version, listener: typed(TypeUrl.Listener, r) } })) },
        { '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump', dynamicRouteConfigs: sent(TypeUrl.RouteConfiguration).map((r) => ({ versionInfo: r.version, routeConfig: typed(TypeUrl.RouteConfiguration, r) })) },
        { '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump', dynamicEndpointConfigs: sent(TypeUrl.ClusterLoadAssignment).map((r) => ({ versionInfo: r.version, endpointConfig: typed(TypeUrl.ClusterLoadAssignment, r) })) },
      ],
    };
  }

  /** Every service with its ports and endpoints. */
  registry(): unknown[] {
    const snapshot = this.#sources.snapshot();
    return snapshot.services.map((service) => ({
      hostname: service.hostname,
      namespace: service.namespace,
      address: service.address ?? null,
      resolution: service.resolution,
      meshExternal: service.meshExternal,
      ports: service.ports.map((port) => ({
        ...port,
        endpoints: snapshot.endpoints(service, port.port).map((e) => ({ address: e.address, port: e.port, labels: e.labels, healthy: e.healthy, tlsMode: e.tlsMode, serviceAccount: e.serviceAccount, locality: e.locality })),
      })),
    }));
  }

  /** The configuration in effect and why anything was refused. */
  configuration(): unknown {
    const config = this.#sources.config();
    return {
      revision: config.revision,
      resources: config.resources.map((r) => ({ kind: r.kind, apiVersion: r.apiVersion, namespace: r.namespace, name: r.name, origin: r.origin, object: r.object })),
      diagnostics: config.diagnostics.map((d) => ({ ...d, text: formatDiagnostic(d) })),
    };
  }

  /** A proxy by its id (`<pod>.<namespace>`), or the only one whose id starts with the given text. */
  #findProxy(proxyId: string): ProxyStatus | string {
    const proxies = this.#sources.proxies();
    const exact = proxies.filter((p) => p.proxyId === proxyId);
    if (exact.length > 0) return exact[exact.length - 1]!;
    const partial = [...new Map(proxies.filter((p) => p.proxyId.startsWith(proxyId)).map((p) => [p.proxyId, p])).values()];
    if (proxyId !== '' && partial.length === 1) return partial[0]!;
    const connected = [...new Set(proxies.map((p) => p.proxyId))].sort();
    return `proxy "${proxyId}" is not connected${connected.length > 0 ? `; connected: ${connected.join(', ')}` : '; no proxy is connected'}`;
  }
}

function typeCell(status: TypeStatus | undefined): Record<string, unknown> {
  if (status === undefined) return { status: 'NOT SENT' };
  return {
    status: status.state,
    ...(status.lastSent !== undefined ? { sentVersion: status.lastSent.version } : {}),
    ...(status.ackedVersion !== undefined ? { ackedVersion: status.ackedVersion } : {}),
    ...(status.lastNack !== undefined ? { error: status.lastNack.message } : {}),
    ...(status.notFound.length > 0 ? { notFound: status.notFound } : {}),
  };
}
