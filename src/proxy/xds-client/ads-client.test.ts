import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { ok } from '../../core/index.ts';
import type { TimerHandle, Timers } from '../../core/index.ts';
import { adsServiceDefinition, encodeMessage, typeNameOf, TypeUrl, type EncodedDiscoveryResponse, type ProtoJson } from '../../xds/index.ts';
import type { DiscoveryRequest } from '../../xds/envoy/index.ts';
import { StatsStore } from '../telemetry/stats-store.ts';
import { AdsClient, type AdsClientOptions } from './ads-client.ts';
import type { ResourceHandler, ResourceUpdate } from './resource-handler.ts';

/**
 * The client against a scripted ADS server (the end-to-end test runs it against the real control
 * plane): what it asks for and when, what it ACKs and NACKs, and its timers, which the test runs.
 */
class FakeTimers implements Timers {
  readonly pending = new Map<number, { readonly callback: () => void; readonly ms: number }>();
  #next = 0;

  setTimeout(callback: () => void, ms: number): TimerHandle {
    this.pending.set(++this.#next, { callback, ms });
    return this.#next;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle as number);
  }

  /** Runs (and removes) the pending timer of `ms`, failing when there is none. */
  fire(ms: number): void {
    for (const [id, timer] of this.pending) {
      if (timer.ms !== ms) continue;
      this.pending.delete(id);
      timer.callback();
      return;
    }
    assert.fail(`no pending timer of ${ms} ms (pending: ${[...this.pending.values()].map((t) => t.ms).join(', ') || 'none'})`);
  }
}

type ServerCall = grpc.ServerDuplexStream<DiscoveryRequest, EncodedDiscoveryResponse>;

/** The requests of one stream, in order, awaited one at a time. */
class Requests {
  readonly #queue: DiscoveryRequest[] = [];
  readonly #waiters: ((request: DiscoveryRequest) => void)[] = [];

  constructor(call: ServerCall) {
    call.on('data', (request: DiscoveryRequest) => {
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter(request);
      else this.#queue.push(request);
    });
  }

  next(timeoutMs = 5000): Promise<DiscoveryRequest> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no request within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push((request) => {
        clearTimeout(timer);
        resolve(request);
      });
    });
  }

  /** Nothing more arrives within `ms`. */
  async none(ms: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    assert.deepEqual(this.#queue, []);
  }
}

interface FakeServer {
  readonly port: number;
  /** Each stream as it opens. */
  stream(timeoutMs?: number): Promise<{ readonly call: ServerCall; readonly requests: Requests }>;
  close(): Promise<void>;
}

async function fakeServer(port = 0): Promise<FakeServer> {
  const server = new grpc.Server();
  const opened: { call: ServerCall; requests: Requests }[] = [];
  const waiters: ((stream: { call: ServerCall; requests: Requests }) => void)[] = [];
  server.addService(adsServiceDefinition, {
    StreamAggregatedResources: (call: ServerCall) => {
      const stream = { call, requests: new Requests(call) };
      call.on('error', () => undefined);
      const waiter = waiters.shift();
      if (waiter !== undefined) waiter(stream);
      else opened.push(stream);
    },
    DeltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.end(),
  });
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) => (error === null ? resolve(p) : reject(error))));
  return {
    port: bound,
    stream(timeoutMs = 5000) {
      const first = opened.shift();
      if (first !== undefined) return Promise.resolve(first);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no stream within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((stream) => {
          clearTimeout(timer);
          resolve(stream);
        });
      });
    },
    // Ends the open streams too, as a control plane that goes away does.
    close: async () => server.forceShutdown(),
  };
}

/** A request with its defaults filled in: proto3 JSON leaves out empty fields. */
function request(raw: DiscoveryRequest): DiscoveryRequest {
  return {
    versionInfo: raw.versionInfo ?? '',
    resourceNames: raw.resourceNames ?? [],
    typeUrl: raw.typeUrl ?? '',
    responseNonce: raw.responseNonce ?? '',
    ...(raw.node === undefined ? {} : { node: raw.node }),
    ...(raw.errorDetail === undefined ? {} : { errorDetail: raw.errorDetail }),
  };
}

let nonces = 0;
function respond(call: ServerCall, typeUrl: TypeUrl, version: string, resources: readonly (ProtoJson | Uint8Array)[]): string {
  const nonce = `n${++nonces}`;
  call.write({
    versionInfo: version,
    typeUrl,
    nonce,
    resources: resources.map((r, i) => ({ name: `r${i}`, version: '', typeUrl, bytes: r instanceof Uint8Array ? r : encodeMessage(typeNameOf(typeUrl), r) })),
  });
  return nonce;
}

class Handler implements ResourceHandler {
  readonly typeUrl: TypeUrl;
  readonly updates: ResourceUpdate[] = [];
  readonly dependencies?: () => { readonly typeUrl: TypeUrl; readonly names: ReadonlySet<string> };

