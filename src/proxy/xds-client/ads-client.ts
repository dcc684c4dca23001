import * as grpc from '@grpc/grpc-js';
import type { Clock, Logger, TimerHandle, Timers } from '../../core/index.ts';
import { TYPE_ORDER, TYPE_SHORT_NAME, TypeUrl, type ProtoJson } from '../../xds/index.ts';
import type { DeltaDiscoveryRequest, DiscoveryRequest, RpcStatus } from '../../xds/envoy/index.ts';
import { ConfigDumpType, type ConfigDumpSection, type ConfigDumpSource, type TypedResource } from '../admin/config-dump.ts';
import type { Counter, Gauge, StatsScope } from '../telemetry/stats.ts';
import { JitteredBackoff } from './backoff.ts';
import type { AdsSettings } from './bootstrap.ts';
import { decodeResources, type DecodedResource, type RawResource } from './decode-resources.ts';
import { DELTA_METHOD, SOTW_METHOD, type RawDeltaDiscoveryResponse, type RawDiscoveryResponse } from './raw-discovery.ts';
import type { ResourceHandler, ResourceUpdate } from './resource-handler.ts';

export interface AdsClientOptions {
  /** Where the control plane is, which protocol to speak, the initial fetch timeout. */
  readonly ads: AdsSettings;
  /** The xDS node in JSON form (see `xdsNode`), sent on the first request of each stream. */
  readonly node: ProtoJson;
  /** One per xDS type the proxy runs; CDS and LDS are fetched whole, EDS, RDS and SDS by the names the handlers depend on. */
  readonly handlers: readonly ResourceHandler[];
  readonly clock: Clock;
  readonly timers: Timers;
  /** Uniform in [0, 1), for the back-off's jitter. */
  readonly random: () => number;
  readonly logger: Logger;
  readonly backoff?: { readonly baseMs?: number; readonly maxMs?: number };
  /** Envoy's `control_plane.connected_state` and the CDS and LDS update counters. */
  readonly stats?: StatsScope;
  /** Plaintext unless given. */
  readonly credentials?: grpc.ChannelCredentials;
  /** More channel options, e.g. `grpc.ssl_target_name_override`, the name the control plane's certificate must carry. */
  readonly channelOptions?: grpc.ChannelOptions;
  /** HTTP/2 keepalive pings on the stream, so that a control plane gone silent (a dead peer, a dropped NAT entry) is noticed; Istio's 30 s / 10 s by default. */
  readonly keepalive?: { readonly timeMs: number; readonly timeoutMs: number };
}

const DEFAULT_KEEPALIVE = { timeMs: 30_000, timeoutMs: 10_000 };

/** A resource the proxy accepted: its version and when. */
interface Accepted {
  readonly version: string;
  readonly resource: ProtoJson;
  readonly lastUpdated: number;
}

interface TypeState {
  readonly typeUrl: TypeUrl;
  readonly handler: ResourceHandler;
  /** LDS and CDS: every resource there is; the others: `names`. */
  readonly wildcard: boolean;
  /** The subscription has begun (the initial fetch reached this type, or it is outside the warming order). */
  started: boolean;
  /** The first response after the subscription began has been handled (ACKed or NACKed). */
  fetched: boolean;
  names: ReadonlySet<string>;
  readonly accepted: Map<string, Accepted>;
  /** The version of the last response ACKed. */
  version: string;
  /** Why the last response was NACKed, while no later one has been ACKed. */
  lastError: string | undefined;
  // Per stream:
  requested: boolean;
  nonce: string;
  /** Delta: the names the server has been asked for on this stream. */
  serverNames: Set<string>;
}

interface Stream {
  readonly id: number;
  readonly client: grpc.Client;
  readonly call: grpc.ClientDuplexStream<DiscoveryRequest | DeltaDiscoveryRequest, unknown>;
  nodeSent: boolean;
  /** A response arrived: the connection works, and the back-off starts again from its base. */
  healthy: boolean;
}

export interface AdsTypeStatus {
  readonly typeUrl: TypeUrl;
  readonly type: string;
  readonly version: string;
  readonly resources: number;
  readonly subscribed: 'all' | readonly string[];
  readonly lastError?: string;
}

