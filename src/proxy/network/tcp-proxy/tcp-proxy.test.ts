import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import type { Timers } from '../../../core/index.ts';
import {
  closeServer, echoServer, eventually, listen, readAll, systemTimers, testCluster, testClusters, testDeps, withTimeout, type TestDeps,
} from '../../listener/test-support.ts';
import type { UpstreamCluster } from '../../upstream/cluster.ts';
import type { DownstreamConnection } from '../network-filter.ts';
import { TcpProxyFactory } from './tcp-proxy-factory.ts';
import type { TcpProxyFilter } from './tcp-proxy-filter.ts';

const servers: Server[] = [];
after(async () => {
  await Promise.all(servers.map((s) => closeServer(s)));
});

async function upstream(server: Server = echoServer()): Promise<{ address: string; port: number }> {
  servers.push(server);
  return { address: '127.0.0.1', port: await listen(server) };
}

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}

interface Proxy {
  readonly port: number;
  readonly deps: TestDeps;
  readonly filter: TcpProxyFilter;
}

/** A front server on 127.0.0.1 handing each connection to a tcp_proxy filter made from `config`. */
async function proxy(config: Record<string, unknown>, clusters: UpstreamCluster[], options: { random?: () => number; timers?: Timers } = {}): Promise<Proxy> {
  const factory = new TcpProxyFactory({ timers: options.timers ?? systemTimers });
  const parsed = factory.parse({ '@type': factory.typeUrl, statPrefix: 'test', ...config });
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  const deps = testDeps(testClusters(...clusters), options.random);
  const filter = factory.create(parsed.value, deps) as TcpProxyFilter;
  let ids = 0;
  const front = createServer({ allowHalfOpen: true }, (socket) => filter.onConnection(downstreamConnection(socket, ++ids)));
  servers.push(front);
  return { port: await listen(front), deps, filter };
}

function downstreamConnection(socket: Socket, connectionId: number): DownstreamConnection {
  return {
    socket,
    downstream: { connectionId, remoteAddress: socket.remoteAddress!, remotePort: socket.remotePort!, localAddress: socket.localAddress!, localPort: socket.localPort! },
    originalDestination: { address: '127.0.0.1', port: socket.localPort! },
    listenerName: 'test-listener',
    sniffed: { transportProtocol: 'raw_buffer', applicationProtocols: [] },
  };
}

async function client(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await once(socket, 'connect');
  return socket;
}

