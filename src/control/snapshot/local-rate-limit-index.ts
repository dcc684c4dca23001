import type { Resource } from '../../config/index.ts';
import { labelsMatch, type Labels } from '../model/index.ts';
import { labelsKey } from './labels-key.ts';

export interface LocalRateLimitIndex {
  /** The LocalRateLimit that applies to a proxy of `namespace` with `labels`, if any. */
  lookup(namespace: string, labels: Labels): Resource<'LocalRateLimit'> | undefined;
}

/**
 * LocalRateLimits by namespace. One applies to a proxy, whole (its workload bucket and its route
 * limits together), so that a narrower one can also lift a broader one. The most specific wins,
 * by Istio's policy convention: one of the proxy's namespace whose selector matches it, then one
 * of its namespace without selector, then one of the root namespace whose selector matches, then
 * one of the root namespace without selector. Between several at the same level, Istio's conflict
 * rule: the oldest `creationTimestamp` (none counts as oldest, as Kubernetes' zero time), then
 * name, then namespace.
 */
export function buildLocalRateLimitIndex(limits: readonly Resource<'LocalRateLimit'>[], rootNamespace: string): LocalRateLimitIndex {
  const byNamespace = new Map<string, Resource<'LocalRateLimit'>[]>();
  for (const limit of [...limits].sort(compareAge)) {
    const list = byNamespace.get(limit.namespace);
    if (list === undefined) byNamespace.set(limit.namespace, [limit]);
    else list.push(limit);
  }
  const cache = new Map<string, Resource<'LocalRateLimit'> | undefined>();

  const pick = (namespace: string, labels: Labels): Resource<'LocalRateLimit'> | undefined => {
    const tiers = namespace === rootNamespace ? [namespace] : [namespace, rootNamespace];
    for (const tier of tiers) {
      const candidates = byNamespace.get(tier) ?? [];
      const selecting = candidates.find((l) => hasSelector(l) && labelsMatch(l.object.spec.selector?.matchLabels, labels));
      if (selecting !== undefined) return selecting;
      const wide = candidates.find((l) => !hasSelector(l));
      if (wide !== undefined) return wide;
    }
    return undefined;
  };

  return {
    lookup(namespace, labels) {
      const key = `${namespace}\n${labelsKey(labels)}`;
      if (cache.has(key)) return cache.get(key);
      const found = pick(namespace, labels);
      cache.set(key, found);
      return found;
    },
  };
}

/** An empty selector (or none) selects the whole namespace, as in Istio. */
function hasSelector(limit: Resource<'LocalRateLimit'>): boolean {
  return Object.keys(limit.object.spec.selector?.matchLabels ?? {}).length > 0;
}

function compareAge(a: Resource<'LocalRateLimit'>, b: Resource<'LocalRateLimit'>): number {
  return creationTime(a) - creationTime(b) || compareText(a.name, b.name) || compareText(a.namespace, b.namespace);
}

/** Milliseconds since the epoch; 0 (the oldest) when the resource does not say or says something unreadable. */
function creationTime(limit: Resource<'LocalRateLimit'>): number {
  const stamp = limit.object.metadata.creationTimestamp;
  const time = stamp instanceof Date ? stamp.getTime() : typeof stamp === 'string' ? Date.parse(stamp) : 0;
  return Number.isNaN(time) ? 0 : time;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
