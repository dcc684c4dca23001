/** Helpers for the CDS and EDS tests; only tests import this module. */
import { createRequire } from 'node:module';
import type { ProxyView } from '../model/index.ts';
import { assertValidMessage, packAny, TypeUrl } from '../../xds/index.ts';
import type { Cluster, ClusterLoadAssignment } from '../../xds/envoy/index.ts';
import type { NamedResource } from './generator.ts';

/** A sidecar in `default` at 10.0.0.100 with no labels or ports, unless `partial` says otherwise. */
export function testProxy(partial: Partial<ProxyView> = {}): ProxyView {
  const namespace = partial.namespace ?? 'default';
  const workloadName = partial.workloadName ?? 'client';
  const address = partial.ipAddresses?.[0] ?? '10.0.0.100';
  return {
    id: `${partial.kind ?? 'sidecar'}~${address}~${workloadName}.${namespace}~${namespace}.svc.cluster.local`,
    kind: 'sidecar',
    generator: 'envoy',
    namespace,
    labels: {},
    serviceAccount: 'default',
    workloadName,
    ipAddresses: [address],
    ports: [],
    locality: '',
    version: '1.0.0',
    interceptionMode: 'REDIRECT',
    appPorts: [], localServicePorts: [],
    ...partial,
  };
}

/** The clusters generated, each checked to be a valid Envoy Cluster, by name. */
export function clustersByName(resources: readonly NamedResource[]): Map<string, Cluster> {
  return new Map(resources.map((r) => {
    assertValidMessage('envoy.config.cluster.v3.Cluster', r.resource);
    return [r.name, r.resource as Cluster];
  }));
}

/** The load assignments generated, each checked to be a valid Envoy ClusterLoadAssignment, by name. */
export function assignmentsByName(resources: readonly NamedResource[]): Map<string, ClusterLoadAssignment> {
  return new Map(resources.map((r) => {
    assertValidMessage('envoy.config.endpoint.v3.ClusterLoadAssignment', r.resource);
    return [r.name, r.resource as ClusterLoadAssignment];
  }));
}

const require = createRequire(import.meta.url);
let grpcRegistered = false;

/** A bootstrap naming the certificate provider `default`, as Istio's agent writes it for proxyless gRPC. */
const GRPC_CONTEXT = { bootstrap: { certificateProviders: { default: {} } }, server: {} };

/**
 * What @grpc/grpc-js-xds says of a resource when it receives it: undefined when it accepts it,
 * else its validation errors (it would NACK the response).
 */
export function grpcRejection(typeUrl: typeof TypeUrl.Cluster | typeof TypeUrl.ClusterLoadAssignment, resource: NamedResource['resource']): string | undefined {
  if (!grpcRegistered) {
    // What an application does first; it registers gRPC's load balancers, which cluster validation looks up.
    (require('@grpc/grpc-js-xds') as { register(): void }).register();
    grpcRegistered = true;
  }
  const module = typeUrl === TypeUrl.Cluster
    ? require('@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js') as { ClusterResourceType: ResourceTypeClass }
    : require('@grpc/grpc-js-xds/build/src/xds-resource-type/endpoint-resource-type.js') as { EndpointResourceType: ResourceTypeClass };
  const type = 'ClusterResourceType' in module ? module.ClusterResourceType : module.EndpointResourceType;
  const result = type.get().decode(GRPC_CONTEXT, packAny(typeUrl, resource));
  return result.error;
}

interface ResourceTypeClass {
  get(): { decode(context: unknown, resource: { type_url: string; value: Uint8Array }): { name: string; error?: string } };
}