export interface AdsClientStatus {
  readonly connected: boolean;
  readonly ready: boolean;
  readonly types: readonly AdsTypeStatus[];
}

/** The types the initial fetch waits for, one after the other, as Envoy warms: clusters and their endpoints before listeners and their routes. */
const WARMING_ORDER: readonly TypeUrl[] = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];
const WILDCARD_TYPES: ReadonlySet<TypeUrl> = new Set([TypeUrl.Cluster, TypeUrl.Listener]);
/** google.rpc.Code INVALID_ARGUMENT, as Envoy NACKs. */
const INVALID_ARGUMENT = 3;
/** Dependency changes settle in a few rounds (a removed cluster drops its endpoints, which depend on nothing). */
const MAX_DEPENDENCY_ROUNDS = 8;

const UPDATE_STATS: Partial<Record<TypeUrl, string>> = {
  [TypeUrl.Cluster]: 'cluster_manager.cds',
  [TypeUrl.Listener]: 'listener_manager.lds',
};

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sameNames(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const name of a) if (!b.has(name)) return false;
  return true;
}

/**
 * The proxy's side of ADS: one gRPC stream to the control plane carrying every type, State of
 * the World or Delta. It subscribes to CDS and LDS whole and to EDS, RDS and SDS by the names the
 * handlers depend on; decodes each response, hands it to the type's handler, and ACKs it, or
 * NACKs it with the handler's reason while the last good config keeps serving. The first fetch
 * follows Envoy's warming order (clusters, their endpoints, listeners, their routes), each step
 * waiting at most the initial fetch timeout. When the stream ends it reconnects with jittered
 * exponential back-off and asks again for what it has.
 */
export class AdsClient {
  readonly #options: AdsClientOptions;
  readonly #types = new Map<TypeUrl, TypeState>();
  readonly #backoff: JitteredBackoff;
  readonly #connected: Gauge | undefined;
  readonly #updateCounters = new Map<TypeUrl, { readonly attempt: Counter; readonly success: Counter; readonly rejected: Counter }>();
  #stream: Stream | undefined;
  #streams = 0;
  #reconnectTimer: TimerHandle | undefined;
  #started = false;
  #closed = false;
  /** The step of the warming order the initial fetch is at; WARMING_ORDER.length once done. */
  #warmingStep = 0;
  #warmingTimer: TimerHandle | undefined;
  #ready = false;
  readonly #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Responses are handled one at a time, in order, because a handler may answer asynchronously. */
  #work: Promise<void> = Promise.resolve();

  constructor(options: AdsClientOptions) {
    this.#options = options;
    this.#backoff = new JitteredBackoff({ random: options.random, ...options.backoff });
    for (const handler of options.handlers) {
      if (this.#types.has(handler.typeUrl)) throw new Error(`two handlers for ${handler.typeUrl}`);
      this.#types.set(handler.typeUrl, {
        typeUrl: handler.typeUrl,
        handler,
        wildcard: WILDCARD_TYPES.has(handler.typeUrl),
        started: !WARMING_ORDER.includes(handler.typeUrl),
        fetched: false,
        names: new Set(),
        accepted: new Map(),
        version: '',
        lastError: undefined,
        requested: false,
        nonce: '',
        serverNames: new Set(),
      });
    }
    this.#connected = options.stats?.gauge('control_plane.connected_state');
    for (const [typeUrl, prefix] of Object.entries(UPDATE_STATS) as [TypeUrl, string][]) {
      if (!this.#types.has(typeUrl) || options.stats === undefined) continue;
      const scope = options.stats.scope(prefix);
      this.#updateCounters.set(typeUrl, { attempt: scope.counter('update_attempt'), success: scope.counter('update_success'), rejected: scope.counter('update_rejected') });
    }
  }

  /** Connects and begins the initial fetch. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#connect();
    this.#enqueue(async () => {
      await this.#refreshDependencies();
      this.#beginWarmingStep();
    });
  }

  /** Resolves once the initial fetch is done (or timed out step by step); rejects if the client is closed first. */
  ready(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error('the ADS client is closed'));
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  isReady(): boolean {
    return this.#ready;
  }

