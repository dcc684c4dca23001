import type { Diagnostic } from '../../diagnostic.ts';
import { Messages } from '../../messages.ts';
import type { AnyResource } from '../../resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';
import { ROOT_NAMESPACE } from '../host-name.ts';
import { formatSelector, selectorMatches, type Labels } from '../label-selector.ts';

interface SelectingResource {
  readonly resource: AnyResource;
  readonly labels: Labels | undefined;
  readonly at: readonly PropertyKey[];
}

/**
 * A policy whose selector matches no workload of its namespace does nothing. Offline input rarely
 * carries the workloads, so a namespace is checked only when the input has at least one workload
 * (Pod, Deployment, WorkloadEntry) in it; for the root namespace, whose selectors reach every
 * namespace, when the input has any workload. Gateway pods are seldom in the input (local mode
 * runs its gateway without one) and run in the root namespace (Istio's install, local mode), so a
 * root-namespace selector that a Gateway's selector satisfies is taken to select them; the same
 * selector in another namespace selects nothing there unless its workloads match.
 */
export const noMatchingWorkloads: Analyzer = {
  name: 'NoMatchingWorkloads',
  messages: [Messages.NoMatchingWorkloads],
  analyze(context: AnalysisContext): Diagnostic[] {
    const matchLabels = ['spec', 'selector', 'matchLabels'];
    const selecting: SelectingResource[] = [
      ...context.ofKind('AuthorizationPolicy').map((resource) => ({ resource, labels: resource.object.spec.selector?.matchLabels, at: matchLabels })),
      ...context.ofKind('PeerAuthentication').map((resource) => ({ resource, labels: resource.object.spec.selector?.matchLabels, at: matchLabels })),
      ...context.ofKind('RequestAuthentication').map((resource) => ({ resource, labels: resource.object.spec.selector?.matchLabels, at: matchLabels })),
      ...context.ofKind('Telemetry').map((resource) => ({ resource, labels: resource.object.spec.selector?.matchLabels, at: matchLabels })),
      ...context.ofKind('LocalRateLimit').map((resource) => ({ resource, labels: resource.object.spec.selector?.matchLabels, at: matchLabels })),
      ...context.ofKind('Sidecar').map((resource) => ({ resource, labels: resource.object.spec.workloadSelector?.labels, at: ['spec', 'workloadSelector', 'labels'] })),
    ];
    const gatewayPods = context.ofKind('Gateway').flatMap((g) => (Object.keys(g.object.spec.selector ?? {}).length > 0 ? [g.object.spec.selector ?? {}] : []));
    const out: Diagnostic[] = [];
    for (const { resource, labels, at } of selecting) {
      if (labels === undefined || Object.keys(labels).length === 0) continue;
      if (context.workloadsIn(resource.namespace).length === 0) continue;
      if (resource.namespace === ROOT_NAMESPACE && gatewayPods.some((podLabels) => selectorMatches(labels, podLabels))) continue;
      if (context.workloadsSelectedBy(resource.namespace, labels).length > 0) continue;
      out.push(finding(Messages.NoMatchingWorkloads, resource, `No matching workloads for this resource with the following labels: ${formatSelector(labels)}`, at));
    }
    return out;
  },
};
