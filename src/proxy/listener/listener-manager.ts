import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { err, ok, type Result, type TimerHandle, type Timers } from '../../core/index.ts';
import { TypeUrl, type ProtoJson } from '../../xds/index.ts';
import type { Listener } from '../../xds/envoy/index.ts';
import { ConfigDumpType, type ConfigDumpSource, type ListenersConfigDump } from '../admin/config-dump.ts';
import type { NetworkFilter, NetworkFilterDeps, NetworkFilterRegistry } from '../network/network-filter.ts';
import type { Counter, Gauge } from '../telemetry/stats.ts';
import type { InternalAcceptor, InternalListeners } from '../upstream/internal-listeners.ts';
import type { ResourceHandler, ResourceUpdate } from '../xds-client/resource-handler.ts';
import { ActiveListener, type ListenerContext } from './active-listener.ts';
import { compileListener, type CompiledListener, type ListenerTlsDeps } from './compile-listener.ts';
import { sdsSecretNames, type SecretLookup } from '../security/secret-store.ts';
import type { ReadFile } from '../security/tls-context.ts';
import { localAddressDestination, type Destination, type OriginalDestination } from './original-destination.ts';

/** Where a listener's socket is bound. */
export interface BindAddress {
  readonly host: string;
  /** 0: a port the OS picks. */
  readonly port: number;
}

export interface ListenerManagerOptions {
  /** The network filters chains may end with, by type URL. */
  readonly filters: NetworkFilterRegistry;
  readonly deps: NetworkFilterDeps;
  readonly timers: Timers;
  /** SO_ORIGINAL_DST for redirected connections; by default the address a connection was accepted on. */
  readonly originalDestination?: OriginalDestination;
  /**
   * Where to bind a listener; by default its own address and port. Tests (127.0.0.1, port 0)
   * and local mode (no iptables, ports moved out of the way) bind elsewhere; filter chains and
   * hand-over still use the configured address.
   */
  readonly bindAddress?: (listener: { readonly name: string; readonly address: string; readonly port: number }) => BindAddress;
  /** How long the filter chains an update replaced or removed keep their connections before these are closed (Envoy's drain time). */
  readonly drainTimeMs?: number;
  /** Where the internal listeners are registered, for clusters to reach them in-process; without it they take no connections. */
  readonly internalListeners?: InternalListeners;
  /** Where chains that terminate TLS find the SDS secrets they name; without it, such chains refuse every connection. */
  readonly secrets?: SecretLookup;
  /** Reads the certificate files TLS contexts name; node's readFileSync by default. */
  readonly readFile?: ReadFile;
}

/** Istio's default drain duration. */
export const DEFAULT_DRAIN_TIME_MS = 45_000;

interface BoundServer {
  readonly server: Server;
  readonly key: string;
  readonly address: Destination;
  /** The listener whose connections it accepts; changes when an update moves the socket to another listener. */
  owner: string;
}

interface ManagerStats {
  readonly added: Counter;
  readonly modified: Counter;
  readonly removed: Counter;
  readonly createFailure: Counter;
  readonly active: Gauge;
}

/**
 * Runs LDS: validates every listener of an update (each chain's network filter parsed by its
 * factory), binds the new sockets, and only when all of that worked applies the update at once;
 * otherwise it NACKs, naming listener, chain and filter, and the old listeners keep serving.
 *
 * An unchanged listener is left alone (same socket, same connections). A changed one swaps its
 * filter chains in place: new connections take the new chains, chains whose config did not
 * change keep their filters and connections, and the others drain. A listener that moved to
 * another address binds the new one and stops accepting on the old. A removed listener stops
 * accepting and its filters drain; after the drain time they are closed.
 *
 * A listener with `useOriginalDst` hands each connection to the listener of its original
 * destination (`address:port`, else `0.0.0.0:port`), which need not bind (`bindToPort: false`);
 * when there is none, its own chains take it.
 *
 * An internal listener binds nothing: it is registered by name with the InternalListeners, and
 * takes the in-process connections of clusters whose endpoints name it.
 */
