import { RE2JS } from 're2js';
import type {
  ClusterWeight, HeaderMatcher, MetadataMatcher, QueryParameterMatcher, RedirectResponseCode, Route, RouteConfiguration, RouteMatch, StringMatcher,
  ValueMatcher, VirtualHost,
} from '../../xds/envoy/index.ts';

/**
 * Which way Envoy sends a request through a route configuration, for tests: the generators are
 * checked by asking where a request goes, not by comparing their output to a golden copy. It
 * follows Envoy's rules: the virtual host by domain (exact, then the longest `*.suffix`, then the
 * longest `prefix.*`, then `*`), then the first route whose path, headers, query parameters and
 * metadata all match.
 */

export interface SimulatedRequest {
  /** The Host header, with its port if the client sent one. */
  readonly authority: string;
  /** The path, with its query string if any. */
  readonly path: string;
  readonly method?: string;
  readonly scheme?: 'http' | 'https';
  /** Names in any case. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Query parameters besides those in `path`. */
  readonly query?: Readonly<Record<string, string>>;
  /** JWT claims, as the authentication filter writes them in dynamic metadata. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

export interface ForwardOutcome {
  readonly kind: 'forward';
  readonly virtualHost: string;
  readonly route: string | undefined;
  readonly entry: Route;
  /** The single cluster, or undefined when the route splits by weight. */
  readonly cluster: string | undefined;
  /** Every cluster the route may pick, with its weight (100 for a single cluster). */
  readonly clusters: readonly ClusterWeight[];
  /** The path (with query) and Host sent upstream, after rewrites. */
  readonly upstreamPath: string;
  readonly upstreamAuthority: string;
}

export interface RedirectOutcome {
  readonly kind: 'redirect';
  readonly virtualHost: string;
  readonly route: string | undefined;
  readonly status: number;
  readonly location: string;
}

export interface DirectResponseOutcome {
  readonly kind: 'direct-response';
  readonly virtualHost: string;
  readonly route: string | undefined;
  readonly status: number;
  readonly body: string | undefined;
}

/** Envoy's 404 (response flag NR): no virtual host takes the Host, or none of its routes matches. */
export interface NoRouteOutcome {
  readonly kind: 'no-route';
  readonly status: 404;
  readonly virtualHost: string | undefined;
}

export type RouteOutcome = ForwardOutcome | RedirectOutcome | DirectResponseOutcome | NoRouteOutcome;

export function simulateRoute(config: RouteConfiguration, request: SimulatedRequest): RouteOutcome {
  const host = config.ignorePortInHostMatching === true ? stripPort(request.authority) : request.authority;
  const virtualHost = selectVirtualHost(config.virtualHosts, host);
  if (virtualHost === undefined) return { kind: 'no-route', status: 404, virtualHost: undefined };
  const scheme = request.scheme ?? 'http';
  if (virtualHost.requireTls === 'ALL' && scheme !== 'https') {
    return { kind: 'redirect', virtualHost: virtualHost.name, route: undefined, status: 301, location: `https://${stripPort(request.authority)}${request.path}` };
  }
  const route = virtualHost.routes.find((r) => routeMatches(r.match, request));
  if (route === undefined) return { kind: 'no-route', status: 404, virtualHost: virtualHost.name };
  if (route.redirect !== undefined) {
    return { kind: 'redirect', virtualHost: virtualHost.name, route: route.name, status: REDIRECT_STATUS[route.redirect.responseCode ?? 'MOVED_PERMANENTLY'], location: redirectLocation(route, request) };
  }
  if (route.directResponse !== undefined) {
    const body = route.directResponse.body;
    const text = body?.inlineString ?? (body?.inlineBytes !== undefined ? Buffer.from(body.inlineBytes, 'base64').toString() : undefined);
    return { kind: 'direct-response', virtualHost: virtualHost.name, route: route.name, status: route.directResponse.status, body: text };
  }
  const action = route.route;
  if (action === undefined) throw new Error(`route ${route.name ?? '(unnamed)'} has no action`);
  const clusters = action.cluster !== undefined ? [{ name: action.cluster, weight: 100 }] : (action.weightedClusters?.clusters ?? []);
  return {
    kind: 'forward',
    virtualHost: virtualHost.name,
    route: route.name,
    entry: route,
    cluster: action.cluster,
    clusters,
    upstreamPath: rewrittenPath(route, request.path),
    upstreamAuthority: action.hostRewriteLiteral ?? request.authority,
  };
}

/**
 * The cluster a weighted route picks for a draw in [0, total weight): clusters take consecutive
 * ranges in order, as Envoy's weighted cluster selection does.
 */
export function pickWeightedCluster(clusters: readonly ClusterWeight[], draw: number): ClusterWeight {
  let upTo = 0;
  for (const cluster of clusters) {
    upTo += cluster.weight;
    if (draw < upTo) return cluster;
  }
  throw new Error(`draw ${draw} is not below the total weight ${upTo}`);
}

