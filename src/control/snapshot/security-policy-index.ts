import { ofKind, type AnyResource, type Resource } from '../../config/index.ts';
import type { PolicyTargetReference } from '../../config/kinds/policy-target.ts';
import { labelsMatch, type Labels } from '../model/index.ts';
import { labelsKey } from './labels-key.ts';

/** The label by which a Kubernetes Gateway API gateway's pods name their Gateway. */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

export interface SecurityPolicyIndex {
  /** The AuthorizationPolicies that apply to a workload of `namespace` with `labels`, by namespace then name. */
  authorizationPolicies(namespace: string, labels: Labels): readonly Resource<'AuthorizationPolicy'>[];
  /** The RequestAuthentications that apply to a workload of `namespace` with `labels`, by namespace then name. */
  requestAuthentications(namespace: string, labels: Labels): readonly Resource<'RequestAuthentication'>[];
}

type SecurityKind = 'AuthorizationPolicy' | 'RequestAuthentication';

/**
 * Which AuthorizationPolicies and RequestAuthentications apply to a workload, by Istio's rules
 * (pilot/pkg/model/policyattachment.go): every policy of the workload's namespace and of the root
 * namespace whose selector matches its labels, so a root namespace policy without selector applies
 * to the whole mesh and one with a selector to the matching workloads of every namespace.
 *
 * `targetRef(s)` attach a policy only to the pods of a Kubernetes Gateway (those labelled
 * `gateway.networking.k8s.io/gateway-name`): a Gateway reference of the policy's own namespace
 * whose name is that label's value. Such pods also take selector policies. Service, ServiceEntry
 * and GatewayClass references serve waypoints in Istio, which Weft has not, so they attach to
 * nothing, and a policy with targetRefs never applies to other workloads.
 */
export function buildSecurityPolicyIndex(resources: readonly AnyResource[], rootNamespace: string): SecurityPolicyIndex {
  return {
    authorizationPolicies: lookup(ofKind(resources, 'AuthorizationPolicy'), rootNamespace),
    requestAuthentications: lookup(ofKind(resources, 'RequestAuthentication'), rootNamespace),
  };
}

function lookup<K extends SecurityKind>(policies: readonly Resource<K>[], rootNamespace: string): (namespace: string, labels: Labels) => readonly Resource<K>[] {
  const byNamespace = new Map<string, Resource<K>[]>();
  for (const policy of policies) {
    const list = byNamespace.get(policy.namespace);
    if (list === undefined) byNamespace.set(policy.namespace, [policy]);
    else list.push(policy);
  }
  const cache = new Map<string, readonly Resource<K>[]>();
  return (namespace, labels) => {
    const key = `${namespace}\n${labelsKey(labels)}`;
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const namespaces = [...new Set([rootNamespace, namespace])];
    const found = namespaces
      .flatMap((ns) => byNamespace.get(ns) ?? [])
      .filter((policy) => attaches(policy, namespace, labels))
      .sort(compareNames);
    cache.set(key, found);
    return found;
  };
}

function attaches(policy: Resource<SecurityKind>, namespace: string, labels: Labels): boolean {
  const spec = policy.object.spec;
  const targets = spec.targetRefs !== undefined && spec.targetRefs.length > 0 ? spec.targetRefs : spec.targetRef !== undefined ? [spec.targetRef] : [];
  if (targets.length === 0) return labelsMatch(spec.selector?.matchLabels, labels);
  const gateway = labels[GATEWAY_NAME_LABEL];
  return gateway !== undefined && policy.namespace === namespace && targets.some((t) => isGateway(t) && t.name === gateway);
}

function isGateway(ref: PolicyTargetReference): boolean {
  return ref.kind === 'Gateway' && ref.group === 'gateway.networking.k8s.io';
}

function compareNames(a: Resource, b: Resource): number {
  return compareText(a.namespace, b.namespace) || compareText(a.name, b.name);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
