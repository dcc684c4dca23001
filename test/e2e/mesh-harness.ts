/**
 * A mesh in one test process for end-to-end tests of traffic and security policy: the control plane
 * in-process, with a MeshConfig of the test's choosing, fed from a directory of Istio YAML the test
 * writes, one `weft proxy` process as the ingress
 * gateway (over ADS, access log as JSON on stdout), and in-test upstream servers, each on a
 * loopback address of its own so that each is one endpoint of a Service. Only tests import this.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import * as http2 from 'node:http2';
import { connect, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, type RunningControlPlane } from '../../src/main/control-plane.ts';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../src/control/model/index.ts';

const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

/** Waits for `condition`, polling every 25 ms, and throws with `what` after `timeoutMs`. */
export async function eventually<T>(condition: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What an upstream saw of one request. */
export interface SeenRequest {
  readonly upstream: string;
  /** `1.1` or `2.0`. */
  readonly httpVersion: string;
  readonly method: string;
  readonly path: string;
  /** The Host header, or :authority over HTTP/2. */
  readonly authority: string;
  readonly headers: IncomingHttpHeaders;
  /** Which of the upstream's connections carried it (1, 2, ...). */
  readonly connection: number;
  /** The upstream's connections open when it arrived. */
  readonly openConnections: number;
  /** Requests in progress on its connection when it arrived, itself included. */
  readonly streamsOnConnection: number;
}

/** How an upstream answers a request: a status (200), after a delay (none), with headers and a body (JSON naming the upstream). */
export interface Answer {
  readonly status?: number;
  readonly delayMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

interface ConnectionRecord {
  readonly id: number;
  /** performance.now() when the upstream saw it close. */
  closedAt: number | undefined;
  /** Requests in progress on it. */
  streams: number;
}

/**
 * An HTTP/1.1 or HTTP/2 (h2c, prior knowledge) server on its own loopback address that records
 * every request and connection and answers as `answer` says (settable at any time).
 */
export class Upstream {
  readonly name: string;
  readonly address: string;
  readonly protocol: 'http1' | 'h2c';
  readonly seen: SeenRequest[] = [];
  readonly connections: ConnectionRecord[] = [];
  answer: (request: SeenRequest) => Answer = () => ({});
  port = 0;
  readonly #server: Server | http2.Http2Server;
  readonly #sockets = new Set<Socket>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Each socket's or HTTP/2 session's record. */
  readonly #records = new WeakMap<object, ConnectionRecord>();

  private constructor(name: string, address: string, protocol: 'http1' | 'h2c') {
    this.name = name;
    this.address = address;
    this.protocol = protocol;
    if (protocol === 'http1') {
      const server = createServer();
      server.on('connection', (socket: Socket) => {
        const record = this.#opened(socket);
        this.#sockets.add(socket);
        socket.once('close', () => {
          record.closedAt = performance.now();
          this.#sockets.delete(socket);
        });
      });
      server.on('request', (request, response) => {
        const record = this.#records.get(request.socket)!;
        this.#serve(record, request.httpVersion, request.method ?? '', request.url ?? '', request.headers.host ?? '', request.headers, request, (answer, body) => {
          response.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
          response.end(body);
        });
      });
      this.#server = server;
    } else {
      const server = http2.createServer();
      server.on('session', (session: http2.ServerHttp2Session) => {
        const record = this.#opened(session);
        this.#sessions.add(session);
        session.once('close', () => {
          record.closedAt = performance.now();
          this.#sessions.delete(session);
        });
      });
      server.on('request', (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => {
        const record = this.#records.get(request.stream.session!)!;
        this.#serve(record, request.httpVersion, request.method, request.url, request.authority, request.headers, request, (answer, body) => {
          if (response.stream.destroyed) return;
          response.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
          response.end(body);
        });
      });
      this.#server = server;
    }
  }

  static async start(name: string, address: string, protocol: 'http1' | 'h2c' = 'http1'): Promise<Upstream> {
    const upstream = new Upstream(name, address, protocol);
    upstream.#server.listen(0, address);
    await once(upstream.#server, 'listening');
    const bound = upstream.#server.address();
    upstream.port = typeof bound === 'object' && bound !== null ? bound.port : 0;
    return upstream;
  }

  /** Connections open now. */
  openConnections(): number {
    return this.connections.filter((c) => c.closedAt === undefined).length;
  }

  /** Requests seen whose path contains `token`. */
  saw(token: string): SeenRequest[] {
    return this.seen.filter((s) => s.path.includes(token));
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    for (const socket of this.#sockets) socket.destroy();
    for (const session of this.#sessions) session.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #opened(connection: object): ConnectionRecord {
    const record: ConnectionRecord = { id: this.connections.length + 1, closedAt: undefined, streams: 0 };
    this.connections.push(record);
    this.#records.set(connection, record);
    return record;
  }

  #serve(
    record: ConnectionRecord, httpVersion: string, method: string, path: string, authority: string, headers: IncomingHttpHeaders,
    body: Readable, reply: (answer: Answer, body: string) => void,
  ): void {
    record.streams++;
    const seen: SeenRequest = {
      upstream: this.name, httpVersion, method, path, authority, headers, connection: record.id,
      openConnections: this.openConnections(), streamsOnConnection: record.streams,
    };
    this.seen.push(seen);
    body.resume();
    body.once('end', () => {
      const answer = this.answer(seen);
      const text = answer.body ?? JSON.stringify({ upstream: this.name, path });
      const send = (): void => {
        record.streams--;
        reply(answer, text);
      };
      if (answer.delayMs === undefined || answer.delayMs <= 0) {
        send();
        return;
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        send();
      }, answer.delayMs);
      this.#timers.add(timer);
    });
  }
}

