import { isTypeUrl, TYPE_SHORT_NAME, type TypeUrl } from '../../xds/index.ts';
import type { DeltaDiscoveryRequest } from '../../xds/envoy/index.ts';
import type { Generator } from '../generators/generator.ts';
import type { ChangedKinds } from './ads-server-options.ts';
import type { EncodedDeltaDiscoveryResponse } from '../../xds/index.ts';
import { affects, generateFor, inPushOrder, supportsWildcard, type AdsStream, type StreamContext } from './ads-stream.ts';
import { subscriptionKey } from './generated-resources.ts';
import type { ProxyStatus, SentResource, TypeStatus } from './proxy-status.ts';
import { TypeSync } from './type-sync.ts';

interface TypeState {
  /** Subscribed to every resource of the type, besides `names`. */
  wildcard: boolean;
  /** Names subscribed explicitly. */
  readonly names: Set<string>;
  /** What the proxy has: name -> version (a hash of the resource's bytes). */
  readonly known: Map<string, string>;
  /** Subscribed names already answered as absent, so that each is reported once. */
  readonly reportedAbsent: Set<string>;
  notFound: readonly string[];
  readonly sync: TypeSync;
  /** The last response's nonce and what the proxy had before it, so that a NACK restores it. */
  lastResponse?: { readonly nonce: string; readonly before: ReadonlyMap<string, string | undefined>; readonly content: string };
  /** The content of the last response the proxy rejected: the same content is not sent again. */
  rejected?: string;
}

/**
 * The incremental (Delta) protocol on one stream: requests add and remove names, responses carry
 * only the resources whose version the proxy lacks, and name in `removedResources` those that
 * are gone or were asked for and do not exist. ACK and NACK work by nonce, as in State of the
 * World, but a request is never ignored as a whole: its subscription changes always apply.
 */
export class DeltaStream implements AdsStream<DeltaDiscoveryRequest> {
  readonly context: StreamContext;
  readonly #send: (response: EncodedDeltaDiscoveryResponse) => void;
  readonly #types = new Map<TypeUrl, TypeState>();
  readonly #unservedTypes = new Set<string>();
  #nonces = 0;

  constructor(context: StreamContext, send: (response: EncodedDeltaDiscoveryResponse) => void) {
    this.context = context;
    this.#send = send;
  }

  handle(request: DeltaDiscoveryRequest): void {
    const typeUrl = request.typeUrl ?? '';
    const generator = isTypeUrl(typeUrl) ? this.context.generators.get(typeUrl) : undefined;
    if (generator === undefined) {
      this.#warnUnserved(typeUrl);
      return;
    }
    const subscribe = request.resourceNamesSubscribe ?? [];
    const unsubscribe = request.resourceNamesUnsubscribe ?? [];
    let state = this.#types.get(generator.typeUrl);
    const first = state === undefined;
    if (state === undefined) {
      // An empty first request is the legacy wildcard, for the types that have one.
      state = { wildcard: supportsWildcard(generator.typeUrl) && subscribe.length === 0, names: new Set(), known: new Map(), reportedAbsent: new Set(), notFound: [], sync: new TypeSync() };
      for (const [name, version] of Object.entries(request.initialResourceVersions ?? {})) state.known.set(name, version);
      this.#types.set(generator.typeUrl, state);
    } else {
      this.#recordReply(generator.typeUrl, state, request);
    }
    let added = false;
    for (const name of subscribe) {
      if (name === '*') {
        added ||= !state.wildcard;
        state.wildcard = true;
      } else if (!state.names.has(name)) {
        state.names.add(name);
        added = true;
      }
    }
    for (const name of unsubscribe) this.#unsubscribe(state, name);
    if (first || added) this.#respond(generator, state, first);
  }