  status(): AdsClientStatus {
    return {
      connected: this.#stream?.healthy ?? false,
      ready: this.#ready,
      types: TYPE_ORDER.flatMap((typeUrl) => {
        const state = this.#types.get(typeUrl);
        if (state === undefined) return [];
        return [{
          typeUrl,
          type: TYPE_SHORT_NAME[typeUrl],
          version: state.version,
          resources: state.accepted.size,
          subscribed: state.wildcard ? 'all' : [...state.names].sort(),
          ...(state.lastError === undefined ? {} : { lastError: state.lastError }),
        }];
      }),
    };
  }

  /** One config dump section per type (except secrets, whose handler redacts them): what the proxy accepted. */
  configDumpSources(): ConfigDumpSource[] {
    const sources: ConfigDumpSource[] = [];
    for (const typeUrl of TYPE_ORDER) {
      const state = this.#types.get(typeUrl);
      if (state !== undefined && typeUrl !== TypeUrl.Secret) sources.push({ dump: () => this.#dump(state) });
    }
    return sources;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#reconnectTimer !== undefined) this.#options.timers.clearTimeout(this.#reconnectTimer);
    if (this.#warmingTimer !== undefined) this.#options.timers.clearTimeout(this.#warmingTimer);
    this.#reconnectTimer = undefined;
    this.#warmingTimer = undefined;
    this.#endStream();
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(new Error('the ADS client closed before its initial fetch was done'));
    // A handler may still be applying the last response; nothing is written after this.
    await this.#work;
  }

  // ---- the stream ----

  #connect(): void {
    this.#reconnectTimer = undefined;
    if (this.#closed) return;
    const { ads, logger } = this.#options;
    const keepalive = this.#options.keepalive ?? DEFAULT_KEEPALIVE;
    const client = new grpc.Client(ads.address, this.#options.credentials ?? grpc.credentials.createInsecure(), {
      ...this.#options.channelOptions,
      'grpc.keepalive_time_ms': keepalive.timeMs,
      'grpc.keepalive_timeout_ms': keepalive.timeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
    });
    const id = ++this.#streams;
    const call =
      ads.mode === 'delta'
        ? client.makeBidiStreamRequest(DELTA_METHOD.path, DELTA_METHOD.serialize, DELTA_METHOD.deserialize)
        : client.makeBidiStreamRequest(SOTW_METHOD.path, SOTW_METHOD.serialize, SOTW_METHOD.deserialize);
    const stream: Stream = { id, client, call: call as Stream['call'], nodeSent: false, healthy: false };
    this.#stream = stream;
    logger.debug('ads: connecting', { address: ads.address, mode: ads.mode, stream: id });
    call.on('data', (response: RawDiscoveryResponse | RawDeltaDiscoveryResponse) => {
      if (this.#stream !== stream) return;
      if (!stream.healthy) {
        stream.healthy = true;
        this.#backoff.reset();
        this.#connected?.set(1);
        logger.info('ads: connected', { address: ads.address, mode: ads.mode });
      }
      this.#enqueue(async () => {
        // A response of a stream that has since ended is dropped: the next stream asks again.
        if (this.#stream !== stream) return;
        if ('systemVersionInfo' in response) await this.#onDeltaResponse(stream, response);
        else await this.#onSotwResponse(stream, response);
      });
    });
    call.on('error', (error: grpc.ServiceError) => this.#onStreamEnd(stream, `${grpc.status[error.code] ?? error.code}: ${error.details}`));
    call.on('status', (status: grpc.StatusObject) => this.#onStreamEnd(stream, status.code === grpc.status.OK ? 'closed by the control plane' : `${grpc.status[status.code] ?? status.code}: ${status.details}`));
    for (const state of this.#types.values()) {
      state.requested = false;
      state.nonce = '';
      state.serverNames = new Set();
    }
    for (const typeUrl of TYPE_ORDER) {
      const state = this.#types.get(typeUrl);
      if (state !== undefined && state.started) this.#subscribe(state);
    }
  }

  #onStreamEnd(stream: Stream, reason: string): void {
    if (this.#stream !== stream || this.#closed) return;
    this.#endStream();
    this.#connected?.set(0);
    const delay = this.#backoff.next();
    this.#options.logger.warn('ads: stream ended; reconnecting', { reason, delayMs: delay });
    this.#reconnectTimer = this.#options.timers.setTimeout(() => this.#connect(), delay);
  }

  #enqueue(task: () => Promise<void>): void {
    this.#work = this.#work.then(task).catch((error: unknown) => this.#options.logger.error('ads: handling a response failed', { error: messageOf(error) }));
  }

  #endStream(): void {
    const stream = this.#stream;
    if (stream === undefined) return;
    this.#stream = undefined;
    stream.call.cancel();
    stream.client.close();
  }

  /** Writes on the current stream; a reply meant for a stream that has ended (`on`) is dropped. */
  #write(request: DiscoveryRequest | DeltaDiscoveryRequest, on?: Stream): void {
    const stream = this.#stream;
    if (stream === undefined || (on !== undefined && on !== stream)) return;
    const withNode = stream.nodeSent ? request : { ...request, node: this.#options.node };
    stream.nodeSent = true;
    stream.call.write(withNode);
  }

  // ---- subscriptions ----

  /** Asks for the type's current names: its first request on the stream, or a change of names. */
  #subscribe(state: TypeState): void {
    if (this.#stream === undefined || !state.started) return;
    // A named type with nothing to ask for stays silent until it has names.
    if (!state.wildcard && !state.requested && state.names.size === 0) return;
    if (this.#options.ads.mode === 'delta') this.#subscribeDelta(state);
    else this.#subscribeSotw(state);
  }

  #subscribeSotw(state: TypeState): void {
    const request: DiscoveryRequest = {
      typeUrl: state.typeUrl,
      versionInfo: state.version,
      resourceNames: state.wildcard ? [] : [...state.names].sort(),
      ...(state.nonce === '' ? {} : { responseNonce: state.nonce }),
    };
    state.requested = true;
    this.#write(request);
  }

  #subscribeDelta(state: TypeState): void {
    if (!state.requested) {
      const names = state.wildcard ? [] : [...state.names].sort();
      const initial: Record<string, string> = {};
      for (const [name, accepted] of state.accepted) if (state.wildcard || state.names.has(name)) initial[name] = accepted.version;
      state.requested = true;
      state.serverNames = new Set(names);
      this.#write({ typeUrl: state.typeUrl, resourceNamesSubscribe: names, ...(Object.keys(initial).length > 0 ? { initialResourceVersions: initial } : {}) });
      return;
    }
    if (state.wildcard) return;
    const subscribe = [...state.names].filter((name) => !state.serverNames.has(name)).sort();
    const unsubscribe = [...state.serverNames].filter((name) => !state.names.has(name)).sort();
    if (subscribe.length === 0 && unsubscribe.length === 0) return;
    state.serverNames = new Set(state.names);
    this.#write({ typeUrl: state.typeUrl, ...(subscribe.length > 0 ? { resourceNamesSubscribe: subscribe } : {}), ...(unsubscribe.length > 0 ? { resourceNamesUnsubscribe: unsubscribe } : {}) });
  }

  /**
   * Sets each named type's subscription to what the handlers now depend on. A name no longer
   * wanted is dropped from its handler too, as Envoy forgets the endpoints of a removed cluster.
   */
  async #refreshDependencies(): Promise<void> {
    for (let round = 0; round < MAX_DEPENDENCY_ROUNDS; round++) {
      const wanted = new Map<TypeUrl, Set<string>>();
      for (const state of this.#types.values()) {
        const dependencies = state.handler.dependencies?.();
        if (dependencies === undefined) continue;
        const names = wanted.get(dependencies.typeUrl) ?? new Set<string>();
        for (const name of dependencies.names) names.add(name);
        wanted.set(dependencies.typeUrl, names);
      }
      let changed = false;
      for (const state of this.#types.values()) {
        if (state.wildcard) continue;
        const names = wanted.get(state.typeUrl) ?? new Set<string>();
        if (sameNames(names, state.names)) continue;
        const dropped = [...state.names].filter((name) => !names.has(name) && state.accepted.has(name));
        state.names = names;
        this.#subscribe(state);
        if (dropped.length > 0) {
          await this.#forget(state, dropped);
          changed = true;
        }
      }
      if (!changed) return;
    }
    this.#options.logger.warn("ads: the handlers' dependencies did not settle", { rounds: MAX_DEPENDENCY_ROUNDS });
  }

