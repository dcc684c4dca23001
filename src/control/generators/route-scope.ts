import type { Resource } from '../../config/index.ts';
import { hostsOverlap } from '../../config/analysis/index.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { egressServices, type ImportedService } from './egress-services.ts';

/**
 * What a sidecar's outbound listeners and routes are built from: the services it imports, the
 * VirtualServices bound to the mesh that it sees, and what happens to traffic for anything else.
 */
export interface OutboundScope {
  readonly services: readonly ImportedService[];
  /** In Istio's order; the first to name a host routes it. */
  readonly virtualServices: readonly Resource<'VirtualService'>[];
  /** ALLOW_ANY passes unknown destinations through; REGISTRY_ONLY refuses them. */
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
}

/**
 * The scope of a proxy: services and VirtualServices exported to its namespace and, for a sidecar
 * with a Sidecar resource, only those its egress hosts import (a VirtualService is imported when
 * one of its hosts falls within an egress host of its namespace); the Sidecar's
 * outboundTrafficPolicy overrides the mesh's.
 */
export function outboundScope(proxy: ProxyView, snapshot: MeshSnapshot): OutboundScope {
  const sidecar = proxy.kind === 'sidecar' ? snapshot.sidecarFor(proxy.namespace, proxy.labels) : undefined;
  const egressHosts = (sidecar?.object.spec.egress ?? []).flatMap((l) => l.hosts);
  const bound = snapshot.virtualServices('mesh', proxy.namespace);
  const virtualServices = egressHosts.length === 0 ? bound : bound.filter((vs) => egressHosts.some((h) => importsVirtualService(h, vs, proxy.namespace)));
  return {
    services: egressServices(proxy, snapshot),
    virtualServices,
    outboundTrafficPolicy: sidecar?.object.spec.outboundTrafficPolicy?.mode ?? snapshot.mesh.outboundTrafficPolicy,
  };
}

function importsVirtualService(egressHost: string, vs: Resource<'VirtualService'>, proxyNamespace: string): boolean {
  const slash = egressHost.indexOf('/');
  const namespace = egressHost.slice(0, slash);
  const dnsName = egressHost.slice(slash + 1);
  if (namespace.startsWith('~')) return false;
  const namespaceMatches = namespace === '*' || (namespace === '.' ? vs.namespace === proxyNamespace : vs.namespace === namespace);
  return namespaceMatches && (vs.object.spec.hosts ?? []).some((h) => dnsName === '*' || hostsOverlap(dnsName, h));
}
