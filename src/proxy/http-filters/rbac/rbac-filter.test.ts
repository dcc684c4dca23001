import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { Logger } from '../../../core/index.ts';
import { ROUTER_TYPE, type RouteConfiguration } from '../../../xds/envoy/index.ts';
import type { DownstreamInfo, HttpExchange, HttpResponse } from '../../http/exchange.ts';
import type { Headers } from '../../http/headers.ts';
import { MemoryStats, startProxy, type TestProxy, getThroughProxy as get } from '../../network/http-connection-manager/hcm-test-support.ts';
import { compileRouteConfiguration } from '../../route/index.ts';
import { RbacFilterFactory } from './rbac-filter.ts';
import { RBAC_HTTP_FILTER_NAME, RBAC_HTTP_TYPE, RBAC_PER_ROUTE_TYPE, type RbacFilterSettings } from './rbac-settings.ts';

type Json = Record<string, unknown>;

const factory = new RbacFilterFactory();
const proxies: TestProxy[] = [];
const ANY = { any: true };
const STATS = 'http.inbound_0.0.0.0_80.rbac';

async function start(filter: Json, virtualHosts?: RouteConfiguration['virtualHosts']): Promise<TestProxy> {
  // Routes come from a real route configuration, per-filter configs parsed as the RouteConfigStore parses them.
  const table = compileRouteConfiguration({
    name: 'routes',
    virtualHosts: virtualHosts ?? [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }],
  }, { perFilterConfigParsers: new Map([[RBAC_HTTP_FILTER_NAME, (config) => factory.parsePerRoute(config)]]) });
  if (!table.ok) assert.fail(table.error);
  const proxy = await startProxy({
    table: table.value,
    config: {
      httpFilters: [
        { name: RBAC_HTTP_FILTER_NAME, typedConfig: { '@type': RBAC_HTTP_TYPE, ...filter } },
        { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_TYPE } },
      ],
    },
    extraFilters: new Map([[RBAC_HTTP_TYPE, factory]]),
  });
  proxies.push(proxy);
  return proxy;
}



/** Paths under /public from loopback, as an ALLOW policy. */
const PUBLIC_FROM_LOOPBACK = {
  action: 'ALLOW',
  policies: {
    public: { permissions: [{ urlPath: { path: { prefix: '/public' } } }], principals: [{ sourceIp: { addressPrefix: '127.0.0.1', prefixLen: 32 } }] },
  },
};