  async #forget(state: TypeState, names: readonly string[]): Promise<void> {
    const result = await this.#apply(state, { resources: new Map(), removed: names, version: state.version });
    if (!result.ok) {
      this.#options.logger.error('ads: a handler refused to drop resources no longer referenced', { type: TYPE_SHORT_NAME[state.typeUrl], names, error: result.error });
      return;
    }
    for (const name of names) state.accepted.delete(name);
  }

  async #apply(state: TypeState, update: ResourceUpdate): Promise<{ ok: true } | { ok: false; error: string }> {
    try {
      const result = await state.handler.apply(update);
      return result.ok ? { ok: true } : { ok: false, error: result.error };
    } catch (error) {
      this.#options.logger.error('ads: a handler threw', { type: TYPE_SHORT_NAME[state.typeUrl], error: messageOf(error) });
      return { ok: false, error: `internal error applying ${TYPE_SHORT_NAME[state.typeUrl]}: ${messageOf(error)}` };
    }
  }

  // ---- responses ----

  #stateFor(typeUrl: string): TypeState | undefined {
    const state = this.#types.get(typeUrl as TypeUrl);
    if (state === undefined) this.#options.logger.warn('ads: a response of a type the proxy has no handler for', { typeUrl });
    else this.#updateCounters.get(state.typeUrl)?.attempt.inc();
    return state;
  }

  async #onSotwResponse(stream: Stream, response: RawDiscoveryResponse): Promise<void> {
    const state = this.#stateFor(response.typeUrl);
    if (state === undefined) return;
    state.nonce = response.nonce;
    const decoded = decodeResources(state.typeUrl, response.resources.map((any): RawResource => ({ any })));
    if (!decoded.ok) {
      this.#reject(stream, state, response.versionInfo, decoded.error);
      return;
    }
    // For LDS and CDS a response is the whole set: what it lacks is gone. Other types name only what changed or was asked.
    const present = new Set(decoded.value.map((r) => r.name));
    const removed = state.wildcard ? [...state.accepted.keys()].filter((name) => !present.has(name)) : [];
    await this.#accept(stream, state, response.versionInfo, decoded.value, removed);
  }

  async #onDeltaResponse(stream: Stream, response: RawDeltaDiscoveryResponse): Promise<void> {
    const state = this.#stateFor(response.typeUrl);
    if (state === undefined) return;
    state.nonce = response.nonce;
    const raw: RawResource[] = [];
    for (const r of response.resources) if (r.resource !== undefined) raw.push({ name: r.name, version: r.version, any: r.resource });
    const decoded = decodeResources(state.typeUrl, raw);
    if (!decoded.ok) {
      this.#reject(stream, state, response.systemVersionInfo, decoded.error);
      return;
    }
    // The server also names, as removed, subscribed names that do not exist; the handler hears only of what it has.
    const removed = response.removedResources.filter((name) => state.accepted.has(name));
    await this.#accept(stream, state, response.systemVersionInfo, decoded.value, removed);
  }

  async #accept(stream: Stream, state: TypeState, version: string, resources: readonly DecodedResource[], removed: readonly string[]): Promise<void> {
    const counters = this.#updateCounters.get(state.typeUrl);
    const update: ResourceUpdate = { resources: new Map(resources.map((r) => [r.name, r.resource])), removed, version };
    const result = await this.#apply(state, update);
    if (!result.ok) {
      this.#reject(stream, state, version, result.error);
      return;
    }
    counters?.success.inc();
    const now = this.#options.clock.now();
    for (const r of resources) state.accepted.set(r.name, { version: r.version ?? version, resource: r.resource, lastUpdated: now });
    for (const name of removed) state.accepted.delete(name);
    state.version = version;
    state.lastError = undefined;
    this.#reply(stream, state, version, undefined);
    this.#options.logger.debug('ads: applied', { type: TYPE_SHORT_NAME[state.typeUrl], version, resources: resources.length, removed: removed.length });
    // Names first, so that the next warming step asks for the endpoints or routes this update needs.
    await this.#refreshDependencies();
    this.#fetched(state);
  }

  #reject(stream: Stream, state: TypeState, version: string, message: string): void {
    this.#updateCounters.get(state.typeUrl)?.rejected.inc();
    state.lastError = message;
    this.#options.logger.warn('ads: rejected a response; the last good config keeps serving', { type: TYPE_SHORT_NAME[state.typeUrl], version, error: message });
    this.#reply(stream, state, state.version, { code: INVALID_ARGUMENT, message });
    this.#fetched(state);
  }

  /** ACKs (with the version applied) or NACKs (with the last version ACKed and the reason) the last response. */
  #reply(stream: Stream, state: TypeState, version: string, error: RpcStatus | undefined): void {
    const errorDetail = error === undefined ? {} : { errorDetail: error };
    if (this.#options.ads.mode === 'delta') {
      this.#write({ typeUrl: state.typeUrl, responseNonce: state.nonce, ...errorDetail }, stream);
    } else {
      this.#write({ typeUrl: state.typeUrl, versionInfo: version, resourceNames: state.wildcard ? [] : [...state.names].sort(), responseNonce: state.nonce, ...errorDetail }, stream);
    }
  }

  // ---- the initial fetch ----

  #fetched(state: TypeState): void {
    if (state.fetched) return;
    state.fetched = true;
    if (WARMING_ORDER[this.#warmingStep] === state.typeUrl) this.#advanceWarming();
  }

  /** Starts the current step: subscribes its type, or skips it when there is nothing to wait for. */
  #beginWarmingStep(): void {
    while (this.#warmingStep < WARMING_ORDER.length) {
      const typeUrl = WARMING_ORDER[this.#warmingStep]!;
      const state = this.#types.get(typeUrl);
      if (state !== undefined) {
        state.started = true;
        if (!state.fetched && (state.wildcard || state.names.size > 0)) {
          if (!state.requested) this.#subscribe(state);
          const timeoutMs = this.#options.ads.initialFetchTimeoutMs;
          if (timeoutMs > 0) {
            this.#warmingTimer = this.#options.timers.setTimeout(() => {
              this.#warmingTimer = undefined;
              this.#options.logger.warn('ads: initial fetch timed out; going on without it', { type: TYPE_SHORT_NAME[typeUrl], timeoutMs });
              this.#advanceWarming();
            }, timeoutMs);
          }
          return;
        }
      }
      this.#warmingStep += 1;
    }
    this.#ready = true;
    this.#options.logger.info('ads: initial fetch done');
    for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
  }

  #advanceWarming(): void {
    if (this.#warmingTimer !== undefined) this.#options.timers.clearTimeout(this.#warmingTimer);
    this.#warmingTimer = undefined;
    this.#warmingStep += 1;
    this.#beginWarmingStep();
  }

  // ---- config dump ----

  #dump(state: TypeState): ConfigDumpSection {
    const time = (ms: number): string => new Date(ms).toISOString();
    const entries = [...state.accepted.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const typed = (resource: ProtoJson): TypedResource => ({ '@type': state.typeUrl, ...resource });
    switch (state.typeUrl) {
      case TypeUrl.Cluster:
        return { '@type': ConfigDumpType.Clusters, versionInfo: state.version, dynamicActiveClusters: entries.map(([, a]) => ({ versionInfo: a.version, cluster: typed(a.resource), lastUpdated: time(a.lastUpdated) })) };
      case TypeUrl.ClusterLoadAssignment:
        return { '@type': ConfigDumpType.Endpoints, dynamicEndpointConfigs: entries.map(([, a]) => ({ versionInfo: a.version, endpointConfig: typed(a.resource), lastUpdated: time(a.lastUpdated) })) };
      case TypeUrl.Listener:
        return {
          '@type': ConfigDumpType.Listeners,
          versionInfo: state.version,
          dynamicListeners: entries.map(([name, a]) => ({ name, activeState: { versionInfo: a.version, listener: typed(a.resource), lastUpdated: time(a.lastUpdated) } })),
        };
      case TypeUrl.RouteConfiguration:
        return { '@type': ConfigDumpType.Routes, dynamicRouteConfigs: entries.map(([, a]) => ({ versionInfo: a.version, routeConfig: typed(a.resource), lastUpdated: time(a.lastUpdated) })) };
      case TypeUrl.Secret:
        throw new Error('secrets are dumped by their handler, which redacts them');
    }
  }
}
