import type { AnyResource, Resource } from '../../config/index.ts';
import type { Labels, MeshConfig, Protocol, Workload } from '../model/index.ts';
import type { EffectivePeerAuthentication } from './peer-authentication-index.ts';

/** A port of a service in the registry. */
export interface ServicePort {
  readonly name: string;
  readonly port: number;
  /** Where endpoints listen: a number, a workload port name, or undefined for the same number. */
  readonly targetPort?: number | string;
  readonly protocol: Protocol;
}

/**
 * A service in the registry: a Kubernetes Service (`reviews.default.svc.cluster.local`) or a
 * ServiceEntry host. A ServiceEntry whose host equals a Service's decorates that service.
 */
export interface MeshService {
  readonly hostname: string;
  /** The short name: the Service's name, or the ServiceEntry host. */
  readonly name: string;
  readonly namespace: string;
  /**
   * The virtual IP, when there is one: a Service's clusterIP, a ServiceEntry's first address (which
   * may be a CIDR block), or one allocated from 240.240.0.0/16. None for headless Services,
   * ExternalName Services, and ServiceEntries with resolution NONE or wildcard hosts.
   */
  readonly address?: string;
  readonly ports: readonly ServicePort[];
  /** How clients reach endpoints: ClientSideLB (EDS), DNS, DNSRoundRobin, or Passthrough (original destination). */
  readonly resolution: 'ClientSideLB' | 'DNS' | 'DNSRoundRobin' | 'Passthrough';
  readonly meshExternal: boolean;
  /** Namespaces that see the service: '*' for all, '.' resolved to its own namespace. */
  readonly exportTo: readonly string[];
  readonly labels: Labels;
  readonly origin: Resource<'Service'> | Resource<'ServiceEntry'>;
}

/** One endpoint of a service port: a workload address and the port it listens on. */
export interface MeshEndpoint {
  readonly address: string;
  readonly port: number;
  readonly labels: Labels;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly locality: string;
  readonly network: string;
  readonly weight: number;
  readonly healthy: boolean;
  readonly tlsMode: 'istio' | 'disabled';
  readonly workload?: Workload;
}

/** A DestinationRule subset, as merged. */
export interface EffectiveSubset {
  readonly name: string;
  readonly labels: Labels;
  readonly trafficPolicy?: NonNullable<Resource<'DestinationRule'>['object']['spec']['trafficPolicy']>;
}

/** The DestinationRule that applies to a host from a client namespace, merged as Istio merges several. */
export interface EffectiveDestinationRule {
  /** The rule's host, resolved: the service's hostname, or the wildcard that covers it. */
  readonly host: string;
  readonly resources: readonly Resource<'DestinationRule'>[];
  readonly trafficPolicy?: NonNullable<Resource<'DestinationRule'>['object']['spec']['trafficPolicy']>;
  readonly subsets: readonly EffectiveSubset[];
}

/** `mesh` (every sidecar) or a Gateway as `namespace/name`. */
export type GatewayBinding = 'mesh' | `${string}/${string}`;

/**
 * An immutable, indexed view of configuration and registry at one moment (Istio's PushContext).
 * Generators read only this; a new snapshot replaces the old by one reference swap.
 */
export interface MeshSnapshot {
  readonly version: number;
  readonly mesh: MeshConfig;
  readonly resources: readonly AnyResource[];
  readonly workloads: readonly Workload[];
  /** Every service, sorted by hostname. */
  readonly services: readonly MeshService[];
  service(hostname: string): MeshService | undefined;
  /** Services that `namespace` may see (exportTo), sorted by hostname. */
  servicesVisibleTo(namespace: string): readonly MeshService[];
  /** Endpoints of one port of a service; only those whose labels match `subsetLabels` when given. */
  endpoints(service: MeshService, port: number, subsetLabels?: Labels): readonly MeshEndpoint[];
  /**
   * VirtualServices bound to `binding` (by their top-level `gateways`) and visible from `namespace`,
   * in Istio's order: those private to `namespace`, then those exported to it by name, then public
   * ones, each group in input (creation) order. Delegates are merged into their parents and never
   * returned themselves. Names are resolved as Istio resolves them before use: hosts and
   * destination hosts to FQDNs (in the namespace of the resource that wrote them), gateways to
   * `namespace/name`.
   */
  virtualServices(binding: GatewayBinding, namespace: string): readonly Resource<'VirtualService'>[];
  /**
   * The DestinationRule for `hostname` seen from `namespace`: client namespace, then host namespace,
   * then root. `workloadLabels` (the client proxy's) choose among rules with a workloadSelector in
   * the client's namespace; without them, only such rules with an empty selector apply.
   */
  destinationRule(hostname: string, namespace: string, workloadLabels?: Labels): EffectiveDestinationRule | undefined;
  /** Gateways whose selector matches a gateway proxy's labels (in any namespace, as Istio does by default). */
  gatewaysFor(labels: Labels): readonly Resource<'Gateway'>[];
  /** The Sidecar resource scoping a proxy: one selecting it in its namespace, else the namespace default, else the root namespace's. */
  sidecarFor(namespace: string, labels: Labels): Resource<'Sidecar'> | undefined;
  /**
   * The LocalRateLimit a proxy enforces: one of its namespace selecting it, else its namespace's
   * without selector, else the root namespace's, likewise (see local-rate-limit-index.ts).
   */
  localRateLimitFor(namespace: string, labels: Labels): Resource<'LocalRateLimit'> | undefined;
  /** The mTLS mode of a workload's ports, by Istio's PeerAuthentication precedence (see peer-authentication-index.ts). */
  peerAuthenticationFor(namespace: string, labels: Labels): EffectivePeerAuthentication;
  /** The AuthorizationPolicies that apply to a workload, by namespace then name. */
  authorizationPoliciesFor(namespace: string, labels: Labels): readonly Resource<'AuthorizationPolicy'>[];
  /** The RequestAuthentications that apply to a workload, by namespace then name. */
  requestAuthenticationsFor(namespace: string, labels: Labels): readonly Resource<'RequestAuthentication'>[];
  /** The key set fetched from a RequestAuthentication's `jwksUri` when the snapshot was built; undefined while it is not. */
  jwks(uri: string): string | undefined;
  /** Resolves a host as written in a resource of `namespace` (`reviews` -> `reviews.<namespace>.svc.cluster.local`). */
  resolveHost(host: string, namespace: string): string;
}
