import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import * as http2 from 'node:http2';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type RunningControlPlane } from '../../src/main/control-plane.ts';

/**
 * `weft proxy` as a real process, an ingress gateway fed by the control plane over ADS, carrying
 * requests to real upstream servers as the seed examples 002-booking-gateway and 003-gateway-blog
 * configure it; then a SIGTERM drain.
 */
const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const SEEDS = fileURLToPath(new URL('../../../shared/seed-examples/', import.meta.url));
const silent = { debug() {}, info() {}, warn() {}, error() {} };

interface Seen {
  readonly service: string;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** An upstream that answers with who it is and what it saw; `?delay=ms` answers late. */
async function upstream(service: string, seen: Seen[]): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push({ service, method: request.method ?? '', url: request.url ?? '', headers: request.headers });
      const delay = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
      setTimeout(() => {
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ service, path: request.url, body: Buffer.concat(chunks).toString() }));
      }, delay);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : 0 };
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** An HTTP/1.1 request with the Host header given (fetch replaces Host with the URL's). */
function send(url: string, host: string, options: { method?: string; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: options.method ?? 'GET', headers: { host }, timeout: 10_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url} in 10 s`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

/** A Service and a WorkloadEntry on 127.0.0.1 for each upstream: the registry the seeds' destinations name. */
function registry(services: readonly { name: string; port: number; targetPort: number; portName?: string }[]): string {
  return services.map(({ name, port, targetPort, portName = 'http' }) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  selector: {app: ${name}}
  ports: [{name: ${portName}, port: ${port}, targetPort: ${port}}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}-host, namespace: default}
spec:
  address: 127.0.0.1
  labels: {app: ${name}}
  ports: {${portName}: ${targetPort}}
`).join('---\n');
}

/** Istio's TCP gateway task: a TCP server on 31400 routed to a TCP service. */
const TCP_GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp-echo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [tcp-gateway]
  tcp:
  - match: [{port: 31400}]
    route:
    - destination: {host: echo, port: {number: 9000}}
`;

class ProxyProcess {
  readonly child: ChildProcess;
  stderr = '';
  stdout = '';
  adminUrl = '';

  constructor(xdsAddress: string, extra: readonly string[] = []) {
    this.child = spawn(process.execPath, [
      WEFT, 'proxy', '--type', 'router', '--pod-name', 'istio-ingressgateway-1', '--namespace', 'istio-system', '--label', 'istio=ingressgateway',
      '--xds-address', xdsAddress, '--admin-address', '127.0.0.1:0', '--health-address', '127.0.0.1:0', '--stats-address', '127.0.0.1:0',
      '--bind-address', '127.0.0.1', '--port-map', '80=0', '--port-map', '31400=0', ...extra,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  /** Waits for the admin port, then for /ready to say LIVE. */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const admin = /admin listening address=(\S+)/.exec(this.stderr);
      if (admin !== null) {
        this.adminUrl = `http://${admin[1]}`;
        const ready = await fetch(`${this.adminUrl}/ready`).catch(() => undefined);
        if (ready?.status === 200) return;
      }
      if (this.child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`proxy not ready:\n${this.stderr}`);
  }

  async admin(path: string): Promise<string> {
    return (await fetch(`${this.adminUrl}${path}`)).text();
  }

  async listenerPort(name: string): Promise<number> {
    const listeners = JSON.parse(await this.admin('/listeners?format=json')) as { listener_statuses: { name: string; local_address: { socket_address: { port_value: number } } }[] };
    const found = listeners.listener_statuses.find((l) => l.name === name);
    if (found === undefined) throw new Error(`no listener ${name}: ${JSON.stringify(listeners)}`);
    return found.local_address.socket_address.port_value;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const [code] = (await once(this.child, 'exit')) as [number | null];
    return code;
  }
}

