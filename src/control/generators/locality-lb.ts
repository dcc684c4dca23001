import type { Labels } from '../model/index.ts';
import type { ClusterTrafficPolicy } from '../snapshot/index.ts';
import type { LbEndpoint, Locality, LocalityLbEndpoints } from '../../xds/envoy/index.ts';

type LocalityLbSetting = NonNullable<NonNullable<ClusterTrafficPolicy['loadBalancer']>['localityLbSetting']>;

/** An endpoint as built for Envoy, with what locality balancing reads of its workload. */
export interface PlacedEndpoint {
  readonly lbEndpoint: LbEndpoint;
  /** `region/zone/subzone`, '' when unknown. */
  readonly locality: string;
  readonly labels: Labels;
}

/** How a proxy balances across localities; undefined when locality balancing is off. */
export interface LocalityPolicy {
  /** The proxy's own `region/zone/subzone`. */
  readonly proxyLocality: string;
  readonly proxyLabels: Labels;
  readonly setting: LocalityLbSetting;
  /** Failover needs outlier detection: without it Envoy never sees a priority fail. */
  readonly failover: boolean;
}

/**
 * The locality setting that applies: the DestinationRule's, unless it says `enabled: false`; with
 * none, the mesh default, which Istio turns on (so outlier detection alone brings failover).
 */
export function localityPolicy(policy: ClusterTrafficPolicy, proxyLocality: string, proxyLabels: Labels): LocalityPolicy | undefined {
  const setting = policy.loadBalancer?.localityLbSetting ?? {};
  if (setting.enabled === false) return undefined;
  return { proxyLocality, proxyLabels, setting, failover: policy.outlierDetection !== undefined };
}

/** Whether the cluster must weigh localities (`commonLbConfig.localityWeightedLbConfig`), as Istio decides. */
export function weighsLocalities(locality: LocalityPolicy | undefined): boolean {
  if (locality === undefined) return false;
  const { setting } = locality;
  if ((setting.distribute ?? []).length > 0) return true;
  return locality.failover && ((setting.failover ?? []).length > 0 || (setting.failoverPriority ?? []).length > 0);
}

export function parseLocality(text: string): Locality {
  const [region = '', zone = '', subZone = ''] = text === '' ? [] : text.split('/');
  return { ...(region !== '' && { region }), ...(zone !== '' && { zone }), ...(subZone !== '' && { subZone }) };
}

interface Group {
  readonly key: string;
  readonly endpoints: readonly PlacedEndpoint[];
  weight: number;
  priority: number;
}

/**
 * Groups endpoints by locality (sorted, for stable output) and applies locality balancing:
 * `distribute` rewrites the locality weights for the proxy's locality and drops localities it does
 * not name; failover (with outlier detection) gives each locality a priority, 0 for the proxy's
 * own, then same zone, same region, other regions (a `failover` entry for the proxy's region
 * puts its target region before the rest), after splitting localities by `failoverPriority` labels
 * first when given. Priorities are renumbered 0..N without gaps, as Envoy and gRPC require.
 */
export function localityLbEndpoints(endpoints: readonly PlacedEndpoint[], locality: LocalityPolicy | undefined): LocalityLbEndpoints[] {
  const byLocality = new Map<string, PlacedEndpoint[]>();
  for (const e of endpoints) {
    const list = byLocality.get(e.locality);
    if (list === undefined) byLocality.set(e.locality, [e]);
    else list.push(e);
  }
  let groups: Group[] = [...byLocality.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, list]) => ({ key, endpoints: list, weight: totalWeight(list), priority: 0 }));
  if (locality !== undefined) {
    const { setting } = locality;
    if ((setting.distribute ?? []).length > 0) groups = distribute(groups, locality);
    else if (locality.failover) {
      const priorities = setting.failoverPriority ?? [];
      if (priorities.length > 0) groups = splitByLabels(groups, priorities, locality.proxyLabels);
      if (priorities.length === 0 || (setting.failover ?? []).length > 0) failoverByLocality(groups, locality);
      compactPriorities(groups);
    }
  }
  return groups.map((g) => ({
    locality: parseLocality(g.key),
    lbEndpoints: g.endpoints.map((e) => e.lbEndpoint),
    loadBalancingWeight: g.weight,
    ...(g.priority > 0 && { priority: g.priority }),
  }));
}

