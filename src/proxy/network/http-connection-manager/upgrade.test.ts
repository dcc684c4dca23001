import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { HttpExchange, HttpResponse } from '../../http/exchange.ts';
import type { Headers } from '../../http/headers.ts';
import type { RouteAction, RouteEntry, RouteTable } from '../../route/index.ts';
import { headArrived, prefixTable, rawExchange, routeEntry, startProxy, withTimeout, type TestProxy } from './hcm-test-support.ts';

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * A WebSocket echo upstream: answers the handshake, then echoes each (small, masked) client text
 * frame back as an unmasked frame prefixed with "echo: ".
 */
function websocketUpstream(): http.Server {
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${WEBSOCKET_GUID}`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\nx-upstream: yes\r\n\r\n`);
    socket.on('data', (frame: Buffer) => {
      const opcode = frame[0]! & 0x0f;
      const length = frame[1]! & 0x7f;
      const mask = frame.subarray(2, 6);
      const payload = Buffer.from(frame.subarray(6, 6 + length).map((byte, i) => byte ^ mask[i % 4]!));
      if (opcode === 0x8) {
        socket.end(Buffer.from([0x88, 0x00]));
        return;
      }
      const reply = Buffer.concat([Buffer.from('echo: '), payload]);
      socket.write(Buffer.concat([Buffer.from([0x81, reply.length]), reply]));
    });
    socket.on('error', () => {});
  });
  return server;
}

/**
 * The router's side of an upgrade, as the router filter does it: the request upstream with
 * `connection: upgrade`, the upstream's 101 head parsed, and the raw socket handed back.
 */
async function upgradeUpstream(port: number, exchange: HttpExchange): Promise<HttpResponse> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let head = `${exchange.request.method} ${exchange.request.path} HTTP/1.1\r\nhost: ${exchange.request.authority}\r\nconnection: upgrade\r\nupgrade: ${exchange.upgrade!.protocol}\r\n`;
  for (const [name, value] of Object.entries(exchange.request.headers)) head += `${name}: ${String(value)}\r\n`;
  socket.write(`${head}\r\n`);
  let received = Buffer.alloc(0);
  while (received.indexOf('\r\n\r\n') < 0) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    received = Buffer.concat([received, chunk]);
  }
  const end = received.indexOf('\r\n\r\n');
  const lines = received.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Headers = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = received.subarray(end + 4);
  if (rest.length > 0) socket.unshift(rest);
  return { status: Number(lines[0]!.split(' ')[1]), headers, body: null, upgraded: socket };
}

/** A route table whose one route takes every request, CONNECT included. */
function anyRequest(entry: RouteEntry): RouteTable {
  return { name: 'routes', match: () => entry };
}

function forwardAction(cluster: string): Extract<RouteAction, { kind: 'forward' }> {
  return routeEntry(cluster).action as Extract<RouteAction, { kind: 'forward' }>;
}

async function tcpTo(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

/** What a socket receives until `done` holds of it. */
async function readSome(socket: net.Socket, done: (text: string) => boolean): Promise<string> {
  let text = '';
  await withTimeout(new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (!done(text)) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
  }), 3000, () => `got ${JSON.stringify(text)}`);
  return text;
}