describe('weft proxy as the ingress gateway of the seed examples', () => {
  let dir: string;
  let controlPlane: RunningControlPlane;
  let proxy: ProxyProcess;
  let gateway: string;
  let gatewayPort: number;
  const seen: Seen[] = [];
  const servers: (Server | TcpServer)[] = [];

  before(async () => {
    const booking = await upstream('booking-service', seen);
    const blog = await upstream('my-blog-service', seen);
    const echo = createTcpServer((socket) => socket.pipe(socket));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    servers.push(booking.server, blog.server, echo);
    dir = mkdtempSync(join(tmpdir(), 'weft-gw-'));
    writeFileSync(join(dir, 'registry.yaml'), registry([
      { name: 'booking-service', port: 8080, targetPort: booking.port },
      { name: 'my-blog-service', port: 80, targetPort: blog.port },
      { name: 'echo', port: 9000, targetPort: (echo.address() as AddressInfo).port, portName: 'tcp' },
    ]));
    writeFileSync(join(dir, 'tcp.yaml'), TCP_GATEWAY);
    writeFileSync(join(dir, 'booking.yaml'), readFileSync(join(SEEDS, '002-booking-gateway.yaml'), 'utf8'));
    writeFileSync(join(dir, 'blog.yaml'), readFileSync(join(SEEDS, '003-gateway-blog.yaml'), 'utf8'));
    controlPlane = await startControlPlane({
      config: { directory: dir }, xdsAddress: '127.0.0.1:0', debugAddress: '127.0.0.1:0', logger: silent, push: { debounceQuietMs: 20, debounceMaxMs: 200 },
    });
    proxy = new ProxyProcess(`127.0.0.1:${controlPlane.xdsPort}`);
    await proxy.ready();
    gatewayPort = await proxy.listenerPort('0.0.0.0_80');
    gateway = `http://127.0.0.1:${gatewayPort}`;
  });

  after(async () => {
    await proxy?.stop();
    await controlPlane?.close();
    for (const server of servers) server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends /api/v1/booking on any host to booking-service port 8080 (002-booking-gateway)', async () => {
    const response = await send(`${gateway}/api/v1/booking/42`, 'shop.example.com');
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { service: 'booking-service', path: '/api/v1/booking/42', body: '' });
  });

  it('answers 404 for a path no route of that host has', async () => {
    const response = await send(`${gateway}/api/v2/other`, 'shop.example.com');
    assert.equal(response.status, 404);
  });

  it('sends the host codewithmsmaxpro.me to my-blog-service port 80 (003-gateway-blog), any path', async () => {
    const response = await send(`${gateway}/posts/hello`, 'codewithmsmaxpro.me');
    assert.equal(response.status, 200);
    assert.equal((JSON.parse(response.body) as { service: string }).service, 'my-blog-service');
  });

  it('answers 404 for a host no Gateway server lists, on a path only the other host routes', async () => {
    const response = await send(`${gateway}/posts/hello`, 'evil.example.com');
    assert.equal(response.status, 404);
  });

  it('gives the upstream the standard headers: x-request-id, x-forwarded-for and -proto, x-envoy-attempt-count', async () => {
    const before = seen.length;
    const response = await send(`${gateway}/api/v1/booking/headers`, 'shop.example.com');
    const request = seen.slice(before).find((s) => s.url === '/api/v1/booking/headers');
    assert.ok(request !== undefined);
    assert.match(String(request.headers['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(request.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(request.headers['x-forwarded-proto'], 'http');
    assert.equal(request.headers['x-envoy-attempt-count'], '1');
    assert.match(String(response.headers['x-envoy-upstream-service-time']), /^\d+$/);
  });

  it('streams a request body to the upstream', async () => {
    const body = 'x'.repeat(200_000);
    const response = await send(`${gateway}/api/v1/booking/orders`, 'shop.example.com', { method: 'POST', body });
    assert.equal((JSON.parse(response.body) as { body: string }).body.length, body.length);
  });

  it('carries HTTP/2 (h2c, prior knowledge) from the client', async () => {
    const session = http2.connect(gateway);
    try {
      const stream = session.request({ ':path': '/api/v1/booking/h2', ':authority': 'shop.example.com' });
      const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
      let body = '';
      stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
      await once(stream, 'end');
      assert.equal(headers[':status'], 200);
      assert.equal((JSON.parse(body) as { path: string }).path, '/api/v1/booking/h2');
    } finally {
      session.close();
    }
  });

  it('writes an access log line per request in Envoy\'s format, with NR for the unroutable one', async () => {
    const deadline = Date.now() + 5000;
    while (!proxy.stdout.includes('/api/v2/other') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const line = proxy.stdout.split('\n').find((l) => l.includes('"GET /api/v2/other HTTP/1.1"'));
    assert.ok(line !== undefined, proxy.stdout);
    assert.match(line, /" 404 NR route_not_found /);
    const booked = proxy.stdout.split('\n').find((l) => l.includes('"GET /api/v1/booking/42 HTTP/1.1"'));
    assert.match(String(booked), /" 200 - via_upstream /);
    assert.match(String(booked), /outbound\|8080\|\|booking-service\.default\.svc\.cluster\.local/);
  });

  it('carries TCP through a TCP gateway server, both directions and the close', async () => {
    const port = await proxy.listenerPort('0.0.0.0_31400');
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    let echoed = '';
    socket.on('data', (chunk: Buffer) => (echoed += chunk.toString()));
    socket.end('hello through the gateway');
    await once(socket, 'close');
    assert.equal(echoed, 'hello through the gateway');
  });

  it('shows its config, clusters and stats on the admin port', async () => {
    const dump = JSON.parse(await proxy.admin('/config_dump')) as { configs: { '@type': string }[] };
    assert.ok(dump.configs.some((c) => c['@type'].endsWith('ListenersConfigDump')));
    const clusters = await proxy.admin('/clusters');
    assert.match(clusters, /outbound\|8080\|\|booking-service\.default\.svc\.cluster\.local::127\.0\.0\.1:\d+::health_flags::healthy/);
    const stats = await proxy.admin('/stats/prometheus');
    assert.match(stats, /envoy_cluster_upstream_rq_total\{envoy_cluster_name="outbound\|8080\|\|booking-service\.default\.svc\.cluster\.local"\} [1-9]/);
  });

  it('follows a config change pushed by the control plane', async () => {
    writeFileSync(join(dir, 'blog.yaml'), readFileSync(join(SEEDS, '003-gateway-blog.yaml'), 'utf8').replace('codewithmsmaxpro.me"', 'blog.example.org"').replace('- "codewithmsmaxpro.me"', '- "blog.example.org"'));
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await send(`${gateway}/`, 'blog.example.org')).status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(status, 200);
    assert.equal((await send(`${gateway}/`, 'codewithmsmaxpro.me')).status, 404);
  });
});

describe('weft proxy on SIGTERM (fed over Delta ADS)', () => {
  it('stops accepting, lets the request in flight finish, and exits 0', async () => {
    const seen: Seen[] = [];
    const booking = await upstream('booking-service', seen);
    const dir = mkdtempSync(join(tmpdir(), 'weft-drain-'));
    writeFileSync(join(dir, 'registry.yaml'), registry([{ name: 'booking-service', port: 8080, targetPort: booking.port }]));
    writeFileSync(join(dir, 'booking.yaml'), readFileSync(join(SEEDS, '002-booking-gateway.yaml'), 'utf8'));
    const controlPlane = await startControlPlane({
      config: { directory: dir }, xdsAddress: '127.0.0.1:0', debugAddress: '127.0.0.1:0', logger: silent, push: { debounceQuietMs: 20, debounceMaxMs: 200 },
    });
    // A deadline far beyond the test's own wait: the proxy must exit because its connections are done.
    const proxy = new ProxyProcess(`127.0.0.1:${controlPlane.xdsPort}`, ['--termination-drain-duration', '60s', '--access-log', 'off', '--ads-mode', 'delta']);
    try {
      await proxy.ready();
      const port = await proxy.listenerPort('0.0.0.0_80');
      const inFlight = send(`http://127.0.0.1:${port}/api/v1/booking/slow?delay=700`, 'x');
      while (!seen.some((s) => s.url.includes('slow'))) await new Promise((resolve) => setTimeout(resolve, 10));
      proxy.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const refused = await new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(false);
        });
        socket.once('error', () => resolve(true));
      });
      assert.equal(refused, true, 'a new connection is refused while draining');
      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.equal((JSON.parse(response.body) as { path: string }).path, '/api/v1/booking/slow?delay=700');
      const [code] = (await once(proxy.child, 'exit', { signal: AbortSignal.timeout(15_000) })) as [number | null];
      assert.equal(code, 0);
    } finally {
      await proxy.stop();
      await controlPlane.close();
      booking.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
