import type { Diagnostic } from '../../diagnostic.ts';
import { Messages } from '../../messages.ts';
import type { Resource } from '../../resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';
import { formatGatewayName, MESH_GATEWAY, resolveGatewayReference } from '../gateway-reference.ts';
import { hostsOverlap, resolveHost } from '../host-name.ts';

/**
 * A Gateway routes by the VirtualServices bound to it whose hosts it serves; when none of a
 * VirtualService's hosts (as written, or resolved when short) matches a host of the Gateway's
 * servers, the binding has no effect.
 * Server hosts written `<namespace>/<host>` count only for VirtualServices of that namespace
 * (`.` is the Gateway's, `*` any).
 */
export const virtualServiceHostNotFoundInGateway: Analyzer = {
  name: 'VirtualServiceHostNotFoundInGateway',
  messages: [Messages.VirtualServiceHostNotFoundInGateway],
  analyze(context: AnalysisContext): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const vs of context.ofKind('VirtualService')) {
      const hosts = vs.object.spec.hosts ?? [];
      if (hosts.length === 0) continue;
      vs.object.spec.gateways?.forEach((reference, i) => {
        const name = resolveGatewayReference(reference, vs.namespace);
        if (name === MESH_GATEWAY) return;
        const gateway = context.gateway(name);
        if (gateway === undefined) return;
        const served = hostsServedTo(gateway, vs.namespace);
        if (hosts.some((h) => served.some((s) => hostsOverlap(s, h) || hostsOverlap(s, resolveHost(h, vs.namespace))))) return;
        const serves = served.length > 0 ? `; it serves ${[...new Set(served)].join(', ')}` : '; it serves no host to this namespace';
        out.push(finding(
          Messages.VirtualServiceHostNotFoundInGateway,
          vs,
          `one or more host [${hosts.join(' ')}] defined in VirtualService ${vs.namespace}/${vs.name} not found in Gateway ${formatGatewayName(name)}${serves}.`,
          ['spec', 'gateways', i],
        ));
      });
    }
    return out;
  },
};

/** The hosts of a Gateway's servers that VirtualServices of `namespace` may bind. */
function hostsServedTo(gateway: Resource<'Gateway'>, namespace: string): string[] {
  return (gateway.object.spec.servers ?? []).flatMap((server) => server.hosts).flatMap((written) => {
    const slash = written.indexOf('/');
    if (slash < 0) return [written.toLowerCase()];
    const scope = written.slice(0, slash);
    const allowed = scope === '*' || (scope === '.' ? gateway.namespace === namespace : scope === namespace);
    return allowed ? [written.slice(slash + 1).toLowerCase()] : [];
  });
}
