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
  /**
   * The proxy's fields that `generate` reads, as a string: proxies with equal keys get equal
   * resources from one snapshot, so ADS generates and encodes once for all of them (Istio's xDS
   * cache). Without it, nothing is shared.
   */
  sharingKey?(proxy: ProxyView): string;
}

/** A field of ProxyView that generators read. */
export type ProxyField = 'kind' | 'generator' | 'namespace' | 'labels' | 'locality' | 'ipAddresses' | 'ports' | 'interceptionMode' | 'appPorts' | 'localServicePorts';

/** The values of `fields` of the proxy, as one string (labels in key order). */
export function proxyKey(proxy: ProxyView, fields: readonly ProxyField[]): string {
  return fields.map((field) => {
    switch (field) {
      case 'labels':
        return Object.entries(proxy.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join(',');
      case 'ipAddresses':
        return proxy.ipAddresses.join(',');
      case 'ports':
        return proxy.ports.map((p) => `${p.port}/${p.name ?? ''}/${p.protocol ?? ''}`).join(',');
      case 'appPorts':
        return proxy.appPorts.map((p) => `${p.port}=${p.appPort}`).join(',');
      case 'localServicePorts':
        return proxy.localServicePorts.map((p) => `${p.localPort}=${p.hostname}:${p.port}`).join(',');
      default:
        return proxy[field];
    }
  }).join('\u0000');
}
