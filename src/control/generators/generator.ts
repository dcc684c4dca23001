import type { ProxyView, ResourceKind } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/mesh-snapshot.ts';
import type { ProtoJson, TypeUrl } from '../../xds/index.ts';

/** A resource of one xDS type, in Envoy's JSON form (see xds/proto-json.ts), with its name. */
export interface NamedResource {
  readonly name: string;
  readonly resource: ProtoJson;
}

export type { ResourceKind };

/**
 * Produces the resources of one xDS type for one proxy. Pure: the same proxy and snapshot give the
 * same output, so a push that changes none of `inputs` skips it, and results may be cached on
 * (proxy, snapshot version, type, names).
 */
export interface Generator {
  readonly typeUrl: TypeUrl;
  readonly inputs: ReadonlySet<ResourceKind>;
  /** `names` are the resources the proxy asked for; 'all' for wildcard subscriptions (LDS, CDS). */
  generate(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): NamedResource[];
}
