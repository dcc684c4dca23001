import type { Diagnostic } from '../../diagnostic.ts';
import { Messages } from '../../messages.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';
import { resolveHost } from '../host-name.ts';
import { virtualServiceDestinations } from '../virtual-service-destinations.ts';

/**
 * Destinations must name a host the mesh knows: a Service or a ServiceEntry host of the input.
 * A VirtualService routing to an unknown host is an Error (the route fails with 503); a
 * DestinationRule for an unknown host is a Warning (its policy applies to nothing), as istioctl has it.
 * A destination port the known host does not expose is reported as `host:port`.
 */
export const referencedHostNotFound: Analyzer = {
  name: 'ReferencedHostNotFound',
  messages: [Messages.ReferencedHostNotFound, Messages.UnknownDestinationRuleHost],
  analyze(context: AnalysisContext): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const vs of context.ofKind('VirtualService')) {
      for (const { destination, role, at } of virtualServiceDestinations(vs.object)) {
        const services = context.servicesForHost(resolveHost(destination.host, vs.namespace));
        const what = role === 'mirror' ? 'mirror host' : 'host';
        if (services.length === 0) {
          out.push(finding(Messages.ReferencedHostNotFound, vs, `Referenced ${what} not found: "${destination.host}"`, [...at, 'host']));
          continue;
        }
        const port = destination.port?.number;
        const declared = services.flatMap((s) => s.ports.map((p) => p.number));
        if (port !== undefined && declared.length > 0 && !declared.includes(port)) {
          out.push(finding(Messages.ReferencedHostNotFound, vs, `Referenced ${what}:port not found: "${destination.host}:${port}"`, [...at, 'port', 'number']));
        }
      }
    }
    for (const dr of context.destinationRules) {
      if (context.servicesForHost(dr.host).length > 0) continue;
      out.push(finding(
        Messages.UnknownDestinationRuleHost,
        dr.resource,
        `The host ${dr.resource.object.spec.host} defined in the DestinationRule does not match any services in the mesh.`,
        ['spec', 'host'],
      ));
    }
    return out;
  },
};
