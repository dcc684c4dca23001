import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Logger } from '../../../core/index.ts';
import { HTTP_CONNECTION_MANAGER_TYPE, HTTP_PROTOCOL_OPTIONS_KEY, HTTP_PROTOCOL_OPTIONS_TYPE, ROUTER_TYPE, type Cluster } from '../../../xds/envoy/index.ts';
import type { HttpFilterFactory } from '../../http/filter-factory.ts';
import { HttpConnectionManagerFactory } from '../../network/http-connection-manager/index.ts';
import type { NetworkFilter } from '../../network/network-filter.ts';
import type { RouteEntry, RouteTable } from '../../route/index.ts';
import type { AccessLogEntry } from '../../telemetry/access-log.ts';
import type { UpstreamHost } from '../../upstream/cluster.ts';
import type { ManagedCluster } from '../../upstream/managed-cluster.ts';
import { UpstreamPools } from '../../upstream/pools/index.ts';
import { nullStats, realTimers, waitFor } from '../../upstream/pools/pool-test-support.ts';
import { endpointAt, SERVER_DNS_NAME, serverCredentials, staticCluster, testdata, tlsSocket } from '../../upstream/tls-test-support.ts';
import { RouterFilterFactory } from './router-filter.ts';
import { clusterManager, forwardTo } from './router-test-support.ts';

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** An unmasked server text frame (payloads under 126 bytes). */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

/** What the upstream does with an Upgrade request, by path. */
type UpgradeBehaviour = (req: http.IncomingMessage, socket: net.Socket) => void;

/**
 * Accepts the handshake, greets in the same write as the 101 head (bytes the proxy must not lose),
 * then echoes each small masked client text frame back prefixed with "echo: "; answers a close
 * frame with one and ends; "bye" makes it close the session itself; the peer's end ends it too.
 */
const echo: UpgradeBehaviour = (req, socket) => {
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${WEBSOCKET_GUID}`).digest('base64');
  socket.write(Buffer.concat([
    Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\nx-upstream: yes\r\n\r\n`),
    textFrame('welcome'),
  ]));
  socket.on('data', (frame: Buffer) => {
    const opcode = frame[0]! & 0x0f;
    const length = frame[1]! & 0x7f;
    const mask = frame.subarray(2, 6);
    const payload = Buffer.from(frame.subarray(6, 6 + length).map((byte, i) => byte ^ mask[i % 4]!)).toString();
    if (opcode === 0x8) socket.end(Buffer.from([0x88, 0x00]));
    else if (payload === 'bye') socket.end(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
    else socket.write(textFrame(`echo: ${payload}`));
  });
  // node's HTTP server keeps the other half open after the peer's FIN; a WebSocket server closes.
  socket.on('end', () => socket.end());
};

interface Harness {
  readonly port: number;
  readonly cluster: ManagedCluster;
  readonly log: AccessLogEntry[];
  readonly pools: UpstreamPools;
  close(): Promise<void>;
}

/**
 * The real path: a connection manager (websocket upgrades on) whose router filter forwards every
 * request to `cluster` through real pools, behind a bare accept loop standing in for the listener.
 */
