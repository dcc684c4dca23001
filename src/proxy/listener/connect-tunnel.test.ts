import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as http from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TypeUrl, type ProtoJson } from '../../xds/index.ts';
import { HTTP_CONNECTION_MANAGER_TYPE, ROUTER_TYPE } from '../../xds/envoy/index.ts';
import type { HttpFilterFactory } from '../http/filter-factory.ts';
import { RouterFilterFactory } from '../http-filters/router/index.ts';
import { HttpConnectionManagerFactory } from '../network/http-connection-manager/index.ts';
import type { NetworkFilterFactory } from '../network/network-filter.ts';
import { RouteConfigStore } from '../route/index.ts';
import { XdsClusterManager } from '../upstream/cluster-manager.ts';
import { InternalListeners } from '../upstream/internal-listeners.ts';
import { UpstreamPools } from '../upstream/pools/index.ts';
import type { ResourceUpdate } from '../xds-client/resource-handler.ts';
import { ListenerManager } from './listener-manager.ts';
import { MemoryStats, RecordingAccessLog, silentLogger, systemTimers, withTimeout } from './test-support.ts';

const OUTBOUND = 'outbound|9080||details.default.svc.cluster.local';

function update(resources: readonly ProtoJson[], removed: readonly string[] = [], version = '1'): ResourceUpdate {
  return { resources: new Map(resources.map((r) => [String(r['name'] ?? r['clusterName']), r])), removed, version };
}

function hcm(statPrefix: string, connect: boolean): ProtoJson {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typedConfig: {
      '@type': HTTP_CONNECTION_MANAGER_TYPE,
      statPrefix,
      rds: { configSource: { ads: {} }, routeConfigName: 'proxy' },
      httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_TYPE } }],
      ...(connect ? { upgradeConfigs: [{ upgradeType: 'CONNECT' }] } : {}),
    },
  };
}

/** The explicit-mode listeners the control plane sends: the HTTP proxy and the tunnel's internal listener. */
const LISTENERS: readonly ProtoJson[] = [
  { name: 'explicit', address: { socketAddress: { address: '127.0.0.1', portValue: 0 } }, filterChains: [{ filters: [hcm('outbound_explicit', true)] }] },
  { name: 'tunnel_http', internalListener: {}, filterChains: [{ filters: [hcm('outbound_tunnel_http', false)] }] },
];

const ROUTES: ProtoJson = {
  name: 'proxy',
  virtualHosts: [{
    name: 'details:9080',
    domains: ['details:9080', 'details.default.svc.cluster.local:9080'],
    routes: [
      { name: 'connect', match: { connectMatcher: {} }, route: { cluster: 'tunnel', timeout: '0s', upgradeConfigs: [{ upgradeType: 'CONNECT', connectConfig: {} }] } },
      { name: 'default', match: { prefix: '/' }, route: { cluster: OUTBOUND } },
    ],
  }],
};

function clusters(): ProtoJson[] {
  return [
    {
      name: 'tunnel',
      type: 'STATIC',
      connectTimeout: '1s',
      loadAssignment: { clusterName: 'tunnel', endpoints: [{ lbEndpoints: [{ endpoint: { address: { envoyInternalAddress: { serverListenerName: 'tunnel_http' } } } }] }] },
    },
    { name: OUTBOUND, type: 'EDS', connectTimeout: '1s', edsClusterConfig: { edsConfig: { ads: {} } } },
  ];
}

function endpoints(port: number): ProtoJson {
  return { clusterName: OUTBOUND, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: port } } } }] }] };
}

/** Reads from a socket until `done` holds of what arrived (or the socket closes). */
async function readUntil(socket: Socket, done: (text: string) => boolean, what: string): Promise<string> {
  let text = '';
  await withTimeout(new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (done(text)) finish();
    };
    const finish = (): void => {
      socket.off('data', onData);
      socket.off('close', finish);
      resolve();
    };
    socket.on('data', onData);
    socket.once('close', finish);
  }), 3000, `${what}: got ${JSON.stringify(text)}`);
  return text;
}

/** Runs `fetch` in a child process with Node's own proxy support pointed at the proxy (undici sends a CONNECT). */
async function fetchThroughProxy(proxyPort: number, url: string): Promise<{ status: number; body: string }> {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), (e) => { console.error(e.cause ?? e); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', script], { env: { NODE_USE_ENV_PROXY: '1', HTTP_PROXY: `http://127.0.0.1:${proxyPort}` }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let errors = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  try {
    const [code] = (await withTimeout(once(child, 'exit'), 10_000, 'fetch did not finish')) as [number | null];
    assert.equal(code, 0, `fetch failed: ${errors}`);
  } finally {
    child.kill();
  }
  return JSON.parse(out) as { status: number; body: string };
}

