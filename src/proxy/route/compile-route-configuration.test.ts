import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { err, ok } from '../../core/index.ts';
import type { Route, RouteConfiguration, VirtualHost } from '../../xds/envoy/index.ts';
import { compileRouteConfiguration, type PerFilterConfigParser } from './compile-route-configuration.ts';

const PARSERS = new Map<string, PerFilterConfigParser>([
  ['envoy.filters.http.fault', (config) => (config['abort'] === 'bad' ? err('abort: must be an object') : ok(config))],
  ['envoy.filters.http.cors', (config) => ok(config)],
]);

/** The compile error for a configuration; fails the test if it compiles. */
function problems(config: Partial<RouteConfiguration>): string {
  const result = compileRouteConfiguration({ name: 'rc', virtualHosts: [], ...config }, { perFilterConfigParsers: PARSERS });
  assert.equal(result.ok, false, 'expected the configuration to be refused');
  return result.ok ? '' : result.error;
}

/** The compile error for one route in virtual host "vh". */
function routeProblems(route: Partial<Route>): string {
  return problems({ virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, ...route } as Route] }] });
}

const AT = 'RouteConfiguration "rc", virtual host "vh": virtualHosts[0].routes[0]';

describe('compileRouteConfiguration refuses', () => {
  it('a regex RE2 refuses, naming the field path and RE2\'s reason', () => {
    assert.equal(routeProblems({ match: { safeRegex: { regex: '/(a+' } }, route: { cluster: 'c' } }),
      `${AT}.match.safeRegex.regex: "/(a+" is not an RE2 regular expression: missing closing ): \`/(a+\``);
    assert.equal(routeProblems({ match: { safeRegex: { regex: '/(a)\\1' } }, route: { cluster: 'c' } }),
      `${AT}.match.safeRegex.regex: "/(a)\\1" is not an RE2 regular expression: invalid escape sequence: \`\\1\``);
    assert.equal(routeProblems({ match: { prefix: '/', headers: [{ name: 'x', safeRegexMatch: { regex: '(?=x)' } }] }, route: { cluster: 'c' } }),
      `${AT}.match.headers[0].safeRegexMatch.regex: "(?=x)" is not an RE2 regular expression: invalid or unsupported Perl syntax: \`(?=\``);
  });

  it('string matchers that are empty, doubled, or fold case on a regex', () => {
    assert.equal(routeProblems({ match: { prefix: '/', headers: [{ name: 'x', stringMatch: { prefix: '' } }] }, route: { cluster: 'c' } }),
      `${AT}.match.headers[0].stringMatch.prefix: must not be empty`);
    assert.equal(routeProblems({ match: { prefix: '/', queryParameters: [{ name: 'q', stringMatch: { exact: 'a', suffix: 'b' } }] }, route: { cluster: 'c' } }),
      `${AT}.match.queryParameters[0].stringMatch: sets exact and suffix; only one may be set`);
    assert.equal(routeProblems({ match: { prefix: '/', headers: [{ name: 'x', stringMatch: { safeRegex: { regex: 'a' }, ignoreCase: true } }] }, route: { cluster: 'c' } }),
      `${AT}.match.headers[0].stringMatch.ignoreCase: has no effect on safeRegex; use (?i) in the regex instead`);
    assert.equal(routeProblems({ match: { prefix: '/', headers: [{ name: 'x', exactMatch: 'a', presentMatch: true }] }, route: { cluster: 'c' } }),
      `${AT}.match.headers[0]: sets exactMatch and presentMatch; only one may be set`);
    assert.equal(routeProblems({ match: { prefix: '/', headers: [{ name: '', presentMatch: true }] }, route: { cluster: 'c' } }),
      `${AT}.match.headers[0].name: must not be empty`);
  });

  it('a match without exactly one path specifier, or a bad path-separated prefix', () => {
    assert.equal(routeProblems({ match: { headers: [] }, route: { cluster: 'c' } }), `${AT}.match: needs one of prefix, path, safeRegex, pathSeparatedPrefix or connectMatcher`);
    assert.equal(routeProblems({ match: { prefix: '/', path: '/a' }, route: { cluster: 'c' } }), `${AT}.match: sets prefix and path; only one may be set`);
    assert.equal(routeProblems({ match: { pathSeparatedPrefix: '/api/' }, route: { cluster: 'c' } }),
      `${AT}.match.pathSeparatedPrefix: "/api/" must be a path without "?" or "#" that does not end with "/" (e.g. "/api")`);
  });

  it('a connectMatcher beside a path specifier, or not an object; pathMatchPolicy', () => {
    assert.equal(routeProblems({ match: { prefix: '/', connectMatcher: {} }, route: { cluster: 'c' } }), `${AT}.match: sets prefix and connectMatcher; only one may be set`);
    assert.equal(routeProblems({ match: { connectMatcher: true as never }, route: { cluster: 'c' } }), `${AT}.match.connectMatcher: must be an object ({})`);
    assert.equal(routeProblems({ match: { prefix: '/', pathMatchPolicy: {} } as Route['match'], route: { cluster: 'c' } }),
      `${AT}.match.pathMatchPolicy: is not supported by Weft; use prefix, path, safeRegex, pathSeparatedPrefix or connectMatcher`);
  });

  it('route upgradeConfigs: a type twice, no type, connectConfig on another type or with settings Weft lacks', () => {
    const route = (upgradeConfigs: unknown): Partial<Route> => ({ match: { connectMatcher: {} }, route: { cluster: 'c', upgradeConfigs } } as Partial<Route>);
    assert.equal(routeProblems(route([{ upgradeType: 'CONNECT' }, { upgradeType: 'connect' }])), `${AT}.route.upgradeConfigs[1].upgradeType: "connect" is listed twice`);
    assert.equal(routeProblems(route([{ enabled: true }])), `${AT}.route.upgradeConfigs[0].upgradeType: must name the upgrade (websocket, CONNECT, ...)`);
    assert.equal(routeProblems(route([{ upgradeType: 'websocket', connectConfig: {} }])), `${AT}.route.upgradeConfigs[0].connectConfig: only a CONNECT upgrade has a connectConfig, not "websocket"`);
    assert.equal(routeProblems(route([{ upgradeType: 'CONNECT', connectConfig: { allowPost: true } }])),
      `${AT}.route.upgradeConfigs[0].connectConfig.allowPost: is not supported by Weft; a terminated CONNECT carries its bytes as they are`);
    assert.equal(routeProblems(route({ upgradeType: 'CONNECT' })), `${AT}.route.upgradeConfigs: must be a list`);
  });

  it('a route without exactly one action', () => {
    assert.equal(routeProblems({}), `${AT}: needs one of route, redirect or directResponse`);
    assert.equal(routeProblems({ route: { cluster: 'c' }, directResponse: { status: 200 } }), `${AT}: sets route and directResponse; only one may be set`);
    assert.equal(routeProblems({ route: {} }), `${AT}.route: needs cluster or weightedClusters (Weft does not take clusterHeader or cluster specifier plugins)`);
  });

  it('weighted clusters whose weights are missing, add up to 0, or miss totalWeight', () => {
    assert.equal(routeProblems({ route: { weightedClusters: { clusters: [{ name: 'a', weight: 0 }, { name: 'b', weight: 0 }] } } }),
      `${AT}.route.weightedClusters: the weights add up to 0; at least one cluster needs a weight above 0`);
    assert.equal(routeProblems({ route: { weightedClusters: { clusters: [{ name: 'a', weight: 30 }, { name: 'b', weight: 60 }], totalWeight: 100 } } }),
      `${AT}.route.weightedClusters.totalWeight: is 100, but the weights add up to 90`);
    assert.equal(routeProblems({ route: { weightedClusters: { clusters: [{ name: 'a' } as never, { name: 'b', weight: 1 }] } } }),
      `${AT}.route.weightedClusters.clusters[0].weight: is required`);
    assert.equal(routeProblems({ route: { weightedClusters: { clusters: [] } } }), `${AT}.route.weightedClusters.clusters: needs at least one cluster`);
  });

  it('rewrites that conflict or refer to groups the pattern lacks', () => {
    assert.equal(routeProblems({ route: { cluster: 'c', prefixRewrite: '/a', regexRewrite: { pattern: { regex: 'x' }, substitution: 'y' } } }),
      `${AT}.route: sets prefixRewrite and regexRewrite; only one may be set`);
    assert.equal(routeProblems({ route: { cluster: 'c', regexRewrite: { pattern: { regex: '/(a)' }, substitution: '\\2' } } }),
      `${AT}.route.regexRewrite.substitution: "\\2" refers to group \\2, but the pattern has only 1 group`);
    assert.equal(routeProblems({ route: { cluster: 'c', regexRewrite: { pattern: { regex: '/a' }, substitution: '\\n' } } }),
      `${AT}.route.regexRewrite.substitution: "\\n" has a backslash that is neither \\0..\\9 (a group) nor \\\\ (a backslash)`);
    assert.equal(routeProblems({ redirect: { httpsRedirect: true, schemeRedirect: 'ftp' } }), `${AT}.redirect: sets schemeRedirect and httpsRedirect; only one may be set`);
    assert.equal(routeProblems({ redirect: { pathRedirect: '/a', prefixRewrite: '/b' } }), `${AT}.redirect: sets pathRedirect and prefixRewrite; only one may be set`);
  });

  it('durations that are not proto3 durations', () => {
    assert.equal(routeProblems({ route: { cluster: 'c', timeout: '10' } }),
      `${AT}.route.timeout: "10" is not a duration (expected a number with a unit: ns, us, ms, s, m, h, e.g. "1.5s" or "100ms")`);
  });

  it('retry back-off that is zero or shrinks, and retry extensions Weft lacks', () => {
    assert.equal(routeProblems({ route: { cluster: 'c', retryPolicy: { retryBackOff: { baseInterval: '0s' } } } }),
      `${AT}.route.retryPolicy.retryBackOff.baseInterval: must be greater than 0`);
    assert.equal(routeProblems({ route: { cluster: 'c', retryPolicy: { retryBackOff: { baseInterval: '1s', maxInterval: '0.5s' } } } }),
      `${AT}.route.retryPolicy.retryBackOff.maxInterval: must be at least the base interval (1s)`);
    assert.equal(routeProblems({ route: { cluster: 'c', retryPolicy: { retryHostPredicate: [{ name: 'envoy.retry_host_predicates.omit_canary_hosts' }] } } }),
      `${AT}.route.retryPolicy.retryHostPredicate[0]: "envoy.retry_host_predicates.omit_canary_hosts" is not a retry host predicate Weft knows (only envoy.retry_host_predicates.previous_hosts)`);
  });

  it('header changes to pseudo-headers or Host, and append together with appendAction', () => {
    assert.equal(routeProblems({ route: { cluster: 'c' }, requestHeadersToAdd: [{ header: { key: ':path', value: '/x' } }] }),
      `${AT}.requestHeadersToAdd[0].header.key: ":path" cannot be changed: pseudo-headers (":...") and host are not headers a route may add`);
    assert.equal(routeProblems({ route: { cluster: 'c' }, requestHeadersToRemove: ['Host'] }),
      `${AT}.requestHeadersToRemove[0]: "Host" cannot be removed: pseudo-headers (":...") and host are needed to forward the request`);
    assert.equal(routeProblems({ route: { cluster: 'c' }, responseHeadersToAdd: [{ header: { key: 'x', value: 'y' }, append: true, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }] }),
      `${AT}.responseHeadersToAdd[0]: sets both append and appendAction; use appendAction only (append is deprecated)`);
  });

  it('direct responses with a status outside 200..599 or a body that is too big or not inline', () => {
    assert.equal(routeProblems({ directResponse: { status: 100 } }), `${AT}.directResponse.status: must be an HTTP status from 200 to 599, not 100`);
    assert.equal(routeProblems({ directResponse: { status: 200, body: { inlineString: 'x'.repeat(4097) } } }),
      `${AT}.directResponse.body: is 4097 bytes, more than the route configuration's maxDirectResponseBodySizeBytes (4096)`);
    assert.equal(routeProblems({ directResponse: { status: 200, body: { filename: '/etc/motd' } } }),
      `${AT}.directResponse.body.filename: Weft takes a direct response body only inline (inlineString or inlineBytes)`);
  });

  it('per-filter configs no filter takes, unless optional, and those their filter refuses', () => {
    assert.equal(routeProblems({ route: { cluster: 'c' }, typedPerFilterConfig: { 'envoy.filters.http.faults': { '@type': 'x' } } }),
      `${AT}.typedPerFilterConfig["envoy.filters.http.faults"]: no HTTP filter named "envoy.filters.http.faults" takes per-route config (did you mean "envoy.filters.http.fault"?)`);
    assert.equal(routeProblems({ route: { cluster: 'c' }, typedPerFilterConfig: { 'envoy.filters.http.fault': { '@type': 'x', abort: 'bad' } } }),
      `${AT}.typedPerFilterConfig["envoy.filters.http.fault"]: abort: must be an object`);
    const optional = compileRouteConfiguration({
      name: 'rc',
      virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, typedPerFilterConfig: { 'envoy.filters.http.wasm': { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', isOptional: true, config: { '@type': 'w' } } } }] }],
    }, { perFilterConfigParsers: PARSERS });
    assert.equal(optional.ok, true);
  });

  it('a domain in two virtual hosts, or * in more than one', () => {
    const host = (name: string, domains: string[]): VirtualHost => ({ name, domains, routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] });
    assert.equal(problems({ virtualHosts: [host('a', ['Foo.com', '*']), host('b', ['foo.com']), host('c', ['*'])] }), [
      'RouteConfiguration "rc", virtual host "b": virtualHosts[1].domains[0]: "foo.com" is already a domain of virtual host "a"; a domain may belong to one virtual host only',
      'RouteConfiguration "rc", virtual host "c": virtualHosts[2].domains[0]: "*" is already the domain of virtual host "a"; only one virtual host may take every domain',
    ].join('\n'));
    assert.equal(problems({ virtualHosts: [host('', [])] }), [
      'RouteConfiguration "rc", virtual host "": virtualHosts[0].name: must not be empty',
      'RouteConfiguration "rc", virtual host "": virtualHosts[0].domains: needs at least one domain',
    ].join('\n'));
  });

  it('with every problem on its own line, route configuration level ones included', () => {
    assert.equal(problems({
      requestHeadersToRemove: [':authority'],
      virtualHosts: [{ name: 'vh', domains: ['*'], routes: [
        { match: { safeRegex: { regex: '[' } }, route: { cluster: 'c' } },
        { match: { prefix: '/' }, route: { cluster: 'c', timeout: 'soon' } },
      ] }],
    }), [
      'RouteConfiguration "rc": requestHeadersToRemove[0]: ":authority" cannot be removed: pseudo-headers (":...") and host are needed to forward the request',
      'RouteConfiguration "rc", virtual host "vh": virtualHosts[0].routes[0].match.safeRegex.regex: "[" is not an RE2 regular expression: missing closing ]: `[`',
      'RouteConfiguration "rc", virtual host "vh": virtualHosts[0].routes[1].route.timeout: "soon" is not a duration (expected a number with a unit: ns, us, ms, s, m, h, e.g. "1.5s" or "100ms")',
    ].join('\n'));
  });
});

describe('compileRouteConfiguration accepts', () => {
  it('a configuration with no virtual hosts, which routes nothing', () => {
    const result = compileRouteConfiguration({ name: 'empty', virtualHosts: [] }, { perFilterConfigParsers: new Map() });
    assert.equal(result.ok && result.value.match({ method: 'GET', path: '/', authority: 'a', scheme: 'http', headers: {} }, 0), undefined);
  });

  it('the JSON form as proto3 leaves it, with empty lists and default values absent', () => {
    const decoded = { name: 'rc', virtualHosts: [{ name: 'vh', domains: ['*'] }] } as unknown as RouteConfiguration;
    const result = compileRouteConfiguration(decoded, { perFilterConfigParsers: new Map() });
    assert.equal(result.ok, true);
  });
});
