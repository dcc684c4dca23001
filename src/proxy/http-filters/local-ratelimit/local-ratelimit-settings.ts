import { closestMatch, err, ok, parseDuration, type Result } from '../../../core/index.ts';
import { LOCAL_RATE_LIMIT_TYPE, type HeaderValueOption } from '../../../xds/envoy/index.ts';
import { composeHeaderLevels, NO_HEADER_MUTATION, parseHeaderLevel } from '../../route/header-mutation.ts';
import { Problems } from '../../route/problems.ts';
import type { HeaderMutation } from '../../route/route-entry.ts';
import { TokenBucket, type TokenBucketSpec } from './token-bucket.ts';

/** A RuntimeFractionalPercent's default value (Weft has no runtime layer, so the key changes nothing). */
export class Share {
  readonly numerator: number;
  readonly denominator: number;

  constructor(numerator: number, denominator: number) {
    this.numerator = numerator;
    this.denominator = denominator;
  }

  /** Whether a request falls inside the share; draws from `random` (uniform in [0, 1)) only for a share strictly between 0% and 100%. */
  includes(random: () => number): boolean {
    if (this.numerator === 0) return false;
    if (this.numerator >= this.denominator) return true;
    return random() * this.denominator < this.numerator;
  }
}

const NONE = new Share(0, 100);

/**
 * A LocalRateLimit config compiled once (when LDS or RDS brings it), with the token bucket its
 * requests share: one per config object, so every connection of the filter chain (for the filter's
 * own config) or every request on the route or virtual host (for a `typedPerFilterConfig` entry)
 * draws from it, and it lives as long as that config does. With
 * `localRateLimitPerDownstreamConnection`, each downstream connection gets a bucket of its own.
 */
export class LocalRateLimitSettings {
  readonly statPrefix: string;
  /** The limited response's status (a configured status below 400 is 429, as in Envoy). */
  readonly status: number;
  /** undefined only for the filter's own config, which may leave limits to routes. */
  readonly bucket: TokenBucketSpec | undefined;
  readonly enabled: Share;
  readonly enforced: Share;
  /** Added to a limited request's local reply. */
  readonly responseHeaders: HeaderMutation;
  /** Added to a limited request that goes on because the limit is not enforced for it. */
  readonly requestHeadersWhenNotEnforced: HeaderMutation;
  /** `enableXRatelimitHeaders: DRAFT_VERSION_03`. */
  readonly xRateLimitHeaders: boolean;
  readonly perConnection: boolean;
  /** A limited gRPC call ends with RESOURCE_EXHAUSTED (8) rather than UNAVAILABLE (14). */
  readonly grpcResourceExhausted: boolean;
  #shared: TokenBucket | undefined;
  readonly #byConnection = new WeakMap<object, TokenBucket>();

  constructor(init: {
    statPrefix: string; status: number; bucket: TokenBucketSpec | undefined; enabled: Share; enforced: Share; responseHeaders: HeaderMutation;
    requestHeadersWhenNotEnforced: HeaderMutation; xRateLimitHeaders: boolean; perConnection: boolean; grpcResourceExhausted: boolean;
  }) {
    this.statPrefix = init.statPrefix;
    this.status = init.status;
    this.bucket = init.bucket;
    this.enabled = init.enabled;
    this.enforced = init.enforced;
    this.responseHeaders = init.responseHeaders;
    this.requestHeadersWhenNotEnforced = init.requestHeadersWhenNotEnforced;
    this.xRateLimitHeaders = init.xRateLimitHeaders;
    this.perConnection = init.perConnection;
    this.grpcResourceExhausted = init.grpcResourceExhausted;
  }

  /** The bucket a request on `connection` draws from; undefined when the config has none. */
  bucketFor(connection: object): TokenBucket | undefined {
    const spec = this.bucket;
    if (spec === undefined) return undefined;
    if (!this.perConnection) return (this.#shared ??= new TokenBucket(spec));
    let bucket = this.#byConnection.get(connection);
    if (bucket === undefined) this.#byConnection.set(connection, (bucket = new TokenBucket(spec)));
    return bucket;
  }
}

type Raw = Readonly<Record<string, unknown>>;

const FIELDS: readonly string[] = [
  '@type', 'statPrefix', 'status', 'tokenBucket', 'filterEnabled', 'filterEnforced', 'requestHeadersToAddWhenNotEnforced', 'responseHeadersToAdd',
  'descriptors', 'stage', 'localRateLimitPerDownstreamConnection', 'localClusterRateLimit', 'enableXRatelimitHeaders', 'vhRateLimits',
  'alwaysConsumeDefaultTokenBucket', 'rateLimitedAsResourceExhausted', 'rateLimits', 'maxDynamicDescriptors',
];
const UINT32_MAX = 4_294_967_295;
const MIN_FILL_INTERVAL_MS = 50;
const MAX_HEADERS = 10;
const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };
const DENOMINATOR_NUMBERS: readonly string[] = ['HUNDRED', 'TEN_THOUSAND', 'MILLION'];

