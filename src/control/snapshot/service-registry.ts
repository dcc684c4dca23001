import { ofKind, type AnyResource, type Resource } from '../../config/index.ts';
import { isWildcardHost, serviceHost, CLUSTER_DOMAIN } from '../../config/analysis/index.ts';
import { declaredProtocol, labelsMatch, portProtocol, type Labels, type MeshConfig, type Workload } from '../model/index.ts';
import { exportToAnnotation, normalizeExportTo } from './export-to.ts';
import type { MeshEndpoint, MeshService, ServicePort } from './mesh-snapshot.ts';
import { allocateVirtualIps } from './virtual-ip.ts';

/** The services of the mesh and the endpoints of each of their ports, computed once. */
export interface ServiceRegistry {
  /** Sorted by hostname. */
  readonly services: readonly MeshService[];
  readonly byHostname: ReadonlyMap<string, MeshService>;
  /** Endpoints by hostname, then service port number; sorted by address, then port. */
  readonly endpoints: ReadonlyMap<string, ReadonlyMap<number, readonly MeshEndpoint[]>>;
}

const EXPORT_TO_ANNOTATION = 'networking.istio.io/exportTo';
const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

/** Computes the endpoints of one service port (by number) that one resource contributes. */
type EndpointSource = (port: number) => MeshEndpoint[];

interface Draft {
  service: Omit<MeshService, 'ports' | 'address'>;
  address: string | undefined;
  /** Whether an address should be allocated when none was written. */
  wantsAddress: boolean;
  /** The service's ports, decorators' included; each source keeps its own resource's ports. */
  ports: ServicePort[];
  sources: EndpointSource[];
}

/** The hostname of a Kubernetes Service in the mesh's cluster domain. */
export function kubernetesServiceHostname(name: string, namespace: string, clusterDomain: string): string {
  const standard = serviceHost(name, namespace);
  return clusterDomain === CLUSTER_DOMAIN ? standard : `${standard.slice(0, -CLUSTER_DOMAIN.length)}${clusterDomain.toLowerCase()}`;
}

/**
 * Services from Kubernetes Services and ServiceEntries (one per host). A ServiceEntry host that a
 * Service (or an earlier ServiceEntry) already defines decorates it: its new ports are added and
 * its endpoints join those of the same port number.
 */
export function buildServiceRegistry(resources: readonly AnyResource[], workloads: readonly Workload[], mesh: MeshConfig): ServiceRegistry {
  const workloadsByNamespace = new Map<string, Workload[]>();
  for (const w of workloads) {
    const list = workloadsByNamespace.get(w.namespace);
    if (list === undefined) workloadsByNamespace.set(w.namespace, [w]);
    else list.push(w);
  }
  const inNamespace = (namespace: string): readonly Workload[] => workloadsByNamespace.get(namespace) ?? [];

  const drafts = new Map<string, Draft>();
  for (const service of ofKind(resources, 'Service')) {
    const draft = kubernetesService(service, mesh, inNamespace(service.namespace));
    drafts.set(draft.service.hostname, draft);
  }
  for (const entry of ofKind(resources, 'ServiceEntry')) {
    for (const host of entry.object.spec.hosts) {
      const draft = serviceEntryHost(entry, host.toLowerCase(), inNamespace(entry.namespace));
      const existing = drafts.get(draft.service.hostname);
      if (existing === undefined) {
        drafts.set(draft.service.hostname, draft);
        continue;
      }
      const numbers = new Set(existing.ports.map((p) => p.port));
      existing.ports.push(...draft.ports.filter((p) => !numbers.has(p.port)));
      existing.sources.push(...draft.sources);
    }
  }

  const taken = new Set([...drafts.values()].flatMap((d) => (d.address === undefined ? [] : [d.address])));
  const wanting = [...drafts.values()].filter((d) => d.address === undefined && d.wantsAddress).map((d) => d.service.hostname);
  const allocated = allocateVirtualIps(wanting, taken);

  const services: MeshService[] = [];
  const endpoints = new Map<string, ReadonlyMap<number, readonly MeshEndpoint[]>>();
  for (const draft of drafts.values()) {
    const address = draft.address ?? allocated.get(draft.service.hostname);
    const service: MeshService = Object.freeze({
      ...draft.service,
      ...(address !== undefined ? { address } : {}),
      ports: Object.freeze(draft.ports.map((p) => Object.freeze(p))),
    });
    services.push(service);
    const byPort = new Map<number, readonly MeshEndpoint[]>();
    for (const port of service.ports) byPort.set(port.port, Object.freeze(sortEndpoints(draft.sources.flatMap((source) => source(port.port)))));
    endpoints.set(service.hostname, byPort);
  }
  services.sort((a, b) => compareText(a.hostname, b.hostname));
  return { services: Object.freeze(services), byHostname: new Map(services.map((s) => [s.hostname, s])), endpoints };
}

