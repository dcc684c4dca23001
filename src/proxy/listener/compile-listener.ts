import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { err, ok, parseDuration, type Result } from '../../core/index.ts';
import type { ProtoJson } from '../../xds/index.ts';
import {
  HTTP_CONNECTION_MANAGER_TYPE, HTTP_INSPECTOR_TYPE, LISTENER_FILTER, ORIGINAL_DST_TYPE, TLS_INSPECTOR_TYPE,
  type FilterChain, type FilterChainMatch, type Listener,
} from '../../xds/envoy/index.ts';
import type { ConnectionFilterFactory, NetworkFilterFactory, NetworkFilterRegistry } from '../network/network-filter.ts';
import type { SecretLookup } from '../security/secret-store.ts';
import type { ReadFile } from '../security/tls-context.ts';
import { parseDownstreamTransport, type DownstreamTransport } from './downstream-tls.ts';
import { filterChainMatchProblems } from './filter-chain-matcher.ts';

/** A filter chain, checked, with its terminal network filter's config parsed by that filter's factory. */
export interface CompiledChain {
  /** The chain's name, else where it sits (`filterChains[2]`, `defaultFilterChain`). */
  readonly label: string;
  /** Equal for equal configs: an update keeps the running filter of a chain whose fingerprint it keeps. */
  readonly fingerprint: string;
  readonly match: FilterChainMatch | undefined;
  /** Plaintext, or TLS the proxy terminates before the filters run. */
  readonly transport: DownstreamTransport;
  /** Filters that see the connection before the terminal one (network RBAC), in order. */
  readonly connectionFilters: readonly { readonly factory: ConnectionFilterFactory; readonly config: unknown }[];
  readonly factory: NetworkFilterFactory;
  readonly filterConfig: unknown;
  /** The route configuration its http_connection_manager fetches over RDS. */
  readonly rds: string | undefined;
}

/** A listener from LDS, checked and ready to run. */
export interface CompiledListener {
  readonly name: string;
  readonly config: Listener;
  /** Equal for equal configs: an update leaves a listener whose fingerprint it keeps untouched. */
  readonly fingerprint: string;
  /** '' for an internal listener. */
  readonly address: string;
  /** 0: a port the OS picks (and for an internal listener). */
  readonly port: number;
  readonly bindToPort: boolean;
  /**
   * An internal listener (`internalListener`): bound to no socket, it takes the in-process
   * connections of clusters whose endpoints name it (`envoyInternalAddress.serverListenerName`).
   */
  readonly internal: boolean;
  /** Hand connections to the listener of their original destination. */
  readonly useOriginalDst: boolean;
  /** Read the original destination (original_dst listener filter, or useOriginalDst). */
  readonly restoresOriginalDestination: boolean;
  /** Configured, or needed by a chain that matches on SNI, `tls` or ALPN (Envoy adds it then). */
  readonly tlsInspector: boolean;
  readonly httpInspector: boolean;
  /** 0: no timeout. */
  readonly listenerFiltersTimeoutMs: number;
  readonly continueOnListenerFiltersTimeout: boolean;
  readonly trafficDirection: 'UNSPECIFIED' | 'INBOUND' | 'OUTBOUND';
  readonly chains: readonly CompiledChain[];
  readonly defaultChain: CompiledChain | undefined;
  /** The route configurations its connection managers fetch over RDS. */
  readonly routeConfigNames: ReadonlySet<string>;
}

/** Envoy's default listener filter timeout. */
export const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;

/** What terminating TLS needs: files that contexts name, and the SDS secrets. */
export interface ListenerTlsDeps {
  readonly readFile: ReadFile;
  readonly secrets: SecretLookup | undefined;
}

const NO_SECRETS: ListenerTlsDeps = { readFile: readFileSync, secrets: undefined };

type ListenerFilterKind = 'tls' | 'http' | 'originalDst';

const LISTENER_FILTERS: ReadonlyMap<string, ListenerFilterKind> = new Map([
  [TLS_INSPECTOR_TYPE, 'tls'], [LISTENER_FILTER.tlsInspector, 'tls'],
  [HTTP_INSPECTOR_TYPE, 'http'], [LISTENER_FILTER.httpInspector, 'http'],
  [ORIGINAL_DST_TYPE, 'originalDst'], [LISTENER_FILTER.originalDst, 'originalDst'],
]);

