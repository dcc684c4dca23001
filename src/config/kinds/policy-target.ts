import * as z from 'zod';
import { addIssue, ALWAYS, crossField, isDns1123Subdomain, PolicyTargetReference as TargetReferenceShape, WorkloadSelector } from '../schema/common.ts';

/**
 * How RequestAuthentication, AuthorizationPolicy and Telemetry choose the workloads they apply
 * to: a workload selector, or references to the resources whose traffic they govern.
 */

/** What Istio lets a policy target; the core group ('') is also spelt `core`. */
const TARGETABLE: readonly { group: string; kind: string }[] = [
  { group: 'core', kind: 'Service' },
  { group: 'networking.istio.io', kind: 'ServiceEntry' },
  { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
  { group: 'gateway.networking.k8s.io', kind: 'GatewayClass' },
];

const KIND_PATTERN = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

export const PolicyTargetReference = TargetReferenceShape.superRefine(crossField((ref, ctx) => {
  const group = ref.group ?? '';
  if (group !== '' && !isDns1123Subdomain(group)) addIssue(ctx, ['group'], `"${group}" is not an API group (a DNS-1123 subdomain such as gateway.networking.k8s.io, or "" for the core group)`);
  if (ref.kind.length > 63 || !KIND_PATTERN.test(ref.kind)) addIssue(ctx, ['kind'], `"${ref.kind}" is not a kind name (letters, digits and '-', starting with a letter)`);
  if (ref.name === '' || ref.name.length > 253) addIssue(ctx, ['name'], 'name must be 1..253 characters long');
  if (ref.namespace !== undefined && ref.namespace !== '') {
    addIssue(ctx, ['namespace'], 'cross-namespace references are not supported; leave namespace out (the target must be in the namespace of the policy)');
  }
  const canonical = group === '' ? 'core' : group;
  if (TARGETABLE.some((t) => t.kind === ref.kind && t.group === canonical)) return;
  const sameKind = TARGETABLE.find((t) => t.kind === ref.kind);
  if (sameKind !== undefined) {
    addIssue(ctx, ['group'], `${ref.kind} belongs to ${sameKind.group === 'core' ? 'the core group (group "" or left out)' : `group ${sameKind.group}`}, got group "${group}"`);
  } else {
    addIssue(ctx, ['kind'], `a policy can target a Service, a ServiceEntry (networking.istio.io), a Gateway or a GatewayClass (gateway.networking.k8s.io), got kind "${ref.kind}"`);
  }
}), ALWAYS);
export type PolicyTargetReference = z.infer<typeof PolicyTargetReference>;

/** The fields of a spec that choose its workloads; at most one of them may be set (see `checkSingleTarget`). */
export const targetSelection = {
  selector: WorkloadSelector.optional(),
  targetRef: PolicyTargetReference.optional(),
  targetRefs: z.array(PolicyTargetReference).max(16).optional(),
};

/** Istio's rule: selector, targetRef and targetRefs are mutually exclusive. */
export function checkSingleTarget(
  spec: { selector?: unknown; targetRef?: unknown; targetRefs?: readonly unknown[] | undefined },
  ctx: z.core.$RefinementCtx<unknown>,
): void {
  const set = (['selector', 'targetRef', 'targetRefs'] as const).filter((k) => (k === 'targetRefs' ? (spec.targetRefs?.length ?? 0) > 0 : spec[k] !== undefined));
  if (set.length > 1) addIssue(ctx, [set[1]!], `only one of selector, targetRef or targetRefs may be set, got ${set.join(' and ')}`);
}