/** envoy.type.v3.StatusCode: the codes `status.code` may name, by their enum names. */
const STATUS_CODES: Readonly<Record<string, number>> = {
  Continue: 100, OK: 200, Created: 201, Accepted: 202, NonAuthoritativeInformation: 203, NoContent: 204, ResetContent: 205, PartialContent: 206,
  MultiStatus: 207, AlreadyReported: 208, IMUsed: 226, MultipleChoices: 300, MovedPermanently: 301, Found: 302, SeeOther: 303, NotModified: 304,
  UseProxy: 305, TemporaryRedirect: 307, PermanentRedirect: 308, BadRequest: 400, Unauthorized: 401, PaymentRequired: 402, Forbidden: 403,
  NotFound: 404, MethodNotAllowed: 405, NotAcceptable: 406, ProxyAuthenticationRequired: 407, RequestTimeout: 408, Conflict: 409, Gone: 410,
  LengthRequired: 411, PreconditionFailed: 412, PayloadTooLarge: 413, URITooLong: 414, UnsupportedMediaType: 415, RangeNotSatisfiable: 416,
  ExpectationFailed: 417, MisdirectedRequest: 421, UnprocessableEntity: 422, Locked: 423, FailedDependency: 424, UpgradeRequired: 426,
  PreconditionRequired: 428, TooManyRequests: 429, RequestHeaderFieldsTooLarge: 431, InternalServerError: 500, NotImplemented: 501,
  BadGateway: 502, ServiceUnavailable: 503, GatewayTimeout: 504, HTTPVersionNotSupported: 505, VariantAlsoNegotiates: 506,
  InsufficientStorage: 507, LoopDetected: 508, NotExtended: 510, NetworkAuthenticationRequired: 511,
};
const STATUS_VALUES: ReadonlySet<number> = new Set(Object.values(STATUS_CODES));

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A uint32, which proto3 JSON may also write as a decimal string. */
function uint32(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) && number >= 0 && number <= UINT32_MAX ? number : undefined;
}

/** An enum field: its name, or its number mapped to the name; undefined when neither. */
function enumName(value: unknown, names: readonly string[]): string | undefined {
  if (typeof value === 'string') return names.includes(value) ? value : undefined;
  return typeof value === 'number' && Number.isInteger(value) ? names[value] : undefined;
}

function unknownFields(raw: Raw, known: readonly string[], message: string, at: string, problems: Problems): void {
  for (const field of Object.keys(raw)) {
    if (known.includes(field)) continue;
    const guess = closestMatch(field, known);
    problems.add(`${at}${field}`, `is not a field of ${message}${guess !== undefined ? `; did you mean ${guess}?` : ''}`);
  }
}

function parseBucket(raw: unknown, problems: Problems): TokenBucketSpec | undefined {
  if (!isObject(raw)) {
    problems.add('tokenBucket', 'must be a TokenBucket object ({maxTokens, tokensPerFill, fillInterval})');
    return undefined;
  }
  unknownFields(raw, ['maxTokens', 'tokensPerFill', 'fillInterval'], 'TokenBucket', 'tokenBucket.', problems);
  const maxTokens = uint32(raw['maxTokens']);
  if (maxTokens === undefined || maxTokens === 0) {
    problems.add('tokenBucket.maxTokens', raw['maxTokens'] === undefined ? 'is required' : `${JSON.stringify(raw['maxTokens'])} is not a whole number from 1 to 4294967295`);
  }
  const tokensPerFill = raw['tokensPerFill'] === undefined ? 1 : uint32(raw['tokensPerFill']);
  if (tokensPerFill === undefined || tokensPerFill === 0) {
    problems.add('tokenBucket.tokensPerFill', `${JSON.stringify(raw['tokensPerFill'])} is not a whole number from 1 to 4294967295`);
  }
  const fillIntervalMs = parseFillInterval(raw['fillInterval'], problems);
  if (maxTokens === undefined || maxTokens === 0 || tokensPerFill === undefined || tokensPerFill === 0 || fillIntervalMs === undefined) return undefined;
  return { maxTokens, tokensPerFill, fillIntervalMs };
}