/** The virtual host Envoy picks for a Host value: exact, then suffix, then prefix wildcards (longest first), then `*`. */
export function selectVirtualHost(virtualHosts: readonly VirtualHost[], authority: string): VirtualHost | undefined {
  const host = authority.toLowerCase();
  let best: { vh: VirtualHost; rank: number; length: number } | undefined;
  for (const vh of virtualHosts) {
    for (const raw of vh.domains) {
      const domain = raw.toLowerCase();
      let rank: number;
      let length = domain.length;
      if (domain === '*') rank = 3;
      else if (domain.startsWith('*')) {
        const suffix = domain.slice(1);
        if (host.length <= suffix.length || !host.endsWith(suffix)) continue;
        rank = 1;
      } else if (domain.endsWith('*')) {
        const prefix = domain.slice(0, -1);
        if (host.length <= prefix.length || !host.startsWith(prefix)) continue;
        rank = 2;
      } else {
        if (domain !== host) continue;
        rank = 0;
        length = Infinity;
      }
      if (best === undefined || rank < best.rank || (rank === best.rank && length > best.length)) best = { vh, rank, length };
    }
  }
  return best?.vh;
}

export function routeMatches(match: RouteMatch, request: SimulatedRequest): boolean {
  // A CONNECT has no path: only connectMatcher matches it, and connectMatcher matches nothing else.
  const connect = request.method === 'CONNECT';
  if (match.connectMatcher !== undefined || connect) {
    return match.connectMatcher !== undefined && connect && (match.headers ?? []).every((h) => headerMatches(h, request));
  }
  return pathMatches(match, pathOnly(request.path))
    && (match.headers ?? []).every((h) => headerMatches(h, request))
    && (match.queryParameters ?? []).every((q) => queryMatches(q, request))
    && (match.dynamicMetadata ?? []).every((m) => metadataMatches(m, request));
}

function pathMatches(match: RouteMatch, path: string): boolean {
  const sensitive = match.caseSensitive !== false;
  const fold = (s: string): string => (sensitive ? s : s.toLowerCase());
  if (match.prefix !== undefined) return fold(path).startsWith(fold(match.prefix));
  if (match.path !== undefined) return fold(path) === fold(match.path);
  if (match.safeRegex !== undefined) return RE2JS.compile(match.safeRegex.regex).matches(path);
  if (match.pathSeparatedPrefix !== undefined) {
    const p = fold(path);
    const prefix = fold(match.pathSeparatedPrefix);
    return p === prefix || p.startsWith(`${prefix}/`);
  }
  throw new Error('a route match needs prefix, path, safeRegex or pathSeparatedPrefix');
}

/** A header's value as Envoy's matchers see it: pseudo-headers from the request line, several values joined by commas. */
function headerValue(request: SimulatedRequest, name: string): string | undefined {
  switch (name) {
    case ':authority': return request.authority;
    case ':path': return request.path;
    case ':method': return request.method ?? 'GET';
    case ':scheme': return request.scheme ?? 'http';
  }
  const lower = name.toLowerCase();
  const values = Object.entries(request.headers ?? {}).filter(([k]) => k.toLowerCase() === lower).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(',');
}

/**
 * Envoy's header matching: a missing header matches only `presentMatch: false` (or, inverted,
 * `presentMatch: true`) unless it is treated as empty; otherwise the specifier decides and
 * `invertMatch` turns the answer around.
 */
export function headerMatches(matcher: HeaderMatcher, request: SimulatedRequest): boolean {
  const present = headerValue(request, matcher.name);
  const invert = matcher.invertMatch === true;
  if (present === undefined && matcher.treatMissingHeaderAsEmpty !== true) {
    return matcher.presentMatch !== undefined && (invert ? matcher.presentMatch : !matcher.presentMatch);
  }
  const value = present ?? '';
  let match: boolean;
  if (matcher.presentMatch !== undefined) match = matcher.presentMatch;
  else if (matcher.exactMatch !== undefined) match = matcher.exactMatch === '' || value === matcher.exactMatch;
  else if (matcher.prefixMatch !== undefined) match = value.startsWith(matcher.prefixMatch);
  else if (matcher.suffixMatch !== undefined) match = value.endsWith(matcher.suffixMatch);
  else if (matcher.safeRegexMatch !== undefined) match = RE2JS.compile(matcher.safeRegexMatch.regex).matches(value);
  else if (matcher.stringMatch !== undefined) match = stringMatches(matcher.stringMatch, value);
  else match = true;
  return match !== invert;
}

export function stringMatches(matcher: StringMatcher, value: string): boolean {
  const fold = (s: string): string => (matcher.ignoreCase === true ? s.toLowerCase() : s);
  if (matcher.exact !== undefined) return fold(value) === fold(matcher.exact);
  if (matcher.prefix !== undefined) return fold(value).startsWith(fold(matcher.prefix));
  if (matcher.suffix !== undefined) return fold(value).endsWith(fold(matcher.suffix));
  if (matcher.contains !== undefined) return fold(value).includes(fold(matcher.contains));
  if (matcher.safeRegex !== undefined) return RE2JS.compile(matcher.safeRegex.regex).matches(value);
  throw new Error('a string matcher needs exact, prefix, suffix, contains or safeRegex');
}

