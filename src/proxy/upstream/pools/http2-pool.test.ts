import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import type { RequestHead } from '../../http/request-head.ts';
import type { UpstreamResult } from './connection-pool.ts';
import { Http2ConnectionPool } from './http2-pool.ts';
import type { PoolSettings } from './pool-settings.ts';
import { poolStats } from './pool-stats.ts';
import { clusterWith, hostAt, Limits, nullStats, realTimers, waitFor } from './pool-test-support.ts';

const SETTINGS: PoolSettings = { connectTimeoutMs: 1000, idleTimeoutMs: 60_000, maxRequestsPerConnection: Infinity, maxConcurrentStreams: Infinity, maxConnectionDurationMs: 0, keepalive: undefined };

function head(path: string, headers: Record<string, string> = {}, method = 'GET'): RequestHead {
  return { method, path, authority: 'grpc.local', scheme: 'http', headers, protocol: 'HTTP/2' };
}

const noSignal = (): AbortSignal => new AbortController().signal;

function ok(result: UpstreamResult): Extract<UpstreamResult, { ok: true }>['value'] {
  if (!result.ok) assert.fail(`expected a response, got ${JSON.stringify(result.error)}`);
  return result.value;
}

function failure(result: UpstreamResult): Extract<UpstreamResult, { ok: false }>['error'] {
  if (result.ok) assert.fail(`expected a failure, got status ${result.value.status}`);
  return result.error;
}

interface Upstream {
  readonly server: http2.Http2Server;
  readonly port: number;
  readonly sessions: Set<http2.ServerHttp2Session>;
  /** Streams waiting on `/hold`, answered by the test. */
  readonly held: http2.ServerHttp2Stream[];
}

async function startUpstream(settings: http2.Settings = {}): Promise<Upstream> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const held: http2.ServerHttp2Stream[] = [];
  const server = http2.createServer({ settings });
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    // Streams the test resets emit 'error'; that is what the test wants.
    stream.on('error', () => {});
    const path = headers[':path'];
    switch (path) {
      case '/grpc':
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }));
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
        return;
      case '/trailers-only':
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14' }, { endStream: true });
        return;
      case '/refuse':
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      case '/rst':
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      case '/hold':
        held.push(stream);
        return;
      case '/echo': {
        let size = 0;
        stream.on('data', (chunk: Buffer) => (size += chunk.length));
        stream.on('end', () => {
          stream.respond({ ':status': 200 });
          stream.end(JSON.stringify({ size, te: headers['te'] ?? null, authority: headers[':authority'] }));
        });
        return;
      }
      default:
        stream.respond({ ':status': 200, connection: undefined });
        stream.end(`session ${[...sessions].indexOf(stream.session as http2.ServerHttp2Session)}`);
    }
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, port: (server.address() as AddressInfo).port, sessions, held };
}

async function stopUpstream(upstream: Upstream): Promise<void> {
  for (const session of upstream.sessions) session.destroy();
  await new Promise((resolve) => upstream.server.close(resolve));
}

