import type { Resource } from '../../config/index.ts';
import { labelsMatch, type Labels } from '../model/index.ts';
import { isExportedTo, normalizeExportTo } from './export-to.ts';
import { HostIndex } from './host-index.ts';
import { labelsKey } from './labels-key.ts';
import type { EffectiveDestinationRule, EffectiveSubset } from './mesh-snapshot.ts';

interface RuleEntry {
  readonly resource: Resource<'DestinationRule'>;
  readonly host: string;
  readonly exportTo: readonly string[];
  /** matchLabels of the workloadSelector; undefined for a rule that applies to every client. */
  readonly selector: Labels | undefined;
}

/** Rules of one namespace by host, in input (creation) order. */
class RulePool {
  readonly #hosts = new HostIndex<RuleEntry[]>();

  add(entry: RuleEntry): void {
    const list = this.#hosts.get(entry.host);
    if (list === undefined) this.#hosts.set(entry.host, [entry]);
    else list.push(entry);
  }

  match(hostname: string): readonly RuleEntry[] | undefined {
    return this.#hosts.mostSpecific(hostname)?.value;
  }
}

export interface DestinationRuleIndex {
  lookup(hostname: string, clientNamespace: string, serviceNamespace: string | undefined, workloadLabels: Labels): EffectiveDestinationRule | undefined;
}

/**
 * DestinationRules indexed as Istio's PushContext indexes them. Each namespace has two pools: the
 * rules its own clients see (exported to it), and the rules it exports to others; the root
 * namespace also keeps its private rules apart. A rule with a workloadSelector is private to its
 * namespace.
 *
 * The lookup walks: the client's namespace (for a client in the root namespace, the root's private
 * rules only, so that mesh-wide catch-alls do not shadow a service's own rules), then the
 * service's namespace, then the root namespace. In each, the most specific host wins (exact, then
 * the longest wildcard); the first namespace with a rule for it decides, even when none of that
 * host's rules apply to the client there.
 */
export function buildDestinationRuleIndex(
  rules: readonly Resource<'DestinationRule'>[],
  resolveHost: (host: string, namespace: string) => string,
  rootNamespace: string,
): DestinationRuleIndex {
  const local = new Map<string, RulePool>();
  const exported = new Map<string, RulePool>();
  const rootLocal = new RulePool();
  const poolOf = (pools: Map<string, RulePool>, namespace: string): RulePool => {
    let pool = pools.get(namespace);
    if (pool === undefined) pools.set(namespace, (pool = new RulePool()));
    return pool;
  };

  for (const resource of rules) {
    const spec = resource.object.spec;
    const namespace = resource.namespace;
    const selector = spec.workloadSelector === undefined ? undefined : (spec.workloadSelector.matchLabels ?? {});
    const exportTo = selector !== undefined ? [namespace] : normalizeExportTo(spec.exportTo, namespace);
    const entry: RuleEntry = { resource, host: resolveHost(spec.host, namespace), exportTo, selector };
    if (isExportedTo(exportTo, namespace)) poolOf(local, namespace).add(entry);
    const privateOnly = exportTo.length === 1 && exportTo[0] === namespace;
    if (!privateOnly) poolOf(exported, namespace).add(entry);
    else if (namespace === rootNamespace) rootLocal.add(entry);
  }

  const cache = new Map<string, EffectiveDestinationRule | undefined>();
  return {
    lookup(hostname, clientNamespace, serviceNamespace, workloadLabels) {
      const key = `${hostname}\n${clientNamespace}\n${serviceNamespace ?? ''}\n${labelsKey(workloadLabels)}`;
      if (cache.has(key)) return cache.get(key);
      const result = find(hostname, clientNamespace, serviceNamespace, workloadLabels);
      cache.set(key, result);
      return result;
    },
  };

  function find(hostname: string, clientNamespace: string, serviceNamespace: string | undefined, workloadLabels: Labels): EffectiveDestinationRule | undefined {
    const own = clientNamespace === rootNamespace ? rootLocal : local.get(clientNamespace);
    const ownRules = own?.match(hostname);
    if (ownRules !== undefined) return choose(ownRules, clientNamespace, workloadLabels);
    for (const namespace of [serviceNamespace, rootNamespace]) {
      if (namespace === undefined) continue;
      const visible = exported.get(namespace)?.match(hostname)?.filter((e) => isExportedTo(e.exportTo, clientNamespace));
      if (visible !== undefined && visible.length > 0) return choose(visible, clientNamespace, workloadLabels);
    }
    return undefined;
  }
}

/**
 * Among the rules for one host, those with a workloadSelector in the client's namespace that selects
 * the client win (with any other rule of the same selector); otherwise the rules without selector.
 */
function choose(entries: readonly RuleEntry[], clientNamespace: string, workloadLabels: Labels): EffectiveDestinationRule | undefined {
  const selecting = entries.find((e) => e.selector !== undefined && e.resource.namespace === clientNamespace && labelsMatch(e.selector, workloadLabels));
  if (selecting !== undefined) {
    const key = labelsKey(selecting.selector!);
    return merge(entries.filter((e) => e.selector !== undefined && e.resource.namespace === clientNamespace && labelsKey(e.selector) === key));
  }
  const catchAll = entries.filter((e) => e.selector === undefined);
  return catchAll.length === 0 ? undefined : merge(catchAll);
}

/**
 * Several rules for one host merged as Istio merges them: the first (oldest) rule's top-level
 * traffic policy, or the next one's when it has none; subsets unioned, the first definition of a
 * name kept.
 */
function merge(entries: readonly RuleEntry[]): EffectiveDestinationRule {
  const subsets: EffectiveSubset[] = [];
  const names = new Set<string>();
  let trafficPolicy: EffectiveDestinationRule['trafficPolicy'];
  for (const { resource } of entries) {
    const spec = resource.object.spec;
    trafficPolicy ??= spec.trafficPolicy;
    for (const subset of spec.subsets ?? []) {
      if (names.has(subset.name)) continue;
      names.add(subset.name);
      subsets.push(Object.freeze({
        name: subset.name,
        labels: Object.freeze({ ...subset.labels }),
        ...(subset.trafficPolicy !== undefined ? { trafficPolicy: subset.trafficPolicy } : {}),
      }));
    }
  }
  return Object.freeze({
    host: entries[0]!.host,
    resources: Object.freeze(entries.map((e) => e.resource)),
    ...(trafficPolicy !== undefined ? { trafficPolicy } : {}),
    subsets: Object.freeze(subsets),
  });
}
