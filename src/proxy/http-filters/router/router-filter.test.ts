import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import type { HttpExchange } from '../../http/exchange.ts';
import type { Headers } from '../../http/headers.ts';
import type { ClusterManager, UpstreamCluster, UpstreamHost } from '../../upstream/cluster.ts';
import { UpstreamPools } from '../../upstream/pools/index.ts';
import { hostAt, Limits, nullStats, realTimers, waitFor } from '../../upstream/pools/pool-test-support.ts';
import { RouterFilterFactory } from './router-filter.ts';
import { bodyText, clusterManager, exchange, forwardTo, mutation, silent } from './router-test-support.ts';

/** An upstream on 127.0.0.1 whose behaviour each test sets. */
interface Upstream {
  readonly port: number;
  readonly host: UpstreamHost;
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  readonly requests: { headers: http.IncomingHttpHeaders; url: string; body: Buffer }[];
  connections: number;
  close(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const upstream: Upstream = {
    port: 0,
    host: hostAt(0),
    handler: (_req, res) => res.end('ok'),
    requests: [],
    connections: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = http.createServer((req, res) => {
    // Record the request once its body is in, then let the test's handler answer.
    const chunks: Buffer[] = [];
    if (req.headers['x-test-stream'] !== undefined) {
      upstream.requests.push({ headers: req.headers, url: req.url ?? '', body: Buffer.alloc(0) });
      upstream.handler(req, res);
      return;
    }
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      upstream.requests.push({ headers: req.headers, url: req.url ?? '', body: Buffer.concat(chunks) });
      upstream.handler(req, res);
    });
  });
  server.on('connection', (socket: Socket) => {
    upstream.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(upstream, { port, host: hostAt(port) });
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A cluster whose picker takes its hosts in turn, skipping the ones to avoid while others remain. */
function cluster(name: string, hosts: readonly UpstreamHost[], limits = new Limits(), protocol: UpstreamCluster['upstreamProtocol'] = 'http1'): UpstreamCluster {
  let next = 0;
  return {
    name,
    config: { name },
    picker: () => ({
      pick: (context) => {
        const candidates = hosts.filter((h) => context.avoid?.has(h) !== true);
        const from = candidates.length > 0 ? candidates : hosts;
        return from[next++ % from.length];
      },
    }),
    circuitBreakers: limits,
    connectTimeoutMs: 1000,
    upstreamProtocol: protocol,
  };
}

describe('RouterFilterFactory', { timeout: 20_000 }, () => {
  let a: Upstream;
  let b: Upstream;
  let pools: UpstreamPools;

  before(async () => {
    a = await startUpstream();
    b = await startUpstream();
  });

  after(async () => {
    await a.close();
    await b.close();
  });

  afterEach(() => {
    pools?.close();
    for (const upstream of [a, b]) {
      upstream.requests.length = 0;
      upstream.handler = (_req, res) => res.end('ok');
    }
  });

  function router(clusters: ClusterManager, options: { suppressEnvoyHeaders?: boolean; bufferLimitBytes?: number } = {}) {
    pools = new UpstreamPools({ timers: realTimers, stats: nullStats });
    const factory = new RouterFilterFactory({ pools, timers: realTimers, ...(options.bufferLimitBytes !== undefined ? { bufferLimitBytes: options.bufferLimitBytes } : {}) });
    const config = factory.parse({ '@type': factory.typeUrl, ...(options.suppressEnvoyHeaders !== undefined ? { suppressEnvoyHeaders: options.suppressEnvoyHeaders } : {}) });
    if (!config.ok) assert.fail(config.error);
    const filter = factory.create(config.value, { clusters, stats: nullStats, httpStats: nullStats, clock: { now: () => Date.now() }, random: Math.random, logger: silent });
    return (ex: HttpExchange) => filter.handle(ex, () => Promise.reject(new Error('the router is terminal')));
  }

  describe('forwarding', () => {
    it('sends the request upstream and streams the response back, with Envoy\'s headers and the route\'s changes', async () => {
      a.handler = (_req, res) => res.writeHead(201, { 'x-upstream': 'yes', 'x-drop': 'me' }).end('created');
      const route = forwardTo('reviews', {
        requestHeaders: mutation({ 'x-route': 'route' }),
        responseHeaders: mutation({ 'x-route-response': '1' }, ['x-drop']),
        choice: { requestHeaders: mutation({ 'x-cluster': 'v1' }) },
        prefixRewrite: ['/api', '/v1'],
        timeoutMs: 3000,
      });
      const ex = exchange(route, { path: '/api/books?id=1', headers: { 'x-client': 'c' } });
      const response = await router(clusterManager(cluster('reviews', [a.host])))(ex);

      assert.equal(response.status, 201);
      assert.equal(await bodyText(response), 'created');
      assert.equal(response.headers['x-upstream'], 'yes');
      assert.equal(response.headers['x-route-response'], '1');
      assert.equal(response.headers['x-drop'], undefined);
      assert.match(String(response.headers['x-envoy-upstream-service-time']), /^\d+$/);
      const sent = a.requests[0]!;
      assert.equal(sent.url, '/v1/books?id=1');
      assert.equal(sent.headers.host, 'reviews:9080');
      assert.equal(sent.headers['x-client'], 'c');
      assert.equal(sent.headers['x-route'], 'route');
      assert.equal(sent.headers['x-cluster'], 'v1');
      assert.equal(sent.headers['x-envoy-original-path'], '/api/books?id=1');
      assert.equal(sent.headers['x-envoy-attempt-count'], '1');
      assert.equal(sent.headers['x-envoy-expected-rq-timeout-ms'], '3000');
      assert.equal(ex.request.path, '/api/books?id=1', 'the downstream head is left as it came');
      assert.equal(ex.info.upstreamCluster, 'reviews');
      assert.equal(ex.info.upstreamHost, a.host.id);
      assert.equal(ex.info.attemptCount, 1);
      assert.equal(ex.info.responseCodeDetails, 'via_upstream');
      assert.equal(typeof ex.info.upstreamServiceTime, 'number');
    });

    it('adds no x-envoy headers when the router suppresses them', async () => {
      const response = await router(clusterManager(cluster('reviews', [a.host])), { suppressEnvoyHeaders: true })(exchange(forwardTo('reviews')));
      await bodyText(response);
      assert.equal(response.headers['x-envoy-upstream-service-time'], undefined);
      assert.deepEqual(Object.keys(a.requests[0]!.headers).filter((h) => h.startsWith('x-envoy')), []);
    });

    it('reuses one keep-alive upstream connection for successive requests', async () => {
      const handle = router(clusterManager(cluster('reviews', [a.host])));
      const before = a.connections;
      for (let i = 0; i < 3; i++) assert.equal(await bodyText(await handle(exchange(forwardTo('reviews')))), 'ok');
      assert.equal(a.connections - before, 1);
    });

    it('answers 404 NR without a route, 503 NC for an unknown cluster and 503 UH without a host', async () => {
      const handle = router(clusterManager(cluster('empty', [])));
      const noRoute = exchange(undefined);
      assert.equal((await handle(noRoute)).status, 404);
      assert.deepEqual([...noRoute.info.responseFlags], ['NR']);
      assert.equal(noRoute.info.responseCodeDetails, 'route_not_found');

      const noCluster = exchange(forwardTo('missing'));
      assert.equal((await handle(noCluster)).status, 503);
      assert.deepEqual([...noCluster.info.responseFlags], ['NC']);
      assert.equal(noCluster.info.responseCodeDetails, 'cluster_not_found');

      const noHost = exchange(forwardTo('empty'));
      const response = await handle(noHost);
      assert.equal(response.status, 503);
      assert.equal(await bodyText(response), 'no healthy upstream');
      assert.deepEqual([...noHost.info.responseFlags], ['UH']);
      assert.equal(noHost.info.responseCodeDetails, 'no_healthy_upstream');
    });

    it('answers 503 UF when the upstream refuses the connection', async () => {
      const dead = hostAt(await deadPort());
      const ex = exchange(forwardTo('reviews'));
      const response = await router(clusterManager(cluster('reviews', [dead])))(ex);
      assert.equal(response.status, 503);
      assert.equal(await bodyText(response), 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
      assert.deepEqual([...ex.info.responseFlags], ['UF']);
      assert.equal(ex.info.responseCodeDetails, 'upstream_reset_before_response_started{connection_failure}');
    });

    it('answers 503 UO with x-envoy-overloaded at once when the requests circuit breaker is full', async () => {
      let release: (() => void) | undefined;
      a.handler = (_req, res) => (release = () => res.end('slow'));
      const handle = router(clusterManager(cluster('reviews', [a.host], new Limits({ requests: 1 }))));
      const first = handle(exchange(forwardTo('reviews')));
      await waitFor(() => release !== undefined);
      const ex = exchange(forwardTo('reviews', { retry: { retryOn: new Set(['5xx', 'reset']), numRetries: 3 } }));
      const response = await handle(ex);
      assert.equal(response.status, 503);
      assert.equal(response.headers['x-envoy-overloaded'], 'true');
      assert.deepEqual([...ex.info.responseFlags], ['UO']);
      assert.equal(ex.info.responseCodeDetails, 'upstream_reset_before_response_started{overflow}');
      assert.equal(ex.info.attemptCount, 1, 'an overflow is never retried');
      release!();
      assert.equal(await bodyText(await first), 'slow');
    });

    it('streams a large upload upstream when it cannot be retried', async () => {
      let received = 0;
      let firstChunkSeen!: () => void;
      const firstChunk = new Promise<void>((resolve) => (firstChunkSeen = resolve));
      a.handler = (req, res) => {
        req.on('data', (chunk: Buffer) => {
          received += chunk.length;
          firstChunkSeen();
        });
        req.on('end', () => res.end(String(received)));
      };
      const upload = new PassThrough();
      const ex = exchange(forwardTo('reviews'), { method: 'POST', headers: { 'transfer-encoding': 'chunked', 'x-test-stream': '1' } }, upload);
      const pending = router(clusterManager(cluster('reviews', [a.host])))(ex);
      upload.write(Buffer.alloc(64 * 1024, 1));
      // The upstream sees the body before the client has finished sending it.
      await firstChunk;
      for (let i = 0; i < 63; i++) upload.write(Buffer.alloc(64 * 1024, 1));
      upload.end();
      const response = await pending;
      assert.equal(await bodyText(response), String(4 * 1024 * 1024));
    });
  });

  describe('timeouts', () => {
    it('answers 504 UT when the route timeout passes before the response', async () => {
      a.handler = () => {};
      const ex = exchange(forwardTo('reviews', { timeoutMs: 100 }));
      const response = await router(clusterManager(cluster('reviews', [a.host])))(ex);
      assert.equal(response.status, 504);
      assert.equal(await bodyText(response), 'upstream request timeout');
      assert.deepEqual([...ex.info.responseFlags], ['UT']);
      assert.equal(ex.info.responseCodeDetails, 'upstream_response_timeout');
    });

    it('honours and removes x-envoy-upstream-rq-timeout-ms', async () => {
      a.handler = () => {};
      const ex = exchange(forwardTo('reviews', { timeoutMs: 0 }), { headers: { 'x-envoy-upstream-rq-timeout-ms': '80' } });
      const response = await router(clusterManager(cluster('reviews', [a.host])))(ex);
      assert.equal(response.status, 504);
      await waitFor(() => a.requests.length === 1);
      assert.equal(a.requests[0]!.headers['x-envoy-upstream-rq-timeout-ms'], undefined);
      assert.equal(a.requests[0]!.headers['x-envoy-expected-rq-timeout-ms'], '80');
    });

    it('tries another host when a try times out, under a per-try timeout', async () => {
      a.handler = () => {};
      b.handler = (_req, res) => res.end('from b');
      const ex = exchange(forwardTo('reviews', { retry: { retryOn: new Set(['5xx']), numRetries: 1, perTryTimeoutMs: 100, avoidPreviousHosts: true } }));
      const response = await router(clusterManager(cluster('reviews', [a.host, b.host])))(ex);
      assert.equal(await bodyText(response), 'from b');
      assert.equal(ex.info.attemptCount, 2);
      assert.equal(b.requests[0]!.headers['x-envoy-expected-rq-timeout-ms'], '100');
    });
  });

  describe('retries', () => {
    it('retries a 503 on another host, counting attempts', async () => {
      a.handler = (_req, res) => res.writeHead(503).end('busy');
      b.handler = (_req, res) => res.end('from b');
      const ex = exchange(forwardTo('reviews', { retry: { retryOn: new Set(['retriable-status-codes']), retriableStatusCodes: new Set([503]), numRetries: 2, avoidPreviousHosts: true } }));
      const response = await router(clusterManager(cluster('reviews', [a.host, b.host])))(ex);
      assert.equal(response.status, 200);
      assert.equal(await bodyText(response), 'from b');
      assert.equal(a.requests[0]!.headers['x-envoy-attempt-count'], '1');
      assert.equal(b.requests[0]!.headers['x-envoy-attempt-count'], '2');
      assert.equal(ex.info.attemptCount, 2);
      assert.equal(ex.info.upstreamHost, b.host.id);
      assert.deepEqual([...ex.info.responseFlags], []);
    });

    it('replays the request body on the retry', async () => {
      a.handler = (_req, res) => res.writeHead(503).end();
      b.handler = (_req, res) => res.end('ok');
      const ex = exchange(
        forwardTo('reviews', { retry: { retryOn: new Set(['5xx']), numRetries: 1, avoidPreviousHosts: true } }),
        { method: 'POST', headers: { 'content-length': '11' } },
        Readable.from([Buffer.from('hello '), Buffer.from('world')]),
      );
      const response = await router(clusterManager(cluster('reviews', [a.host, b.host])))(ex);
      assert.equal(await bodyText(response), 'ok');
      assert.equal(a.requests[0]!.body.toString(), 'hello world');
      assert.equal(b.requests[0]!.body.toString(), 'hello world');
    });

    it('passes the last 503 through flagged URX when the retries are used up', async () => {
      a.handler = (_req, res) => res.writeHead(503).end('a busy');
      b.handler = (_req, res) => res.writeHead(503).end('b busy');
      const ex = exchange(forwardTo('reviews', { retry: { retryOn: new Set(['gateway-error']), numRetries: 2 } }));
      const response = await router(clusterManager(cluster('reviews', [a.host, b.host])))(ex);
      assert.equal(response.status, 503);
      assert.equal(await bodyText(response), 'a busy');
      assert.equal(ex.info.attemptCount, 3);
      assert.deepEqual([...ex.info.responseFlags], ['URX']);
      assert.equal(ex.info.responseCodeDetails, 'via_upstream');
    });

    it('does not retry a connection reset when only the status 503 is retriable', async () => {
      a.handler = (req) => req.socket.destroy();
      const ex = exchange(forwardTo('reviews', { retry: { retryOn: new Set(['retriable-status-codes']), retriableStatusCodes: new Set([503]), numRetries: 2 } }));
      const response = await router(clusterManager(cluster('reviews', [a.host, b.host])))(ex);
      assert.equal(response.status, 503);
      assert.equal(await bodyText(response), 'upstream connect error or disconnect/reset before headers. reset reason: connection termination');
      assert.deepEqual([...ex.info.responseFlags], ['UC']);
      assert.equal(ex.info.attemptCount, 1);
    });

    it('retries a connection reset under reset', async () => {
      a.handler = (req) => req.socket.destroy();
      b.handler = (_req, res) => res.end('from b');
      const ex = exchange(forwardTo('reviews', { retry: { retryOn: new Set(['reset']), numRetries: 1, avoidPreviousHosts: true } }));
      const response = await router(clusterManager(cluster('reviews', [a.host, b.host])))(ex);
      assert.equal(await bodyText(response), 'from b');
      assert.equal(ex.info.attemptCount, 2);
    });

    it('retries a refused connection under connect-failure, and flags URX with UF when every try fails', async () => {
      const dead = hostAt(await deadPort());
      const recovered = exchange(forwardTo('reviews', { retry: { retryOn: new Set(['connect-failure']), numRetries: 1, avoidPreviousHosts: true } }));
      const handle = router(clusterManager(cluster('reviews', [dead, b.host]), cluster('dead', [dead])));
      assert.equal(await bodyText(await handle(recovered)), 'ok');
      assert.equal(recovered.info.attemptCount, 2);

      const failed = exchange(forwardTo('dead', { retry: { retryOn: new Set(['connect-failure']), numRetries: 1 } }));
      const response = await handle(failed);
      assert.equal(response.status, 503);
      assert.equal(await bodyText(response), 'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection failure');
      assert.deepEqual(new Set(failed.info.responseFlags), new Set(['URX', 'UF']));
    });

    it('retries a trailers-only gRPC unavailable under the gRPC condition', async () => {
      a.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '14' }).end();
      b.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '0' }).end();
      const ex = exchange(
        forwardTo('grpc', { retry: { retryOn: new Set(['unavailable']), numRetries: 1, avoidPreviousHosts: true } }),
        { method: 'POST', headers: { 'content-type': 'application/grpc', 'content-length': '0' } },
      );
      const response = await router(clusterManager(cluster('grpc', [a.host, b.host])))(ex);
      assert.equal(response.headers['grpc-status'], '0');
      await bodyText(response);
      assert.equal(ex.info.attemptCount, 2);
    });

    it('gives up retrying when the retries circuit breaker is full, flagging UO', async () => {
      a.handler = (_req, res) => res.writeHead(503).end();
      const ex = exchange(forwardTo('reviews', { retry: { retryOn: new Set(['5xx']), numRetries: 3 } }));
      const response = await router(clusterManager(cluster('reviews', [a.host], new Limits({ retries: 0 }))))(ex);
      assert.equal(response.status, 503);
      await bodyText(response);
      assert.equal(ex.info.attemptCount, 1);
      assert.deepEqual([...ex.info.responseFlags], ['UO']);
    });

    it('does not retry once the body has outgrown the buffer', async () => {
      a.handler = (_req, res) => res.writeHead(503).end();
      const ex = exchange(
        forwardTo('reviews', { retry: { retryOn: new Set(['5xx']), numRetries: 2 } }),
        { method: 'POST', headers: { 'content-length': '4096' } },
        Readable.from([Buffer.alloc(4096)]),
      );
      const response = await router(clusterManager(cluster('reviews', [a.host, b.host])), { bufferLimitBytes: 1024 })(ex);
      assert.equal(response.status, 503);
      await bodyText(response);
      assert.equal(ex.info.attemptCount, 1);
      assert.equal(a.requests[0]!.body.length, 4096, 'the first try still got the whole body');
    });
  });

  describe('mirroring', () => {
    it('sends a copy to the mirror cluster with a -shadow host, never changing the response', async () => {
      a.handler = (_req, res) => res.end('primary');
      b.handler = (_req, res) => res.writeHead(500).end('mirror failed');
      const ex = exchange(
        forwardTo('reviews', { mirrors: [{ cluster: 'mirror', fraction: 1 }] }),
        { method: 'POST', headers: { 'content-length': '4' } },
        Readable.from([Buffer.from('data')]),
      );
      const handle = router(clusterManager(cluster('reviews', [a.host]), cluster('mirror', [b.host])));
      const response = await handle(ex);
      assert.equal(response.status, 200);
      assert.equal(await bodyText(response), 'primary');
      await waitFor(() => b.requests.length === 1);
      assert.equal(b.requests[0]!.headers.host, 'reviews-shadow:9080');
      assert.equal(b.requests[0]!.body.toString(), 'data');
      assert.equal(a.requests[0]!.headers.host, 'reviews:9080');
    });

    it('keeps answering when the mirror cannot be reached, and skips a mirror whose fraction misses', async () => {
      const dead = hostAt(await deadPort());
      const handle = router(clusterManager(cluster('reviews', [a.host]), cluster('mirror', [dead]), cluster('never', [b.host])));
      const response = await handle(exchange(forwardTo('reviews', { mirrors: [{ cluster: 'mirror', fraction: 1 }, { cluster: 'never', fraction: 0 }] })));
      assert.equal(response.status, 200);
      assert.equal(await bodyText(response), 'ok');
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(b.requests.length, 0);
    });
  });
});