describe('RbacFilterFactory through a connection manager', { timeout: 20_000 }, () => {
  after(async () => {
    for (const proxy of proxies) await proxy.close();
  });

  it('lets allowed requests through and answers the others 403, naming the deciding policy', async () => {
    const proxy = await start({ rules: PUBLIC_FROM_LOOPBACK });
    assert.equal((await get(proxy.port, '/public/a?x=1')).status, 200);
    const denied = await get(proxy.port, '/private');
    assert.equal(denied.status, 403);
    assert.equal(denied.body, 'RBAC: access denied');
    assert.equal(denied.headers['x-weft-rbac-policy'], 'none');
    assert.equal(proxy.router.seen.length, 1);
    assert.deepEqual(proxy.router.seen[0]!.metadata.get('envoy.filters.http.rbac'), { enforced_effective_policy_id: 'public', enforced_engine_result: 'allowed' });
    const entries = await proxy.accessLog.waitFor(2);
    assert.equal(entries.find((e) => e.request?.path === '/private')?.info.responseCodeDetails, 'rbac_access_denied_matched_policy[none]');
    assert.equal(proxy.stats.get(`${STATS}.allowed`), 1);
    assert.equal(proxy.stats.get(`${STATS}.denied`), 1);
  });

  it('names the DENY policy that matched', async () => {
    const proxy = await start({ rules: { action: 'DENY', policies: {
      'deny-delete': { permissions: [{ header: { name: ':method', exactMatch: 'DELETE' } }], principals: [ANY] },
      'deny-debug': { permissions: [{ header: { name: 'x-debug', presentMatch: true } }], principals: [ANY] },
    } } });
    const denied = await get(proxy.port, '/orders', { 'x-debug': '1' });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['x-weft-rbac-policy'], 'deny-debug');
    assert.equal((await get(proxy.port, '/orders')).status, 200);
    const entries = await proxy.accessLog.waitFor(2);
    assert.equal(entries[0]!.info.responseCodeDetails, 'rbac_access_denied_matched_policy[deny-debug]');
  });

  it('never blocks on shadow rules, recording their result in metadata and stats', async () => {
    const proxy = await start({
      shadowRules: { action: 'DENY', policies: { 'dry-run': { permissions: [{ urlPath: { path: { prefix: '/admin' } } }], principals: [ANY] } } },
      shadowRulesStatPrefix: 'istio_dry_run_allow_',
    });
    assert.equal((await get(proxy.port, '/admin')).status, 200);
    assert.equal((await get(proxy.port, '/home')).status, 200);
    assert.deepEqual(proxy.router.seen.map((e) => e.metadata.get('envoy.filters.http.rbac')), [
      { istio_dry_run_allow_shadow_effective_policy_id: 'dry-run', istio_dry_run_allow_shadow_engine_result: 'denied' },
      { istio_dry_run_allow_shadow_engine_result: 'allowed' },
    ]);
    assert.equal(proxy.stats.get(`${STATS}.istio_dry_run_allow_.shadow_denied`), 1);
    assert.equal(proxy.stats.get(`${STATS}.istio_dry_run_allow_.shadow_allowed`), 1);
    assert.equal(proxy.stats.get(`${STATS}.allowed`), 0, 'no enforced rules, nothing counted');
  });

  it('lets a route replace the filter\'s rules with its own, or turn the filter off', async () => {
    const denyAll = { '@type': RBAC_PER_ROUTE_TYPE, rbac: { rules: { action: 'ALLOW' } } };
    const off = { '@type': RBAC_PER_ROUTE_TYPE };
    const proxy = await start({ rules: PUBLIC_FROM_LOOPBACK }, [{ name: 'all', domains: ['*'], routes: [
      { match: { prefix: '/public/locked' }, route: { cluster: 'backend' }, typedPerFilterConfig: { [RBAC_HTTP_FILTER_NAME]: denyAll } },
      { match: { prefix: '/open' }, route: { cluster: 'backend' }, typedPerFilterConfig: { [RBAC_HTTP_FILTER_NAME]: off } },
      { match: { prefix: '/' }, route: { cluster: 'backend' } },
    ] }]);
    assert.equal((await get(proxy.port, '/public/locked')).status, 403, 'the route\'s own rules deny it');
    assert.equal((await get(proxy.port, '/open')).status, 200, 'the filter is off on the route');
    assert.equal((await get(proxy.port, '/public/a')).status, 200);
    assert.equal((await get(proxy.port, '/elsewhere')).status, 403);
  });

  it('allows everything without rules', async () => {
    const proxy = await start({});
    assert.equal((await get(proxy.port, '/anything')).status, 200);
    assert.equal(proxy.router.seen[0]!.metadata.has('envoy.filters.http.rbac'), false);
  });
});

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function settings(config: Json): RbacFilterSettings {
  const parsed = factory.parse({ '@type': RBAC_HTTP_TYPE, ...config });
  if (!parsed.ok) assert.fail(parsed.error);
  return parsed.value;
}

interface ExchangeSpec {
  readonly headers?: Headers;
  readonly metadata?: Map<string, Record<string, unknown>>;
  readonly tls?: DownstreamInfo['tls'];
}

function exchange(spec: ExchangeSpec = {}): HttpExchange {
  return {
    request: { method: 'POST', path: '/pkg.Orders/Get', authority: 'orders', scheme: 'http', headers: spec.headers ?? {}, protocol: 'HTTP/2' },
    body: Readable.from([]),
    downstream: { connectionId: 1, remoteAddress: '10.0.0.9', remotePort: 1234, localAddress: '10.0.0.2', localPort: 8080, ...(spec.tls === undefined ? {} : { tls: spec.tls }) },
    info: { requestId: 'x', startTime: 0, responseFlags: new Set(), attemptCount: 0, bytesReceived: 0, bytesSent: 0 },
    metadata: spec.metadata ?? new Map(),
    signal: new AbortController().signal,
    route: undefined,
    clearRouteCache() {},
  };
}

/** Runs one request through a filter of `config`; `forwarded` says whether it went on. */
async function run(config: Json, spec: ExchangeSpec = {}, stats = new MemoryStats()): Promise<{ response: HttpResponse; forwarded: boolean; exchange: HttpExchange }> {
  const filter = factory.create(settings(config), {
    clusters: { get: () => undefined, names: () => [] }, stats, httpStats: stats.scope('http.test'), clock: { now: () => 0 }, random: () => 0, logger: silent,
  });
  const ex = exchange(spec);
  let forwarded = false;
  const response = await filter.handle(ex, () => {
    forwarded = true;
    return Promise.resolve({ status: 200, headers: {}, body: null });
  });
  return { response, forwarded, exchange: ex };
}

