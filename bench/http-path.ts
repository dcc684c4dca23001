/**
 * Which HTTP path should the proxy be built on? Proxies small requests through candidate proxies
 * to a local upstream and reports requests/s and the proxy process's CPU per request.
 *
 * Three processes: a lean upstream (answers every request with a fixed 200), the proxy under test,
 * and this one, a closed-loop client with N keep-alive connections sending a fixed count of
 * requests. Upstream and client are written on `net` with next to no parsing, so that the 2 cores
 * go to the proxy. Candidates:
 *   - direct:     the client talks to the upstream (the floor: no proxy at all)
 *   - node-local: node:http server answering by itself (the downstream codec's share of the cost)
 *   - weft-hcm-local: Weft's HTTP connection manager (node:http inside) with a router that answers
 *                 by itself: what the connection manager adds to node-local
 *   - node-http:  node:http server downstream, http.request with a keep-alive Agent upstream
 *   - undici:     node:http server downstream, an undici Pool upstream (needs `--undici <dir>`, a
 *                 directory holding node_modules/undici; Weft does not depend on it)
 *   - node-lean-upstream: node:http server downstream, the lean codec below upstream (GET only)
 *   - lean:       a hand-written HTTP/1.1 parser on `net` both ways, content-length bodies only:
 *                 the ceiling of what a custom codec could reach, not a usable proxy
 *
 *   node bench/http-path.ts [--requests N] [--connections C] [--body BYTES] [--runs R] [--undici DIR]
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { once } from 'node:events';
import { pathToFileURL, fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { ok } from '../src/core/index.ts';
import { HTTP_CONNECTION_MANAGER_TYPE, ROUTER_TYPE } from '../src/xds/envoy/index.ts';
import type { HttpFilterFactory } from '../src/proxy/http/filter-factory.ts';
import type { RouteEntry } from '../src/proxy/route/index.ts';
import { HttpConnectionManagerFactory } from '../src/proxy/network/http-connection-manager/index.ts';

type Variant = 'direct' | 'node-local' | 'weft-hcm-local' | 'node-http' | 'undici' | 'node-lean-upstream' | 'lean';

const RESPONSE_BODY = 'hello from upstream\n';
const UPSTREAM_RESPONSE = Buffer.from(
  `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${RESPONSE_BODY.length}\r\n\r\n${RESPONSE_BODY}`,
);
const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Byte offset just past the head and the content-length, or undefined while the head is incomplete. */
function parseHead(buffer: Buffer, from: number): { end: number; length: number } | undefined {
  const end = buffer.indexOf(CRLFCRLF, from);
  if (end < 0) return undefined;
  const head = buffer.toString('latin1', from, end).toLowerCase();
  const at = head.indexOf('content-length:');
  const length = at < 0 ? 0 : Number.parseInt(head.slice(at + 15, at + 40), 10);
  if (head.includes('transfer-encoding: chunked')) throw new Error('bench parser reads content-length bodies only');
  return { end: end + 4, length };
}

/** Calls onMessage with each complete message (head and content-length body) arriving on a socket. */
function messages(socket: net.Socket, onMessage: (message: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    for (;;) {
      const head = parseHead(pending, offset);
      if (head === undefined || pending.length < head.end + head.length) break;
      onMessage(pending.subarray(offset, head.end + head.length));
      offset = head.end + head.length;
    }
    pending = offset === pending.length ? Buffer.alloc(0) : pending.subarray(offset);
  });
}

async function runUpstream(): Promise<void> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    messages(socket, () => socket.write(UPSTREAM_RESPONSE));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.send!({ port: (server.address() as net.AddressInfo).port });
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection']);

function forwardHeaders(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(name)) out[name] = raw[i + 1]!;
  }
  return out;
}

async function answerLocally(): Promise<net.Server> {
  return http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': RESPONSE_BODY.length });
    res.end(RESPONSE_BODY);
  });
}

