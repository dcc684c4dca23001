import { isIPv4, isIPv6 } from 'node:net';
import { portProtocol, type MeshConfig, type ProxyView, type WorkloadPort } from '../model/index.ts';
import {
  effectiveTrafficPolicy, type ClusterTrafficPolicy, type EffectiveDestinationRule, type EffectiveSubset, type MeshService, type MeshSnapshot, type ServicePort,
} from '../snapshot/index.ts';
import { TypeUrl } from '../../xds/index.ts';
import {
  HTTP_PROTOCOL_OPTIONS_KEY, HTTP_PROTOCOL_OPTIONS_TYPE,
  type Cluster, type ClusterLoadAssignment, type ConfigSource, type DiscoveryType, type DnsLookupFamily, type HttpProtocolOptions, type LoadBalancingPolicy, type Struct,
} from '../../xds/envoy/index.ts';
import {
  BLACK_HOLE_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER, PASSTHROUGH_CLUSTER, inboundClusterName, outboundClusterName, outboundSni,
} from './cluster-name.ts';
import { httpProxyTunnelCluster } from './explicit-proxy.ts';
import { ownEndpoint } from './listener-inbound.ts';
import { egressServices, type ImportedService } from './egress-services.ts';
import { proxyKey, type Generator, type NamedResource, type ProxyField, type ResourceKind } from './generator.ts';
import { endpointAddress, placedEndpoint } from './lb-endpoint.ts';
import { localityLbEndpoints, localityPolicy, weighsLocalities } from './locality-lb.ts';
import { protoDuration } from './proto-duration.ts';
import {
  connectionPoolToCluster, httpProtocolOptions, outlierDetectionToCluster, speaksHttp2, trafficPolicyToCluster, type ClusterShape,
} from './traffic-policy-to-cluster.ts';
import { upstreamTransport } from './upstream-tls.ts';

const ADS: ConfigSource = { ads: {}, resourceApiVersion: 'V3' };
/** Istio's meshConfig.dnsRefreshRate default. */
const DNS_REFRESH_RATE = '60s';
/** The source address inbound passthrough binds to, so that iptables lets the proxy's own connection through (Istio's convention). */
const INBOUND_PASSTHROUGH_BIND = { v4: '127.0.0.6', v6: '::6' };

/** The proxy fields this generator (and what it calls) reads. */
const SHARING_FIELDS: readonly ProxyField[] = ['kind', 'generator', 'namespace', 'labels', 'locality', 'ipAddresses', 'ports', 'interceptionMode', 'appPorts'];

/**
 * CDS, as Istio's sidecars and gateways see it. A sidecar gets one outbound cluster per service
 * port it imports (`outbound|9080||reviews.default.svc.cluster.local`) and one per
 * DestinationRule subset (`outbound|9080|v1|...`), one inbound cluster per port of its own
 * (`inbound|9080||`, to the application on 127.0.0.1), and BlackHoleCluster, PassthroughCluster
 * and InboundPassthroughCluster. A gateway gets every outbound cluster it can see and
 * BlackHoleCluster. A proxyless gRPC client gets only the EDS clusters it asks for, with what
 * gRPC understands.
 */
export class ClusterGenerator implements Generator {
  readonly typeUrl = TypeUrl.Cluster;
  readonly inputs: ReadonlySet<ResourceKind> = new Set<ResourceKind>([
    'Service', 'ServiceEntry', 'DestinationRule', 'Sidecar', 'Gateway',
    // Endpoints matter too: DNS clusters carry them, and auto mTLS checks the workloads' identities.
    'Workload', 'WorkloadEntry', 'Pod',
  ]);

  sharingKey(proxy: ProxyView): string {
    return proxyKey(proxy, SHARING_FIELDS);
  }

