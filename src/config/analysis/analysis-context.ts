import type { KindName } from '../kinds/registry.ts';
import type { AnyResource, Resource } from '../resource.ts';
import { formatGatewayName, type GatewayName } from './gateway-reference.ts';
import { hostCoveredBy, hostsOverlap, isWildcardHost, resolveHost, ROOT_NAMESPACE, serviceHost, serviceHostNamespace } from './host-name.ts';
import { selectorMatches, type Labels } from './label-selector.ts';

/** A port of a Service or ServiceEntry, as routes name it. */
export interface ServicePort {
  readonly number: number;
  readonly name: string;
}

/** A Service (host `<name>.<ns>.svc.cluster.local`) or a ServiceEntry (its hosts as written), with its ports. */
export interface RegistryService {
  readonly resource: Resource<'Service'> | Resource<'ServiceEntry'>;
  readonly hosts: readonly string[];
  readonly ports: readonly ServicePort[];
}

/** Something a workload selector can select: a Pod, the pod template of a Deployment, a WorkloadEntry, a LocalWorkload. */
export interface Workload {
  readonly resource: Resource<'Pod'> | Resource<'Deployment'> | Resource<'WorkloadEntry'> | Resource<'LocalWorkload'>;
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
  const wildcardServices = services.filter((s) => s.hosts.some(isWildcardHost));
  const exactHosts = groupBy(services.flatMap((service) => [...new Set(service.hosts)].map((host) => ({ host, service }))), (e) => e.host);

  const destinationRules: DestinationRuleEntry[] = ofKind('DestinationRule').map((resource) => ({
    resource,
    host: resolveHost(resource.object.spec.host, resource.namespace),
  }));
  const exactRules = groupBy(destinationRules.filter((dr) => !isWildcardHost(dr.host)), (dr) => `${dr.resource.namespace} ${dr.host}`);
  const wildcardRules = groupBy(destinationRules.filter((dr) => isWildcardHost(dr.host)), (dr) => dr.resource.namespace);

  const gateways = new Map(ofKind('Gateway').map((g) => [formatGatewayName(g), g]));

  const workloads: Workload[] = [
    ...ofKind('Pod').map((resource) => ({ resource, namespace: resource.namespace, labels: resource.object.metadata.labels ?? {} })),
    ...ofKind('Deployment').map((resource) => ({ resource, namespace: resource.namespace, labels: resource.object.spec.template.metadata?.labels ?? {} })),
    ...ofKind('WorkloadEntry').map((resource) => ({ resource, namespace: resource.namespace, labels: resource.object.spec.labels ?? {} })),
    ...ofKind('LocalWorkload').map((resource) => ({ resource, namespace: resource.namespace, labels: resource.object.spec.labels })),
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
      // A plain name can only overlap a wildcard entry; a wildcard can overlap any.
      return (isWildcardHost(host) ? services : wildcardServices).filter((s) => s.hosts.some((h) => hostsOverlap(h, host)));
    },
    destinationRules,
    destinationRulesFor(host, namespace) {
      const hostNamespace = serviceHostNamespace(host);
      for (const tier of [namespace, hostNamespace, ROOT_NAMESPACE]) {
        if (tier === undefined) continue;
        const exact = exactRules.get(`${tier} ${host.toLowerCase()}`);
        if (exact !== undefined) return exact;
        const covering = (wildcardRules.get(tier) ?? []).filter((dr) => hostCoveredBy(host, dr.host));
        if (covering.length === 0) continue;
        const mostSpecific = Math.max(...covering.map((dr) => dr.host.length));
        return covering.filter((dr) => dr.host.length === mostSpecific);
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
  return (service.object.spec?.ports ?? []).map((p) => ({ number: p.port, name: p.name ?? '' }));
}

function serviceEntryPorts(entry: Resource<'ServiceEntry'>): ServicePort[] {
  return (entry.object.spec.ports ?? []).map((p) => ({ number: p.number, name: p.name }));
}
