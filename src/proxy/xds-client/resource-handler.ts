import type { Result } from '../../core/index.ts';
import type { ProtoJson, TypeUrl } from '../../xds/index.ts';

/** A set of resources of one type from the control plane. */
export interface ResourceUpdate {
  /** The resources received, by name, decoded to Envoy's JSON form. */
  readonly resources: ReadonlyMap<string, ProtoJson>;
  /** Names the proxy no longer has (absent from a SotW LDS/CDS response, or removed in Delta). */
  readonly removed: readonly string[];
  readonly version: string;
}

/**
 * The part of the proxy that runs one xDS type: listeners, routes, clusters, endpoints, secrets.
 * It validates every resource of an update and applies all of them at once, or none: an error
 * (naming the resource and the field) becomes the NACK's error detail and the last good config
 * keeps serving.
 */
export interface ResourceHandler {
  readonly typeUrl: TypeUrl;
  /**
   * A handler that binds sockets (LDS) answers asynchronously: Node binds an address only after
   * an asynchronous lookup, and a port already in use must still NACK the update.
   */
  apply(update: ResourceUpdate): Result<void, string> | Promise<Result<void, string>>;
  /**
   * The names of another type that the resources applied so far refer to: route configs that
   * listeners use (RDS), clusters whose endpoints come from EDS, secrets (SDS). The ADS client
   * subscribes to exactly these.
   */
  dependencies?(): { readonly typeUrl: TypeUrl; readonly names: ReadonlySet<string> };
}
