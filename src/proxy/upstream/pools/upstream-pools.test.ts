import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import * as tls from 'node:tls';
import { text } from 'node:stream/consumers';
import { HTTP_PROTOCOL_OPTIONS_KEY, HTTP_PROTOCOL_OPTIONS_TYPE } from '../../../xds/envoy/index.ts';
import type { RequestHead } from '../../http/request-head.ts';
import type { UpstreamCluster, UpstreamHost } from '../cluster.ts';
import { InternalListeners } from '../internal-listeners.ts';
import { poolSettings } from './pool-settings.ts';
import { clusterWith, hostAt, Limits, ManualTimers, nullStats, realTimers, waitFor } from './pool-test-support.ts';
import { serverCredentials, SERVER_DNS_NAME, staticCluster, testdata, tlsSocket } from '../tls-test-support.ts';
import { UpstreamPools } from './upstream-pools.ts';

const HEAD: RequestHead = { method: 'GET', path: '/', authority: 'svc', scheme: 'http', headers: {}, protocol: 'HTTP/1.1' };

describe('UpstreamPools', { timeout: 20_000 }, () => {
  let server: http.Server;
  let port: number;
  const sockets = new Set<Socket>();

  before(async () => {
    server = http.createServer((_req, res) => res.end('ok'));
    server.on('connection', (socket: Socket) => {
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

  async function get(pools: UpstreamPools, cluster: UpstreamCluster): Promise<void> {
    const result = await pools.pool(cluster, hostAt(port), 'http1').request(HEAD, null, { signal: new AbortController().signal });
    if (!result.ok) assert.fail(result.error.kind);
    await text(result.value.body);
  }

  it('keeps one pool per cluster, host and protocol', () => {
    const pools = new UpstreamPools({ timers: realTimers, stats: nullStats });
    const cluster = clusterWith(new Limits());
    const host = hostAt(port);
    assert.equal(pools.pool(cluster, host, 'http1'), pools.pool(cluster, hostAt(port), 'http1'));
    assert.notEqual(pools.pool(cluster, host, 'http1'), pools.pool(cluster, host, 'http2'));
    assert.notEqual(pools.pool(cluster, host, 'http1'), pools.pool(cluster, hostAt(port + 1), 'http1'));
    pools.close();
  });

  it('gives a host new pools when EDS changes its metadata to pick another transport socket', () => {
    const pools = new UpstreamPools({ timers: realTimers, stats: nullStats });
    const cluster = clusterWith(new Limits(), {
      config: { name: 'c', transportSocketMatches: [{ name: 'tls', match: { tlsMode: 'istio' }, transportSocket: tlsSocket({ commonTlsContext: {} }) }] },
    });
    const plain = hostAt(port);
    const plainPool = pools.pool(cluster, plain, 'http1');
    const labelled = { ...hostAt(port), metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } };
    assert.notEqual(pools.pool(cluster, labelled, 'http1'), plainPool);
    assert.equal(pools.pool(cluster, labelled, 'http1'), pools.pool(cluster, labelled, 'http1'));
    pools.close();
  });

  it('keeps TLS pools per SNI when the cluster takes the SNI from the request (auto SNI)', () => {
    const pools = new UpstreamPools({ timers: realTimers, stats: nullStats });
    const cluster = clusterWith(new Limits(), {
      config: {
        name: 'c',
        transportSocket: tlsSocket({ commonTlsContext: {} }),
        typedExtensionProtocolOptions: { [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': HTTP_PROTOCOL_OPTIONS_TYPE, explicitHttpConfig: { httpProtocolOptions: {} }, upstreamHttpProtocolOptions: { autoSni: true } } },
      },
    });
    const host = hostAt(port);
    assert.equal(pools.pool(cluster, host, 'http1', 'a.example.com'), pools.pool(cluster, host, 'http1', 'a.example.com:443'));
    assert.notEqual(pools.pool(cluster, host, 'http1', 'a.example.com'), pools.pool(cluster, host, 'http1', 'b.example.com'));
    pools.close();
  });

  it('drains the pools of a cluster replaced by CDS, closing their idle connections', async () => {
    const pools = new UpstreamPools({ timers: realTimers, stats: nullStats });
    const oldLimits = new Limits();
    const old = clusterWith(oldLimits);
    await get(pools, old);
    const oldPool = pools.pool(old, hostAt(port), 'http1');
    assert.equal(oldLimits.used.connections, 1);
    const replacement = clusterWith(new Limits());
    assert.notEqual(pools.pool(replacement, hostAt(port), 'http1'), oldPool);
    await waitFor(() => oldLimits.used.connections === 0);
    assert.equal(oldPool.isIdle(), true);
    pools.close();
  });

  it('drains the pools of hosts an update removed', async () => {
    const pools = new UpstreamPools({ timers: realTimers, stats: nullStats });
    const limits = new Limits();
    const cluster = clusterWith(limits);
    await get(pools, cluster);
    pools.retainHosts('c', new Set(['10.0.0.1:80']));
    await waitFor(() => limits.used.connections === 0);
    pools.close();
  });

  it('sweeps the pools of clusters the cluster manager no longer has', async () => {
    const timers = new ManualTimers();
    const limits = new Limits();
    const cluster = clusterWith(limits);
    const known = new Map([['c', cluster]]);
    const pools = new UpstreamPools({ timers, stats: nullStats, clusters: { get: (name) => known.get(name), names: () => [...known.keys()] }, sweepIntervalMs: 1000 });
    await get(pools, cluster);
    timers.fire(1000);
    assert.equal(limits.used.connections, 1, 'a cluster still there keeps its connections');
    known.delete('c');
    timers.fire(1000);
    await waitFor(() => limits.used.connections === 0);
    pools.close();
    assert.equal(timers.pending.size, 0, 'close() stops the sweep');
  });
});

describe('poolSettings', { timeout: 20_000 }, () => {
  it('reads the idle timeout, requests per connection, connection duration and HTTP/2 streams from HttpProtocolOptions, and TCP keepalive (seconds) from the connection options', () => {
    const cluster = clusterWith(new Limits(), {
      connectTimeoutMs: 250,
      config: {
        name: 'c',
        typedExtensionProtocolOptions: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
            '@type': HTTP_PROTOCOL_OPTIONS_TYPE,
            commonHttpProtocolOptions: { idleTimeout: '30s', maxRequestsPerConnection: 100, maxConnectionDuration: '10s' },
            explicitHttpConfig: { http2ProtocolOptions: { maxConcurrentStreams: 50 } },
          },
        },
        upstreamConnectionOptions: { tcpKeepalive: { keepaliveTime: 300, keepaliveInterval: 75, keepaliveProbes: 9 } },
      },
    });
    assert.deepEqual(poolSettings(cluster), {
      connectTimeoutMs: 250, idleTimeoutMs: 30_000, maxRequestsPerConnection: 100, maxConcurrentStreams: 50, maxConnectionDurationMs: 10_000, keepalive: { initialDelayMs: 300_000, intervalMs: 75_000, probes: 9 },
    });
  });

  it('uses Envoy\'s defaults: a one-hour idle timeout and no other limit', () => {
    assert.deepEqual(poolSettings(clusterWith(new Limits())), { connectTimeoutMs: 1000, idleTimeoutMs: 3_600_000, maxRequestsPerConnection: Infinity, maxConcurrentStreams: Infinity, maxConnectionDurationMs: 0, keepalive: undefined });
  });
});

describe('UpstreamPools to internal listeners', { timeout: 20_000 }, () => {
  const internalHost: UpstreamHost = { ...hostAt(0, 'envoy://inner/'), id: 'envoy://inner/', internalListener: 'inner' };

  /** An HTTP/1.1 and HTTP/2 (prior knowledge) server behind the internal listener `inner`, counting its connections. */
  function innerServers(registry: InternalListeners): { connections: () => number; close(): void } {
    let connections = 0;
    const h1 = http.createServer((req, res) => res.end(`h1 ${req.url}`));
    const h2 = http2.createServer((req, res) => res.end(`h2 ${req.url}`));
    const accepted = new Set<Socket>();
    registry.register('inner', (socket) => {
      connections++;
      accepted.add(socket);
      socket.once('data', (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        (first.toString('latin1').startsWith('PRI * HTTP/2.0') ? h2 : h1).emit('connection', socket);
        socket.resume();
      });
    });
    return { connections: () => connections, close: () => accepted.forEach((s) => s.destroy()) };
  }

  async function answer(pools: UpstreamPools, cluster: UpstreamCluster, protocol: 'http1' | 'http2', path: string): Promise<string> {
    const result = await pools.pool(cluster, internalHost, protocol).request({ ...HEAD, path }, null, { signal: new AbortController().signal });
    if (!result.ok) assert.fail(result.error.kind);
    return text(result.value.body);
  }

  it('carries HTTP/1.1 and HTTP/2 requests in-process, reusing each connection', async () => {
    const registry = new InternalListeners();
    const servers = innerServers(registry);
    const pools = new UpstreamPools({ timers: realTimers, stats: nullStats, internalListeners: registry });
    const cluster = clusterWith(new Limits());
    try {
      assert.equal(await answer(pools, cluster, 'http1', '/a'), 'h1 /a');
      assert.equal(await answer(pools, cluster, 'http1', '/b'), 'h1 /b');
      assert.equal(await answer(pools, cluster, 'http2', '/c'), 'h2 /c');
      assert.equal(await answer(pools, cluster, 'http2', '/d'), 'h2 /d');
      assert.equal(servers.connections(), 2);
    } finally {
      pools.close();
      servers.close();
    }
  });

  it('secures an in-process connection with the cluster\'s TLS, as a TCP one', async () => {
    const registry = new InternalListeners();
    const server = http.createServer((req, res) => res.end(`tls ${req.url} ${(req.socket as tls.TLSSocket).encrypted === true}`));
    registry.register('inner', (socket) => server.emit('connection', new tls.TLSSocket(socket, { isServer: true, ...serverCredentials(), ALPNProtocols: ['http/1.1'] })));
    const cluster = staticCluster('secure', [{ endpoint: { address: { envoyInternalAddress: { serverListenerName: 'inner' } } } }], {
      transportSocket: tlsSocket({ sni: SERVER_DNS_NAME, commonTlsContext: { validationContext: { trustedCa: { filename: testdata('ca.pem') } } } }),
    });
    const pools = new UpstreamPools({ timers: realTimers, stats: nullStats, internalListeners: registry });
    try {
      const result = await pools.pool(cluster, cluster.hosts()[0]!, 'http1').request({ ...HEAD, path: '/s' }, null, { signal: new AbortController().signal });
      if (!result.ok) assert.fail(result.error.kind);
      assert.equal(await text(result.value.body), 'tls /s true');
    } finally {
      pools.close();
    }
  });

  it('fails a request to an internal listener nobody runs as a connect failure', async () => {
    const pools = new UpstreamPools({ timers: realTimers, stats: nullStats, internalListeners: new InternalListeners() });
    try {
      const result = await pools.pool(clusterWith(new Limits()), internalHost, 'http1').request(HEAD, null, { signal: new AbortController().signal });
      assert.equal(result.ok, false);
      assert.equal(result.ok ? '' : result.error.kind, 'connect-failure');
    } finally {
      pools.close();
    }
  });
});