/** Envoy reads the interval in whole milliseconds and refuses one under 50 ms. */
function parseFillInterval(raw: unknown, problems: Problems): number | undefined {
  const at = 'tokenBucket.fillInterval';
  if (raw === undefined) {
    problems.add(at, 'is required (a duration such as "1s")');
    return undefined;
  }
  const parsed = typeof raw === 'string' ? parseDuration(raw) : err(`${JSON.stringify(raw)} is not a duration such as "1s"`);
  if (!parsed.ok) {
    problems.add(at, parsed.error);
    return undefined;
  }
  const ms = Math.floor(parsed.value);
  if (ms < MIN_FILL_INTERVAL_MS) {
    problems.add(at, `${raw} is too short: the fill interval must be at least 50ms`);
    return undefined;
  }
  return ms;
}

/** Envoy: an unset filterEnabled or filterEnforced is 0%, checking or enforcing nothing. */
function parseShare(raw: unknown, field: string, problems: Problems): Share {
  if (raw === undefined) return NONE;
  if (!isObject(raw)) {
    problems.add(field, 'must be a RuntimeFractionalPercent ({defaultValue: {numerator, denominator}, runtimeKey})');
    return NONE;
  }
  unknownFields(raw, ['defaultValue', 'runtimeKey'], 'RuntimeFractionalPercent', `${field}.`, problems);
  if (raw['runtimeKey'] !== undefined && typeof raw['runtimeKey'] !== 'string') problems.add(`${field}.runtimeKey`, 'must be a runtime key (a string)');
  const value = raw['defaultValue'];
  const at = `${field}.defaultValue`;
  if (value === undefined) {
    problems.add(at, 'is required');
    return NONE;
  }
  if (!isObject(value)) {
    problems.add(at, 'must be a FractionalPercent ({numerator, denominator})');
    return NONE;
  }
  unknownFields(value, ['numerator', 'denominator'], 'FractionalPercent', `${at}.`, problems);
  const numerator = value['numerator'] === undefined ? 0 : uint32(value['numerator']);
  if (numerator === undefined) problems.add(`${at}.numerator`, `${JSON.stringify(value['numerator'])} is not a whole number from 0 to 4294967295`);
  const name = value['denominator'] === undefined ? 'HUNDRED' : enumName(value['denominator'], DENOMINATOR_NUMBERS);
  if (name === undefined) problems.add(`${at}.denominator`, `${JSON.stringify(value['denominator'])} is not one of HUNDRED, TEN_THOUSAND, MILLION`);
  return numerator === undefined || name === undefined ? NONE : new Share(numerator, DENOMINATORS[name]!);
}

function parseStatus(raw: unknown, problems: Problems): number {
  if (raw === undefined) return 429;
  if (!isObject(raw)) {
    problems.add('status', 'must be an HttpStatus object ({code})');
    return 429;
  }
  unknownFields(raw, ['code'], 'HttpStatus', 'status.', problems);
  const code = raw['code'];
  const status = typeof code === 'string' ? STATUS_CODES[code] ?? (/^\d+$/.test(code) ? Number(code) : undefined) : code;
  if (typeof status !== 'number' || !STATUS_VALUES.has(status)) {
    problems.add('status.code', `${JSON.stringify(code)} is not an envoy.type.v3.StatusCode (a name such as "TooManyRequests", or its number)`);
    return 429;
  }
  return status < 400 ? 429 : status;
}

function parseHeaders(raw: unknown, field: string, problems: Problems): HeaderMutation {
  if (raw === undefined) return NO_HEADER_MUTATION;
  if (!Array.isArray(raw) || raw.some((option) => !isObject(option))) {
    problems.add(field, 'must be a list of HeaderValueOption objects ({header: {key, value}, appendAction})');
    return NO_HEADER_MUTATION;
  }
  if (raw.length > MAX_HEADERS) problems.add(field, `lists ${raw.length} headers; at most ${MAX_HEADERS} are allowed`);
  return composeHeaderLevels([parseHeaderLevel(raw as HeaderValueOption[], undefined, field, field, problems)]);
}

function bool(raw: Raw, field: string, problems: Problems): boolean {
  const value = raw[field] ?? false;
  if (typeof value === 'boolean') return value;
  problems.add(field, 'must be true or false');
  return false;
}

