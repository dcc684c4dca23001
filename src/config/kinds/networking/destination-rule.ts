import * as z from 'zod';
import { addIssue, ALWAYS, crossField, hostNameProblem, labels, WorkloadSelector } from '../../schema/common.ts';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';
import { exportTo, subsetName } from './shared.ts';
import { TrafficPolicy } from './traffic-policy.ts';

/**
 * Istio's rule for `host`: a DNS name, short (`reviews`) or fully qualified, with a wildcard only
 * in the first label; an IP address is not a host here (its last label would be all digits).
 */
export function destinationHostProblem(host: string): string | undefined {
  const problem = hostNameProblem(host);
  if (problem !== undefined) return problem;
  const labelsOf = (host.endsWith('.') ? host.slice(0, -1) : host).split('.');
  const tld = labelsOf[labelsOf.length - 1] ?? '';
  if (labelsOf.length > 1 && /^\d+$/.test(tld)) return `host "${host}" is not a service name: its top-level domain "${tld}" is all digits (IP addresses are not accepted here)`;
  return undefined;
}

export const Subset = z.strictObject({
  name: subsetName,
  labels: labels.optional(),
  trafficPolicy: TrafficPolicy.optional(),
});
export type Subset = z.infer<typeof Subset>;

export const DestinationRuleSpec = z
  .strictObject({
    host: z.string().check((ctx) => {
      const problem = destinationHostProblem(ctx.value);
      if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    }),
    trafficPolicy: TrafficPolicy.optional(),
    subsets: z.array(Subset).optional(),
    exportTo: exportTo.optional(),
    workloadSelector: WorkloadSelector.optional(),
  })
  .superRefine(crossField((dr, ctx) => {
    const names = new Map<string, number>();
    dr.subsets?.forEach((subset, i) => {
      const first = names.get(subset.name);
      if (first !== undefined) addIssue(ctx, ['subsets', i, 'name'], `subset "${subset.name}" is already defined at subsets[${first}]; subset names must be unique`);
      else names.set(subset.name, i);
    });
  }), ALWAYS);
export type DestinationRuleSpec = z.infer<typeof DestinationRuleSpec>;

export const DestinationRuleKind = defineKind({
  kind: 'DestinationRule',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(DestinationRuleSpec).superRefine(crossField((dr, ctx) => {
    // A rule for selected workloads applies inside its own namespace only (Istio's rule).
    if (dr.spec.workloadSelector === undefined || dr.spec.exportTo === undefined || dr.spec.exportTo.length === 0) return;
    const own = dr.metadata.namespace;
    const beyond = dr.spec.exportTo.filter((entry) => entry !== '.' && (own === undefined ? entry === '*' || entry === '~' : entry !== own));
    if (beyond.length > 0) {
      addIssue(ctx, ['spec', 'exportTo'], `a DestinationRule with a workloadSelector can be exported only to its own namespace ("."), got ${beyond.map((e) => `"${e}"`).join(', ')}`);
    } else if (dr.spec.exportTo.length > 1) {
      addIssue(ctx, ['spec', 'exportTo'], 'a DestinationRule with a workloadSelector can be exported only to its own namespace; give "." once');
    }
  }), ALWAYS),
});
export type DestinationRule = z.infer<typeof DestinationRuleKind.schema>;
