import type { Resource } from '../../config/index.ts';
import { formatGatewayName, MESH_GATEWAY, resolveGatewayReference } from '../../config/analysis/index.ts';
import type { Destination } from '../../config/kinds/networking/shared.ts';
import type { HTTPRoute, VirtualServiceSpec } from '../../config/kinds/networking/virtual-service.ts';
import { mergeDelegateRoutes } from './delegate-merge.ts';
import { isExportedTo, isPublic, normalizeExportTo } from './export-to.ts';
import type { GatewayBinding } from './mesh-snapshot.ts';

type VirtualService = Resource<'VirtualService'>;

export interface VirtualServiceIndex {
  forBinding(binding: GatewayBinding, namespace: string): readonly VirtualService[];
}

/**
 * VirtualServices indexed as Istio's PushContext indexes them: names resolved, delegates merged
 * into their roots, then each VirtualService filed under every gateway its top-level `gateways`
 * names (`mesh` when none) and by visibility: public (exportTo `*`), private to its namespace, or
 * exported to named namespaces. Match-level `gateways` do not bind; they only narrow routes of a
 * bound VirtualService, which is the generators' business.
 */
export function buildVirtualServiceIndex(
  virtualServices: readonly VirtualService[],
  resolveHost: (host: string, namespace: string) => string,
): VirtualServiceIndex {
  const resolved = virtualServices.map((vs) => resolveNames(vs, resolveHost));
  const delegates = new Map<string, VirtualService>();
  for (const vs of resolved) {
    if ((vs.object.spec.hosts ?? []).length === 0) delegates.set(`${vs.namespace}/${vs.name}`, vs);
  }

  const publicByBinding = new Map<string, VirtualService[]>();
  const privateByBinding = new Map<string, VirtualService[]>();
  const exportedByBinding = new Map<string, VirtualService[]>();
  const file = (map: Map<string, VirtualService[]>, key: string, vs: VirtualService): void => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [vs]);
    else list.push(vs);
  };
  for (const original of resolved) {
    if ((original.object.spec.hosts ?? []).length === 0) continue;
    const vs = withDelegatesMerged(original, delegates);
    const gateways = vs.object.spec.gateways ?? [];
    const bindings = new Set(gateways.length === 0 ? [MESH_GATEWAY] : gateways);
    const exportTo = normalizeExportTo(vs.object.spec.exportTo, vs.namespace);
    for (const binding of bindings) {
      if (isPublic(exportTo)) {
        file(publicByBinding, binding, vs);
        continue;
      }
      for (const namespace of exportTo) {
        file(namespace === vs.namespace ? privateByBinding : exportedByBinding, `${namespace}\n${binding}`, vs);
      }
    }
  }

  const cache = new Map<string, readonly VirtualService[]>();
  return {
    forBinding(binding, namespace) {
      const key = `${namespace}\n${binding}`;
      let out = cache.get(key);
      if (out === undefined) {
        out = Object.freeze([...(privateByBinding.get(key) ?? []), ...(exportedByBinding.get(key) ?? []), ...(publicByBinding.get(binding) ?? [])]);
        cache.set(key, out);
      }
      return out;
    },
  };
}

/**
 * The VirtualService with each delegating HTTP route replaced by the delegate's routes (see
 * `mergeDelegateRoutes`). A route whose delegate is missing, has hosts (so is no delegate), or is
 * not exported to the root's namespace is dropped, as Istio drops it. Delegation is one level:
 * routes of a delegate that delegate again are dropped.
 */
function withDelegatesMerged(vs: VirtualService, delegates: ReadonlyMap<string, VirtualService>): VirtualService {
  const http = vs.object.spec.http;
  if (http === undefined || !http.some((route) => route.delegate !== undefined)) return vs;
  const merged = http.flatMap((route): HTTPRoute[] => {
    if (route.delegate === undefined) return [route];
    const delegate = delegates.get(`${route.delegate.namespace ?? vs.namespace}/${route.delegate.name}`);
    if (delegate === undefined) return [];
    if (!isExportedTo(normalizeExportTo(delegate.object.spec.exportTo, delegate.namespace), vs.namespace)) return [];
    const { delegate: _delegate, ...root } = route;
    const routes = (delegate.object.spec.http ?? []).filter((r) => r.delegate === undefined);
    return mergeDelegateRoutes(root, routes);
  });
  return withSpec(vs, { ...vs.object.spec, http: merged });
}

/**
 * Names as Istio resolves them before anything else (resolveVirtualServiceShortnames): hosts and
 * destination hosts to FQDNs in the VirtualService's namespace, gateway references to
 * `namespace/name`. Done before delegates are merged, so a delegate's short names stay in its own
 * namespace.
 */
function resolveNames(vs: VirtualService, resolveHost: (host: string, namespace: string) => string): VirtualService {
  const namespace = vs.namespace;
  const spec = vs.object.spec;
  const host = (h: string): string => resolveHost(h, namespace);
  const destination = (d: Destination): Destination => ({ ...d, host: host(d.host) });
  const gateways = (list: readonly string[] | undefined): string[] | undefined =>
    list?.map((g) => {
      const ref = resolveGatewayReference(g, namespace);
      return ref === MESH_GATEWAY ? ref : formatGatewayName(ref);
    });
  const matchGateways = <M extends { gateways?: string[] | undefined }>(matches: readonly M[] | undefined): M[] | undefined =>
    matches?.map((m) => (m.gateways === undefined ? m : { ...m, gateways: gateways(m.gateways) }));

  const resolvedSpec: VirtualServiceSpec = {
    ...spec,
    ...(spec.hosts !== undefined ? { hosts: spec.hosts.map(host) } : {}),
    ...(spec.gateways !== undefined ? { gateways: gateways(spec.gateways) } : {}),
    ...(spec.http !== undefined ? {
      http: spec.http.map((r) => ({
        ...r,
        ...(r.match !== undefined ? { match: matchGateways(r.match) } : {}),
        ...(r.route !== undefined ? { route: r.route.map((d) => ({ ...d, destination: destination(d.destination) })) } : {}),
        ...(r.mirror !== undefined ? { mirror: destination(r.mirror) } : {}),
        ...(r.mirrors !== undefined ? { mirrors: r.mirrors.map((m) => ({ ...m, destination: destination(m.destination) })) } : {}),
      })),
    } : {}),
    ...(spec.tls !== undefined ? {
      tls: spec.tls.map((r) => ({ ...r, match: matchGateways(r.match)!, route: r.route.map((d) => ({ ...d, destination: destination(d.destination) })) })),
    } : {}),
    ...(spec.tcp !== undefined ? {
      tcp: spec.tcp.map((r) => ({
        ...r,
        ...(r.match !== undefined ? { match: matchGateways(r.match) } : {}),
        route: r.route.map((d) => ({ ...d, destination: destination(d.destination) })),
      })),
    } : {}),
  };
  return withSpec(vs, resolvedSpec);
}

function withSpec(vs: VirtualService, spec: VirtualServiceSpec): VirtualService {
  return Object.freeze({ ...vs, object: Object.freeze({ ...vs.object, spec }) });
}