/** A list field Weft does not implement: refused unless empty, so that no config relies on it unawares. */
function unsupportedList(raw: Raw, field: string, why: string, problems: Problems): void {
  const value = raw[field];
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return;
  problems.add(field, `is not supported by Weft: ${why}`);
}

/**
 * Parses a `type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`:
 * the filter's own config (`perRoute` false) or a route's or virtual host's `typedPerFilterConfig`
 * entry, which must have a tokenBucket, as Envoy requires. Every problem is reported, one per line,
 * with its field. Descriptors, rateLimits and localClusterRateLimit are refused: Weft has one
 * bucket per config. stage, vhRateLimits, alwaysConsumeDefaultTokenBucket and
 * maxDynamicDescriptors are checked and have no effect (they only matter with descriptors).
 */
export function parseLocalRateLimit(config: Raw, perRoute: boolean): Result<LocalRateLimitSettings, string> {
  const lines: string[] = [];
  const problems = new Problems('', lines);
  unknownFields(config, FIELDS, 'LocalRateLimit', '', problems);
  const type = config['@type'];
  if (type !== undefined && type !== LOCAL_RATE_LIMIT_TYPE) problems.add('@type', `${JSON.stringify(type)} is not ${LOCAL_RATE_LIMIT_TYPE}`);

  const statPrefix = config['statPrefix'];
  if (typeof statPrefix !== 'string' || statPrefix === '') problems.add('statPrefix', 'is required (the prefix of the filter\'s stats)');
  const status = parseStatus(config['status'], problems);
  let bucket: TokenBucketSpec | undefined;
  if (config['tokenBucket'] !== undefined) bucket = parseBucket(config['tokenBucket'], problems);
  else if (perRoute) problems.add('tokenBucket', 'is required in a route\'s or virtual host\'s config');
  const enabled = parseShare(config['filterEnabled'], 'filterEnabled', problems);
  const enforced = parseShare(config['filterEnforced'], 'filterEnforced', problems);
  const requestHeadersWhenNotEnforced = parseHeaders(config['requestHeadersToAddWhenNotEnforced'], 'requestHeadersToAddWhenNotEnforced', problems);
  const responseHeaders = parseHeaders(config['responseHeadersToAdd'], 'responseHeadersToAdd', problems);

  const xHeaders = config['enableXRatelimitHeaders'] === undefined ? 'OFF' : enumName(config['enableXRatelimitHeaders'], ['OFF', 'DRAFT_VERSION_03']);
  if (xHeaders === undefined) problems.add('enableXRatelimitHeaders', `${JSON.stringify(config['enableXRatelimitHeaders'])} is not one of OFF, DRAFT_VERSION_03`);
  const perConnection = bool(config, 'localRateLimitPerDownstreamConnection', problems);
  const grpcResourceExhausted = bool(config, 'rateLimitedAsResourceExhausted', problems);

  unsupportedList(config, 'descriptors', 'Weft applies one token bucket per config and has no per-descriptor buckets', problems);
  unsupportedList(config, 'rateLimits', 'Weft builds no rate limit descriptors', problems);
  if (config['localClusterRateLimit'] !== undefined) problems.add('localClusterRateLimit', 'is not supported by Weft: the bucket is never shared out among the local cluster\'s proxies');
  const stage = config['stage'] === undefined ? 0 : uint32(config['stage']);
  if (stage === undefined || stage > 10) problems.add('stage', `${JSON.stringify(config['stage'])} is not a whole number from 0 to 10`);
  const vh = config['vhRateLimits'];
  if (vh !== undefined && enumName(vh, ['OVERRIDE', 'INCLUDE', 'IGNORE']) === undefined) problems.add('vhRateLimits', `${JSON.stringify(vh)} is not one of OVERRIDE, INCLUDE, IGNORE`);
  if (config['alwaysConsumeDefaultTokenBucket'] !== undefined) bool(config, 'alwaysConsumeDefaultTokenBucket', problems);
  const maxDynamic = config['maxDynamicDescriptors'];
  if (maxDynamic !== undefined && uint32(maxDynamic) === undefined) problems.add('maxDynamicDescriptors', `${JSON.stringify(maxDynamic)} is not a whole number from 0 to 4294967295`);

  if (problems.count > 0) return err(problems.text());
  return ok(new LocalRateLimitSettings({
    statPrefix: statPrefix as string,
    status,
    bucket,
    enabled,
    enforced,
    responseHeaders,
    requestHeadersWhenNotEnforced,
    xRateLimitHeaders: xHeaders === 'DRAFT_VERSION_03',
    perConnection,
    grpcResourceExhausted,
  }));
}
