import { TypeUrl } from '../../xds/index.ts';
import type { Listener } from '../../xds/envoy/index.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { explicitModeListeners } from './explicit-proxy.ts';
import { proxyKey, type Generator, type NamedResource, type ProxyField, type ResourceKind } from './generator.ts';
import { gatewayListeners } from './listener-gateway.ts';
import { grpcListener } from './listener-grpc.ts';
import { virtualInboundListener } from './listener-inbound.ts';
import { inboundSecurity } from './security-filters.ts';
import { outboundListeners } from './listener-outbound.ts';
import { allGrpcTargets, grpcTarget } from './route-grpc.ts';
import { outboundScope } from './route-scope.ts';

/** The proxy fields this generator (and what it calls) reads. */
const SHARING_FIELDS: readonly ProxyField[] = ['kind', 'generator', 'namespace', 'labels', 'ipAddresses', 'ports', 'interceptionMode', 'localServicePorts'];

/**
 * LDS, as Istio serves it: a sidecar gets `virtualOutbound`, its outbound listeners per service
 * port and `virtualInbound` (in explicit mode, where nothing is captured, listeners on its own
 * ports and an HTTP proxy instead); a gateway a listener per server port of its Gateways; a proxyless
 * gRPC client an API listener per target it dials.
 */
export class ListenerGenerator implements Generator {
  readonly typeUrl = TypeUrl.Listener;
  readonly inputs: ReadonlySet<ResourceKind> = new Set<ResourceKind>([
    'VirtualService', 'DestinationRule', 'Service', 'ServiceEntry', 'Gateway', 'Sidecar', 'LocalRateLimit',
    'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication',
    // Inbound ports and their protocols come from the services whose endpoints are the proxy.
    'Workload', 'WorkloadEntry', 'Pod',
  ]);

  sharingKey(proxy: ProxyView): string {
    return proxyKey(proxy, SHARING_FIELDS);
  }

  generate(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): NamedResource[] {
    const listeners = proxy.generator === 'grpc' ? grpcListeners(proxy, snapshot, names)
      : proxy.kind === 'router' ? gatewayListeners(proxy, snapshot)
        : proxy.interceptionMode === 'NONE' ? explicitModeListeners(proxy, snapshot)
        : [...outboundListeners(proxy, snapshot, outboundScope(proxy, snapshot)), virtualInboundListener(proxy, snapshot, inboundSecurity(proxy, snapshot))];
    return listeners
      .filter((l) => names === 'all' || names.has(l.name))
      .map((l) => ({ name: l.name, resource: l as unknown as NamedResource['resource'] }));
  }
}

function grpcListeners(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): Listener[] {
  const scope = outboundScope(proxy, snapshot);
  const targets = names === 'all' ? allGrpcTargets(scope) : [...names].flatMap((n) => grpcTarget(n, proxy, snapshot, scope) ?? []);
  return targets.map(grpcListener);
}
