import type { PathNormalizationOptions } from './security/index.ts';
import { isIPv6 } from 'node:net';
import type { Address, ConfigSource } from '../../xds/envoy/index.ts';
import {
  CORS_TYPE, FAULT_TYPE, HTTP_CONNECTION_MANAGER_TYPE, HTTP_FILTER, HTTP_INSPECTOR_TYPE, LISTENER_FILTER, NETWORK_FILTER, ROUTER_TYPE, TCP_PROXY_TYPE,
  TLS_INSPECTOR_TYPE,
  type CidrRange, type Filter, type FilterChain, type HttpConnectionManager, type HttpFilter, type ListenerFilter, type RouteConfiguration,
} from '../../xds/envoy/index.ts';
import { BLACK_HOLE_CLUSTER, PASSTHROUGH_CLUSTER } from './cluster-name.ts';

/** The building blocks of listeners: network filters, HTTP filter lists, listener filters, addresses. */

export const ADS_CONFIG_SOURCE: ConfigSource = { ads: {}, resourceApiVersion: 'V3' };

/** What http_inspector reports for plain-text HTTP, which filter chains match to take HTTP. */
export const HTTP_APPLICATION_PROTOCOLS: readonly string[] = ['http/1.0', 'http/1.1', 'h2c'];

export const HTTP_INSPECTOR: ListenerFilter = { name: LISTENER_FILTER.httpInspector, typedConfig: { '@type': HTTP_INSPECTOR_TYPE } };
export const TLS_INSPECTOR: ListenerFilter = { name: LISTENER_FILTER.tlsInspector, typedConfig: { '@type': TLS_INSPECTOR_TYPE } };
/** Restores a redirected connection's original destination, so that chains can match its port. */
export const ORIGINAL_DST: ListenerFilter = {
  name: 'envoy.filters.listener.original_dst',
  typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' },
};

export function socketAddress(address: string, port: number): Address {
  return { socketAddress: { address, portValue: port } };
}

/** `10.0.0.0/8`, or a single address as a /32 (/128). */
export function cidrRange(address: string): CidrRange {
  const slash = address.indexOf('/');
  if (slash >= 0) return { addressPrefix: address.slice(0, slash), prefixLen: Number(address.slice(slash + 1)) };
  return { addressPrefix: address, prefixLen: isIPv6(address) ? 128 : 32 };
}

/** Where a TCP connection goes: one cluster, or clusters by relative weight (per connection). */
export type TcpTarget = { readonly cluster: string } | { readonly weightedClusters: readonly { readonly name: string; readonly weight: number }[] };

export function tcpProxyFilter(statPrefix: string, target: TcpTarget): Filter {
  const destination = 'cluster' in target ? { cluster: target.cluster } : { weightedClusters: { clusters: target.weightedClusters } };
  return { name: NETWORK_FILTER.tcpProxy, typedConfig: { '@type': TCP_PROXY_TYPE, statPrefix, ...destination } };
}

/** Connections for destinations the mesh does not know: passed through (ALLOW_ANY) or closed (REGISTRY_ONLY). */
export function passthroughChain(name: string, policy: 'ALLOW_ANY' | 'REGISTRY_ONLY'): FilterChain {
  const cluster = policy === 'ALLOW_ANY' ? PASSTHROUGH_CLUSTER : BLACK_HOLE_CLUSTER;
  return { name, filters: [tcpProxyFilter(cluster, { cluster })] };
}

/** The HTTP filters of outbound and gateway traffic, in order: fault injection, CORS, the policies' (rate limits), then the router. */
export function outboundHttpFilters(policies: readonly HttpFilter[] = []): HttpFilter[] {
  return [
    { name: HTTP_FILTER.fault, typedConfig: { '@type': FAULT_TYPE } },
    { name: HTTP_FILTER.cors, typedConfig: { '@type': CORS_TYPE } },
    ...policies,
    routerFilter(),
  ];
}

/** The HTTP filters of inbound traffic: the policies' (rate limits), then the router (the security filters go before it). */
export function inboundHttpFilters(policies: readonly HttpFilter[] = []): HttpFilter[] {
  return [...policies, routerFilter()];
}

export function routerFilter(): HttpFilter {
  return { name: HTTP_FILTER.router, typedConfig: { '@type': ROUTER_TYPE } };
}

export interface HttpConnectionManagerOptions {
  readonly statPrefix: string;
  /** The name of a route configuration fetched over ADS, or one given inline. */
  readonly route: { readonly rds: string } | { readonly routeConfig: RouteConfiguration };
  readonly httpFilters: readonly HttpFilter[];
  /** At the edge the connection's peer is the client; behind a sidecar it is not. */
  readonly useRemoteAddress: boolean;
  /** Accept CONNECT (an explicit HTTP proxy), besides WebSocket upgrades. */
  readonly connect?: boolean;
  /** How paths are normalized before filters and routes read them; Istio's BASE when not given. */
  readonly pathNormalization?: PathNormalizationOptions;
}

const BASE_NORMALIZATION: PathNormalizationOptions = { normalizePath: true, mergeSlashes: false, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' };

export function httpConnectionManager(options: HttpConnectionManagerOptions): HttpConnectionManager {
  const route = 'rds' in options.route
    ? { rds: { configSource: ADS_CONFIG_SOURCE, routeConfigName: options.route.rds } }
    : { routeConfig: options.route.routeConfig };
  return {
    '@type': HTTP_CONNECTION_MANAGER_TYPE,
    statPrefix: options.statPrefix,
    codecType: 'AUTO',
    ...route,
    httpFilters: options.httpFilters,
    useRemoteAddress: options.useRemoteAddress,
    ...(options.pathNormalization ?? BASE_NORMALIZATION),
    upgradeConfigs: options.connect === true ? [{ upgradeType: 'websocket' }, { upgradeType: 'CONNECT' }] : [{ upgradeType: 'websocket' }],
  };
}

export function httpConnectionManagerFilter(options: HttpConnectionManagerOptions): Filter {
  return { name: NETWORK_FILTER.httpConnectionManager, typedConfig: httpConnectionManager(options) };
}