describe('CONNECT through the explicit proxy into an internal listener', () => {
  const seen: { readonly url: string; readonly host: string | undefined }[] = [];
  let upstream: http.Server;
  let listeners: ListenerManager;
  let clusterManager: XdsClusterManager;
  let pools: UpstreamPools;
  let accessLog: RecordingAccessLog;
  let stats: MemoryStats;
  let proxyPort: number;

  before(async () => {
    upstream = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', host: req.headers.host });
      res.end(`details for ${req.url}`);
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const upstreamPort = (upstream.address() as { port: number }).port;

    stats = new MemoryStats();
    accessLog = new RecordingAccessLog();
    const clock = { now: () => Date.now() };
    const internalListeners = new InternalListeners();
    clusterManager = new XdsClusterManager({ stats, timers: systemTimers, clock, random: Math.random, logger: silentLogger });
    pools = new UpstreamPools({ timers: systemTimers, stats, clusters: clusterManager, internalListeners });
    const router = new RouterFilterFactory({ pools, timers: systemTimers });
    const routes = new RouteConfigStore({ clock, perFilterConfigParsers: new Map() });
    const connectionManagers = new HttpConnectionManagerFactory({
      routes,
      httpFilters: new Map<string, HttpFilterFactory>([[ROUTER_TYPE, router as HttpFilterFactory]]),
      timers: systemTimers,
      newRequestId: () => 'request-id',
    });
    listeners = new ListenerManager({
      filters: new Map<string, NetworkFilterFactory>([[HTTP_CONNECTION_MANAGER_TYPE, connectionManagers as NetworkFilterFactory]]),
      deps: { clusters: clusterManager, stats, accessLog, clock, random: Math.random, logger: silentLogger },
      timers: systemTimers,
      internalListeners,
    });

    const applied = [
      await clusterManager.cds.apply(update(clusters())),
      await clusterManager.eds.apply(update([endpoints(upstreamPort)])),
      routes.apply(update([ROUTES])),
      await listeners.apply(update(LISTENERS)),
    ];
    for (const result of applied) assert.ok(result.ok, result.ok ? '' : result.error);
    proxyPort = listeners.boundAddress('explicit')!.port;
  });

  after(async () => {
    listeners.close();
    pools.close();
    clusterManager.close();
    upstream.closeAllConnections();
    upstream.close();
    await once(upstream, 'close');
  });

  it('answers CONNECT with 200 and routes the request inside the tunnel by its Host to the service', async () => {
    const before = seen.length;
    const socket = connect(proxyPort, '127.0.0.1');
    socket.on('error', () => {});
    try {
      socket.write('CONNECT details:9080 HTTP/1.1\r\nhost: details:9080\r\n\r\n');
      const established = await readUntil(socket, (text) => text.includes('\r\n\r\n'), 'no answer to the CONNECT');
      assert.match(established, /^HTTP\/1\.1 200 OK\r\n/);
      assert.doesNotMatch(established, /content-length|transfer-encoding/i);

      socket.write('GET /details/1?full=yes HTTP/1.1\r\nhost: details:9080\r\n\r\n');
      const answer = await readUntil(socket, (text) => text.endsWith('details for /details/1?full=yes'), 'no answer inside the tunnel');
      assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
      // The tunnel carries more than one request.
      socket.write('GET /details/2 HTTP/1.1\r\nhost: details:9080\r\n\r\n');
      await readUntil(socket, (text) => text.endsWith('details for /details/2'), 'no second answer inside the tunnel');
    } finally {
      socket.end();
    }
    assert.deepEqual(seen.slice(before), [{ url: '/details/1?full=yes', host: 'details:9080' }, { url: '/details/2', host: 'details:9080' }]);

    // Two requests in the tunnel, then the CONNECT itself once the tunnel closes.
    const entries = await accessLog.waitFor(3);
    const connectEntry = entries.find((e) => e.kind === 'http' && e.request?.method === 'CONNECT');
    assert.ok(connectEntry !== undefined);
    assert.equal(connectEntry.response?.status, 200);
    assert.equal(connectEntry.listenerName, 'explicit');
    assert.equal(connectEntry.info.upstreamCluster, 'tunnel');
    assert.equal(connectEntry.info.upstreamHost, 'envoy://tunnel_http/');
    assert.equal(connectEntry.info.responseCodeDetails, 'via_upstream');
    assert.ok(connectEntry.info.bytesReceived > 0 && connectEntry.info.bytesSent > 0);
    const inner = entries.filter((e) => e.listenerName === 'tunnel_http');
    assert.equal(inner.length, 2);
    assert.equal(inner[0]!.info.upstreamCluster, OUTBOUND);
    // The internal listener's side of the tunnel carries the client's own address.
    assert.equal(inner[0]!.downstream.remoteAddress, connectEntry.downstream.remoteAddress);
    assert.equal(inner[0]!.downstream.remotePort, connectEntry.downstream.remotePort);
    assert.equal(stats.get('http.outbound_tunnel_http.downstream_rq_total'), 2);
    assert.equal(stats.get('listener.tunnel_http.downstream_cx_total'), 1);
  });

  it('carries a real fetch that goes through the proxy with CONNECT', async () => {
    const before = seen.length;
    const answer = await fetchThroughProxy(proxyPort, 'http://details:9080/reviews/7');
    assert.deepEqual(answer, { status: 200, body: 'details for /reviews/7' });
    assert.deepEqual(seen.slice(before), [{ url: '/reviews/7', host: 'details:9080' }]);
  });

  it('answers 503 UF when the internal listener is gone, as for a refused connection', async () => {
    const removed = await listeners.apply(update([], ['tunnel_http'], '2'));
    assert.ok(removed.ok);
    const logged = accessLog.entries.length;
    const socket = connect(proxyPort, '127.0.0.1');
    socket.on('error', () => {});
    try {
      socket.write('CONNECT details:9080 HTTP/1.1\r\nhost: details:9080\r\n\r\n');
      const answer = await readUntil(socket, (text) => text.includes('connection failure'), 'no 503');
      assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    } finally {
      socket.destroy();
    }
    const entry = (await accessLog.waitFor(logged + 1))[logged]!;
    assert.equal(entry.response?.status, 503);
    assert.ok(entry.info.responseFlags.has('UF'));
    assert.equal(entry.info.responseCodeDetails, 'upstream_reset_before_response_started{connection_failure}');
    assert.equal(stats.get('cluster.tunnel.upstream_cx_connect_fail'), 1);
    const restored = await listeners.apply(update(LISTENERS, [], '3'));
    assert.ok(restored.ok);
  });
});