  generate(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): NamedResource[] {
    const imported = egressServices(proxy, snapshot);
    const clusters = proxy.generator === 'grpc'
      ? grpcClusters(proxy, snapshot, imported, names)
      : [
        ...imported.flatMap((i) => outboundClusters(proxy, snapshot, i)),
        ...(proxy.kind === 'sidecar' ? inboundClusters(proxy, snapshot) : []),
        blackHoleCluster(snapshot.mesh),
        ...(proxy.kind === 'sidecar' ? [passthroughCluster(snapshot.mesh), inboundPassthroughCluster(proxy, snapshot.mesh)] : []),
        ...(proxy.kind === 'sidecar' && proxy.interceptionMode === 'NONE' ? [httpProxyTunnelCluster(protoDuration(snapshot.mesh.connectTimeout))] : []),
      ];
    return clusters.filter((c) => names === 'all' || names.has(c.name)).map((c) => ({ name: c.name, resource: c }));
  }
}

function discoveryType(service: MeshService): DiscoveryType {
  switch (service.resolution) {
    case 'ClientSideLB':
      return 'EDS';
    case 'DNS':
      return 'STRICT_DNS';
    case 'DNSRoundRobin':
      return 'LOGICAL_DNS';
    case 'Passthrough':
      return 'ORIGINAL_DST';
  }
}

function outboundClusters(proxy: ProxyView, snapshot: MeshSnapshot, { service, ports }: ImportedService): Cluster[] {
  const rule = snapshot.destinationRule(service.hostname, proxy.namespace, proxy.labels);
  return ports.flatMap((port) => [undefined, ...(rule?.subsets ?? [])].flatMap((subset) => {
    const cluster = outboundCluster(proxy, snapshot, service, port, rule, subset);
    return cluster === undefined ? [] : [cluster];
  }));
}

/** One outbound cluster; undefined for a DNS cluster with no endpoint to resolve, which Istio leaves out. */
function outboundCluster(
  proxy: ProxyView, snapshot: MeshSnapshot, service: MeshService, port: ServicePort,
  rule: EffectiveDestinationRule | undefined, subset: EffectiveSubset | undefined,
): Cluster | undefined {
  const { mesh } = snapshot;
  const name = outboundClusterName(port.port, subset?.name, service.hostname);
  const policy = effectiveTrafficPolicy(rule, port.port, subset?.name);
  const shape: ClusterShape = { type: discoveryType(service), protocol: port.protocol, direction: 'outbound', proxyKind: proxy.kind };
  // PASSTHROUGH balancing turns the cluster into an original-destination one.
  const { type: policyType, ...fields } = trafficPolicyToCluster(policy, shape, mesh);
  const type = policyType ?? shape.type;
  const locality = localityPolicy(policy, proxy.locality, proxy.labels);

  let loadAssignment: ClusterLoadAssignment | undefined;
  if (type === 'STRICT_DNS' || type === 'LOGICAL_DNS') {
    const endpoints = snapshot.endpoints(service, port.port, subset?.labels).map(placedEndpoint);
    if (endpoints.length === 0) return undefined;
    // A LOGICAL_DNS cluster resolves exactly one name.
    loadAssignment = { clusterName: name, endpoints: localityLbEndpoints(type === 'LOGICAL_DNS' ? endpoints.slice(0, 1) : endpoints, locality) };
  }

  const plain = httpProtocolOptions(policy.connectionPool, shape);
  const transport = upstreamTransport({
    tls: policy.tls,
    sni: outboundSni(port.port, subset?.name, service.hostname),
    identities: identities(snapshot, service, port),
    autoMtls: mesh.enableAutoMtls && !service.meshExternal && type !== 'ORIGINAL_DST',
    http2: speaksHttp2(plain),
    generator: 'envoy',
  });
  const http = transport.upstreamHttpProtocolOptions === undefined ? plain : httpProtocolOptions(policy.connectionPool, shape, transport.upstreamHttpProtocolOptions);
  const commonLbConfig = { ...fields.commonLbConfig, ...(weighsLocalities(locality) && { localityWeightedLbConfig: {} }) };

  return {
    name,
    type,
    ...fields,
    ...(type === 'EDS' && { edsClusterConfig: { edsConfig: ADS, serviceName: name } }),
    ...(loadAssignment !== undefined && {
      loadAssignment,
      dnsLookupFamily: dnsLookupFamily(proxy),
      dnsRefreshRate: DNS_REFRESH_RATE,
      respectDnsTtl: true,
    }),
    ...(Object.keys(commonLbConfig).length > 0 && { commonLbConfig }),
    ...protocolOptions(http),
    ...(transport.transportSocket !== undefined && { transportSocket: transport.transportSocket }),
    ...(transport.transportSocketMatches !== undefined && { transportSocketMatches: transport.transportSocketMatches }),
    metadata: { filterMetadata: { istio: outboundMetadata(service, port, rule, subset) } },
  };
}

