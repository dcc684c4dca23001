import type { UpstreamHost } from '../cluster.ts';
import { localityKey, type BalancerOptions, type HostSet } from './load-balancer.ts';

/** Envoy's default overprovisioning factor, in percent: a priority at 1/1.4 healthy still takes all its load. */
export const OVERPROVISIONING_FACTOR = 140;
export const DEFAULT_HEALTHY_PANIC_THRESHOLD = 50;

/** The hosts of one locality at one priority. */
export interface LocalityGroup {
  readonly locality: string;
  /** The configured weight (hash balancers fold it into host weights). */
  readonly weight: number;
  /** weight x availability (min(1, 1.4 x healthy / total)): what the other balancers choose a locality by. */
  readonly effectiveWeight: number;
  /** The level's hosts in this locality. */
  readonly hosts: readonly UpstreamHost[];
}

/** One priority as balancing sees it. */
export interface PriorityLevel {
  readonly priority: number;
  /** Too few healthy hosts: balance over all of them. */
  readonly panic: boolean;
  /** The hosts to balance over: the healthy ones, or all of them in panic. */
  readonly hosts: readonly UpstreamHost[];
  /** The same hosts by locality, when the cluster weighs localities. */
  readonly localities?: readonly LocalityGroup[];
}

/** Which priorities take traffic and how much, computed once per host set update. */
export interface PriorityPlan {
  /** The priorities that have hosts, lowest number first. */
  readonly levels: readonly PriorityLevel[];
  /** Percent of requests each level takes; sums to 100 when there are levels. */
  readonly loads: readonly number[];
}

/**
 * Envoy's priority load computation. Each priority's health is min(100, 1.4 x healthy% ); load
 * goes to priority 0 up to its health and spills over to the next as health drops. When the
 * priorities together are under 100% available, a priority whose healthy share is below the
 * panic threshold balances over all its hosts; when every priority is in panic, load is shared by
 * host count. With a threshold of 0 and no healthy host, nothing is chosen (503).
 */
export function planPriorities(set: HostSet, options: BalancerOptions): PriorityPlan {
  const threshold = options.healthyPanicThreshold ?? DEFAULT_HEALTHY_PANIC_THRESHOLD;
  const byPriority = new Map<number, UpstreamHost[]>();
  for (const host of set.hosts) {
    const list = byPriority.get(host.priority);
    if (list === undefined) byPriority.set(host.priority, [host]);
    else list.push(host);
  }
  const priorities = [...byPriority.keys()].sort((a, b) => a - b);
  if (priorities.length === 0) return { levels: [], loads: [] };

  const all = priorities.map((p) => byPriority.get(p)!);
  const healthy = all.map((hosts) => hosts.filter((h) => h.healthy));
  const health = all.map((hosts, i) => Math.min(100, Math.floor((OVERPROVISIONING_FACTOR * healthy[i]!.length) / hosts.length)));
  const totalAvailability = Math.min(100, health.reduce((a, b) => a + b, 0));

  let loads: number[];
  let panic: boolean[];
  if (totalAvailability === 0 && threshold === 0) {
    loads = all.map((_, i) => (i === 0 ? 100 : 0));
    panic = all.map(() => false);
  } else {
    loads = distribute(health, totalAvailability);
    panic = all.map((hosts, i) => totalAvailability < 100 && (100 * healthy[i]!.length) / hosts.length < threshold);
    if (panic.every(Boolean)) {
      const total = all.reduce((sum, hosts) => sum + hosts.length, 0);
      loads = all.map((hosts) => Math.floor((100 * hosts.length) / total));
      loads[0]! += 100 - loads.reduce((a, b) => a + b, 0);
    }
  }

  const levels = priorities.map((priority, i): PriorityLevel => {
    const hosts = panic[i]! ? all[i]! : healthy[i]!;
    const localities = options.localityWeighted === true ? localityGroups(priority, hosts, all[i]!, healthy[i]!, set.localityWeights) : undefined;
    return { priority, panic: panic[i]!, hosts, ...(localities !== undefined && { localities }) };
  });
  return { levels, loads };
}

/** Load in priority order, each level up to its share of the total availability; rounding leftovers go to the first available level. */
function distribute(health: readonly number[], totalAvailability: number): number[] {
  if (totalAvailability === 0) return health.map(() => 0);
  let remaining = 100;
  const loads = health.map((h) => {
    const load = Math.min(remaining, Math.floor((h * 100) / totalAvailability));
    remaining -= load;
    return load;
  });
  const first = health.findIndex((h) => h > 0);
  if (remaining > 0 && first >= 0) loads[first]! += remaining;
  return loads;
}

function localityGroups(
  priority: number, hosts: readonly UpstreamHost[], all: readonly UpstreamHost[], healthy: readonly UpstreamHost[], weights: ReadonlyMap<string, number>,
): LocalityGroup[] {
  const count = (list: readonly UpstreamHost[]): Map<string, number> => {
    const out = new Map<string, number>();
    for (const h of list) out.set(h.locality, (out.get(h.locality) ?? 0) + 1);
    return out;
  };
  const totals = count(all);
  const healthyCounts = count(healthy);
  const members = new Map<string, UpstreamHost[]>();
  for (const h of hosts) {
    const list = members.get(h.locality);
    if (list === undefined) members.set(h.locality, [h]);
    else list.push(h);
  }
  return [...members.entries()].map(([locality, list]) => {
    const weight = weights.get(localityKey(priority, locality)) ?? 0;
    const availability = Math.min(1, ((OVERPROVISIONING_FACTOR / 100) * (healthyCounts.get(locality) ?? 0)) / totals.get(locality)!);
    return { locality, weight, effectiveWeight: weight * availability, hosts: list };
  });
}

/** The level to use for a number in [0, 100): levels take consecutive ranges as wide as their loads. */
export function levelFor(plan: PriorityPlan, value: number): number {
  let aggregate = 0;
  for (let i = 0; i < plan.loads.length; i++) {
    aggregate += plan.loads[i]!;
    if (value < aggregate) return i;
  }
  return 0;
}

/**
 * Each host's share of a level's traffic (summing to 1), for the hash balancers: the host's weight
 * within its locality times the locality's share of the configured locality weights when the
 * cluster weighs localities (as Envoy builds rings and tables), else its share of all host weights.
 * Localities whose weights are all zero fall back to host weights alone.
 */
export function hostShares(level: PriorityLevel): { readonly host: UpstreamHost; readonly share: number }[] {
  const localities = level.localities;
  const localityTotal = localities?.reduce((sum, l) => sum + l.weight, 0) ?? 0;
  if (localities === undefined || localityTotal === 0) {
    const total = level.hosts.reduce((sum, h) => sum + h.weight, 0);
    return level.hosts.map((host) => ({ host, share: host.weight / total }));
  }
  return localities.flatMap((l) => {
    if (l.weight === 0) return [];
    const total = l.hosts.reduce((sum, h) => sum + h.weight, 0);
    return l.hosts.map((host) => ({ host, share: (host.weight / total) * (l.weight / localityTotal) }));
  });
}
