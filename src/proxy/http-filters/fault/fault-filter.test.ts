import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import type { Timers } from '../../../core/index.ts';
import { FAULT_TYPE, HTTP_FILTER, ROUTER_TYPE } from '../../../xds/envoy/index.ts';
import type { HttpFilter } from '../../http/exchange.ts';
import type { FilterDeps, HttpFilterFactory } from '../../http/filter-factory.ts';
import {
  eventually, prefixTable, routeEntry, startProxy, systemTimers, withTimeout, type TestProxy, getThroughProxy as get,
} from '../../network/http-connection-manager/hcm-test-support.ts';
import type { RouteEntry } from '../../route/route-entry.ts';
import { FakeTimers, seededRandom } from '../../upstream/upstream-test-support.ts';
import { FaultFilterFactory } from './fault-filter.ts';
import type { FaultSettings } from './fault-settings.ts';

const STAT_PREFIX = 'http.inbound_0.0.0.0_80';

interface Setup {
  /** The filter's own HTTPFault config (without @type); empty as Istio emits it by default. */
  readonly filter?: Record<string, unknown>;
  /** Per-route HTTPFault configs by path prefix; routes listed here come first, then a catch-all without one. */
  readonly routes?: readonly (readonly [prefix: string, fault: Record<string, unknown> | undefined])[];
  readonly timers?: Timers;
  readonly random?: () => number;
}

const factory = new FaultFilterFactory({ timers: systemTimers });

function perRoute(config: Record<string, unknown>): FaultSettings {
  const parsed = factory.parsePerRoute({ '@type': FAULT_TYPE, ...config });
  if (!parsed.ok) assert.fail(parsed.error);
  return parsed.value;
}

function withFault(prefix: string, fault: Record<string, unknown> | undefined): readonly [string, RouteEntry] {
  const entry = routeEntry('ratings', prefix);
  return [prefix, { ...entry, perFilterConfig: new Map(fault === undefined ? [] : [[HTTP_FILTER.fault, perRoute(fault)]]) }];
}

/** The fault filter's factory as the connection manager's registry holds it, with the test's timers and randomness. */
function registered(timers: Timers, random: (() => number) | undefined): HttpFilterFactory {
  const inner = new FaultFilterFactory({ timers });
  return {
    typeUrl: inner.typeUrl,
    parse: (config) => inner.parse(config),
    parsePerRoute: (config) => inner.parsePerRoute(config),
    create: (config, deps: FilterDeps): HttpFilter =>
      inner.create(config as FaultSettings, { ...deps, ...(random !== undefined ? { random } : {}) }),
  };
}

const proxies: TestProxy[] = [];

async function start(setup: Setup = {}): Promise<TestProxy> {
  const routes = [...(setup.routes ?? []).map(([prefix, fault]) => withFault(prefix, fault)), withFault('/', undefined)];
  const proxy = await startProxy({
    table: prefixTable(routes),
    config: {
      httpFilters: [
        { name: HTTP_FILTER.fault, typedConfig: { '@type': FAULT_TYPE, ...setup.filter } },
        { name: HTTP_FILTER.router, typedConfig: { '@type': ROUTER_TYPE } },
      ],
    },
    extraFilters: new Map([[FAULT_TYPE, registered(setup.timers ?? systemTimers, setup.random)]]),
  });
  proxies.push(proxy);
  return proxy;
}



function stat(proxy: TestProxy, name: string): number {
  return proxy.stats.get(`${STAT_PREFIX}.fault.${name}`);
}

