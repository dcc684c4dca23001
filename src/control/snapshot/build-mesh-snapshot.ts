import { ofKind, type AnyResource, type Resource } from '../../config/index.ts';
import { resolveHost as resolveHostName, serviceHost, serviceHostNamespace } from '../../config/analysis/index.ts';
import { DEFAULT_MESH_CONFIG, labelsMatch, type MeshConfig, type Workload } from '../model/index.ts';
import { buildDestinationRuleIndex } from './destination-rule-index.ts';
import { isExportedTo } from './export-to.ts';
import { labelsKey } from './labels-key.ts';
import { buildLocalRateLimitIndex } from './local-rate-limit-index.ts';
import { buildPeerAuthenticationIndex } from './peer-authentication-index.ts';
import { buildSecurityPolicyIndex } from './security-policy-index.ts';
import type { MeshEndpoint, MeshService, MeshSnapshot } from './mesh-snapshot.ts';
import { buildServiceRegistry, kubernetesServiceHostname } from './service-registry.ts';
import { buildVirtualServiceIndex } from './virtual-service-index.ts';

export interface MeshSnapshotInput {
  readonly version: number;
  readonly resources: readonly AnyResource[];
  /** Every running workload: proxies that announced themselves, Pods, WorkloadEntries. */
  readonly workloads: readonly Workload[];
  readonly mesh?: MeshConfig;
  /** The key sets of `jwksUri`s fetched so far (JwksResolver.get); read once per URI, when the snapshot is built. */
  readonly jwks?: (uri: string) => string | undefined;
}

/**
 * Indexes configuration and registry once, so that generators look things up by map access. The
 * snapshot never changes after it is built; answers computed on first use (subset filters, lookups
 * by labels) are cached inside it.
 */