function kubernetesService(resource: Resource<'Service'>, mesh: MeshConfig, workloads: readonly Workload[]): Draft {
  const { metadata, spec } = resource.object;
  const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({
    name: p.name ?? '',
    port: p.port,
    ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
    protocol: portProtocol(p),
  }));
  const written = spec.clusterIP !== undefined && spec.clusterIP !== '' ? spec.clusterIP : spec.clusterIPs?.[0];
  const headless = written === 'None';
  const externalName = spec.type === 'ExternalName' ? spec.externalName?.replace(/\.$/, '') : undefined;
  const clusterIP = written !== undefined && written !== '' && !headless ? written : undefined;
  return {
    service: {
      hostname: kubernetesServiceHostname(resource.name, resource.namespace, mesh.clusterDomain),
      name: resource.name,
      namespace: resource.namespace,
      // A headless Service has no VIP: clients reach the pod they resolved, as Istio does.
      resolution: externalName !== undefined ? 'DNS' : headless ? 'Passthrough' : 'ClientSideLB',
      meshExternal: externalName !== undefined,
      exportTo: Object.freeze(exportToAnnotation(metadata.annotations?.[EXPORT_TO_ANNOTATION], resource.namespace)),
      labels: Object.freeze({ ...metadata.labels }),
      origin: resource,
    },
    address: clusterIP,
    // Without a cluster (local mode), Services are written with no clusterIP; they still need a VIP to be captured.
    wantsAddress: !headless && externalName === undefined,
    ports: [...ports],
    sources: [externalName !== undefined ? hostnameEndpoints(externalName, ports, resource.namespace, (p) => p.port) : selectedEndpoints(spec.selector, ports, workloads, kubernetesEndpointPort)],
  };
}

function serviceEntryHost(resource: Resource<'ServiceEntry'>, hostname: string, workloads: readonly Workload[]): Draft {
  const { metadata, spec } = resource.object;
  const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({
    name: p.name,
    port: p.number,
    ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
    protocol: declaredProtocol(p.protocol ?? ''),
  }));
  const resolution = spec.resolution ?? 'NONE';
  const meshResolution = resolution === 'STATIC' ? 'ClientSideLB' : resolution === 'DNS' ? 'DNS' : resolution === 'DNS_ROUND_ROBIN' ? 'DNSRoundRobin' : 'Passthrough';
  let source: EndpointSource;
  if (spec.workloadSelector !== undefined) {
    source = selectedEndpoints(spec.workloadSelector.labels ?? {}, ports, workloads, serviceEntryEndpointPort);
  } else if (spec.endpoints !== undefined && spec.endpoints.length > 0) {
    source = inlineEndpoints(spec.endpoints, ports, resource.namespace);
  } else if ((resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && !isWildcardHost(hostname)) {
    // With no endpoints, the proxy resolves the host itself.
    source = hostnameEndpoints(hostname, ports, resource.namespace, (p) => (typeof p.targetPort === 'number' ? p.targetPort : p.port));
  } else {
    source = () => [];
  }
  return {
    service: {
      hostname,
      name: hostname,
      namespace: resource.namespace,
      // DYNAMIC_DNS is not modelled; forwarding to the address the client resolved is what reaches the host.
      resolution: meshResolution,
      meshExternal: (spec.location ?? 'MESH_EXTERNAL') === 'MESH_EXTERNAL',
      exportTo: Object.freeze(normalizeExportTo(spec.exportTo, resource.namespace)),
      labels: Object.freeze({ ...metadata.labels }),
      origin: resource,
    },
    address: spec.addresses?.[0],
    // Istio allocates only where it can tell the service apart by address: not for NONE (the client's own address counts) nor wildcards.
    wantsAddress: meshResolution !== 'Passthrough' && !isWildcardHost(hostname),
    ports: [...ports],
    sources: [source],
  };
}

/**
 * The port a Kubernetes Service port reaches on a workload: a WorkloadEntry's port named like the
 * service port (its `ports` map), else `targetPort` (a number, or the name of a workload port),
 * else the service port itself. Undefined when a named target port is missing.
 */
function kubernetesEndpointPort(port: ServicePort, workload: Workload): number | undefined {
  if (workload.origin === 'WorkloadEntry' && port.name !== '') {
    const mapped = workload.ports.find((p) => p.name === port.name);
    if (mapped !== undefined) return mapped.port;
  }
  if (typeof port.targetPort === 'string') return workload.ports.find((p) => p.name === port.targetPort)?.port;
  return port.targetPort ?? port.port;
}

