import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { HttpExchange, HttpResponse } from '../../http/exchange.ts';
import type { Headers } from '../../http/headers.ts';
import { headArrived, prefixTable, rawExchange, startProxy, withTimeout, type TestProxy } from './hcm-test-support.ts';

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

describe('upgrades through the HTTP connection manager', () => {
  let upstream: http.Server;
  let upstreamPort: number;
  const proxies: TestProxy[] = [];
  before(async () => {
    upstream = websocketUpstream();
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    upstreamPort = (upstream.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const proxy of proxies) await proxy.close();
    upstream.closeAllConnections();
    upstream.close();
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

  it('treats an h2c upgrade request as a plain HTTP/1.1 request', async () => {
    const p = await proxy({});
    const answer = await rawExchange(p.port, 'GET / HTTP/1.1\r\nhost: a\r\nconnection: upgrade, http2-settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n', headArrived);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.equal(p.router.seen[0]!.upgrade, undefined);
    assert.equal(p.router.seen[0]!.request.headers['http2-settings'], undefined);
  });
});
