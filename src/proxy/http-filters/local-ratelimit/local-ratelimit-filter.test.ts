import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { HTTP_FILTER, LOCAL_RATE_LIMIT_TYPE, ROUTER_TYPE, type RouteConfiguration, type TypedAny } from '../../../xds/envoy/index.ts';
import type { HttpFilter } from '../../http/exchange.ts';
import type { FilterDeps, HttpFilterFactory } from '../../http/filter-factory.ts';
import { startProxy, withTimeout, type TestProxy, getThroughProxy as get } from '../../network/http-connection-manager/hcm-test-support.ts';
import { compileRouteConfiguration } from '../../route/index.ts';
import { FakeTimers } from '../../upstream/upstream-test-support.ts';
import { LocalRateLimitFilterFactory } from './local-ratelimit-filter.ts';
import type { LocalRateLimitSettings } from './local-ratelimit-settings.ts';

const ALL = { runtimeKey: 'local_rate_limit_enabled', defaultValue: { numerator: 100, denominator: 'HUNDRED' } };
const NONE = { runtimeKey: 'local_rate_limit_enforced', defaultValue: { numerator: 0, denominator: 'HUNDRED' } };

/** A LocalRateLimit that checks and enforces every request, with `maxTokens` and a fill interval no test outlasts. */
function limit(maxTokens: number, more: Record<string, unknown> = {}): TypedAny & Record<string, unknown> {
  return {
    '@type': LOCAL_RATE_LIMIT_TYPE,
    statPrefix: 'http_local_rate_limiter',
    tokenBucket: { maxTokens, tokensPerFill: maxTokens, fillInterval: '3600s' },
    filterEnabled: ALL,
    filterEnforced: ALL,
    ...more,
  };
}

interface Setup {
  /** The filter's own LocalRateLimit. */
  readonly filter: Record<string, unknown>;
  /** Virtual hosts; by default one for every domain with a catch-all route. */
  readonly virtualHosts?: RouteConfiguration['virtualHosts'];
}

const factory = new LocalRateLimitFilterFactory();
const proxies: TestProxy[] = [];

/** The filter's factory as the connection manager's registry holds it, on the test's clock. */
function registered(clock: FakeTimers): HttpFilterFactory {
  return {
    typeUrl: factory.typeUrl,
    parse: (config) => factory.parse(config),
    parsePerRoute: (config) => factory.parsePerRoute(config),
    create: (config, deps: FilterDeps): HttpFilter => factory.create(config as LocalRateLimitSettings, { ...deps, clock }),
  };
}

async function start(setup: Setup, clock = new FakeTimers()): Promise<TestProxy> {
  // Routes come from a real RDS route configuration, per-filter configs parsed as the RouteConfigStore parses them.
  const table = compileRouteConfiguration({
    name: 'routes',
    virtualHosts: setup.virtualHosts ?? [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }],
  }, { perFilterConfigParsers: new Map([[HTTP_FILTER.localRateLimit, (config) => factory.parsePerRoute(config)]]) });
  if (!table.ok) assert.fail(table.error);
  const proxy = await startProxy({
    table: table.value,
    config: {
      httpFilters: [
        { name: HTTP_FILTER.localRateLimit, typedConfig: setup.filter },
        { name: HTTP_FILTER.router, typedConfig: { '@type': ROUTER_TYPE } },
      ],
    },
    extraFilters: new Map([[LOCAL_RATE_LIMIT_TYPE, registered(clock)]]),
  });
  proxies.push(proxy);
  return proxy;
}



async function statuses(port: number, path: string, count: number, headers: http.OutgoingHttpHeaders = {}): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < count; i++) seen.push((await get(port, path, headers)).status);
  return seen;
}

function stat(proxy: TestProxy, prefix: string, name: string): number {
  return proxy.stats.get(`${prefix}.http_local_rate_limit.${name}`);
}

