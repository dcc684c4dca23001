import type { Diagnostic } from '../../diagnostic.ts';
import { Messages } from '../../messages.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';
import { MESH_GATEWAY, resolveGatewayReference } from '../gateway-reference.ts';

/**
 * Every gateway a VirtualService names, in `gateways` or in a match's `gateways`, must be a Gateway
 * of the input (`mesh` is reserved; `<name>` is in the VirtualService's namespace).
 */
export const referencedGatewayNotFound: Analyzer = {
  name: 'ReferencedGatewayNotFound',
  messages: [Messages.ReferencedGatewayNotFound],
  analyze(context: AnalysisContext): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const vs of context.ofKind('VirtualService')) {
      const spec = vs.object.spec;
      const references: { name: string; at: PropertyKey[] }[] = [];
      spec.gateways?.forEach((name, i) => references.push({ name, at: ['spec', 'gateways', i] }));
      for (const protocol of ['http', 'tls', 'tcp'] as const) {
        spec[protocol]?.forEach((rule, i) => {
          rule.match?.forEach((match, j) => {
            match.gateways?.forEach((name, k) => references.push({ name, at: ['spec', protocol, i, 'match', j, 'gateways', k] }));
          });
        });
      }
      for (const { name, at } of references) {
        const gateway = resolveGatewayReference(name, vs.namespace);
        if (gateway === MESH_GATEWAY || context.gateway(gateway) !== undefined) continue;
        out.push(finding(Messages.ReferencedGatewayNotFound, vs, `Referenced gateway not found: "${name}"`, at));
      }
    }
    return out;
  },
};