function protocolOptions(http: HttpProtocolOptions | undefined): Pick<Cluster, 'typedExtensionProtocolOptions'> {
  return http === undefined ? {} : { typedExtensionProtocolOptions: { [HTTP_PROTOCOL_OPTIONS_KEY]: http } };
}

/**
 * What istioctl proxy-config and telemetry read from a cluster: the service it reaches, its port,
 * the subset, and the DestinationRule that shaped it.
 */
function outboundMetadata(service: MeshService, port: ServicePort, rule: EffectiveDestinationRule | undefined, subset: EffectiveSubset | undefined): Struct {
  const source = rule?.resources[0];
  return {
    services: [serviceMetadata(service)],
    default_original_port: port.port,
    ...(subset !== undefined && { subset: subset.name }),
    ...(source !== undefined && { config: `/apis/networking.istio.io/v1/namespaces/${source.namespace}/destination-rule/${source.name}` }),
    ...(service.meshExternal && { external: true }),
  };
}

function serviceMetadata(service: MeshService): Struct {
  return { host: service.hostname, name: service.name, namespace: service.namespace };
}

/**
 * The SPIFFE identities mTLS accepts from the workloads behind a service port (their service
 * accounts, as Istio counts them), plus a ServiceEntry's subjectAltNames. Empty means the mesh
 * root alone is checked.
 */
function identities(snapshot: MeshSnapshot, service: MeshService, port: ServicePort): string[] {
  const out = new Set<string>();
  for (const e of snapshot.endpoints(service, port.port)) {
    if (e.serviceAccount !== '') out.add(`spiffe://${snapshot.mesh.trustDomain}/ns/${e.namespace}/sa/${e.serviceAccount}`);
  }
  if (service.origin.kind === 'ServiceEntry') for (const san of service.origin.object.spec.subjectAltNames ?? []) out.add(san);
  return [...out].sort();
}

function dnsLookupFamily(proxy: ProxyView): DnsLookupFamily {
  const v4 = proxy.ipAddresses.some((a) => isIPv4(a));
  const v6 = proxy.ipAddresses.some((a) => isIPv6(a));
  return v4 && v6 ? 'ALL' : v6 ? 'V6_ONLY' : 'V4_ONLY';
}

// ---------------------------------------------------------------------------------------------
// Inbound

interface InboundPort {
  readonly port: number;
  /** Where the application listens: `127.0.0.1:<port>` (in local mode the port the app was given), or a Sidecar ingress defaultEndpoint. */
  readonly endpoint: { readonly address: string; readonly port: number };
  readonly workloadPort?: WorkloadPort;
  /** The Sidecar's connection pool for the port: its ingress listener's, else inboundConnectionPool. */
  readonly connectionPool?: ClusterTrafficPolicy['connectionPool'];
}

/** The proxy's own ports, and those a Sidecar's ingress listeners declare (which may forward to another local endpoint). */
function inboundPorts(proxy: ProxyView, snapshot: MeshSnapshot): InboundPort[] {
  const sidecar = snapshot.sidecarFor(proxy.namespace, proxy.labels)?.object.spec;
  const byPort = new Map<number, InboundPort>();
  const appPorts = new Map(proxy.appPorts.map((p) => [p.port, p.appPort]));
  const local = (port: number): InboundPort['endpoint'] => ({ address: '127.0.0.1', port: appPorts.get(port) ?? port });
  for (const p of proxy.ports) {
    const port = p.hostPort ?? p.port;
    byPort.set(port, { port, endpoint: local(port), workloadPort: p });
  }
  for (const ingress of sidecar?.ingress ?? []) {
    const number = ingress.port.number ?? 0;
    const own = byPort.get(number)?.workloadPort;
    const endpoint = ingress.defaultEndpoint !== undefined && ingress.defaultEndpoint !== '' ? parseEndpoint(ingress.defaultEndpoint) : local(number);
    byPort.set(number, { port: number, endpoint, ...(own !== undefined && { workloadPort: own }), ...(ingress.connectionPool !== undefined && { connectionPool: ingress.connectionPool }) });
  }
  const fallback = sidecar?.inboundConnectionPool;
  return [...byPort.values()]
    .sort((a, b) => a.port - b.port)
    .map((p) => (p.connectionPool === undefined && fallback !== undefined ? { ...p, connectionPool: fallback } : p));
}