/** Weft's connection manager on a net server, as the listener hands it connections; the router answers 200 itself. */
async function weftHcmLocal(): Promise<net.Server> {
  const body = Buffer.from(RESPONSE_BODY);
  const router: HttpFilterFactory = {
    typeUrl: ROUTER_TYPE,
    parse: () => ok(null),
    create: () => ({ handle: async () => ({ status: 200, headers: { 'content-type': 'text/plain', 'content-length': String(body.length) }, body }) }),
  };
  const none = { remove: [], set: [], append: [], addIfAbsent: [] };
  const route: RouteEntry = {
    name: 'bench', virtualHostName: 'bench', requestHeaders: none, responseHeaders: none, perFilterConfig: new Map(),
    action: { kind: 'forward', pickCluster: () => ({ name: 'bench', requestHeaders: none, responseHeaders: none }), timeoutMs: 15_000, rewrite() {}, hashPolicies: [], mirrors: [] },
  };
  const factory = new HttpConnectionManagerFactory({
    routes: { get: () => ({ name: 'bench', match: () => route }) },
    httpFilters: new Map([[ROUTER_TYPE, router]]),
    timers: { setTimeout: (callback, ms) => setTimeout(callback, ms), clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout) },
    newRequestId: () => crypto.randomUUID(),
  });
  const parsed = factory.parse({
    '@type': HTTP_CONNECTION_MANAGER_TYPE, statPrefix: 'bench', rds: { configSource: { ads: {} }, routeConfigName: 'bench' },
    httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_TYPE } }],
  });
  if (!parsed.ok) throw new Error(parsed.error);
  const noStat = { inc() {}, dec() {}, set() {}, record() {} };
  const stats = { counter: () => noStat, gauge: () => noStat, histogram: () => noStat, scope: () => stats };
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const manager = factory.create(parsed.value, {
    clusters: { get: () => undefined, names: () => [] }, stats, accessLog: { log() {} }, clock: { now: () => Date.now() }, random: Math.random, logger: quiet,
  });
  let id = 0;
  return net.createServer((socket) => {
    manager.onConnection({
      socket,
      downstream: { connectionId: ++id, remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0, localAddress: socket.localAddress ?? '', localPort: socket.localPort ?? 0 },
      originalDestination: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
      listenerName: 'bench',
      sniffed: { transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.1'] },
    });
  });
}

async function proxyNodeHttp(upstreamPort: number): Promise<net.Server> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
  return http.createServer((req, res) => {
    const upstream = http.request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: forwardHeaders(req.rawHeaders), agent },
      (response) => {
        res.writeHead(response.statusCode!, forwardHeaders(response.rawHeaders));
        response.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
}

async function proxyUndici(upstreamPort: number, undiciDir: string): Promise<net.Server> {
  const undici = (await import(pathToFileURL(path.join(undiciDir, 'node_modules/undici/index.js')).href)) as {
    Pool: new (origin: string, options: object) => {
      request(options: object): Promise<{ statusCode: number; headers: Record<string, string | string[]>; body: NodeJS.ReadableStream }>;
    };
  };
  const pool = new undici.Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 256, pipelining: 1 });
  return http.createServer((req, res) => {
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool
      .request({ path: req.url, method: req.method, headers: forwardHeaders(req.rawHeaders), body: hasBody ? req : undefined })
      .then(
        (response) => {
          const headers: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(response.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
          res.writeHead(response.statusCode, headers);
          response.body.pipe(res);
        },
        () => res.destroy(),
      );
  });
}