describe('upgrades through the HTTP connection manager', () => {
  let upstream: http.Server;
  let upstreamPort: number;
  let echo: net.Server;
  let echoPort: number;
  const proxies: TestProxy[] = [];
  before(async () => {
    upstream = websocketUpstream();
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    upstreamPort = (upstream.address() as net.AddressInfo).port;
    echo = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    echoPort = (echo.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const proxy of proxies) await proxy.close();
    upstream.closeAllConnections();
    upstream.close();
    echo.close();
  });
  async function proxy(options: Parameters<typeof startProxy>[0]): Promise<TestProxy> {
    const started = await startProxy(options);
    proxies.push(started);
    return started;
  }

  it('carries a WebSocket session end to end when upgradeConfigs allow websocket', async () => {
    const p = await proxy({ config: { upgradeConfigs: [{ upgradeType: 'websocket' }] } });
    p.router.handler = (exchange) => upgradeUpstream(upstreamPort, exchange);
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/chat`);
    try {
      await withTimeout(once(ws, 'open'), 3000, 'the WebSocket did not open');
      ws.send('hello');
      const [message] = (await withTimeout(once(ws, 'message'), 3000, 'no echo')) as [MessageEvent];
      assert.equal(message.data, 'echo: hello');
      ws.close();
      await withTimeout(once(ws, 'close'), 3000, 'the WebSocket did not close');
    } finally {
      ws.close();
    }
    const exchange = p.router.seen[0]!;
    assert.deepEqual(exchange.upgrade, { protocol: 'websocket' });
    assert.equal(exchange.request.headers['upgrade'], undefined);
    assert.equal(exchange.request.headers['connection'], undefined);
    assert.ok(exchange.request.headers['sec-websocket-key'] !== undefined);
    const [entry] = await p.accessLog.waitFor(1);
    assert.equal(entry!.response?.status, 101);
    assert.ok(entry!.info.bytesReceived > 0 && entry!.info.bytesSent > 0);
  });

  it('answers 403 upgrade_failed to an upgrade the config does not allow', async () => {
    const p = await proxy({});
    const answer = await rawExchange(p.port, 'GET /chat HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n', headArrived);
    assert.match(answer, /^HTTP\/1\.1 403 /);
    assert.equal(p.router.seen.length, 0);
    const [entry] = await p.accessLog.waitFor(1);
    assert.equal(entry!.info.responseCodeDetails, 'upgrade_failed');
  });

  it('sends a plain answer to an upgrade that found no route, and closes the connection', async () => {
    const p = await proxy({ config: { upgradeConfigs: [{ upgradeType: 'websocket' }] }, table: prefixTable([]) });
    const answer = await rawExchange(p.port, 'GET /chat HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(answer, /\r\nconnection: close\r\n/);
    const [entry] = await p.accessLog.waitFor(1);
    assert.ok(entry!.info.responseFlags.has('NR'));
  });

  it('answers 403 upgrade_failed to a CONNECT when upgradeConfigs do not list CONNECT', async () => {
    const p = await proxy({ table: anyRequest(routeEntry('backend')) });
    const answer = await rawExchange(p.port, 'CONNECT details:9080 HTTP/1.1\r\nhost: details:9080\r\n\r\n', headArrived);
    assert.match(answer, /^HTTP\/1\.1 403 /);
    assert.equal(p.router.seen.length, 0);
    const [entry] = await p.accessLog.waitFor(1);
    assert.equal(entry!.info.responseCodeDetails, 'upgrade_failed');
    assert.equal(p.stats.get('http.inbound_0.0.0.0_80.downstream_rq_ws_on_non_ws_route'), 0);
  });

  it('hands an allowed CONNECT to the filters with its target as the authority and no path, and tunnels a 2xx answer', async () => {
    const p = await proxy({ config: { upgradeConfigs: [{ upgradeType: 'CONNECT' }] }, table: anyRequest(routeEntry('backend')) });
    p.router.handler = async () => ({ status: 200, headers: {}, body: null, upgraded: await tcpTo(echoPort) });
    const socket = net.connect(p.port, '127.0.0.1');
    try {
      socket.write('CONNECT details:9080 HTTP/1.1\r\nhost: details:9080\r\n\r\n');
      const head = await readSome(socket, (text) => text.includes('\r\n\r\n'));
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      assert.doesNotMatch(head, /\r\n(connection|upgrade|content-length|transfer-encoding):/i);
      socket.write('tunnelled bytes');
      assert.equal(await readSome(socket, (text) => text === 'tunnelled bytes'), 'tunnelled bytes');
    } finally {
      socket.end();
    }
    const exchange = p.router.seen[0]!;
    assert.deepEqual([exchange.request.method, exchange.request.authority, exchange.request.path], ['CONNECT', 'details:9080', '']);
    assert.deepEqual(exchange.upgrade, { protocol: 'connect' });
    const [entry] = await p.accessLog.waitFor(1);
    assert.equal(entry!.response?.status, 200);
    assert.equal(entry!.info.bytesReceived, 'tunnelled bytes'.length);
    assert.equal(entry!.info.bytesSent, 'tunnelled bytes'.length);
  });

  it('lets the route\'s upgradeConfigs override the connection manager\'s, either way', async () => {
    const allowed = routeEntry({ ...forwardAction('backend'), upgrades: new Map([['connect', true]]) });
    const p = await proxy({ table: anyRequest(allowed) });
    p.router.handler = () => ({ status: 503, headers: {}, body: null });
    const answer = await rawExchange(p.port, 'CONNECT details:9080 HTTP/1.1\r\nhost: details:9080\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.match(answer, /\r\nconnection: close\r\n/);
    assert.equal(p.router.seen.length, 1);

    const refused = routeEntry({ ...forwardAction('backend'), upgrades: new Map([['websocket', false]]) });
    const q = await proxy({ config: { upgradeConfigs: [{ upgradeType: 'websocket' }] }, table: anyRequest(refused) });
    const denied = await rawExchange(q.port, 'GET /chat HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n', headArrived);
    assert.match(denied, /^HTTP\/1\.1 403 /);
    assert.equal(q.router.seen.length, 0);
    assert.equal(q.stats.get('http.inbound_0.0.0.0_80.downstream_rq_ws_on_non_ws_route'), 1);
  });

  it('sends a CONNECT that found no route a plain 404, and closes the connection', async () => {
    const p = await proxy({ config: { upgradeConfigs: [{ upgradeType: 'CONNECT' }] }, table: prefixTable([['/', routeEntry('backend')]]) });
    const answer = await rawExchange(p.port, 'CONNECT details:9080 HTTP/1.1\r\nhost: details:9080\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(answer, /\r\nconnection: close\r\n/);
    const [entry] = await p.accessLog.waitFor(1);
    assert.ok(entry!.info.responseFlags.has('NR'));
  });

  it('tunnels an HTTP/2 CONNECT on its stream', async () => {
    const p = await proxy({ config: { upgradeConfigs: [{ upgradeType: 'CONNECT' }], codecType: 'HTTP2' }, table: anyRequest(routeEntry('backend')) });
    p.router.handler = async () => ({ status: 200, headers: {}, body: null, upgraded: await tcpTo(echoPort) });
    const client = http2.connect(`http://127.0.0.1:${p.port}`);
    client.on('error', () => {});
    try {
      const stream = client.request({ ':method': 'CONNECT', ':authority': 'details:9080' });
      const [headers] = (await withTimeout(once(stream, 'response'), 3000, 'no response to the CONNECT')) as [http2.IncomingHttpHeaders];
      assert.equal(headers[':status'], 200);
      stream.write('over h2');
      const [chunk] = (await withTimeout(once(stream, 'data'), 3000, 'nothing came back')) as [Buffer];
      assert.equal(chunk.toString(), 'over h2');
      stream.end();
      await withTimeout(once(stream, 'close'), 3000, 'the tunnel did not close');
    } finally {
      client.close();
    }
    const exchange = p.router.seen[0]!;
    assert.deepEqual([exchange.request.method, exchange.request.authority, exchange.request.path, exchange.request.protocol], ['CONNECT', 'details:9080', '', 'HTTP/2']);
    const [entry] = await p.accessLog.waitFor(1);
    assert.equal(entry!.response?.status, 200);
  });

  it('treats an h2c upgrade request as a plain HTTP/1.1 request', async () => {
    const p = await proxy({});
    const answer = await rawExchange(p.port, 'GET / HTTP/1.1\r\nhost: a\r\nconnection: upgrade, http2-settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n', headArrived);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.equal(p.router.seen[0]!.upgrade, undefined);
    assert.equal(p.router.seen[0]!.request.headers['http2-settings'], undefined);
  });
});