/** `127.0.0.1:8080`, `[::1]:8080` or `unix:///path`. */
function parseEndpoint(text: string): { address: string; port: number } {
  if (text.startsWith('unix://')) return { address: text, port: 0 };
  const colon = text.lastIndexOf(':');
  return { address: text.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(text.slice(colon + 1)) };
}

/**
 * Inbound clusters take only a connection pool: the Sidecar's for the port, else (as Istio does)
 * that of the DestinationRule of the first service the port serves.
 */
function inboundClusters(proxy: ProxyView, snapshot: MeshSnapshot): Cluster[] {
  const served = servicesServed(proxy, snapshot);
  return inboundPorts(proxy, snapshot).map((p) => {
    const name = inboundClusterName(p.port);
    const onPort = served.filter((s) => s.workloadPort === p.port);
    const first = onPort[0];
    const rulePolicy = first === undefined ? {} : effectiveTrafficPolicy(snapshot.destinationRule(first.service.hostname, proxy.namespace, proxy.labels), first.port.port);
    const pool = p.connectionPool ?? rulePolicy.connectionPool;
    const shape: ClusterShape = {
      type: 'STATIC',
      protocol: first?.port.protocol ?? (p.workloadPort === undefined ? 'Unsupported' : portProtocol(p.workloadPort)),
      direction: 'inbound',
      proxyKind: proxy.kind,
    };
    const services = [...new Map(onPort.map((s) => [s.service.hostname, serviceMetadata(s.service)])).values()];
    return {
      name,
      type: 'STATIC',
      ...trafficPolicyToCluster(pool === undefined ? {} : { connectionPool: pool }, shape, snapshot.mesh),
      loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: endpointAddress(p.endpoint.address, p.endpoint.port) } }] }] },
      ...protocolOptions(httpProtocolOptions(pool, shape)),
      ...(services.length > 0 && { metadata: { filterMetadata: { istio: { services } } } }),
    };
  });
}

/** The service ports whose endpoints are this proxy, with the proxy port each reaches: for inbound metadata and policy. */
function servicesServed(proxy: ProxyView, snapshot: MeshSnapshot): { service: MeshService; port: ServicePort; workloadPort: number }[] {
  const addresses = new Set(proxy.ipAddresses);
  const mine = ownEndpoint(proxy);
  return snapshot.services.flatMap((service) => service.ports.flatMap((port) => snapshot.endpoints(service, port.port)
    .filter((e) => addresses.has(e.address) && mine(e.port))
    .map((e) => ({ service, port, workloadPort: e.port }))));
}

// ---------------------------------------------------------------------------------------------
// Special clusters

function blackHoleCluster(mesh: MeshConfig): Cluster {
  return { name: BLACK_HOLE_CLUSTER, type: 'STATIC', connectTimeout: protoDuration(mesh.connectTimeout) };
}

/** Forwards to the address the client dialled, speaking whatever HTTP version it spoke. */
function passthroughCluster(mesh: MeshConfig): Cluster {
  return {
    name: PASSTHROUGH_CLUSTER,
    type: 'ORIGINAL_DST',
    ...connectionPoolToCluster(undefined, mesh),
    lbPolicy: 'CLUSTER_PROVIDED',
    typedExtensionProtocolOptions: {
      [HTTP_PROTOCOL_OPTIONS_KEY]: {
        '@type': HTTP_PROTOCOL_OPTIONS_TYPE,
        commonHttpProtocolOptions: { idleTimeout: '300s' },
        useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
      },
    },
  };
}