  push(changed: ChangedKinds): void {
    for (const typeUrl of inPushOrder(this.#types.keys())) {
      const generator = this.context.generators.get(typeUrl);
      const state = this.#types.get(typeUrl);
      if (generator !== undefined && state !== undefined && affects(generator, changed)) this.#respond(generator, state, false);
    }
  }

  status(): ProxyStatus {
    const { connectionId, proxy, connectedAt } = this.context;
    return { connectionId, proxyId: proxy.id, proxy, mode: 'delta', connectedAt, types: inPushOrder(this.context.generators.keys()).map((typeUrl) => this.#typeStatus(typeUrl)) };
  }

  resources(typeUrl: TypeUrl): readonly SentResource[] | undefined {
    return this.#types.get(typeUrl)?.sync.resources;
  }

  #typeStatus(typeUrl: TypeUrl): TypeStatus {
    const state = this.#types.get(typeUrl);
    if (state === undefined) return new TypeSync().status(typeUrl, { wildcard: false, subscribed: [], notFound: [] });
    return state.sync.status(typeUrl, { wildcard: state.wildcard, subscribed: [...state.names].sort(), notFound: state.notFound });
  }

  #recordReply(typeUrl: TypeUrl, state: TypeState, request: DeltaDiscoveryRequest): void {
    const nonce = request.responseNonce ?? '';
    if (nonce === '') return;
    const fields = { connectionId: this.context.connectionId, proxyId: this.context.proxy.id, type: TYPE_SHORT_NAME[typeUrl], nonce };
    const reply = state.sync.reply(nonce, request.errorDetail, this.context.clock.now());
    if (reply.kind === 'stale') this.context.logger.debug('a request answers an older response; only its subscription changes apply', fields);
    if (reply.kind === 'nack') {
      this.context.logger.warn('a proxy rejected a response', { ...fields, version: reply.nack.version, message: reply.nack.message });
      // The proxy kept what it had before the rejected response: so must our record of it, or a
      // resource of that response that never changes again would never be sent again.
      if (state.lastResponse?.nonce === nonce) {
        for (const [name, version] of state.lastResponse.before) {
          if (version === undefined) state.known.delete(name);
          else state.known.set(name, version);
        }
        state.rejected = state.lastResponse.content;
      }
    }
  }

  #unsubscribe(state: TypeState, name: string): void {
    if (name === '*') {
      state.wildcard = false;
      // The proxy drops what it had only through the wildcard.
      for (const known of [...state.known.keys()]) if (!state.names.has(known)) state.known.delete(known);
      return;
    }
    state.names.delete(name);
    state.reportedAbsent.delete(name);
    // Under a wildcard the proxy keeps the resource; otherwise it forgets it, and would need it again on a new subscription.
    if (!state.wildcard) state.known.delete(name);
  }

  /**
   * Sends the resources whose version the proxy lacks and the names that are gone or do not
   * exist; nothing when there is neither, unless `always` (a first request gets an answer even
   * when empty, so that the proxy finishes its initial fetch).
   */
  #respond(generator: Generator, state: TypeState, always: boolean): void {
    const names = state.wildcard ? 'all' : state.names;
    const generated = generateFor(this.context, generator, names, subscriptionKey(names));
    if (generated === undefined) return;
    const present = new Set(generated.resources.map((r) => r.name));
    state.notFound = [...state.names].filter((name) => !present.has(name)).sort();
    const changed = generated.resources.filter((r) => state.known.get(r.name) !== r.version);
    const removed = new Set([...state.known.keys()].filter((name) => !present.has(name)));
    for (const name of state.notFound) if (!state.reportedAbsent.has(name)) removed.add(name);
    if (!always && changed.length === 0 && removed.size === 0) return;
    const content = JSON.stringify([changed.map((r) => [r.name, r.version]), [...removed].sort()]);
    if (!always && content === state.rejected) return;
    const nonce = String(++this.#nonces);
    const version = String(this.context.snapshot().version);
    this.#send({ systemVersionInfo: version, typeUrl: generator.typeUrl, nonce, resources: changed, removedResources: [...removed].sort() });
    state.lastResponse = { nonce, content, before: new Map([...changed.map((r) => r.name), ...removed].map((name) => [name, state.known.get(name)])) };
    for (const resource of changed) state.known.set(resource.name, resource.version);
    for (const name of removed) {
      state.known.delete(name);
      if (state.names.has(name)) state.reportedAbsent.add(name);
    }
    for (const name of present) state.reportedAbsent.delete(name);
    state.sync.sent({ version, nonce, time: this.context.clock.now(), resourceCount: changed.length }, generated.hash, generated.resources);
  }

  #warnUnserved(typeUrl: string): void {
    if (this.#unservedTypes.has(typeUrl)) return;
    this.#unservedTypes.add(typeUrl);
    this.context.logger.warn('a proxy asked for a type this control plane does not serve', { connectionId: this.context.connectionId, proxyId: this.context.proxy.id, typeUrl });
  }
}
