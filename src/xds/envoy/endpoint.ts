import type { Address, HealthStatus, Locality, Metadata } from './core.ts';

/**
 * The JSON form of `envoy.config.endpoint.v3.ClusterLoadAssignment` (EDS) and its parts.
 * Only the fields Weft uses; names are Envoy's JSON names.
 */

export interface Endpoint {
  readonly address: Address;
  readonly hostname?: string;
}

export interface LbEndpoint {
  readonly endpoint: Endpoint;
  readonly healthStatus?: HealthStatus;
  readonly metadata?: Metadata;
  /** At least 1. */
  readonly loadBalancingWeight?: number;
}

/** The endpoints of one locality at one priority (0 is tried first). */
export interface LocalityLbEndpoints {
  readonly locality?: Locality;
  readonly lbEndpoints: readonly LbEndpoint[];
  /** Weighs the locality against the others of its priority when the cluster weighs localities. */
  readonly loadBalancingWeight?: number;
  readonly priority?: number;
}

/** A type alias rather than an interface, so that it is a `ProtoJson` (interfaces have no implicit index signature). */
export type ClusterLoadAssignment = {
  readonly clusterName: string;
  readonly endpoints: readonly LocalityLbEndpoints[];
};
