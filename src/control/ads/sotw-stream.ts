import { isTypeUrl, TYPE_SHORT_NAME, type TypeUrl } from '../../xds/index.ts';
import type { DiscoveryRequest } from '../../xds/envoy/index.ts';
import type { Generator } from '../generators/generator.ts';
import type { ChangedKinds } from './ads-server-options.ts';
import type { EncodedDiscoveryResponse } from '../../xds/index.ts';
import { affects, generateFor, inPushOrder, supportsWildcard, type AdsStream, type StreamContext } from './ads-stream.ts';
import { subscriptionKey, type Subscription } from './generated-resources.ts';
import type { ProxyStatus, SentResource, TypeStatus } from './proxy-status.ts';
import { TypeSync } from './type-sync.ts';

interface TypeState {
  subscription: Subscription;
  /** subscriptionKey(subscription), kept: a push reuses it. */
  subscriptionKey: string;
  notFound: readonly string[];
  readonly sync: TypeSync;
}

/** Why a response is being considered: each has its own rule for sending what the proxy may already have. */
type Occasion = 'request' | 'new-names' | 'push';

/**
 * For LDS and CDS, no names or `*` mean every resource; other types get exactly the names asked for.
 * A request replaces the whole subscription (State of the World).
 */
function subscriptionOf(typeUrl: TypeUrl, names: readonly string[]): Subscription {
  if (supportsWildcard(typeUrl) && (names.length === 0 || names.includes('*'))) return 'all';
  return new Set(names.filter((name) => name !== '*'));
}

function addsNames(previous: Subscription, next: Subscription): boolean {
  if (next === 'all') return previous !== 'all';
  if (previous === 'all') return false;
  for (const name of next) if (!previous.has(name)) return true;
  return false;
}

/**
 * The State of the World protocol on one stream: each response carries every subscribed resource
 * of its type; each request names the whole subscription and ACKs or NACKs the last response by
 * its nonce.
 */
export class SotwStream implements AdsStream<DiscoveryRequest> {
  readonly context: StreamContext;
  readonly #send: (response: EncodedDiscoveryResponse) => void;
  readonly #types = new Map<TypeUrl, TypeState>();
  readonly #unservedTypes = new Set<string>();
  #nonces = 0;

  constructor(context: StreamContext, send: (response: EncodedDiscoveryResponse) => void) {
    this.context = context;
    this.#send = send;
  }

  handle(request: DiscoveryRequest): void {
    const typeUrl = request.typeUrl ?? '';
    const generator = isTypeUrl(typeUrl) ? this.context.generators.get(typeUrl) : undefined;
    if (generator === undefined) {
      this.#warnUnserved(typeUrl);
      return;
    }
    const subscription = subscriptionOf(generator.typeUrl, request.resourceNames ?? []);
    const nonce = request.responseNonce ?? '';
    const state = this.#types.get(generator.typeUrl);
    // A request without a nonce is a first request (on this stream, or after the proxy reconnected): it always gets an answer.
    if (state === undefined || nonce === '') {
      const key = subscriptionKey(subscription);
      const fresh = state ?? { subscription, subscriptionKey: key, notFound: [], sync: new TypeSync() };
      fresh.subscription = subscription;
      fresh.subscriptionKey = key;
      this.#types.set(generator.typeUrl, fresh);
      this.#respond(generator, fresh, 'request');
      return;
    }
    const fields = { connectionId: this.context.connectionId, proxyId: this.context.proxy.id, type: TYPE_SHORT_NAME[generator.typeUrl], nonce };
    const reply = state.sync.reply(nonce, request.errorDetail, this.context.clock.now());
    if (reply.kind === 'stale') {
      this.context.logger.debug('ignoring a request that answers an older response', fields);
      return;
    }
    if (reply.kind === 'nack') this.context.logger.warn('a proxy rejected a response', { ...fields, version: reply.nack.version, message: reply.nack.message });
    const previous = state.subscription;
    state.subscription = subscription;
    state.subscriptionKey = subscriptionKey(subscription);
    if (addsNames(previous, subscription)) this.#respond(generator, state, 'new-names');
  }

  push(changed: ChangedKinds): void {
    for (const typeUrl of inPushOrder(this.#types.keys())) {
      const generator = this.context.generators.get(typeUrl);
      const state = this.#types.get(typeUrl);
      if (generator !== undefined && state !== undefined && affects(generator, changed)) this.#respond(generator, state, 'push');
    }
  }

  status(): ProxyStatus {
    const { connectionId, proxy, connectedAt } = this.context;
    return { connectionId, proxyId: proxy.id, proxy, mode: 'sotw', connectedAt, types: inPushOrder(this.context.generators.keys()).map((typeUrl) => this.#typeStatus(typeUrl)) };
  }

  resources(typeUrl: TypeUrl): readonly SentResource[] | undefined {
    return this.#types.get(typeUrl)?.sync.resources;
  }

  #typeStatus(typeUrl: TypeUrl): TypeStatus {
    const state = this.#types.get(typeUrl);
    if (state === undefined) return new TypeSync().status(typeUrl, { wildcard: false, subscribed: [], notFound: [] });
    const { subscription, notFound } = state;
    return state.sync.status(typeUrl, { wildcard: subscription === 'all', subscribed: subscription === 'all' ? [] : [...subscription].sort(), notFound });
  }

  /**
   * A push sends only what differs from the proxy's last response; new names are answered unless
   * the answer is the very set the proxy refused; a first request is always answered.
   */
  #respond(generator: Generator, state: TypeState, occasion: Occasion): void {
    const generated = generateFor(this.context, generator, state.subscription, state.subscriptionKey);
    if (generated === undefined) return;
    state.notFound = generated.notFound;
    if (occasion === 'push' && generated.hash === state.sync.lastSentHash) return;
    if (occasion === 'new-names' && generated.hash === state.sync.rejectedHash) return;
    const nonce = String(++this.#nonces);
    const version = String(this.context.snapshot().version);
    this.#send({ versionInfo: version, typeUrl: generator.typeUrl, nonce, resources: generated.resources });
    state.sync.sent({ version, nonce, time: this.context.clock.now(), resourceCount: generated.resources.length }, generated.hash, generated.resources);
  }

  #warnUnserved(typeUrl: string): void {
    if (this.#unservedTypes.has(typeUrl)) return;
    this.#unservedTypes.add(typeUrl);
    this.context.logger.warn('a proxy asked for a type this control plane does not serve', { connectionId: this.context.connectionId, proxyId: this.context.proxy.id, typeUrl });
  }
}
