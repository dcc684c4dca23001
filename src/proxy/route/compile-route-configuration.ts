import { closestMatch, err, ok, type Result } from '../../core/index.ts';
import { FILTER_CONFIG_TYPE, type FilterConfig, type Route, type RouteConfiguration, type TypedAny, type VirtualHost } from '../../xds/envoy/index.ts';
import { compileDirectResponse, DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES } from './direct-response.ts';
import { compileForwardAction, compileMirrors, type ForwardDefaults } from './forward-action.ts';
import { composeHeaderLevels, NO_HEADER_MUTATION, parseHeaderLevel, type HeaderLevel } from './header-mutation.ts';
import { Problems } from './problems.ts';
import { compileRedirectAction } from './redirect-action.ts';
import { compileRetryPolicy } from './retry-policy.ts';
import type { RequestMirror, RouteAction, RouteEntry, RouteTable } from './route-entry.ts';
import { compileRouteMatch } from './route-match.ts';
import { CompiledRouteTable, DomainIndexBuilder, type CompiledRoute, type CompiledVirtualHost } from './route-table.ts';

/** Parses one HTTP filter's per-route config (the `Any`, `@type` included); an error NACKs the route configuration. */
export type PerFilterConfigParser = (config: Readonly<Record<string, unknown>>) => Result<unknown, string>;

export interface CompileRouteOptions {
  /** By HTTP filter name (`envoy.filters.http.fault`): the filters that take per-route config. */
  readonly perFilterConfigParsers: ReadonlyMap<string, PerFilterConfigParser>;
}

/** What the levels above a route give it. */
interface Inherited {
  readonly virtualHostName: string;
  /** The virtual host's header changes, then the route configuration's: applied after the route's. */
  readonly requestHeaders: readonly HeaderLevel[];
  readonly responseHeaders: readonly HeaderLevel[];
  readonly perFilterConfig: ReadonlyMap<string, unknown>;
  readonly forward: ForwardDefaults;
  readonly maxDirectResponseBodyBytes: number;
}

/**
 * Validates and compiles an RDS RouteConfiguration once, so that matching a request only reads
 * the result: regexes compiled with RE2, durations in milliseconds, weights summed, header
 * changes of every level folded into one mutation, per-route filter configs parsed by their
 * filters. Every problem is reported, each naming the route configuration, the virtual host and
 * the field (`virtualHosts[0].routes[2].match.safeRegex.regex`), one per line. Envoy's
 * `%VARIABLE%` substitutions in header values are not expanded: the text is sent as written.
 * `validateClusters` is not checked: RDS route configurations refer to clusters that may come later.
 */
export function compileRouteConfiguration(config: RouteConfiguration, options: CompileRouteOptions): Result<RouteTable, string> {
  const name = config.name ?? '';
  const problems = new Problems(`RouteConfiguration "${name}": `);
  const requestLevel = parseHeaderLevel(config.requestHeadersToAdd, config.requestHeadersToRemove, 'requestHeadersToAdd', 'requestHeadersToRemove', problems);
  const responseLevel = parseHeaderLevel(config.responseHeadersToAdd, config.responseHeadersToRemove, 'responseHeadersToAdd', 'responseHeadersToRemove', problems);
  const perFilterConfig = parsePerFilterConfigs(config.typedPerFilterConfig, 'typedPerFilterConfig', options, problems);
  const mirrors = compileMirrors(config.requestMirrorPolicies, 'requestMirrorPolicies', problems);
  const maxBody = config.maxDirectResponseBodySizeBytes ?? DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES;

  const domains = new DomainIndexBuilder();
  (config.virtualHosts ?? []).forEach((virtualHost, i) => {
    const at = `virtualHosts[${i}]`;
    const hostProblems = problems.withPrefix(`RouteConfiguration "${name}", virtual host "${virtualHost.name ?? ''}": `);
    const compiled = compileVirtualHost(virtualHost, at, {
      requestLevel, responseLevel, perFilterConfig, mirrors, maxDirectResponseBodyBytes: maxBody, options,
    }, hostProblems);
    if (compiled === undefined) return;
    (virtualHost.domains ?? []).forEach((domain, j) => {
      const problem = domains.add(domain, compiled);
      if (problem !== undefined) hostProblems.add(`${at}.domains[${j}]`, problem);
    });
  });
  if (problems.count > 0) return err(problems.text());
  return ok(new CompiledRouteTable(name, domains.build(), config.ignorePortInHostMatching === true));
}

