/**
 * How the proxy normalizes request paths before authorization policies and routes see them
 * (Istio's meshConfig.pathNormalization): NONE leaves them as received; BASE resolves `.` and `..`
 * segments (RFC 3986); MERGE_SLASHES also merges `//`; DECODE_AND_MERGE_SLASHES also decodes
 * `%2F` and `%5C` into slashes first.
 */
export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

/** An ext_authz server reached over HTTP (Istio's meshConfig.extensionProviders[].envoyExtAuthzHttp). */
export interface EnvoyExtAuthzHttpProvider {
  /** `[<namespace>/]<hostname>`: the service implementing the check; its outbound cluster is used. */
  readonly service: string;
  readonly port: number;
  /** How long a check may take, in Envoy's duration form; 600s when unset, as in Istio. */
  readonly timeout?: string;
  /** Prepended to the request path in the check request. */
  readonly pathPrefix?: string;
  /** Lets requests through when the server cannot be reached or errs. */
  readonly failOpen?: boolean;
  /** The status returned when the check fails and failOpen is off (a number as a string); 403 when unset. */
  readonly statusOnError?: string;
  /** Request headers sent to the server (`abc`, `abc*`, `*abc`, case-insensitive). */
  readonly includeRequestHeadersInCheck?: readonly string[];
  /** Headers added to the check request, by name. */
  readonly includeAdditionalHeadersInCheck?: Readonly<Record<string, string>>;
  /** Headers of the server's answer copied to the upstream request when it allows. */
  readonly headersToUpstreamOnAllow?: readonly string[];
  /** Headers of the server's answer copied to the client's response when it denies. */
  readonly headersToDownstreamOnDeny?: readonly string[];
  /** Buffers the request body into the check request. */
  readonly includeRequestBodyInCheck?: {
    readonly maxRequestBytes?: number;
    readonly allowPartialMessage?: boolean;
    readonly packAsBytes?: boolean;
  };
}

/** An external authorizer that AuthorizationPolicies with action CUSTOM name by `provider.name`. */
export interface ExtensionProvider {
  readonly name: string;
  readonly envoyExtAuthzHttp: EnvoyExtAuthzHttpProvider;
}

/** Mesh-wide settings (Istio's MeshConfig), with Istio's defaults unless said otherwise. */
export interface MeshConfig {
  readonly rootNamespace: string;
  readonly trustDomain: string;
  readonly clusterDomain: string;
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** TCP connect timeout, in Envoy's duration form. */
  readonly connectTimeout: string;
  readonly enableAutoMtls: boolean;
  /** meshConfig.defaultHttpRetryPolicy: attempts 0 turns default retries off. */
  readonly defaultHttpRetryPolicy: { readonly attempts: number; readonly retryOn: string };
  readonly ingressGatewayLabels: Readonly<Record<string, string>>;
  readonly extensionProviders: readonly ExtensionProvider[];
  readonly pathNormalization: PathNormalization;
}

export const DEFAULT_MESH_CONFIG: MeshConfig = {
  rootNamespace: 'istio-system',
  trustDomain: 'cluster.local',
  clusterDomain: 'cluster.local',
  outboundTrafficPolicy: 'ALLOW_ANY',
  connectTimeout: '10s',
  enableAutoMtls: true,
  defaultHttpRetryPolicy: { attempts: 2, retryOn: 'connect-failure,refused-stream,unavailable,cancelled,503' },
  ingressGatewayLabels: { istio: 'ingressgateway' },
  extensionProviders: [],
  // Not Istio's BASE: BASE forwards `%2F` and `//` untouched, so `/admin` denied by a policy is
  // reached as `/%2Fadmin` or `//admin` by an app that decodes or merges them.
  pathNormalization: 'DECODE_AND_MERGE_SLASHES',
};
