import type { CidrRange, HeaderMatcher, MetadataMatcher, StringMatcher } from '../../../xds/envoy/index.ts';

/**
 * The JSON form of Envoy's RBAC filter configs (`envoy.config.rbac.v3.RBAC` inside the HTTP and
 * the network RBAC filters): only the fields Weft sends; names are Envoy's JSON names.
 */

export const HTTP_RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
export const NETWORK_RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';
export const HTTP_RBAC_FILTER = 'envoy.filters.http.rbac';
export const NETWORK_RBAC_FILTER = 'envoy.filters.network.rbac';

/** LOG only records in dynamic metadata that a policy matched (Istio's AUDIT). */
export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

/** Exactly one key per object, as the proto's oneof. */
export type Permission =
  | { readonly any: true }
  | { readonly andRules: { readonly rules: readonly Permission[] } }
  | { readonly orRules: { readonly rules: readonly Permission[] } }
  | { readonly notRule: Permission }
  | { readonly header: HeaderMatcher }
  | { readonly urlPath: { readonly path: StringMatcher } }
  | { readonly destinationIp: CidrRange }
  | { readonly destinationPort: number }
  | { readonly requestedServerName: StringMatcher }
  | { readonly metadata: MetadataMatcher };

/** Exactly one key per object, as the proto's oneof. `authenticated` is the peer certificate's URI SAN. */
export type Principal =
  | { readonly any: true }
  | { readonly andIds: { readonly ids: readonly Principal[] } }
  | { readonly orIds: { readonly ids: readonly Principal[] } }
  | { readonly notId: Principal }
  | { readonly authenticated: { readonly principalName: StringMatcher } }
  | { readonly directRemoteIp: CidrRange }
  | { readonly remoteIp: CidrRange }
  | { readonly header: HeaderMatcher }
  | { readonly metadata: MetadataMatcher };

/** Matches when any permission and any principal match. */
export interface RbacPolicy {
  readonly permissions: readonly Permission[];
  readonly principals: readonly Principal[];
}

/** With ALLOW, a request no policy matches is denied; with DENY, one any policy matches is. */
export interface RbacRules {
  readonly action: RbacAction;
  /** Keyed by name; the first match (in this order) is the effective policy. */
  readonly policies: Readonly<Record<string, RbacPolicy>>;
}

/**
 * Rules are enforced; shadow rules are only evaluated, their result written to dynamic metadata
 * under `<shadowRulesStatPrefix>shadow_effective_policy_id` and `..._shadow_engine_result`.
 */
export interface HttpRbac {
  readonly '@type': typeof HTTP_RBAC_TYPE;
  readonly rules?: RbacRules;
  readonly shadowRules?: RbacRules;
  readonly shadowRulesStatPrefix?: string;
}

export interface NetworkRbac {
  readonly '@type': typeof NETWORK_RBAC_TYPE;
  readonly statPrefix: string;
  readonly rules?: RbacRules;
  readonly shadowRules?: RbacRules;
  readonly shadowRulesStatPrefix?: string;
}
