import type { RequestMirrorPolicy, RouteAction as EnvoyRouteAction } from '../../xds/envoy/index.ts';
import type { RequestHead } from '../http/request-head.ts';
import { durationMs } from './config-duration.ts';
import { composeHeaderLevels, NO_HEADER_MUTATION, parseHeaderLevel } from './header-mutation.ts';
import type { Problems } from './problems.ts';
import type { ClusterChoice, RequestMirror, RetryPolicy, RouteAction } from './route-entry.ts';
import { fraction, pathOnly, type CompiledRouteMatch } from './route-match.ts';
import { compileRetryPolicy } from './retry-policy.ts';
import { compileRegexRewrite, type RegexRewrite } from './safe-regex.ts';

/** Envoy's route timeout when the route sets none. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

/** What a route inherits from its virtual host (which may have inherited it from the route configuration). */
export interface ForwardDefaults {
  readonly retry: RetryPolicy | undefined;
  readonly mirrors: readonly RequestMirror[];
}

type ForwardAction = Extract<RouteAction, { kind: 'forward' }>;

/**
 * A route's `route` action: the cluster or weighted clusters, rewrites, timeouts, retries (the
 * route's, else the virtual host's), mirrors (the route's, else inherited), hash policies as given.
 * proto3 leaves empty strings out, so an empty rewrite or cluster name counts as unset, as in Envoy.
 */
export function compileForwardAction(action: EnvoyRouteAction, match: CompiledRouteMatch, defaults: ForwardDefaults, at: string, problems: Problems): ForwardAction | undefined {
  const before = problems.count;
  const pickCluster = compileClusterPicker(action, at, problems);

  const prefixRewrite = action.prefixRewrite !== undefined && action.prefixRewrite !== '' ? action.prefixRewrite : undefined;
  let regexRewrite: RegexRewrite | undefined;
  if (action.regexRewrite !== undefined) {
    if (prefixRewrite !== undefined) problems.add(at, 'sets prefixRewrite and regexRewrite; only one may be set');
    const compiled = compileRegexRewrite(action.regexRewrite.pattern?.regex ?? '', action.regexRewrite.substitution ?? '');
    if (!compiled.ok) problems.add(`${at}.regexRewrite.${compiled.error.field === 'pattern' ? 'pattern.regex' : 'substitution'}`, compiled.error.message);
    else regexRewrite = compiled.value;
  }
  const hostRewrite = action.hostRewriteLiteral !== undefined && action.hostRewriteLiteral !== '' ? action.hostRewriteLiteral : undefined;
  if (hostRewrite !== undefined && action.autoHostRewrite === true) problems.add(at, 'sets hostRewriteLiteral and autoHostRewrite; only one may be set');

  const timeoutMs = durationMs(action.timeout, `${at}.timeout`, problems) ?? DEFAULT_ROUTE_TIMEOUT_MS;
  const idleTimeoutMs = durationMs(action.idleTimeout, `${at}.idleTimeout`, problems);
  const retry = action.retryPolicy !== undefined ? compileRetryPolicy(action.retryPolicy, `${at}.retryPolicy`, problems) : defaults.retry;
  const ownMirrors = compileMirrors(action.requestMirrorPolicies, `${at}.requestMirrorPolicies`, problems);
  const maxGrpcTimeoutMs = durationMs(action.maxGrpcTimeout, `${at}.maxGrpcTimeout`, problems)
    ?? durationMs(action.maxStreamDuration?.grpcTimeoutHeaderMax, `${at}.maxStreamDuration.grpcTimeoutHeaderMax`, problems);
  const upgrades = compileUpgradeConfigs(action.upgradeConfigs, `${at}.upgradeConfigs`, problems);
  if (pickCluster === undefined || problems.count > before) return undefined;

  return {
    kind: 'forward',
    pickCluster,
    timeoutMs,
    ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
    ...(retry !== undefined ? { retry } : {}),
    rewrite: compileRewrite(match, prefixRewrite, regexRewrite, hostRewrite),
    hashPolicies: action.hashPolicy ?? [],
    mirrors: ownMirrors.length > 0 ? ownMirrors : defaults.mirrors,
    ...(maxGrpcTimeoutMs !== undefined ? { maxGrpcTimeoutMs } : {}),
    ...(action.autoHostRewrite === true ? { autoHostRewrite: true } : {}),
    ...(upgrades.allowed.size > 0 ? { upgrades: upgrades.allowed } : {}),
    ...(upgrades.terminateConnect ? { terminateConnect: true } : {}),
  };
}

