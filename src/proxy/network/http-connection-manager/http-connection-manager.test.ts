import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import { eventually, headArrived, prefixTable, rawExchange, routeEntry, startProxy, withTimeout, type TestProxy } from './hcm-test-support.ts';

/** GET over a keep-alive agent; resolves with status, headers and body text. */
function get(port: number, path: string, options: { agent?: http.Agent; headers?: http.OutgoingHttpHeaders; method?: string } = {}) {
  return withTimeout(new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: options.agent, headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  }), 3000, `GET ${path} got no answer`);
}

describe('HTTP connection manager over HTTP/1.1', () => {
  const proxies: TestProxy[] = [];
  after(async () => {
    for (const proxy of proxies) await proxy.close();
  });
  async function proxy(...args: Parameters<typeof startProxy>): Promise<TestProxy> {
    const started = await startProxy(...args);
    proxies.push(started);
    return started;
  }

  it('serves several requests on one keep-alive connection and logs each', async () => {
    const p = await proxy();
    p.router.handler = (exchange) => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from(`you asked ${exchange.request.path}`) });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const path of ['/a', '/b?x=1', '/c']) {
        const response = await get(p.port, path, { agent, headers: { host: 'shop.example:8080' } });
        assert.equal(response.status, 200);
        assert.equal(response.body, `you asked ${path}`);
        assert.equal(response.headers['server'], 'envoy');
      }
    } finally {
      agent.destroy();
    }
    const seen = p.router.seen.map((e) => [e.request.method, e.request.path, e.request.authority, e.request.scheme, e.request.protocol]);
    assert.deepEqual(seen, [
      ['GET', '/a', 'shop.example:8080', 'http', 'HTTP/1.1'],
      ['GET', '/b?x=1', 'shop.example:8080', 'http', 'HTTP/1.1'],
      ['GET', '/c', 'shop.example:8080', 'http', 'HTTP/1.1'],
    ]);
    const entries = await p.accessLog.waitFor(3);
    assert.deepEqual(entries.map((e) => e.response?.status), [200, 200, 200]);
    assert.equal(entries[0]!.listenerName, 'test-listener');
    assert.equal(entries[1]!.info.bytesSent, 'you asked /b?x=1'.length);
    assert.equal(p.stats.get('http.inbound_0.0.0.0_80.downstream_cx_total'), 1);
    assert.equal(p.stats.get('http.inbound_0.0.0.0_80.downstream_rq_2xx'), 3);
  });

  it('answers 404 NR route_not_found when no route matches, without reaching the router', async () => {
    const p = await proxy({ table: prefixTable([['/api', routeEntry('api')]]) });
    const response = await get(p.port, '/other');
    assert.equal(response.status, 404);
    assert.equal(response.body, '');
    assert.equal(p.router.seen.length, 0);
    const [entry] = await p.accessLog.waitFor(1);
    assert.deepEqual([...entry!.info.responseFlags], ['NR']);
    assert.equal(entry!.info.responseCodeDetails, 'route_not_found');
    assert.equal(p.stats.get('http.inbound_0.0.0.0_80.no_route'), 1);
  });

  it('answers a gRPC request with no route as trailers-only UNIMPLEMENTED', async () => {
    const p = await proxy({ table: prefixTable([]) });
    const response = await get(p.port, '/pkg.Svc/Call', { method: 'POST', headers: { 'content-type': 'application/grpc' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers['grpc-status'], '12');
  });

  it('answers direct responses and redirects itself, with the route response headers', async () => {
    const direct = { ...routeEntry({ kind: 'direct', status: 503, body: 'down for maintenance' }), responseHeaders: { remove: [], set: [['x-why', 'maintenance'] as const], append: [], addIfAbsent: [] } };
    const redirect = routeEntry({ kind: 'redirect', redirect: (head) => ({ status: 301, location: `https://${head.authority}${head.path}` }) });
    const p = await proxy({ table: prefixTable([['/maintenance', direct], ['/old', redirect]]) });
    const maintenance = await get(p.port, '/maintenance', { headers: { host: 'shop' } });
    assert.equal(maintenance.status, 503);
    assert.equal(maintenance.body, 'down for maintenance');
    assert.equal(maintenance.headers['content-type'], 'text/plain');
    assert.equal(maintenance.headers['x-why'], 'maintenance');
    const moved = await get(p.port, '/old/page', { headers: { host: 'shop' } });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers['location'], 'https://shop/old/page');
    assert.equal(p.router.seen.length, 0);
    const entries = await p.accessLog.waitFor(2);
    assert.deepEqual(entries.map((e) => e.info.responseCodeDetails), ['direct_response', 'direct_response']);
  });

  it('generates x-request-id when absent and keeps one the client sent', async () => {
    const p = await proxy({ config: { alwaysSetRequestIdInResponse: true } });
    const generated = await get(p.port, '/');
    assert.equal(p.router.seen[0]!.request.headers['x-request-id'], p.requestIds[0]);
    assert.equal(p.router.seen[0]!.info.requestId, p.requestIds[0]);
    assert.equal(generated.headers['x-request-id'], p.requestIds[0]);
    await get(p.port, '/', { headers: { 'x-request-id': 'from-client' } });
    assert.equal(p.router.seen[1]!.request.headers['x-request-id'], 'from-client');
    assert.equal(p.requestIds.length, 1);
  });

  it('replaces an external request id at the edge unless told to preserve it', async () => {
    const edge = await proxy({ config: { useRemoteAddress: true } });
    await get(edge.port, '/', { headers: { 'x-request-id': 'spoofed' } });
    assert.equal(edge.router.seen[0]!.request.headers['x-request-id'], edge.requestIds[0]);
    const preserving = await proxy({ config: { useRemoteAddress: true, preserveExternalRequestId: true } });
    await get(preserving.port, '/', { headers: { 'x-request-id': 'from-client' } });
    assert.equal(preserving.router.seen[0]!.request.headers['x-request-id'], 'from-client');
  });

  it('appends the peer to x-forwarded-for and sets x-forwarded-proto when it uses the remote address', async () => {
    const edge = await proxy({ config: { useRemoteAddress: true } });
    await get(edge.port, '/', { headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-envoy-retry-on': '5xx' } });
    const headers = edge.router.seen[0]!.request.headers;
    assert.equal(headers['x-forwarded-for'], '203.0.113.7,127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.equal(headers['x-envoy-external-address'], '127.0.0.1');
    assert.equal(headers['x-envoy-retry-on'], undefined);

    const sidecar = await proxy();
    await get(sidecar.port, '/', { headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' } });
    const kept = sidecar.router.seen[0]!.request.headers;
    assert.equal(kept['x-forwarded-for'], '203.0.113.7');
    assert.equal(kept['x-forwarded-proto'], 'https');
  });

  it('takes the client address from x-forwarded-for past trusted hops', async () => {
    const p = await proxy({ config: { useRemoteAddress: true, xffNumTrustedHops: 1 } });
    await get(p.port, '/', { headers: { 'x-forwarded-for': '198.51.100.1, 10.0.0.9' } });
    assert.equal(p.router.seen[0]!.request.headers['x-envoy-external-address'], '10.0.0.9');
  });

  it('removes hop-by-hop headers both ways and keeps te: trailers', async () => {
    const p = await proxy();
    p.router.handler = () => ({
      status: 200,
      headers: { 'content-length': '2', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive', 'x-kept': 'yes' },
      body: Buffer.from('ok'),
    });
    const answer = await rawExchange(
      p.port,
      'GET / HTTP/1.1\r\nhost: a\r\nconnection: close, x-secret\r\nx-secret: 1\r\nkeep-alive: timeout=9\r\nte: trailers, deflate\r\nproxy-connection: x\r\nx-visible: 2\r\n\r\n',
    );
    const headers = p.router.seen[0]!.request.headers;
    for (const name of ['connection', 'keep-alive', 'x-secret', 'proxy-connection', 'host']) assert.equal(headers[name], undefined, name);
    assert.equal(headers['te'], 'trailers');
    assert.equal(headers['x-visible'], '2');
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(answer, /\r\nx-kept: yes\r\n/);
    assert.doesNotMatch(answer, /keep-alive: timeout=5|proxy-connection/i);
  });

  it('answers Expect: 100-continue itself and does not forward the expectation', async () => {
    const p = await proxy();
    p.router.handler = async (exchange) => {
      let text = '';
      for await (const chunk of exchange.body) text += String(chunk);
      return { status: 200, headers: {}, body: Buffer.from(`got ${text}`) };
    };
    const answer = await rawExchange(
      p.port,
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\nhello',
      (received) => received.endsWith('got hello\r\n0\r\n\r\n'),
    );
    assert.match(answer, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    assert.equal(p.router.seen[0]!.request.headers['expect'], undefined);
  });

  it('takes 100 request headers but refuses 101 with 431, closing the connection', async () => {
    const p = await proxy();
    const headers = (count: number): string => Array.from({ length: count - 1 }, (_, i) => `x-h${i}: v\r\n`).join('');
    assert.match(await rawExchange(p.port, `GET / HTTP/1.1\r\nhost: a\r\n${headers(100)}\r\n`, headArrived), /^HTTP\/1\.1 200 /);
    const answer = await rawExchange(p.port, `GET / HTTP/1.1\r\nhost: a\r\n${headers(101)}\r\n`);
    assert.match(answer, /^HTTP\/1\.1 431 /);
    assert.match(answer, /connection: close/i);
    assert.equal(p.router.seen.length, 1);
    const entries = await p.accessLog.waitFor(2);
    assert.equal(entries[1]!.info.responseCodeDetails, 'http1.too_many_headers');
    assert.deepEqual([...entries[1]!.info.responseFlags], ['DPE']);
  });

  it('refuses request headers over maxRequestHeadersKb with 431', async () => {
    const p = await proxy({ config: { maxRequestHeadersKb: 1 } });
    const answer = await rawExchange(p.port, `GET / HTTP/1.1\r\nhost: a\r\nx-big: ${'b'.repeat(2048)}\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 431 /);
    assert.equal(p.router.seen.length, 0);
  });

  it('answers HTTP/1.0 with 426 unless accepted, and then uses the default host', async () => {
    const strict = await proxy();
    assert.match(await rawExchange(strict.port, 'GET / HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 426 /);
    const lenient = await proxy({ config: { httpProtocolOptions: { acceptHttp10: true, defaultHostForHttp10: 'legacy.local' } } });
    assert.match(await rawExchange(lenient.port, 'GET / HTTP/1.0\r\n\r\n'), /^HTTP\/1\.[01] 200 /);
    assert.equal(lenient.router.seen[0]!.request.authority, 'legacy.local');
    assert.equal(lenient.router.seen[0]!.request.protocol, 'HTTP/1.0');
  });

  it('answers 400 to an HTTP/1.1 request with no host', async () => {
    const p = await proxy();
    assert.match(await rawExchange(p.port, 'GET / HTTP/1.1\r\n\r\n', headArrived), /^HTTP\/1\.1 400 /);
  });

  it('answers 400 to a request with two Host headers, never routing it, and closes the connection', async () => {
    const p = await proxy();
    const reply = await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: a.example\r\nhost: b.example\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.match(reply, /connection: close/i);
    assert.equal(p.router.seen.length, 0);
  });

  it('normalizes the path before routing when configured', async () => {
    const p = await proxy({ config: { normalizePath: true, mergeSlashes: true } });
    await get(p.port, '/a/./b/../c//d%7e');
    assert.equal(p.router.seen[0]!.request.path, '/a/c/d~');
  });

  it('takes the authority from an absolute-form request target', async () => {
    const p = await proxy();
    await rawExchange(p.port, 'GET http://shop.example/cart?id=1 HTTP/1.1\r\nhost: ignored\r\n\r\n', headArrived);
    assert.equal(p.router.seen[0]!.request.authority, 'shop.example');
    assert.equal(p.router.seen[0]!.request.path, '/cart?id=1');
  });

  it('answers 500 when a filter throws', async () => {
    const p = await proxy();
    p.router.handler = () => {
      throw new Error('bug');
    };
    const response = await get(p.port, '/');
    assert.equal(response.status, 500);
    const [entry] = await p.accessLog.waitFor(1);
    assert.equal(entry!.info.responseCodeDetails, 'filter_chain_error');
  });

  it('flags DC and aborts the signal when the client goes away before the response', async () => {
    const p = await proxy();
    let aborted = false;
    p.router.handler = (exchange) => new Promise((resolve) => {
      exchange.signal.addEventListener('abort', () => {
        aborted = true;
        resolve({ status: 200, headers: {}, body: null });
      });
    });
    const req = http.request({ host: '127.0.0.1', port: p.port, path: '/slow' });
    req.on('error', () => {});
    req.end();
    await eventually(() => p.router.seen.length === 1);
    req.destroy();
    const [entry] = await p.accessLog.waitFor(1);
    assert.ok(aborted);
    assert.deepEqual([...entry!.info.responseFlags], ['DC']);
    assert.equal(entry!.info.responseCodeDetails, 'downstream_remote_disconnect');
    assert.equal(entry!.response, undefined);
  });

  it('closes an idle keep-alive connection after the idle timeout', async () => {
    const p = await proxy({ config: { commonHttpProtocolOptions: { idleTimeout: '0.15s' } } });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      let socketClosed = false;
      agent.on('free', (socket) => socket.once('close', () => (socketClosed = true)));
      await get(p.port, '/', { agent });
      await eventually(() => socketClosed, 2000, 'the idle connection was not closed');
      assert.equal(p.stats.get('http.inbound_0.0.0.0_80.downstream_cx_idle_timeout'), 1);
    } finally {
      agent.destroy();
    }
  });

  it('answers 408 with SI when the stream idles before a response, and aborts the router', async () => {
    const p = await proxy({ config: { streamIdleTimeout: '0.1s' } });
    let aborted = false;
    p.router.handler = (exchange) => new Promise(() => {
      exchange.signal.addEventListener('abort', () => (aborted = true));
    });
    const response = await get(p.port, '/');
    assert.equal(response.status, 408);
    assert.equal(response.body, 'stream timeout');
    const [entry] = await p.accessLog.waitFor(1);
    assert.deepEqual([...entry!.info.responseFlags], ['SI']);
    assert.ok(aborted);
  });

  it('answers 408 when the whole request does not arrive within the request timeout', async () => {
    const p = await proxy({ config: { requestTimeout: '0.1s' } });
    p.router.handler = (exchange) => new Promise(() => {
      exchange.body.resume();
    });
    const answer = await rawExchange(p.port, 'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 10\r\n\r\nabc', (r) => r.includes('request timeout'));
    assert.match(answer, /^HTTP\/1\.1 408 /);
    const [entry] = await p.accessLog.waitFor(1);
    assert.equal(entry!.info.responseCodeDetails, 'request_overall_timeout');
  });

  it('marks responses connection: close once draining', async () => {
    const p = await proxy();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      p.router.handler = () => {
        p.manager.drain?.();
        return { status: 200, headers: {}, body: Buffer.from('bye') };
      };
      const response = await get(p.port, '/', { agent });
      assert.equal(response.headers['connection'], 'close');
    } finally {
      agent.destroy();
    }
  });

  it('answers, with connection: close, the first request of a connection accepted just before draining', async () => {
    const p = await proxy();
    p.router.handler = () => ({ status: 200, headers: {}, body: Buffer.from('still served') });
    const socket = net.connect(p.port, '127.0.0.1');
    await once(socket, 'connect');
    await eventually(() => p.stats.get('http.inbound_0.0.0.0_80.downstream_cx_active') === 1, 3000, 'the connection to be taken');
    p.manager.drain?.();
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await once(socket, 'close');
    assert.match(received, /^HTTP\/1\.1 200 /);
    assert.match(received, /connection: close/i);
    assert.match(received, /still served/);
  });
});

describe('HTTP connection manager over HTTP/2 prior knowledge', () => {
  const proxies: TestProxy[] = [];
  const clients: http2.ClientHttp2Session[] = [];
  after(async () => {
    for (const client of clients) client.destroy();
    for (const proxy of proxies) await proxy.close();
  });
  async function connect(options: Parameters<typeof startProxy>[0] = {}): Promise<{ proxy: TestProxy; client: http2.ClientHttp2Session }> {
    const proxy = await startProxy(options);
    proxies.push(proxy);
    const client = http2.connect(`http://127.0.0.1:${proxy.port}`);
    client.on('error', () => {});
    clients.push(client);
    return { proxy, client };
  }

  function request(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string) {
    return withTimeout(new Promise<{ headers: http2.IncomingHttpHeaders; body: string; trailers: http2.IncomingHttpHeaders | undefined }>((resolve, reject) => {
      const stream = client.request(headers, { endStream: body === undefined });
      let text = '';
      let trailers: http2.IncomingHttpHeaders | undefined;
      let responseHeaders: http2.IncomingHttpHeaders = {};
      stream.on('response', (h) => (responseHeaders = h));
      stream.on('trailers', (t) => (trailers = t));
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (text += chunk));
      stream.on('end', () => resolve({ headers: responseHeaders, body: text, trailers }));
      stream.on('error', reject);
      if (body !== undefined) stream.end(body);
    }), 3000, 'no HTTP/2 answer');
  }

  it('serves concurrent streams on one connection, sniffed by the connection preface', async () => {
    const { proxy, client } = await connect();
    proxy.router.handler = (exchange) => ({ status: 200, headers: {}, body: Buffer.from(`${exchange.request.protocol} ${exchange.request.path}`) });
    const answers = await Promise.all(['/one', '/two', '/three'].map((path) => request(client, { ':path': path, ':authority': 'shop' })));
    assert.deepEqual(answers.map((a) => a.body).sort(), ['HTTP/2 /one', 'HTTP/2 /three', 'HTTP/2 /two']);
    assert.equal(answers[0]!.headers[':status'], 200);
    assert.equal(answers[0]!.headers['server'], 'envoy');
    assert.equal(proxy.router.seen[0]!.request.authority, 'shop');
    assert.equal(proxy.stats.get('http.inbound_0.0.0.0_80.downstream_cx_http2_total'), 1);
    assert.equal(proxy.stats.get('http.inbound_0.0.0.0_80.downstream_rq_http2_total'), 3);
  });

  it('takes h2c when the listener sniffed it', async () => {
    const { proxy, client } = await connect({ applicationProtocols: ['h2c'] });
    const answer = await request(client, { ':path': '/' });
    assert.equal(answer.body, 'ok');
    assert.equal(proxy.router.seen[0]!.request.protocol, 'HTTP/2');
  });

  it('carries a gRPC-like exchange with trailers and te: trailers', async () => {
    const { proxy, client } = await connect();
    proxy.router.handler = async (exchange) => {
      let request = '';
      for await (const chunk of exchange.body) request += String(chunk);
      const { Readable } = await import('node:stream');
      return {
        status: 200,
        headers: { 'content-type': 'application/grpc' },
        body: Readable.from([Buffer.from(`echo:${request}`)]),
        trailers: Promise.resolve({ 'grpc-status': '0', 'grpc-message': 'fine' }),
      };
    };
    const answer = await request(client, { ':method': 'POST', ':path': '/pkg.Echo/Say', 'content-type': 'application/grpc', te: 'trailers' }, 'frame');
    assert.equal(answer.body, 'echo:frame');
    assert.equal(answer.trailers?.['grpc-status'], '0');
    assert.equal(answer.trailers?.['grpc-message'], 'fine');
    assert.equal(proxy.router.seen[0]!.request.headers['te'], 'trailers');
  });

  it('answers 404 NR on HTTP/2 too', async () => {
    const { proxy, client } = await connect({ table: prefixTable([], 'routes') });
    const answer = await request(client, { ':path': '/nothing' });
    assert.equal(answer.headers[':status'], 404);
    const [entry] = await proxy.accessLog.waitFor(1);
    assert.ok(entry!.info.responseFlags.has('NR'));
  });

  it('refuses more than 100 request headers with 431', async () => {
    const { proxy, client } = await connect();
    const headers: http2.OutgoingHttpHeaders = { ':path': '/' };
    for (let i = 0; i < 101; i++) headers[`x-h${i}`] = 'v';
    const answer = await request(client, headers);
    assert.equal(answer.headers[':status'], 431);
    assert.equal(proxy.router.seen.length, 0);
  });

  it('flags DC and aborts the signal when the client resets the stream', async () => {
    const { proxy, client } = await connect();
    let aborted = false;
    proxy.router.handler = (exchange) => new Promise(() => {
      exchange.signal.addEventListener('abort', () => (aborted = true));
    });
    const stream = client.request({ ':path': '/hang' });
    stream.on('error', () => {});
    await eventually(() => proxy.router.seen.length === 1);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    const [entry] = await proxy.accessLog.waitFor(1);
    assert.ok(aborted);
    assert.ok(entry!.info.responseFlags.has('DC'));
  });

  it('answers Expect: 100-continue with a 100 before the final response', async () => {
    const { proxy, client } = await connect();
    proxy.router.handler = async (exchange) => {
      exchange.body.resume();
      return { status: 200, headers: {}, body: Buffer.from('done') };
    };
    const stream = client.request({ ':method': 'POST', ':path': '/', expect: '100-continue' });
    const continued = withTimeout(new Promise<void>((resolve) => stream.once('continue', () => resolve())), 3000, 'no 100 Continue');
    stream.end('x');
    await continued;
    stream.resume();
    await withTimeout(new Promise((resolve) => stream.on('close', resolve)), 3000, 'stream did not close');
    assert.equal(proxy.router.seen[0]!.request.headers['expect'], undefined);
  });
});