describe('LocalRateLimitFilterFactory', { timeout: 20_000 }, () => {
  after(async () => {
    for (const proxy of proxies) await proxy.close();
  });

  it('answers the 4th request of a 3-token bucket 429 `local_rate_limited` with RL, the upstream seeing 3', async () => {
    const proxy = await start({ filter: limit(3) });
    for (let i = 0; i < 3; i++) assert.equal((await get(proxy.port, `/ok/${i}`)).status, 200);
    const limited = await get(proxy.port, '/fourth');
    assert.equal(limited.status, 429);
    assert.equal(limited.body, 'local_rate_limited');
    assert.equal(limited.headers['content-type'], 'text/plain');
    assert.equal(limited.headers['x-envoy-ratelimited'], undefined, 'only the global rate limit filter sets it');
    assert.equal(proxy.router.seen.length, 3);
    const entries = await proxy.accessLog.waitFor(4);
    const last = entries.find((e) => e.request?.path === '/fourth');
    assert.equal(last?.response?.status, 429);
    assert.deepEqual([...last!.info.responseFlags], ['RL']);
    assert.equal(last!.info.responseCodeDetails, 'local_rate_limited');
    assert.ok(entries.filter((e) => e !== last).every((e) => e.info.responseFlags.size === 0));
    assert.deepEqual(['enabled', 'ok', 'rate_limited', 'enforced'].map((name) => stat(proxy, 'http_local_rate_limiter', name)), [4, 3, 1, 1]);
  });

  it('lets requests through again once the fill interval has passed, and answers with the configured status and headers', async () => {
    const clock = new FakeTimers();
    const proxy = await start({
      filter: limit(1, {
        tokenBucket: { maxTokens: 2, tokensPerFill: 1, fillInterval: '10s' },
        status: { code: 'ServiceUnavailable' },
        responseHeadersToAdd: [{ header: { key: 'x-local-rate-limit', value: 'true' } }],
      }),
    }, clock);
    assert.deepEqual(await statuses(proxy.port, '/', 3), [200, 200, 503]);
    clock.advance(9_999);
    assert.equal((await get(proxy.port, '/')).status, 503);
    clock.advance(1);
    const again = await get(proxy.port, '/');
    assert.equal(again.status, 200);
    assert.equal(again.headers['x-local-rate-limit'], undefined, 'only limited responses get responseHeadersToAdd');
    const limited = await get(proxy.port, '/');
    assert.equal(limited.status, 503);
    assert.equal(limited.headers['x-local-rate-limit'], 'true');
    assert.equal(proxy.router.seen.length, 3);
  });

  it('adds x-ratelimit headers to every checked response, counting down, when DRAFT_VERSION_03 is on', async () => {
    const clock = new FakeTimers();
    const proxy = await start({
      filter: limit(3, { tokenBucket: { maxTokens: 3, tokensPerFill: 3, fillInterval: '60s' }, enableXRatelimitHeaders: 'DRAFT_VERSION_03' }),
    }, clock);
    const seen: (string | undefined)[][] = [];
    for (let i = 0; i < 4; i++) {
      const answer = await get(proxy.port, '/');
      seen.push([String(answer.status), ...['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'].map((h) => answer.headers[h] as string | undefined)]);
      clock.advance(10_500);
    }
    assert.deepEqual(seen, [
      ['200', '3', '2', '60'],
      ['200', '3', '1', '50'],
      ['200', '3', '0', '39'],
      ['429', '3', '0', '29'],
    ]);
    clock.advance(60_000);
    const refilled = await get(proxy.port, '/');
    assert.equal(refilled.headers['x-ratelimit-remaining'], '2');
  });

  it('adds no x-ratelimit headers unless asked', async () => {
    const proxy = await start({ filter: limit(1) });
    const answers = [await get(proxy.port, '/'), await get(proxy.port, '/')];
    assert.deepEqual(answers.map((a) => a.status), [200, 429]);
    assert.ok(answers.every((a) => a.headers['x-ratelimit-remaining'] === undefined));
  });

  it('limits a route with its own config on a bucket of its own, whose settings replace the filter\'s', async () => {
    const own = limit(2, { statPrefix: 'own_route', status: { code: 503 } });
    const proxy = await start({
      filter: limit(1),
      virtualHosts: [
        { name: 'all', domains: ['*'], routes: [
          { match: { prefix: '/own' }, route: { cluster: 'backend' }, typedPerFilterConfig: { [HTTP_FILTER.localRateLimit]: own } },
          { match: { prefix: '/' }, route: { cluster: 'backend' } },
        ] },
      ],
    });
    assert.deepEqual(await statuses(proxy.port, '/own', 3), [200, 200, 503]);
    assert.deepEqual(await statuses(proxy.port, '/other', 2), [200, 429], 'the filter\'s bucket is untouched by the route\'s requests');
    assert.deepEqual(await statuses(proxy.port, '/own', 1), [503]);
    assert.equal(stat(proxy, 'own_route', 'ok'), 2);
    assert.equal(stat(proxy, 'own_route', 'enforced'), 2);
    assert.equal(stat(proxy, 'http_local_rate_limiter', 'ok'), 1);
    assert.equal(stat(proxy, 'http_local_rate_limiter', 'enforced'), 1);
  });

  it('shares a virtual host\'s config, and its bucket, among the host\'s routes, leaving the filter\'s config inert', async () => {
    const proxy = await start({
      filter: { '@type': LOCAL_RATE_LIMIT_TYPE, statPrefix: 'http_local_rate_limiter' },
      virtualHosts: [
        { name: 'limited', domains: ['limited.test'], typedPerFilterConfig: { [HTTP_FILTER.localRateLimit]: limit(2) }, routes: [
          { match: { prefix: '/a' }, route: { cluster: 'backend' } },
          { match: { prefix: '/b' }, route: { cluster: 'backend' } },
        ] },
        { name: 'open', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] },
      ],
    });
    const host = { host: 'limited.test' };
    assert.deepEqual([...await statuses(proxy.port, '/a', 1, host), ...await statuses(proxy.port, '/b', 2, host)], [200, 200, 429]);
    assert.deepEqual(await statuses(proxy.port, '/a', 5), [200, 200, 200, 200, 200], 'the filter\'s own config has no bucket');
  });

  it('lets every request through, counting nothing, when filterEnabled is 0%', async () => {
    const proxy = await start({ filter: limit(1, { filterEnabled: { runtimeKey: 'k', defaultValue: { numerator: 0 } } }) });
    assert.deepEqual(await statuses(proxy.port, '/', 3), [200, 200, 200]);
    assert.equal(proxy.router.seen.length, 3);
    assert.equal(stat(proxy, 'http_local_rate_limiter', 'enabled'), 0);
  });

  it('counts but lets through what it would limit when filterEnforced is 0%, adding requestHeadersToAddWhenNotEnforced', async () => {
    const proxy = await start({
      filter: limit(1, {
        filterEnforced: NONE,
        requestHeadersToAddWhenNotEnforced: [{ header: { key: 'x-local-ratelimited', value: 'true' } }],
      }),
    });
    assert.deepEqual(await statuses(proxy.port, '/', 3), [200, 200, 200]);
    assert.deepEqual(proxy.router.seen.map((e) => e.request.headers['x-local-ratelimited']), [undefined, 'true', 'true']);
    assert.deepEqual(['enabled', 'ok', 'rate_limited', 'enforced'].map((name) => stat(proxy, 'http_local_rate_limiter', name)), [3, 1, 2, 0]);
    const entries = await proxy.accessLog.waitFor(3);
    assert.ok(entries.every((e) => !e.info.responseFlags.has('RL')));
  });

  it('keeps a bucket per downstream connection when localRateLimitPerDownstreamConnection is set', async () => {
    const proxy = await start({ filter: limit(1, { localRateLimitPerDownstreamConnection: true }) });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(proxy.port, '/', {}, agent);
      const second = await get(proxy.port, '/', {}, agent);
      assert.deepEqual([first.status, second.status], [200, 429]);
      assert.equal(second.reused, true, 'both requests went on one connection');
    } finally {
      agent.destroy();
    }
    assert.equal((await get(proxy.port, '/')).status, 200, 'a new connection has a full bucket');
  });

  it('answers a limited gRPC call trailers-only, UNAVAILABLE or RESOURCE_EXHAUSTED as configured', async () => {
    const proxy = await start({
      filter: limit(1),
      virtualHosts: [
        { name: 'all', domains: ['*'], routes: [
          { match: { prefix: '/pkg.Ratings/Exhausted' }, route: { cluster: 'backend' },
            typedPerFilterConfig: { [HTTP_FILTER.localRateLimit]: limit(1, { rateLimitedAsResourceExhausted: true }) } },
          { match: { prefix: '/' }, route: { cluster: 'backend' } },
        ] },
      ],
    });
    const client = http2.connect(`http://127.0.0.1:${proxy.port}`);
    client.on('error', () => {});
    try {
      const call = (path: string) => withTimeout(new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const stream = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
        let headers: http2.IncomingHttpHeaders = {};
        stream.on('response', (h) => (headers = h));
        stream.on('data', () => {});
        stream.on('end', () => resolve(headers));
        stream.on('error', reject);
        stream.end();
      }), 3000, `no answer from ${path}`);
      assert.equal((await call('/pkg.Ratings/Get'))[':status'], 200);
      const unavailable = await call('/pkg.Ratings/Get');
      assert.equal(unavailable[':status'], 200);
      assert.equal(unavailable['grpc-status'], '14');
      assert.equal(decodeURIComponent(String(unavailable['grpc-message'])), 'local_rate_limited');
      await call('/pkg.Ratings/Exhausted');
      assert.equal((await call('/pkg.Ratings/Exhausted'))['grpc-status'], '8');
    } finally {
      client.destroy();
    }
    assert.equal(proxy.router.seen.length, 2);
  });
});