async function proxyTo(cluster: ManagedCluster, route: RouteEntry = forwardTo(cluster.name)): Promise<Harness> {
  const pools = new UpstreamPools({ timers: realTimers, stats: nullStats });
  const router = new RouterFilterFactory({ pools, timers: realTimers });
  const table: RouteTable = { name: 'routes', match: () => route };
  const factory = new HttpConnectionManagerFactory({
    routes: { get: () => table },
    httpFilters: new Map<string, HttpFilterFactory>([[ROUTER_TYPE, router as HttpFilterFactory]]),
    timers: realTimers,
    newRequestId: () => 'request-id',
  });
  const config = factory.parse({
    '@type': HTTP_CONNECTION_MANAGER_TYPE,
    statPrefix: 'test',
    rds: { configSource: { ads: {} }, routeConfigName: 'routes' },
    httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_TYPE } }],
    upgradeConfigs: [{ upgradeType: 'websocket' }, { upgradeType: 'CONNECT' }],
  });
  if (!config.ok) assert.fail(config.error);
  const log: AccessLogEntry[] = [];
  const manager: NetworkFilter = factory.create(config.value, {
    clusters: clusterManager(cluster),
    stats: nullStats,
    accessLog: { log: (entry) => log.push(entry) },
    clock: { now: () => Date.now() },
    random: () => 0,
    logger: silent,
  });
  let ids = 0;
  const server = net.createServer((socket) => manager.onConnection({
    socket,
    downstream: { connectionId: ++ids, remoteAddress: socket.remoteAddress!, remotePort: socket.remotePort!, localAddress: socket.localAddress!, localPort: socket.localPort! },
    originalDestination: { address: socket.localAddress!, port: socket.localPort! },
    listenerName: 'test',
    sniffed: { transportProtocol: 'raw_buffer', applicationProtocols: [] },
  }));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    cluster,
    log,
    pools,
    close: async () => {
      manager.close?.();
      pools.close();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Sends raw bytes and reads until the proxy closes the connection. */
async function rawExchange(port: number, bytes: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(bytes);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  await withTimeout(once(socket, 'close'), 'the proxy did not close the connection');
  return received;
}

async function withTimeout<T>(promise: Promise<T>, message: string, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens a WebSocket through the proxy and collects its messages. */
async function openSocket(port: number, path = '/chat'): Promise<{ ws: WebSocket; messages: string[]; next(): Promise<string> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  const messages: string[] = [];
  const waiting: ((message: string) => void)[] = [];
  ws.addEventListener('message', (event) => {
    const text = String(event.data);
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(text);
    else messages.push(text);
  });
  await withTimeout(once(ws, 'open'), 'the WebSocket did not open');
  return {
    ws,
    messages,
    next: () => (messages.length > 0 ? Promise.resolve(messages.shift()!) : withTimeout(new Promise<string>((resolve) => waiting.push(resolve)), 'no message came')),
  };
}

describe('upgrades (WebSocket) through the router', { timeout: 20_000 }, () => {
  let upstream: http.Server;
  let upstreamPort: number;
  /** Upstream connections, in the order accepted. */
  const connections: net.Socket[] = [];
  const behaviours = new Map<string, UpgradeBehaviour>();
  let harness: Harness | undefined;

  before(async () => {
    upstream = http.createServer((_req, res) => res.end('plain answer'));
    upstream.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      socket.on('error', () => {});
      (behaviours.get(req.url ?? '') ?? echo)(req, socket);
    });
    upstream.on('connection', (socket: net.Socket) => connections.push(socket));
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    upstreamPort = (upstream.address() as net.AddressInfo).port;
  });

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
    behaviours.clear();
  });

  after(async () => {
    for (const socket of connections) socket.destroy();
    upstream.close();
    await once(upstream, 'close');
  });

  async function proxy(config: Partial<Cluster> = {}, route?: RouteEntry): Promise<Harness> {
    harness = await proxyTo(staticCluster('ws', [endpointAt(upstreamPort)], config), route);
    return harness;
  }

  function onlyHost(h: Harness): UpstreamHost {
    return h.cluster.hosts()[0]!;
  }

  it('carries a session both ways, bytes sent with the 101 included, and ends it when the client closes', async () => {
    const h = await proxy();
    const before = connections.length;
    const { ws, next } = await openSocket(h.port);
    assert.equal(await next(), 'welcome');
    ws.send('hello');
    assert.equal(await next(), 'echo: hello');
    ws.close();
    await withTimeout(once(ws, 'close'), 'the WebSocket did not close');
    assert.equal(connections.length - before, 1);
    await waitFor(() => connections.at(-1)!.closed);

    await waitFor(() => h.log.length === 1);
    const entry = h.log[0]!;
    assert.equal(entry.response?.status, 101);
    assert.equal(entry.response?.headers['x-upstream'], 'yes');
    assert.equal(entry.info.upstreamCluster, 'ws');
    assert.equal(entry.info.upstreamHost, `127.0.0.1:${upstreamPort}`);
    assert.equal(entry.info.responseCodeDetails, 'via_upstream');
    assert.ok(entry.info.bytesReceived > 0 && entry.info.bytesSent > 0);
    await waitFor(() => onlyHost(h).activeRequests === 0);
  });

  it('ends the session when the upstream closes it', async () => {
    const h = await proxy();
    const { ws, next } = await openSocket(h.port);
    assert.equal(await next(), 'welcome');
    ws.send('bye');
    const [event] = (await withTimeout(once(ws, 'close'), 'the WebSocket did not close')) as [CloseEvent];
    assert.equal(event.code, 1000);
    await waitFor(() => h.log.length === 1);
    await waitFor(() => onlyHost(h).activeRequests === 0);
  });

  it('returns an upstream\'s refusal as a plain response and closes the connection', async () => {
    behaviours.set('/closed', (_req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 6\r\n\r\nno way'));
    const h = await proxy();
    const answer = await rawExchange(h.port, 'GET /closed HTTP/1.1\r\nhost: ws\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(answer, /\r\nconnection: close\r\n/);
    assert.ok(answer.endsWith('\r\n\r\nno way'));
    await waitFor(() => h.log.length === 1);
    assert.equal(h.log[0]!.response?.status, 403);
  });

  it('answers 503 UF when the upstream cannot be reached', async () => {
    const dead = net.createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const deadPort = (dead.address() as net.AddressInfo).port;
    dead.close();
    await once(dead, 'close');
    harness = await proxyTo(staticCluster('ws', [endpointAt(deadPort)]));
    const answer = await rawExchange(harness.port, 'GET /chat HTTP/1.1\r\nhost: ws\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.ok(answer.endsWith('upstream connect error or disconnect/reset before headers. reset reason: connection failure'));
    await waitFor(() => harness!.log.length === 1);
    assert.deepEqual([...harness.log[0]!.info.responseFlags], ['UF']);
  });

  it('times out a wait for the 101 with the route timeout (504 UT), but never the session after it', async () => {
    behaviours.set('/silent', (_req, socket) => socket.on('end', () => socket.end()));
    const h = await proxy({}, forwardTo('ws', { timeoutMs: 150 }));
    const answer = await rawExchange(h.port, 'GET /silent HTTP/1.1\r\nhost: ws\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 504 /);
    await waitFor(() => h.log.length === 1);
    assert.deepEqual([...h.log[0]!.info.responseFlags], ['UT']);

    const { ws, next } = await openSocket(h.port);
    assert.equal(await next(), 'welcome');
    await new Promise((resolve) => setTimeout(resolve, 300));
    ws.send('still here');
    assert.equal(await next(), 'echo: still here');
    ws.close();
    await withTimeout(once(ws, 'close'), 'the WebSocket did not close');
  });

  it('uses a connection of its own, never a pooled one, and HTTP/1.1 even for an HTTP/2 cluster', async () => {
    const h = await proxy({ typedExtensionProtocolOptions: { [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': HTTP_PROTOCOL_OPTIONS_TYPE, explicitHttpConfig: { http2ProtocolOptions: {} } } } });
    const { ws, next } = await openSocket(h.port);
    assert.equal(await next(), 'welcome');
    ws.close();
    await withTimeout(once(ws, 'close'), 'the WebSocket did not close');

    const plain = await proxyTo(staticCluster('plain', [endpointAt(upstreamPort)]));
    try {
      const before = connections.length;
      const agent = new http.Agent({ keepAlive: true });
      const response = await fetchText(plain.port, agent);
      assert.equal(response, 'plain answer');
      const session = await openSocket(plain.port);
      assert.equal(await session.next(), 'welcome');
      assert.equal(connections.length - before, 2, 'the upgrade did not take the idle pooled connection');
      session.ws.close();
      await withTimeout(once(session.ws, 'close'), 'the WebSocket did not close');
      agent.destroy();
    } finally {
      await plain.close();
    }
  });

  it('holds a request slot of the cluster\'s circuit breakers for the session: beyond maxRequests an upgrade gets 503 UO', async () => {
    const h = await proxy({ circuitBreakers: { thresholds: [{ maxRequests: 1 }] } });
    const first = await openSocket(h.port);
    assert.equal(await first.next(), 'welcome');
    const answer = await rawExchange(h.port, 'GET /chat HTTP/1.1\r\nhost: ws\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 503 /);
    first.ws.close();
    await withTimeout(once(first.ws, 'close'), 'the WebSocket did not close');
    await waitFor(() => h.log.length === 2);
    assert.deepEqual([...h.log.find((e) => e.response?.status === 503)!.info.responseFlags], ['UO']);
    await waitFor(() => onlyHost(h).activeRequests === 0);
    const again = await openSocket(h.port);
    assert.equal(await again.next(), 'welcome');
    again.ws.close();
    await withTimeout(once(again.ws, 'close'), 'the WebSocket did not close');
  });

  it('secures the upgrade\'s connection as the host\'s other connections (TLS to a wss upstream)', async () => {
    const secure = https.createServer({ ...serverCredentials(), ALPNProtocols: ['http/1.1'] });
    secure.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      socket.on('error', () => {});
      echo(req, socket);
    });
    secure.listen(0, '127.0.0.1');
    await once(secure, 'listening');
    try {
      harness = await proxyTo(staticCluster('wss', [endpointAt((secure.address() as net.AddressInfo).port)], {
        transportSocket: tlsSocket({
          commonTlsContext: {
            // The cluster speaks HTTP/2; the upgrade still offers only HTTP/1.1 by ALPN.
            alpnProtocols: ['h2'],
            validationContext: { trustedCa: { filename: testdata('ca.pem') }, matchTypedSubjectAltNames: [{ sanType: 'DNS', matcher: { exact: SERVER_DNS_NAME } }] },
          },
        }),
        typedExtensionProtocolOptions: { [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': HTTP_PROTOCOL_OPTIONS_TYPE, explicitHttpConfig: { http2ProtocolOptions: {} } } },
      }));
      const { ws, next } = await openSocket(harness.port);
      assert.equal(await next(), 'welcome');
      ws.send('over tls');
      assert.equal(await next(), 'echo: over tls');
      ws.close();
      await withTimeout(once(ws, 'close'), 'the WebSocket did not close');
    } finally {
      secure.closeAllConnections();
      secure.close();
    }
  });

  it('closes upgraded sessions when the pools close', async () => {
    const h = await proxy();
    const { ws, next } = await openSocket(h.port);
    assert.equal(await next(), 'welcome');
    const session = connections.at(-1)!;
    h.pools.close();
    await withTimeout(once(ws, 'close'), 'the WebSocket was not closed');
    await waitFor(() => session.closed);
  });
});

/** A route to `cluster` that terminates CONNECT (its CONNECT upgrade has a connectConfig). */
function terminating(cluster: string): RouteEntry {
  const route = forwardTo(cluster);
  return { ...route, action: { ...route.action, terminateConnect: true } as RouteEntry['action'] };
}

/** Sends a CONNECT and reads the answer's head; the socket stays open. */
async function connectThrough(port: number, target: string): Promise<{ socket: net.Socket; head: string }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
  let head = '';
  await withTimeout(new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
    socket.once('close', () => resolve());
  }), 'no answer to the CONNECT');
  return { socket, head };
}

async function echoed(socket: net.Socket, text: string): Promise<string> {
  socket.write(text);
  let received = '';
  await withTimeout(new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      received += chunk.toString();
      if (received.length < text.length) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
  }), 'nothing came back through the tunnel');
  return received;
}

describe('CONNECT through the router', { timeout: 20_000 }, () => {
  /** A TCP echo server: the host a terminated CONNECT reaches. */
  let echoServer: net.Server;
  let echoPort: number;
  const echoConnections: net.Socket[] = [];
  /** An HTTP proxy upstream: takes a CONNECT sent on, answering 200 and echoing, or 407 for `refuse:1`. */
  let proxyUpstream: http.Server;
  let proxyUpstreamPort: number;
  const connectTargets: string[] = [];
  let harness: Harness | undefined;

  before(async () => {
    echoServer = net.createServer((socket) => {
      echoConnections.push(socket);
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    echoServer.listen(0, '127.0.0.1');
    await once(echoServer, 'listening');
    echoPort = (echoServer.address() as net.AddressInfo).port;
    proxyUpstream = http.createServer((_req, res) => res.end());
    proxyUpstream.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
      connectTargets.push(req.url ?? '');
      socket.on('error', () => {});
      if (req.url === 'refuse:1') {
        socket.end('HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      socket.pipe(socket);
    });
    proxyUpstream.listen(0, '127.0.0.1');
    await once(proxyUpstream, 'listening');
    proxyUpstreamPort = (proxyUpstream.address() as net.AddressInfo).port;
  });

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  after(async () => {
    for (const socket of echoConnections) socket.destroy();
    echoServer.close();
    proxyUpstream.closeAllConnections();
    proxyUpstream.close();
  });

  it('terminates a CONNECT: 200 once the connection to a host is up, then the tunnel\'s bytes both ways', async () => {
    const cluster = staticCluster('tunnel', [endpointAt(echoPort)]);
    harness = await proxyTo(cluster, terminating('tunnel'));
    const before = echoConnections.length;
    const { socket, head } = await connectThrough(harness.port, 'details:9080');
    try {
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      assert.equal(echoConnections.length - before, 1);
      assert.equal(await echoed(socket, 'GET / HTTP/1.1\r\n\r\n'), 'GET / HTTP/1.1\r\n\r\n');
    } finally {
      socket.end();
    }
    await waitFor(() => harness!.log.length === 1);
    const entry = harness.log[0]!;
    assert.equal(entry.request?.method, 'CONNECT');
    assert.equal(entry.response?.status, 200);
    assert.equal(entry.info.upstreamCluster, 'tunnel');
    assert.equal(entry.info.upstreamHost, `127.0.0.1:${echoPort}`);
    assert.equal(entry.info.responseCodeDetails, 'via_upstream');
    assert.equal(entry.info.bytesReceived, 'GET / HTTP/1.1\r\n\r\n'.length);
    await waitFor(() => cluster.hosts()[0]!.activeRequests === 0);
    await waitFor(() => echoConnections.at(-1)!.closed);
  });

  it('answers a terminated CONNECT 503 UF when the host refuses the connection', async () => {
    const dead = net.createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const deadPort = (dead.address() as net.AddressInfo).port;
    dead.close();
    await once(dead, 'close');
    const cluster = staticCluster('tunnel', [endpointAt(deadPort)]);
    harness = await proxyTo(cluster, terminating('tunnel'));
    const answer = await rawExchange(harness.port, 'CONNECT details:9080 HTTP/1.1\r\nhost: details:9080\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.ok(answer.endsWith('upstream connect error or disconnect/reset before headers. reset reason: connection failure'));
    await waitFor(() => harness!.log.length === 1);
    assert.deepEqual([...harness.log[0]!.info.responseFlags], ['UF']);
    assert.equal(cluster.hosts()[0]!.stats?.cxConnectFail, 1);
  });

  it('sends a CONNECT on upstream when its route does not terminate it, tunnelling a 2xx answer', async () => {
    harness = await proxyTo(staticCluster('proxy', [endpointAt(proxyUpstreamPort)]));
    const { socket, head } = await connectThrough(harness.port, 'details:9080');
    try {
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      assert.equal(await echoed(socket, 'through two proxies'), 'through two proxies');
    } finally {
      socket.end();
    }
    assert.equal(connectTargets.at(-1), 'details:9080');
  });

  it('returns an upstream\'s refusal of a CONNECT sent on as a plain response, and closes the connection', async () => {
    harness = await proxyTo(staticCluster('proxy', [endpointAt(proxyUpstreamPort)]));
    const answer = await rawExchange(harness.port, 'CONNECT refuse:1 HTTP/1.1\r\nhost: refuse:1\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
    assert.match(answer, /\r\nconnection: close\r\n/);
    await waitFor(() => harness!.log.length === 1);
    assert.equal(harness.log[0]!.response?.status, 407);
  });
});

async function fetchText(port: number, agent: http.Agent): Promise<string> {
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent, headers: { host: 'plain' } }, resolve).on('error', reject);
  });
  let text = '';
  for await (const chunk of response) text += String(chunk);
  return text;
}
