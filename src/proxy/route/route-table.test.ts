import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ok, type Result } from '../../core/index.ts';
import type { Route, RouteConfiguration, VirtualHost } from '../../xds/envoy/index.ts';
import type { RequestHead } from '../http/request-head.ts';
import { compileRouteConfiguration, type PerFilterConfigParser } from './compile-route-configuration.ts';
import type { RouteAction, RouteEntry, RouteRequest, RouteTable } from './route-entry.ts';

function table(virtualHosts: readonly VirtualHost[], extra: Partial<RouteConfiguration> = {}, parsers: ReadonlyMap<string, PerFilterConfigParser> = new Map()): RouteTable {
  const result = compileRouteConfiguration({ name: 'test', virtualHosts, ...extra }, { perFilterConfigParsers: parsers });
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

/** One virtual host taking every domain, with these routes. */
function routes(...list: Route[]): RouteTable {
  return table([{ name: 'vh', domains: ['*'], routes: list }]);
}

function request(partial: Partial<RouteRequest> = {}): RouteRequest {
  return { method: 'GET', path: '/', authority: 'example.com', scheme: 'http', headers: {}, ...partial };
}

function head(partial: Partial<RequestHead> = {}): RequestHead {
  return { method: 'GET', path: '/', authority: 'example.com', scheme: 'http', headers: {}, protocol: 'HTTP/1.1', ...partial };
}

function matched(t: RouteTable, partial: Partial<RouteRequest> = {}, random = 0): string | undefined {
  return t.match(request(partial), random)?.name;
}

function forward(entry: RouteEntry | undefined): Extract<RouteAction, { kind: 'forward' }> {
  assert.equal(entry?.action.kind, 'forward');
  return entry.action as Extract<RouteAction, { kind: 'forward' }>;
}

function redirect(entry: RouteEntry | undefined): Extract<RouteAction, { kind: 'redirect' }> {
  assert.equal(entry?.action.kind, 'redirect');
  return entry.action as Extract<RouteAction, { kind: 'redirect' }>;
}

const TO = { cluster: 'c' };

describe('virtual host selection', () => {
  const hosts = table([
    { name: 'exact', domains: ['www.foo.com'], routes: [{ name: 'exact', match: { prefix: '/' }, route: TO }] },
    { name: 'suffix', domains: ['*.foo.com'], routes: [{ name: 'suffix', match: { prefix: '/' }, route: TO }] },
    { name: 'longer-suffix', domains: ['*-bar.foo.com'], routes: [{ name: 'longer-suffix', match: { prefix: '/' }, route: TO }] },
    { name: 'prefix', domains: ['foo.*'], routes: [{ name: 'prefix', match: { prefix: '/' }, route: TO }] },
    { name: 'longer-prefix', domains: ['foo.bar.*'], routes: [{ name: 'longer-prefix', match: { prefix: '/' }, route: TO }] },
    { name: 'with-port', domains: ['reviews:9080'], routes: [{ name: 'with-port', match: { prefix: '/' }, route: TO }] },
    { name: 'any', domains: ['*'], routes: [{ name: 'any', match: { prefix: '/' }, route: TO }] },
  ]);

  it('prefers an exact domain, then the longest suffix wildcard, then the longest prefix wildcard, then *', () => {
    assert.equal(matched(hosts, { authority: 'www.foo.com' }), 'exact');
    assert.equal(matched(hosts, { authority: 'api.foo.com' }), 'suffix');
    assert.equal(matched(hosts, { authority: 'baz-bar.foo.com' }), 'longer-suffix');
    assert.equal(matched(hosts, { authority: 'foo.example' }), 'prefix');
    assert.equal(matched(hosts, { authority: 'foo.bar.example' }), 'longer-prefix');
    assert.equal(matched(hosts, { authority: 'elsewhere.org' }), 'any');
  });

  it('compares the Host in lower case', () => {
    assert.equal(matched(hosts, { authority: 'WWW.Foo.COM' }), 'exact');
  });

  it('never lets a wildcard stand for nothing', () => {
    assert.equal(matched(hosts, { authority: '.foo.com' }), 'any');
    assert.equal(matched(hosts, { authority: '-bar.foo.com' }), 'suffix');
    assert.equal(matched(hosts, { authority: 'foo.' }), 'any');
  });

  it('matches the Host with its port against domains that name the port, as Envoy does', () => {
    assert.equal(matched(hosts, { authority: 'reviews:9080' }), 'with-port');
    assert.equal(matched(hosts, { authority: 'reviews' }), 'any');
    assert.equal(matched(hosts, { authority: 'www.foo.com:80' }), 'any');
  });

  it('drops the port first when ignorePortInHostMatching is set', () => {
    const ignoring = table([{ name: 'exact', domains: ['www.foo.com'], routes: [{ name: 'exact', match: { prefix: '/' }, route: TO }] }], { ignorePortInHostMatching: true });
    assert.equal(matched(ignoring, { authority: 'www.foo.com:8080' }), 'exact');
    const ipv6 = table([{ name: 'v6', domains: ['[::1]'], routes: [{ name: 'v6', match: { prefix: '/' }, route: TO }] }], { ignorePortInHostMatching: true });
    assert.equal(matched(ipv6, { authority: '[::1]:443' }), 'v6');
    assert.equal(matched(ipv6, { authority: '[::1]' }), 'v6');
  });

  it('finds no route when no virtual host takes the Host', () => {
    const only = table([{ name: 'exact', domains: ['www.foo.com'], routes: [{ name: 'exact', match: { prefix: '/' }, route: TO }] }]);
    assert.equal(only.match(request({ authority: 'other.com' }), 0), undefined);
  });

  it('names the route configuration and the virtual host of the entry', () => {
    assert.equal(hosts.name, 'test');
    assert.equal(hosts.match(request({ authority: 'api.foo.com' }), 0)?.virtualHostName, 'suffix');
  });
});

describe('route matching', () => {
  it('takes the first route that matches, in order', () => {
    const t = routes(
      { name: 'api', match: { prefix: '/api' }, route: TO },
      { name: 'api-v2', match: { prefix: '/api/v2' }, route: TO },
      { name: 'rest', match: { prefix: '/' }, route: TO },
    );
    assert.equal(matched(t, { path: '/api/v2/x' }), 'api');
    assert.equal(matched(t, { path: '/other' }), 'rest');
  });

  it('finds no route when none matches', () => {
    assert.equal(routes({ name: 'api', match: { prefix: '/api' }, route: TO }).match(request({ path: '/web' }), 0), undefined);
  });

  it('matches a prefix, an exact path, a full regex and a path-separated prefix on the path without its query', () => {
    const t = routes(
      { name: 'exact', match: { path: '/exact' }, route: TO },
      { name: 'regex', match: { safeRegex: { regex: '/items/[0-9]+' } }, route: TO },
      { name: 'separated', match: { pathSeparatedPrefix: '/api' }, route: TO },
      { name: 'prefix', match: { prefix: '/p' }, route: TO },
    );
    assert.equal(matched(t, { path: '/exact?x=1' }), 'exact');
    assert.equal(matched(t, { path: '/exact/more' }), undefined);
    assert.equal(matched(t, { path: '/items/42?page=2' }), 'regex');
    assert.equal(matched(t, { path: '/items/42/reviews' }), undefined, 'the regex must match the whole path');
    assert.equal(matched(t, { path: '/api' }), 'separated');
    assert.equal(matched(t, { path: '/api/users' }), 'separated');
    assert.equal(matched(t, { path: '/api?x' }), 'separated');
    assert.equal(matched(t, { path: '/apix' }), undefined);
    assert.equal(matched(t, { path: '/pets#frag' }), 'prefix');
  });

  it('folds case for prefix, path and path-separated prefix when caseSensitive is false, never for a regex', () => {
    const t = routes(
      { name: 'prefix', match: { prefix: '/API', caseSensitive: false }, route: TO },
      { name: 'path', match: { path: '/Exact', caseSensitive: false }, route: TO },
      { name: 'separated', match: { pathSeparatedPrefix: '/Docs', caseSensitive: false }, route: TO },
      { name: 'regex', match: { safeRegex: { regex: '/re' }, caseSensitive: false }, route: TO },
      { name: 'sensitive', match: { prefix: '/Case' }, route: TO },
    );
    assert.equal(matched(t, { path: '/api/x' }), 'prefix');
    assert.equal(matched(t, { path: '/EXACT' }), 'path');
    assert.equal(matched(t, { path: '/docs/a' }), 'separated');
    assert.equal(matched(t, { path: '/RE' }), undefined);
    assert.equal(matched(t, { path: '/re' }), 'regex');
    assert.equal(matched(t, { path: '/case' }), undefined);
  });

  it('matches headers by exact value, prefix, suffix, contains, regex, range, presence and string matcher', () => {
    const t = routes(
      { name: 'exact', match: { prefix: '/', headers: [{ name: 'x-exact', exactMatch: 'a' }] }, route: TO },
      { name: 'any-value', match: { prefix: '/', headers: [{ name: 'x-any', exactMatch: '' }] }, route: TO },
      { name: 'prefix', match: { prefix: '/', headers: [{ name: 'x-prefix', prefixMatch: 'pre' }] }, route: TO },
      { name: 'suffix', match: { prefix: '/', headers: [{ name: 'x-suffix', suffixMatch: 'fix' }] }, route: TO },
      { name: 'contains', match: { prefix: '/', headers: [{ name: 'x-contains', containsMatch: 'mid' }] }, route: TO },
      { name: 'regex', match: { prefix: '/', headers: [{ name: 'x-regex', safeRegexMatch: { regex: 'v[0-9]' } }] }, route: TO },
      { name: 'range', match: { prefix: '/', headers: [{ name: 'x-range', rangeMatch: { start: 10, end: '20' } }] }, route: TO },
      { name: 'present', match: { prefix: '/', headers: [{ name: 'x-present', presentMatch: true }] }, route: TO },
      { name: 'no-specifier', match: { prefix: '/', headers: [{ name: 'x-bare' }] }, route: TO },
      { name: 'string', match: { prefix: '/', headers: [{ name: 'x-string', stringMatch: { exact: 'Hello', ignoreCase: true } }] }, route: TO },
    );
    assert.equal(matched(t, { headers: { 'x-exact': 'a' } }), 'exact');
    assert.equal(matched(t, { headers: { 'x-exact': 'ab' } }), undefined);
    assert.equal(matched(t, { headers: { 'x-any': 'whatever' } }), 'any-value');
    assert.equal(matched(t, { headers: { 'x-prefix': 'prefixed' } }), 'prefix');
    assert.equal(matched(t, { headers: { 'x-suffix': 'postfix' } }), 'suffix');
    assert.equal(matched(t, { headers: { 'x-contains': 'amidst' } }), 'contains');
    assert.equal(matched(t, { headers: { 'x-regex': 'v1' } }), 'regex');
    assert.equal(matched(t, { headers: { 'x-regex': 'v12' } }), undefined, 'a header regex must match the whole value');
    assert.equal(matched(t, { headers: { 'x-range': '10' } }), 'range');
    assert.equal(matched(t, { headers: { 'x-range': '19' } }), 'range');
    assert.equal(matched(t, { headers: { 'x-range': '20' } }), undefined);
    assert.equal(matched(t, { headers: { 'x-range': '15.5' } }), undefined);
    assert.equal(matched(t, { headers: { 'x-present': '' } }), 'present');
    assert.equal(matched(t, { headers: { 'x-bare': 'x' } }), 'no-specifier');
    assert.equal(matched(t, { headers: { 'x-string': 'hELLO' } }), 'string');
  });

  it('joins several values of a header with "," before matching', () => {
    const t = routes({ name: 'joined', match: { prefix: '/', headers: [{ name: 'x-multi', exactMatch: 'a,b' }] }, route: TO });
    assert.equal(matched(t, { headers: { 'x-multi': ['a', 'b'] } }), 'joined');
    assert.equal(matched(t, { headers: { 'x-multi': 'a' } }), undefined);
  });

  it('matches header names in any case and reads pseudo-headers from the request line', () => {
    const t = routes(
      { name: 'post', match: { prefix: '/', headers: [{ name: ':method', exactMatch: 'POST' }] }, route: TO },
      { name: 'host', match: { prefix: '/', headers: [{ name: ':authority', stringMatch: { prefix: 'api.' } }] }, route: TO },
      { name: 'https', match: { prefix: '/', headers: [{ name: ':scheme', exactMatch: 'https' }] }, route: TO },
      { name: 'query', match: { prefix: '/', headers: [{ name: ':path', stringMatch: { suffix: '?debug' } }] }, route: TO },
      { name: 'upper', match: { prefix: '/', headers: [{ name: 'X-User', exactMatch: 'me' }] }, route: TO },
    );
    assert.equal(matched(t, { method: 'POST' }), 'post');
    assert.equal(matched(t, { authority: 'api.example.com' }), 'host');
    assert.equal(matched(t, { scheme: 'https' }), 'https');
    assert.equal(matched(t, { path: '/x?debug' }), 'query');
    assert.equal(matched(t, { headers: { 'x-user': 'me' } }), 'upper');
  });

  it('inverts header matches, but a missing header matches only a presence test unless it is treated as empty', () => {
    const t = routes(
      { name: 'not-beta', match: { prefix: '/a', headers: [{ name: 'x-user', exactMatch: 'beta', invertMatch: true }] }, route: TO },
      { name: 'absent', match: { prefix: '/b', headers: [{ name: 'x-user', presentMatch: false }] }, route: TO },
      { name: 'inverted-present', match: { prefix: '/c', headers: [{ name: 'x-user', presentMatch: true, invertMatch: true }] }, route: TO },
      { name: 'missing-is-empty', match: { prefix: '/d', headers: [{ name: 'x-user', exactMatch: 'beta', invertMatch: true, treatMissingHeaderAsEmpty: true }] }, route: TO },
    );
    assert.equal(matched(t, { path: '/a', headers: { 'x-user': 'alpha' } }), 'not-beta');
    assert.equal(matched(t, { path: '/a', headers: { 'x-user': 'beta' } }), undefined);
    assert.equal(matched(t, { path: '/a' }), undefined, 'a missing header does not match an inverted value test');
    assert.equal(matched(t, { path: '/b' }), 'absent');
    assert.equal(matched(t, { path: '/b', headers: { 'x-user': 'x' } }), undefined);
    assert.equal(matched(t, { path: '/c' }), 'inverted-present');
    assert.equal(matched(t, { path: '/c', headers: { 'x-user': 'x' } }), undefined);
    assert.equal(matched(t, { path: '/d' }), 'missing-is-empty');
  });

  it('matches query parameters by string matcher or presence, on the first value as sent', () => {
    const t = routes(
      { name: 'version', match: { prefix: '/v', queryParameters: [{ name: 'version', stringMatch: { exact: '2' } }] }, route: TO },
      { name: 'debug', match: { prefix: '/d', queryParameters: [{ name: 'debug', presentMatch: true }] }, route: TO },
      { name: 'encoded', match: { prefix: '/e', queryParameters: [{ name: 'q', stringMatch: { exact: 'a%20b' } }] }, route: TO },
    );
    assert.equal(matched(t, { path: '/v?version=2' }), 'version');
    assert.equal(matched(t, { path: '/v?version=1&version=2' }), undefined, 'the first value counts');
    assert.equal(matched(t, { path: '/v' }), undefined);
    assert.equal(matched(t, { path: '/d?debug' }), 'debug');
    assert.equal(matched(t, { path: '/d?x=1&debug=' }), 'debug');
    assert.equal(matched(t, { path: '/d?x=1' }), undefined);
    assert.equal(matched(t, { path: '/e?q=a%20b' }), 'encoded', 'values are not decoded, as in Envoy');
  });

  it('matches gRPC requests by content-type when grpc is set', () => {
    const t = routes({ name: 'grpc', match: { prefix: '/', grpc: {} }, route: TO });
    assert.equal(matched(t, { headers: { 'content-type': 'application/grpc' } }), 'grpc');
    assert.equal(matched(t, { headers: { 'content-type': 'application/grpc+proto' } }), 'grpc');
    assert.equal(matched(t, { headers: { 'content-type': 'application/grpc-web' } }), undefined);
    assert.equal(matched(t, { headers: { 'content-type': 'application/json' } }), undefined);
    assert.equal(matched(t), undefined);
  });

  it('matches a CONNECT only with connectMatcher, and connectMatcher nothing but a CONNECT', () => {
    const t = routes(
      { name: 'prefix', match: { prefix: '' }, route: TO },
      { name: 'regex', match: { safeRegex: { regex: '.*' } }, route: TO },
      { name: 'connect', match: { connectMatcher: {} }, route: TO },
      { name: 'slash', match: { prefix: '/' }, route: TO },
    );
    const connect = { method: 'CONNECT', path: '', authority: 'details:9080' };
    assert.equal(matched(t, connect), 'connect');
    assert.equal(matched(t, { method: 'GET', path: '/' }), 'prefix');
    assert.equal(matched(routes({ name: 'connect', match: { connectMatcher: {} }, route: TO }), { method: 'GET', path: '/' }), undefined);
    assert.equal(matched(routes({ name: 'path', match: { path: '' }, route: TO }, { name: 'split', match: { pathSeparatedPrefix: '/a' }, route: TO }), connect), undefined);
  });

  it('routes a CONNECT by its target against domains that carry the port, with its headers', () => {
    const t = table([
      { name: 'details', domains: ['details:9080'], routes: [{ name: 'tunnel', match: { connectMatcher: {}, headers: [{ name: 'x-tunnel', presentMatch: true }] }, route: TO }] },
      { name: 'other', domains: ['*'], routes: [{ name: 'other', match: { connectMatcher: {} }, route: TO }] },
    ]);
    assert.equal(matched(t, { method: 'CONNECT', path: '', authority: 'details:9080', headers: { 'x-tunnel': '1' } }), 'tunnel');
    assert.equal(matched(t, { method: 'CONNECT', path: '', authority: 'details:9080' }), undefined);
    assert.equal(matched(t, { method: 'CONNECT', path: '', authority: 'details:80' }), 'other');
  });

  it('matches a share of requests by runtimeFraction, with the random value given', () => {
    const t = routes(
      { name: 'canary', match: { prefix: '/', runtimeFraction: { defaultValue: { numerator: 25, denominator: 'HUNDRED' } } }, route: TO },
      { name: 'rest', match: { prefix: '/' }, route: TO },
    );
    assert.equal(matched(t, {}, 0.249), 'canary');
    assert.equal(matched(t, {}, 0.25), 'rest');
  });

  it('matches JWT claims in dynamic metadata, as a string or in a list, and inverts', () => {
    const claim = { stringMatch: { exact: 'admin' } };
    const t = routes(
      { name: 'admin', match: { prefix: '/', dynamicMetadata: [{ filter: 'istio_authn', path: [{ key: 'request.auth.claims' }, { key: 'group' }], value: { orMatch: { valueMatchers: [claim, { listMatch: { oneOf: claim } }] } } }] }, route: TO },
      { name: 'not-admin', match: { prefix: '/', dynamicMetadata: [{ filter: 'istio_authn', path: [{ key: 'request.auth.claims' }, { key: 'group' }], value: { presentMatch: true }, invert: true }] }, route: TO },
    );
    const claims = (group: unknown): RouteRequest['dynamicMetadata'] => ({ istio_authn: { 'request.auth.claims': { group } } });
    assert.equal(matched(t, { dynamicMetadata: claims('admin') }), 'admin');
    assert.equal(matched(t, { dynamicMetadata: claims(['dev', 'admin']) }), 'admin');
    assert.equal(matched(t, { dynamicMetadata: claims('dev') }), undefined);
    assert.equal(matched(t), 'not-admin');
  });
});

describe('forwarding', () => {
  it('sends to one cluster with Envoy\'s default 15 s timeout, 0s meaning none', () => {
    const t = routes(
      { name: 'default', match: { prefix: '/a' }, route: { cluster: 'a' } },
      { name: 'none', match: { prefix: '/b' }, route: { cluster: 'b', timeout: '0s', idleTimeout: '0.5s' } },
      { name: 'set', match: { prefix: '/c' }, route: { cluster: 'c', timeout: '2.5s' } },
    );
    const a = forward(t.match(request({ path: '/a' }), 0));
    assert.equal(a.pickCluster(0.7).name, 'a');
    assert.equal(a.timeoutMs, 15_000);
    assert.equal(a.idleTimeoutMs, undefined);
    assert.equal(a.retry, undefined);
    assert.deepEqual(a.mirrors, []);
    assert.deepEqual(a.hashPolicies, []);
    const b = forward(t.match(request({ path: '/b' }), 0));
    assert.equal(b.timeoutMs, 0);
    assert.equal(b.idleTimeoutMs, 500);
    assert.equal(forward(t.match(request({ path: '/c' }), 0)).timeoutMs, 2500);
  });

  it('picks weighted clusters by cumulative weight, never one of weight 0', () => {
    const action = forward(routes({
      name: 'split',
      match: { prefix: '/' },
      route: { weightedClusters: { clusters: [{ name: 'v1', weight: 90 }, { name: 'none', weight: 0 }, { name: 'v2', weight: 10 }] } },
    }).match(request(), 0));
    assert.deepEqual([0, 0.5, 0.899, 0.9, 0.95, 0.9999].map((r) => action.pickCluster(r).name), ['v1', 'v1', 'v1', 'v2', 'v2', 'v2']);
  });

  it('carries a weighted cluster\'s own header changes and Host rewrite, which the route\'s Host rewrite overrides', () => {
    const config = (hostRewriteLiteral?: string): RouteTable => routes({
      name: 'split',
      match: { prefix: '/' },
      route: {
        ...(hostRewriteLiteral !== undefined ? { hostRewriteLiteral } : {}),
        weightedClusters: {
          clusters: [{
            name: 'v1', weight: 1, hostRewriteLiteral: 'v1.internal',
            requestHeadersToAdd: [{ header: { key: 'x-subset', value: 'v1' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
            responseHeadersToRemove: ['server'],
          }],
        },
      },
    });
    const action = forward(config().match(request(), 0));
    const choice = action.pickCluster(0);
    assert.deepEqual(choice.requestHeaders, { remove: [], set: [['x-subset', 'v1']], append: [], addIfAbsent: [] });
    assert.deepEqual(choice.responseHeaders, { remove: ['server'], set: [], append: [], addIfAbsent: [] });
    const upstream = head();
    action.rewrite(upstream, choice);
    assert.equal(upstream.authority, 'v1.internal');
    const overridden = forward(config('route.internal').match(request(), 0));
    const second = head();
    overridden.rewrite(second, overridden.pickCluster(0));
    assert.equal(second.authority, 'route.internal');
  });

  it('replaces the matched prefix, or the whole path after a path or regex match, keeping the query', () => {
    const t = routes(
      { name: 'prefix', match: { prefix: '/api/', caseSensitive: false }, route: { cluster: 'c', prefixRewrite: '/v1/' } },
      { name: 'path', match: { path: '/old' }, route: { cluster: 'c', prefixRewrite: '/new' } },
      { name: 'regex', match: { safeRegex: { regex: '/legacy/.*' } }, route: { cluster: 'c', prefixRewrite: '/modern' } },
    );
    const rewritten = (path: string): string => {
      const h = head({ path });
      forward(t.match(request({ path }), 0)).rewrite(h);
      return h.path;
    };
    assert.equal(rewritten('/API/users?id=1'), '/v1/users?id=1');
    assert.equal(rewritten('/old?x=y'), '/new?x=y');
    assert.equal(rewritten('/legacy/a/b?q'), '/modern?q');
  });

  it('substitutes regex rewrites with RE2 groups in the path only', () => {
    const action = forward(routes({
      name: 'regex',
      match: { prefix: '/' },
      route: { cluster: 'c', regexRewrite: { pattern: { regex: '^/service/([^/]+)(/.*)$' }, substitution: '\\2/instance/\\1' } },
    }).match(request(), 0));
    const h = head({ path: '/service/foo/v1/api?x=/service/a/b' });
    action.rewrite(h);
    assert.equal(h.path, '/v1/api/instance/foo?x=/service/a/b');
    const every = forward(routes({ name: 'all', match: { prefix: '/' }, route: { cluster: 'c', regexRewrite: { pattern: { regex: 'o' }, substitution: '0' } } }).match(request(), 0));
    const h2 = head({ path: '/foo/boo' });
    every.rewrite(h2);
    assert.equal(h2.path, '/f00/b00');
  });

  it('rewrites the Host to a literal and notes autoHostRewrite for the router', () => {
    const t = routes(
      { name: 'literal', match: { prefix: '/a' }, route: { cluster: 'c', hostRewriteLiteral: 'upstream.local' } },
      { name: 'auto', match: { prefix: '/b' }, route: { cluster: 'c', autoHostRewrite: true } },
    );
    const h = head({ path: '/a' });
    forward(t.match(request({ path: '/a' }), 0)).rewrite(h);
    assert.equal(h.authority, 'upstream.local');
    const auto = forward(t.match(request({ path: '/b' }), 0));
    assert.equal(auto.autoHostRewrite, true);
    const untouched = head({ path: '/b' });
    auto.rewrite(untouched);
    assert.deepEqual(untouched, head({ path: '/b' }));
  });

  it('compiles a retry policy with Envoy\'s defaults, the previous_hosts predicate and the previous_priorities retry priority', () => {
    const t = routes(
      {
        name: 'full',
        match: { prefix: '/full' },
        route: {
          cluster: 'c',
          retryPolicy: {
            retryOn: 'connect-failure, refused-stream,unavailable,cancelled,retriable-status-codes,made-up',
            numRetries: 3,
            perTryTimeout: '0.25s',
            retriableStatusCodes: [503, 504],
            retryBackOff: { baseInterval: '0.1s', maxInterval: '0.5s' },
            retryHostPredicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
            retryPriority: { name: 'envoy.retry_priorities.previous_priorities', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig', updateFrequency: 2 } },
            hostSelectionRetryMaxAttempts: 5,
          },
        },
      },
      { name: 'defaults', match: { prefix: '/defaults' }, route: { cluster: 'c', retryPolicy: { retryOn: '5xx', retryBackOff: { baseInterval: '0.040s' } } } },
      { name: 'bare', match: { prefix: '/bare' }, route: { cluster: 'c', retryPolicy: {} } },
    );
    assert.deepEqual(forward(t.match(request({ path: '/full' }), 0)).retry, {
      retryOn: new Set(['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']),
      numRetries: 3,
      perTryTimeoutMs: 250,
      retriableStatusCodes: new Set([503, 504]),
      backOff: { baseMs: 100, maxMs: 500 },
      avoidPreviousHosts: true,
      avoidPreviousPriorities: true,
      hostSelectionRetryMaxAttempts: 5,
    });
    assert.deepEqual(forward(t.match(request({ path: '/defaults' }), 0)).retry?.backOff, { baseMs: 40, maxMs: 400 });
    assert.deepEqual(forward(t.match(request({ path: '/bare' }), 0)).retry, {
      retryOn: new Set(),
      numRetries: 1,
      perTryTimeoutMs: 0,
      retriableStatusCodes: new Set(),
      backOff: { baseMs: 25, maxMs: 250 },
      avoidPreviousHosts: false,
      avoidPreviousPriorities: false,
      hostSelectionRetryMaxAttempts: 1,
    });
  });

  it('uses the virtual host\'s retry policy for routes without their own', () => {
    const t = table([{
      name: 'vh',
      domains: ['*'],
      retryPolicy: { retryOn: 'reset', numRetries: 4 },
      routes: [
        { name: 'inherits', match: { prefix: '/a' }, route: TO },
        { name: 'own', match: { prefix: '/b' }, route: { cluster: 'c', retryPolicy: { retryOn: '5xx' } } },
      ],
    }]);
    assert.equal(forward(t.match(request({ path: '/a' }), 0)).retry?.numRetries, 4);
    assert.deepEqual(forward(t.match(request({ path: '/b' }), 0)).retry?.retryOn, new Set(['5xx']));
    assert.equal(forward(t.match(request({ path: '/b' }), 0)).retry?.numRetries, 1);
  });

  it('mirrors to the route\'s clusters, else the virtual host\'s, else the route configuration\'s', () => {
    const t = table([
      {
        name: 'vh',
        domains: ['a.com'],
        requestMirrorPolicies: [{ cluster: 'vh-mirror' }],
        routes: [
          { name: 'own', match: { prefix: '/own' }, route: { cluster: 'c', requestMirrorPolicies: [{ cluster: 'm', runtimeFraction: { defaultValue: { numerator: 2500, denominator: 'TEN_THOUSAND' } } }] } },
          { name: 'vh', match: { prefix: '/' }, route: TO },
        ],
      },
      { name: 'other', domains: ['b.com'], routes: [{ name: 'config', match: { prefix: '/' }, route: TO }] },
    ], { requestMirrorPolicies: [{ cluster: 'global', runtimeFraction: { defaultValue: { numerator: 5 } } }] });
    assert.deepEqual(forward(t.match(request({ authority: 'a.com', path: '/own' }), 0)).mirrors, [{ cluster: 'm', fraction: 0.25 }]);
    assert.deepEqual(forward(t.match(request({ authority: 'a.com' }), 0)).mirrors, [{ cluster: 'vh-mirror', fraction: 1 }]);
    assert.deepEqual(forward(t.match(request({ authority: 'b.com' }), 0)).mirrors, [{ cluster: 'global', fraction: 0.05 }]);
  });

  it('reads the route\'s upgradeConfigs: each type allowed or not, and CONNECT terminated with connectConfig', () => {
    const action = forward(routes({
      name: 'r',
      match: { connectMatcher: {} },
      route: { cluster: 'c', upgradeConfigs: [{ upgradeType: 'CONNECT', connectConfig: {} }, { upgradeType: 'WebSocket', enabled: false }] },
    }).match(request({ method: 'CONNECT', path: '' }), 0));
    assert.deepEqual([...action.upgrades!], [['connect', true], ['websocket', false]]);
    assert.equal(action.terminateConnect, true);
    const proxied = forward(routes({ name: 'r', match: { connectMatcher: {} }, route: { cluster: 'c', upgradeConfigs: [{ upgradeType: 'CONNECT' }] } }).match(request({ method: 'CONNECT', path: '' }), 0));
    assert.equal(proxied.terminateConnect, undefined);
    const plain = forward(routes({ name: 'r', match: { prefix: '/' }, route: TO }).match(request(), 0));
    assert.equal(plain.upgrades, undefined);
  });

  it('keeps hash policies as given and the gRPC timeout cap from maxGrpcTimeout or grpcTimeoutHeaderMax', () => {
    const hashPolicy = [{ header: { headerName: 'x-user' } }, { cookie: { name: 'session', ttl: '0s' }, terminal: true }];
    const t = routes(
      { name: 'hash', match: { prefix: '/a' }, route: { cluster: 'c', hashPolicy, maxGrpcTimeout: '0s' } },
      { name: 'stream', match: { prefix: '/b' }, route: { cluster: 'c', maxStreamDuration: { grpcTimeoutHeaderMax: '3s' } } },
    );
    const a = forward(t.match(request({ path: '/a' }), 0));
    assert.deepEqual(a.hashPolicies, hashPolicy);
    assert.equal(a.maxGrpcTimeoutMs, 0);
    assert.equal(forward(t.match(request({ path: '/b' }), 0)).maxGrpcTimeoutMs, 3000);
  });

  it('keeps the route name, the decorator operation and per-filter configs parsed by their filters', () => {
    const parsers = new Map<string, PerFilterConfigParser>([
      ['envoy.filters.http.fault', (config): Result<unknown, string> => ok({ parsedFault: config['abort'] })],
      ['envoy.filters.http.cors', (config): Result<unknown, string> => ok({ parsedCors: config['allowMethods'] })],
    ]);
    const t = table([{
      name: 'vh',
      domains: ['*'],
      typedPerFilterConfig: { 'envoy.filters.http.cors': { '@type': 'cors', allowMethods: 'GET' } },
      routes: [{
        name: 'r1',
        match: { prefix: '/' },
        route: TO,
        decorator: { operation: 'reviews:9080/*' },
        typedPerFilterConfig: {
          'envoy.filters.http.fault': { '@type': 'fault', abort: { httpStatus: 503 } },
          'envoy.filters.http.unknown': { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', isOptional: true, config: { '@type': 'x' } },
        },
      }],
    }], { typedPerFilterConfig: { 'envoy.filters.http.cors': { '@type': 'cors', allowMethods: 'POST' } } }, parsers);
    const entry = t.match(request(), 0);
    assert.equal(entry?.name, 'r1');
    assert.equal(entry?.decoratorOperation, 'reviews:9080/*');
    assert.deepEqual(entry?.perFilterConfig, new Map<string, unknown>([
      ['envoy.filters.http.cors', { parsedCors: 'GET' }],
      ['envoy.filters.http.fault', { parsedFault: { httpStatus: 503 } }],
    ]));
  });
});

describe('redirects', () => {
  function location(r: Route['redirect'], h: Partial<RequestHead>, match: Route['match'] = { prefix: '/' }): { status: number; location: string } {
    const t = routes({ name: 'redirect', match, redirect: r! });
    const full = head(h);
    return redirect(t.match(request(full), 0)).redirect(full);
  }

  it('redirects to https with 301, dropping the port only when it was the old scheme\'s default', () => {
    assert.deepEqual(location({ httpsRedirect: true }, { authority: 'shop.com:80', path: '/cart?id=1' }), { status: 301, location: 'https://shop.com/cart?id=1' });
    assert.deepEqual(location({ httpsRedirect: true }, { authority: 'shop.com:8080', path: '/cart' }), { status: 301, location: 'https://shop.com:8080/cart' });
    assert.deepEqual(location({ schemeRedirect: 'https', portRedirect: 8443 }, { authority: 'shop.com:8080', path: '/' }), { status: 301, location: 'https://shop.com:8443/' });
  });

  it('replaces the host, port and path as set, keeping the query unless told otherwise', () => {
    assert.deepEqual(location({ hostRedirect: 'new.com', responseCode: 'FOUND' }, { authority: 'old.com:8080', path: '/a?b=c' }), { status: 302, location: 'http://new.com/a?b=c' });
    assert.deepEqual(location({ pathRedirect: '/moved', responseCode: 'PERMANENT_REDIRECT' }, { path: '/a?b=c' }), { status: 308, location: 'http://example.com/moved?b=c' });
    assert.deepEqual(location({ pathRedirect: '/moved?x=1', stripQuery: true, responseCode: 'SEE_OTHER' }, { path: '/a?b=c' }), { status: 303, location: 'http://example.com/moved?x=1' });
    assert.deepEqual(location({ stripQuery: true, responseCode: 'TEMPORARY_REDIRECT' }, { path: '/a?b=c' }), { status: 307, location: 'http://example.com/a' });
    assert.deepEqual(location({ portRedirect: 9000 }, { authority: 'example.com:8080', path: '/' }), { status: 301, location: 'http://example.com:9000/' });
  });

  it('rewrites the matched prefix or by regex in the Location', () => {
    assert.deepEqual(location({ prefixRewrite: '/v2/' }, { path: '/v1/items?x' }, { prefix: '/v1/' }), { status: 301, location: 'http://example.com/v2/items?x' });
    assert.deepEqual(location({ regexRewrite: { pattern: { regex: '^/(\\w+)/old$' }, substitution: '/\\1/new' } }, { path: '/docs/old?y' }), { status: 301, location: 'http://example.com/docs/new?y' });
  });
});

describe('direct responses', () => {
  it('answers with the status and the inline body, text or base64 bytes', () => {
    const t = routes(
      { name: 'text', match: { prefix: '/text' }, directResponse: { status: 503, body: { inlineString: 'maintenance' } } },
      { name: 'bytes', match: { prefix: '/bytes' }, directResponse: { status: 200, body: { inlineBytes: Buffer.from('hello').toString('base64') } } },
      { name: 'empty', match: { prefix: '/' }, directResponse: { status: 502 } },
    );
    assert.deepEqual(t.match(request({ path: '/text' }), 0)?.action, { kind: 'direct', status: 503, body: 'maintenance' });
    assert.deepEqual(t.match(request({ path: '/bytes' }), 0)?.action, { kind: 'direct', status: 200, body: 'hello' });
    assert.deepEqual(t.match(request({ path: '/x' }), 0)?.action, { kind: 'direct', status: 502 });
  });
});

describe('virtual hosts that require TLS', () => {
  const t = table([
    { name: 'all', domains: ['secure.com', 'secure.com:*'], requireTls: 'ALL', routes: [{ name: 'r', match: { prefix: '/' }, route: TO }] },
    { name: 'external', domains: ['ext.com'], requireTls: 'EXTERNAL_ONLY', routes: [{ name: 'r', match: { prefix: '/' }, route: TO }] },
  ]);

  it('redirects plain-text requests to the same URL over https with 301', () => {
    const h = head({ authority: 'secure.com:8080', path: '/a?b' });
    const entry = t.match(request(h), 0);
    assert.equal(entry?.virtualHostName, 'all');
    assert.deepEqual(redirect(entry).redirect(h), { status: 301, location: 'https://secure.com:8080/a?b' });
    assert.equal(t.match(request({ authority: 'secure.com', scheme: 'https' }), 0)?.name, 'r');
  });

  it('lets internal requests through in plain text when only external ones need TLS', () => {
    assert.equal(t.match(request({ authority: 'ext.com' }), 0)?.action.kind, 'redirect');
    assert.equal(t.match(request({ authority: 'ext.com', headers: { 'x-envoy-internal': 'true' } }), 0)?.name, 'r');
  });
});