export class ListenerManager implements ResourceHandler, ConfigDumpSource {
  readonly typeUrl = TypeUrl.Listener;
  private readonly filterRegistry: NetworkFilterRegistry;
  private readonly tls: ListenerTlsDeps;
  private readonly context: ListenerContext;
  private readonly originalDestination: OriginalDestination;
  private readonly bindAddress: (listener: { readonly name: string; readonly address: string; readonly port: number }) => BindAddress;
  private readonly drainTimeMs: number;
  private readonly stats: ManagerStats;
  private readonly internalListeners: InternalListeners | undefined;
  /** The internal listeners registered, with the acceptor each was registered with. */
  private readonly internalAcceptors = new Map<string, InternalAcceptor>();

  private listeners: ReadonlyMap<string, ActiveListener> = new Map();
  /** By bind key (`host:port` as requested). */
  private servers: ReadonlyMap<string, BoundServer> = new Map();
  /** Configured `address:port` → listener name, for hand-over. */
  private byAddress: ReadonlyMap<string, string> = new Map();
  private routeConfigNames: ReadonlySet<string> = new Set();
  private version = '';
  /** The listeners of the last rejected update, with why, until an update applies them. */
  private readonly rejected = new Map<string, { readonly config: ProtoJson; readonly at: number; readonly details: string }>();
  private readonly draining = new Map<TimerHandle, readonly NetworkFilter[]>();
  private queue: Promise<unknown> = Promise.resolve();
  private connectionIds = 0;
  /** Accepted connections not yet closed, for a drain to wait on. */
  private readonly open = new Set<Socket>();
  /** Listeners told to stop accepting (drain_listeners, shutdown): later updates do not bind them again. */
  private stopped: (listener: CompiledListener) => boolean = () => false;
  private closed = false;

  constructor(options: ListenerManagerOptions) {
    this.filterRegistry = options.filters;
    this.tls = { readFile: options.readFile ?? readFileSync, secrets: options.secrets };
    this.context = { deps: options.deps, timers: options.timers, inspecting: new Set() };
    this.originalDestination = options.originalDestination ?? localAddressDestination;
    this.bindAddress = options.bindAddress ?? ((listener) => ({ host: listener.address, port: listener.port }));
    this.drainTimeMs = options.drainTimeMs ?? DEFAULT_DRAIN_TIME_MS;
    this.internalListeners = options.internalListeners;
    const scope = options.deps.stats.scope('listener_manager');
    this.stats = {
      added: scope.counter('listener_added'),
      modified: scope.counter('listener_modified'),
      removed: scope.counter('listener_removed'),
      createFailure: scope.counter('listener_create_failure'),
      active: scope.gauge('total_listeners_active'),
    };
  }

  /** Updates are applied one at a time, in the order they arrive. */
  apply(update: ResourceUpdate): Promise<Result<void, string>> {
    const result = this.queue.then(() => this.applyNow(update));
    this.queue = result.catch(() => undefined);
    return result;
  }

  dependencies(): { readonly typeUrl: TypeUrl; readonly names: ReadonlySet<string> } {
    return { typeUrl: TypeUrl.RouteConfiguration, names: this.routeConfigNames };
  }

  /** The SDS secrets the listeners' TLS contexts name. */
  secretNames(): Set<string> {
    const names = new Set<string>();
    for (const listener of this.listeners.values()) for (const name of sdsSecretNames(listener.config.config)) names.add(name);
    return names;
  }

  /** Where a listener's socket is bound, once it is. */
  boundAddress(name: string): Destination | undefined {
    for (const bound of this.servers.values()) {
      if (bound.owner === name) return bound.address;
    }
    return undefined;
  }

  /** The listeners applied, for config dumps. */
  configs(): ReadonlyMap<string, Listener> {
    return new Map([...this.listeners].map(([name, listener]) => [name, listener.config.config]));
  }

  /** Envoy's ListenersConfigDump: each listener's active config, and the error of the last update that failed it. */
  dump(): ListenersConfigDump {
    const iso = (ms: number): string => new Date(ms).toISOString();
    const names = [...new Set([...this.listeners.keys(), ...this.rejected.keys()])].sort();
    return {
      '@type': ConfigDumpType.Listeners,
      versionInfo: this.version,
      dynamicListeners: names.map((name) => {
        const active = this.listeners.get(name);
        const rejected = this.rejected.get(name);
        return {
          name,
          ...(active !== undefined ? {
            activeState: { versionInfo: active.version, listener: { '@type': TypeUrl.Listener, ...active.config.config }, lastUpdated: iso(active.appliedAt) },
          } : {}),
          ...(rejected !== undefined ? {
            errorState: { failedConfiguration: { '@type': TypeUrl.Listener, ...rejected.config }, lastUpdateAttempt: iso(rejected.at), details: rejected.details },
          } : {}),
        };
      }),
    };
  }

