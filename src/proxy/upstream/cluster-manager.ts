import { isDeepStrictEqual } from 'node:util';
import { err, ok, type Clock, type Logger, type Result, type Timers } from '../../core/index.ts';
import { TypeUrl } from '../../xds/index.ts';
import type { Cluster, ClusterLoadAssignment } from '../../xds/envoy/index.ts';
import type { Counter, Gauge, StatsScope } from '../telemetry/stats.ts';
import type { ResourceHandler, ResourceUpdate } from '../xds-client/resource-handler.ts';
import type { CircuitBreakerLimits } from './circuit-breakers.ts';
import type { ClusterManager, UpstreamCluster, UpstreamHost } from './cluster.ts';
import { parseCluster, type ClusterSettings } from './cluster-settings.ts';
import { systemResolve, type Resolve } from './dns-discovery.ts';
import { EndpointHost } from './endpoint-host.ts';
import { EMPTY_ASSIGNMENT, parseLoadAssignment, type ParsedAssignment } from './load-assignment.ts';
import type { Random } from './load-balancers/load-balancer.ts';
import { ManagedCluster } from './managed-cluster.ts';

export interface XdsClusterManagerOptions {
  /** The root stats scope: `cluster.<name>.*` and `cluster_manager.*` go under it. */
  readonly stats: StatsScope;
  /** DNS refreshes and ORIGINAL_DST cleanups. */
  readonly timers: Timers;
  /** Stamps config_dump's `lastUpdated`. */
  readonly clock: Clock;
  /** For the balancers that draw at random. */
  readonly random: Random;
  /** Resolves STRICT_DNS and LOGICAL_DNS names; the system resolver by default. */
  readonly resolve?: Resolve;
  readonly logger?: Logger;
}

/** What config_dump and `/clusters` show of the cluster manager. */
export interface ClusterManagerDump {
  /** config_dump's ClustersConfigDump.dynamicActiveClusters. */
  readonly clusters: readonly { readonly versionInfo: string; readonly lastUpdated: string; readonly cluster: Cluster }[];
  /** config_dump's EndpointsConfigDump.dynamicEndpointConfigs. */
  readonly endpoints: readonly { readonly versionInfo: string; readonly lastUpdated: string; readonly endpointConfig: ClusterLoadAssignment }[];
  /** `/clusters`: each cluster's limits and hosts. */
  readonly statuses: readonly ClusterStatus[];
}

export interface ClusterStatus {
  readonly name: string;
  readonly type: ClusterSettings['type'];
  readonly circuitBreakers: CircuitBreakerLimits;
  readonly hosts: readonly HostStatus[];
}

export interface HostStatus {
  /** `address:port`. */
  readonly id: string;
  readonly hostname: string | undefined;
  readonly weight: number;
  readonly priority: number;
  readonly locality: string;
  /** Envoy's health flags: `healthy`, or `/failed_eds_health`, `/eds_status_draining`, `/degraded_eds_health`. */
  readonly healthFlags: string;
  readonly cxActive: number;
  readonly cxTotal: number;
  readonly cxConnectFail: number;
  readonly rqActive: number;
  readonly rqTotal: number;
  readonly rqError: number;
  readonly rqTimeout: number;
}

interface ClusterEntry {
  readonly cluster: ManagedCluster;
  readonly versionInfo: string;
  readonly lastUpdated: string;
}

interface AssignmentEntry {
  readonly raw: ClusterLoadAssignment;
  readonly parsed: ParsedAssignment;
  readonly versionInfo: string;
  readonly lastUpdated: string;
}

/**
 * The clusters from CDS with their endpoints from EDS. Each update is checked whole and applied
 * whole, or refused (NACK) with every problem named by cluster and field while the last good
 * clusters keep serving. An unchanged cluster is kept as it is; a changed one is replaced, keeping
 * the hosts whose addresses stay. An EDS cluster has no hosts until its assignment arrives.
 */
export class XdsClusterManager implements ClusterManager {
  /** The CDS handler (`TypeUrl.Cluster`); its dependencies are the EDS names of the EDS clusters. */
  readonly cds: ResourceHandler;
  /** The EDS handler (`TypeUrl.ClusterLoadAssignment`). */
  readonly eds: ResourceHandler;
  readonly #options: XdsClusterManagerOptions;
  readonly #clusters = new Map<string, ClusterEntry>();
  readonly #assignments = new Map<string, AssignmentEntry>();
  readonly #stats: { readonly added: Counter; readonly modified: Counter; readonly removed: Counter; readonly active: Gauge };

