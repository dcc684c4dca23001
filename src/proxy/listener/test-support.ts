/** Fakes and socket helpers for the listener and tcp_proxy tests; only tests import this module. */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger, Timers } from '../../core/index.ts';
import type { Cluster } from '../../xds/envoy/index.ts';
import type { NetworkFilterDeps } from '../network/network-filter.ts';
import type { AccessLogEntry, AccessLogSink } from '../telemetry/access-log.ts';
import type { Counter, Gauge, Histogram, StatsScope } from '../telemetry/stats.ts';
import type { CircuitBreakers, ClusterManager, LoadBalancerContext, UpstreamCluster, UpstreamHost } from '../upstream/cluster.ts';

export const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Every stat in one map by full name; gauges and counters alike hold a number. */
export class MemoryStats implements StatsScope {
  readonly values: Map<string, number>;
  private readonly prefix: string;

  constructor(values = new Map<string, number>(), prefix = '') {
    this.values = values;
    this.prefix = prefix;
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  counter(name: string): Counter {
    return { inc: (by = 1) => this.add(name, by) };
  }

  gauge(name: string): Gauge {
    return { set: (value) => this.values.set(this.prefix + name, value), inc: (by = 1) => this.add(name, by), dec: (by = 1) => this.add(name, -by) };
  }

  histogram(name: string): Histogram {
    return { record: (value) => this.values.set(this.prefix + name, value) };
  }

  scope(prefix: string): StatsScope {
    return new MemoryStats(this.values, `${this.prefix}${prefix}.`);
  }

  private add(name: string, by: number): void {
    const key = this.prefix + name;
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
}

export class RecordingAccessLog implements AccessLogSink {
  readonly entries: AccessLogEntry[] = [];
  private waiters: (() => void)[] = [];

  log(entry: AccessLogEntry): void {
    this.entries.push(entry);
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once `count` entries were logged (bounded by the test's own timeout). */
  async waitFor(count: number, timeoutMs = 3000): Promise<AccessLogEntry[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.entries.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} access log entries, got ${this.entries.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.entries;
  }
}

export interface TestHost {
  readonly address: string;
  readonly port: number;
}

export interface TestClusterOptions {
  readonly connectTimeoutMs?: number;
  readonly maxConnections?: number;
  readonly type?: Cluster['type'];
}

/** A cluster whose picker takes its hosts in turn (skipping those to avoid); ORIGINAL_DST uses the destination. */
export function testCluster(name: string, hosts: readonly TestHost[], options: TestClusterOptions = {}): UpstreamCluster & { readonly hosts: readonly UpstreamHost[]; connections: number } {
  const upstreamHosts = hosts.map((h) => host(h.address, h.port));
  let next = 0;
  const cluster = {
    name,
    config: { name, type: options.type ?? 'STATIC' } as Cluster,
    hosts: upstreamHosts,
    connections: 0,
    connectTimeoutMs: options.connectTimeoutMs ?? 1000,
    upstreamProtocol: 'downstream' as const,
    picker: () => ({
      pick: (context: LoadBalancerContext): UpstreamHost | undefined => {
        if (options.type === 'ORIGINAL_DST') {
          const destination = context.originalDestination;
          if (destination === undefined) return undefined;
          const colon = destination.lastIndexOf(':');
          return host(destination.slice(0, colon).replace(/^\[|\]$/g, ''), Number(destination.slice(colon + 1)));
        }
        for (let i = 0; i < upstreamHosts.length; i++) {
          const candidate = upstreamHosts[(next + i) % upstreamHosts.length]!;
          if (context.avoid?.has(candidate) === true) continue;
          next = (next + i + 1) % upstreamHosts.length;
          return candidate;
        }
        return undefined;
      },
    }),
    circuitBreakers: {
      tryAcquire: (resource) => {
        if (resource !== 'connections') return () => {};
        if (cluster.connections >= (options.maxConnections ?? Infinity)) return undefined;
        cluster.connections++;
        return () => {
          cluster.connections--;
        };
      },
    } satisfies CircuitBreakers,
  };
  return cluster;
}

function host(address: string, port: number): UpstreamHost {
  return { address, port, id: `${address}:${port}`, weight: 1, locality: '', priority: 0, healthy: true, metadata: {}, activeRequests: 0 };
}

export function testClusters(...clusters: UpstreamCluster[]): ClusterManager {
  const byName = new Map(clusters.map((c) => [c.name, c]));
  return { get: (name) => byName.get(name), names: () => [...byName.keys()] };
}

export interface TestDeps extends NetworkFilterDeps {
  readonly stats: MemoryStats;
  readonly accessLog: RecordingAccessLog;
}

export function testDeps(clusters: ClusterManager = testClusters(), random: () => number = () => 0): TestDeps {
  return { clusters, stats: new MemoryStats(), accessLog: new RecordingAccessLog(), clock: { now: () => Date.now() }, random, logger: silentLogger };
}

/** A server on 127.0.0.1 and a port the OS picks. */
export async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** An upstream that sends `greeting` on connect, echoes each chunk back, and ends after `trailer` when the client ends. */
export function echoServer(options: { readonly greeting?: string; readonly trailer?: string } = {}): Server & { readonly sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (options.greeting !== undefined) socket.write(options.greeting);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('end', () => socket.end(options.trailer ?? ''));
  });
  return Object.assign(server, { sockets });
}

/** Everything a socket receives until its peer ends or it closes. */
export async function readAll(socket: Socket, timeoutMs = 3000): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await withTimeout(Promise.race([once(socket, 'end'), once(socket, 'close')]), timeoutMs, 'the connection did not end');
  return Buffer.concat(chunks).toString();
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `condition` holds, checking every 10 ms, for at most `timeoutMs`. */
export async function eventually(condition: () => boolean, timeoutMs = 3000, message = 'condition not reached'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Closes a server, ending the connections it tracks (as `echoServer` does). */
export function closeServer(server: Server & { readonly sockets?: Set<Socket> }): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of server.sockets ?? []) socket.destroy();
  });
}
