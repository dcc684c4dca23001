import type { Diagnostic } from '../../diagnostic.ts';
import { Messages } from '../../messages.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';
import { resolveHost } from '../host-name.ts';
import { virtualServiceDestinations } from '../virtual-service-destinations.ts';

/**
 * A destination without `port` is ambiguous when its host exposes several ports: Istio cannot tell
 * which one the route is for.
 */
export const destinationPortSelectorRequired: Analyzer = {
  name: 'DestinationPortSelectorRequired',
  messages: [Messages.DestinationPortSelectorRequired],
  analyze(context: AnalysisContext): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const vs of context.ofKind('VirtualService')) {
      for (const { destination, at } of virtualServiceDestinations(vs.object)) {
        if (destination.port !== undefined) continue;
        const services = context.servicesForHost(resolveHost(destination.host, vs.namespace));
        const ports = [...new Set(services.flatMap((s) => s.ports.map((p) => p.number)))].sort((a, b) => a - b);
        if (ports.length < 2) continue;
        out.push(finding(
          Messages.DestinationPortSelectorRequired,
          vs,
          `This VirtualService routes to a service "${destination.host}" that exposes multiple ports [${ports.join(' ')}]. Specifying a port in the destination is required to disambiguate.`,
          [...at, 'host'],
        ));
      }
    }
    return out;
  },
};