const CERT = { uriSans: ['spiffe://cluster.local/ns/shop/sa/orders'], dnsSans: [], subject: 'CN=orders', sha256: 'ab', pem: '' };

describe('RbacFilterFactory on one exchange', () => {
  it('writes the enforced result to metadata on a denial too, keeping what is there, with the rules prefix', async () => {
    const metadata = new Map([['envoy.filters.http.rbac', { earlier: 'kept' }]]);
    const { response, forwarded, exchange: ex } = await run({
      rules: { action: 'DENY', policies: { 'no-orders': { permissions: [{ urlPath: { path: { prefix: '/pkg.Orders/' } } }], principals: [ANY] } } },
      rulesStatPrefix: 'r_',
    }, { metadata });
    assert.equal(forwarded, false);
    assert.equal(response.status, 403);
    assert.deepEqual(ex.metadata.get('envoy.filters.http.rbac'), { earlier: 'kept', r_enforced_effective_policy_id: 'no-orders', r_enforced_engine_result: 'denied' });
    assert.equal(ex.info.responseCodeDetails, 'rbac_access_denied_matched_policy[no-orders]');
  });

  it('answers a denied gRPC call PERMISSION_DENIED, trailers-only', async () => {
    const { response } = await run({ rules: { action: 'ALLOW' } }, { headers: { 'content-type': 'application/grpc' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers['grpc-status'], '7');
    assert.equal(decodeURIComponent(String(response.headers['grpc-message'])), 'RBAC: access denied');
    assert.equal(response.headers['x-weft-rbac-policy'], 'none');
  });

  it('matches the peer certificate and earlier filters\' metadata', async () => {
    const rules = { action: 'ALLOW', policies: { 'orders-admins': {
      permissions: [ANY],
      principals: [{ andIds: { ids: [
        { authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/shop/sa/orders' } } },
        { metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.claims' }, { key: 'groups' }], value: { listMatch: { oneOf: { stringMatch: { exact: 'admins' } } } } } },
      ] } }],
    } } };
    const claims = (groups: string[]) => new Map([['istio_authn', { 'request.auth.claims': { groups } }]]);
    const tls = { localUriSans: [], peerCertificate: CERT };
    assert.equal((await run({ rules }, { tls, metadata: claims(['dev', 'admins']) })).forwarded, true);
    assert.equal((await run({ rules }, { tls, metadata: claims(['dev']) })).forwarded, false);
    assert.equal((await run({ rules }, { metadata: claims(['admins']) })).forwarded, false, 'no peer certificate');
  });

  it('allows everything under LOG, hinting the access log whether a policy matched', async () => {
    const stats = new MemoryStats();
    const rules = { action: 'LOG', policies: { audit: { permissions: [{ header: { name: 'x-audit', presentMatch: true } }], principals: [ANY] } } };
    const logged = await run({ rules }, { headers: { 'x-audit': '1' } }, stats);
    const quiet = await run({ rules }, {}, stats);
    assert.deepEqual([logged.forwarded, quiet.forwarded], [true, true]);
    assert.deepEqual(logged.exchange.metadata.get('envoy.common'), { access_log_hint: true });
    assert.deepEqual(quiet.exchange.metadata.get('envoy.common'), { access_log_hint: false });
    assert.equal(logged.exchange.metadata.get('envoy.filters.http.rbac')?.['enforced_effective_policy_id'], 'audit');
    assert.equal(stats.get('http.test.rbac.allowed'), 2);
  });

  it('refuses what Weft does not implement, and bad rules, naming the field', () => {
    const parsed = factory.parse({
      '@type': RBAC_HTTP_TYPE, matcher: {}, trackPerRuleStats: true, shadowRules: { policies: { p: { permissions: [{ bogus: 1 }], principals: [ANY] } } }, rulePrefix: 'x',
    });
    assert.equal(parsed.ok, false);
    const error = parsed.ok ? '' : parsed.error;
    assert.match(error, /^matcher: is not supported by Weft/m);
    assert.match(error, /^trackPerRuleStats: is not supported by Weft/m);
    assert.match(error, /^shadowRules\.policies\["p"\]\.permissions\[0\]\.bogus: is not a kind of Permission/m);
    assert.match(error, /^rulePrefix: is not a field of RBAC/m);
    const perRoute = factory.parsePerRoute({ '@type': RBAC_PER_ROUTE_TYPE, rbac: { rules: { policies: { p: { permissions: [ANY], principals: [ANY], condition: {} } } } } });
    assert.equal(perRoute.ok, false);
    assert.match(perRoute.ok ? '' : perRoute.error, /^rbac\.rules\.policies\["p"\]\.condition: CEL conditions are not supported/);
  });
});