describe('RouterFilterFactory over HTTP/2', { timeout: 20_000 }, () => {
  let server: http2.Http2Server;
  let host: UpstreamHost;
  let pools: UpstreamPools;
  const sessions = new Set<http2.ServerHttp2Session>();

  before(async () => {
    server = http2.createServer();
    server.on('session', (session) => {
      sessions.add(session);
      session.on('close', () => sessions.delete(session));
    });
    server.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      if (headers[':path'] === '/helloworld.Greeter/SayHello') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'OK' }));
        stream.end(Buffer.from([0, 0, 0, 0, 2, 8, 1]));
        return;
      }
      stream.respond({ ':status': 200, 'x-authority': String(headers[':authority']), 'x-timeout': String(headers['grpc-timeout'] ?? '') });
      stream.end('h2');
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    host = hostAt((server.address() as AddressInfo).port);
  });

  after(async () => {
    pools.close();
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  function router(clusters: ClusterManager) {
    pools ??= new UpstreamPools({ timers: realTimers, stats: nullStats });
    const factory = new RouterFilterFactory({ pools, timers: realTimers });
    const filter = factory.create({ suppressEnvoyHeaders: false }, { clusters, stats: nullStats, httpStats: nullStats, clock: { now: () => Date.now() }, random: Math.random, logger: silent });
    return (ex: HttpExchange) => filter.handle(ex, () => Promise.reject(new Error('terminal')));
  }

  it('forwards over h2c to an http2 cluster', async () => {
    const response = await router(clusterManager(cluster('h2', [host], new Limits(), 'http2')))(exchange(forwardTo('h2')));
    assert.equal(await bodyText(response), 'h2');
    assert.equal(response.headers['x-authority'], 'reviews:9080');
  });

  it('keeps a gRPC call\'s trailers, and caps its grpc-timeout by maxGrpcTimeout', async () => {
    const grpcHeaders: Headers = { 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '10S' };
    const ex = exchange(
      forwardTo('grpc', { maxGrpcTimeoutMs: 2000 }),
      { method: 'POST', path: '/helloworld.Greeter/SayHello', headers: grpcHeaders, protocol: 'HTTP/2' },
      Readable.from([Buffer.from([0, 0, 0, 0, 0])]),
    );
    const response = await router(clusterManager(cluster('grpc', [host], new Limits(), 'downstream')))(ex);
    assert.equal(response.status, 200);
    await bodyText(response);
    assert.deepEqual(await response.trailers, { 'grpc-status': '0', 'grpc-message': 'OK' });

    const timed = await router(clusterManager(cluster('grpc', [host], new Limits(), 'http2')))(exchange(
      forwardTo('grpc', { maxGrpcTimeoutMs: 2000 }),
      { method: 'POST', path: '/other', headers: grpcHeaders, protocol: 'HTTP/2' },
      Readable.from([]),
    ));
    await bodyText(timed);
    assert.equal(timed.headers['x-timeout'], '2000m');
  });
});