/** Listener fields whose meaning Weft does not implement: accepting them would serve something else. */
const UNSUPPORTED_FIELDS: readonly { readonly field: string; readonly active: (value: unknown) => boolean; readonly why: string }[] = [
  { field: 'filterChainMatcher', active: (v) => v !== undefined, why: 'matching with a filterChainMatcher is not supported (use filterChains[].filterChainMatch)' },
  { field: 'additionalAddresses', active: (v) => Array.isArray(v) && v.length > 0, why: 'a listener binds one address (additionalAddresses is not supported)' },
  { field: 'transparent', active: (v) => v === true, why: 'transparent (TPROXY) listeners are not supported; capture with iptables REDIRECT' },
  { field: 'freebind', active: (v) => v === true, why: 'freebind is not supported' },
  { field: 'udpListenerConfig', active: (v) => v !== undefined, why: 'UDP listeners are not supported' },
];

/**
 * Checks a Listener resource and parses the config of each chain's network filter with the
 * factory registered for its type URL. Every problem is reported, each prefixed with where it
 * is (`filterChains[1] "inbound-http": filters[0] envoy.filters.network.tcp_proxy: ...`).
 * API listeners are for proxyless clients, not for this proxy: they compile to undefined.
 */
export function compileListener(name: string, raw: ProtoJson, filters: NetworkFilterRegistry, tls: ListenerTlsDeps = NO_SECRETS): Result<CompiledListener | undefined, string[]> {
  const problems: string[] = [];
  const listener = raw as unknown as Listener;
  if (listener.name !== name) problems.push(`name: "${String(listener.name)}" differs from the resource name "${name}"`);
  if (listener.apiListener !== undefined) return problems.length > 0 ? err(problems) : ok(undefined);

  for (const { field, active, why } of UNSUPPORTED_FIELDS) {
    if (active(raw[field])) problems.push(`${field}: ${why}`);
  }
  const address = compileAddress(listener, problems);

  const chainList = listener.filterChains ?? [];
  if (!Array.isArray(chainList)) problems.push('filterChains: expected a list');
  const chains: CompiledChain[] = [];
  const matchKeys = new Map<string, string>();
  (Array.isArray(chainList) ? chainList : []).forEach((chain, i) => {
    const label = chainLabel(chain, `filterChains[${i}]`);
    const compiled = compileChain(chain, label, `filterChains[${i}]`, filters, tls, problems);
    if (compiled === undefined) return;
    const key = matchKey(compiled.match);
    const other = matchKeys.get(key);
    if (other !== undefined) problems.push(`filterChains[${i}]: its filterChainMatch is the same as ${other}'s; each chain needs a match of its own`);
    else matchKeys.set(key, label);
    chains.push(compiled);
  });
  const defaultChain = listener.defaultFilterChain !== undefined
    ? compileChain(listener.defaultFilterChain, chainLabel(listener.defaultFilterChain, 'defaultFilterChain'), 'defaultFilterChain', filters, tls, problems)
    : undefined;
  if (listener.defaultFilterChain !== undefined && listener.defaultFilterChain.filterChainMatch !== undefined) {
    problems.push('defaultFilterChain.filterChainMatch: the default chain takes what no other chain matches, so it has no match of its own');
  }
  if (chains.length === 0 && (!Array.isArray(chainList) || chainList.length === 0) && listener.defaultFilterChain === undefined) problems.push('filterChains: a listener needs at least one filter chain or a defaultFilterChain');

  const listenerFilters = compileListenerFilters(listener, problems);
  const timeout = listener.listenerFiltersTimeout === undefined ? ok(DEFAULT_LISTENER_FILTERS_TIMEOUT_MS) : parseDuration(String(listener.listenerFiltersTimeout));
  if (!timeout.ok) problems.push(`listenerFiltersTimeout: ${timeout.error}`);
  for (const field of ['useOriginalDst', 'bindToPort', 'continueOnListenerFiltersTimeout'] as const) {
    if (listener[field] !== undefined && typeof listener[field] !== 'boolean') problems.push(`${field}: expected true or false`);
  }
  const internal = listener.internalListener !== undefined;
  if (internal && listener.useOriginalDst === true) problems.push('useOriginalDst: an internal listener takes in-process connections, which have no original destination to hand over');
  const direction = listener.trafficDirection ?? 'UNSPECIFIED';
  if (!['UNSPECIFIED', 'INBOUND', 'OUTBOUND'].includes(direction)) problems.push(`trafficDirection: "${String(direction)}" is not one of UNSPECIFIED, INBOUND, OUTBOUND`);

  if (problems.length > 0 || address === undefined || !timeout.ok) return err(problems);
  const useOriginalDst = listener.useOriginalDst === true;
  const everyChain = defaultChain !== undefined ? [...chains, defaultChain] : chains;
  return ok({
    name,
    config: listener,
    fingerprint: JSON.stringify(raw),
    address: address.address,
    port: address.port,
    bindToPort: !internal && listener.bindToPort !== false,
    internal,
    useOriginalDst,
    restoresOriginalDestination: useOriginalDst || listenerFilters.has('originalDst'),
    tlsInspector: listenerFilters.has('tls') || chains.some((c) => needsTlsInspector(c.match)),
    httpInspector: listenerFilters.has('http'),
    listenerFiltersTimeoutMs: timeout.value,
    continueOnListenerFiltersTimeout: listener.continueOnListenerFiltersTimeout === true,
    trafficDirection: direction,
    chains,
    defaultChain,
    routeConfigNames: new Set(everyChain.flatMap((c) => c.rds ?? [])),
  });
}