describe('tcp_proxy', () => {
  it('copies bytes both ways and passes on a half-close: the client ends its writes and still receives what the upstream sends after', async () => {
    const echo = await upstream(echoServer({ greeting: 'hi:', trailer: ':bye' }));
    const { port, deps } = await proxy({ cluster: 'echo' }, [testCluster('echo', [echo])]);
    const socket = await client(port);
    socket.end('hello');
    assert.equal(await readAll(socket), 'hi:hello:bye');

    const [entry] = await deps.accessLog.waitFor(1);
    assert.equal(entry?.kind, 'tcp');
    assert.equal(entry?.listenerName, 'test-listener');
    assert.equal(entry?.info.upstreamCluster, 'echo');
    assert.equal(entry?.info.upstreamHost, `127.0.0.1:${echo.port}`);
    assert.deepEqual([...entry!.info.responseFlags], []);
    assert.equal(entry?.info.bytesReceived, 5);
    assert.equal(entry?.info.bytesSent, 12);
    assert.equal(entry?.info.attemptCount, 1);
    assert.equal(deps.stats.get('tcp.test.downstream_cx_total'), 1);
    assert.equal(deps.stats.get('tcp.test.downstream_cx_rx_bytes_total'), 5);
    assert.equal(deps.stats.get('cluster.echo.upstream_cx_total'), 1);
    assert.equal(deps.stats.get('cluster.echo.upstream_cx_active'), 0);
  });

  it('keeps carrying the client\'s bytes after the upstream ended its writes', async () => {
    const received: string[] = [];
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      socket.end('banner');
      socket.on('data', (chunk) => received.push(String(chunk)));
    });
    const banner = await upstream(server);
    const { port, deps } = await proxy({ cluster: 'banner' }, [testCluster('banner', [banner])]);
    const socket = await client(port);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    await withTimeout(once(socket, 'end'), 3000, 'no end from upstream');
    assert.equal(Buffer.concat(chunks).toString(), 'banner');
    socket.end('late bytes');
    await eventually(() => received.join('') === 'late bytes', 3000, 'the upstream did not get the bytes written after its end');
    const [entry] = await deps.accessLog.waitFor(1);
    assert.equal(entry?.info.bytesReceived, 10);
  });

  it('carries a large transfer with backpressure intact', async () => {
    const echo = await upstream();
    const { port } = await proxy({ cluster: 'echo' }, [testCluster('echo', [echo])]);
    const socket = await client(port);
    const payload = Buffer.alloc(8 * 1024 * 1024, 'x');
    const reading = readAll(socket, 10_000);
    socket.end(payload);
    assert.equal((await reading).length, payload.length);
  });

  it('chooses among weighted clusters with the injected random', async () => {
    const a = await upstream(echoServer({ greeting: 'a' }));
    const b = await upstream(echoServer({ greeting: 'b' }));
    const draws = [0.2, 0.5, 0.29, 0.31];
    const { port } = await proxy(
      { weightedClusters: { clusters: [{ name: 'a', weight: 30 }, { name: 'b', weight: 70 }] } },
      [testCluster('a', [a]), testCluster('b', [b])],
      { random: () => draws.shift()! },
    );
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const socket = await client(port);
      socket.end();
      seen.push(await readAll(socket));
    }
    assert.deepEqual(seen, ['a', 'b', 'a', 'b']);
  });

  it('closes a connection idle for idleTimeout, flagged UT', async () => {
    const echo = await upstream();
    const { port, deps } = await proxy({ cluster: 'echo', idleTimeout: '0.15s' }, [testCluster('echo', [echo])]);
    const socket = await client(port);
    socket.write('ping');
    const started = Date.now();
    assert.equal(await readAll(socket), 'ping');
    assert.ok(Date.now() - started >= 100, 'closed before the idle timeout');
    const [entry] = await deps.accessLog.waitFor(1);
    assert.deepEqual([...entry!.info.responseFlags], ['UT']);
    assert.equal(deps.stats.get('tcp.test.idle_timeout'), 1);
  });

  it('closes the downstream when the upstream refuses, flagged UF, after maxConnectAttempts', async () => {
    const dead = { address: '127.0.0.1', port: await deadPort() };
    const { port, deps } = await proxy({ cluster: 'down', maxConnectAttempts: 2 }, [testCluster('down', [dead, dead])]);
    const socket = await client(port);
    socket.on('error', () => {});
    assert.equal(await readAll(socket), '');
    const [entry] = await deps.accessLog.waitFor(1);
    assert.deepEqual([...entry!.info.responseFlags], ['UF']);
    assert.equal(entry?.info.attemptCount, 2);
    assert.equal(deps.stats.get('cluster.down.upstream_cx_connect_fail'), 2);
  });

  it('tries another host when a connect attempt fails and attempts remain', async () => {
    const dead = { address: '127.0.0.1', port: await deadPort() };
    const echo = await upstream(echoServer({ greeting: 'alive' }));
    const { port, deps } = await proxy({ cluster: 'mixed', maxConnectAttempts: 2 }, [testCluster('mixed', [dead, echo])]);
    const socket = await client(port);
    socket.end();
    assert.equal(await readAll(socket), 'alive');
    const [entry] = await deps.accessLog.waitFor(1);
    assert.equal(entry?.info.attemptCount, 2);
    assert.equal(entry?.info.upstreamHost, `127.0.0.1:${echo.port}`);
    assert.deepEqual([...entry!.info.responseFlags], []);
  });

  it('gives up on a connect that outlasts the cluster\'s connect timeout, flagged UF', async () => {
    const echo = await upstream();
    // Timers the test fires by hand: the connect timeout runs before the loopback connect completes.
    const callbacks: (() => void)[] = [];
    const timers: Timers = { setTimeout: (callback) => callbacks.push(callback), clearTimeout: () => {} };
    const factory = new TcpProxyFactory({ timers });
    const parsed = factory.parse({ statPrefix: 's', cluster: 'slow', idleTimeout: '0s' });
    assert.ok(parsed.ok);
    const deps = testDeps(testClusters(testCluster('slow', [echo], { connectTimeoutMs: 5 })));
    const filter = factory.create(parsed.value, deps);
    const front = createServer({ allowHalfOpen: true }, (socket) => {
      filter.onConnection(downstreamConnection(socket, 1));
      for (const fire of callbacks.splice(0)) fire();
    });
    servers.push(front);
    const socket = await client(await listen(front));
    assert.equal(await readAll(socket), '');
    const [entry] = await deps.accessLog.waitFor(1);
    assert.deepEqual([...entry!.info.responseFlags], ['UF']);
    assert.equal(deps.stats.get('cluster.slow.upstream_cx_connect_timeout'), 1);
  });

  it('closes the connection when the cluster is unknown (NC), has no host (UH) or is at its connection limit (UO)', async () => {
    const echo = await upstream();
    const limited = testCluster('limited', [echo], { maxConnections: 1 });
    const empty = testCluster('empty', []);
    const cases: [string, string][] = [['missing', 'NC'], ['empty', 'UH']];
    for (const [cluster, flag] of cases) {
      const { port, deps } = await proxy({ cluster }, [empty]);
      const socket = await client(port);
      assert.equal(await readAll(socket), '');
      const [entry] = await deps.accessLog.waitFor(1);
      assert.deepEqual([...entry!.info.responseFlags], [flag], cluster);
    }
    const { port, deps } = await proxy({ cluster: 'limited' }, [limited]);
    const first = await client(port);
    first.write('x');
    await withTimeout(once(first, 'data'), 3000, 'no echo');
    const second = await client(port);
    assert.equal(await readAll(second), '');
    const [entry] = await deps.accessLog.waitFor(1);
    assert.deepEqual([...entry!.info.responseFlags], ['UO']);
    assert.equal(deps.stats.get('cluster.limited.upstream_cx_overflow'), 1);
    first.end();
    await readAll(first);
    await eventually(() => limited.connections === 0, 3000, 'the connection slot was not given back');
  });

  it('connects ORIGINAL_DST clusters to the connection\'s original destination', async () => {
    const echo = await upstream(echoServer({ greeting: 'original' }));
    const passthrough = testCluster('PassthroughCluster', [], { type: 'ORIGINAL_DST' });
    const factory = new TcpProxyFactory({ timers: systemTimers });
    const parsed = factory.parse({ statPrefix: 'PassthroughCluster', cluster: 'PassthroughCluster' });
    assert.ok(parsed.ok);
    const deps = testDeps(testClusters(passthrough));
    const filter = factory.create(parsed.value, deps);
    const front = createServer({ allowHalfOpen: true }, (socket) => {
      filter.onConnection({ ...downstreamConnection(socket, 1), originalDestination: echo });
    });
    servers.push(front);
    const socket = await client(await listen(front));
    socket.end();
    assert.equal(await readAll(socket), 'original');
  });

  it('closes a connection at maxDownstreamConnectionDuration, flagged DT', async () => {
    const echo = await upstream();
    const { port, deps } = await proxy({ cluster: 'echo', maxDownstreamConnectionDuration: '0.1s' }, [testCluster('echo', [echo])]);
    const socket = await client(port);
    assert.equal(await readAll(socket), '');
    const [entry] = await deps.accessLog.waitFor(1);
    assert.deepEqual([...entry!.info.responseFlags], ['DT']);
  });

  it('ends every connection on close()', async () => {
    const echo = await upstream();
    const { port, filter, deps } = await proxy({ cluster: 'echo' }, [testCluster('echo', [echo])]);
    const socket = await client(port);
    socket.write('x');
    await withTimeout(once(socket, 'data'), 3000, 'no echo');
    filter.close();
    await readAll(socket);
    await deps.accessLog.waitFor(1);
  });
});
