import type { Picker, UpstreamHost } from '../cluster.ts';

/** The hosts of a cluster, as EDS, static config or DNS gave them, with the weights of their localities. */
export interface HostSet {
  /** Every host, healthy or not, at every priority. */
  readonly hosts: readonly UpstreamHost[];
  /**
   * `LocalityLbEndpoints.loadBalancingWeight` by `localityKey(priority, locality)`; read only when
   * the cluster weighs localities, where a locality without a weight gets no traffic (as in Envoy).
   */
  readonly localityWeights: ReadonlyMap<string, number>;
}

export const EMPTY_HOST_SET: HostSet = { hosts: [], localityWeights: new Map() };

export function localityKey(priority: number, locality: string): string {
  return `${priority}|${locality}`;
}

/** What every balancer takes from the cluster's `commonLbConfig`. */
export interface BalancerOptions {
  /** Percent of healthy hosts in a priority below which it balances over all its hosts (panic); Envoy's default is 50. */
  readonly healthyPanicThreshold?: number;
  /** `commonLbConfig.localityWeightedLbConfig`: choose a locality by weight x health first, then a host in it. */
  readonly localityWeighted?: boolean;
  /** Called each time a host is chosen from a priority in panic (Envoy's `lb_healthy_panic`). */
  readonly onPanic?: () => void;
}

/** A source of uniform numbers in [0, 1), injected so that tests choose the sequence. */
export type Random = () => number;

/**
 * Balances a cluster's hosts: takes host set updates and publishes an immutable picker for each.
 * A request uses the picker current when it asks; an older picker keeps working for whoever holds it.
 */
export interface LoadBalancer {
  update(hosts: HostSet): void;
  picker(): Picker;
  /** Stops timers the balancer owns, if any. */
  close(): void;
}

export const EMPTY_PICKER: Picker = { pick: () => undefined };
