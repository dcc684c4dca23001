import type { HeaderValueOption, RuntimeFractionalPercent } from './route.ts';

/**
 * The JSON form of `envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`: the filter's
 * config in an HTTP connection manager, and a route's own limit in its `typedPerFilterConfig`
 * (which replaces the filter's for requests on that route). Only the fields Weft uses; names are
 * Envoy's JSON names.
 */

export const LOCAL_RATE_LIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

/** `envoy.type.v3.TokenBucket`: full at first; each request takes a token; `tokensPerFill` come back every `fillInterval`. */
export interface TokenBucket {
  readonly maxTokens: number;
  /** 1 when unset. */
  readonly tokensPerFill?: number;
  /** At least 50 ms. */
  readonly fillInterval: string;
}

/** The names of `envoy.type.v3.StatusCode`'s 4xx and 5xx values, by code: proto3 JSON writes an enum by name. */
export const HTTP_STATUS_CODE_NAMES: Readonly<Record<number, string>> = {
  400: 'BadRequest', 401: 'Unauthorized', 402: 'PaymentRequired', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  406: 'NotAcceptable', 407: 'ProxyAuthenticationRequired', 408: 'RequestTimeout', 409: 'Conflict', 410: 'Gone', 411: 'LengthRequired',
  412: 'PreconditionFailed', 413: 'PayloadTooLarge', 414: 'URITooLong', 415: 'UnsupportedMediaType', 416: 'RangeNotSatisfiable',
  417: 'ExpectationFailed', 421: 'MisdirectedRequest', 422: 'UnprocessableEntity', 423: 'Locked', 424: 'FailedDependency',
  426: 'UpgradeRequired', 428: 'PreconditionRequired', 429: 'TooManyRequests', 431: 'RequestHeaderFieldsTooLarge',
  500: 'InternalServerError', 501: 'NotImplemented', 502: 'BadGateway', 503: 'ServiceUnavailable', 504: 'GatewayTimeout',
  505: 'HTTPVersionNotSupported', 506: 'VariantAlsoNegotiates', 507: 'InsufficientStorage', 508: 'LoopDetected', 510: 'NotExtended',
  511: 'NetworkAuthenticationRequired',
};

/** `envoy.type.v3.HttpStatus`: a StatusCode by name (`TooManyRequests`) or number. */
export interface HttpStatus {
  readonly code: string | number;
}

export interface LocalRateLimit {
  readonly '@type': typeof LOCAL_RATE_LIMIT_TYPE;
  readonly statPrefix: string;
  /** The status of a limited request: 429 when unset (or below 400). */
  readonly status?: HttpStatus;
  /** No limit when unset; required in a route's config. */
  readonly tokenBucket?: TokenBucket;
  /** The share of requests the filter checks: none when unset. */
  readonly filterEnabled?: RuntimeFractionalPercent;
  /** The share of checked requests refused when over the limit (the rest only counted): none when unset. */
  readonly filterEnforced?: RuntimeFractionalPercent;
  readonly requestHeadersToAddWhenNotEnforced?: readonly HeaderValueOption[];
  /** Added to the responses of limited requests. */
  readonly responseHeadersToAdd?: readonly HeaderValueOption[];
  /** Limits per connection rather than per filter config. */
  readonly localRateLimitPerDownstreamConnection?: boolean;
  /** `DRAFT_VERSION_03` adds x-ratelimit-limit, -remaining and -reset to responses. */
  readonly enableXRatelimitHeaders?: 'OFF' | 'DRAFT_VERSION_03';
  readonly rateLimitedAsResourceExhausted?: boolean;
}
