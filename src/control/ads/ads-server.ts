import * as grpc from '@grpc/grpc-js';
import { err, type Result } from '../../core/index.ts';
import type { ProtoJson, TypeUrl } from '../../xds/index.ts';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../../xds/envoy/index.ts';
import type { Generator } from '../generators/generator.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/mesh-snapshot.ts';
import { DEFAULT_PUSH_SETTINGS, type AdsServerOptions, type ChangedKinds, type PushSettings } from './ads-server-options.ts';
import { adsServiceDefinition, type EncodedDeltaDiscoveryResponse, type EncodedDiscoveryResponse } from '../../xds/index.ts';
import type { AdsStream, StreamContext } from './ads-stream.ts';
import { DeltaStream } from './delta-stream.ts';
import { GenerationCache } from './generated-resources.ts';
import type { ProxyStatus, SentResource } from './proxy-status.ts';
import { PushDebouncer } from './push-debouncer.ts';
import { SotwStream } from './sotw-stream.ts';

/** How a port is served: plaintext (Istio's 15010) or TLS with the control plane's certificate (15012). */
export type ListenTransport = { readonly kind: 'plaintext' } | { readonly kind: 'tls'; readonly credentials: grpc.ServerCredentials };

const PLAINTEXT: ListenTransport = { kind: 'plaintext' };

interface AddedService {
  readonly service: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
  readonly tlsOnly: boolean;
}

/** A stream of either protocol, as the server sees it: it no longer hands it requests. */
type Connection = AdsStream<never>;

function generatorsByType(generators: readonly Generator[]): ReadonlyMap<TypeUrl, Generator> {
  const byType = new Map<TypeUrl, Generator>();
  for (const generator of generators) {
    if (byType.has(generator.typeUrl)) throw new Error(`two generators for ${generator.typeUrl}`);
    byType.set(generator.typeUrl, generator);
  }
  return byType;
}

