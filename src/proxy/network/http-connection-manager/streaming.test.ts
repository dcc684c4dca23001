import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { Readable, type Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { headArrived, rawExchange, startProxy, withTimeout, type TestProxy } from './hcm-test-support.ts';

const CHUNK = 64 * 1024;
const TOTAL = 50 * 1024 * 1024;
/** What the proxy may hold of a body it passes on: an HTTP/2 stream window (1 MiB), stream high-water marks. */
const PROXY_HOLD_BOUND = 2 * 1024 * 1024;

/**
 * While nobody reads the response: the proxy holds little (bytes read from the client but not
 * yet written on), and the client's writer has stalled well short of the whole body (the rest of
 * what it wrote sits in the kernel's socket buffers).
 */
function assertHeldBack(proxy: TestProxy, sent: number): void {
  const info = proxy.router.seen[0]!.info;
  const held = info.bytesReceived - info.bytesSent;
  assert.ok(held < PROXY_HOLD_BOUND, `the proxy holds ${held} bytes of the body`);
  assert.ok(info.bytesReceived < TOTAL / 2, `the proxy read ${info.bytesReceived} bytes for a reader that read nothing`);
  assert.ok(sent < TOTAL / 2, `the writer got ${sent} bytes out to a reader that read nothing`);
}

function chunk(index: number): Buffer {
  return Buffer.alloc(CHUNK, index % 251);
}

/** Writes TOTAL bytes with backpressure; `progress.sent` says how far the writer got. */
async function writeAll(out: Writable, progress: { sent: number }): Promise<void> {
  for (let i = 0; progress.sent < TOTAL; i++) {
    progress.sent += CHUNK;
    if (!out.write(chunk(i))) await once(out, 'drain');
  }
  out.end();
}

/** Reads a response body to its end, checking each byte against the pattern the writer used. */
async function readAll(body: Readable): Promise<number> {
  let received = 0;
  let mismatches = 0;
  for await (const piece of body) {
    const buffer = piece as Buffer;
    for (let offset = 0; offset < buffer.length; offset += 4096) {
      const position = received + offset;
      if (buffer[offset] !== Math.floor(position / CHUNK) % 251) mismatches++;
    }
    received += buffer.length;
  }
  assert.equal(mismatches, 0, 'the echoed bytes differ from those sent');
  return received;
}

describe('streaming through the HTTP connection manager', () => {
  const proxies: TestProxy[] = [];
  after(async () => {
    for (const proxy of proxies) await proxy.close();
  });
  async function echoProxy(): Promise<TestProxy> {
    const proxy = await startProxy();
    proxies.push(proxy);
    // The router answers at once with the request body as the response body: both directions stream.
    proxy.router.handler = (exchange) => ({ status: 200, headers: { 'content-type': 'application/octet-stream' }, body: exchange.body });
    return proxy;
  }

  it('streams 50 MB both ways over HTTP/1.1 without buffering it, holding back a client whose reader is slow', async () => {
    const proxy = await echoProxy();
    const progress = { sent: 0 };
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: '/upload', headers: { 'content-type': 'application/octet-stream' } });
    const response = withTimeout(new Promise<http.IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
    }), 5000, 'no response head');
    const writing = writeAll(req, progress);
    const res = await response;
    res.pause();
    // Nobody reads the response: the proxy must stop reading the request, and the writer stall.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assertHeldBack(proxy, progress.sent);
    const received = await withTimeout(readAll(res), 30_000, 'the body did not arrive');
    await writing;
    assert.equal(received, TOTAL);
    const [entry] = await proxy.accessLog.waitFor(1);
    assert.equal(entry!.info.bytesReceived, TOTAL);
    assert.equal(entry!.info.bytesSent, TOTAL);
  });

  it('streams 50 MB both ways over HTTP/2 with flow control holding back the writer', async () => {
    const proxy = await echoProxy();
    const client = http2.connect(`http://127.0.0.1:${proxy.port}`);
    client.on('error', () => {});
    try {
      const progress = { sent: 0 };
      const stream = client.request({ ':method': 'POST', ':path': '/upload' });
      const head = withTimeout(once(stream, 'response'), 5000, 'no response head');
      const writing = writeAll(stream, progress);
      await head;
      stream.pause();
      await new Promise((resolve) => setTimeout(resolve, 500));
      assertHeldBack(proxy, progress.sent);
      const received = await withTimeout(readAll(stream), 30_000, 'the body did not arrive');
      await writing;
      assert.equal(received, TOTAL);
    } finally {
      client.destroy();
    }
  });

  it('sends chunked trailers over HTTP/1.1 only to a client that sent TE: trailers', async () => {
    const proxy = await startProxy();
    proxies.push(proxy);
    proxy.router.handler = () => ({
      status: 200,
      headers: { 'content-type': 'application/grpc' },
      body: Readable.from([Buffer.from('payload')]),
      trailers: Promise.resolve({ 'grpc-status': '0' }),
    });
    const withTe = await rawExchange(proxy.port, 'POST /svc/M HTTP/1.1\r\nhost: a\r\nte: trailers\r\ncontent-length: 0\r\n\r\n', (r) => r.endsWith('\r\n\r\n') && r.includes('0\r\n'));
    assert.match(withTe, /\r\n0\r\ngrpc-status: 0\r\n\r\n$/);
    const withoutTe = await rawExchange(proxy.port, 'POST /svc/M HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n', (r) => r.endsWith('0\r\n\r\n'));
    assert.doesNotMatch(withoutTe, /grpc-status/);
  });

  it('resets the downstream when the response body fails mid-way, and logs the bytes sent', async () => {
    const proxy = await startProxy();
    proxies.push(proxy);
    proxy.router.handler = () => {
      const body = new Readable({ read() {} });
      body.push(Buffer.from('partial'));
      setTimeout(() => body.destroy(new Error('upstream reset')), 20);
      return { status: 200, headers: {}, body };
    };
    const answer = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nhost: a\r\n\r\n');
    assert.ok(headArrived(answer));
    assert.doesNotMatch(answer, /\r\n0\r\n\r\n$/, 'the chunked body must not look complete');
    const [entry] = await proxy.accessLog.waitFor(1);
    assert.equal(entry!.info.bytesSent, 'partial'.length);
  });
});
