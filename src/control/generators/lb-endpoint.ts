import type { MeshEndpoint } from '../snapshot/index.ts';
import type { Address, LbEndpoint, Metadata } from '../../xds/envoy/index.ts';
import type { PlacedEndpoint } from './locality-lb.ts';

/** The metadata key auto mTLS matches endpoints on (`transportSocketMatches`). */
export const TRANSPORT_SOCKET_MATCH_KEY = 'envoy.transport_socket_match';
/** Istio's cluster id for a single-cluster mesh, part of the workload metadata telemetry reads. */
const CLUSTER_ID = 'Kubernetes';
const UNIX_PREFIX = 'unix://';

/** An endpoint of a service port as Envoy sees it: its address, health, weight and Istio's metadata. */
export function lbEndpoint(e: MeshEndpoint): LbEndpoint {
  const metadata = endpointMetadata(e);
  return {
    endpoint: { address: endpointAddress(e.address, e.port) },
    healthStatus: e.healthy ? 'HEALTHY' : 'UNHEALTHY',
    ...(metadata !== undefined && { metadata }),
    loadBalancingWeight: Math.max(1, e.weight),
  };
}

export function placedEndpoint(e: MeshEndpoint): PlacedEndpoint {
  return { lbEndpoint: lbEndpoint(e), locality: e.locality, labels: e.labels };
}

export function endpointAddress(address: string, port: number): Address {
  return address.startsWith(UNIX_PREFIX) ? { pipe: { path: address.slice(UNIX_PREFIX.length) } } : { socketAddress: { address, portValue: port } };
}

/**
 * `envoy.transport_socket_match: {tlsMode: istio}` on endpoints whose workload has a sidecar (auto
 * mTLS picks its socket by it), and, for endpoints that are workloads, Istio's compact description
 * `name;namespace;canonical-service;canonical-revision;cluster`, which telemetry reads for the
 * destination labels when the peer does not say them itself. Undefined when there is neither.
 */
function endpointMetadata(e: MeshEndpoint): Metadata | undefined {
  const workload = e.workload;
  if (workload === undefined && e.tlsMode !== 'istio') return undefined;
  const service = e.labels['service.istio.io/canonical-name'] ?? e.labels['app.kubernetes.io/name'] ?? e.labels['app'] ?? workload?.name ?? '';
  const revision = e.labels['service.istio.io/canonical-revision'] ?? e.labels['app.kubernetes.io/version'] ?? e.labels['version'] ?? 'latest';
  return {
    filterMetadata: {
      ...(e.tlsMode === 'istio' && { [TRANSPORT_SOCKET_MATCH_KEY]: { tlsMode: 'istio' } }),
      ...(workload !== undefined && { istio: { workload: [workload.name, e.namespace, service, revision === 'latest' ? '' : revision, CLUSTER_ID].join(';') } }),
    },
  };
}