  /** With `dependsOn`, it depends on the names `names` finds in the resources it was given. */
  constructor(typeUrl: TypeUrl, dependsOn?: TypeUrl, names: (resource: ProtoJson) => string[] = () => []) {
    this.typeUrl = typeUrl;
    if (dependsOn !== undefined) {
      this.dependencies = () => ({ typeUrl: dependsOn, names: new Set(this.updates.flatMap((u) => [...u.resources.values()].flatMap(names))) });
    }
  }

  apply(update: ResourceUpdate) {
    this.updates.push(update);
    return ok(undefined);
  }
}

function handlers() {
  return {
    clusters: new Handler(TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, (c) => (c['type'] === 'EDS' ? [String(c['name'])] : [])),
    endpoints: new Handler(TypeUrl.ClusterLoadAssignment),
    listeners: new Handler(TypeUrl.Listener, TypeUrl.RouteConfiguration, (l) => [String((l['statPrefix'] as string | undefined) ?? '')]),
    routes: new Handler(TypeUrl.RouteConfiguration),
  };
}

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const NODE = { id: 'sidecar~10.0.0.1~a-1.ns~ns.svc.cluster.local' };

function client(port: number, timers: Timers, hs: ResourceHandler[], extra: Partial<AdsClientOptions> = {}): AdsClient {
  return new AdsClient({
    ads: { address: `127.0.0.1:${port}`, mode: 'sotw', initialFetchTimeoutMs: 15_000 },
    node: NODE,
    handlers: hs,
    clock: { now: () => 0 },
    timers,
    random: () => 0.999999,
    logger: quiet,
    ...extra,
  });
}

/** A listener that says which route config it uses (the test handler reads `statPrefix`, to keep the fixture small). */
const listenerUsing = (name: string, route: string): ProtoJson => ({ name, statPrefix: route });