export function buildMeshSnapshot(input: MeshSnapshotInput): MeshSnapshot {
  const mesh = input.mesh ?? DEFAULT_MESH_CONFIG;
  const resources = Object.freeze([...input.resources]);
  const workloads = Object.freeze([...input.workloads]);

  const resolveHost = (host: string, namespace: string): string => {
    const resolved = resolveHostName(host, namespace);
    // A short name came back as a Service FQDN; give it the mesh's own cluster domain.
    return resolved === serviceHost(host, namespace) ? kubernetesServiceHostname(host, namespace, mesh.clusterDomain) : resolved;
  };

  const registry = buildServiceRegistry(resources, workloads, mesh);
  const visibleCache = new Map<string, readonly MeshService[]>();
  const subsetCache = new Map<string, readonly MeshEndpoint[]>();

  const virtualServices = buildVirtualServiceIndex(ofKind(resources, 'VirtualService'), resolveHost);
  const destinationRules = buildDestinationRuleIndex(ofKind(resources, 'DestinationRule'), resolveHost, mesh.rootNamespace);

  const gateways = ofKind(resources, 'Gateway').sort((a, b) => compareText(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  const gatewayCache = new Map<string, readonly Resource<'Gateway'>[]>();

  const sidecars = sidecarsByNamespace(ofKind(resources, 'Sidecar'));
  const localRateLimits = buildLocalRateLimitIndex(ofKind(resources, 'LocalRateLimit'), mesh.rootNamespace);
  const peerAuthentications = buildPeerAuthenticationIndex(ofKind(resources, 'PeerAuthentication'), mesh.rootNamespace);
  const securityPolicies = buildSecurityPolicyIndex(resources, mesh.rootNamespace);
  const jwks = jwksOf(ofKind(resources, 'RequestAuthentication'), input.jwks);

  const snapshot: MeshSnapshot = {
    version: input.version,
    mesh,
    resources,
    workloads,
    services: registry.services,
    service: (hostname) => registry.byHostname.get(hostname.toLowerCase()),
    servicesVisibleTo(namespace) {
      let out = visibleCache.get(namespace);
      if (out === undefined) {
        out = Object.freeze(registry.services.filter((s) => isExportedTo(s.exportTo, namespace)));
        visibleCache.set(namespace, out);
      }
      return out;
    },
    endpoints(service, port, subsetLabels) {
      const all = registry.endpoints.get(service.hostname)?.get(port) ?? [];
      if (subsetLabels === undefined || Object.keys(subsetLabels).length === 0) return all;
      const key = `${service.hostname}\n${port}\n${labelsKey(subsetLabels)}`;
      let out = subsetCache.get(key);
      if (out === undefined) {
        out = Object.freeze(all.filter((e) => labelsMatch(subsetLabels, e.labels)));
        subsetCache.set(key, out);
      }
      return out;
    },
    virtualServices: (binding, namespace) => virtualServices.forBinding(binding, namespace),
    destinationRule(hostname, namespace, workloadLabels = {}) {
      const host = hostname.toLowerCase();
      const serviceNamespace = registry.byHostname.get(host)?.namespace ?? serviceHostNamespace(host);
      return destinationRules.lookup(host, namespace, serviceNamespace, workloadLabels);
    },
    gatewaysFor(labels) {
      const key = labelsKey(labels);
      let out = gatewayCache.get(key);
      if (out === undefined) {
        out = Object.freeze(gateways.filter((g) => labelsMatch(g.object.spec.selector, labels)));
        gatewayCache.set(key, out);
      }
      return out;
    },
    sidecarFor(namespace, labels) {
      const own = sidecars.get(namespace);
      const selecting = own?.selecting.find((s) => labelsMatch(s.object.spec.workloadSelector?.labels, labels));
      return selecting ?? own?.fallback ?? sidecars.get(mesh.rootNamespace)?.fallback;
    },
    localRateLimitFor: (namespace, labels) => localRateLimits.lookup(namespace, labels),
    peerAuthenticationFor: (namespace, labels) => peerAuthentications.effective(namespace, labels),
    authorizationPoliciesFor: (namespace, labels) => securityPolicies.authorizationPolicies(namespace, labels),
    requestAuthenticationsFor: (namespace, labels) => securityPolicies.requestAuthentications(namespace, labels),
    jwks: (uri) => jwks.get(uri),
    resolveHost,
  };
  return Object.freeze(snapshot);
}

/** The key sets of every `jwksUri` the RequestAuthentications name, as known now: the snapshot must not change later. */
function jwksOf(requestAuthentications: readonly Resource<'RequestAuthentication'>[], lookup: ((uri: string) => string | undefined) | undefined): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  if (lookup === undefined) return out;
  for (const uri of jwksUris(requestAuthentications)) {
    const keys = lookup(uri);
    if (keys !== undefined) out.set(uri, keys);
  }
  return out;
}

/** The `jwksUri`s of rules without inline keys. */
export function jwksUris(requestAuthentications: readonly Resource<'RequestAuthentication'>[]): Set<string> {
  const uris = new Set<string>();
  for (const ra of requestAuthentications) {
    for (const rule of ra.object.spec.jwtRules ?? []) if (rule.jwks === undefined && rule.jwksUri !== undefined && rule.jwksUri !== '') uris.add(rule.jwksUri);
  }
  return uris;
}

interface NamespaceSidecars {
  /** Sidecars with a workloadSelector, oldest first: the first that selects a workload scopes it. */
  readonly selecting: Resource<'Sidecar'>[];
  /** The namespace's Sidecar without selector (the oldest, if several were written). */
  fallback?: Resource<'Sidecar'>;
}

function sidecarsByNamespace(sidecars: readonly Resource<'Sidecar'>[]): ReadonlyMap<string, NamespaceSidecars> {
  const out = new Map<string, NamespaceSidecars>();
  for (const sidecar of sidecars) {
    let entry = out.get(sidecar.namespace);
    if (entry === undefined) out.set(sidecar.namespace, (entry = { selecting: [] }));
    if (sidecar.object.spec.workloadSelector !== undefined) entry.selecting.push(sidecar);
    else entry.fallback ??= sidecar;
  }
  return out;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
