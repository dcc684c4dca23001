import type { Diagnostic } from '../../diagnostic.ts';
import { Messages } from '../../messages.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';
import { resolveHost } from '../host-name.ts';
import { virtualServiceDestinations } from '../virtual-service-destinations.ts';

/**
 * A destination's subset must be defined by the DestinationRule that applies to that host for the
 * VirtualService's clients (its namespace, then the host's, then istio-system: the first that has
 * rules for the host wins). Otherwise Envoy has no such cluster and the route answers 503.
 */
export const referencedSubsetNotFound: Analyzer = {
  name: 'ReferencedSubsetNotFound',
  messages: [Messages.ReferencedSubsetNotFound],
  analyze(context: AnalysisContext): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const vs of context.ofKind('VirtualService')) {
      for (const { destination, role, at } of virtualServiceDestinations(vs.object)) {
        const subset = destination.subset;
        if (subset === undefined) continue;
        const rules = context.destinationRulesFor(resolveHost(destination.host, vs.namespace), vs.namespace);
        if (rules.some((dr) => (dr.resource.object.spec.subsets ?? []).some((s) => s.name === subset))) continue;
        const what = role === 'mirror' ? 'mirror+subset' : 'host+subset';
        out.push(finding(Messages.ReferencedSubsetNotFound, vs, `Referenced ${what} in destinationrule not found: "${destination.host}+${subset}"`, [...at, 'subset']));
      }
    }
    return out;
  },
};
