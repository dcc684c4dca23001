import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HeaderMatcher, Route, RouteConfiguration, VirtualHost } from '../../xds/envoy/index.ts';
import { headerMatches, selectVirtualHost, simulateRoute, type SimulatedRequest } from './route-simulation.ts';

function host(name: string, domains: string[], routes: Route[] = [{ match: { prefix: '/' }, route: { cluster: name } }]): VirtualHost {
  return { name, domains, routes };
}

function cluster(config: RouteConfiguration, request: Partial<SimulatedRequest>): string | undefined {
  const outcome = simulateRoute(config, { authority: 'example.com', path: '/', ...request });
  return outcome.kind === 'forward' ? outcome.cluster : outcome.kind;
}

describe('selectVirtualHost', () => {
  const hosts = [
    host('any', ['*']),
    host('prefix-short', ['api.*']),
    host('prefix-long', ['api.example.*']),
    host('suffix-short', ['*.com']),
    host('suffix-long', ['*.example.com']),
    host('exact', ['api.example.com', 'api.example.com:8080']),
  ];

  it('prefers an exact domain, then the longest suffix wildcard, then the longest prefix wildcard, then *', () => {
    assert.equal(selectVirtualHost(hosts, 'api.example.com')?.name, 'exact');
    assert.equal(selectVirtualHost(hosts, 'API.Example.com')?.name, 'exact', 'hosts compare without case');
    assert.equal(selectVirtualHost(hosts, 'www.example.com')?.name, 'suffix-long');
    assert.equal(selectVirtualHost(hosts, 'www.other.com')?.name, 'suffix-short');
    assert.equal(selectVirtualHost(hosts, 'api.example.org')?.name, 'prefix-long');
    assert.equal(selectVirtualHost(hosts, 'api.other.org')?.name, 'prefix-short');
    assert.equal(selectVirtualHost(hosts, 'localhost')?.name, 'any');
  });

  it('matches the port as part of the host unless told to ignore it', () => {
    assert.equal(selectVirtualHost(hosts, 'api.example.com:8080')?.name, 'exact');
    assert.equal(selectVirtualHost(hosts, 'api.example.com:9090')?.name, 'prefix-long');
    const config: RouteConfiguration = { name: 'c', virtualHosts: [host('exact', ['api.example.com'])], ignorePortInHostMatching: true };
    assert.equal(cluster(config, { authority: 'api.example.com:9090' }), 'exact');
  });

  it('does not let a wildcard match nothing', () => {
    assert.equal(selectVirtualHost([host('s', ['*.example.com'])], '.example.com'), undefined);
  });
});

describe('simulateRoute', () => {
  it('answers 404 when no virtual host takes the Host, or no route the request', () => {
    const config: RouteConfiguration = { name: 'c', virtualHosts: [host('a', ['a.example.com'], [{ match: { prefix: '/api' }, route: { cluster: 'a' } }])] };
    assert.deepEqual(simulateRoute(config, { authority: 'b.example.com', path: '/' }), { kind: 'no-route', status: 404, virtualHost: undefined });
    assert.deepEqual(simulateRoute(config, { authority: 'a.example.com', path: '/web' }), { kind: 'no-route', status: 404, virtualHost: 'a' });
  });

  it('takes the first route that matches, in order', () => {
    const config: RouteConfiguration = {
      name: 'c',
      virtualHosts: [host('a', ['*'], [
        { match: { prefix: '/' }, route: { cluster: 'first' } },
        { match: { prefix: '/api' }, route: { cluster: 'second' } },
      ])],
    };
    assert.equal(cluster(config, { path: '/api' }), 'first');
  });

  it('matches a path-separated prefix only at a segment boundary', () => {
    const config: RouteConfiguration = { name: 'c', virtualHosts: [host('a', ['*'], [{ match: { pathSeparatedPrefix: '/api' }, route: { cluster: 'api' } }])] };
    assert.equal(cluster(config, { path: '/api' }), 'api');
    assert.equal(cluster(config, { path: '/api/v1?x' }), 'api');
    assert.equal(cluster(config, { path: '/apis' }), 'no-route');
  });

  it('ignores case in prefix and path matches when caseSensitive is false, and never in regex matches', () => {
    const config: RouteConfiguration = {
      name: 'c',
      virtualHosts: [host('a', ['*'], [
        { match: { path: '/Exact', caseSensitive: false }, route: { cluster: 'exact' } },
        { match: { safeRegex: { regex: '/re' }, caseSensitive: false }, route: { cluster: 'regex' } },
      ])],
    };
    assert.equal(cluster(config, { path: '/EXACT' }), 'exact');
    assert.equal(cluster(config, { path: '/RE' }), 'no-route');
  });

  it('redirects plain-text requests to https on a virtual host that requires TLS', () => {
    const config: RouteConfiguration = { name: 'c', virtualHosts: [{ ...host('a', ['*']), requireTls: 'ALL' }] };
    assert.deepEqual(simulateRoute(config, { authority: 'a.example.com:80', path: '/x?y=1' }), {
      kind: 'redirect', virtualHost: 'a', route: undefined, status: 301, location: 'https://a.example.com/x?y=1',
    });
    assert.equal(cluster(config, { scheme: 'https' }), 'a');
  });
});

describe('headerMatches', () => {
  const request = (headers: Record<string, string>): SimulatedRequest => ({ authority: 'a', path: '/', headers });
  const exact: HeaderMatcher = { name: 'x-a', stringMatch: { exact: 'b' } };

  it('fails for a missing header, even inverted, unless the header is treated as empty', () => {
    assert.equal(headerMatches(exact, request({})), false);
    assert.equal(headerMatches({ ...exact, invertMatch: true }, request({})), false);
    assert.equal(headerMatches({ ...exact, invertMatch: true, treatMissingHeaderAsEmpty: true }, request({})), true);
  });

  it('tests presence, and absence when inverted', () => {
    const present: HeaderMatcher = { name: 'x-a', presentMatch: true };
    assert.equal(headerMatches(present, request({ 'x-a': '' })), true);
    assert.equal(headerMatches(present, request({})), false);
    assert.equal(headerMatches({ ...present, invertMatch: true }, request({})), true);
    assert.equal(headerMatches({ ...present, invertMatch: true }, request({ 'X-A': '1' })), false);
  });

  it('reads header names without case, and the request line as pseudo-headers', () => {
    assert.equal(headerMatches(exact, request({ 'X-A': 'b' })), true);
    assert.equal(headerMatches({ name: ':method', stringMatch: { exact: 'GET' } }, request({})), true);
    assert.equal(headerMatches({ name: ':authority', stringMatch: { exact: 'a' } }, request({})), true);
  });

  it('matches string matchers with ignoreCase, suffix and contains', () => {
    assert.equal(headerMatches({ name: 'x-a', stringMatch: { exact: 'ABC', ignoreCase: true } }, request({ 'x-a': 'abc' })), true);
    assert.equal(headerMatches({ name: 'x-a', stringMatch: { suffix: 'bc' } }, request({ 'x-a': 'abc' })), true);
    assert.equal(headerMatches({ name: 'x-a', stringMatch: { contains: 'b' } }, request({ 'x-a': 'abc' })), true);
  });
});