/** The fields of Envoy's ConnectConfig; Weft terminates CONNECT without either. */
const CONNECT_CONFIG_FIELDS = ['proxyProtocolConfig', 'allowPost'] as const;

/**
 * A route's `upgradeConfigs`, checked as Envoy checks them: one entry per type (compared without
 * case), and `connectConfig` only on the CONNECT type, where it makes the route terminate CONNECT.
 */
function compileUpgradeConfigs(configs: EnvoyRouteAction['upgradeConfigs'], at: string, problems: Problems): { allowed: ReadonlyMap<string, boolean>; terminateConnect: boolean } {
  const allowed = new Map<string, boolean>();
  let terminateConnect = false;
  if (configs === undefined) return { allowed, terminateConnect };
  if (!Array.isArray(configs)) {
    problems.add(at, 'must be a list');
    return { allowed, terminateConnect };
  }
  configs.forEach((config, i) => {
    const here = `${at}[${i}]`;
    const type = typeof config?.upgradeType === 'string' ? config.upgradeType.toLowerCase() : '';
    if (type === '') {
      problems.add(`${here}.upgradeType`, 'must name the upgrade (websocket, CONNECT, ...)');
      return;
    }
    if (allowed.has(type)) {
      problems.add(`${here}.upgradeType`, `"${config.upgradeType}" is listed twice`);
      return;
    }
    if (config.enabled !== undefined && typeof config.enabled !== 'boolean') problems.add(`${here}.enabled`, 'must be true or false');
    const enabled = config.enabled !== false;
    allowed.set(type, enabled);
    const connectConfig: unknown = config.connectConfig;
    if (connectConfig === undefined) return;
    if (type !== 'connect') {
      problems.add(`${here}.connectConfig`, `only a CONNECT upgrade has a connectConfig, not "${config.upgradeType}"`);
      return;
    }
    if (typeof connectConfig !== 'object' || connectConfig === null || Array.isArray(connectConfig)) {
      problems.add(`${here}.connectConfig`, 'must be an object');
      return;
    }
    const unsupported = CONNECT_CONFIG_FIELDS.filter((field) => (connectConfig as Record<string, unknown>)[field] !== undefined);
    if (unsupported.length > 0) problems.add(`${here}.connectConfig.${unsupported[0]}`, 'is not supported by Weft; a terminated CONNECT carries its bytes as they are');
    if (enabled) terminateConnect = true;
  });
  return { allowed, terminateConnect };
}

/**
 * Picks by cumulative weight, as Envoy does: the draw `floor(random * total)` falls in
 * [0, w1), [w1, w1 + w2), ...; a cluster of weight 0 is never picked.
 */
