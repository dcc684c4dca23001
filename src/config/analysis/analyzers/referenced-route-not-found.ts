import type { Diagnostic } from '../../diagnostic.ts';
import type { HTTPRoute } from '../../kinds/networking/virtual-service.ts';
import { resolveVirtualServiceReference } from '../../kinds/weft/local-rate-limit.ts';
import { Messages } from '../../messages.ts';
import type { Resource } from '../../resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';

/**
 * Every route a LocalRateLimit limits (`routes[].virtualService` and `route`) must be an http
 * route of a VirtualService of the input; otherwise the limit applies to nothing. A route that
 * delegates stands for its delegate's routes, named as the control plane names them once merged:
 * `<route>-<delegate route>` (or `<route>` for an unnamed delegate route).
 */
export const referencedRouteNotFound: Analyzer = {
  name: 'ReferencedRouteNotFound',
  messages: [Messages.ReferencedRouteNotFound],
  analyze(context: AnalysisContext): Diagnostic[] {
    const virtualServices = new Map(context.ofKind('VirtualService').map((vs) => [`${vs.namespace}/${vs.name}`, vs]));
    const out: Diagnostic[] = [];
    for (const limit of context.ofKind('LocalRateLimit')) {
      limit.object.spec.routes.forEach((entry, i) => {
        const ref = resolveVirtualServiceReference(entry.virtualService, limit.namespace);
        const vs = virtualServices.get(`${ref.namespace}/${ref.name}`);
        if (vs === undefined) {
          out.push(finding(Messages.ReferencedRouteNotFound, limit, `Referenced VirtualService not found: "${ref.namespace}/${ref.name}", so the limit of route "${entry.route}" applies to nothing`, ['spec', 'routes', i, 'virtualService']));
          return;
        }
        const names = routeNames(vs, virtualServices);
        if (names.includes(entry.route)) return;
        const known = names.length > 0 ? `its http routes are named ${names.map((n) => `"${n}"`).join(', ')}` : 'none of its http routes has a name';
        out.push(finding(Messages.ReferencedRouteNotFound, limit, `VirtualService ${vs.namespace}/${vs.name} has no http route named "${entry.route}" (${known}), so the limit applies to nothing`, ['spec', 'routes', i, 'route']));
      });
    }
    return out;
  },
};

/** The names the http routes of `vs` carry once delegates are merged into it. */
function routeNames(vs: Resource<'VirtualService'>, virtualServices: ReadonlyMap<string, Resource<'VirtualService'>>): string[] {
  const names = new Set<string>();
  for (const rule of vs.object.spec.http ?? []) {
    if (rule.delegate === undefined) {
      if (rule.name !== undefined && rule.name !== '') names.add(rule.name);
      continue;
    }
    const delegate = virtualServices.get(`${rule.delegate.namespace ?? vs.namespace}/${rule.delegate.name}`);
    for (const inner of delegate?.object.spec.http ?? []) {
      const name = joinedName(rule, inner);
      if (name !== undefined) names.add(name);
    }
  }
  return [...names];
}

function joinedName(root: HTTPRoute, inner: HTTPRoute): string | undefined {
  if (inner.name === undefined || inner.name === '') return root.name;
  return root.name !== undefined && root.name !== '' ? `${root.name}-${inner.name}` : inner.name;
}
