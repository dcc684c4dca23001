import type { Resource } from '../../config/index.ts';
import type { EffectiveDestinationRule } from './mesh-snapshot.ts';

type TrafficPolicy = NonNullable<Resource<'DestinationRule'>['object']['spec']['trafficPolicy']>;

/** The policy of one cluster (one port of a host, maybe one subset): a TrafficPolicy with its port-level settings applied. */
export type ClusterTrafficPolicy = Omit<TrafficPolicy, 'portLevelSettings'>;

/** What a port-level setting may say; it replaces all four at once. */
const PORT_LEVEL_FIELDS = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls'] as const;
/** Set only at the top of a policy; a subset's overrides the rule's when given. */
const POLICY_WIDE_FIELDS = ['tunnel', 'proxyProtocol', 'retryBudget'] as const;

/**
 * The policy Istio applies to the cluster of `port` (and `subset`) of a DestinationRule's host:
 *
 * 1. the rule's top-level policy; when its `portLevelSettings` name `port`, that entry **replaces**
 *    loadBalancer, connectionPool, outlierDetection and tls (a field it leaves out takes Envoy's
 *    default, never the top-level value);
 * 2. then the subset's policy, resolved for `port` the same way, overrides field by field: a field
 *    the subset sets wins; when the subset has a port-level entry for `port`, all four port-level
 *    fields come from it, even those it leaves out.
 *
 * tunnel, proxyProtocol and retryBudget cannot be set per port, so a port-level entry leaves them
 * as the policy above it says (Istio drops them in that case, which reads as an oversight).
 * An unknown subset contributes nothing. Fields nothing sets are absent.
 */
export function effectiveTrafficPolicy(rule: EffectiveDestinationRule | undefined, port: number, subset?: string): ClusterTrafficPolicy {
  if (rule === undefined) return {};
  const top = atPort(rule.trafficPolicy, port);
  const subsetPolicy = subset === undefined ? undefined : rule.subsets.find((s) => s.name === subset)?.trafficPolicy;
  if (subsetPolicy === undefined) return top.policy;
  const own = atPort(subsetPolicy, port);
  const merged: Record<string, unknown> = { ...top.policy };
  for (const field of PORT_LEVEL_FIELDS) {
    if (own.portLevel || own.policy[field] !== undefined) merged[field] = own.policy[field];
  }
  for (const field of POLICY_WIDE_FIELDS) {
    if (own.policy[field] !== undefined) merged[field] = own.policy[field];
  }
  return withoutUnset(merged) as ClusterTrafficPolicy;
}

/** `policy` for one port, and whether a port-level entry decided it. */
function atPort(policy: TrafficPolicy | undefined, port: number): { policy: ClusterTrafficPolicy; portLevel: boolean } {
  if (policy === undefined) return { policy: {}, portLevel: false };
  const { portLevelSettings, ...rest } = policy;
  const setting = portLevelSettings?.find((s) => s.port?.number === port);
  if (setting === undefined) return { policy: withoutUnset(rest) as ClusterTrafficPolicy, portLevel: false };
  const replaced: Record<string, unknown> = { ...rest };
  for (const field of PORT_LEVEL_FIELDS) replaced[field] = setting[field];
  return { policy: withoutUnset(replaced) as ClusterTrafficPolicy, portLevel: true };
}

function withoutUnset(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