/** A ServiceEntry port on a selected workload: the workload port of the same name, else `targetPort`, else the port itself. */
function serviceEntryEndpointPort(port: ServicePort, workload: Workload): number | undefined {
  const named = workload.ports.find((p) => p.name === port.name);
  if (named !== undefined) return named.port;
  return typeof port.targetPort === 'number' ? port.targetPort : port.port;
}

/** Endpoints of the workloads (of the service's namespace) that `selector` selects; none without a selector, as in Kubernetes. */
function selectedEndpoints(
  selector: Labels | undefined,
  ports: readonly ServicePort[],
  workloads: readonly Workload[],
  endpointPort: (port: ServicePort, workload: Workload) => number | undefined,
): EndpointSource {
  if (selector === undefined || Object.keys(selector).length === 0) return () => [];
  const selected = workloads.filter((w) => labelsMatch(selector, w.labels));
  return (number) => {
    const port = ports.find((p) => p.port === number);
    if (port === undefined) return [];
    return selected.flatMap((workload) => {
      const target = endpointPort(port, workload);
      return target === undefined ? [] : [workloadEndpoint(workload, target)];
    });
  };
}

/** The endpoint of `workload` for its port `port`: at the port's hostPort when it has one. */
function workloadEndpoint(workload: Workload, port: number): MeshEndpoint {
  return {
    address: workload.address,
    port: workload.ports.find((p) => p.port === port)?.hostPort ?? port,
    labels: workload.labels,
    namespace: workload.namespace,
    serviceAccount: workload.serviceAccount,
    locality: workload.locality,
    network: workload.network,
    weight: workload.weight,
    healthy: workload.healthy,
    tlsMode: workload.tlsMode,
    workload,
  };
}

type InlineEndpoint = NonNullable<Resource<'ServiceEntry'>['object']['spec']['endpoints']>[number];

/** A ServiceEntry's own endpoints; one known only by its network (reached through that network's gateway) is left out. */
function inlineEndpoints(endpoints: readonly InlineEndpoint[], ports: readonly ServicePort[], namespace: string): EndpointSource {
  return (number) => {
    const port = ports.find((p) => p.port === number);
    if (port === undefined) return [];
    return endpoints.flatMap((e) => {
      if (e.address === undefined || e.address === '') return [];
      const labels = e.labels ?? {};
      return [{
        address: e.address,
        port: e.ports?.[port.name] ?? (typeof port.targetPort === 'number' ? port.targetPort : port.port),
        labels,
        namespace,
        serviceAccount: e.serviceAccount ?? '',
        locality: e.locality ?? '',
        network: e.network ?? '',
        weight: e.weight !== undefined && e.weight > 0 ? e.weight : 1,
        healthy: true,
        tlsMode: labels[TLS_MODE_LABEL] === 'istio' ? 'istio' : 'disabled',
      } satisfies MeshEndpoint];
    });
  };
}

/** One endpoint per port that is a DNS name for the proxy to resolve. */
function hostnameEndpoints(hostname: string, ports: readonly ServicePort[], namespace: string, endpointPort: (port: ServicePort) => number): EndpointSource {
  return (number) => {
    const port = ports.find((p) => p.port === number);
    if (port === undefined) return [];
    return [{
      address: hostname,
      port: endpointPort(port),
      labels: {},
      namespace,
      serviceAccount: '',
      locality: '',
      network: '',
      weight: 1,
      healthy: true,
      tlsMode: 'disabled',
    }];
  };
}

/** By address then port; an address and port given twice (a proxy that is also a Pod) counts once, the first kept. */
function sortEndpoints(endpoints: readonly MeshEndpoint[]): MeshEndpoint[] {
  const unique = new Map<string, MeshEndpoint>();
  for (const e of endpoints) {
    const key = `${e.address} ${e.port}`;
    if (!unique.has(key)) unique.set(key, Object.freeze(e));
  }
  return [...unique.values()].sort((a, b) => compareAddress(a.address, b.address) || a.port - b.port);
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** IPv4 addresses in numeric order (10.0.0.2 before 10.0.0.10); anything else by text, after them. */
function compareAddress(a: string, b: string): number {
  const x = IPV4.exec(a);
  const y = IPV4.exec(b);
  if (x !== null && y !== null) {
    for (let i = 1; i <= 4; i++) {
      const d = Number(x[i]) - Number(y[i]);
      if (d !== 0) return d;
    }
    return 0;
  }
  if (x !== null) return -1;
  if (y !== null) return 1;
  return compareText(a, b);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
