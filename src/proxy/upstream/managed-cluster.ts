import { assertNever, type Clock, type Logger, type Timers } from '../../core/index.ts';
import type { Cluster } from '../../xds/envoy/index.ts';
import type { Counter, Gauge, StatsScope } from '../telemetry/stats.ts';
import { SlotCircuitBreakers } from './circuit-breakers.ts';
import type { Picker, UpstreamCluster, UpstreamHost } from './cluster.ts';
import type { ClusterSettings } from './cluster-settings.ts';
import { DnsDiscovery, type Resolve } from './dns-discovery.ts';
import { EndpointHost, hostId } from './endpoint-host.ts';
import { EMPTY_ASSIGNMENT, type EndpointSpec, type ParsedAssignment } from './load-assignment.ts';
import { newOutlierRecord, OutlierDetector } from './outlier-detector.ts';
import { ClusterProvidedBalancer } from './load-balancers/cluster-provided.ts';
import { LeastRequestBalancer } from './load-balancers/least-request.ts';
import type { BalancerOptions, LoadBalancer, Random } from './load-balancers/load-balancer.ts';
import { MaglevBalancer } from './load-balancers/maglev.ts';
import { RandomBalancer } from './load-balancers/random.ts';
import { RingHashBalancer } from './load-balancers/ring-hash.ts';
import { RoundRobinBalancer } from './load-balancers/round-robin.ts';

export interface ManagedClusterDeps {
  /** The root scope; the cluster writes under `cluster.<statName>.`. */
  readonly stats: StatsScope;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly random: Random;
  readonly resolve: Resolve;
  readonly logger?: Logger | undefined;
}

/**
 * A cluster as the proxy runs it: its settings, circuit breakers, balancer and hosts. Endpoints
 * come from EDS (`setEndpoints`), from its own load assignment (STATIC), from DNS, or from the
 * connections themselves (ORIGINAL_DST).
 */
export class ManagedCluster implements UpstreamCluster {
  readonly name: string;
  readonly config: Cluster;
  readonly settings: ClusterSettings;
  readonly circuitBreakers: SlotCircuitBreakers;
  readonly outlierDetector: OutlierDetector | undefined;
  readonly connectTimeoutMs: number;
  readonly upstreamProtocol: UpstreamCluster['upstreamProtocol'];
  readonly #deps: ManagedClusterDeps;
  readonly #balancer: LoadBalancer;
  readonly #membership: { readonly total: Gauge; readonly healthy: Gauge; readonly degraded: Gauge; readonly change: Counter };
  #hosts: readonly EndpointHost[];
  #localityWeights: ReadonlyMap<string, number> = new Map();
  #dns: DnsDiscovery | undefined;

