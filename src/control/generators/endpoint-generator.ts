import type { ProxyView } from '../model/index.ts';
import { effectiveTrafficPolicy, type EffectiveDestinationRule, type MeshService, type MeshSnapshot } from '../snapshot/index.ts';
import { TypeUrl } from '../../xds/index.ts';
import type { ClusterLoadAssignment } from '../../xds/envoy/index.ts';
import { outboundClusterName, parseClusterName } from './cluster-name.ts';
import { egressServices } from './egress-services.ts';
import { proxyKey, type Generator, type NamedResource, type ProxyField, type ResourceKind } from './generator.ts';
import { placedEndpoint } from './lb-endpoint.ts';
import { localityLbEndpoints, localityPolicy } from './locality-lb.ts';

/** One EDS cluster: a port of a service, maybe narrowed to a subset. */
interface EdsTarget {
  readonly name: string;
  readonly service: MeshService;
  readonly port: number;
  readonly rule: EffectiveDestinationRule | undefined;
  readonly subset: string | undefined;
}

/** The proxy fields this generator (and what it calls) reads. */
const SHARING_FIELDS: readonly ProxyField[] = ['kind', 'generator', 'namespace', 'labels', 'locality'];

/**
 * EDS: a ClusterLoadAssignment for each EDS cluster the proxy asks for, grouped by locality, each
 * endpoint with its health, weight and Istio's metadata (`tlsMode` for auto mTLS, the workload for
 * telemetry). A subset selecting no workload still gets an assignment, with no endpoints (Envoy
 * answers 503 UH, as Istio's users expect); a name that is no EDS cluster of a service the proxy
 * can see is left out, which ADS reports as not found. Locality priorities follow the cluster's
 * policy: with outlier detection, the proxy's own locality first.
 */
export class EndpointGenerator implements Generator {
  readonly typeUrl = TypeUrl.ClusterLoadAssignment;
  readonly inputs: ReadonlySet<ResourceKind> = new Set<ResourceKind>(['Workload', 'Service', 'ServiceEntry', 'WorkloadEntry', 'Pod', 'DestinationRule', 'Sidecar']);

  sharingKey(proxy: ProxyView): string {
    return proxyKey(proxy, SHARING_FIELDS);
  }

  generate(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): NamedResource[] {
    const targets = names === 'all' ? allTargets(proxy, snapshot) : [...names].flatMap((name) => {
      const target = namedTarget(proxy, snapshot, name);
      return target === undefined ? [] : [target];
    });
    return targets.map((t) => ({ name: t.name, resource: loadAssignment(proxy, snapshot, t) }));
  }
}

/** Whether the proxy's cluster is an EDS one: proxyless gRPC, which cannot dial an original destination, keeps EDS for PASSTHROUGH. */
function isEds(proxy: ProxyView, service: MeshService, rule: EffectiveDestinationRule | undefined, port: number, subset: string | undefined): boolean {
  if (service.resolution !== 'ClientSideLB') return false;
  return proxy.generator === 'grpc' || effectiveTrafficPolicy(rule, port, subset).loadBalancer?.simple !== 'PASSTHROUGH';
}

/** Every EDS cluster the proxy's CDS has. */
function allTargets(proxy: ProxyView, snapshot: MeshSnapshot): EdsTarget[] {
  return egressServices(proxy, snapshot).flatMap(({ service, ports }) => {
    const rule = snapshot.destinationRule(service.hostname, proxy.namespace, proxy.labels);
    return ports.flatMap((p) => [undefined, ...(rule?.subsets ?? []).map((s) => s.name)]
      .filter((subset) => isEds(proxy, service, rule, p.port, subset))
      .map((subset) => ({ name: outboundClusterName(p.port, subset, service.hostname), service, port: p.port, rule, subset })));
  });
}

function namedTarget(proxy: ProxyView, snapshot: MeshSnapshot, name: string): EdsTarget | undefined {
  const parsed = parseClusterName(name);
  if (parsed === undefined || parsed.direction !== 'outbound') return undefined;
  const service = snapshot.service(parsed.hostname);
  if (service === undefined || !service.ports.some((p) => p.port === parsed.port)) return undefined;
  if (!snapshot.servicesVisibleTo(proxy.namespace).includes(service)) return undefined;
  const rule = snapshot.destinationRule(service.hostname, proxy.namespace, proxy.labels);
  const subset = parsed.subset === '' ? undefined : parsed.subset;
  if (subset !== undefined && !(rule?.subsets ?? []).some((s) => s.name === subset)) return undefined;
  if (!isEds(proxy, service, rule, parsed.port, subset)) return undefined;
  return { name, service, port: parsed.port, rule, subset };
}

function loadAssignment(proxy: ProxyView, snapshot: MeshSnapshot, target: EdsTarget): ClusterLoadAssignment {
  const labels = target.subset === undefined ? undefined : target.rule?.subsets.find((s) => s.name === target.subset)?.labels;
  const endpoints = snapshot.endpoints(target.service, target.port, labels).map(placedEndpoint);
  const policy = effectiveTrafficPolicy(target.rule, target.port, target.subset);
  return { clusterName: target.name, endpoints: localityLbEndpoints(endpoints, localityPolicy(policy, proxy.locality, proxy.labels)) };
}
