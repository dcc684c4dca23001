import { createHash } from 'node:crypto';
import { encodeMessage, typeNameOf, type ProtoJson } from '../../xds/index.ts';
import type { Generator } from '../generators/generator.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/mesh-snapshot.ts';
import type { EncodedResource } from '../../xds/index.ts';

/** A generated resource: its JSON form for config dumps, and its bytes with their hash as version. */
export interface GeneratedResource extends EncodedResource {
  readonly resource: ProtoJson;
}

/** A generator's output for one proxy and subscription. */
export interface GeneratedResources {
  readonly resources: readonly GeneratedResource[];
  /** Identifies the whole set (names and bytes), to tell whether a proxy already has it. */
  readonly hash: string;
  /** Names asked for that the generator did not produce. */
  readonly notFound: readonly string[];
}

function digest(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

/**
 * Runs `generator` and encodes what it returns. With explicit `names`, only those resources are
 * kept, whatever else the generator returns. Two resources with one name are a generator bug.
 */
export function generateResources(generator: Generator, proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): GeneratedResources {
  const typeName = typeNameOf(generator.typeUrl);
  const seen = new Set<string>();
  const resources: GeneratedResource[] = [];
  for (const named of generator.generate(proxy, snapshot, names)) {
    if (names !== 'all' && !names.has(named.name)) continue;
    if (seen.has(named.name)) throw new Error(`the ${typeName} generator returned two resources named "${named.name}"`);
    seen.add(named.name);
    const bytes = encodeMessage(typeName, named.resource);
    resources.push({ name: named.name, version: digest(bytes), typeUrl: generator.typeUrl, bytes, resource: named.resource });
  }
  const notFound = names === 'all' ? [] : [...names].filter((name) => !seen.has(name)).sort();
  return { resources, hash: digest(resources.map((r) => `${r.name}\u0000${r.version}`).join('\u0000')), notFound };
}
