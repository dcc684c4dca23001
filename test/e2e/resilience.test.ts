import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Blackhole, eventually, GATEWAY, Mesh, serviceYaml, sleep, type Reply, type Upstream } from './mesh-harness.ts';

/**
 * Issue 6: each resilience feature of Istio's API proven over real sockets, from the YAML a user
 * writes (a Gateway, VirtualServices, DestinationRules) to what a client of the ingress gateway
 * sees: status codes, timing, the response flags of the access log, and what the upstreams saw.
 * Statistical tests name their tolerance.
 */

let mesh: Mesh;
const upstreams: Upstream[] = [];
/** Where the gateway runs, for locality balancing. */
const GATEWAY_LOCALITY = 'us-east/zone-a';

before(async () => {
  mesh = await Mesh.start({ locality: GATEWAY_LOCALITY });
});

after(async () => {
  await mesh?.close();
  await Promise.all(upstreams.map((u) => u.close()));
});

async function upstream(name: string, protocol: 'http1' | 'h2c' = 'http1'): Promise<Upstream> {
  const started = await mesh.upstream(name, protocol);
  upstreams.push(started);
  return started;
}

/** A VirtualService binding `host` on the gateway, with these HTTP rules (YAML list items, indented two spaces). */
function gatewayRoute(name: string, host: string, http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  gateways: [${GATEWAY}]
  http:
${http}`;
}

function cluster(service: string, port: number, subset = ''): string {
  return `outbound|${port}|${subset}|${service}.default.svc.cluster.local`;
}

/** `count` requests, `concurrency` at a time, each made by `send(i)`. */
async function many(count: number, concurrency: number, send: (i: number) => Promise<Reply>): Promise<Reply[]> {
  const replies: Reply[] = new Array<Reply>(count);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      replies[i] = await send(i);
    }
  }));
  return replies;
}

/** An address that refuses connections: a port just closed on a loopback address of its own. */
async function refusingAddress(): Promise<{ address: string; port: number }> {
  const address = mesh.nextAddress();
  const server = createServer();
  server.listen(0, address);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return { address, port };
}

function count<T>(items: readonly T[], test: (item: T) => boolean): number {
  return items.filter(test).length;
}

describe('circuit breaking: DestinationRule connectionPool (Istio\'s circuit-breaking task)', () => {
  const HOST = 'httpbin.test';
  const DELAY_MS = 400;
  let httpbin: Upstream;

  before(async () => {
    httpbin = await upstream('httpbin');
    httpbin.answer = () => ({ delayMs: DELAY_MS });
    mesh.apply('cb-service', serviceYaml('httpbin', { name: 'http', number: 8000 }, [{ upstream: httpbin }]));
    await mesh.configure('cb', `${gatewayRoute('httpbin', HOST, '  - route: [{destination: {host: httpbin}}]\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: default}
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}
`);
    await mesh.waitForHosts(cluster('httpbin', 8000), 1);
  });

  it('serves one client at a time without a 503', async () => {
    for (let i = 0; i < 4; i++) {
      const reply = await mesh.send(`/get?serial-${i}`, { host: HOST });
      assert.equal(reply.status, 200, reply.body);
    }
  });

  it('answers 503 UO at once to concurrent clients beyond one connection and one pending request; the upstream never has two connections', async () => {
    const token = mesh.token('cb');
    const before = httpbin.seen.length;
    const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => mesh.send(`/get?${token}-${i}`, { host: HOST })));
    const rejected = replies.filter((r) => r.status === 503);
    const served = replies.filter((r) => r.status === 200);
    assert.equal(rejected.length + served.length, 6, JSON.stringify(replies.map((r) => r.status)));
    // One request on the connection and one pending: the other four overflow.
    assert.ok(rejected.length >= 3 && served.length >= 1, `served ${served.length}, rejected ${rejected.length}`);
    const firstServed = Math.min(...served.map((r) => r.ms));
    for (const reply of rejected) {
      assert.ok(reply.ms < DELAY_MS / 2 && reply.ms < firstServed, `a 503 took ${Math.round(reply.ms)} ms (upstream answers after ${DELAY_MS} ms)`);
      assert.match(reply.body, /overflow/);
      assert.equal(reply.headers['x-envoy-overloaded'], 'true');
    }
    const log = await mesh.accessLog(token, 6);
    assert.equal(count(log, (l) => l.response_code === 503 && l.response_flags === 'UO'), rejected.length, JSON.stringify(log));
    const seen = httpbin.seen.slice(before);
    assert.equal(seen.length, served.length);
    assert.ok(seen.every((s) => s.openConnections === 1), `connections open at each arrival: ${seen.map((s) => s.openConnections)}`);
    assert.equal(new Set(seen.map((s) => s.connection)).size, seen.length, 'maxRequestsPerConnection 1: a connection per request');
    const stats = await mesh.stats();
    assert.ok((stats.get(`cluster.${cluster('httpbin', 8000)}.upstream_rq_pending_overflow`) ?? 0) >= rejected.length);
  });

  it('bounds concurrent requests to an HTTP/2 upstream by http2MaxRequests (503 UO beyond)', async () => {
    const h2 = await upstream('h2-backend', 'h2c');
    h2.answer = () => ({ delayMs: DELAY_MS });
    mesh.apply('cb-h2-service', serviceYaml('h2-backend', { name: 'http2', number: 8001 }, [{ upstream: h2 }]));
    await mesh.configure('cb-h2', `${gatewayRoute('h2-backend', 'h2.test', '  - route: [{destination: {host: h2-backend}}]\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: h2-backend, namespace: default}
spec:
  host: h2-backend
  trafficPolicy:
    connectionPool:
      http: {http2MaxRequests: 2}
`);
    await mesh.waitForHosts(cluster('h2-backend', 8001), 1);
    const token = mesh.token('h2max');
    const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => mesh.send(`/${token}-${i}`, { host: 'h2.test' })));
    assert.deepEqual(replies.map((r) => r.status).sort(), [200, 200, 503, 503, 503]);
    for (const reply of replies.filter((r) => r.status === 503)) assert.ok(reply.ms < DELAY_MS / 2, `a 503 took ${Math.round(reply.ms)} ms`);
    assert.ok(h2.saw(token).every((s) => s.httpVersion === '2.0'));
    assert.equal(h2.saw(token).length, 2);
    const log = await mesh.accessLog(token, 5);
    assert.equal(count(log, (l) => l.response_flags === 'UO'), 3);
  });

  it('opens a new upstream connection after maxRequestsPerConnection requests', async () => {
    const keeper = await upstream('keeper');
    mesh.apply('cb-mrpc-service', serviceYaml('keeper', { name: 'http', number: 8002 }, [{ upstream: keeper }]));
    await mesh.configure('cb-mrpc', `${gatewayRoute('keeper', 'keeper.test', '  - route: [{destination: {host: keeper}}]\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: keeper, namespace: default}
spec:
  host: keeper
  trafficPolicy:
    connectionPool:
      http: {maxRequestsPerConnection: 2}
`);
    await mesh.waitForHosts(cluster('keeper', 8002), 1);
    const token = mesh.token('mrpc');
    for (let i = 0; i < 6; i++) assert.equal((await mesh.send(`/${token}-${i}`, { host: 'keeper.test' })).status, 200);
    const perConnection = new Map<number, number>();
    for (const s of keeper.saw(token)) perConnection.set(s.connection, (perConnection.get(s.connection) ?? 0) + 1);
    assert.ok([...perConnection.values()].every((n) => n <= 2), `requests per connection: ${[...perConnection.values()]}`);
    assert.ok(perConnection.size >= 3, `6 requests came on ${perConnection.size} connections`);
    assert.ok([...perConnection.values()].includes(2), 'a connection is reused up to the limit');
  });

  it('closes an upstream connection idle for idleTimeout (the upstream sees the close within bounds)', async () => {
    const idle = await upstream('idle');
    mesh.apply('cb-idle-service', serviceYaml('idle', { name: 'http', number: 8003 }, [{ upstream: idle }]));
    await mesh.configure('cb-idle', `${gatewayRoute('idle', 'idle.test', '  - route: [{destination: {host: idle}}]\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: idle, namespace: default}
spec:
  host: idle
  trafficPolicy:
    connectionPool:
      http: {idleTimeout: 0.3s}
`);
    await mesh.waitForHosts(cluster('idle', 8003), 1);
    const reply = await mesh.send('/once', { host: 'idle.test' });
    assert.equal(reply.status, 200);
    const answeredAt = performance.now();
    const connection = idle.connections[idle.saw('/once')[0]!.connection - 1]!;
    // node's server would keep it 5 s (its keepAliveTimeout): a close well before is the proxy's.
    const closedAt = await eventually(() => connection.closedAt, 'the upstream connection to close', 3000);
    const idleMs = closedAt - answeredAt;
    assert.ok(idleMs > 200 && idleMs < 2000, `closed ${Math.round(idleMs)} ms after the answer (idleTimeout 300 ms)`);
  });

  it('gives up a connection that does not complete within connectTimeout: 503 UF', async () => {
    const hole = await Blackhole.start(mesh.nextAddress());
    try {
      mesh.apply('cb-connect-service', serviceYaml('blackhole', { name: 'http', number: 8004 }, [{ upstream: hole }]));
      await mesh.configure('cb-connect', `${gatewayRoute('blackhole', 'blackhole.test', '  - route: [{destination: {host: blackhole}}]\n    retries: {attempts: 0}\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: blackhole, namespace: default}
spec:
  host: blackhole
  trafficPolicy:
    connectionPool:
      tcp: {connectTimeout: 0.25s}
`);
      await mesh.waitForHosts(cluster('blackhole', 8004), 1);
      const token = mesh.token('connect');
      const reply = await mesh.send(`/${token}`, { host: 'blackhole.test' });
      assert.equal(reply.status, 503);
      assert.ok(reply.ms >= 240 && reply.ms < 1500, `answered after ${Math.round(reply.ms)} ms (connectTimeout 250 ms)`);
      assert.match(reply.body, /connection timeout/);
      const [line] = await mesh.accessLog(token);
      assert.equal(line?.response_flags, 'UF');
      const stats = await mesh.stats();
      assert.equal(stats.get(`cluster.${cluster('blackhole', 8004)}.upstream_cx_connect_timeout`), 1);
    } finally {
      await hole.close();
    }
  });
});

describe('timeouts and retries: VirtualService timeout and retries as Istio compiles them', () => {
  const HOST = 'reviews.test';
  let healthy: Upstream;
  let failing: Upstream;
  let dead: { address: string; port: number };

  before(async () => {
    healthy = await upstream('reviews-healthy');
    failing = await upstream('reviews-failing');
    dead = await refusingAddress();
    // Round robin over two hosts: every other first attempt goes to the failing one.
    mesh.apply('retry-service', `${serviceYaml('reviews', { name: 'http', number: 9080 }, [{ upstream: healthy }, { upstream: failing }])}---
${serviceYaml('ratings', { name: 'http', number: 9081 }, [{ upstream: healthy }, { upstream: dead }])}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
`);
    await mesh.waitForHosts(cluster('reviews', 9080), 2);
    await mesh.waitForHosts(cluster('ratings', 9081), 2);
  });

  it('answers 504 UT after the route timeout (timeout: 0.5s, upstream 2 s)', async () => {
    healthy.answer = () => ({ delayMs: 2000 });
    failing.answer = () => ({ delayMs: 2000 });
    await mesh.configure('retry', gatewayRoute('reviews-timeout', HOST, '  - route: [{destination: {host: reviews}}]\n    timeout: 0.5s\n'));
    const token = mesh.token('timeout');
    const reply = await mesh.send(`/${token}`, { host: HOST });
    assert.equal(reply.status, 504);
    assert.equal(reply.body, 'upstream request timeout');
    assert.ok(reply.ms >= 480 && reply.ms < 1500, `answered after ${Math.round(reply.ms)} ms`);
    const [line] = await mesh.accessLog(token);
    assert.equal(line?.response_flags, 'UT');
    assert.equal(line?.response_code_details, 'upstream_response_timeout');
  });

  it('retries a 503 on the other host (attempts: 3, retryOn: 5xx): every client gets 200, the failing host sees each request once', async () => {
    healthy.answer = () => ({});
    failing.answer = () => ({ status: 503 });
    await mesh.configure('retry', gatewayRoute('reviews-5xx', HOST, '  - route: [{destination: {host: reviews}}]\n    retries: {attempts: 3, perTryTimeout: 2s, retryOn: 5xx}\n'));
    const token = mesh.token('5xx');
    const replies = await many(10, 1, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
    assert.deepEqual(replies.map((r) => r.status), new Array(10).fill(200));
    const failed = failing.saw(token);
    assert.ok(failed.length >= 4, `round robin sent ${failed.length} of 10 first attempts to the failing host`);
    assert.equal(new Set(failed.map((s) => s.path)).size, failed.length, 'no request tried twice on the failing host');
    for (const attempt of failed) {
      const retried = healthy.seen.find((s) => s.path === attempt.path);
      assert.equal(retried?.headers['x-envoy-attempt-count'], String(Number(attempt.headers['x-envoy-attempt-count']) + 1));
    }
    const stats = await mesh.stats();
    assert.ok((stats.get(`cluster.${cluster('reviews', 9080)}.upstream_rq_retry`) ?? 0) >= failed.length);
  });

  it('moves an attempt that outlives perTryTimeout to the other host', async () => {
    healthy.answer = () => ({});
    failing.answer = () => ({ delayMs: 3000 });
    await mesh.configure('retry', gatewayRoute('reviews-per-try', HOST, '  - route: [{destination: {host: reviews}}]\n    retries: {attempts: 2, perTryTimeout: 0.3s, retryOn: 5xx}\n'));
    const token = mesh.token('pertry');
    const replies = await many(4, 1, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200]);
    assert.ok(failing.saw(token).length >= 2, 'round robin gave the slow host first attempts');
    for (const [i, reply] of replies.entries()) {
      const path = `/${token}-${i}`;
      if (!failing.seen.some((s) => s.path === path)) continue;
      assert.ok(reply.ms >= 290 && reply.ms < 1500, `a request the slow host had first was answered after ${Math.round(reply.ms)} ms`);
      assert.equal(healthy.seen.find((s) => s.path === path)?.headers['x-envoy-attempt-count'], '2');
    }
  });

  it('retries a connect failure on another host under Istio\'s default policy (no retries in the VirtualService)', async () => {
    healthy.answer = () => ({});
    await mesh.configure('retry', gatewayRoute('ratings-default', 'ratings.test', '  - route: [{destination: {host: ratings}}]\n'));
    const token = mesh.token('default');
    const replies = await many(6, 1, (i) => mesh.send(`/${token}-${i}`, { host: 'ratings.test' }));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
    const log = await mesh.accessLog(token, 6);
    assert.ok(log.every((l) => l.upstream_host === `${healthy.address}:${healthy.port}`));
    const stats = await mesh.stats();
    assert.ok((stats.get(`cluster.${cluster('ratings', 9081)}.upstream_rq_retry`) ?? 0) >= 2, 'round robin had the refusing host first for some');
  });

  it('retries a 503 on the other host under Istio\'s default policy (no retries in the VirtualService)', async () => {
    healthy.answer = () => ({});
    failing.answer = () => ({ status: 503 });
    await mesh.configure('retry', gatewayRoute('reviews-default', HOST, '  - route: [{destination: {host: reviews}}]\n'));
    const token = mesh.token('default503');
    const replies = await many(6, 1, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
    assert.ok(failing.saw(token).length >= 2, 'round robin had the failing host first for some');
  });

  it('does not retry with attempts: 0: a connect failure reaches the client as 503 UF', async () => {
    await mesh.configure('retry', gatewayRoute('ratings-no-retry', 'ratings.test', '  - route: [{destination: {host: ratings}}]\n    retries: {attempts: 0}\n'));
    const token = mesh.token('noretry');
    const replies = await many(6, 1, (i) => mesh.send(`/${token}-${i}`, { host: 'ratings.test' }));
    assert.deepEqual(replies.map((r) => r.status).sort(), [200, 200, 200, 503, 503, 503]);
    const log = await mesh.accessLog(token, 6);
    assert.equal(count(log, (l) => l.response_code === 503 && l.response_flags === 'UF'), 3);
  });

  it('retries a 502 but not a 500 with retryOn: gateway-error', async () => {
    healthy.answer = () => ({});
    failing.answer = () => ({ status: 500 });
    await mesh.configure('retry', gatewayRoute('reviews-gateway-error', HOST, '  - route: [{destination: {host: reviews}}]\n    retries: {attempts: 2, retryOn: gateway-error}\n'));
    const internal = mesh.token('e500');
    const statuses = (await many(6, 1, (i) => mesh.send(`/${internal}-${i}`, { host: HOST }))).map((r) => r.status);
    assert.deepEqual(statuses.sort(), [200, 200, 200, 500, 500, 500]);
    assert.equal(failing.saw(internal).length, 3);
    assert.ok(healthy.saw(internal).every((s) => s.headers['x-envoy-attempt-count'] === '1'), 'no request was tried again');

    failing.answer = () => ({ status: 502 });
    const badGateway = mesh.token('e502');
    const retried = (await many(6, 1, (i) => mesh.send(`/${badGateway}-${i}`, { host: HOST }))).map((r) => r.status);
    assert.deepEqual(retried, [200, 200, 200, 200, 200, 200]);
    const failed = failing.saw(badGateway);
    assert.ok(failed.length >= 3);
    for (const attempt of failed) assert.equal(healthy.seen.find((s) => s.path === attempt.path)?.headers['x-envoy-attempt-count'], '2');
  });
});

describe('fault injection: VirtualService fault', () => {
  const HOST = 'faulty.test';
  let app: Upstream;
  let grpcApp: Upstream;

  before(async () => {
    app = await upstream('faulty');
    grpcApp = await upstream('grpc-app', 'h2c');
    mesh.apply('fault-service', `${serviceYaml('faulty', { name: 'http', number: 8100 }, [{ upstream: app }])}---
${serviceYaml('grpc-app', { name: 'grpc', number: 8101 }, [{ upstream: grpcApp }])}`);
    await mesh.waitForHosts(cluster('faulty', 8100), 1);
    await mesh.waitForHosts(cluster('grpc-app', 8101), 1);
  });

  it('aborts every request with httpStatus at 100%, flagged FI, without reaching the upstream', async () => {
    await mesh.configure('fault', gatewayRoute('faulty-abort', HOST, '  - route: [{destination: {host: faulty}}]\n    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n'));
    const token = mesh.token('abort');
    const reply = await mesh.send(`/${token}`, { host: HOST });
    assert.equal(reply.status, 418);
    assert.equal(reply.body, 'fault filter abort');
    assert.equal(app.saw(token).length, 0);
    const [line] = await mesh.accessLog(token);
    assert.equal(line?.response_flags, 'FI');
  });

  // 400 requests at 50%: the mean is 200 with a standard deviation of 10; ±50 is 5 deviations.
  for (const [share, yaml] of [['percentage: {value: 50}', 'percentage: {value: 50}'], ['the deprecated integer percent: 50', 'percent: 50']] as const) {
    it(`aborts about half of the requests with ${share} (200 ± 50 of 400)`, async () => {
      await mesh.configure('fault', gatewayRoute(`faulty-half-${yaml.startsWith('percent:') ? 'int' : 'pct'}`, HOST, `  - route: [{destination: {host: faulty}}]\n    fault: {abort: {httpStatus: 503, ${yaml}}}\n`));
      const token = mesh.token('half');
      const replies = await many(400, 16, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
      const aborted = count(replies, (r) => r.status === 503);
      assert.equal(aborted + count(replies, (r) => r.status === 200), 400);
      assert.ok(Math.abs(aborted - 200) <= 50, `${aborted} of 400 aborted`);
      assert.equal(app.saw(token).length, 400 - aborted);
    });
  }

  it('delays a request by fixedDelay, flagged DI, then forwards it', async () => {
    await mesh.configure('fault', gatewayRoute('faulty-delay', HOST, '  - route: [{destination: {host: faulty}}]\n    fault: {delay: {fixedDelay: 0.4s, percentage: {value: 100}}}\n'));
    const token = mesh.token('delay');
    const reply = await mesh.send(`/${token}`, { host: HOST });
    assert.equal(reply.status, 200);
    assert.ok(reply.ms >= 390 && reply.ms < 1400, `answered after ${Math.round(reply.ms)} ms`);
    assert.equal(app.saw(token).length, 1);
    const [line] = await mesh.accessLog(token);
    assert.equal(line?.response_flags, 'DI');
  });

  it('answers a gRPC request aborted with grpcStatus as HTTP 200 with that grpc-status', async () => {
    await mesh.configure('fault-grpc', gatewayRoute('grpc-abort', 'grpc.test', '  - route: [{destination: {host: grpc-app}}]\n    fault: {abort: {grpcStatus: PERMISSION_DENIED, percentage: {value: 100}}}\n'));
    const token = mesh.token('grpc');
    const reply = await mesh.sendHttp2(`/test.Echo/${token}`, { host: 'grpc.test', headers: { 'content-type': 'application/grpc', te: 'trailers' }, body: '\0\0\0\0\0' });
    assert.equal(reply.status, 200);
    assert.equal(reply.trailers['grpc-status'], '7');
    assert.equal(grpcApp.saw(token).length, 0);

    const client = new grpc.Client(mesh.gatewayAddress, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc.test' });
    try {
      const error = await new Promise<grpc.ServiceError | null>((resolve) => {
        client.makeUnaryRequest(`/test.Echo/${token}-client`, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (e) => resolve(e));
      });
      assert.equal(error?.code, grpc.status.PERMISSION_DENIED);
    } finally {
      client.close();
    }
    const [line] = await mesh.accessLog(`${token}-client`);
    assert.equal(line?.response_flags, 'FI');
  });
});

describe('mirroring: VirtualService mirror and mirrorPercentage (Istio\'s mirroring task: all to v1, a copy to v2)', () => {
  const HOST = 'shop.test';
  let primary: Upstream;
  let shadow: Upstream;

  function mirrorRoute(name: string, percentage: number): string {
    return gatewayRoute(name, HOST, `  - route: [{destination: {host: shop, subset: v1}, weight: 100}]
    mirror: {host: shop, subset: v2}
    mirrorPercentage: {value: ${percentage}}
`);
  }

  before(async () => {
    primary = await upstream('shop-v1');
    shadow = await upstream('shop-v2');
    mesh.apply('mirror-service', `${serviceYaml('shop', { name: 'http', number: 8200 }, [
      { upstream: primary, labels: { version: 'v1' } },
      { upstream: shadow, labels: { version: 'v2' } },
    ])}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: default}
spec:
  host: shop
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`);
    await mesh.waitForHosts(cluster('shop', 8200, 'v1'), 1);
    await mesh.waitForHosts(cluster('shop', 8200, 'v2'), 1);
    await mesh.configure('mirror', mirrorRoute('shop-mirror', 100));
  });

  it('sends a copy to the mirror with -shadow appended to the host, before the port', async () => {
    const token = mesh.token('copy');
    assert.equal((await mesh.send(`/${token}`, { host: HOST })).status, 200);
    assert.equal((await mesh.send(`/${token}-port`, { host: `${HOST}:80` })).status, 200);
    const copies = await eventually(() => (shadow.saw(token).length === 2 ? shadow.saw(token) : undefined), 'two mirrored requests', 3000);
    assert.equal(copies.find((s) => s.path === `/${token}`)?.authority, 'shop.test-shadow');
    assert.equal(copies.find((s) => s.path === `/${token}-port`)?.authority, 'shop.test-shadow:80');
    assert.equal(primary.saw(token).find((s) => s.path === `/${token}`)?.authority, HOST);
  });

  it('gives the client the primary\'s answer when the mirror answers 500', async () => {
    shadow.answer = () => ({ status: 500 });
    const token = mesh.token('m500');
    const reply = await mesh.send(`/${token}`, { host: HOST });
    assert.equal(reply.status, 200);
    assert.equal((JSON.parse(reply.body) as { upstream: string }).upstream, 'shop-v1');
    await eventually(() => shadow.saw(token).length === 1, 'the mirrored request', 3000);
  });

  it('does not make the client wait for a mirror that answers after 5 s', async () => {
    shadow.answer = () => ({ delayMs: 5000 });
    const token = mesh.token('mslow');
    const replies = await many(3, 1, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200]);
    for (const reply of replies) assert.ok(reply.ms < 1000, `the client waited ${Math.round(reply.ms)} ms`);
    await eventually(() => shadow.saw(token).length === 3, 'the mirrored requests', 3000);
  });

  // 400 requests at 50%: the mean is 200 with a standard deviation of 10; ±50 is 5 deviations.
  it('mirrors about half of the requests with mirrorPercentage: {value: 50} (200 ± 50 of 400)', async () => {
    shadow.answer = () => ({});
    await mesh.configure('mirror', mirrorRoute('shop-mirror-half', 50));
    const token = mesh.token('mhalf');
    const replies = await many(400, 16, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
    assert.ok(replies.every((r) => r.status === 200));
    // Mirrors are sent before the primary answers, but may arrive after it: wait until none more come.
    let mirrored = -1;
    await eventually(async () => {
      const now = shadow.saw(token).length;
      if (now === mirrored) return true;
      mirrored = now;
      await sleep(200);
      return false;
    }, 'the mirrored requests to settle', 5000);
    assert.ok(Math.abs(mirrored - 200) <= 50, `${mirrored} of 400 mirrored`);
    assert.equal(primary.saw(token).length, 400);
  });
});

describe('consistent hashing: DestinationRule loadBalancer.consistentHash', () => {
  const HOST = 'sticky.test';
  let hosts: Upstream[];
  let revision = 0;

  before(async () => {
    hosts = [await upstream('sticky-a'), await upstream('sticky-b'), await upstream('sticky-c')];
    mesh.apply('hash-service', serviceYaml('sticky', { name: 'http', number: 8300 }, hosts.map((u) => ({ upstream: u }))));
    await mesh.waitForHosts(cluster('sticky', 8300), 3);
  });

  async function hashBy(hashKey: string, balancer: string): Promise<void> {
    revision++;
    await mesh.configure('hash', `${gatewayRoute(`sticky-${revision}`, HOST, '  - route: [{destination: {host: sticky}}]\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: sticky-${revision}, namespace: default}
spec:
  host: sticky
  trafficPolicy:
    loadBalancer:
      consistentHash: {${hashKey}, ${balancer}}
`);
  }

  function upstreamOf(reply: Reply): string {
    assert.equal(reply.status, 200, reply.body);
    return (JSON.parse(reply.body) as { upstream: string }).upstream;
  }

  /** The same key 30 times lands on one host; 12 keys land on more than one. */
  async function assertSticky(send: (key: string, i: number) => Promise<Reply>): Promise<void> {
    const same = await many(30, 6, (i) => send('alice', i));
    assert.equal(new Set(same.map(upstreamOf)).size, 1, 'one key, one host');
    const spread = await many(12, 6, (i) => send(`user-${i}`, i));
    assert.ok(new Set(spread.map(upstreamOf)).size > 1, 'different keys spread over the hosts');
  }

  for (const [balancer, yaml] of [['ring hash', 'ringHash: {minimumRingSize: 1024}'], ['maglev', 'maglev: {tableSize: 65537}']] as const) {
    it(`sticks by httpHeaderName (${balancer})`, async () => {
      await hashBy('httpHeaderName: x-user', yaml);
      await assertSticky((key, i) => mesh.send(`/h${i}`, { host: HOST, headers: { 'x-user': key } }));
    });

    it(`sticks by httpQueryParameterName (${balancer})`, async () => {
      await hashBy('httpQueryParameterName: user', yaml);
      await assertSticky((key, i) => mesh.send(`/q${i}?user=${key}`, { host: HOST }));
    });

    it(`sticks by useSourceIp, clients on different source addresses (${balancer})`, async () => {
      await hashBy('useSourceIp: true', yaml);
      const sources = new Map<string, string>();
      await assertSticky((key, i) => {
        if (!sources.has(key)) sources.set(key, `127.0.1.${sources.size + 1}`);
        return mesh.send(`/s${i}`, { host: HOST, localAddress: sources.get(key)! });
      });
    });

    it(`sets the httpCookie with its ttl on a request without it and sticks by it (${balancer})`, async () => {
      await hashBy('httpCookie: {name: session, ttl: 60s}', yaml);
      const first = await mesh.send('/c', { host: HOST });
      const setCookie = first.headers['set-cookie']?.[0] ?? '';
      assert.match(setCookie, /^session="?[0-9a-f]+"?; Max-Age=60;.*HttpOnly/);
      const cookie = setCookie.split(';')[0]!;
      const replayed = await many(30, 6, (i) => mesh.send(`/c${i}`, { host: HOST, headers: { cookie } }));
      assert.deepEqual(new Set(replayed.map(upstreamOf)), new Set([upstreamOf(first)]));
      assert.ok(replayed.every((r) => r.headers['set-cookie'] === undefined), 'no new cookie for a request that has one');
      await assertSticky((key, i) => mesh.send(`/c${i}`, { host: HOST, headers: { cookie: `session=${key}` } }));
    });
  }
});

describe('h2UpgradePolicy and HTTP/2 connection settings', () => {
  const HOST = 'upgrade.test';
  let h2app: Upstream;

  before(async () => {
    h2app = await upstream('h2c-app', 'h2c');
    mesh.apply('h2-service', serviceYaml('h2c-app', { name: 'http', number: 8400 }, [{ upstream: h2app }]));
    await mesh.waitForHosts(cluster('h2c-app', 8400), 1);
  });

  it('carries an HTTP/1.1 client request to an h2c upstream as HTTP/2 with h2UpgradePolicy: UPGRADE', async () => {
    await mesh.configure('h2', `${gatewayRoute('h2c-app', HOST, '  - route: [{destination: {host: h2c-app}}]\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: h2c-app-upgrade, namespace: default}
spec:
  host: h2c-app
  trafficPolicy:
    connectionPool:
      http: {h2UpgradePolicy: UPGRADE}
`);
    const token = mesh.token('upgrade');
    const reply = await mesh.send(`/${token}`, { host: HOST });
    assert.equal(reply.status, 200, reply.body);
    const [seen] = h2app.saw(token);
    assert.equal(seen?.httpVersion, '2.0');
    assert.equal(seen?.authority, HOST);
  });

  it('keeps at most maxConcurrentStreams streams on one upstream connection, opening more connections instead of queueing', async () => {
    h2app.answer = () => ({ delayMs: 200 });
    await mesh.configure('h2', `${gatewayRoute('h2c-app', HOST, '  - route: [{destination: {host: h2c-app}}]\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: h2c-app-streams, namespace: default}
spec:
  host: h2c-app
  trafficPolicy:
    connectionPool:
      http: {h2UpgradePolicy: UPGRADE, maxConcurrentStreams: 1}
`);
    const token = mesh.token('streams');
    const replies = await Promise.all(Array.from({ length: 3 }, (_, i) => mesh.send(`/${token}-${i}`, { host: HOST })));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200]);
    const seen = h2app.saw(token);
    assert.equal(seen.length, 3);
    assert.ok(seen.every((s) => s.httpVersion === '2.0' && s.streamsOnConnection === 1), `streams per connection at arrival: ${seen.map((s) => s.streamsOnConnection)}`);
    assert.equal(new Set(seen.map((s) => s.connection)).size, 3, 'three connections at once');
    assert.ok(replies.every((r) => r.ms < 400 + 200), `all answered in about one upstream delay: ${replies.map((r) => Math.round(r.ms))} ms`);
  });
});

/** Hosts of `cluster` that /clusters shows ejected by outlier detection, as `address:port`. */
async function ejected(cluster: string): Promise<string[]> {
  return (await mesh.admin('/clusters')).split('\n')
    .filter((l) => l.startsWith(`${cluster}::`) && l.endsWith('::health_flags::/failed_outlier_check'))
    .map((l) => l.slice(cluster.length + 2, l.indexOf('::health_flags::')));
}

describe('outlier detection: DestinationRule outlierDetection', () => {
  const HOST = 'catalog.test';
  let good: Upstream;
  let bad: Upstream;
  let other: Upstream;

  before(async () => {
    good = await upstream('catalog-good');
    bad = await upstream('catalog-bad');
    other = await upstream('catalog-other');
    mesh.apply('outlier-service', serviceYaml('catalog', { name: 'http', number: 9090 }, [{ upstream: good }, { upstream: bad }, { upstream: other }]));
    await mesh.waitForHosts(cluster('catalog', 9090), 3);
  });

  it('ejects a host after consecutive5xxErrors 5xx in a row: it gets nothing until baseEjectionTime has passed, then traffic again', async () => {
    good.answer = () => ({});
    other.answer = () => ({});
    bad.answer = () => ({ status: 503 });
    await mesh.configure('outlier', `${gatewayRoute('catalog-eject', HOST, '  - route: [{destination: {host: catalog}}]\n    retries: {attempts: 0}\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: catalog-eject, namespace: default}
spec:
  host: catalog
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 0.5s, baseEjectionTime: 3s, maxEjectionPercent: 50}
`);
    const token = mesh.token('eject');
    const replies = await many(30, 1, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
    assert.equal(bad.saw(token).length, 3, 'the third 503 in a row ejects it');
    assert.equal(count(replies, (r) => r.status === 503), 3);
    assert.deepEqual(replies.slice(-15).map((r) => r.status), new Array(15).fill(200));
    assert.deepEqual(await ejected(cluster('catalog', 9090)), [`${bad.address}:${bad.port}`]);
    const stats = await mesh.stats();
    assert.equal(stats.get(`cluster.${cluster('catalog', 9090)}.outlier_detection.ejections_active`), 1);
    assert.equal(stats.get(`cluster.${cluster('catalog', 9090)}.outlier_detection.ejections_enforced_consecutive_5xx`), 1);

    bad.answer = () => ({});
    const back = mesh.token('back');
    await eventually(async () => {
      await mesh.send(`/${back}`, { host: HOST });
      return bad.saw(back).length > 0;
    }, 'the ejected host back after 3 s', 6_000);
    assert.deepEqual(await ejected(cluster('catalog', 9090)), []);
  });

  it('below minHealthPercent, balances over every host again (panic) rather than none', async () => {
    good.answer = () => ({});
    for (const u of [bad, other]) u.answer = () => ({ status: 503 });
    await mesh.configure('outlier', `${gatewayRoute('catalog-panic', HOST, '  - route: [{destination: {host: catalog}}]\n    retries: {attempts: 0}\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: catalog-panic, namespace: default}
spec:
  host: catalog
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 1, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100, minHealthPercent: 50}
`);
    const token = mesh.token('panic');
    await many(12, 1, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
    const late = mesh.token('panic-late');
    await many(12, 1, (i) => mesh.send(`/${late}-${i}`, { host: HOST }));
    assert.equal((await ejected(cluster('catalog', 9090))).length, 2, 'both failing hosts ejected: 1 of 3 healthy, under 50%');
    assert.ok(bad.saw(late).length > 0 && other.saw(late).length > 0, 'in panic the ejected hosts take traffic again');
  });
  it('with every host ejected and minHealthPercent 0 (Istio\'s default), answers 503 UH: no healthy upstream', async () => {
    for (const u of [good, bad, other]) u.answer = () => ({ status: 503 });
    await mesh.configure('outlier', `${gatewayRoute('catalog-all', HOST, '  - route: [{destination: {host: catalog}}]\n    retries: {attempts: 0}\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: catalog-all, namespace: default}
spec:
  host: catalog
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 1, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100}
`);
    const token = mesh.token('allout');
    const replies = await many(6, 1, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
    assert.deepEqual(replies.map((r) => r.status), new Array(6).fill(503));
    assert.deepEqual(replies.slice(3).map((r) => r.body), new Array(3).fill('no healthy upstream'));
    const log = await mesh.accessLog(token, 6);
    // Hosts ejected by the test before stay ejected (a DestinationRule change keeps ejections): each other host answers one 503.
    const reached = good.saw(token).length + bad.saw(token).length + other.saw(token).length;
    assert.ok(reached <= 3);
    assert.equal(count(log, (l) => l.response_flags === 'UH'), 6 - reached, 'once every host is ejected, no healthy upstream');
  });

});

describe('locality load balancing: DestinationRule localityLbSetting, with outlier detection', () => {
  const HOST = 'inventory.test';
  let local: Upstream;
  let west: Upstream;
  let europe: Upstream;

  before(async () => {
    local = await upstream('inventory-us-east');
    west = await upstream('inventory-us-west');
    europe = await upstream('inventory-eu-west');
    const entry = (u: Upstream, locality: string): string => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${u.name}, namespace: default}
spec:
  address: ${u.address}
  locality: ${locality}
  labels: {app: inventory}
  ports: {http: ${u.port}}
`;
    mesh.apply('locality-service', `apiVersion: v1
kind: Service
metadata: {name: inventory, namespace: default}
spec:
  selector: {app: inventory}
  ports: [{name: http, port: 9100, targetPort: 9100}]
---
${entry(local, `${GATEWAY_LOCALITY}`)}---
${entry(west, 'us-west/zone-b')}---
${entry(europe, 'eu-west/zone-c')}`);
    await mesh.waitForHosts(cluster('inventory', 9100), 3);
  });

  const policy = (name: string, outlier: boolean, lb = ''): string => `${gatewayRoute(name, HOST, '  - route: [{destination: {host: inventory}}]\n    retries: {attempts: 0}\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: default}
spec:
  host: inventory
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN${lb}}
${outlier ? '    outlierDetection: {consecutive5xxErrors: 1, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100}\n' : ''}`;

  it('without outlier detection, balances over every locality (Istio turns locality priority on only with it)', async () => {
    for (const u of [local, west, europe]) u.answer = () => ({});
    await mesh.configure('locality', policy('inventory-flat', false));
    const token = mesh.token('flat');
    await many(9, 1, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
    assert.deepEqual([local, west, europe].map((u) => u.saw(token).length), [3, 3, 3]);
  });

  it('keeps traffic in the gateway\'s own zone, and fails over to the next region (failover: us-east to eu-west) when the local host is ejected', async () => {
    for (const u of [local, west, europe]) u.answer = () => ({});
    await mesh.configure('locality', policy('inventory-failover', true, ', localityLbSetting: {enabled: true, failover: [{from: us-east, to: eu-west}]}'));
    const token = mesh.token('local');
    await many(10, 1, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
    assert.deepEqual([local, west, europe].map((u) => u.saw(token).length), [10, 0, 0], 'all in us-east/zone-a');

    local.answer = () => ({ status: 503 });
    const failover = mesh.token('failover');
    const replies = await many(10, 1, (i) => mesh.send(`/${failover}-${i}`, { host: HOST }));
    assert.equal(replies[0]!.status, 503, 'the local host\'s one 503 ejects it');
    assert.deepEqual(replies.slice(1).map((r) => r.status), new Array(9).fill(200));
    assert.deepEqual([local, west, europe].map((u) => u.saw(failover).length), [1, 0, 9], 'then everything to eu-west, as failover says, not us-west');
  });
});

describe('rate limiting: LocalRateLimit (policy.weft.dev/v1alpha1)', () => {
  const HOST = 'limited.test';
  let app: Upstream;

  before(async () => {
    app = await upstream('limited-app');
    mesh.apply('ratelimit-service', serviceYaml('limited', { name: 'http', number: 9200 }, [{ upstream: app }]));
    await mesh.waitForHosts(cluster('limited', 9200), 1);
    mesh.apply('ratelimit-routes', `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: limited, namespace: default}
spec:
  hosts: [${HOST}]
  gateways: [${GATEWAY}]
  http:
  - name: login
    match: [{uri: {prefix: /login}}]
    route: [{destination: {host: limited}}]
  - name: everything-else
    route: [{destination: {host: limited}}]
`);
  });

  after(() => {
    mesh.apply('ratelimit', '');
  });

  it('limits one named route with its own bucket: 429 local_rate_limited with flag RL and x-ratelimit headers, other routes untouched', async () => {
    mesh.apply('ratelimit', `apiVersion: policy.weft.dev/v1alpha1
kind: LocalRateLimit
metadata: {name: login-limit, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  routes:
  - virtualService: default/limited
    route: login
    tokenBucket: {maxTokens: 3, tokensPerFill: 3, fillInterval: 1h}
`);
    const probe = mesh.token('probe');
    await eventually(async () => (await mesh.send(`/login/${probe}`, { host: HOST })).headers['x-ratelimit-limit'] !== undefined, 'the route limit at the gateway');
    const token = mesh.token('login');
    const replies = await many(5, 1, (i) => mesh.send(`/login/${token}-${i}`, { host: HOST }));
    const limited = replies.filter((r) => r.status === 429);
    assert.ok(limited.length >= 3, `with at most 2 tokens left, at least 3 of 5 are refused: ${replies.map((r) => r.status)}`);
    for (const reply of limited) {
      assert.equal(reply.body, 'local_rate_limited');
      assert.equal(reply.headers['x-ratelimit-limit'], '3');
      assert.equal(reply.headers['x-ratelimit-remaining'], '0');
    }
    assert.equal(app.saw(token).length, 5 - limited.length, 'a refused request never reaches the app');
    const log = await mesh.accessLog(token, 5);
    assert.equal(count(log, (l) => l.response_code === 429 && l.response_flags === 'RL'), limited.length);
    const other = mesh.token('other');
    const unlimited = await many(10, 1, (i) => mesh.send(`/${other}-${i}`, { host: HOST }));
    assert.deepEqual(unlimited.map((r) => r.status), new Array(10).fill(200));
  });

  it('limits everything a gateway routes with the workload\'s bucket', async () => {
    mesh.apply('ratelimit', `apiVersion: policy.weft.dev/v1alpha1
kind: LocalRateLimit
metadata: {name: gateway-limit, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  tokenBucket: {maxTokens: 4, tokensPerFill: 4, fillInterval: 1h}
  status: 503
`);
    const probe = mesh.token('probe');
    await eventually(async () => (await mesh.send(`/${probe}`, { host: HOST })).headers['x-ratelimit-limit'] === '4', 'the gateway\'s bucket');
    const token = mesh.token('gw');
    const replies = await many(6, 1, (i) => mesh.send(`/${token}-${i}`, { host: HOST }));
    assert.ok(replies.slice(-2).every((r) => r.status === 503 && r.body === 'local_rate_limited'), `the bucket of 4 is empty by the fifth: ${replies.map((r) => r.status)}`);
  });
});
