import { BlockList, isIPv6 } from 'node:net';
import type { CidrRange, FilterChain, HttpConnectionManager, Listener, RouteConfiguration, TcpProxy } from '../../xds/envoy/index.ts';
import { HTTP_CONNECTION_MANAGER_TYPE, TCP_PROXY_TYPE } from '../../xds/envoy/index.ts';

/**
 * Which listener and filter chain Envoy gives a connection, for tests. A connection captured by
 * iptables arrives at the listener with useOriginalDst, which hands it to the listener of its
 * original destination (address and port, else 0.0.0.0 and the port); in the listener, the chain
 * is chosen by Envoy's order: destination port, destination IP (longest prefix), server name
 * (exact, then the longest wildcard), transport protocol, then application protocol, a more
 * specific match winning at each step; no match takes the default chain.
 */

export interface SimulatedConnection {
  readonly address: string;
  readonly port: number;
  /** The SNI of a TLS client hello. */
  readonly serverName?: string;
  readonly transportProtocol?: 'tls' | 'raw_buffer';
  /** ALPN, or what http_inspector detected (`http/1.1`, `h2c`); undefined for bytes that are not HTTP. */
  readonly applicationProtocol?: string;
}

/** The listener of a captured connection: by original destination, through the useOriginalDst listener. */
export function selectListener(listeners: readonly Listener[], connection: SimulatedConnection): Listener | undefined {
  const at = (address: string): Listener | undefined =>
    listeners.find((l) => l.address?.socketAddress?.address === address && l.address.socketAddress.portValue === connection.port);
  return at(connection.address) ?? at('0.0.0.0') ?? listeners.find((l) => l.useOriginalDst === true);
}

export function selectFilterChain(listener: Listener, connection: SimulatedConnection): FilterChain | undefined {
  let candidates = [...(listener.filterChains ?? [])];
  const narrow = (specific: (c: FilterChain) => number | undefined, unset: (c: FilterChain) => boolean): void => {
    let best = -1;
    for (const chain of candidates) {
      const score = specific(chain);
      if (score !== undefined && score > best) best = score;
    }
    candidates = best >= 0 ? candidates.filter((c) => specific(c) === best) : candidates.filter(unset);
  };
  narrow((c) => (c.filterChainMatch?.destinationPort === connection.port ? 0 : undefined), (c) => c.filterChainMatch?.destinationPort === undefined);
  narrow((c) => longestContaining(c.filterChainMatch?.prefixRanges, connection.address), (c) => (c.filterChainMatch?.prefixRanges ?? []).length === 0);
  narrow((c) => serverNameScore(c.filterChainMatch?.serverNames, connection.serverName), (c) => (c.filterChainMatch?.serverNames ?? []).length === 0);
  narrow(
    (c) => (c.filterChainMatch?.transportProtocol !== undefined && c.filterChainMatch.transportProtocol === (connection.transportProtocol ?? 'raw_buffer') ? 0 : undefined),
    (c) => c.filterChainMatch?.transportProtocol === undefined,
  );
  narrow(
    (c) => (connection.applicationProtocol !== undefined && (c.filterChainMatch?.applicationProtocols ?? []).includes(connection.applicationProtocol) ? 0 : undefined),
    (c) => (c.filterChainMatch?.applicationProtocols ?? []).length === 0,
  );
  return candidates[0] ?? listener.defaultFilterChain;
}

function longestContaining(ranges: readonly CidrRange[] | undefined, address: string): number | undefined {
  let best: number | undefined;
  for (const range of ranges ?? []) {
    const list = new BlockList();
    const type = isIPv6(range.addressPrefix) ? 'ipv6' : 'ipv4';
    if (type !== (isIPv6(address) ? 'ipv6' : 'ipv4')) continue;
    list.addSubnet(range.addressPrefix, range.prefixLen, type);
    if (list.check(address, type) && (best === undefined || range.prefixLen > best)) best = range.prefixLen;
  }
  return best;
}

/** An exact name scores above any wildcard; a longer wildcard above a shorter one. */
function serverNameScore(names: readonly string[] | undefined, serverName: string | undefined): number | undefined {
  if (serverName === undefined) return undefined;
  let best: number | undefined;
  for (const name of names ?? []) {
    const score = name === serverName ? Infinity : name.startsWith('*.') && serverName.endsWith(name.slice(1)) ? name.length : undefined;
    if (score !== undefined && (best === undefined || score > best)) best = score;
  }
  return best;
}

/** What a chain does with its connections: HTTP through a connection manager, or TCP to clusters. */
export type ChainAction =
  | { readonly kind: 'http'; readonly rds?: string; readonly routeConfig?: RouteConfiguration }
  | { readonly kind: 'tcp'; readonly cluster?: string; readonly weightedClusters?: readonly { readonly name: string; readonly weight: number }[] };

export function chainAction(chain: FilterChain): ChainAction {
  const last = chain.filters[chain.filters.length - 1];
  const config = last?.typedConfig;
  if (config?.['@type'] === HTTP_CONNECTION_MANAGER_TYPE) {
    const hcm = config as HttpConnectionManager;
    return { kind: 'http', ...(hcm.rds !== undefined ? { rds: hcm.rds.routeConfigName } : {}), ...(hcm.routeConfig !== undefined ? { routeConfig: hcm.routeConfig } : {}) };
  }
  if (config?.['@type'] === TCP_PROXY_TYPE) {
    const tcp = config as TcpProxy;
    return { kind: 'tcp', ...(tcp.cluster !== undefined ? { cluster: tcp.cluster } : {}), ...(tcp.weightedClusters !== undefined ? { weightedClusters: tcp.weightedClusters.clusters } : {}) };
  }
  throw new Error(`filter chain ${chain.name ?? '(unnamed)'} ends with neither a connection manager nor tcp_proxy`);
}