function compileAddress(listener: Listener, problems: string[]): { address: string; port: number; internal: boolean } | undefined {
  const address = listener.address;
  if (listener.internalListener !== undefined) return compileInternal(listener, problems);
  if (address === undefined) {
    problems.push('address: a listener needs an address (socketAddress with address and portValue), unless it is an internal listener (internalListener: {})');
    return undefined;
  }
  if (address.envoyInternalAddress !== undefined) {
    problems.push('address.envoyInternalAddress: only an internal listener has one; set internalListener: {} and leave the address out');
    return undefined;
  }
  if (address.pipe !== undefined) {
    problems.push('address.pipe: listening on a pipe is not supported; use a socketAddress');
    return undefined;
  }
  const socketAddress = address.socketAddress as (typeof address.socketAddress & { readonly namedPort?: string; readonly resolverName?: string }) | undefined;
  if (socketAddress === undefined) {
    problems.push('address.socketAddress: required');
    return undefined;
  }
  const before = problems.length;
  if (typeof socketAddress.address !== 'string' || isIP(socketAddress.address) === 0) {
    problems.push(`address.socketAddress.address: "${String(socketAddress.address)}" is not an IP address (a listener binds an IP, such as 0.0.0.0)`);
  }
  const port = socketAddress.portValue ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`address.socketAddress.portValue: ${String(port)} is not a port (0-65535)`);
  if (socketAddress.protocol === 'UDP') problems.push('address.socketAddress.protocol: UDP listeners are not supported');
  if (socketAddress.namedPort !== undefined) problems.push('address.socketAddress.namedPort: use portValue');
  if (socketAddress.resolverName !== undefined) problems.push('address.socketAddress.resolverName: custom resolvers are not supported');
  return problems.length === before ? { address: socketAddress.address, port, internal: false } : undefined;
}

/**
 * An internal listener binds nothing: it has no address, or (Envoy's older form) an
 * envoyInternalAddress naming itself. `internalListener` is an empty InternalListenerConfig.
 */
function compileInternal(listener: Listener, problems: string[]): { address: string; port: number; internal: boolean } | undefined {
  const before = problems.length;
  const config: unknown = listener.internalListener;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) problems.push('internalListener: expected an object ({})');
  else if (Object.keys(config).length > 0) problems.push(`internalListener.${Object.keys(config)[0]}: not supported (an internal listener takes no settings)`);
  const address = listener.address;
  if (address !== undefined) {
    const name = address.envoyInternalAddress?.serverListenerName;
    if (address.socketAddress !== undefined || address.pipe !== undefined) {
      problems.push('address: an internal listener binds no socket; leave the address out (clusters reach it by its name)');
    } else if (name !== listener.name) {
      problems.push(`address.envoyInternalAddress.serverListenerName: an internal listener is reached by its own name "${String(listener.name)}", not "${String(name)}"`);
    }
  }
  return problems.length === before ? { address: '', port: 0, internal: true } : undefined;
}

