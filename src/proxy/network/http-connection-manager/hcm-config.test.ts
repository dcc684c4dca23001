import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, describe, it } from 'node:test';
import { err, ok } from '../../../core/index.ts';
import { FAULT_TYPE, HTTP_CONNECTION_MANAGER_TYPE, ROUTER_TYPE } from '../../../xds/envoy/index.ts';
import type { HttpFilterFactory } from '../../http/filter-factory.ts';
import { parseHcmConfig } from './hcm-config.ts';
import { FakeRouter, startProxy, withTimeout, type TestProxy } from './hcm-test-support.ts';

const ROUTER = { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_TYPE } };
const RDS = { configSource: { ads: {} }, routeConfigName: 'http.8080' };

/** A fault filter stand-in whose config must say `ok: true`. */
const fault: HttpFilterFactory = {
  typeUrl: FAULT_TYPE,
  parse: (config) => (config['ok'] === false ? err('abort.httpStatus: must be 200..599') : ok(config)),
  create: () => ({ handle: (_exchange, next) => next() }),
};

const registry = new Map<string, HttpFilterFactory>([[ROUTER_TYPE, new FakeRouter()], [FAULT_TYPE, fault]]);

function parse(fields: Record<string, unknown>) {
  return parseHcmConfig({ '@type': HTTP_CONNECTION_MANAGER_TYPE, statPrefix: 'outbound_0.0.0.0_8080', rds: RDS, httpFilters: [ROUTER], ...fields }, registry);
}

function problem(fields: Record<string, unknown>): string {
  const result = parse(fields);
  assert.equal(result.ok, false, 'expected the config to be refused');
  return result.ok ? '' : result.error;
}