/** A pool of upstream sockets, each carrying one request at a time. */
function leanUpstream(upstreamPort: number): (request: Buffer, reply: (head: Buffer, body: Buffer) => void) => void {
  const idle: net.Socket[] = [];
  const waiting = new WeakMap<net.Socket, (head: Buffer, body: Buffer) => void>();
  function upstreamSocket(): net.Socket {
    const reused = idle.pop();
    if (reused !== undefined) return reused;
    const socket = net.connect(upstreamPort, '127.0.0.1');
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const head = parseHead(pending, 0);
      if (head === undefined || pending.length < head.end + head.length) return;
      const reply = waiting.get(socket)!;
      reply(pending.subarray(0, head.end), pending.subarray(head.end, head.end + head.length));
      pending = Buffer.alloc(0);
      idle.push(socket);
    });
    return socket;
  }
  return (request, reply) => {
    const socket = upstreamSocket();
    waiting.set(socket, reply);
    socket.write(request);
  };
}

async function proxyNodeLeanUpstream(upstreamPort: number): Promise<net.Server> {
  const send = leanUpstream(upstreamPort);
  return http.createServer((req, res) => {
    req.resume();
    let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (!HOP_BY_HOP.has(req.rawHeaders[i]!.toLowerCase())) head += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    }
    send(Buffer.from(`${head}\r\n`, 'latin1'), (responseHead, body) => {
      const lines = responseHead.toString('latin1', 0, responseHead.length - 4).split('\r\n');
      const headers: Record<string, string> = {};
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i]!;
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      res.writeHead(Number(lines[0]!.slice(9, 12)), headers);
      res.end(body);
    });
  });
}

/** The lean codec both ways; replies on a connection go back in order. */
async function proxyLean(upstreamPort: number): Promise<net.Server> {
  const send = leanUpstream(upstreamPort);
  return net.createServer((downstream) => {
    downstream.setNoDelay(true);
    // Requests on one connection are answered in order: one upstream exchange at a time.
    const queue: Buffer[] = [];
    let busy = false;
    const pump = (): void => {
      const request = queue.shift();
      if (request === undefined) {
        busy = false;
        return;
      }
      busy = true;
      send(request, (head, body) => {
        downstream.write(Buffer.concat([head, body]));
        pump();
      });
    };
    messages(downstream, (message) => {
      queue.push(Buffer.from(message));
      if (!busy) pump();
    });
  });
}

async function runProxy(variant: Variant, upstreamPort: number, undiciDir: string): Promise<void> {
  const server =
    variant === 'node-local' ? await answerLocally()
    : variant === 'weft-hcm-local' ? await weftHcmLocal()
    : variant === 'node-http' ? await proxyNodeHttp(upstreamPort)
    : variant === 'undici' ? await proxyUndici(upstreamPort, undiciDir)
    : variant === 'node-lean-upstream' ? await proxyNodeLeanUpstream(upstreamPort)
    : await proxyLean(upstreamPort);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.on('message', () => process.send!({ cpu: process.cpuUsage(), rss: process.memoryUsage().rss }));
  process.send!({ port: (server.address() as net.AddressInfo).port });
}

/** Sends `count` requests over `connections` keep-alive connections, each waiting for its reply. */
async function load(port: number, connections: number, count: number, bodyBytes: number): Promise<number> {
  const body = 'x'.repeat(bodyBytes);
  const request = Buffer.from(
    bodyBytes === 0
      ? 'GET /bench HTTP/1.1\r\nhost: bench\r\nuser-agent: weft-bench\r\n\r\n'
      : `POST /bench HTTP/1.1\r\nhost: bench\r\nuser-agent: weft-bench\r\ncontent-type: text/plain\r\ncontent-length: ${bodyBytes}\r\n\r\n${body}`,
  );
  let sent = 0;
  let received = 0;
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`load timed out after ${received} responses`)), 120_000);
    for (let i = 0; i < connections; i++) {
      const socket = net.connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      socket.on('error', reject);
      const send = (): void => {
        if (sent >= count) {
          socket.end();
          return;
        }
        sent++;
        socket.write(request);
      };
      socket.on('connect', send);
      messages(socket, (head) => {
        if (head[9] !== 0x32) reject(new Error(`status ${head.toString('latin1', 9, 12)}`));
        received++;
        if (received === count) {
          clearTimeout(timer);
          resolve();
        }
        send();
      });
    }
  });
  return performance.now() - start;
}

