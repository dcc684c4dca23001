import type { ResourceRef, SourcePosition } from './diagnostic.ts';
import type { KindName, KindObjects } from './kinds/registry.ts';

/** A validated resource of one kind, with where it came from. */
export interface Resource<K extends KindName = KindName> {
  readonly kind: K;
  readonly apiVersion: string;
  readonly name: string;
  /** '' for cluster-scoped kinds (Namespace). */
  readonly namespace: string;
  readonly object: KindObjects[K];
  readonly origin: SourcePosition;
  /** Where the field at `path` (relative to the object's root) was written. */
  readonly locate: (path: readonly PropertyKey[]) => SourcePosition;
}

/** Any validated resource, narrowed by `kind`. */
export type AnyResource = { [K in KindName]: Resource<K> }[KindName];

export function resourceRef(resource: { kind: string; namespace: string; name: string }): ResourceRef {
  return { kind: resource.kind, namespace: resource.namespace, name: resource.name };
}

export function ofKind<K extends KindName>(resources: readonly AnyResource[], kind: K): Resource<K>[] {
  return resources.filter((r): r is Extract<AnyResource, { kind: K }> => r.kind === kind) as unknown as Resource<K>[];
}
