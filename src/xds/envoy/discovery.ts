import type { ProtoJson } from '../proto-json.ts';

/**
 * The JSON form of the xDS discovery messages (envoy.service.discovery.v3), as a client writes its
 * requests and reads the server's responses. `node` is the JSON form of envoy.config.core.v3.Node
 * (its `metadata` a plain JSON object); resources are `Any`s (`{"@type": ..., ...fields}`).
 */

/** google.rpc.Status, as a NACK carries it in `errorDetail`. */
export interface RpcStatus {
  readonly code?: number;
  readonly message?: string;
}

export interface ControlPlane {
  readonly identifier?: string;
}

/** State of the World request: the complete set of names wanted, and the ACK or NACK of the last response. */
export interface DiscoveryRequest {
  readonly versionInfo?: string;
  readonly node?: ProtoJson;
  readonly resourceNames?: readonly string[];
  readonly typeUrl?: string;
  readonly responseNonce?: string;
  readonly errorDetail?: RpcStatus;
}

export interface DiscoveryResponse {
  readonly versionInfo?: string;
  readonly resources?: readonly ProtoJson[];
  readonly canary?: boolean;
  readonly typeUrl?: string;
  readonly nonce?: string;
  readonly controlPlane?: ControlPlane;
}

/** Incremental request: names added to and removed from the subscription, and the ACK or NACK of the last response. */
export interface DeltaDiscoveryRequest {
  readonly node?: ProtoJson;
  readonly typeUrl?: string;
  readonly resourceNamesSubscribe?: readonly string[];
  readonly resourceNamesUnsubscribe?: readonly string[];
  /** What a reconnecting client already has: name -> version. */
  readonly initialResourceVersions?: Readonly<Record<string, string>>;
  readonly responseNonce?: string;
  readonly errorDetail?: RpcStatus;
}

/** One resource of an incremental response, with its own version. */
export interface Resource {
  readonly name?: string;
  readonly aliases?: readonly string[];
  readonly version?: string;
  readonly resource?: ProtoJson;
  readonly ttl?: string;
}

export interface DeltaDiscoveryResponse {
  readonly systemVersionInfo?: string;
  readonly resources?: readonly Resource[];
  readonly typeUrl?: string;
  /** Resources deleted, or subscribed names that do not exist. */
  readonly removedResources?: readonly string[];
  readonly nonce?: string;
  readonly controlPlane?: ControlPlane;
}
