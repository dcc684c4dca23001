import type { DataSource } from '../../../xds/envoy/index.ts';

/**
 * The JSON form of Envoy's JWT authentication filter config
 * (`envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`) and of Istio's authn filter,
 * which turns the JWT payload into `request.auth.*` dynamic metadata for RBAC: only the fields Weft
 * sends; names are Envoy's JSON names.
 */

export const JWT_AUTHN_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
export const JWT_AUTHN_FILTER = 'envoy.filters.http.jwt_authn';
export const ISTIO_AUTHN_TYPE = 'type.googleapis.com/io.istio.network.authn.Config';
export const ISTIO_AUTHN_FILTER = 'istio_authn';

export interface JwtProvider {
  /** The `iss` a token must carry; any when unset. */
  readonly issuer?: string;
  /** One of them must be in the token's `aud`; any when unset. */
  readonly audiences?: readonly string[];
  readonly localJwks: DataSource;
  /** Keep the token in the request sent on (it is removed by default). */
  readonly forward?: boolean;
  /** Send the verified payload, base64url-encoded, in this header. */
  readonly forwardPayloadHeader?: string;
  /** Where the token is looked for; `Authorization: Bearer` then `?access_token=` when none is set. */
  readonly fromHeaders?: readonly { readonly name: string; readonly valuePrefix?: string }[];
  readonly fromParams?: readonly string[];
  readonly fromCookies?: readonly string[];
  readonly claimToHeaders?: readonly { readonly headerName: string; readonly claimName: string }[];
  /** The key under which the verified payload goes in the filter's dynamic metadata. */
  readonly payloadInMetadata?: string;
  /** Claims whose space-separated string value is split into a list in that metadata. */
  readonly normalizePayloadInMetadata?: { readonly spaceDelimitedClaims: readonly string[] };
  /** Routes are chosen again after verification, so they can match on claims. */
  readonly clearRouteCache?: boolean;
}

/** Exactly one key per object, as the proto's oneof. */
export type JwtRequirement =
  | { readonly providerName: string }
  | { readonly requiresAny: { readonly requirements: readonly JwtRequirement[] } }
  | { readonly requiresAll: { readonly requirements: readonly JwtRequirement[] } }
  | { readonly allowMissing: Readonly<Record<string, never>> };

export interface JwtAuthentication {
  readonly '@type': typeof JWT_AUTHN_TYPE;
  readonly providers: Readonly<Record<string, JwtProvider>>;
  readonly rules: readonly { readonly match: { readonly prefix: string }; readonly requires: JwtRequirement }[];
  /** CORS preflight requests carry no token and pass. */
  readonly bypassCorsPreflight?: boolean;
}

/** Istio's authn filter has no settings of its own. */
export interface IstioAuthn {
  readonly '@type': typeof ISTIO_AUTHN_TYPE;
}