interface ConfigLevel {
  readonly requestLevel: HeaderLevel;
  readonly responseLevel: HeaderLevel;
  readonly perFilterConfig: ReadonlyMap<string, unknown>;
  readonly mirrors: readonly RequestMirror[];
  readonly maxDirectResponseBodyBytes: number;
  readonly options: CompileRouteOptions;
}

const REQUIRE_TLS: ReadonlySet<string> = new Set(['NONE', 'EXTERNAL_ONLY', 'ALL']);

function compileVirtualHost(virtualHost: VirtualHost, at: string, above: ConfigLevel, problems: Problems): CompiledVirtualHost | undefined {
  const before = problems.count;
  const name = virtualHost.name ?? '';
  if (name === '') problems.add(`${at}.name`, 'must not be empty');
  if ((virtualHost.domains ?? []).length === 0) problems.add(`${at}.domains`, 'needs at least one domain');
  const requireTls = virtualHost.requireTls ?? 'NONE';
  if (!REQUIRE_TLS.has(requireTls)) problems.add(`${at}.requireTls`, `"${requireTls}" is not one of NONE, EXTERNAL_ONLY, ALL`);
  const requestLevel = parseHeaderLevel(virtualHost.requestHeadersToAdd, virtualHost.requestHeadersToRemove, `${at}.requestHeadersToAdd`, `${at}.requestHeadersToRemove`, problems);
  const responseLevel = parseHeaderLevel(virtualHost.responseHeadersToAdd, virtualHost.responseHeadersToRemove, `${at}.responseHeadersToAdd`, `${at}.responseHeadersToRemove`, problems);
  const ownFilters = parsePerFilterConfigs(virtualHost.typedPerFilterConfig, `${at}.typedPerFilterConfig`, above.options, problems);
  const retry = virtualHost.retryPolicy !== undefined ? compileRetryPolicy(virtualHost.retryPolicy, `${at}.retryPolicy`, problems) : undefined;
  const ownMirrors = compileMirrors(virtualHost.requestMirrorPolicies, `${at}.requestMirrorPolicies`, problems);

  const inherited: Inherited = {
    virtualHostName: name,
    requestHeaders: [requestLevel, above.requestLevel],
    responseHeaders: [responseLevel, above.responseLevel],
    perFilterConfig: merge(above.perFilterConfig, ownFilters),
    forward: { retry, mirrors: ownMirrors.length > 0 ? ownMirrors : above.mirrors },
    maxDirectResponseBodyBytes: above.maxDirectResponseBodyBytes,
  };
  const routes: CompiledRoute[] = [];
  (virtualHost.routes ?? []).forEach((route, i) => {
    const compiled = compileRoute(route, `${at}.routes[${i}]`, inherited, above.options, problems);
    if (compiled !== undefined) routes.push(compiled);
  });
  if (problems.count > before) return undefined;
  return { name, requireTls: requireTls as CompiledVirtualHost['requireTls'], routes, tlsRedirect: tlsRedirectEntry(name) };
}

/** Envoy's answer when a virtual host requires TLS: 301 to the same Host and path over https. */
function tlsRedirectEntry(virtualHostName: string): RouteEntry {
  return {
    name: '',
    virtualHostName,
    action: { kind: 'redirect', redirect: (head) => ({ status: 301, location: `https://${head.authority}${head.path}` }) },
    requestHeaders: NO_HEADER_MUTATION,
    responseHeaders: NO_HEADER_MUTATION,
    perFilterConfig: new Map(),
  };
}

const ACTIONS = ['route', 'redirect', 'directResponse'] as const;