function pushSettings(overrides: Partial<PushSettings> | undefined): PushSettings {
  const settings = { ...DEFAULT_PUSH_SETTINGS, ...overrides };
  if (!(settings.debounceQuietMs >= 0) || !(settings.debounceMaxMs >= settings.debounceQuietMs)) {
    throw new RangeError(`push settings need 0 <= debounceQuietMs <= debounceMaxMs (got ${settings.debounceQuietMs} and ${settings.debounceMaxMs})`);
  }
  return settings;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The xDS v3 Aggregated Discovery Service, State of the World and Delta, over gRPC. Each stream's
 * first request names its proxy (the xDS node); requests are answered from the snapshot in
 * effect, and each new snapshot is pushed, after a debounce, to the streams whose resources it
 * changes.
 */
export class AdsServer {
  readonly #options: AdsServerOptions;
  readonly #generators: ReadonlyMap<TypeUrl, Generator>;
  readonly #debouncer: PushDebouncer;
  readonly #unsubscribe: () => void;
  /** One gRPC server per port bound, each serving ADS and the added services. */
  readonly #servers: grpc.Server[] = [];
  readonly #services: AddedService[] = [];
  /** Every open call, connected or not yet, so that close() can end them all. */
  readonly #calls = new Set<{ end(): void }>();
  readonly #connections = new Map<string, Connection>();
  readonly #cache = new GenerationCache();
  #snapshot: MeshSnapshot;
  #connectionCount = 0;
  #closed = false;

  constructor(options: AdsServerOptions) {
    this.#options = options;
    this.#generators = generatorsByType(options.generators);
    this.#debouncer = new PushDebouncer({ settings: pushSettings(options.push), clock: options.clock, timers: options.timers, flush: (changed) => this.#push(changed) });
    this.#snapshot = options.snapshots.current();
    this.#unsubscribe = options.snapshots.subscribe((next, changed) => {
      // New requests see the new snapshot at once; pushes to open streams wait for the debounce.
      this.#snapshot = next;
      this.#cache.advance(next, changed, this.#generators.values());
      this.#debouncer.notify(changed);
    });
  }

  /**
   * Serves another gRPC service on the ports of this server, as istiod serves its CA beside xDS;
   * call before listen. With `tlsOnly`, a port without TLS answers its calls UNIMPLEMENTED instead,
   * as istiod serves its CA only on 15012 once it has that port.
   */
  addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation, options: { readonly tlsOnly?: boolean } = {}): void {
    this.#services.push({ service, implementation, tlsOnly: options.tlsOnly === true });
  }

  /** Binds `address` (`host:port`; port 0 picks a free one), plaintext or TLS, and returns the bound port. */
  listen(address: string, transport: ListenTransport = PLAINTEXT): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('the ADS server is closed'));
    const server = new grpc.Server();
    server.addService(adsServiceDefinition, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, EncodedDiscoveryResponse>) =>
        this.#accept(call, (context, send) => new SotwStream(context, send)),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, EncodedDeltaDiscoveryResponse>) =>
        this.#accept(call, (context, send) => new DeltaStream(context, send)),
    });
    for (const added of this.#services) {
      server.addService(added.service, added.tlsOnly && transport.kind === 'plaintext' ? this.#refuseWithoutTls(added.service) : added.implementation);
    }
    this.#servers.push(server);
    const credentials = transport.kind === 'tls' ? transport.credentials : grpc.ServerCredentials.createInsecure();
    return new Promise((resolve, reject) => {
      server.bindAsync(address, credentials, (error, port) => (error === null ? resolve(port) : reject(error)));
    });
  }

  /** One entry per open stream, sorted by proxy id, then by connection time. */
  status(): readonly ProxyStatus[] {
    return [...this.#connections.values()]
      .map((connection) => connection.status())
      .sort((a, b) => (a.proxyId < b.proxyId ? -1 : a.proxyId > b.proxyId ? 1 : a.connectedAt - b.connectedAt));
  }

  /** The resources of a type last sent to a proxy (its newest stream), or undefined if none were. */
  resources(proxyId: string, typeUrl: TypeUrl): readonly SentResource[] | undefined {
    let newest: Connection | undefined;
    for (const connection of this.#connections.values()) if (connection.context.proxy.id === proxyId) newest = connection;
    return newest?.resources(typeUrl);
  }

  /** Ends every stream (with status OK, so that proxies reconnect elsewhere), drops pending pushes and stops the server. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#debouncer.close();
    for (const call of [...this.#calls]) call.end();
    for (const connectionId of [...this.#connections.keys()]) this.#disconnect(connectionId);
    await Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.tryShutdown(() => resolve()))));
  }

  /** Every method of `service` ends at once with UNIMPLEMENTED, saying where it is served. */
  #refuseWithoutTls(service: grpc.ServiceDefinition): grpc.UntypedServiceImplementation {
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(service)) {
      const details = `${method.path} is served only over TLS, on the control plane's TLS port (Istio's 15012)`;
      const refuse = (peer: string): grpc.ServerErrorResponse => {
        this.#options.logger.warn('refusing a call on the plaintext port', { peer, method: method.path });
        return Object.assign(new Error(details), { code: grpc.status.UNIMPLEMENTED, details });
      };
      implementation[name] = method.responseStream
        ? (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) => call.emit('error', refuse(call.getPeer()))
        : (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(refuse(call.getPeer()));
    }
    return implementation;
  }

  #accept<Request extends { readonly node?: ProtoJson }, Response>(
    call: grpc.ServerDuplexStream<Request, Response>,
    create: (context: StreamContext, send: (response: Response) => void) => AdsStream<Request>,
  ): void {
    const { logger } = this.#options;
    if (this.#closed) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the control plane is shutting down' });
      return;
    }
    let stream: AdsStream<Request> | undefined;
    let done = false;
    const handle = {
      end: (): void => {
        if (!call.writableEnded) call.end();
      },
    };
    this.#calls.add(handle);
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#calls.delete(handle);
      if (stream !== undefined) this.#disconnect(stream.context.connectionId);
    };
    const refuse = (code: grpc.status, details: string): void => {
      finish();
      call.emit('error', { code, details });
    };
    call.on('data', (request: Request) => {
      if (done) return;
      try {
        if (stream === undefined) {
          const parsed: Result<ProxyView, string> = request.node === undefined ? err('the first request of a stream must carry the node') : this.#options.parseNode(request.node);
          if (!parsed.ok) {
            logger.warn('refusing an ADS stream', { peer: call.getPeer(), error: parsed.error });
            refuse(grpc.status.INVALID_ARGUMENT, parsed.error);
            return;
          }
          stream = this.#connect(parsed.value, create, (response) => call.write(response));
        }
        stream.handle(request);
      } catch (error) {
        logger.error('handling a discovery request failed', { peer: call.getPeer(), error: messageOf(error) });
        refuse(grpc.status.INTERNAL, messageOf(error));
      }
    });
    call.on('end', () => {
      // The proxy closed its side: close ours, which ends the call with status OK.
      finish();
      handle.end();
    });
    call.on('cancelled', finish);
    call.on('close', finish);
    call.on('error', finish);
  }

  #connect<Request, Response>(proxy: ProxyView, create: (context: StreamContext, send: (response: Response) => void) => AdsStream<Request>, send: (response: Response) => void): AdsStream<Request> {
    const { clock, logger } = this.#options;
    const connectionId = `${proxy.id}-${++this.#connectionCount}`;
    const context: StreamContext = { connectionId, proxy, connectedAt: clock.now(), generators: this.#generators, cache: this.#cache, clock, logger, snapshot: () => this.#snapshot };
    const stream = create(context, send);
    this.#connections.set(connectionId, stream);
    logger.info('proxy connected', { connectionId, proxyId: proxy.id });
    try {
      this.#options.onProxyConnected(proxy, connectionId);
    } catch (error) {
      logger.error('onProxyConnected failed', { connectionId, error: messageOf(error) });
    }
    return stream;
  }

  #disconnect(connectionId: string): void {
    if (!this.#connections.delete(connectionId)) return;
    this.#options.logger.info('proxy disconnected', { connectionId });
    try {
      this.#options.onProxyDisconnected(connectionId);
    } catch (error) {
      this.#options.logger.error('onProxyDisconnected failed', { connectionId, error: messageOf(error) });
    }
  }

  #push(changed: ChangedKinds): void {
    const { logger } = this.#options;
    logger.debug('pushing', { version: this.#snapshot.version, changed: changed === 'all' ? 'all' : [...changed].sort(), connections: this.#connections.size });
    for (const connection of [...this.#connections.values()]) {
      try {
        connection.push(changed);
      } catch (error) {
        logger.error('pushing to a proxy failed', { connectionId: connection.context.connectionId, error: messageOf(error) });
      }
    }
  }
}
