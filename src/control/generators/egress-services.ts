import { hostsOverlap } from '../../config/analysis/index.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshService, MeshSnapshot, ServicePort } from '../snapshot/index.ts';

/** A service a proxy may send to, with the ports it imports. */
export interface ImportedService {
  readonly service: MeshService;
  readonly ports: readonly ServicePort[];
}

/**
 * The services whose clusters a proxy receives, in hostname order. Every service exported to the
 * proxy's namespace (exportTo); for a sidecar, only those its Sidecar resource imports: an egress
 * host `namespace/dnsName` imports the services of that namespace (`*` any, `.` the proxy's own,
 * `~` none) whose hostname matches dnsName (`*`, a `*.` wildcard, or a name). An egress listener
 * with a port imports only that port of each service; the listener without one, every port. A
 * namespace written `~ns` excludes what it names from its listener. Gateways are not scoped by
 * Sidecar resources, as in Istio.
 */
export function egressServices(proxy: ProxyView, snapshot: MeshSnapshot): ImportedService[] {
  const visible = snapshot.servicesVisibleTo(proxy.namespace);
  const sidecar = proxy.kind === 'sidecar' ? snapshot.sidecarFor(proxy.namespace, proxy.labels) : undefined;
  const egress = sidecar?.object.spec.egress ?? [];
  if (egress.length === 0) return visible.map((service) => ({ service, ports: service.ports }));
  const out: ImportedService[] = [];
  for (const service of visible) {
    const ports = new Set<number>();
    for (const listener of egress) {
      if (!listener.hosts.some((h) => hostImports(h, service, proxy.namespace)) || listener.hosts.some((h) => hostExcludes(h, service))) continue;
      const number = listener.port?.number;
      for (const port of service.ports) if (number === undefined || number === 0 || port.port === number) ports.add(port.port);
    }
    if (ports.size > 0) out.push({ service, ports: service.ports.filter((p) => ports.has(p.port)) });
  }
  return out;
}

function splitHost(egressHost: string): { namespace: string; dnsName: string } {
  const slash = egressHost.indexOf('/');
  return { namespace: egressHost.slice(0, slash), dnsName: egressHost.slice(slash + 1) };
}

function hostImports(egressHost: string, service: MeshService, proxyNamespace: string): boolean {
  const { namespace, dnsName } = splitHost(egressHost);
  if (namespace.startsWith('~')) return false;
  const namespaceMatches = namespace === '*' || (namespace === '.' ? service.namespace === proxyNamespace : service.namespace === namespace);
  return namespaceMatches && (dnsName === '*' || hostsOverlap(dnsName, service.hostname));
}

function hostExcludes(egressHost: string, service: MeshService): boolean {
  const { namespace, dnsName } = splitHost(egressHost);
  if (!namespace.startsWith('~') || namespace === '~') return false;
  return service.namespace === namespace.slice(1) && (dnsName === '*' || hostsOverlap(dnsName, service.hostname));
}
