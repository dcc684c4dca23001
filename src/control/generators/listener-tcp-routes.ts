import type { Resource } from '../../config/index.ts';
import { resolveGatewayReference } from '../../config/analysis/index.ts';
import type { L4MatchAttributes, RouteDestination, TLSMatchAttributes } from '../../config/kinds/networking/virtual-service.ts';
import type { FilterChainMatch } from '../../xds/envoy/index.ts';
import { labelsMatch, type Labels } from '../model/index.ts';
import { destinationCluster, type RouteTranslationContext } from './http-route-translation.ts';
import { cidrRange, type TcpTarget } from './listener-filters.ts';

/**
 * VirtualService `tcp` and `tls` rules as filter chain matches and TCP targets. Like HTTP rules,
 * a match block applies only to its port and to the proxies (or gateways) it selects.
 */

export interface L4Source {
  readonly listenPort: number;
  readonly gatewayNames: ReadonlySet<string>;
  readonly proxyLabels: Labels;
  readonly proxyNamespace: string;
}

/** A filter chain match (empty: any connection) and where its connections go. */
export interface L4Route {
  readonly match: FilterChainMatch;
  readonly target: TcpTarget;
}

type L4Match = L4MatchAttributes | TLSMatchAttributes;

function matchApplies(match: L4Match, vsNamespace: string, source: L4Source): boolean {
  if (match.port !== undefined && match.port !== source.listenPort) return false;
  if (match.gateways !== undefined && match.gateways.length > 0) {
    return match.gateways.some((g) => {
      const gateway = resolveGatewayReference(g, vsNamespace);
      return source.gatewayNames.has(gateway === 'mesh' ? 'mesh' : `${gateway.namespace}/${gateway.name}`);
    });
  }
  if (!labelsMatch(match.sourceLabels, source.proxyLabels)) return false;
  return match.sourceNamespace === undefined || match.sourceNamespace === '' || match.sourceNamespace === source.proxyNamespace;
}

/** Destinations as tcp_proxy targets: one cluster, or those of non-zero weight. */
export function tcpTarget(route: readonly RouteDestination[], vsNamespace: string, ctx: Pick<RouteTranslationContext, 'listenPort' | 'resolveHost' | 'service'>): TcpTarget {
  const weighted = route.length > 1 ? route.filter((d) => (d.weight ?? 0) > 0) : route;
  if (weighted.length <= 1) {
    const destination = (weighted[0] ?? route[0])!;
    return { cluster: destinationCluster(destination.destination, vsNamespace, ctx) };
  }
  return { weightedClusters: weighted.map((d) => ({ name: destinationCluster(d.destination, vsNamespace, ctx), weight: d.weight ?? 0 })) };
}

/**
 * The `tcp` rules of a VirtualService as routes, first rule first: a match block with
 * destinationSubnets narrows by destination IP; the first rule that applies to every connection
 * (no match, or a block without subnets) ends the list, since nothing after it is reachable.
 */
export function tcpRoutes(vs: Resource<'VirtualService'>, source: L4Source, ctx: Pick<RouteTranslationContext, 'listenPort' | 'resolveHost' | 'service'>): L4Route[] {
  const out: L4Route[] = [];
  for (const rule of vs.object.spec.tcp ?? []) {
    const target = tcpTarget(rule.route, vs.namespace, ctx);
    const matches = rule.match ?? [];
    if (matches.length === 0) return [...out, { match: {}, target }];
    for (const match of matches) {
      if (!matchApplies(match, vs.namespace, source)) continue;
      const subnets = match.destinationSubnets ?? [];
      if (subnets.length === 0) return [...out, { match: {}, target }];
      out.push({ match: { prefixRanges: subnets.map(cidrRange) }, target });
    }
  }
  return out;
}

/** The `tls` rules of a VirtualService as routes by SNI (and destination subnets, when given). */
export function tlsRoutes(vs: Resource<'VirtualService'>, source: L4Source, ctx: Pick<RouteTranslationContext, 'listenPort' | 'resolveHost' | 'service'>): L4Route[] {
  const out: L4Route[] = [];
  for (const rule of vs.object.spec.tls ?? []) {
    const target = tcpTarget(rule.route, vs.namespace, ctx);
    for (const match of rule.match) {
      if (!matchApplies(match, vs.namespace, source)) continue;
      const subnets = match.destinationSubnets ?? [];
      out.push({ match: { ...(subnets.length > 0 ? { prefixRanges: subnets.map(cidrRange) } : {}), serverNames: match.sniHosts }, target });
    }
  }
  return out;
}
