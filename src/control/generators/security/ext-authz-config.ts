import type { HttpStatus, MetadataMatcher, StringMatcher } from '../../../xds/envoy/index.ts';

/**
 * The JSON form of Envoy's HTTP ext_authz filter config
 * (`envoy.extensions.filters.http.ext_authz.v3.ExtAuthz`) with an HTTP authorization service:
 * only the fields Weft sends; names are Envoy's JSON names.
 */

export const EXT_AUTHZ_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
export const EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';

export interface ListStringMatcher {
  readonly patterns: readonly StringMatcher[];
}

export interface HttpService {
  /** The check goes to `cluster`; `uri` is required by Envoy but unused. */
  readonly serverUri: { readonly uri: string; readonly cluster: string; readonly timeout: string };
  readonly pathPrefix?: string;
  readonly authorizationRequest?: { readonly headersToAdd: readonly { readonly key: string; readonly value: string }[] };
  readonly authorizationResponse?: {
    readonly allowedUpstreamHeaders?: ListStringMatcher;
    readonly allowedClientHeaders?: ListStringMatcher;
  };
}

export interface ExtAuthz {
  readonly '@type': typeof EXT_AUTHZ_TYPE;
  readonly httpService: HttpService;
  readonly transportApiVersion: 'V3';
  /** Allow the request when the service cannot be reached or errs. */
  readonly failureModeAllow?: boolean;
  /** The status of a request refused because the check failed (403 when unset). */
  readonly statusOnError?: HttpStatus;
  /** The filter checks only requests whose dynamic metadata this matches. */
  readonly filterEnabledMetadata: MetadataMatcher;
  /** Request headers sent in the check. */
  readonly allowedHeaders?: ListStringMatcher;
  readonly withRequestBody?: { readonly maxRequestBytes?: number; readonly allowPartialMessage?: boolean; readonly packAsBytes?: boolean };
}