  /** Where each bound listener accepts connections. */
  bound(): { readonly name: string; readonly address: Destination }[] {
    return [...this.servers.values()].map((bound) => ({ name: bound.owner, address: bound.address })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Stops accepting new connections on the listeners `which` selects (every one by default), now
   * and after later updates; connections already accepted go on.
   */
  stopAccepting(which: (listener: Listener) => boolean = () => true): void {
    const previous = this.stopped;
    this.stopped = (listener) => previous(listener) || which(listener.config);
    const servers = new Map(this.servers);
    for (const [key, bound] of servers) {
      const listener = this.listeners.get(bound.owner);
      if (listener === undefined || !this.stopped(listener.config)) continue;
      bound.server.close();
      servers.delete(key);
    }
    this.servers = servers;
    this.registerInternal();
  }

  /** Every network filter stops taking new work: HTTP connections close once their streams end. */
  drainConnections(): void {
    for (const listener of this.listeners.values()) {
      for (const filter of listener.retiredBy(undefined)) filter.drain?.();
    }
  }

  /** How many accepted connections are still open. */
  openConnections(): number {
    return this.open.size;
  }

  /** Stops accepting, closes every connection and filter. */
  close(): void {
    this.closed = true;
    this.registerInternal();
    for (const bound of this.servers.values()) bound.server.close();
    for (const [timer, filters] of this.draining) {
      this.context.timers.clearTimeout(timer);
      for (const filter of filters) filter.close?.();
    }
    this.draining.clear();
    for (const listener of this.listeners.values()) {
      for (const filter of listener.retiredBy(undefined)) filter.close?.();
    }
    for (const socket of this.context.inspecting) socket.destroy();
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    this.context.inspecting.clear();
    this.servers = new Map();
    this.listeners = new Map();
    this.stats.active.set(0);
  }

  private async applyNow(update: ResourceUpdate): Promise<Result<void, string>> {
    if (this.closed) return err('the listener manager is closed');
    const problems = new Map<string, string[]>();
    const next = new Map<string, CompiledListener>();
    const removed = new Set(update.removed);
    for (const [name, listener] of this.listeners) {
      if (!removed.has(name) && !update.resources.has(name)) next.set(name, listener.config);
    }
    for (const [name, raw] of update.resources) {
      const compiled = compileListener(name, raw, this.filterRegistry, this.tls);
      if (!compiled.ok) problems.set(name, compiled.error);
      else if (compiled.value !== undefined) next.set(name, compiled.value);
    }
    for (const [name, problem] of duplicateAddresses(next)) problems.set(name, [...problems.get(name) ?? [], problem]);
    if (problems.size > 0) return this.reject(update, problems);

    const bound = await this.bindAll(next);
    if (!bound.ok) {
      this.stats.createFailure.inc();
      return this.reject(update, bound.error);
    }
    if (this.closed) {
      for (const server of bound.value.values()) server.server.close();
      return err('the listener manager is closed');
    }
    this.commit(next, bound.value, update.version);
    for (const name of [...update.resources.keys(), ...update.removed]) this.rejected.delete(name);
    return ok(undefined);
  }

  /** The NACK's detail, `listener "name": problem; ...`; the listeners at fault keep it for the config dump. */
  private reject(update: ResourceUpdate, problems: ReadonlyMap<string, readonly string[]>): Result<void, string> {
    const at = this.context.deps.clock.now();
    for (const [name, list] of problems) {
      const config = update.resources.get(name);
      if (config !== undefined) this.rejected.set(name, { config, at, details: list.join('; ') });
    }
    return err([...problems].flatMap(([name, list]) => list.map((p) => `listener "${name}": ${p}`)).join('; '));
  }

  /**
   * The servers the listeners of `next` need, by bind key: kept from now (a listener whose bind
   * address did not change keeps its socket; a fixed port given up by one listener passes to
   * another), or newly bound. If any bind fails, the new ones are closed again.
   */
  private async bindAll(next: ReadonlyMap<string, CompiledListener>): Promise<Result<Map<string, BoundServer>, Map<string, string[]>>> {
    const wanted = new Map<string, { name: string; bind: BindAddress }>();
    for (const [name, config] of next) {
      if (!config.bindToPort || this.stopped(config)) continue;
      const current = this.listeners.get(name);
      const bind = current?.config.fingerprint === config.fingerprint && this.ownedKey(name) !== undefined
        ? undefined
        : this.bindAddress({ name, address: config.address, port: config.port });
      const key = bind === undefined ? this.ownedKey(name)! : bindKey(bind, name);
      const other = wanted.get(key);
      if (other !== undefined) return err(new Map([[name, [`binds ${key}, as listener "${other.name}" does`]]]));
      wanted.set(key, { name, bind: bind ?? { host: config.address, port: config.port } });
    }
    const claimed = new Map<string, BoundServer>();
    const pending: Promise<{ key: string; name: string; bind: BindAddress; result: Result<BoundServer, string> }>[] = [];
    for (const [key, { name, bind }] of wanted) {
      const existing = this.servers.get(key);
      if (existing !== undefined) claimed.set(key, existing);
      else pending.push(this.bind(key, name, bind).then((result) => ({ key, name, bind, result })));
    }
    const results = await Promise.all(pending);
    const failures = results.filter((r) => !r.result.ok);
    if (failures.length > 0) {
      for (const r of results) if (r.result.ok) r.result.value.server.close();
      return err(new Map(failures.map((r) => [r.name, [`cannot bind ${r.bind.host}:${r.bind.port}: ${r.result.ok ? '' : r.result.error}`]])));
    }
    for (const r of results) if (r.result.ok) claimed.set(r.key, r.result.value);
    for (const [key, { name }] of wanted) claimed.get(key)!.owner = name;
    return ok(claimed);
  }

  private ownedKey(name: string): string | undefined {
    for (const [key, bound] of this.servers) if (bound.owner === name) return key;
    return undefined;
  }

  private bind(key: string, owner: string, bind: BindAddress): Promise<Result<BoundServer, string>> {
    return new Promise((resolve) => {
      const server = createServer({ allowHalfOpen: true, noDelay: true });
      const bound: BoundServer = { server, key, address: { address: bind.host, port: bind.port }, owner };
      const onError = (error: NodeJS.ErrnoException): void => resolve(err(error.code ?? error.message));
      server.once('error', onError);
      server.listen({ host: bind.host, port: bind.port, ipv6Only: bind.host === '::' }, () => {
        server.off('error', onError);
        server.on('error', (error) => this.context.deps.logger.error('listener socket failed', { listener: bound.owner, error: error.message }));
        const address = server.address();
        const actual = typeof address === 'object' && address !== null ? { address: address.address, port: address.port } : bound.address;
        const ready: BoundServer = { ...bound, address: actual };
        server.on('connection', (socket: Socket) => this.accept(ready.owner, socket));
        resolve(ok(ready));
      });
    });
  }

  private commit(next: ReadonlyMap<string, CompiledListener>, servers: Map<string, BoundServer>, version: string): void {
    const listeners = new Map<string, ActiveListener>();
    const retired: NetworkFilter[] = [];
    for (const [name, config] of next) {
      const current = this.listeners.get(name);
      if (current !== undefined && current.config.fingerprint === config.fingerprint) {
        listeners.set(name, current);
        continue;
      }
      const active = new ActiveListener(config, this.context, version, current);
      listeners.set(name, active);
      if (current !== undefined) {
        retired.push(...current.retiredBy(active));
        this.stats.modified.inc();
      } else {
        this.stats.added.inc();
      }
    }
    for (const [name, current] of this.listeners) {
      if (listeners.has(name)) continue;
      retired.push(...current.retiredBy(undefined));
      this.stats.removed.inc();
    }
    for (const [key, bound] of this.servers) {
      if (servers.get(key) !== bound) bound.server.close();
    }

    this.listeners = listeners;
    this.servers = servers;
    this.byAddress = new Map([...listeners.values()].filter((l) => l.config.port !== 0).map((l) => [addressKey(l.config.address, l.config.port), l.config.name]));
    this.routeConfigNames = new Set([...listeners.values()].flatMap((l) => [...l.config.routeConfigNames]));
    this.stats.active.set(listeners.size);
    this.version = version;
    this.registerInternal();
    this.drain(retired);
  }

  /**
   * Registers the internal listeners that take connections now (and only those): not stopped, the
   * manager not closed. A connection to one registered under the name looks the listener up when
   * it arrives, so an update reaches the next connection.
   */
  private registerInternal(): void {
    const registry = this.internalListeners;
    if (registry === undefined) return;
    const wanted = new Set<string>();
    if (!this.closed) {
      for (const [name, listener] of this.listeners) if (listener.config.internal && !this.stopped(listener.config)) wanted.add(name);
    }
    for (const [name, acceptor] of this.internalAcceptors) {
      if (wanted.has(name)) continue;
      registry.unregister(name, acceptor);
      this.internalAcceptors.delete(name);
    }
    for (const name of wanted) {
      if (this.internalAcceptors.has(name)) continue;
      const acceptor: InternalAcceptor = (socket) => this.acceptInternal(name, socket);
      registry.register(name, acceptor);
      this.internalAcceptors.set(name, acceptor);
    }
  }

  /** The listener's end of an in-process connection, taken as an accepted one; its local address is its destination. */
  private acceptInternal(name: string, socket: Socket): void {
    socket.on('error', (error) => this.context.deps.logger.debug('internal connection failed', { listener: name, error: error.message }));
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    const listener = this.listeners.get(name);
    if (listener === undefined || !listener.config.internal) {
      socket.destroy();
      return;
    }
    listener.serve(socket, { address: socket.localAddress ?? '127.0.0.1', port: socket.localPort ?? 0 }, ++this.connectionIds);
  }

  /** Draining filters stop taking new work on their connections now, and are closed after the drain time. */
  private drain(filters: readonly NetworkFilter[]): void {
    if (filters.length === 0) return;
    for (const filter of filters) filter.drain?.();
    const timer = this.context.timers.setTimeout(() => {
      this.draining.delete(timer);
      for (const filter of filters) filter.close?.();
    }, this.drainTimeMs);
    this.draining.set(timer, filters);
  }

  private accept(owner: string, socket: Socket): void {
    // Whoever takes the socket later handles its errors; an error before that only ends it.
    socket.on('error', (error) => this.context.deps.logger.debug('downstream connection failed', { listener: owner, error: error.message }));
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    const listener = this.listeners.get(owner);
    if (listener === undefined) {
      socket.destroy();
      return;
    }
    const destination = listener.config.restoresOriginalDestination ? this.originalDestination(socket) : localAddressDestination(socket);
    const target = listener.config.useOriginalDst ? this.listenerAt(destination) ?? listener : listener;
    target.serve(socket, destination, ++this.connectionIds);
  }

  /** The listener for a destination: the exact address and port, else the wildcard address and the port. */
  private listenerAt(destination: Destination): ActiveListener | undefined {
    const name = this.byAddress.get(addressKey(destination.address, destination.port))
      ?? this.byAddress.get(addressKey(destination.address.includes(':') ? '::' : '0.0.0.0', destination.port));
    return name !== undefined ? this.listeners.get(name) : undefined;
  }
}

function addressKey(address: string, port: number): string {
  return `${address}:${port}`;
}

/** Port 0 asks for a new port each time, so such a bind is never shared with another listener. */
function bindKey(bind: BindAddress, name: string): string {
  return bind.port === 0 ? `${bind.host}:0/${name}` : addressKey(bind.host, bind.port);
}

/** Each listener whose configured address an earlier one already has, with the problem. */
function duplicateAddresses(listeners: ReadonlyMap<string, CompiledListener>): [string, string][] {
  const seen = new Map<string, string>();
  const problems: [string, string][] = [];
  for (const [name, config] of listeners) {
    if (config.port === 0) continue;
    const key = addressKey(config.address, config.port);
    const other = seen.get(key);
    if (other !== undefined) problems.push([name, `address ${key} is already listener "${other}"'s`]);
    else seen.set(key, name);
  }
  return problems;
}