function compileChain(
  chain: FilterChain, label: string, path: string, registry: NetworkFilterRegistry, tls: ListenerTlsDeps, problems: string[],
): CompiledChain | undefined {
  const at = `${path}${label === path ? '' : ` "${label}"`}`;
  const before = problems.length;
  if (chain === null || typeof chain !== 'object') {
    problems.push(`${at}: expected a filter chain`);
    return undefined;
  }
  for (const problem of filterChainMatchProblems(chain.filterChainMatch ?? {})) problems.push(`${at}: filterChainMatch.${problem}`);
  const transport = parseDownstreamTransport(chain.transportSocket, 'transportSocket', tls.readFile, (field, message) => problems.push(`${at}: ${field}: ${message}`), tls.secrets);
  const filters = Array.isArray(chain.filters) ? chain.filters : [];
  if (filters.length === 0) problems.push(`${at}: filters: a chain needs a terminal network filter (tcp_proxy or http_connection_manager)`);
  let terminal: { factory: NetworkFilterFactory; config: unknown; rds: string | undefined } | undefined;
  const connectionFilters: { factory: ConnectionFilterFactory; config: unknown }[] = [];
  filters.forEach((filter, i) => {
    const typeUrl = filter.typedConfig?.['@type'];
    const where = `${at}: filters[${i}] ${filter.name ?? typeUrl ?? '(unnamed)'}`;
    if (typeof typeUrl !== 'string') {
      problems.push(`${where}: typedConfig with an @type is required`);
      return;
    }
    const factory = registry.get(typeUrl);
    if (factory === undefined) {
      const known = [...registry.keys()].join(', ');
      problems.push(`${where}: no network filter for ${typeUrl} (known: ${known === '' ? 'none' : known})`);
      return;
    }
    const last = i === filters.length - 1;
    const isConnectionFilter = 'role' in factory && factory.role === 'connection';
    if (last === isConnectionFilter) {
      problems.push(last
        ? `${where}: a chain must end with a terminal filter (tcp_proxy or http_connection_manager)`
        : `${where}: only the last filter of a chain may be a terminal one`);
      return;
    }
    const parsed = factory.parse(filter.typedConfig as Readonly<Record<string, unknown>>);
    if (!parsed.ok) problems.push(`${where}: ${parsed.error}`);
    else if (isConnectionFilter) connectionFilters.push({ factory, config: parsed.value });
    else terminal = { factory: factory as NetworkFilterFactory, config: parsed.value, rds: rdsName(filter.typedConfig) };
  });
  if (problems.length > before || terminal === undefined || transport === undefined) return undefined;
  return {
    label, fingerprint: JSON.stringify(chain), match: chain.filterChainMatch, transport, connectionFilters,
    factory: terminal.factory, filterConfig: terminal.config, rds: terminal.rds,
  };
}

function compileListenerFilters(listener: Listener, problems: string[]): Set<ListenerFilterKind> {
  const kinds = new Set<ListenerFilterKind>();
  const list = listener.listenerFilters ?? [];
  if (!Array.isArray(list)) {
    problems.push('listenerFilters: expected a list');
    return kinds;
  }
  list.forEach((filter, i) => {
    const extra = filter as typeof filter & { readonly filterDisabled?: unknown; readonly configDiscovery?: unknown };
    const typeUrl = filter.typedConfig?.['@type'];
    const kind = LISTENER_FILTERS.get(typeof typeUrl === 'string' ? typeUrl : filter.name);
    if (kind === undefined) {
      problems.push(`listenerFilters[${i}] ${String(filter.name)}: unknown listener filter ${String(typeUrl ?? filter.name)} (known: ${LISTENER_FILTER.tlsInspector}, ${LISTENER_FILTER.httpInspector}, ${LISTENER_FILTER.originalDst})`);
      return;
    }
    if (extra.filterDisabled !== undefined) problems.push(`listenerFilters[${i}] ${filter.name}: filterDisabled is not supported`);
    if (extra.configDiscovery !== undefined) problems.push(`listenerFilters[${i}] ${filter.name}: configDiscovery is not supported; give typedConfig`);
    kinds.add(kind);
  });
  return kinds;
}

/** Envoy adds a TLS inspector on its own when a chain could only match with one. */
function needsTlsInspector(match: FilterChainMatch | undefined): boolean {
  if (match === undefined) return false;
  if (match.transportProtocol === 'tls') return true;
  const anyTransport = match.transportProtocol === undefined || match.transportProtocol === '';
  return anyTransport && ((match.serverNames ?? []).length > 0 || (match.applicationProtocols ?? []).length > 0);
}

/** The route configuration an http_connection_manager fetches over RDS, read from Envoy's config shape. */
function rdsName(typedConfig: unknown): string | undefined {
  const hcm = typedConfig as { readonly '@type'?: unknown; readonly rds?: { readonly routeConfigName?: unknown } };
  if (hcm['@type'] !== HTTP_CONNECTION_MANAGER_TYPE) return undefined;
  const name = hcm.rds?.routeConfigName;
  return typeof name === 'string' ? name : undefined;
}

function chainLabel(chain: FilterChain, position: string): string {
  return typeof chain?.name === 'string' && chain.name !== '' ? chain.name : position;
}

/** Equal for matches that take the same connections: list order does not matter. */
function matchKey(match: FilterChainMatch | undefined): string {
  if (match === undefined) return '{}';
  const sorted = (list: readonly unknown[] | undefined): string[] => (list ?? []).map((v) => JSON.stringify(v)).sort();
  return JSON.stringify({
    destinationPort: match.destinationPort,
    prefixRanges: sorted(match.prefixRanges),
    serverNames: sorted((match.serverNames ?? []).map((n) => n.toLowerCase())),
    transportProtocol: match.transportProtocol || undefined,
    applicationProtocols: sorted(match.applicationProtocols),
    sourceType: match.sourceType === 'ANY' ? undefined : match.sourceType,
    sourcePrefixRanges: sorted(match.sourcePrefixRanges),
    sourcePorts: sorted(match.sourcePorts),
  });
}
