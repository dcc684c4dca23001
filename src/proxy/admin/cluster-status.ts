/**
 * What `/clusters` shows of each cluster and host, given by the cluster manager. Stats are
 * Envoy's per-host ones (counters cx_connect_fail, cx_total, rq_error, rq_success, rq_timeout,
 * rq_total; gauges cx_active, rq_active).
 */
export interface HostStatus {
  /** `address:port`. */
  readonly address: string;
  readonly counters: Readonly<Record<string, number>>;
  readonly gauges: Readonly<Record<string, number>>;
  readonly hostname?: string;
  /** Envoy's health flags without their slash (`failed_outlier_check`, `failed_active_hc`, `failed_eds_health`, ...); none is healthy. */
  readonly healthFlags: readonly string[];
  readonly weight: number;
  readonly locality?: { readonly region?: string; readonly zone?: string; readonly subZone?: string };
  readonly priority: number;
  /** Outlier detection's success rate, 0..100; -1 when not computed. */
  readonly successRate?: number;
}

export interface CircuitBreakerThresholds {
  readonly priority: 'default' | 'high';
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
}

export interface ClusterStatus {
  readonly name: string;
  readonly observabilityName?: string;
  /** From CDS (true) or the bootstrap (false). */
  readonly addedViaApi: boolean;
  readonly circuitBreakers: readonly CircuitBreakerThresholds[];
  readonly hosts: readonly HostStatus[];
}

function healthFlags(host: HostStatus): string {
  return host.healthFlags.length === 0 ? 'healthy' : host.healthFlags.map((f) => `/${f}`).join('');
}

function splitHostPort(address: string): { address: string; portValue: number } {
  const colon = address.lastIndexOf(':');
  return { address: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), portValue: Number(address.slice(colon + 1)) };
}

/** Envoy's `/clusters` text: `cluster::key::value` lines, and `cluster::host::key::value` per host. */
export function formatClustersText(clusters: readonly ClusterStatus[]): string {
  const lines: string[] = [];
  for (const cluster of clusters) {
    const c = cluster.name;
    lines.push(`${c}::observability_name::${cluster.observabilityName ?? c}`);
    for (const cb of cluster.circuitBreakers) {
      const p = `${c}::${cb.priority}_priority`;
      lines.push(`${p}::max_connections::${cb.maxConnections}`, `${p}::max_pending_requests::${cb.maxPendingRequests}`, `${p}::max_requests::${cb.maxRequests}`, `${p}::max_retries::${cb.maxRetries}`);
    }
    lines.push(`${c}::added_via_api::${cluster.addedViaApi}`);
    for (const host of cluster.hosts) {
      const h = `${c}::${host.address}`;
      const stats = [...Object.entries(host.counters), ...Object.entries(host.gauges)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [name, value] of stats) lines.push(`${h}::${name}::${value}`);
      lines.push(
        `${h}::hostname::${host.hostname ?? ''}`,
        `${h}::health_flags::${healthFlags(host)}`,
        `${h}::weight::${host.weight}`,
        `${h}::region::${host.locality?.region ?? ''}`,
        `${h}::zone::${host.locality?.zone ?? ''}`,
        `${h}::sub_zone::${host.locality?.subZone ?? ''}`,
        `${h}::canary::false`,
        `${h}::priority::${host.priority}`,
        `${h}::success_rate::${host.successRate ?? -1}`,
        `${h}::local_origin_success_rate::-1`,
      );
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

const HEALTH_FLAG_FIELDS: Readonly<Record<string, string>> = {
  failed_active_hc: 'failedActiveHealthCheck',
  failed_outlier_check: 'failedOutlierCheck',
  degraded_active_hc: 'failedActiveDegradedCheck',
  pending_dynamic_removal: 'pendingDynamicRemoval',
  pending_active_hc: 'pendingActiveHc',
  excluded_via_immediate_hc_fail: 'excludedViaImmediateHcFail',
  active_hc_timeout: 'activeHcTimeout',
};

/** Envoy's `/clusters?format=json` (`envoy.admin.v3.Clusters`, proto3 JSON). */
export function formatClustersJson(clusters: readonly ClusterStatus[]): unknown {
  return {
    clusterStatuses: clusters.map((cluster) => ({
      name: cluster.name,
      observabilityName: cluster.observabilityName ?? cluster.name,
      addedViaApi: cluster.addedViaApi,
      circuitBreakers: {
        thresholds: cluster.circuitBreakers.map((cb) => ({
          ...(cb.priority === 'high' ? { priority: 'HIGH' } : {}),
          maxConnections: cb.maxConnections,
          maxPendingRequests: cb.maxPendingRequests,
          maxRequests: cb.maxRequests,
          maxRetries: cb.maxRetries,
        })),
      },
      hostStatuses: cluster.hosts.map((host) => {
        const health: Record<string, unknown> = {
          edsHealthStatus: host.healthFlags.includes('failed_eds_health') ? 'UNHEALTHY' : host.healthFlags.includes('degraded_eds_health') ? 'DEGRADED' : 'HEALTHY',
        };
        for (const flag of host.healthFlags) {
          const field = HEALTH_FLAG_FIELDS[flag];
          if (field !== undefined) health[field] = true;
        }
        return {
          address: { socketAddress: splitHostPort(host.address) },
          stats: [
            ...Object.entries(host.counters).map(([name, value]) => ({ name, value: String(value) })),
            ...Object.entries(host.gauges).map(([name, value]) => ({ type: 'GAUGE', name, value: String(value) })),
          ],
          healthStatus: health,
          ...(host.successRate === undefined || host.successRate < 0 ? {} : { successRate: { value: host.successRate } }),
          weight: host.weight,
          ...(host.hostname === undefined ? {} : { hostname: host.hostname }),
          priority: host.priority,
          ...(host.locality === undefined ? {} : { locality: host.locality }),
        };
      }),
    })),
  };
}