function totalWeight(endpoints: readonly PlacedEndpoint[]): number {
  return endpoints.reduce((sum, e) => sum + (e.lbEndpoint.loadBalancingWeight ?? 1), 0);
}

/** Istio's locality match: `region`, `region/zone`, `region/zone/subzone`, each part may be `*`; a missing part matches anything. */
export function localityMatches(locality: string, pattern: string): boolean {
  const [region = '', zone = '', subZone = ''] = locality.split('/');
  const [pRegion = '', pZone = '', pSubZone = ''] = pattern.split('/');
  const part = (p: string, v: string, optional: boolean): boolean => p === '*' || (optional && p === '') || p === v;
  return part(pRegion, region, false) && part(pZone, zone, true) && part(pSubZone, subZone, true);
}

function distribute(groups: readonly Group[], locality: LocalityPolicy): Group[] {
  const rule = (locality.setting.distribute ?? []).find((d) => localityMatches(locality.proxyLocality, d.from ?? ''));
  if (rule === undefined) return [...groups];
  const kept: Group[] = [];
  const unmatched = new Set(groups);
  for (const [pattern, weight] of Object.entries(rule.to ?? {})) {
    const matched = [...unmatched].filter((g) => localityMatches(g.key, pattern));
    const total = matched.reduce((sum, g) => sum + g.weight, 0);
    for (const g of matched) {
      unmatched.delete(g);
      // A wildcard naming several localities shares its weight among them by their own weights.
      g.weight = Math.max(1, Math.ceil((g.weight * weight) / total));
      kept.push(g);
    }
  }
  return groups.filter((g) => kept.includes(g));
}

/**
 * Splits each locality by how many of the `failoverPriority` labels its endpoints share with the
 * proxy, in order: all of them is priority 0; the first label that differs at index i gives n - i.
 * `key=value` compares the endpoint's label with that value instead of the proxy's.
 */
function splitByLabels(groups: readonly Group[], failoverPriority: readonly string[], proxyLabels: Labels): Group[] {
  const rules = failoverPriority.map((entry) => {
    const eq = entry.indexOf('=');
    return eq < 0 ? { key: entry, value: proxyLabels[entry] } : { key: entry.slice(0, eq), value: entry.slice(eq + 1) };
  });
  const out: Group[] = [];
  for (const g of groups) {
    const byPriority = new Map<number, PlacedEndpoint[]>();
    for (const e of g.endpoints) {
      const first = rules.findIndex((r) => e.labels[r.key] !== r.value);
      const priority = first < 0 ? 0 : rules.length - first;
      const list = byPriority.get(priority);
      if (list === undefined) byPriority.set(priority, [e]);
      else list.push(e);
    }
    for (const [priority, list] of [...byPriority.entries()].sort(([a], [b]) => a - b)) {
      out.push({ key: g.key, endpoints: list, weight: totalWeight(list), priority });
    }
  }
  return out;
}

/** Istio's locality priorities, added below the label priorities already assigned (each label level holds five). */
function failoverByLocality(groups: readonly Group[], locality: LocalityPolicy): void {
  const [region = '', zone = '', subZone = ''] = locality.proxyLocality.split('/');
  const regionFailover = (locality.setting.failover ?? []).find((f) => f.from === region);
  for (const g of groups) {
    const [gRegion = '', gZone = '', gSubZone = ''] = g.key.split('/');
    let priority = gRegion !== region ? 3 : gZone !== zone ? 2 : gSubZone !== subZone ? 1 : 0;
    if (priority === 3 && regionFailover !== undefined && gRegion !== regionFailover.to) priority = 4;
    g.priority = g.priority * 5 + priority;
  }
}

function compactPriorities(groups: readonly Group[]): void {
  const used = [...new Set(groups.map((g) => g.priority))].sort((a, b) => a - b);
  for (const g of groups) g.priority = used.indexOf(g.priority);
}
