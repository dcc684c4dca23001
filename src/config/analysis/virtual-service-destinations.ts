import type { Destination } from '../kinds/networking/shared.ts';
import type { VirtualService } from '../kinds/networking/virtual-service.ts';

/** A destination named by a VirtualService, with where it is written. */
export interface NamedDestination {
  readonly destination: Destination;
  /** Where traffic is sent: a route (http, tcp or tls) or a copy of it (mirror, mirrors). */
  readonly role: 'route' | 'mirror';
  /** The path of the Destination object below the resource's root. */
  readonly at: readonly PropertyKey[];
}

/** Every destination of a VirtualService, in the order written: http routes and mirrors, then tls, then tcp. */
export function virtualServiceDestinations(vs: VirtualService): NamedDestination[] {
  const out: NamedDestination[] = [];
  const spec = vs.spec;
  spec.http?.forEach((rule, i) => {
    rule.route?.forEach((r, j) => out.push({ destination: r.destination, role: 'route', at: ['spec', 'http', i, 'route', j, 'destination'] }));
    if (rule.mirror !== undefined) out.push({ destination: rule.mirror, role: 'mirror', at: ['spec', 'http', i, 'mirror'] });
    rule.mirrors?.forEach((m, j) => out.push({ destination: m.destination, role: 'mirror', at: ['spec', 'http', i, 'mirrors', j, 'destination'] }));
  });
  spec.tls?.forEach((rule, i) => {
    rule.route.forEach((r, j) => out.push({ destination: r.destination, role: 'route', at: ['spec', 'tls', i, 'route', j, 'destination'] }));
  });
  spec.tcp?.forEach((rule, i) => {
    rule.route.forEach((r, j) => out.push({ destination: r.destination, role: 'route', at: ['spec', 'tcp', i, 'route', j, 'destination'] }));
  });
  return out;
}