describe('HttpConnectionManager config', () => {
  it("fills Envoy's defaults", () => {
    const result = parse({});
    assert.ok(result.ok);
    const config = result.value;
    assert.equal(config.codecType, 'AUTO');
    assert.deepEqual(config.routes, { kind: 'rds', name: 'http.8080' });
    assert.equal(config.streamIdleTimeoutMs, 300_000);
    assert.equal(config.requestTimeoutMs, 0);
    assert.equal(config.idleTimeoutMs, 3_600_000);
    assert.equal(config.maxRequestHeadersBytes, 60 * 1024);
    assert.equal(config.maxHeadersCount, 100);
    assert.equal(config.generateRequestId, true);
    assert.equal(config.useRemoteAddress, false);
    assert.equal(config.serverName, 'envoy');
    assert.equal(config.serverHeaderTransformation, 'OVERWRITE');
    assert.deepEqual(config.path, { normalizePath: false, mergeSlashes: false, escapedSlashes: 'KEEP_UNCHANGED' });
    assert.equal(config.upgradeTypes.size, 0);
    assert.deepEqual(config.httpFilters.map((f) => f.name), ['envoy.filters.http.router']);
  });

  it('reads what the control plane generates', () => {
    const result = parse({
      codecType: 'AUTO',
      httpFilters: [{ name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT_TYPE } }, ROUTER],
      useRemoteAddress: true,
      normalizePath: true,
      pathWithEscapedSlashesAction: 'KEEP_UNCHANGED',
      upgradeConfigs: [{ upgradeType: 'WebSocket' }],
      streamIdleTimeout: '0s',
      commonHttpProtocolOptions: { idleTimeout: '1.5s', maxHeadersCount: 200 },
      maxRequestHeadersKb: 96,
      serverName: 'istio-envoy',
      http2ProtocolOptions: { maxConcurrentStreams: 100, initialStreamWindowSize: 65536 },
    });
    assert.ok(result.ok, result.ok ? '' : result.error);
    const config = result.value;
    assert.deepEqual(config.httpFilters.map((f) => f.name), ['envoy.filters.http.fault', 'envoy.filters.http.router']);
    assert.deepEqual([...config.upgradeTypes], ['websocket']);
    assert.equal(config.streamIdleTimeoutMs, 0);
    assert.equal(config.idleTimeoutMs, 1500);
    assert.equal(config.maxHeadersCount, 200);
    assert.equal(config.maxRequestHeadersBytes, 96 * 1024);
    assert.equal(config.serverName, 'istio-envoy');
    assert.equal(config.http2.maxConcurrentStreams, 100);
    assert.equal(config.http2.initialStreamWindowSize, 65536);
  });

  it('refuses an HTTP filter of an unknown type, unless it is optional', () => {
    const unknown = { name: 'acme.filters.http.magic', typedConfig: { '@type': 'type.googleapis.com/acme.Magic' } };
    assert.equal(
      problem({ httpFilters: [unknown, ROUTER] }),
      'HttpConnectionManager "outbound_0.0.0.0_8080": httpFilters[0].typedConfig: filter "acme.filters.http.magic" has an unknown type type.googleapis.com/acme.Magic (mark it isOptional to skip it)',
    );
    const result = parse({ httpFilters: [{ ...unknown, isOptional: true }, ROUTER] });
    assert.ok(result.ok);
    assert.deepEqual(result.value.httpFilters.map((f) => f.name), ['envoy.filters.http.router']);
  });

  it("NACKs a filter whose own parser refuses its config, naming the filter", () => {
    assert.match(
      problem({ httpFilters: [{ name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT_TYPE, ok: false } }, ROUTER] }),
      /httpFilters\[0\]\.typedConfig: filter "envoy\.filters\.http\.fault": abort\.httpStatus: must be 200\.\.599/,
    );
  });

  it('requires the router, and last', () => {
    assert.match(problem({ httpFilters: [] }), /httpFilters: must end with the router/);
    assert.match(
      problem({ httpFilters: [ROUTER, { name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT_TYPE } }] }),
      /the router "envoy\.filters\.http\.router" must be the last filter.*the last filter must be the router \(envoy\.filters\.http\.router\), not "envoy\.filters\.http\.fault"/,
    );
  });

  it('skips a disabled filter', () => {
    const result = parse({ httpFilters: [{ name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT_TYPE }, disabled: true }, ROUTER] });
    assert.ok(result.ok);
    assert.equal(result.value.httpFilters.length, 1);
  });

  it('needs exactly one of rds and routeConfig, and a route config name', () => {
    assert.match(problem({ rds: undefined }), /rds: exactly one of rds and routeConfig must be set/);
    assert.match(problem({ routeConfig: { name: 'x', virtualHosts: [] } }), /rds: exactly one of rds and routeConfig must be set/);
    assert.match(problem({ rds: { configSource: { ads: {} } } }), /rds\.routeConfigName: must name the route configuration/);
  });

  it('compiles an inline route configuration and reports its problems', () => {
    const result = parse({ rds: undefined, routeConfig: { name: 'inline', virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, directResponse: { status: 200 } }] }] } });
    assert.ok(result.ok, result.ok ? '' : result.error);
    assert.equal(result.value.routes.kind, 'static');
    assert.match(
      problem({ rds: undefined, routeConfig: { name: 'inline', virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { safeRegex: { regex: '(' } }, directResponse: { status: 200 } }] }] } }),
      /routeConfig: RouteConfiguration "inline"/,
    );
  });

  it('reports every wrong field at once, with what is expected', () => {
    const message = problem({
      statPrefix: '',
      codecType: 'SPDY',
      streamIdleTimeout: 300,
      maxRequestHeadersKb: 9000,
      serverHeaderTransformation: 'REPLACE',
      useRemoteAddress: 'yes',
      stripAnyHostPort: true,
      stripMatchingHostPort: true,
    });
    assert.equal(message, [
      'HttpConnectionManager "": statPrefix: must not be empty',
      'codecType: must be one of AUTO, HTTP1, HTTP2, HTTP3',
      'stripAnyHostPort: only one of stripMatchingHostPort and stripAnyHostPort can be set',
      'useRemoteAddress: must be true or false',
      'streamIdleTimeout: expected a duration such as "10s", not 300',
      'maxRequestHeadersKb: must be a whole number from 1 to 8192',
      'serverHeaderTransformation: must be one of OVERWRITE, APPEND_IF_ABSENT, PASS_THROUGH',
    ].join('; '));
  });

  it('refuses HTTP/3, scoped routes and per-upgrade filter chains, which Weft does not run', () => {
    assert.match(problem({ codecType: 'HTTP3' }), /codecType: HTTP3 is not supported/);
    assert.match(problem({ rds: undefined, scopedRoutes: {} }), /scopedRoutes: scoped routes are not supported/);
    assert.match(problem({ upgradeConfigs: [{ upgradeType: 'websocket', filters: [ROUTER] }] }), /upgradeConfigs\[0\]\.filters: a separate filter chain per upgrade type is not supported/);
  });
});

describe('HttpConnectionManager with an inline route configuration', () => {
  const proxies: TestProxy[] = [];
  after(async () => {
    for (const proxy of proxies) await proxy.close();
  });

  it('routes with the compiled table and answers its direct response', async () => {
    const proxy = await startProxy({
      config: {
        rds: undefined,
        routeConfig: {
          name: 'inline',
          virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/hello' }, directResponse: { status: 200, body: { inlineString: 'hi there' } } }] }],
        },
        serverName: 'istio-envoy',
      },
    });
    proxies.push(proxy);
    const answer = await withTimeout(new Promise<{ status: number; server: string | undefined; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: proxy.port, path: '/hello' }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, server: res.headers.server as string | undefined, body }));
      }).on('error', reject);
    }), 3000, 'no answer');
    assert.deepEqual(answer, { status: 200, server: 'istio-envoy', body: 'hi there' });
  });
});