describe('AdsClient', () => {
  const closing: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closing.reverse()) await close();
  });

  it('asks for clusters first, then their endpoints, then listeners, then their routes, and is ready after them', async () => {
    const server = await fakeServer();
    const timers = new FakeTimers();
    const hs = handlers();
    const ads = client(server.port, timers, Object.values(hs));
    closing.push(() => server.close(), () => ads.close());
    let ready = false;
    void ads.ready().then(() => (ready = true));
    ads.start();
    const { call, requests } = await server.stream();

    const cds = request(await requests.next());
    assert.deepEqual(cds, { versionInfo: '', node: NODE, resourceNames: [], typeUrl: TypeUrl.Cluster, responseNonce: '' });
    await requests.none(100);
    const cdsNonce = respond(call, TypeUrl.Cluster, 'v1', [{ name: 'c1', type: 'EDS' }, { name: 'static', type: 'STATIC' }]);
    assert.deepEqual(request(await requests.next()), { versionInfo: 'v1', resourceNames: [], typeUrl: TypeUrl.Cluster, responseNonce: cdsNonce });
    assert.deepEqual(request(await requests.next()), { versionInfo: '', resourceNames: ['c1'], typeUrl: TypeUrl.ClusterLoadAssignment, responseNonce: '' });
    await requests.none(100);

    const edsNonce = respond(call, TypeUrl.ClusterLoadAssignment, 'v1', [{ clusterName: 'c1' }]);
    assert.deepEqual(request(await requests.next()), { versionInfo: 'v1', resourceNames: ['c1'], typeUrl: TypeUrl.ClusterLoadAssignment, responseNonce: edsNonce });
    assert.equal((request(await requests.next())).typeUrl, TypeUrl.Listener);
    const ldsNonce = respond(call, TypeUrl.Listener, 'v1', [listenerUsing('l1', 'r1')]);
    assert.deepEqual(request(await requests.next()), { versionInfo: 'v1', resourceNames: [], typeUrl: TypeUrl.Listener, responseNonce: ldsNonce });
    assert.deepEqual(request(await requests.next()), { versionInfo: '', resourceNames: ['r1'], typeUrl: TypeUrl.RouteConfiguration, responseNonce: '' });
    assert.equal(ready, false);
    respond(call, TypeUrl.RouteConfiguration, 'v1', [{ name: 'r1' }]);
    request(await requests.next());
    await ads.ready();
    assert.equal(ads.isReady(), true);
    assert.deepEqual([...hs.routes.updates[0]!.resources.keys()], ['r1']);
    assert.deepEqual(timers.pending.size, 0, 'no initial-fetch timer is left behind');
  });

  it('NACKs a response with a resource that does not decode, naming it, with the version it last ACKed', async () => {
    const server = await fakeServer();
    const hs = handlers();
    const stats = new StatsStore();
    const ads = client(server.port, new FakeTimers(), [hs.clusters], { stats });
    closing.push(() => server.close(), () => ads.close());
    ads.start();
    const { call, requests } = await server.stream();
    request(await requests.next());
    respond(call, TypeUrl.Cluster, 'v1', [{ name: 'a', type: 'STATIC' }]);
    request(await requests.next());
    const nonce = respond(call, TypeUrl.Cluster, 'v2', [{ name: 'a', type: 'STATIC' }, Uint8Array.from([0x0a, 0xff])]);
    const nack = request(await requests.next());
    assert.equal(nack.versionInfo, 'v1');
    assert.equal(nack.responseNonce, nonce);
    assert.equal(nack.errorDetail?.code, 3);
    assert.match(nack.errorDetail?.message ?? '', /^CDS resource \[1\]: cannot be decoded: /);
    assert.equal(hs.clusters.updates.length, 1, 'the handler never sees the bad response');
    assert.deepEqual(
      [stats.gauge('control_plane.connected_state').value, ...['update_attempt', 'update_success', 'update_rejected'].map((name) => stats.counter(`cluster_manager.cds.${name}`).value)],
      [1, 2, 1, 1],
    );
  });

  it('removes from LDS and CDS what a State of the World response no longer has', async () => {
    const server = await fakeServer();
    const hs = handlers();
    const ads = client(server.port, new FakeTimers(), [hs.clusters]);
    closing.push(() => server.close(), () => ads.close());
    ads.start();
    const { call, requests } = await server.stream();
    request(await requests.next());
    respond(call, TypeUrl.Cluster, 'v1', [{ name: 'a' }, { name: 'b' }]);
    request(await requests.next());
    respond(call, TypeUrl.Cluster, 'v2', [{ name: 'b' }]);
    request(await requests.next());
    assert.deepEqual(hs.clusters.updates.map((u) => ({ names: [...u.resources.keys()], removed: u.removed, version: u.version })), [
      { names: ['a', 'b'], removed: [], version: 'v1' },
      { names: ['b'], removed: ['a'], version: 'v2' },
    ]);
  });

  it('goes on without a type whose initial fetch times out', async () => {
    const server = await fakeServer();
    const timers = new FakeTimers();
    const hs = handlers();
    const ads = client(server.port, timers, Object.values(hs));
    closing.push(() => server.close(), () => ads.close());
    ads.start();
    const { call, requests } = await server.stream();
    request(await requests.next());
    respond(call, TypeUrl.Cluster, 'v1', [{ name: 'c1', type: 'EDS' }]);
    request(await requests.next());
    assert.equal((request(await requests.next())).typeUrl, TypeUrl.ClusterLoadAssignment);
    // The server never sends the endpoints; after the initial fetch timeout the listeners are asked for.
    timers.fire(15_000);
    assert.equal((request(await requests.next())).typeUrl, TypeUrl.Listener);
    respond(call, TypeUrl.Listener, 'v1', []);
    request(await requests.next());
    await ads.ready();
  });

  it('reconnects with growing jittered delays while the control plane is away, from the base again after a healthy stream', async () => {
    const server = await fakeServer();
    const timers = new FakeTimers();
    const hs = handlers();
    const ads = client(server.port, timers, [hs.clusters], { ads: { address: `127.0.0.1:${server.port}`, mode: 'sotw', initialFetchTimeoutMs: 0 } });
    closing.push(() => ads.close());
    ads.start();
    const first = await server.stream();
    await first.requests.next();
    respond(first.call, TypeUrl.Cluster, 'v1', [{ name: 'a' }]);
    await first.requests.next();
    await server.close();
    const waitForTimer = async (): Promise<number> => {
      const deadline = Date.now() + 5000;
      while (timers.pending.size === 0) {
        if (Date.now() > deadline) assert.fail('no reconnect was scheduled');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return [...timers.pending.values()][0]!.ms;
    };
    const delays: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const delay = await waitForTimer();
      delays.push(delay);
      timers.fire(delay);
    }
    assert.deepEqual(delays, [499, 999, 1999, 3999]);
    assert.equal(hs.clusters.updates.length, 1, 'what it had keeps serving');
    assert.deepEqual(ads.status().types[0], { typeUrl: TypeUrl.Cluster, type: 'CDS', version: 'v1', resources: 1, subscribed: 'all' });

    const back = await fakeServer(server.port);
    closing.push(() => back.close());
    timers.fire(await waitForTimer());
    const second = await back.stream();
    await second.requests.next();
    respond(second.call, TypeUrl.Cluster, 'v2', [{ name: 'a' }]);
    await second.requests.next();
    second.call.end();
    assert.equal(await waitForTimer(), 499);
  });

  it('sends what it has on a new stream: the version it ACKed', async () => {
    const server = await fakeServer();
    const timers = new FakeTimers();
    const hs = handlers();
    const ads = client(server.port, timers, [hs.clusters]);
    closing.push(() => server.close(), () => ads.close());
    ads.start();
    const first = await server.stream();
    await first.requests.next();
    respond(first.call, TypeUrl.Cluster, 'v1', [{ name: 'a' }]);
    await first.requests.next();
    first.call.end();
    const deadline = Date.now() + 5000;
    while (![...timers.pending.values()].some((t) => t.ms === 499)) {
      if (Date.now() > deadline) assert.fail('no reconnect was scheduled');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    timers.fire(499);
    const second = await server.stream();
    assert.deepEqual(request(await second.requests.next()), { versionInfo: 'v1', node: NODE, resourceNames: [], typeUrl: TypeUrl.Cluster, responseNonce: '' });
  });
});