describe('FaultFilterFactory', { timeout: 20_000 }, () => {
  after(async () => {
    for (const proxy of proxies) await proxy.close();
  });

  describe('aborts', () => {
    it('answers 503 `fault filter abort` without reaching the router at 100%, logged with FI', async () => {
      const proxy = await start({ routes: [['/ratings', { abort: { httpStatus: 503, percentage: { numerator: 100 } } }]] });
      const answer = await get(proxy.port, '/ratings/1');
      assert.equal(answer.status, 503);
      assert.equal(answer.body, 'fault filter abort');
      assert.equal(answer.headers['content-type'], 'text/plain');
      assert.equal(proxy.router.seen.length, 0);
      const [entry] = await proxy.accessLog.waitFor(1);
      assert.equal(entry!.response?.status, 503);
      assert.deepEqual([...entry!.info.responseFlags], ['FI']);
      assert.equal(entry!.info.responseCodeDetails, 'fault_filter_abort');
      assert.equal(stat(proxy, 'aborts_injected'), 1);
      assert.equal(stat(proxy, 'active_faults'), 0);
    });

    it('aborts exactly the requests whose draw falls in a 50% share', async () => {
      const proxy = await start({
        random: seededRandom(7),
        routes: [['/ratings', { abort: { httpStatus: 500, percentage: { numerator: 50 } } }]],
      });
      const draws = seededRandom(7);
      const expected = Array.from({ length: 12 }, () => (draws() < 0.5 ? 500 : 200));
      const seen: number[] = [];
      for (let i = 0; i < expected.length; i++) seen.push((await get(proxy.port, '/ratings')).status);
      assert.deepEqual(seen, expected);
      assert.ok(seen.includes(500) && seen.includes(200), 'the seed gives both outcomes');
      assert.equal(stat(proxy, 'aborts_injected'), expected.filter((s) => s === 500).length);
      assert.equal(proxy.router.seen.length, expected.filter((s) => s === 200).length);
    });

    it('passes every request on when the share is unset', async () => {
      const proxy = await start({ routes: [['/ratings', { abort: { httpStatus: 503 } }]] });
      assert.equal((await get(proxy.port, '/ratings')).status, 200);
      assert.equal(stat(proxy, 'aborts_injected'), 0);
    });

    it('answers a gRPC request trailers-only, with the configured grpc-status or one mapped from the HTTP status', async () => {
      const proxy = await start({
        routes: [
          ['/pkg.Ratings/Grpc', { abort: { grpcStatus: 8, percentage: { numerator: 100 } } }],
          ['/pkg.Ratings/Http', { abort: { httpStatus: 503, percentage: { numerator: 100 } } }],
        ],
      });
      const client = http2.connect(`http://127.0.0.1:${proxy.port}`);
      client.on('error', () => {});
      try {
        const call = (path: string) => withTimeout(new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
          const stream = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
          let headers: http2.IncomingHttpHeaders = {};
          let body = '';
          stream.on('response', (h) => (headers = h));
          stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
          stream.on('end', () => resolve({ headers, body }));
          stream.on('error', reject);
          stream.end();
        }), 3000, `no answer from ${path}`);
        const grpc = await call('/pkg.Ratings/Grpc');
        assert.equal(grpc.headers[':status'], 200);
        assert.equal(grpc.headers['content-type'], 'application/grpc');
        assert.equal(grpc.headers['grpc-status'], '8');
        assert.equal(decodeURIComponent(String(grpc.headers['grpc-message'])), 'fault filter abort');
        assert.equal(grpc.body, '');
        const mapped = await call('/pkg.Ratings/Http');
        assert.equal(mapped.headers[':status'], 200);
        assert.equal(mapped.headers['grpc-status'], '14');
      } finally {
        client.destroy();
      }
      const entries = await proxy.accessLog.waitFor(2);
      assert.ok(entries.every((e) => e.info.responseFlags.has('FI')));
      assert.equal(proxy.router.seen.length, 0);
    });

    it('answers a plain HTTP request aborted with a gRPC status as 200 `fault filter abort`, as Envoy does', async () => {
      const proxy = await start({ routes: [['/ratings', { abort: { grpcStatus: 14, percentage: { numerator: 100 } } }]] });
      const answer = await get(proxy.port, '/ratings');
      assert.equal(answer.status, 200);
      assert.equal(answer.body, 'fault filter abort');
    });

    it('counts aborts per x-envoy-downstream-service-cluster', async () => {
      const proxy = await start({ routes: [['/ratings', { abort: { httpStatus: 503, percentage: { numerator: 100 } } }]] });
      await get(proxy.port, '/ratings', { 'x-envoy-downstream-service-cluster': 'productpage' });
      assert.equal(stat(proxy, 'productpage.aborts_injected'), 1);
      assert.equal(stat(proxy, 'aborts_injected'), 1);
    });
  });

  describe('delays', () => {
    it('holds the request on the timers for the delay, then passes it to the router, logged with DI', async () => {
      const timers = new FakeTimers();
      const proxy = await start({ timers, routes: [['/ratings', { delay: { fixedDelay: '7s', percentage: { numerator: 100 } } }]] });
      const answer = get(proxy.port, '/ratings');
      await eventually(() => timers.pending === 1);
      assert.equal(stat(proxy, 'active_faults'), 1);
      timers.advance(6999);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(proxy.router.seen.length, 0, 'the router starts (and with it the route timeout) only after the delay');
      timers.advance(1);
      assert.equal((await answer).status, 200);
      assert.equal(proxy.router.seen.length, 1);
      const [entry] = await proxy.accessLog.waitFor(1);
      assert.deepEqual([...entry!.info.responseFlags], ['DI']);
      assert.equal(stat(proxy, 'delays_injected'), 1);
      assert.equal(stat(proxy, 'active_faults'), 0);
    });

    it('delays for real on a short fixed delay', async () => {
      const proxy = await start({ routes: [['/ratings', { delay: { fixedDelay: '0.05s', percentage: { numerator: 100 } } }]] });
      const started = Date.now();
      assert.equal((await get(proxy.port, '/ratings')).status, 200);
      assert.ok(Date.now() - started >= 45, 'answered after the delay');
    });

    it('aborts after the delay when both fire, drawing for the abort only once the delay is over', async () => {
      const timers = new FakeTimers();
      let draws = 0;
      const proxy = await start({
        timers,
        random: () => (draws++, 0),
        routes: [['/ratings', { delay: { fixedDelay: '1s', percentage: { numerator: 100 } }, abort: { httpStatus: 504, percentage: { numerator: 100 } } }]],
      });
      const answer = get(proxy.port, '/ratings');
      await eventually(() => timers.pending === 1);
      assert.equal(draws, 1, 'only the delay has drawn so far');
      timers.advance(1000);
      assert.equal((await answer).status, 504);
      assert.equal(draws, 2);
      const [entry] = await proxy.accessLog.waitFor(1);
      assert.deepEqual([...entry!.info.responseFlags].sort(), ['DI', 'FI']);
      assert.equal(stat(proxy, 'delays_injected'), 1);
      assert.equal(stat(proxy, 'aborts_injected'), 1);
      assert.equal(stat(proxy, 'active_faults'), 0);
    });

    it('ends the delay without an upstream request when the client disconnects during it', async () => {
      const timers = new FakeTimers();
      const proxy = await start({ timers, routes: [['/ratings', { delay: { fixedDelay: '30s', percentage: { numerator: 100 } } }]] });
      const socket = net.connect(proxy.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write('GET /ratings HTTP/1.1\r\nhost: ratings\r\n\r\n');
      await eventually(() => timers.pending === 1);
      socket.destroy();
      const [entry] = await proxy.accessLog.waitFor(1);
      assert.deepEqual([...entry!.info.responseFlags].sort(), ['DC', 'DI']);
      await eventually(() => timers.pending === 0);
      assert.equal(stat(proxy, 'active_faults'), 0);
      timers.advance(30_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(proxy.router.seen.length, 0);
    });

    it('injects no fault beyond maxActiveFaults, counting faults_overflow', async () => {
      const timers = new FakeTimers();
      const proxy = await start({
        timers,
        routes: [['/ratings', { maxActiveFaults: 1, delay: { fixedDelay: '2s', percentage: { numerator: 100 } } }]],
      });
      const first = get(proxy.port, '/ratings');
      await eventually(() => timers.pending === 1);
      const second = await get(proxy.port, '/ratings');
      assert.equal(second.status, 200);
      assert.equal(timers.pending, 1, 'the second request went on undelayed');
      assert.equal(stat(proxy, 'faults_overflow'), 1);
      timers.advance(2000);
      assert.equal((await first).status, 200);
      assert.equal(stat(proxy, 'delays_injected'), 1);
    });
  });

  describe('which config applies', () => {
    it('lets a route\'s config replace the filter\'s, even an empty one', async () => {
      const proxy = await start({
        filter: { abort: { httpStatus: 418, percentage: { numerator: 100 } } },
        routes: [
          ['/own', { abort: { httpStatus: 503, percentage: { numerator: 100 } } }],
          ['/none', {}],
        ],
      });
      assert.equal((await get(proxy.port, '/own')).status, 503);
      assert.equal((await get(proxy.port, '/none')).status, 200);
      assert.equal((await get(proxy.port, '/elsewhere')).status, 418);
    });

    it('faults only requests matching the header matchers and downstream nodes', async () => {
      const proxy = await start({
        routes: [
          ['/users', { headers: [{ name: 'end-user', exactMatch: 'jason' }], abort: { httpStatus: 503, percentage: { numerator: 100 } } }],
          ['/nodes', { downstreamNodes: ['productpage-v1'], abort: { httpStatus: 503, percentage: { numerator: 100 } } }],
          ['/cluster/reviews', { upstreamCluster: 'reviews', abort: { httpStatus: 503, percentage: { numerator: 100 } } }],
          ['/cluster/ratings', { upstreamCluster: 'ratings', abort: { httpStatus: 503, percentage: { numerator: 100 } } }],
        ],
      });
      assert.equal((await get(proxy.port, '/users', { 'end-user': 'jason' })).status, 503);
      assert.equal((await get(proxy.port, '/users', { 'end-user': 'alice' })).status, 200);
      assert.equal((await get(proxy.port, '/users')).status, 200);
      assert.equal((await get(proxy.port, '/nodes', { 'x-envoy-downstream-service-node': 'productpage-v1' })).status, 503);
      assert.equal((await get(proxy.port, '/nodes')).status, 200);
      assert.equal((await get(proxy.port, '/cluster/reviews')).status, 200, 'the route goes to ratings, not reviews');
      assert.equal((await get(proxy.port, '/cluster/ratings')).status, 503);
    });

    it('obeys the x-envoy-fault headers only when the config asks for header control', async () => {
      const proxy = await start({
        routes: [
          ['/controlled', { abort: { headerAbort: {}, percentage: { numerator: 100 } }, delay: { headerDelay: {}, percentage: { numerator: 100 } } }],
          ['/fixed', { delay: { fixedDelay: '0.001s', percentage: { numerator: 100 } } }],
        ],
      });
      assert.equal((await get(proxy.port, '/controlled', { 'x-envoy-fault-abort-request': '429' })).status, 429);
      assert.equal((await get(proxy.port, '/controlled', { 'x-envoy-fault-abort-request': '429', 'x-envoy-fault-abort-request-percentage': '0' })).status, 200);
      assert.equal((await get(proxy.port, '/controlled')).status, 200);
      const started = Date.now();
      assert.equal((await get(proxy.port, '/controlled', { 'x-envoy-fault-delay-request': '60' })).status, 200);
      assert.ok(Date.now() - started >= 55);
      assert.equal((await get(proxy.port, '/fixed', { 'x-envoy-fault-abort-request': '503' })).status, 200);
    });
  });

  describe('response rate limit', () => {
    it('slows the response body to the limit and holds an active fault until the body is out', async () => {
      const proxy = await start({ routes: [['/ratings', { responseRateLimit: { fixedLimit: { limitKbps: 1 }, percentage: { numerator: 100 } } }]] });
      const text = 'x'.repeat(150);
      proxy.router.handler = () => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: Readable.from([Buffer.from(text)]) });
      const started = Date.now();
      const answer = await get(proxy.port, '/ratings');
      // 1 KiB/s lets 51 bytes out at once and 51 more every 50 ms.
      assert.ok(Date.now() - started >= 90, `took ${Date.now() - started} ms`);
      assert.equal(answer.body, text);
      assert.equal(stat(proxy, 'response_rl_injected'), 1);
      await eventually(() => stat(proxy, 'active_faults') === 0);
    });
  });
});