/** A Service `name` in namespace default with one port, and a WorkloadEntry per upstream carrying its labels. */
export function serviceYaml(name: string, port: { readonly name: string; readonly number: number }, endpoints: readonly { readonly upstream: { readonly address: string; readonly port: number }; readonly labels?: Readonly<Record<string, string>> }[]): string {
  const service = `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  selector: {app: ${name}}
  ports: [{name: ${port.name}, port: ${port.number}, targetPort: ${port.number}}]
`;
  const entries = endpoints.map(({ upstream, labels = {} }, i) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}-${i}, namespace: default}
spec:
  address: ${upstream.address}
  labels: ${JSON.stringify({ app: name, ...labels })}
  ports: {${port.name}: ${upstream.port}}
`);
  return [service, ...entries].join('---\n');
}

/** One line of the gateway's access log (Istio's JSON encoding). */
export interface AccessLogLine {
  readonly method: string | null;
  readonly path: string | null;
  readonly response_code: number;
  readonly response_flags: string;
  readonly response_code_details: string | null;
  readonly duration: number;
  readonly upstream_host: string | null;
  readonly upstream_cluster: string | null;
  readonly authority: string | null;
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** From sending the request to the end of the response. */
  readonly ms: number;
}

export interface SendOptions {
  readonly host: string;
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  /** The client's source address (127.0.0.x). */
  readonly localAddress?: string;
  readonly body?: string;
  readonly timeoutMs?: number;
}

/** The name of the Gateway every test's VirtualService binds to: port 80, any host. */
export const GATEWAY = 'edge';

const GATEWAY_YAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${GATEWAY}, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;

export interface MeshOptions {
  /** The gateway's locality, `region/zone/subzone`. */
  readonly locality?: string;
  /** MeshConfig fields over Istio's defaults (pathNormalization, extensionProviders, ...). */
  readonly mesh?: Partial<MeshConfig>;
  /** `<name>.yaml` files in the config directory from the start, beside the Gateway. */
  readonly files?: Readonly<Record<string, string>>;
}

/** What `sendRaw` got: a parsed response, or nothing before the gateway closed (or the time ran out). */
export interface RawReply {
  readonly status: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * The control plane with a config directory, and the ingress gateway it feeds. Tests write YAML
 * with `apply` (or `configure`, which waits until the gateway runs it), send requests through the
 * gateway, and read its access log, stats, config and clusters.
 */
export class Mesh {
  readonly #dir: string;
  readonly #controlPlane: RunningControlPlane;
  readonly #proxy: ChildProcess;
  /** What the control plane logged as errors (a listener it could not generate, say), for timeout messages. */
  readonly #errors: string[];
  readonly #stdout: string[] = [];
  #stderr = '';
  #adminUrl = '';
  #gatewayPort = 0;
  #nextAddress = 2;
  #nextToken = 0;
  readonly #markers = new Map<string, string[]>();

  private constructor(dir: string, controlPlane: RunningControlPlane, errors: string[], options: MeshOptions) {
    this.#dir = dir;
    this.#controlPlane = controlPlane;
    this.#errors = errors;
    this.#proxy = spawn(process.execPath, [
      WEFT, 'proxy', '--type', 'router', '--pod-name', 'istio-ingressgateway-1', '--namespace', 'istio-system', '--label', 'istio=ingressgateway',
      '--xds-address', `127.0.0.1:${controlPlane.xdsPort}`, '--admin-address', '127.0.0.1:0', '--health-address', '127.0.0.1:0', '--stats-address', '127.0.0.1:0',
      '--bind-address', '127.0.0.1', '--port-map', '80=0', '--access-log', '-', '--access-log-format', 'json', '--termination-drain-duration', '1s',
      ...(options.locality !== undefined ? ['--locality', options.locality] : []),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.#proxy.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      this.#stdout.push(...lines);
    });
    this.#proxy.stderr!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
  }

  /** Starts the control plane with the gateway (and `files`), then the gateway proxy, and waits until it listens on port 80's listener. */
  static async start(options: MeshOptions = {}): Promise<Mesh> {
    const dir = mkdtempSync(join(tmpdir(), 'weft-mesh-'));
    for (const [name, yaml] of Object.entries({ gateway: GATEWAY_YAML, ...options.files })) writeFileSync(join(dir, `${name}.yaml`), yaml);
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (message: string, fields?: unknown) => void errors.push(`${message} ${JSON.stringify(fields ?? {})}`) };
    const controlPlane = await startControlPlane({
      config: { directory: dir }, xdsAddress: '127.0.0.1:0', debugAddress: '127.0.0.1:0', logger,
      push: { debounceQuietMs: 10, debounceMaxMs: 100 }, mesh: { ...DEFAULT_MESH_CONFIG, ...options.mesh },
    });
    const mesh = new Mesh(dir, controlPlane, errors, options);
    try {
      await mesh.#ready();
    } catch (error) {
      await mesh.close();
      throw error;
    }
    return mesh;
  }

  /** A loopback address no other upstream of this mesh has: 127.0.0.2, 127.0.0.3, ... */
  nextAddress(): string {
    return `127.0.0.${this.#nextAddress++}`;
  }

  /** Starts an upstream on an address of its own. */
  upstream(name: string, protocol: 'http1' | 'h2c' = 'http1'): Promise<Upstream> {
    return Upstream.start(name, this.nextAddress(), protocol);
  }

  /** A string no other request of this mesh has, to find a request's traces by its path. */
  token(prefix = 'r'): string {
    return `${prefix}${++this.#nextToken}`;
  }

  /** Writes (or replaces) `<name>.yaml` in the config directory. */
  apply(name: string, yaml: string): void {
    writeFileSync(join(this.#dir, `${name}.yaml`), yaml);
  }

  /** Deletes `<name>.yaml`. */
  remove(name: string): void {
    rmSync(join(this.#dir, `${name}.yaml`), { force: true });
  }

  async admin(path: string): Promise<string> {
    const response = await fetch(`${this.#adminUrl}${path}`);
    return response.text();
  }

  /**
   * Writes `<file>.yaml` and waits until the gateway runs what it says: every VirtualService in
   * its routes and every DestinationRule in its active clusters, and none that an earlier
   * version of the file had and this one lacks. (A changed resource needs a new name to be seen.)
   */
  async configure(file: string, yaml: string): Promise<void> {
    const markers = parseAllDocuments(yaml).flatMap((document) => {
      const resource = document.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null;
      const kind = resource?.kind === 'VirtualService' ? 'virtual-service' : resource?.kind === 'DestinationRule' ? 'destination-rule' : undefined;
      return kind === undefined ? [] : [`/namespaces/${resource?.metadata?.namespace ?? 'default'}/${kind}/${resource?.metadata?.name ?? ''}"`];
    });
    const gone = (this.#markers.get(file) ?? []).filter((m) => !markers.includes(m));
    this.apply(file, yaml);
    this.#markers.set(file, markers);
    await this.#explained(eventually(async () => {
      const dump = JSON.parse(await this.admin('/config_dump')) as { configs: { '@type': string; dynamicActiveClusters?: unknown }[] };
      const text = JSON.stringify(dump);
      const clusters = JSON.stringify(dump.configs.find((c) => c['@type'].endsWith('ClustersConfigDump'))?.dynamicActiveClusters ?? []);
      return markers.every((m) => (m.includes('/destination-rule/') ? clusters : text).includes(m)) && !gone.some((m) => text.includes(m));
    }, `the gateway to run ${file}.yaml (${markers.join(' ')})`));
  }

  /**
   * Waits until the gateway's listeners (its config dump) contain every string of `present` and
   * none of `absent`: for what `configure` cannot see by name, such as policy names
   * (`policy[<name>]`) or the key ids of inline key sets.
   */
  async waitForListeners(present: readonly string[], absent: readonly string[] = [], timeoutMs = 10_000): Promise<void> {
    await this.#explained(eventually(async () => {
      const dump = JSON.parse(await this.admin('/config_dump')) as { configs: { '@type': string }[] };
      const text = JSON.stringify(dump.configs.find((c) => c['@type'].endsWith('ListenersConfigDump')) ?? {});
      return present.every((p) => text.includes(p)) && !absent.some((a) => text.includes(a));
    }, `the gateway's listeners to hold [${present.join(', ')}] and not [${absent.join(', ')}]`, timeoutMs));
  }

  /** Waits until /clusters lists `count` hosts of the cluster whose name contains `cluster`. */
  async waitForHosts(cluster: string, count: number, timeoutMs = 10_000): Promise<void> {
    await eventually(async () => {
      const lines = (await this.admin('/clusters')).split('\n').filter((l) => l.startsWith(`${cluster}::`) && l.includes('::health_flags::'));
      return lines.length === count;
    }, `${count} hosts in ${cluster}`, timeoutMs);
  }

  /** An HTTP/1.1 request through the gateway on a connection of its own. */
  send(path: string, options: SendOptions): Promise<Reply> {
    const started = performance.now();
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const request = httpRequest({
        host: '127.0.0.1', port: this.#gatewayPort, path, method: options.method ?? 'GET', agent: false, timeout: timeoutMs,
        headers: { ...options.headers, host: options.host },
        ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
      }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body, ms: performance.now() - started }));
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`no answer to ${path} in ${timeoutMs} ms`)));
      request.on('error', reject);
      request.end(options.body);
    });
  }

  /** An HTTP/2 (h2c) request through the gateway; `trailers` holds the trailers, or for a trailers-only answer the headers again. */
  async sendHttp2(path: string, options: SendOptions): Promise<Reply & { readonly trailers: http2.IncomingHttpHeaders }> {
    const started = performance.now();
    const session = http2.connect(`http://127.0.0.1:${this.#gatewayPort}`);
    session.on('error', () => {});
    try {
      const stream = session.request({ ':method': options.method ?? 'POST', ':path': path, ':authority': options.host, ...options.headers }, { endStream: false });
      stream.end(options.body);
      const [headers, flags] = (await once(stream, 'response', { signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) })) as [http2.IncomingHttpHeaders, number];
      let trailers: http2.IncomingHttpHeaders = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 ? headers : {};
      stream.on('trailers', (t: http2.IncomingHttpHeaders) => (trailers = t));
      let body = '';
      stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
      await once(stream, 'close');
      return { status: Number(headers[':status']), headers, trailers, body, ms: performance.now() - started };
    } finally {
      session.close();
    }
  }

  /**
   * An HTTP/1.1 request written byte for byte on a connection of its own (Host, then `headers`,
   * which may replace it, then Connection: close), so that the target reaches the gateway exactly
   * as given, with no client-side normalization or encoding. A request the gateway drops resolves
   * with no status after `timeoutMs` (5 s) instead of failing.
   */
  sendRaw(target: string, options: SendOptions): Promise<RawReply> {
    const headers = Object.entries({ host: options.host, ...options.headers, connection: 'close' })
      .flatMap(([name, value]) => (value === undefined ? [] : [value].flat().map((one) => `${name}: ${one}`)));
    if (options.body !== undefined) headers.push(`content-length: ${Buffer.byteLength(options.body, 'latin1')}`);
    const bytes = Buffer.from([`${options.method ?? 'GET'} ${target} HTTP/1.1`, ...headers, '', options.body ?? ''].join('\r\n'), 'latin1');
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const socket = connect({ port: this.#gatewayPort, host: '127.0.0.1', ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}) });
      const timer = setTimeout(() => socket.destroy(), options.timeoutMs ?? 5000);
      socket.on('connect', () => socket.write(bytes));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(parseResponse(Buffer.concat(chunks).toString('latin1')));
      });
    });
  }

  get gatewayAddress(): string {
    return `127.0.0.1:${this.#gatewayPort}`;
  }

  /**
   * The access log lines whose path contains `token`, once there are `count` of them (the proxy
   * writes its log buffer once a second).
   */
  async accessLog(token: string, count = 1, timeoutMs = 5000): Promise<AccessLogLine[]> {
    return eventually(() => {
      const lines = this.#stdout.filter((l) => l.startsWith('{') && l.includes(token)).map((l) => JSON.parse(l) as AccessLogLine);
      const mine = lines.filter((l) => l.path?.includes(token) === true);
      return mine.length >= count ? mine : undefined;
    }, `${count} access log lines for ${token}`, timeoutMs);
  }

  /** /stats as name → value (counters and gauges). */
  async stats(): Promise<Map<string, number>> {
    const text = await this.admin('/stats');
    const out = new Map<string, number>();
    for (const line of text.split('\n')) {
      const at = line.lastIndexOf(': ');
      if (at < 0) continue;
      const value = Number(line.slice(at + 2));
      if (Number.isFinite(value)) out.set(line.slice(0, at), value);
    }
    return out;
  }

  async close(): Promise<void> {
    const proxy = this.#proxy;
    if (proxy.exitCode === null && proxy.signalCode === null) {
      const exited = once(proxy, 'exit');
      proxy.kill('SIGTERM');
      const timer = setTimeout(() => proxy.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await this.#controlPlane.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** `waiting`, failing with what the control plane logged as errors appended, which usually says why. */
  async #explained<T>(waiting: Promise<T>): Promise<T> {
    try {
      return await waiting;
    } catch (error) {
      const logged = [...new Set(this.#errors)].slice(-3);
      throw logged.length === 0 ? error : new Error(`${(error as Error).message}; the control plane logged:\n${logged.join('\n')}`);
    }
  }

  async #ready(timeoutMs = 20_000): Promise<void> {
    await eventually(async () => {
      if (this.#proxy.exitCode !== null) throw new Error(`the gateway exited:\n${this.#stderr}`);
      const admin = /admin listening address=(\S+)/.exec(this.#stderr);
      if (admin === null) return false;
      this.#adminUrl = `http://${admin[1]}`;
      const ready = await fetch(`${this.#adminUrl}/ready`).catch(() => undefined);
      return ready?.status === 200;
    }, 'the gateway to be ready', timeoutMs);
    const port = await eventually(async () => {
      const listeners = JSON.parse(await this.admin('/listeners?format=json')) as { listener_statuses: { name: string; local_address: { socket_address: { port_value: number } } }[] };
      return listeners.listener_statuses.find((l) => l.name === '0.0.0.0_80')?.local_address.socket_address.port_value;
    }, 'the gateway listener on port 80', timeoutMs);
    this.#gatewayPort = port;
  }
}

function parseResponse(text: string): RawReply {
  const end = text.indexOf('\r\n\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (end < 0 || status === null) return { status: undefined, headers: {}, body: text };
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = text.slice(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = unchunk(body);
  return { status: Number(status[1]), headers, body };
}

function unchunk(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd < 0) return out;
    const size = Number.parseInt(text.slice(at, lineEnd), 16);
    if (!Number.isFinite(size) || size === 0) return out;
    out += text.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}

/**
 * An address and port where a TCP connect neither succeeds nor fails: a listener in a stopped
 * process whose accept queue is full, so the kernel drops further SYNs and the client waits
 * (as for an unroutable address, without leaving loopback).
 */
export class Blackhole {
  readonly address: string;
  port = 0;
  readonly #child: ChildProcess;
  readonly #fillers: Socket[] = [];

  private constructor(address: string) {
    this.address = address;
    // backlog 1: the accept queue takes two connections.
    const script = `const s = require('node:net').createServer(() => {}); s.listen({ host: '${address}', port: 0, backlog: 1 }, () => process.stdout.write(s.address().port + '\\n'));`;
    this.#child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  }

  static async start(address: string): Promise<Blackhole> {
    const hole = new Blackhole(address);
    const [chunk] = (await once(hole.#child.stdout!, 'data', { signal: AbortSignal.timeout(10_000) })) as [Buffer];
    hole.port = Number(chunk.toString().trim());
    hole.#child.kill('SIGSTOP');
    for (let i = 0; i < 5; i++) {
      const socket = new Socket();
      socket.on('error', () => {});
      socket.connect(hole.port, address);
      const connected = await Promise.race([once(socket, 'connect').then(() => true), sleep(300).then(() => false)]);
      if (!connected) {
        socket.destroy();
        return hole;
      }
      hole.#fillers.push(socket);
    }
    await hole.close();
    throw new Error(`connections to ${address} do not hang once the accept queue is full`);
  }

  async close(): Promise<void> {
    for (const socket of this.#fillers) socket.destroy();
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = once(this.#child, 'exit');
      this.#child.kill('SIGKILL');
      await exited;
    }
  }
}