  constructor(options: XdsClusterManagerOptions) {
    this.#options = options;
    const stats = options.stats.scope('cluster_manager');
    this.#stats = {
      added: stats.counter('cluster_added'),
      modified: stats.counter('cluster_modified'),
      removed: stats.counter('cluster_removed'),
      active: stats.gauge('active_clusters'),
    };
    this.cds = {
      typeUrl: TypeUrl.Cluster,
      apply: (update) => this.#applyClusters(update),
      dependencies: () => ({ typeUrl: TypeUrl.ClusterLoadAssignment, names: this.#edsNames() }),
    };
    this.eds = {
      typeUrl: TypeUrl.ClusterLoadAssignment,
      apply: (update) => this.#applyAssignments(update),
    };
  }

  get(name: string): UpstreamCluster | undefined {
    return this.#clusters.get(name)?.cluster;
  }

  names(): readonly string[] {
    return [...this.#clusters.keys()];
  }

  dump(): ClusterManagerDump {
    const entries = [...this.#clusters.values()];
    return {
      clusters: entries.map((e) => ({ versionInfo: e.versionInfo, lastUpdated: e.lastUpdated, cluster: e.cluster.config })),
      endpoints: [...this.#assignments.values()].map((a) => ({ versionInfo: a.versionInfo, lastUpdated: a.lastUpdated, endpointConfig: a.raw })),
      statuses: entries.map(({ cluster }) => ({
        name: cluster.name,
        type: cluster.settings.type,
        circuitBreakers: cluster.settings.limits,
        hosts: cluster.hosts().map(hostStatus),
      })),
    };
  }

  /** Stops every cluster's DNS refreshes and cleanups. */
  close(): void {
    for (const { cluster } of this.#clusters.values()) cluster.close();
    this.#clusters.clear();
    this.#stats.active.set(0);
  }

  #applyClusters(update: ResourceUpdate): Result<void, string> {
    const problems: string[] = [];
    const accepted: { config: Cluster; settings: ClusterSettings }[] = [];
    for (const [name, resource] of update.resources) {
      const config = resource as Cluster;
      const parsed = parseCluster(config);
      if (!parsed.ok) problems.push(...parsed.error.map((p) => `cluster "${name}": ${p}`));
      else if (parsed.value.name !== name) problems.push(`cluster "${name}": name: must be the resource's name (got "${parsed.value.name}")`);
      else accepted.push({ config, settings: parsed.value });
    }
    if (problems.length > 0) return err(problems.join('; '));

    for (const name of update.removed) {
      const entry = this.#clusters.get(name);
      if (entry === undefined) continue;
      entry.cluster.close();
      this.#clusters.delete(name);
      this.#stats.removed.inc();
    }
    const now = new Date(this.#options.clock.now()).toISOString();
    for (const { config, settings } of accepted) {
      const existing = this.#clusters.get(settings.name);
      if (existing !== undefined && isDeepStrictEqual(existing.cluster.config, config)) continue;
      const cluster = new ManagedCluster(config, settings, {
        stats: this.#options.stats,
        timers: this.#options.timers,
        clock: this.#options.clock,
        random: this.#options.random,
        resolve: this.#options.resolve ?? systemResolve,
        logger: this.#options.logger,
      }, existing?.cluster.endpointHosts() ?? []);
      cluster.start(settings.edsServiceName === undefined ? undefined : this.#assignments.get(settings.edsServiceName)?.parsed);
      existing?.cluster.close();
      this.#clusters.set(settings.name, { cluster, versionInfo: update.version, lastUpdated: now });
      (existing === undefined ? this.#stats.added : this.#stats.modified).inc();
    }
    // Assignments no cluster reads any more would only go stale.
    const used = this.#edsNames();
    for (const name of this.#assignments.keys()) if (!used.has(name)) this.#assignments.delete(name);
    this.#stats.active.set(this.#clusters.size);
    return ok(undefined);
  }

  #applyAssignments(update: ResourceUpdate): Result<void, string> {
    const problems: string[] = [];
    const accepted: { name: string; raw: ClusterLoadAssignment; parsed: ParsedAssignment }[] = [];
    for (const [name, resource] of update.resources) {
      const raw = resource as ClusterLoadAssignment;
      const parsed = parseLoadAssignment(raw, 'ip');
      if (parsed.ok) accepted.push({ name, raw, parsed: parsed.value });
      else problems.push(...parsed.error.map((p) => `cluster load assignment "${name}": ${p}`));
    }
    if (problems.length > 0) return err(problems.join('; '));

    const now = new Date(this.#options.clock.now()).toISOString();
    for (const name of update.removed) {
      if (!this.#assignments.delete(name)) continue;
      this.#edsClusters(name).forEach((c) => c.setEndpoints(EMPTY_ASSIGNMENT));
    }
    for (const { name, raw, parsed } of accepted) {
      this.#assignments.set(name, { raw, parsed, versionInfo: update.version, lastUpdated: now });
      this.#edsClusters(name).forEach((c) => c.setEndpoints(parsed));
    }
    return ok(undefined);
  }

  #edsNames(): Set<string> {
    const names = new Set<string>();
    for (const { cluster } of this.#clusters.values()) if (cluster.settings.edsServiceName !== undefined) names.add(cluster.settings.edsServiceName);
    return names;
  }

  #edsClusters(serviceName: string): ManagedCluster[] {
    return [...this.#clusters.values()].map((e) => e.cluster).filter((c) => c.settings.edsServiceName === serviceName);
  }
}

const HEALTH_FLAGS: Readonly<Record<string, string>> = {
  UNHEALTHY: '/failed_eds_health',
  TIMEOUT: '/failed_eds_health',
  DRAINING: '/eds_status_draining',
  DEGRADED: '/degraded_eds_health',
};

function hostStatus(host: UpstreamHost): HostStatus {
  const stats = host.stats;
  const status = host instanceof EndpointHost ? host.healthStatus : host.healthy ? 'HEALTHY' : 'UNHEALTHY';
  return {
    id: host.id,
    hostname: host.hostname,
    weight: host.weight,
    priority: host.priority,
    locality: host.locality,
    healthFlags: `${host.outlier?.ejected === true ? '/failed_outlier_check' : ''}${HEALTH_FLAGS[status] ?? ''}` || 'healthy',
    cxActive: stats?.cxActive ?? 0,
    cxTotal: stats?.cxTotal ?? 0,
    cxConnectFail: stats?.cxConnectFail ?? 0,
    rqActive: host.activeRequests,
    rqTotal: stats?.rqTotal ?? 0,
    rqError: stats?.rqError ?? 0,
    rqTimeout: stats?.rqTimeout ?? 0,
  };
}
