import { TYPE_ORDER, TYPE_SHORT_NAME, TypeUrl } from '../../xds/index.ts';
import type { Generator } from '../generators/generator.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/mesh-snapshot.ts';
import type { ChangedKinds, Clock, Logger } from './ads-server-options.ts';
import { generateResources, type GeneratedResources } from './generated-resources.ts';
import type { ProxyStatus, SentResource } from './proxy-status.ts';

/** What a stream is given by the server: who is connected, the generators, and the snapshot in effect. */
export interface StreamContext {
  readonly connectionId: string;
  readonly proxy: ProxyView;
  readonly connectedAt: number;
  readonly generators: ReadonlyMap<TypeUrl, Generator>;
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

/** Generates for the stream's proxy; a generator that throws is a bug, logged, and nothing is sent. */
export function generateFor(context: StreamContext, generator: Generator, names: ReadonlySet<string> | 'all'): GeneratedResources | undefined {
  try {
    return generateResources(generator, context.proxy, context.snapshot(), names);
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

export function sentResources(generated: GeneratedResources): SentResource[] {
  return generated.resources.map((r) => ({ name: r.name, version: r.version, resource: r.resource }));
}