/** The first value of each query parameter (`?a` has the value ""), from the path and `query`. */
function queryParameters(request: SimulatedRequest): Map<string, string> {
  const out = new Map<string, string>();
  const q = request.path.indexOf('?');
  if (q >= 0) {
    for (const part of request.path.slice(q + 1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const name = decode(eq < 0 ? part : part.slice(0, eq));
      if (!out.has(name)) out.set(name, eq < 0 ? '' : decode(part.slice(eq + 1)));
    }
  }
  for (const [name, value] of Object.entries(request.query ?? {})) if (!out.has(name)) out.set(name, value);
  return out;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

function queryMatches(matcher: QueryParameterMatcher, request: SimulatedRequest): boolean {
  const value = queryParameters(request).get(matcher.name);
  if (value === undefined) return false;
  if (matcher.presentMatch !== undefined) return matcher.presentMatch;
  return matcher.stringMatch === undefined || stringMatches(matcher.stringMatch, value);
}

/** Only the claims the authentication filter writes (`istio_authn`, `request.auth.claims`) are known here. */
function metadataMatches(matcher: MetadataMatcher, request: SimulatedRequest): boolean {
  const [root, ...path] = matcher.path.map((s) => s.key);
  let value: unknown = matcher.filter === 'istio_authn' && root === 'request.auth.claims' ? request.claims : undefined;
  for (const key of path) value = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
  const match = valueMatches(matcher.value, value);
  return matcher.invert === true ? !match : match;
}

function valueMatches(matcher: ValueMatcher, value: unknown): boolean {
  if (matcher.presentMatch !== undefined) return (value !== undefined) === matcher.presentMatch;
  if (matcher.stringMatch !== undefined) return typeof value === 'string' && stringMatches(matcher.stringMatch, value);
  if (matcher.listMatch !== undefined) return Array.isArray(value) && value.some((v) => valueMatches(matcher.listMatch!.oneOf, v));
  if (matcher.orMatch !== undefined) return matcher.orMatch.valueMatchers.some((m) => valueMatches(m, value));
  return false;
}

/**
 * The path sent upstream: `prefixRewrite` replaces what the route matched (the prefix, or the
 * whole path after a path or regex match); `regexRewrite` substitutes every match in the path.
 * The query string stays.
 */
function rewrittenPath(route: Route, fullPath: string): string {
  const action = route.route;
  const path = pathOnly(fullPath);
  const query = fullPath.slice(path.length);
  if (action?.regexRewrite !== undefined) {
    const replacement = action.regexRewrite.substitution.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
    return RE2JS.compile(action.regexRewrite.pattern.regex).matcher(path).replaceAll(replacement) + query;
  }
  if (action?.prefixRewrite !== undefined) {
    const m = route.match;
    const matched = m.prefix ?? m.pathSeparatedPrefix;
    return matched !== undefined ? action.prefixRewrite + path.slice(matched.length) + query : action.prefixRewrite + query;
  }
  return fullPath;
}

const REDIRECT_STATUS: Readonly<Record<RedirectResponseCode, number>> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};

/** The Location of a redirect: each part the action sets replaces the request's; a new scheme drops the request's port. */
function redirectLocation(route: Route, request: SimulatedRequest): string {
  const redirect = route.redirect!;
  const originalScheme = request.scheme ?? 'http';
  const scheme = redirect.schemeRedirect ?? (redirect.httpsRedirect === true ? 'https' : originalScheme);
  const [requestHost, requestPort] = splitHostPort(request.authority);
  const [host, hostPort] = redirect.hostRedirect !== undefined ? splitHostPort(redirect.hostRedirect) : [requestHost, scheme === originalScheme ? requestPort : undefined];
  const port = redirect.portRedirect ?? hostPort;
  const path = pathOnly(request.path);
  const query = request.path.slice(path.length);
  let target: string;
  if (redirect.pathRedirect !== undefined) target = redirect.pathRedirect.includes('?') ? redirect.pathRedirect : redirect.pathRedirect + (redirect.stripQuery === true ? '' : query);
  else if (redirect.prefixRewrite !== undefined) target = redirect.prefixRewrite + path.slice((route.match.prefix ?? '').length) + (redirect.stripQuery === true ? '' : query);
  else target = redirect.stripQuery === true ? path : request.path;
  return `${scheme}://${host}${port !== undefined ? `:${port}` : ''}${target}`;
}

function splitHostPort(authority: string): [string, number | undefined] {
  const m = /^(.*):(\d+)$/.exec(authority);
  return m === null ? [authority, undefined] : [m[1]!, Number(m[2])];
}

function stripPort(authority: string): string {
  return splitHostPort(authority)[0];
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}
