import { createHash } from 'node:crypto';
import { encodeMessage, typeNameOf, type ProtoJson, type TypeUrl } from '../../xds/index.ts';
import type { Generator } from '../generators/generator.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/mesh-snapshot.ts';
import type { ChangedKinds } from './ads-server-options.ts';
import type { EncodedResource } from '../../xds/index.ts';

/**
 * A generated resource: its bytes with their hash as version. The JSON form is not kept: config
 * dumps decode the bytes, which are exactly what the proxy was sent.
 */
export type GeneratedResource = EncodedResource;

/** A generator's output for one proxy and subscription. */
export interface GeneratedResources {
  readonly resources: readonly GeneratedResource[];
  /** Identifies the whole set (names and bytes), to tell whether a proxy already has it. */
  readonly hash: string;
  /** Names asked for that the generator did not produce. */
  readonly notFound: readonly string[];
}

/** What a stream subscribes to: every resource of the type, or these names. */
export type Subscription = ReadonlySet<string> | 'all';

function digest(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

/**
 * Encodings by resource object: a generator that returns the very object it returned before (a
 * shared or memoized resource) has it encoded and hashed once. Resources are never changed after
 * a generator returns them.
 */
const encoded = new WeakMap<object, { readonly typeUrl: string; readonly bytes: Uint8Array; readonly version: string }>();

function encode(typeUrl: TypeUrl, typeName: string, resource: ProtoJson): { readonly bytes: Uint8Array; readonly version: string } {
  const known = encoded.get(resource);
  if (known !== undefined && known.typeUrl === typeUrl) return known;
  const bytes = encodeMessage(typeName, resource);
  const entry = { typeUrl, bytes, version: digest(bytes) };
  encoded.set(resource, entry);
  return entry;
}

/**
 * Runs `generator` and encodes what it returns. With explicit `names`, only those resources are
 * kept, whatever else the generator returns. Two resources with one name are a generator bug.
 */
export function generateResources(generator: Generator, proxy: ProxyView, snapshot: MeshSnapshot, names: Subscription): GeneratedResources {
  const typeName = typeNameOf(generator.typeUrl);
  const seen = new Set<string>();
  const resources: GeneratedResource[] = [];
  for (const named of generator.generate(proxy, snapshot, names)) {
    if (names !== 'all' && !names.has(named.name)) continue;
    if (seen.has(named.name)) throw new Error(`the ${typeName} generator returned two resources named "${named.name}"`);
    seen.add(named.name);
    const { bytes, version } = encode(generator.typeUrl, typeName, named.resource);
    resources.push({ name: named.name, version, typeUrl: generator.typeUrl, bytes });
  }
  const notFound = names === 'all' ? [] : [...names].filter((name) => !seen.has(name)).sort();
  return { resources, hash: digest(resources.map((r) => `${r.name}\u0000${r.version}`).join('\u0000')), notFound };
}

/** A short string that identifies a subscription: equal sets of names give equal keys. */
export function subscriptionKey(names: Subscription): string {
  if (names === 'all') return '*';
  return digest([...names].sort().join('\u0000'));
}

/**
 * Generation shared between proxies (Istio's xDS cache): the output of a generator for a
 * snapshot, a proxy's sharing key (the proxy fields the generator reads) and a subscription is
 * generated and encoded once, and every stream with that key and subscription sends the same
 * resources. Generators without a sharing key are run for each proxy.
 *
 * Entries outlive a snapshot when its changes do not touch the generator's inputs: the output
 * would be the same, as pushes already assume.
 */
export class GenerationCache {
  #snapshot: MeshSnapshot | undefined;
  /** By type URL, then by `sharingKey \0 subscriptionKey`. */
  readonly #entries = new Map<TypeUrl, Map<string, GeneratedResources>>();
  readonly #keys = new WeakMap<ProxyView, Map<Generator, string>>();

  /** A new snapshot is in effect: drops the output of every generator that `changed` may affect. */
  advance(snapshot: MeshSnapshot, changed: ChangedKinds, generators: Iterable<Generator>): void {
    if (snapshot === this.#snapshot) return;
    this.#snapshot = snapshot;
    for (const generator of generators) {
      if (changed === 'all' || [...generator.inputs].some((kind) => changed.has(kind))) this.#entries.delete(generator.typeUrl);
    }
  }

  /** The generator's output for the proxy; `namesKey` is `subscriptionKey(names)`, which callers may keep. */
  generate(generator: Generator, proxy: ProxyView, snapshot: MeshSnapshot, names: Subscription, namesKey: string): GeneratedResources {
    const proxyKey = this.#proxyKey(generator, proxy);
    if (proxyKey === undefined) return generateResources(generator, proxy, snapshot, names);
    if (snapshot !== this.#snapshot) {
      // A snapshot the cache was not told about: nothing it holds is known to be valid for it.
      this.#snapshot = snapshot;
      this.#entries.clear();
    }
    let byKey = this.#entries.get(generator.typeUrl);
    if (byKey === undefined) {
      byKey = new Map();
      this.#entries.set(generator.typeUrl, byKey);
    }
    const key = `${proxyKey}\u0000${namesKey}`;
    const cached = byKey.get(key);
    if (cached !== undefined) return cached;
    const generated = generateResources(generator, proxy, snapshot, names);
    byKey.set(key, generated);
    return generated;
  }

  #proxyKey(generator: Generator, proxy: ProxyView): string | undefined {
    if (generator.sharingKey === undefined) return undefined;
    let byGenerator = this.#keys.get(proxy);
    if (byGenerator === undefined) {
      byGenerator = new Map();
      this.#keys.set(proxy, byGenerator);
    }
    let key = byGenerator.get(generator);
    if (key === undefined) {
      key = generator.sharingKey(proxy);
      byGenerator.set(generator, key);
    }
    return key;
  }
}
