import { err, ok, type Result } from '../../core/index.ts';
import { decodeMessage, TYPE_SHORT_NAME, typeNameOf, TypeUrl, type ProtoJson } from '../../xds/index.ts';
import type { RawAny } from './raw-discovery.ts';

/** One resource of a response: Delta names it and gives its version; State of the World does neither. */
export interface RawResource {
  readonly name?: string;
  readonly version?: string;
  readonly any: RawAny;
}

export interface DecodedResource {
  readonly name: string;
  /** The resource's own version (Delta), or undefined (State of the World). */
  readonly version: string | undefined;
  readonly resource: ProtoJson;
}

/** The name a resource goes by: a ClusterLoadAssignment's cluster, every other type's `name`. */
export function resourceName(typeUrl: TypeUrl, resource: ProtoJson): string | undefined {
  const name = typeUrl === TypeUrl.ClusterLoadAssignment ? resource['clusterName'] : resource['name'];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Decodes every resource of a response of type `typeUrl` into Envoy's JSON form. A resource of
 * another type, one that does not decode, one without a name and a name given twice are all
 * reported (each naming the resource), for the NACK.
 */
export function decodeResources(typeUrl: TypeUrl, raw: readonly RawResource[]): Result<DecodedResource[], string> {
  const short = TYPE_SHORT_NAME[typeUrl];
  const typeName = typeNameOf(typeUrl);
  const problems: string[] = [];
  const decoded: DecodedResource[] = [];
  const seen = new Set<string>();
  raw.forEach((entry, index) => {
    const label = entry.name !== undefined && entry.name !== '' ? `${typeName} "${entry.name}"` : `${short} resource [${index}]`;
    if (entry.any.typeUrl !== typeUrl) {
      problems.push(`${label}: is a ${entry.any.typeUrl || 'resource without a type URL'}, expected ${typeUrl}`);
      return;
    }
    let resource: ProtoJson;
    try {
      resource = decodeMessage(typeName, entry.any.value);
    } catch (error) {
      problems.push(`${label}: cannot be decoded: ${messageOf(error)}`);
      return;
    }
    const name = entry.name !== undefined && entry.name !== '' ? entry.name : resourceName(typeUrl, resource);
    if (name === undefined) {
      problems.push(`${label}: has no ${typeUrl === TypeUrl.ClusterLoadAssignment ? 'clusterName' : 'name'}`);
      return;
    }
    if (seen.has(name)) {
      problems.push(`${typeName} "${name}": appears twice in the response`);
      return;
    }
    seen.add(name);
    decoded.push({ name, version: entry.version, resource });
  });
  return problems.length > 0 ? err(problems.join('; ')) : ok(decoded);
}
