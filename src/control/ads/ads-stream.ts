import { TYPE_ORDER, TYPE_SHORT_NAME, TypeUrl } from '../../xds/index.ts';
import type { Generator } from '../generators/generator.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/mesh-snapshot.ts';
import type { ChangedKinds, Clock, Logger } from './ads-server-options.ts';
import type { GeneratedResources, GenerationCache, Subscription } from './generated-resources.ts';
import type { ProxyStatus, SentResource } from './proxy-status.ts';

/** What a stream is given by the server: who is connected, the generators, and the snapshot in effect. */
export interface StreamContext {
  readonly connectionId: string;
  readonly proxy: ProxyView;
  readonly connectedAt: number;
  readonly generators: ReadonlyMap<TypeUrl, Generator>;
  /** Output shared with the other streams whose proxies the generators cannot tell apart. */
  readonly cache: GenerationCache;
  readonly clock: Clock;
  readonly logger: Logger;
  snapshot(): MeshSnapshot;
}

/** One ADS stream's protocol state, apart from gRPC: it handles requests and pushes, and writes responses. */
export interface AdsStream<Request> {
  readonly context: StreamContext;
  handle(request: Request): void;
  /** Sends each subscribed type that `changed` may affect, in TYPE_ORDER, when its content differs from what the proxy has. */
  push(changed: ChangedKinds): void;
  status(): ProxyStatus;
  resources(typeUrl: TypeUrl): readonly SentResource[] | undefined;
}

/** Types whose empty subscription means "every resource" (xDS legacy wildcard). */
const WILDCARD_TYPES: ReadonlySet<TypeUrl> = new Set([TypeUrl.Listener, TypeUrl.Cluster]);

export function supportsWildcard(typeUrl: TypeUrl): boolean {
  return WILDCARD_TYPES.has(typeUrl);
}

export function affects(generator: Generator, changed: ChangedKinds): boolean {
  if (changed === 'all') return true;
  for (const kind of generator.inputs) if (changed.has(kind)) return true;
  return false;
}

/** The types of `types` in push order: clusters before the endpoints, listeners and routes that use them. */
export function inPushOrder(types: Iterable<TypeUrl>): TypeUrl[] {
  const present = new Set(types);
  return TYPE_ORDER.filter((typeUrl) => present.has(typeUrl));
}

/**
 * Generates for the stream's proxy (`namesKey` is `subscriptionKey(names)`); a generator that
 * throws is a bug, logged, and nothing is sent.
 */
export function generateFor(context: StreamContext, generator: Generator, names: Subscription, namesKey: string): GeneratedResources | undefined {
  try {
    return context.cache.generate(generator, context.proxy, context.snapshot(), names, namesKey);
  } catch (error) {
    context.logger.error('generating resources failed', {
      connectionId: context.connectionId,
      proxyId: context.proxy.id,
      type: TYPE_SHORT_NAME[generator.typeUrl],
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}
