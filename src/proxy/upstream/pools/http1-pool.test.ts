import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import type { Timers } from '../../../core/index.ts';
import type { RequestHead } from '../../http/request-head.ts';
import type { UpstreamResult } from './connection-pool.ts';
import { Http1ConnectionPool } from './http1-pool.ts';
import type { PoolSettings } from './pool-settings.ts';
import { poolStats } from './pool-stats.ts';
import { clusterWith, hostAt, Limits, ManualTimers, nullStats, realTimers, waitFor } from './pool-test-support.ts';

const SETTINGS: PoolSettings = { connectTimeoutMs: 1000, idleTimeoutMs: 60_000, maxRequestsPerConnection: Infinity, maxConcurrentStreams: Infinity, maxConnectionDurationMs: 0, keepalive: undefined };

function head(path = '/', method = 'GET', headers: Record<string, string> = {}): RequestHead {
  return { method, path, authority: 'svc.local', scheme: 'http', headers, protocol: 'HTTP/1.1' };
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

describe('Http1ConnectionPool', { timeout: 20_000 }, () => {
  let server: http.Server;
  let port: number;
  const sockets = new Set<Socket>();
  let connections = 0;
  let hold: (() => void)[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      if (url === '/reset') {
        req.socket.destroy();
        return;
      }
      if (url === '/hold') {
        hold.push(() => res.end('held'));
        return;
      }
      if (url === '/trailers') {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
        res.write('body');
        res.addTrailers({ 'x-checksum': 'abc' });
        res.end();
        return;
      }
      if (url === '/echo') {
        let size = 0;
        req.on('data', (chunk: Buffer) => (size += chunk.length));
        req.on('end', () => res.end(JSON.stringify({ size, te: req.headers['transfer-encoding'] ?? null, length: req.headers['content-length'] ?? null })));
        return;
      }
      res.end(JSON.stringify({ host: req.headers.host, connection: req.headers.connection ?? null }));
    });
    server.on('connection', (socket: Socket) => {
      connections++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  function pool(limits = new Limits(), settings: Partial<PoolSettings> = {}, timers: Timers = realTimers): Http1ConnectionPool {
    return new Http1ConnectionPool({ cluster: clusterWith(limits), host: hostAt(port), settings: { ...SETTINGS, ...settings }, timers, stats: poolStats(nullStats) });
  }

  it('sends the authority as Host and reuses one keep-alive connection for sequential requests', async () => {
    const p = pool();
    const before = connections;
    for (let i = 0; i < 3; i++) {
      const response = ok(await p.request(head(), null, { signal: noSignal() }));
      assert.equal(response.status, 200);
      assert.deepEqual(JSON.parse(await text(response.body)), { host: 'svc.local', connection: 'keep-alive' });
      assert.equal(response.headers['connection'], undefined, 'hop-by-hop headers are removed');
    }
    assert.equal(connections - before, 1);
    p.close();
  });

  it('opens a new connection after maxRequestsPerConnection requests', async () => {
    const p = pool(new Limits(), { maxRequestsPerConnection: 2 });
    const before = connections;
    for (let i = 0; i < 4; i++) await text(ok(await p.request(head(), null, { signal: noSignal() })).body);
    assert.equal(connections - before, 2);
    p.close();
  });

  it('turns TCP keepalive on with the cluster\'s idle time before probes (the kernel\'s keepalive timer on the connection)', async (t) => {
    if (!existsSync('/proc/net/tcp')) {
      t.skip('no /proc/net/tcp here to read the connection\'s timers');
      return;
    }
    const p = pool(new Limits(), { keepalive: { initialDelayMs: 7_000, intervalMs: 3_000, probes: 4 } });
    await text(ok(await p.request(head(), null, { signal: noSignal() })).body);
    // /proc/net/tcp: `local rem st tx:rx tr:when ...`; timer 02 is keepalive, `when` in clock ticks (100 a second).
    const remote = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    const line = readFileSync('/proc/net/tcp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[2]?.endsWith(remote) === true && f[3] === '01');
    assert.ok(line !== undefined, 'the pool\'s connection is in /proc/net/tcp');
    const [timer, when] = line[5]!.split(':');
    assert.equal(timer, '02', `a keepalive timer runs (${line.join(' ')})`);
    const seconds = parseInt(when!, 16) / 100;
    assert.ok(seconds > 5 && seconds <= 7, `it counts down from 7 s (${seconds} s left)`);
    p.close();
  });

  it('replaces a connection older than maxConnectionDuration: a busy one after its request, a free one at once', async () => {
    const timers = new ManualTimers();
    const p = pool(new Limits(), { maxConnectionDurationMs: 10_000 }, timers);
    const before = connections;
    await text(ok(await p.request(head(), null, { signal: noSignal() })).body);
    const held = p.request(head('/hold'), null, { signal: noSignal() });
    await waitFor(() => hold.length === 1);
    timers.fire(10_000);
    hold.shift()!();
    await text(ok(await held).body);
    await text(ok(await p.request(head(), null, { signal: noSignal() })).body);
    assert.equal(connections - before, 2, 'the expired connection was not used again');
    await waitFor(() => timers.pending.size > 0 && [...timers.pending.values()].some((t) => t.ms === 10_000));
    timers.fire(10_000);
    await waitFor(() => p.isIdle());
    p.close();
  });

  it('closes a connection left idle for the idle timeout', async () => {
    const timers = new ManualTimers();
    const limits = new Limits();
    const p = pool(limits, { idleTimeoutMs: 5000 }, timers);
    await text(ok(await p.request(head(), null, { signal: noSignal() })).body);
    await waitFor(() => timers.pending.size > 0 && [...timers.pending.values()].some((t) => t.ms === 5000));
    timers.fire(5000);
    await waitFor(() => limits.used.connections === 0);
    assert.equal(p.isIdle(), true);
    p.close();
  });

  it('holds the requests and connections circuit-breaker slots only while they are used', async () => {
    const limits = new Limits();
    const p = pool(limits);
    const response = ok(await p.request(head(), null, { signal: noSignal() }));
    assert.equal(limits.used.requests, 1);
    assert.equal(limits.used.connections, 1);
    await text(response.body);
    await waitFor(() => limits.used.requests === 0);
    assert.equal(limits.used.pendingRequests, 0);
    p.close();
    await waitFor(() => limits.used.connections === 0);
  });

  it('answers overflow at once when the requests circuit breaker is full', async () => {
    hold = [];
    const p = pool(new Limits({ requests: 1 }));
    const first = p.request(head('/hold'), null, { signal: noSignal() });
    assert.deepEqual(failure(await p.request(head(), null, { signal: noSignal() })), { kind: 'overflow' });
    await waitFor(() => hold.length === 1);
    hold.shift()!();
    await text(ok(await first).body);
    p.close();
  });

  it('queues a request as pending while the only allowed connection is busy, and overflows beyond maxPendingRequests', async () => {
    hold = [];
    const limits = new Limits({ connections: 1, pendingRequests: 1 });
    const p = pool(limits);
    const before = connections;
    const first = p.request(head('/hold'), null, { signal: noSignal() });
    await waitFor(() => hold.length === 1);
    const second = p.request(head('/'), null, { signal: noSignal() });
    assert.equal(limits.used.pendingRequests, 1);
    assert.deepEqual(failure(await p.request(head(), null, { signal: noSignal() })), { kind: 'overflow' });
    hold.shift()!();
    assert.equal(await text(ok(await first).body), 'held');
    assert.equal(ok(await second).status, 200);
    assert.equal(connections - before, 1, 'the queued request used the freed connection');
    assert.equal(limits.used.pendingRequests, 0);
    p.close();
  });

  it('reports a refused connection as a connect failure', async () => {
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await new Promise((resolve) => closed.once('listening', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const limits = new Limits();
    const p = new Http1ConnectionPool({ cluster: clusterWith(limits), host: hostAt(deadPort), settings: SETTINGS, timers: realTimers, stats: poolStats(nullStats) });
    assert.equal(failure(await p.request(head(), null, { signal: noSignal() })).kind, 'connect-failure');
    await waitFor(() => limits.used.connections === 0 && limits.used.requests === 0 && limits.used.pendingRequests === 0);
    p.close();
  });

  it('reports a connection not established within the connect timeout as a connect timeout', async () => {
    const timers = new ManualTimers();
    const p = pool(new Limits(), { connectTimeoutMs: 250 }, timers);
    const result = p.request(head(), null, { signal: noSignal() });
    timers.fire(250);
    assert.deepEqual(failure(await result), { kind: 'connect-timeout' });
    p.close();
  });

  it('reports a connection closed before the response as a local (not remote) reset after the request was sent', async () => {
    const p = pool();
    const error = failure(await p.request(head('/reset'), null, { signal: noSignal() }));
    assert.equal(error.kind, 'reset');
    assert.equal(error.kind === 'reset' && error.remote, false);
    assert.equal(error.kind === 'reset' && error.requestSent, true);
    p.close();
  });

  it('keeps the response trailers', async () => {
    const p = pool();
    const response = ok(await p.request(head('/trailers'), null, { signal: noSignal() }));
    assert.equal(await text(response.body), 'body');
    assert.deepEqual(await response.trailers, { 'x-checksum': 'abc' });
    p.close();
  });

  it('streams a request body of unknown length chunked, even on GET', async () => {
    const p = pool();
    const body = Readable.from([Buffer.alloc(1000, 1), Buffer.alloc(2000, 2)]);
    const response = ok(await p.request(head('/echo', 'GET'), body, { signal: noSignal() }));
    assert.deepEqual(JSON.parse(await text(response.body)), { size: 3000, te: 'chunked', length: null });
    p.close();
  });

  it('sends a complete body with its content-length', async () => {
    const p = pool();
    const response = ok(await p.request(head('/echo', 'POST'), Buffer.from('hello'), { signal: noSignal() }));
    assert.deepEqual(JSON.parse(await text(response.body)), { size: 5, te: null, length: '5' });
    p.close();
  });

  it('fails with aborted when the signal fires before the response, giving its slots back', async () => {
    hold = [];
    const limits = new Limits();
    const p = pool(limits);
    const controller = new AbortController();
    const result = p.request(head('/hold'), null, { signal: controller.signal });
    await waitFor(() => hold.length === 1);
    controller.abort();
    assert.deepEqual(failure(await result), { kind: 'aborted' });
    assert.equal(limits.used.requests, 0);
    hold = [];
    p.close();
  });
});
