/** Helpers shared by the ADS tests; only tests import this module. */
import * as grpc from '@grpc/grpc-js';
import { err, ok, type Result } from '../../core/index.ts';
import { TypeUrl, type ProtoJson } from '../../xds/index.ts';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse } from '../../xds/envoy/index.ts';
import type { Generator, NamedResource, ResourceKind } from '../generators/generator.ts';
import { DEFAULT_MESH_CONFIG, type ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/mesh-snapshot.ts';
import type { ChangedKinds, Clock, Logger, LogFields, PushSettings, SnapshotProvider, TimerHandle, Timers } from './ads-server-options.ts';
import { AdsServer } from './ads-server.ts';
import { adsServiceDefinition } from '../../xds/index.ts';

/** A resource of the fake mesh; with `namespace`, only proxies of that namespace get it. */
export interface FakeResource {
  readonly name: string;
  readonly resource: ProtoJson;
  readonly namespace?: string;
}

export type FakeMeshContent = Partial<Record<TypeUrl, readonly FakeResource[]>>;

const contents = new WeakMap<MeshSnapshot, FakeMeshContent>();

/** A snapshot whose only content is what the fake generators read. */
export function fakeSnapshot(version: number, content: FakeMeshContent): MeshSnapshot {
  const snapshot: MeshSnapshot = {
    version,
    mesh: DEFAULT_MESH_CONFIG,
    resources: [],
    workloads: [],
    services: [],
    service: () => undefined,
    servicesVisibleTo: () => [],
    endpoints: () => [],
    virtualServices: () => [],
    destinationRule: () => undefined,
    gatewaysFor: () => [],
    sidecarFor: () => undefined,
    localRateLimitFor: () => undefined,
    peerAuthenticationFor: () => ({ mode: 'PERMISSIVE', portLevel: new Map() }),
    authorizationPoliciesFor: () => [],
    requestAuthenticationsFor: () => [],
    jwks: () => undefined,
    resolveHost: (host) => host,
  };
  contents.set(snapshot, content);
  return snapshot;
}

/** Returns the fake mesh's resources of its type that the proxy may see, counting its calls. */
export class FakeGenerator implements Generator {
  readonly typeUrl: TypeUrl;
  readonly inputs: ReadonlySet<ResourceKind>;
  calls = 0;

  constructor(typeUrl: TypeUrl, inputs: readonly ResourceKind[]) {
    this.typeUrl = typeUrl;
    this.inputs = new Set(inputs);
  }

  generate(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): NamedResource[] {
    this.calls += 1;
    const resources = contents.get(snapshot)?.[this.typeUrl] ?? [];
    return resources
      .filter((r) => (r.namespace === undefined || r.namespace === proxy.namespace) && (names === 'all' || names.has(r.name)))
      .map(({ name, resource }) => ({ name, resource }));
  }
}

export function cluster(name: string, connectTimeout = '1s'): FakeResource {
  return { name, resource: { name, type: 'EDS', connectTimeout, edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' } } } };
}

export function loadAssignment(clusterName: string, addresses: readonly string[], namespace?: string): FakeResource {
  const lbEndpoints = addresses.map((address) => ({ endpoint: { address: { socketAddress: { address, portValue: 8080 } } } }));
  return { name: clusterName, resource: { clusterName, endpoints: [{ lbEndpoints }] }, ...(namespace === undefined ? {} : { namespace }) };
}

export function listener(name: string, port: number): FakeResource {
  return { name, resource: { name, address: { socketAddress: { address: '0.0.0.0', portValue: port } } } };
}

export function routeConfiguration(name: string, domain: string): FakeResource {
  return { name, resource: { name, virtualHosts: [{ name: domain, domains: [domain] }] } };
}

export class FakeSnapshots implements SnapshotProvider {
  #current: MeshSnapshot;
  readonly #listeners = new Set<(next: MeshSnapshot, changed: ChangedKinds) => void>();

  constructor(initial: MeshSnapshot) {
    this.#current = initial;
  }

  current(): MeshSnapshot {
    return this.#current;
  }

  subscribe(listener: (next: MeshSnapshot, changed: ChangedKinds) => void): () => void {
    const entry = (next: MeshSnapshot, changed: ChangedKinds): void => listener(next, changed);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  publish(next: MeshSnapshot, changed: ChangedKinds): void {
    this.#current = next;
    for (const listener of [...this.#listeners]) listener(next, changed);
  }
}

/** A clock and timers that move only when the test advances them. */
export class FakeTime implements Clock, Timers {
  #now = Date.UTC(2025, 0, 1);
  #ids = 0;
  readonly #timers = new Map<number, { readonly at: number; readonly callback: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    this.#ids += 1;
    this.#timers.set(this.#ids, { at: this.#now + ms, callback });
    return this.#ids;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, running each timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (let fired = 0; fired < 10_000; fired += 1) {
      const due = [...this.#timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].callback();
    }
    this.#now = end;
  }
}

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: LogFields;
}

export class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  debug(message: string, fields: LogFields = {}): void {
    this.entries.push({ level: 'debug', message, fields });
  }
  info(message: string, fields: LogFields = {}): void {
    this.entries.push({ level: 'info', message, fields });
  }
  warn(message: string, fields: LogFields = {}): void {
    this.entries.push({ level: 'warn', message, fields });
  }
  error(message: string, fields: LogFields = {}): void {
    this.entries.push({ level: 'error', message, fields });
  }
}

/** An Istio-style node: id `sidecar~<ip>~<name>.<namespace>~<namespace>.svc.cluster.local`, metadata NAMESPACE. */
export function testNode(name: string, namespace = 'default'): ProtoJson {
  return { id: `sidecar~10.0.0.1~${name}.${namespace}~${namespace}.svc.cluster.local`, metadata: { NAMESPACE: namespace } };
}

/** Stands in for the real node parser: the id is required, the namespace read from metadata. */
export function parseTestNode(node: ProtoJson): Result<ProxyView, string> {
  const id = node['id'];
  if (typeof id !== 'string' || id === '') return err('the node has no id');
  const metadata = (node['metadata'] ?? {}) as Record<string, unknown>;
  const namespace = typeof metadata['NAMESPACE'] === 'string' ? metadata['NAMESPACE'] : 'default';
  return ok({ id, kind: 'sidecar', generator: 'envoy', namespace, labels: {}, serviceAccount: 'default', workloadName: id, ipAddresses: ['10.0.0.1'], ports: [], locality: '', version: '', interceptionMode: 'REDIRECT', appPorts: [], localServicePorts: [] });
}

/** A client side of one ADS stream: what it received, in order, awaited with a bound. */
export class TestStream<Request, Response> {
  readonly #call: grpc.ClientDuplexStream<Request, Response>;
  readonly #received: Response[] = [];
  #wake: (() => void) | undefined;
  /** The call's final status, once the server ends it. */
  readonly status: Promise<grpc.StatusObject>;

  constructor(call: grpc.ClientDuplexStream<Request, Response>) {
    this.#call = call;
    call.on('data', (response: Response) => {
      this.#received.push(response);
      this.#wake?.();
    });
    // The final status also arrives as an error for non-OK codes; `status` reports both.
    call.on('error', () => undefined);
    this.status = new Promise((resolve) => call.on('status', resolve));
  }

  send(request: Request): void {
    this.#call.write(request);
  }

  /** The next response, failing after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<Response> {
    const deadline = Date.now() + timeoutMs;
    while (this.#received.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    return this.#received.shift()!;
  }

  /** Fails if any response arrives within `ms` (or is already waiting). */
  async nothingWithin(ms = 200): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.#received.length > 0) throw new Error(`unexpected response: ${JSON.stringify(this.#received[0])}`);
  }

  /** Half-closes the stream, as a proxy that is done. */
  end(): void {
    this.#call.end();
  }

  cancel(): void {
    this.#call.cancel();
  }
}

export type SotwTestStream = TestStream<DiscoveryRequest, DiscoveryResponse>;
export type DeltaTestStream = TestStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

/** Resolves once `condition` holds, polling for at most `timeoutMs`. */
export async function eventually(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const INITIAL_CONTENT: FakeMeshContent = {
  [TypeUrl.Cluster]: [cluster('outbound|9080||reviews.default.svc.cluster.local'), cluster('outbound|9080||ratings.default.svc.cluster.local')],
  [TypeUrl.ClusterLoadAssignment]: [
    loadAssignment('outbound|9080||reviews.default.svc.cluster.local', ['10.0.0.2']),
    loadAssignment('outbound|9080||ratings.default.svc.cluster.local', ['10.0.0.3']),
  ],
  [TypeUrl.Listener]: [listener('0.0.0.0_9080', 9080), listener('virtualOutbound', 15001)],
  [TypeUrl.RouteConfiguration]: [routeConfiguration('9080', 'reviews.default.svc.cluster.local'), routeConfiguration('http.8080', 'bookinfo.example.com')],
};

function fakeGenerators() {
  return {
    cds: new FakeGenerator(TypeUrl.Cluster, ['DestinationRule', 'ServiceEntry']),
    eds: new FakeGenerator(TypeUrl.ClusterLoadAssignment, ['Workload']),
    lds: new FakeGenerator(TypeUrl.Listener, ['Gateway', 'Sidecar']),
    rds: new FakeGenerator(TypeUrl.RouteConfiguration, ['VirtualService']),
  };
}

interface TestBedParts {
  readonly server: AdsServer;
  readonly port: number;
  readonly time: FakeTime;
  readonly logger: RecordingLogger;
  readonly snapshots: FakeSnapshots;
  readonly generators: ReturnType<typeof fakeGenerators>;
  readonly connected: { readonly proxy: ProxyView; readonly connectionId: string }[];
  readonly disconnected: string[];
}

/** A real ADS server on loopback with fake generators, a fake snapshot provider and fake time. */
export class AdsTestBed {
  readonly server: AdsServer;
  readonly time: FakeTime;
  readonly logger: RecordingLogger;
  readonly snapshots: FakeSnapshots;
  readonly generators: ReturnType<typeof fakeGenerators>;
  /** What onProxyConnected and onProxyDisconnected were called with. */
  readonly connected: readonly { readonly proxy: ProxyView; readonly connectionId: string }[];
  readonly disconnected: readonly string[];
  readonly #client: grpc.Client;
  readonly #streams: { cancel(): void }[] = [];

  private constructor(parts: TestBedParts) {
    this.server = parts.server;
    this.time = parts.time;
    this.logger = parts.logger;
    this.snapshots = parts.snapshots;
    this.generators = parts.generators;
    this.connected = parts.connected;
    this.disconnected = parts.disconnected;
    this.#client = new grpc.Client(`127.0.0.1:${parts.port}`, grpc.credentials.createInsecure());
  }

  static async start(options: { content?: FakeMeshContent; push?: Partial<PushSettings> } = {}): Promise<AdsTestBed> {
    const time = new FakeTime();
    const logger = new RecordingLogger();
    const snapshots = new FakeSnapshots(fakeSnapshot(1, options.content ?? INITIAL_CONTENT));
    const generators = fakeGenerators();
    const connected: TestBedParts['connected'] = [];
    const disconnected: string[] = [];
    const server = new AdsServer({
      generators: Object.values(generators),
      snapshots,
      parseNode: parseTestNode,
      onProxyConnected: (proxy, connectionId) => connected.push({ proxy, connectionId }),
      onProxyDisconnected: (connectionId) => disconnected.push(connectionId),
      clock: time,
      timers: time,
      logger,
      ...(options.push === undefined ? {} : { push: options.push }),
    });
    const port = await server.listen('127.0.0.1:0');
    return new AdsTestBed({ server, port, time, logger, snapshots, generators, connected, disconnected });
  }

  /** Publishes a snapshot with `content` and the kinds it changed. */
  publish(version: number, content: FakeMeshContent, changed: ChangedKinds): void {
    this.snapshots.publish(fakeSnapshot(version, content), changed);
  }

  sotw(): SotwTestStream {
    const method = adsServiceDefinition.StreamAggregatedResources;
    const call = this.#client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
    this.#streams.push(call);
    return new TestStream(call);
  }

  delta(): DeltaTestStream {
    const method = adsServiceDefinition.DeltaAggregatedResources;
    const call = this.#client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
    this.#streams.push(call);
    return new TestStream(call);
  }

  async close(): Promise<void> {
    for (const stream of this.#streams) stream.cancel();
    this.#client.close();
    await this.server.close();
  }
}