function compileRoute(route: Route, at: string, inherited: Inherited, options: CompileRouteOptions, problems: Problems): CompiledRoute | undefined {
  const before = problems.count;
  const match = compileRouteMatch(route.match, `${at}.match`, problems);
  const actions = ACTIONS.filter((a) => route[a] !== undefined);
  const unsupported = Object.keys(route).find((k) => k === 'filterAction' || k === 'nonForwardingAction');
  if (unsupported !== undefined) problems.add(`${at}.${unsupported}`, 'is not supported by Weft; use route, redirect or directResponse');
  else if (actions.length !== 1) problems.add(at, actions.length === 0 ? 'needs one of route, redirect or directResponse' : `sets ${actions.join(' and ')}; only one may be set`);
  const requestLevel = parseHeaderLevel(route.requestHeadersToAdd, route.requestHeadersToRemove, `${at}.requestHeadersToAdd`, `${at}.requestHeadersToRemove`, problems);
  const responseLevel = parseHeaderLevel(route.responseHeadersToAdd, route.responseHeadersToRemove, `${at}.responseHeadersToAdd`, `${at}.responseHeadersToRemove`, problems);
  const ownFilters = parsePerFilterConfigs(route.typedPerFilterConfig, `${at}.typedPerFilterConfig`, options, problems);
  const operation = route.decorator?.operation;
  if (route.decorator !== undefined && (operation ?? '') === '') problems.add(`${at}.decorator.operation`, 'must not be empty');
  if (match === undefined || problems.count > before) return undefined;

  let action: RouteAction | undefined;
  if (route.route !== undefined) action = compileForwardAction(route.route, match, inherited.forward, `${at}.route`, problems);
  else if (route.redirect !== undefined) action = compileRedirectAction(route.redirect, match, `${at}.redirect`, problems);
  else if (route.directResponse !== undefined) action = compileDirectResponse(route.directResponse, inherited.maxDirectResponseBodyBytes, `${at}.directResponse`, problems);
  if (action === undefined) return undefined;

  const entry: RouteEntry = {
    name: route.name ?? '',
    virtualHostName: inherited.virtualHostName,
    action,
    requestHeaders: composeHeaderLevels([requestLevel, ...inherited.requestHeaders]),
    responseHeaders: composeHeaderLevels([responseLevel, ...inherited.responseHeaders]),
    perFilterConfig: merge(inherited.perFilterConfig, ownFilters),
    ...(operation !== undefined && operation !== '' ? { decoratorOperation: operation } : {}),
  };
  return { matches: match.matches, entry };
}

/** The more specific level's configs win, filter by filter. */
function merge(outer: ReadonlyMap<string, unknown>, inner: ReadonlyMap<string, unknown>): ReadonlyMap<string, unknown> {
  if (inner.size === 0) return outer;
  if (outer.size === 0) return inner;
  return new Map([...outer, ...inner]);
}

/**
 * `typedPerFilterConfig`, each entry parsed by the parser of the filter it names. As in Envoy, a
 * config no filter here can parse is refused, unless it is wrapped in a FilterConfig with
 * `isOptional`, which makes it ignored.
 */
function parsePerFilterConfigs(configs: { readonly [filter: string]: TypedAny } | undefined, at: string, options: CompileRouteOptions, problems: Problems): ReadonlyMap<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [filter, any] of Object.entries(configs ?? {})) {
    const fat = `${at}["${filter}"]`;
    let config: TypedAny | undefined = any;
    let optional = false;
    if (any['@type'] === FILTER_CONFIG_TYPE) {
      const wrapper = any as FilterConfig;
      optional = wrapper.isOptional === true;
      config = wrapper.config;
      if (wrapper.disabled === true) {
        problems.add(`${fat}.disabled`, 'Weft cannot turn a filter off for one route');
        continue;
      }
      if (config === undefined) {
        problems.add(`${fat}.config`, 'is required');
        continue;
      }
    }
    const parse = options.perFilterConfigParsers.get(filter);
    if (parse === undefined) {
      if (optional) continue;
      const known = [...options.perFilterConfigParsers.keys()];
      const guess = closestMatch(filter, known);
      problems.add(fat, `no HTTP filter named "${filter}" takes per-route config${guess !== undefined ? ` (did you mean "${guess}"?)` : known.length > 0 ? ` (these do: ${known.join(', ')})` : ''}`);
      continue;
    }
    const parsed = parse(config as Readonly<Record<string, unknown>>);
    if (!parsed.ok) problems.add(fat, parsed.error);
    else out.set(filter, parsed.value);
  }
  return out;
}