describe('Http2ConnectionPool', { timeout: 20_000 }, () => {
  let upstream: Upstream;

  before(async () => {
    upstream = await startUpstream();
  });

  after(async () => {
    await stopUpstream(upstream);
  });

  function pool(limits = new Limits(), settings: Partial<PoolSettings> = {}, port = upstream.port): Http2ConnectionPool {
    return new Http2ConnectionPool({ cluster: clusterWith(limits, { upstreamProtocol: 'http2' }), host: hostAt(port), settings: { ...SETTINGS, ...settings }, timers: realTimers, stats: poolStats(nullStats) });
  }

  it('multiplexes concurrent requests over one session', async () => {
    const limits = new Limits();
    const p = pool(limits);
    const responses = await Promise.all([1, 2, 3, 4].map(() => p.request(head('/'), null, { signal: noSignal() })));
    const bodies = await Promise.all(responses.map((r) => text(ok(r).body)));
    assert.equal(new Set(bodies).size, 1);
    assert.equal(limits.used.connections, 1);
    p.close();
  });

  it('keeps a gRPC response\'s trailers and the te: trailers request header', async () => {
    const p = pool();
    const response = ok(await p.request(head('/grpc', { 'content-type': 'application/grpc', te: 'trailers' }, 'POST'), Buffer.alloc(5), { signal: noSignal() }));
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/grpc');
    assert.equal(response.headers[':status'], undefined, 'pseudo-headers are removed');
    assert.equal((await response.body.toArray()).length > 0, true);
    assert.deepEqual(await response.trailers, { 'grpc-status': '0', 'grpc-message': 'ok' });
    p.close();
  });

  it('gives a trailers-only response its grpc-status in the headers', async () => {
    const p = pool();
    const response = ok(await p.request(head('/trailers-only'), null, { signal: noSignal() }));
    assert.equal(response.headers['grpc-status'], '14');
    await text(response.body);
    p.close();
  });

  it('streams a request body and drops connection-specific headers', async () => {
    const p = pool();
    const body = Readable.from([Buffer.alloc(70_000, 1), Buffer.alloc(30_000, 2)]);
    const response = ok(await p.request(head('/echo', { connection: 'keep-alive', 'keep-alive': 'timeout=5', host: 'ignored' }, 'POST'), body, { signal: noSignal() }));
    assert.deepEqual(JSON.parse(await text(response.body)), { size: 100_000, te: null, authority: 'grpc.local' });
    p.close();
  });

  it('reports REFUSED_STREAM as a refused stream', async () => {
    const p = pool();
    assert.deepEqual(failure(await p.request(head('/refuse'), null, { signal: noSignal() })), { kind: 'refused-stream' });
    p.close();
  });

  it('reports another RST_STREAM as a remote reset', async () => {
    const p = pool();
    const error = failure(await p.request(head('/rst'), null, { signal: noSignal() }));
    assert.equal(error.kind, 'reset');
    assert.equal(error.kind === 'reset' && error.remote, true);
    p.close();
  });

  it('opens another connection when every one is at the upstream\'s stream limit', async () => {
    const narrow = await startUpstream({ maxConcurrentStreams: 1 });
    const limits = new Limits();
    const p = pool(limits, {}, narrow.port);
    const first = p.request(head('/hold'), null, { signal: noSignal() });
    await waitFor(() => narrow.held.length === 1);
    const second = p.request(head('/hold'), null, { signal: noSignal() });
    await waitFor(() => narrow.held.length === 2);
    assert.equal(limits.used.connections, 2);
    assert.equal(limits.used.pendingRequests, 0);
    for (const stream of narrow.held.splice(0)) {
      stream.respond({ ':status': 200 });
      stream.end('held');
    }
    assert.equal(ok(await first).status, 200);
    assert.equal(ok(await second).status, 200);
    p.close();
    await stopUpstream(narrow);
  });

  it('waits for a free stream when the connections circuit breaker allows no other connection', async () => {
    const narrow = await startUpstream({ maxConcurrentStreams: 1 });
    const limits = new Limits({ connections: 1 });
    const p = pool(limits, {}, narrow.port);
    const first = p.request(head('/hold'), null, { signal: noSignal() });
    await waitFor(() => narrow.held.length === 1);
    const second = p.request(head('/'), null, { signal: noSignal() });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(limits.used.pendingRequests, 1, 'the second request waits for the stream');
    const stream = narrow.held.shift()!;
    stream.respond({ ':status': 200 });
    stream.end('first');
    assert.equal(await text(ok(await first).body), 'first');
    assert.equal(ok(await second).status, 200);
    assert.equal(limits.used.connections, 1);
    p.close();
    await stopUpstream(narrow);
  });

  it('opens a new session after the upstream sends GOAWAY', async () => {
    const own = await startUpstream();
    const limits = new Limits();
    const p = pool(limits, {}, own.port);
    assert.equal(await text(ok(await p.request(head('/'), null, { signal: noSignal() })).body), 'session 0');
    const [session] = own.sessions;
    session!.goaway(http2.constants.NGHTTP2_NO_ERROR);
    await waitFor(() => p.isIdle());
    assert.equal(limits.used.connections, 0, 'the retired session closed');
    const response = ok(await p.request(head('/'), null, { signal: noSignal() }));
    assert.equal(response.status, 200);
    await text(response.body);
    p.close();
    await stopUpstream(own);
  });

  it('takes no new stream on a session older than maxConnectionDuration, and closes it when its streams end', async () => {
    const own = await startUpstream();
    const limits = new Limits();
    const p = new Http2ConnectionPool({
      cluster: clusterWith(limits, { upstreamProtocol: 'http2' }), host: hostAt(own.port), settings: { ...SETTINGS, maxConnectionDurationMs: 100 }, timers: realTimers, stats: poolStats(nullStats),
    });
    const held = p.request(head('/hold'), null, { signal: noSignal() });
    await waitFor(() => own.held.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const fresh = ok(await p.request(head('/'), null, { signal: noSignal() }));
    await text(fresh.body);
    assert.equal(limits.used.connections, 2, 'a second session for the new request; the old one still carries its stream');
    const stream = own.held.shift()!;
    stream.respond({ ':status': 200 });
    stream.end('held');
    assert.equal(await text(ok(await held).body), 'held');
    // Each session closes once it is past its time and its streams are done.
    await waitFor(() => limits.used.connections === 0);
    p.close();
    await stopUpstream(own);
  });

  it('replaces a session after maxRequestsPerConnection streams', async () => {
    const limits = new Limits();
    const p = pool(limits, { maxRequestsPerConnection: 2 });
    let opened = 0;
    const count = (): void => {
      opened++;
    };
    upstream.server.on('session', count);
    for (let i = 0; i < 4; i++) await text(ok(await p.request(head('/'), null, { signal: noSignal() })).body);
    upstream.server.off('session', count);
    assert.equal(opened, 2);
    p.close();
  });

  it('fails the waiting requests with a connect failure when the upstream refuses the connection', async () => {
    const dead = await startUpstream();
    const port = dead.port;
    await stopUpstream(dead);
    const limits = new Limits();
    const p = pool(limits, {}, port);
    const results = await Promise.all([p.request(head('/'), null, { signal: noSignal() }), p.request(head('/'), null, { signal: noSignal() })]);
    for (const result of results) assert.equal(failure(result).kind, 'connect-failure');
    await waitFor(() => limits.used.connections === 0 && limits.used.requests === 0 && limits.used.pendingRequests === 0);
    p.close();
  });

  it('answers overflow at once when the pendingRequests circuit breaker is full', async () => {
    const p = pool(new Limits({ pendingRequests: 0 }));
    // The first request waits for the session to connect, which needs a pending slot.
    assert.deepEqual(failure(await p.request(head('/'), null, { signal: noSignal() })), { kind: 'overflow' });
    p.close();
  });

  it('cancels the stream when the signal fires', async () => {
    const limits = new Limits();
    const p = pool(limits);
    const controller = new AbortController();
    const result = p.request(head('/hold'), null, { signal: controller.signal });
    await waitFor(() => upstream.held.length === 1);
    const held = upstream.held.shift()!;
    const cancelled = new Promise((resolve) => held.once('close', () => resolve(held.rstCode)));
    controller.abort();
    assert.deepEqual(failure(await result), { kind: 'aborted' });
    assert.equal(await cancelled, http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => limits.used.requests === 0);
    p.close();
  });
});