  /** `inherit`: the hosts of the cluster this one replaces, kept (with their requests in flight) where the endpoints stay. */
  constructor(config: Cluster, settings: ClusterSettings, deps: ManagedClusterDeps, inherit: readonly EndpointHost[] = []) {
    this.name = settings.name;
    this.config = config;
    this.settings = settings;
    this.connectTimeoutMs = settings.connectTimeoutMs;
    this.upstreamProtocol = settings.upstreamProtocol;
    this.#deps = deps;
    this.#hosts = inherit;
    const stats = deps.stats.scope('cluster').scope(settings.statName);
    this.circuitBreakers = new SlotCircuitBreakers(settings.limits, stats);
    this.#membership = {
      total: stats.gauge('membership_total'),
      healthy: stats.gauge('membership_healthy'),
      degraded: stats.gauge('membership_degraded'),
      change: stats.counter('membership_change'),
    };
    const panic = stats.counter('lb_healthy_panic');
    this.#balancer = balancer(settings, deps, { healthyPanicThreshold: settings.healthyPanicThreshold, localityWeighted: settings.localityWeighted, onPanic: () => panic.inc() });
    const outlier = settings.outlierDetection;
    // Ejections made under a detector this cluster no longer has would never end.
    if (outlier === undefined) for (const host of inherit) Object.assign(host.outlier, newOutlierRecord());
    this.outlierDetector = outlier === undefined ? undefined : new OutlierDetector(outlier, {
      stats,
      clock: deps.clock,
      timers: deps.timers,
      random: deps.random,
      hosts: () => this.#hosts,
      onHealthChange: () => this.#publish(this.#hosts, this.#localityWeights, false),
    });
  }

  /**
   * Brings in the endpoints: the load assignment of a STATIC cluster, the EDS assignment given (none
   * yet: no hosts, 503 UH), or DNS answers as they come, the replaced cluster's hosts serving until
   * the first one.
   */
  start(edsAssignment?: ParsedAssignment): void {
    const { type, loadAssignment } = this.settings;
    switch (type) {
      case 'STATIC':
        this.setEndpoints(loadAssignment ?? EMPTY_ASSIGNMENT);
        break;
      case 'EDS':
        this.setEndpoints(edsAssignment ?? EMPTY_ASSIGNMENT);
        break;
      case 'STRICT_DNS':
      case 'LOGICAL_DNS': {
        const assignment = loadAssignment ?? EMPTY_ASSIGNMENT;
        this.#publish(this.#hosts, assignment.localityWeights, false);
        this.#dns = new DnsDiscovery({
          endpoints: assignment.endpoints,
          logical: type === 'LOGICAL_DNS',
          family: this.settings.dnsLookupFamily,
          refreshMs: this.settings.dnsRefreshMs,
          resolve: this.#deps.resolve,
          timers: this.#deps.timers,
          onResolved: (endpoints) => this.setEndpoints({ endpoints, localityWeights: assignment.localityWeights }),
          onError: (hostname, error) => this.#deps.logger?.warn('DNS resolution failed', { cluster: this.name, hostname, error: String(error) }),
        });
        this.#dns.start();
        break;
      }
      case 'ORIGINAL_DST':
        break;
      default:
        assertNever(type);
    }
  }

  picker(): Picker {
    return this.#balancer.picker();
  }

  /** The cluster's hosts, healthy or not (for ORIGINAL_DST, those made so far). */
  hosts(): readonly UpstreamHost[] {
    return this.#balancer instanceof ClusterProvidedBalancer ? this.#balancer.hosts() : this.#hosts;
  }

  /** Replaces the endpoints and publishes a new picker; a host whose address stays is the same object, updated. */
  setEndpoints(assignment: ParsedAssignment): void {
    const previous = new Map<string, EndpointHost[]>();
    for (const host of this.#hosts) {
      const list = previous.get(host.id);
      if (list === undefined) previous.set(host.id, [host]);
      else list.push(host);
    }
    let changed = false;
    const hosts = assignment.endpoints.map((spec: EndpointSpec) => {
      const kept = previous.get(hostId(spec.address, spec.port))?.shift();
      if (kept === undefined) {
        changed = true;
        return new EndpointHost(spec);
      }
      kept.update(spec);
      return kept;
    });
    if ([...previous.values()].some((left) => left.length > 0)) changed = true;
    this.#publish(hosts, assignment.localityWeights, changed);
  }

  #publish(hosts: readonly EndpointHost[], localityWeights: ReadonlyMap<string, number>, changed: boolean): void {
    this.#hosts = hosts;
    this.#localityWeights = localityWeights;
    this.#balancer.update({ hosts, localityWeights });
    this.#membership.total.set(hosts.length);
    this.#membership.healthy.set(hosts.filter((h) => h.healthy).length);
    this.#membership.degraded.set(hosts.filter((h) => h.healthStatus === 'DEGRADED').length);
    if (changed) this.#membership.change.inc();
  }

  /** The hosts to carry over to a cluster that replaces this one. */
  endpointHosts(): readonly EndpointHost[] {
    return this.#hosts;
  }

  close(): void {
    this.#dns?.close();
    this.#dns = undefined;
    this.outlierDetector?.close();
    this.#balancer.close();
  }
}

function balancer(settings: ClusterSettings, deps: ManagedClusterDeps, common: BalancerOptions): LoadBalancer {
  const policy = settings.balancing;
  const { random, timers } = deps;
  switch (policy.kind) {
    case 'ROUND_ROBIN':
      return new RoundRobinBalancer(common);
    case 'LEAST_REQUEST':
      return new LeastRequestBalancer({ ...common, random, choiceCount: policy.choiceCount });
    case 'RANDOM':
      return new RandomBalancer({ ...common, random });
    case 'RING_HASH':
      return new RingHashBalancer({ ...common, random, minimumRingSize: policy.minimumRingSize, maximumRingSize: policy.maximumRingSize });
    case 'MAGLEV':
      return new MaglevBalancer({ ...common, random, tableSize: policy.tableSize });
    case 'CLUSTER_PROVIDED':
      return new ClusterProvidedBalancer({ timers, cleanupIntervalMs: settings.cleanupIntervalMs });
    default:
      return assertNever(policy);
  }
}