function child(args: string[]): { process: ChildProcess; message: Promise<{ port: number }> } {
  const proc = fork(fileURLToPath(import.meta.url), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return { process: proc, message: once(proc, 'message').then(([m]) => m as { port: number }) };
}

async function cpuOf(proc: ChildProcess): Promise<{ cpu: NodeJS.CpuUsage; rss: number }> {
  const reply = once(proc, 'message');
  proc.send('cpu');
  return (await reply)[0] as { cpu: NodeJS.CpuUsage; rss: number };
}

interface Sample {
  readonly rps: number;
  readonly cpuUsPerRequest: number;
  readonly rssMiB: number;
}

async function measure(variant: Variant, options: Options): Promise<Sample> {
  const upstream = child(['upstream']);
  const { port: upstreamPort } = await upstream.message;
  let proxy: ReturnType<typeof child> | undefined;
  try {
    let port = upstreamPort;
    if (variant !== 'direct') {
      proxy = child(['proxy', variant, String(upstreamPort), options.undici]);
      port = (await proxy.message).port;
    }
    await load(port, options.connections, Math.min(10_000, options.requests), options.body);
    const before = proxy === undefined ? undefined : await cpuOf(proxy.process);
    const ms = await load(port, options.connections, options.requests, options.body);
    const after = proxy === undefined ? undefined : await cpuOf(proxy.process);
    const cpuUs = before === undefined || after === undefined ? 0 : after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
    return { rps: (options.requests / ms) * 1000, cpuUsPerRequest: cpuUs / options.requests, rssMiB: (after?.rss ?? 0) / 2 ** 20 };
  } finally {
    proxy?.process.kill();
    upstream.process.kill();
  }
}

interface Options {
  readonly requests: number;
  readonly connections: number;
  readonly body: number;
  readonly runs: number;
  readonly undici: string;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string, fallback: string): string => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1]! : fallback;
  };
  return {
    requests: Number(value('requests', '60000')),
    connections: Number(value('connections', '32')),
    body: Number(value('body', '0')),
    runs: Number(value('runs', '3')),
    undici: value('undici', ''),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const [role, variant, upstreamPort, undiciDir] = process.argv.slice(2);
  if (role === 'upstream') return runUpstream();
  if (role === 'proxy') return runProxy(variant as Variant, Number(upstreamPort), undiciDir ?? '');
  const options = parseOptions(process.argv.slice(2));
  const variants: Variant[] = ['direct', 'node-local', 'weft-hcm-local', 'node-http', ...(options.undici === '' ? [] : (['undici'] as const)), ...(options.body === 0 ? (['node-lean-upstream'] as const) : []), 'lean'];
  const samples = new Map<Variant, Sample[]>(variants.map((v) => [v, []]));
  // Runs interleave the variants so that drift in the machine's speed hits each alike.
  for (let run = 0; run < options.runs; run++) {
    for (const v of variants) samples.get(v)!.push(await measure(v, options));
  }
  console.log(
    `${options.requests} requests (${options.body === 0 ? 'GET' : `POST ${options.body} B`}, ${RESPONSE_BODY.length} B response), ` +
      `${options.connections} keep-alive connections; median of ${options.runs} runs`,
  );
  console.log('| path | requests/s | proxy CPU µs/request | proxy RSS MiB |');
  console.log('|---|---|---|---|');
  for (const v of variants) {
    const s = samples.get(v)!;
    const cpu = median(s.map((x) => x.cpuUsPerRequest));
    console.log(
      `| ${v} | ${Math.round(median(s.map((x) => x.rps)))} | ${v === 'direct' ? '' : cpu.toFixed(1)} | ${v === 'direct' ? '' : Math.round(median(s.map((x) => x.rssMiB)))} |`,
    );
  }
}

await main();
