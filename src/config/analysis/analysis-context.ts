import type { KindName } from '../kinds/registry.ts';
import type { AnyResource, Resource } from '../resource.ts';
import { formatGatewayName, type GatewayName } from './gateway-reference.ts';
import { hostCoveredBy, hostsOverlap, resolveHost, ROOT_NAMESPACE, serviceHost, serviceHostNamespace } from './host-name.ts';
import { selectorMatches, type Labels } from './label-selector.ts';

/** A port of a Service or ServiceEntry. */
export interface ServicePort {
  readonly number: number;
  readonly name: string;
  readonly protocol: string | undefined;
  readonly appProtocol: string | undefined;
  readonly targetPort: string | number | undefined;
}

/** A Service (host `<name>.<ns>.svc.cluster.local`) or a ServiceEntry (its hosts as written), with its ports. */
export interface RegistryService {
  readonly resource: Resource<'Service'> | Resource<'ServiceEntry'>;
  readonly hosts: readonly string[];
  readonly ports: readonly ServicePort[];
}

/** Something a workload selector can select: a Pod, the pod template of a Deployment, a WorkloadEntry. */
export interface Workload {
  readonly resource: Resource<'Pod'> | Resource<'Deployment'> | Resource<'WorkloadEntry'>;
  readonly namespace: string;
  readonly labels: Labels;
}

export interface DestinationRuleEntry {
  readonly resource: Resource<'DestinationRule'>;
  /** `spec.host` resolved in the rule's namespace. */
  readonly host: string;
}

/**
 * The input of one analysis run, indexed once so that every analyzer can look things up by the
 * names resources use for each other.
 */
export interface AnalysisContext {
  readonly resources: readonly AnyResource[];
  ofKind<K extends KindName>(kind: K): readonly Resource<K>[];
  /** Every Service and ServiceEntry. */
  readonly services: readonly RegistryService[];
  /**
   * The Services and ServiceEntries that define `host` (already resolved): those naming it exactly,
   * or else those whose hosts overlap it through a wildcard. Empty when the input defines no such host.
   */
  servicesForHost(host: string): readonly RegistryService[];
  /**
   * The DestinationRules that apply to traffic for `host` (resolved) sent from `namespace`, as
   * Istio looks them up: the client's namespace first, then the host's namespace, then the root
   * namespace; the first that has rules wins, and its rules for the same host are merged. Rules
   * naming the host exactly win over wildcard rules.
   */
  destinationRulesFor(host: string, namespace: string): readonly DestinationRuleEntry[];
  readonly destinationRules: readonly DestinationRuleEntry[];
  gateway(name: GatewayName): Resource<'Gateway'> | undefined;
  readonly workloads: readonly Workload[];
  /** Workloads of `namespace` (of every namespace for the root namespace, where selectors reach the whole mesh). */
  workloadsIn(namespace: string): readonly Workload[];
  /** Workloads of `namespace` (see `workloadsIn`) whose labels match `selector`. */
  workloadsSelectedBy(namespace: string, selector: Labels): readonly Workload[];
}

export function createAnalysisContext(resources: readonly AnyResource[]): AnalysisContext {
  const byKind = groupBy(resources, (r) => r.kind);
  const ofKind = <K extends KindName>(kind: K): readonly Resource<K>[] =>
    (byKind.get(kind) ?? []).filter((r): r is Resource<K> & AnyResource => r.kind === kind);

  const services: RegistryService[] = [
    ...ofKind('Service').map((resource) => ({ resource, hosts: [serviceHost(resource.name, resource.namespace)], ports: servicePorts(resource) })),
    ...ofKind('ServiceEntry').map((resource) => ({ resource, hosts: resource.object.spec.hosts.map((h) => h.toLowerCase()), ports: serviceEntryPorts(resource) })),
  ];
  const exactHosts = groupBy(services.flatMap((service) => [...new Set(service.hosts)].map((host) => ({ host, service }))), (e) => e.host);

  const destinationRules: DestinationRuleEntry[] = ofKind('DestinationRule').map((resource) => ({
    resource,
    host: resolveHost(resource.object.spec.host, resource.namespace),
  }));
  const destinationRulesByNamespace = groupBy(destinationRules, (dr) => dr.resource.namespace);

  const gateways = new Map(ofKind('Gateway').map((g) => [formatGatewayName(g), g]));

  const workloads: Workload[] = [
    ...ofKind('Pod').map((resource) => ({ resource, namespace: resource.namespace, labels: resource.object.metadata.labels ?? {} })),
    ...ofKind('Deployment').map((resource) => ({ resource, namespace: resource.namespace, labels: deploymentPodLabels(resource) })),
    ...ofKind('WorkloadEntry').map((resource) => ({ resource, namespace: resource.namespace, labels: resource.object.spec.labels ?? {} })),
  ];
  const workloadsByNamespace = groupBy(workloads, (w) => w.namespace);
  const workloadsIn = (namespace: string): readonly Workload[] =>
    namespace === ROOT_NAMESPACE ? workloads : (workloadsByNamespace.get(namespace) ?? []);

  return {
    resources,
    ofKind,
    services,
    servicesForHost(host) {
      const exact = exactHosts.get(host.toLowerCase());
      if (exact !== undefined) return exact.map((e) => e.service);
      return services.filter((s) => s.hosts.some((h) => hostsOverlap(h, host)));
    },
    destinationRules,
    destinationRulesFor(host, namespace) {
      const hostNamespace = serviceHostNamespace(host);
      for (const tier of [namespace, hostNamespace, ROOT_NAMESPACE]) {
        if (tier === undefined) continue;
        const inTier = (destinationRulesByNamespace.get(tier) ?? []).filter((dr) => hostCoveredBy(host, dr.host));
        if (inTier.length === 0) continue;
        const exact = inTier.filter((dr) => dr.host === host.toLowerCase());
        if (exact.length > 0) return exact;
        const mostSpecific = Math.max(...inTier.map((dr) => dr.host.length));
        return inTier.filter((dr) => dr.host.length === mostSpecific);
      }
      return [];
    },
    gateway: (name) => gateways.get(formatGatewayName(name)),
    workloads,
    workloadsIn,
    workloadsSelectedBy: (namespace, selector) => workloadsIn(namespace).filter((w) => selectorMatches(selector, w.labels)),
  };
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list === undefined) groups.set(k, [item]);
    else list.push(item);
  }
  return groups;
}

function servicePorts(service: Resource<'Service'>): ServicePort[] {
  return (service.object.spec?.ports ?? []).map((p) => ({
    number: p.port,
    name: p.name ?? '',
    protocol: p.protocol,
    appProtocol: p.appProtocol,
    targetPort: p.targetPort,
  }));
}

function serviceEntryPorts(entry: Resource<'ServiceEntry'>): ServicePort[] {
  return (entry.object.spec.ports ?? []).map((p) => ({
    number: p.number,
    name: p.name,
    protocol: p.protocol,
    appProtocol: undefined,
    targetPort: p.targetPort,
  }));
}

/** The labels of the pods a Deployment creates, read defensively while the Deployment schema leaves its spec open. */
function deploymentPodLabels(deployment: Resource<'Deployment'>): Labels {
  let node: unknown = deployment.object;
  for (const key of ['spec', 'template', 'metadata', 'labels']) {
    if (typeof node !== 'object' || node === null) return {};
    node = Reflect.get(node, key);
  }
  if (typeof node !== 'object' || node === null) return {};
  return Object.fromEntries(Object.entries(node).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