function inboundPassthroughCluster(proxy: ProxyView, mesh: MeshConfig): Cluster {
  const v4 = proxy.ipAddresses.length === 0 || proxy.ipAddresses.some((a) => isIPv4(a));
  return {
    ...passthroughCluster(mesh),
    name: INBOUND_PASSTHROUGH_CLUSTER,
    upstreamBindConfig: { sourceAddress: { address: v4 ? INBOUND_PASSTHROUGH_BIND.v4 : INBOUND_PASSTHROUGH_BIND.v6, portValue: 0 } },
  };
}

// ---------------------------------------------------------------------------------------------
// Proxyless gRPC

/** Least request where the gRPC client implements it (grpc-js does not), round robin otherwise. */
const GRPC_LEAST_REQUEST: LoadBalancingPolicy = {
  policies: [
    { typedExtensionConfig: { name: 'envoy.load_balancing_policies.least_request', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest' } } },
    { typedExtensionConfig: { name: 'envoy.load_balancing_policies.round_robin', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin' } } },
  ],
};

/**
 * Clusters for a proxyless gRPC client: EDS only (it cannot resolve DNS clusters or dial an
 * original destination, so PASSTHROUGH balancing stays EDS too), balanced by ROUND_ROBIN unless the rule asks for a consistent hash
 * (RING_HASH; gRPC has no MAGLEV, whose affinity RING_HASH keeps) or LEAST_REQUEST (offered first,
 * round robin after it, as a client picks the first it supports). No HTTP protocol options, DNS or
 * panic settings, which gRPC ignores or refuses; TLS only when the rule asks for ISTIO_MUTUAL.
 */
function grpcClusters(proxy: ProxyView, snapshot: MeshSnapshot, imported: readonly ImportedService[], names: ReadonlySet<string> | 'all'): Cluster[] {
  const out: Cluster[] = [];
  for (const { service, ports } of imported) {
    if (service.resolution !== 'ClientSideLB') continue;
    const rule = snapshot.destinationRule(service.hostname, proxy.namespace, proxy.labels);
    for (const port of ports) {
      for (const subset of [undefined, ...(rule?.subsets ?? [])]) {
        const name = outboundClusterName(port.port, subset?.name, service.hostname);
        if (names !== 'all' && !names.has(name)) continue;
        const policy = effectiveTrafficPolicy(rule, port.port, subset?.name);
        const transport = upstreamTransport({
          tls: policy.tls, sni: outboundSni(port.port, subset?.name, service.hostname), identities: identities(snapshot, service, port), autoMtls: false, http2: true, generator: 'grpc',
        });
        const maxRequests = policy.connectionPool?.http?.http2MaxRequests;
        const outlier = policy.outlierDetection === undefined ? undefined : outlierDetectionToCluster(policy.outlierDetection);
        out.push({
          name,
          type: 'EDS',
          edsClusterConfig: { edsConfig: ADS, serviceName: name },
          ...grpcLoadBalancing(policy),
          ...(maxRequests !== undefined && maxRequests > 0 && { circuitBreakers: { thresholds: [{ maxRequests }] } }),
          ...(outlier !== undefined && { outlierDetection: outlier }),
          ...(transport.transportSocket !== undefined && { transportSocket: transport.transportSocket }),
          metadata: { filterMetadata: { istio: outboundMetadata(service, port, rule, subset) } },
        });
      }
    }
  }
  return out;
}

function grpcLoadBalancing(policy: ClusterTrafficPolicy): Pick<Cluster, 'lbPolicy' | 'ringHashLbConfig' | 'loadBalancingPolicy'> {
  const lb = policy.loadBalancer;
  const hash = lb?.consistentHash;
  if (hash !== undefined) {
    const size = hash.ringHash?.minimumRingSize ?? hash.minimumRingSize;
    return { lbPolicy: 'RING_HASH', ...(size !== undefined && size > 0 && { ringHashLbConfig: { minimumRingSize: size } }) };
  }
  if (lb?.simple === 'LEAST_REQUEST' || lb?.simple === 'LEAST_CONN') return { lbPolicy: 'ROUND_ROBIN', loadBalancingPolicy: GRPC_LEAST_REQUEST };
  return { lbPolicy: 'ROUND_ROBIN' };
}
