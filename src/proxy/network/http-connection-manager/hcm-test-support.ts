/** Fakes and socket helpers for the connection manager's tests; only tests import this module. */
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { ok, type Logger, type Timers } from '../../../core/index.ts';
import { HTTP_CONNECTION_MANAGER_TYPE, ROUTER_TYPE } from '../../../xds/envoy/index.ts';
import type { HttpExchange, HttpResponse } from '../../http/exchange.ts';
import type { HttpFilterFactory } from '../../http/filter-factory.ts';
import type { HeaderMutation, RouteAction, RouteEntry, RouteTable } from '../../route/index.ts';
import type { AccessLogEntry, AccessLogSink } from '../../telemetry/access-log.ts';
import type { Counter, Gauge, Histogram, StatsScope } from '../../telemetry/stats.ts';
import type { NetworkFilter, NetworkFilterDeps } from '../network-filter.ts';
import { HttpConnectionManagerFactory } from './http-connection-manager-factory.ts';

export const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Every stat in one map by full name. */
export class MemoryStats implements StatsScope {
  readonly values: Map<string, number>;
  readonly #prefix: string;

  constructor(values = new Map<string, number>(), prefix = '') {
    this.values = values;
    this.#prefix = prefix;
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  counter(name: string): Counter {
    return { inc: (by = 1) => this.#add(name, by) };
  }

  gauge(name: string): Gauge {
    return { set: (value) => this.values.set(this.#prefix + name, value), inc: (by = 1) => this.#add(name, by), dec: (by = 1) => this.#add(name, -by) };
  }

  histogram(name: string): Histogram {
    return { record: (value) => this.values.set(this.#prefix + name, value) };
  }

  scope(prefix: string): StatsScope {
    return new MemoryStats(this.values, `${this.#prefix}${prefix}.`);
  }

  #add(name: string, by: number): void {
    const key = this.#prefix + name;
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
}

export class RecordingAccessLog implements AccessLogSink {
  readonly entries: AccessLogEntry[] = [];

  log(entry: AccessLogEntry): void {
    this.entries.push(entry);
  }

  /** The entries once there are `count` of them. */
  async waitFor(count: number, timeoutMs = 3000): Promise<AccessLogEntry[]> {
    await eventually(() => this.entries.length >= count, timeoutMs, `expected ${count} access log entries, got ${this.entries.length}`);
    return this.entries;
  }
}

/** Waits until `condition` holds, checking every 5 ms, for at most `timeoutMs`. */
export async function eventually(condition: () => boolean, timeoutMs = 3000, message = 'condition not reached'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(typeof message === 'string' ? message : message())), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

const NO_MUTATION: HeaderMutation = { remove: [], set: [], append: [], addIfAbsent: [] };

/** A forwarding route to `cluster`, or any other action. */
export function routeEntry(action: RouteAction | string, name = 'default'): RouteEntry {
  const resolved: RouteAction = typeof action !== 'string' ? action : {
    kind: 'forward',
    pickCluster: () => ({ name: action, requestHeaders: NO_MUTATION, responseHeaders: NO_MUTATION }),
    timeoutMs: 15_000,
    rewrite() {},
    hashPolicies: [],
    mirrors: [],
  };
  return { name, virtualHostName: 'vh', action: resolved, requestHeaders: NO_MUTATION, responseHeaders: NO_MUTATION, perFilterConfig: new Map() };
}

/** A route table that routes paths by prefix, in order; nothing else matches. */
export function prefixTable(routes: readonly (readonly [prefix: string, entry: RouteEntry])[], name = 'routes'): RouteTable {
  return {
    name,
    match: (request) => routes.find(([prefix]) => request.path.startsWith(prefix))?.[1],
  };
}

export type RouterHandler = (exchange: HttpExchange) => Promise<HttpResponse> | HttpResponse;

/** A stand-in for the router: the terminal filter, answering with `handler`. */
export class FakeRouter implements HttpFilterFactory<null> {
  readonly typeUrl = ROUTER_TYPE;
  handler: RouterHandler = () => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from('ok') });
  readonly seen: HttpExchange[] = [];

  parse(): ReturnType<HttpFilterFactory<null>['parse']> {
    return ok(null);
  }

  create(): { handle(exchange: HttpExchange): Promise<HttpResponse> } {
    return {
      handle: async (exchange) => {
        this.seen.push(exchange);
        return this.handler(exchange);
      },
    };
  }
}

export interface TestProxy {
  readonly port: number;
  readonly router: FakeRouter;
  readonly accessLog: RecordingAccessLog;
  readonly stats: MemoryStats;
  readonly manager: NetworkFilter;
  readonly requestIds: string[];
  close(): Promise<void>;
}

export interface TestProxyOptions {
  /** Merged into the HttpConnectionManager config; routes go to rds "routes". */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly table?: RouteTable;
  readonly applicationProtocols?: readonly string[];
  readonly extraFilters?: ReadonlyMap<string, HttpFilterFactory>;
}

/**
 * A connection manager on 127.0.0.1 behind a bare accept loop (standing in for the listener), with
 * a fake router and route table. Request ids come from a counter so that tests can predict them.
 */
export async function startProxy(options: TestProxyOptions = {}): Promise<TestProxy> {
  const router = new FakeRouter();
  const registry = new Map<string, HttpFilterFactory>([[ROUTER_TYPE, router], ...(options.extraFilters ?? [])]);
  const table = options.table ?? prefixTable([['/', routeEntry('backend')]]);
  const requestIds: string[] = [];
  const factory = new HttpConnectionManagerFactory({
    routes: { get: (name) => (name === table.name ? table : undefined) },
    httpFilters: registry,
    timers: systemTimers,
    newRequestId: () => {
      const id = `00000000-0000-4000-8000-${String(requestIds.length + 1).padStart(12, '0')}`;
      requestIds.push(id);
      return id;
    },
  });
  const parsed = factory.parse({
    '@type': HTTP_CONNECTION_MANAGER_TYPE,
    statPrefix: 'inbound_0.0.0.0_80',
    rds: { configSource: { ads: {} }, routeConfigName: table.name },
    httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_TYPE } }],
    ...options.config,
  });
  if (!parsed.ok) throw new Error(parsed.error);
  const stats = new MemoryStats();
  const accessLog = new RecordingAccessLog();
  const deps: NetworkFilterDeps = {
    clusters: { get: () => undefined, names: () => [] },
    stats,
    accessLog,
    clock: { now: () => Date.now() },
    random: () => 0,
    logger: silentLogger,
  };
  const manager = factory.create(parsed.value, deps);
  let connectionId = 0;
  const server = net.createServer((socket) => {
    manager.onConnection({
      socket,
      downstream: {
        connectionId: ++connectionId,
        remoteAddress: socket.remoteAddress ?? '',
        remotePort: socket.remotePort ?? 0,
        localAddress: socket.localAddress ?? '',
        localPort: socket.localPort ?? 0,
      },
      originalDestination: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
      listenerName: 'test-listener',
      sniffed: { transportProtocol: 'raw_buffer', applicationProtocols: options.applicationProtocols ?? [] },
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    router,
    accessLog,
    stats,
    manager,
    requestIds,
    close: async () => {
      manager.close?.();
      server.close();
      await once(server, 'close');
    },
  };
}

/** For rawExchange: a whole response head has arrived (not a 100 Continue). */
export function headArrived(received: string): boolean {
  return received.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '').includes('\r\n\r\n');
}

/** Sends raw bytes on a new connection and collects what comes back until the server closes or `until` holds. */
export async function rawExchange(port: number, bytes: string, until?: (received: string) => boolean, timeoutMs = 3000): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (until?.(received) === true) resolve();
      });
      socket.on('close', () => resolve());
      socket.write(bytes);
    }), timeoutMs, () => `no complete answer; got ${JSON.stringify(received)}`);
  } finally {
    socket.destroy();
  }
  return received;
}

/** An answer to a GET sent through a test proxy. */
export interface ProxyAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** Whether the request went on a connection an earlier request used. */
  readonly reused: boolean;
}

/** A GET to 127.0.0.1:`port`, on a connection of its own unless an agent that keeps connections is given. */
export function getThroughProxy(port: number, path: string, headers: http.OutgoingHttpHeaders = {}, agent: http.Agent | false = false): Promise<ProxyAnswer> {
  return withTimeout(new Promise<ProxyAnswer>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  }), 3000, `GET ${path} got no answer`);
}