function compileClusterPicker(action: EnvoyRouteAction, at: string, problems: Problems): ((random: number) => ClusterChoice) | undefined {
  const cluster = action.cluster !== undefined && action.cluster !== '' ? action.cluster : undefined;
  const weighted = action.weightedClusters;
  if (cluster !== undefined && weighted !== undefined) {
    problems.add(at, 'sets cluster and weightedClusters; only one may be set');
    return undefined;
  }
  if (cluster !== undefined) {
    const choice: ClusterChoice = { name: cluster, requestHeaders: NO_HEADER_MUTATION, responseHeaders: NO_HEADER_MUTATION };
    return () => choice;
  }
  if (weighted === undefined) {
    problems.add(at, 'needs cluster or weightedClusters (Weft does not take clusterHeader or cluster specifier plugins)');
    return undefined;
  }
  const clusters = weighted.clusters ?? [];
  if (clusters.length === 0) {
    problems.add(`${at}.weightedClusters.clusters`, 'needs at least one cluster');
    return undefined;
  }
  const choices: ClusterChoice[] = [];
  const ends: number[] = [];
  let total = 0;
  clusters.forEach((c, i) => {
    const cat = `${at}.weightedClusters.clusters[${i}]`;
    if ((c.name ?? '') === '') problems.add(`${cat}.name`, 'must not be empty (Weft does not take clusterHeader)');
    if (c.weight === undefined) problems.add(`${cat}.weight`, 'is required');
    const request = parseHeaderLevel(c.requestHeadersToAdd, c.requestHeadersToRemove, `${cat}.requestHeadersToAdd`, `${cat}.requestHeadersToRemove`, problems);
    const response = parseHeaderLevel(c.responseHeadersToAdd, c.responseHeadersToRemove, `${cat}.responseHeadersToAdd`, `${cat}.responseHeadersToRemove`, problems);
    total += c.weight ?? 0;
    ends.push(total);
    choices.push({
      name: c.name,
      requestHeaders: composeHeaderLevels([request]),
      responseHeaders: composeHeaderLevels([response]),
      ...(c.hostRewriteLiteral !== undefined && c.hostRewriteLiteral !== '' ? { hostRewriteLiteral: c.hostRewriteLiteral } : {}),
    });
  });
  if (total === 0) problems.add(`${at}.weightedClusters`, 'the weights add up to 0; at least one cluster needs a weight above 0');
  if (weighted.totalWeight !== undefined && weighted.totalWeight !== total) {
    problems.add(`${at}.weightedClusters.totalWeight`, `is ${weighted.totalWeight}, but the weights add up to ${total}`);
  }
  const last = choices[ends.findLastIndex((end, i) => end > (ends[i - 1] ?? 0))] ?? choices[0]!;
  return (random) => {
    const draw = Math.floor(random * total);
    for (let i = 0; i < ends.length; i++) if (draw < ends[i]!) return choices[i]!;
    return last;
  };
}

/**
 * The head's changes before it goes upstream: the Host (the route's literal, else the weighted
 * cluster's), then the path: `prefixRewrite` replaces what the route matched (the prefix, or the
 * whole path for path and regex matches), `regexRewrite` substitutes in the path; the query stays.
 */
function compileRewrite(match: CompiledRouteMatch, prefixRewrite: string | undefined, regexRewrite: RegexRewrite | undefined, hostRewrite: string | undefined): (head: RequestHead, choice?: ClusterChoice) => void {
  return (head, choice) => {
    const host = hostRewrite ?? choice?.hostRewriteLiteral;
    if (host !== undefined) head.authority = host;
    if (prefixRewrite !== undefined) head.path = rewritePrefix(head.path, match.rewriteSpan, prefixRewrite);
    else if (regexRewrite !== undefined) head.path = rewriteRegex(head.path, regexRewrite);
  };
}

export function rewritePrefix(path: string, span: number | 'path', replacement: string): string {
  const length = span === 'path' ? pathOnly(path).length : span;
  return replacement + path.slice(length);
}

export function rewriteRegex(path: string, rewrite: RegexRewrite): string {
  const just = pathOnly(path);
  return rewrite.replaceAll(just) + path.slice(just.length);
}

/** Mirror policies: each to a named cluster, for the share its runtimeFraction gives (all requests when unset). */
export function compileMirrors(policies: readonly RequestMirrorPolicy[] | undefined, at: string, problems: Problems): RequestMirror[] {
  const out: RequestMirror[] = [];
  (policies ?? []).forEach((policy, i) => {
    if ((policy.cluster ?? '') === '') {
      problems.add(`${at}[${i}].cluster`, 'must not be empty (Weft does not take clusterHeader)');
      return;
    }
    const share = policy.runtimeFraction !== undefined ? fraction(policy.runtimeFraction.defaultValue, `${at}[${i}].runtimeFraction.defaultValue`, problems) : 1;
    out.push({ cluster: policy.cluster, fraction: share });
  });
  return out;
}
