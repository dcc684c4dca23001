import { err, ok, type Result } from '../../../core/index.ts';
import { HTTP_STATUS_CODE_NAMES } from '../../../xds/envoy/index.ts';
import { durationMs } from '../../route/config-duration.ts';
import { Problems } from '../../route/problems.ts';
import { parseMetadataMatcher } from '../../security/rbac/metadata-matcher.ts';
import type { RbacMetadata } from '../../security/rbac/rbac-input.ts';
import { bool, checkFields, fieldPath, integer, list, message, oneofMember, string, type Raw } from '../../security/rbac/raw-json.ts';
import { parseStringMatcher } from '../../security/rbac/string-matcher.ts';

export const EXT_AUTHZ_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
export const EXT_AUTHZ_PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute';
/** The filter's name: its key in routes' `typedPerFilterConfig` and the namespace of the metadata it writes. */
export const EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';

/** Whether a header, by its lower-case name, is in a list of StringMatchers. */
export type HeaderNameTest = (name: string) => boolean;

/** `withRequestBody`: how much of the body the authorizer sees. */
export interface BufferSettings {
  readonly maxRequestBytes: number;
  /** Send the first maxRequestBytes of a longer body; otherwise such a request is answered 413. */
  readonly allowPartialMessage: boolean;
}

export interface ExtAuthzConfig {
  /** `httpService.serverUri.cluster`: where the authorizer is. */
  readonly cluster: string;
  readonly timeoutMs: number;
  /** Put before the request's path in the check request. */
  readonly pathPrefix: string;
  /** Request headers sent to the authorizer besides method, path, host and authorization (which always go). */
  readonly requestHeaders: HeaderNameTest;
  /** Set on every check request. */
  readonly headersToAdd: readonly (readonly [name: string, value: string])[];
  /** Headers of an allowing answer set on the upstream request, replacing the client's. */
  readonly upstreamHeaders: HeaderNameTest;
  /** Headers of an allowing answer added to the upstream request beside the client's. */
  readonly upstreamHeadersToAppend: HeaderNameTest;
  /** Headers of a denying answer passed to the client. */
  readonly clientHeaders: HeaderNameTest;
  /** Headers of an allowing answer added to the upstream's response. */
  readonly clientHeadersOnSuccess: HeaderNameTest;
  /** Headers of an allowing answer written to metadata namespace `envoy.filters.http.ext_authz`. */
  readonly metadataFromHeaders: HeaderNameTest;
  /** Let requests through when the authorizer cannot be asked. */
  readonly failureModeAllow: boolean;
  /** With failureModeAllow, mark such requests `x-envoy-auth-failure-mode-allowed: true`. */
  readonly failureModeAllowHeaderAdd: boolean;
  /** The status of requests refused because the authorizer could not be asked. */
  readonly statusOnError: number;
  /** undefined: the authorizer sees no body. */
  readonly withRequestBody: BufferSettings | undefined;
  /** Match the route again after the authorizer changed request headers. */
  readonly clearRouteCache: boolean;
  /** '' or the extra scope of the stats: `ext_authz.<statPrefix>.ok`. */
  readonly statPrefix: string;
  /** `filterEnabledMetadata`: the filter runs only for requests whose metadata matches; undefined runs it for all. */
  readonly enabledFor: ((metadata: RbacMetadata) => boolean) | undefined;
}

/** A route's `typedPerFilterConfig['envoy.filters.http.ext_authz']`. */
export class ExtAuthzPerRoute {
  readonly disabled: boolean;
  readonly disableRequestBodyBuffering: boolean;
  /** Replaces the filter's withRequestBody for the route. */
  readonly withRequestBody: BufferSettings | undefined;

  constructor(init: { disabled: boolean; disableRequestBodyBuffering: boolean; withRequestBody: BufferSettings | undefined }) {
    this.disabled = init.disabled;
    this.disableRequestBodyBuffering = init.disableRequestBodyBuffering;
    this.withRequestBody = init.withRequestBody;
  }
}

const FIELDS = [
  '@type', 'grpcService', 'httpService', 'transportApiVersion', 'failureModeAllow', 'failureModeAllowHeaderAdd', 'withRequestBody', 'clearRouteCache',
  'statusOnError', 'validateMutations', 'metadataContextNamespaces', 'typedMetadataContextNamespaces', 'routeMetadataContextNamespaces',
  'routeTypedMetadataContextNamespaces', 'filterEnabled', 'filterEnabledMetadata', 'denyAtDisable', 'includePeerCertificate', 'statPrefix',
  'bootstrapMetadataLabelsKey', 'allowedHeaders', 'disallowedHeaders', 'includeTlsSession', 'chargeClusterResponseStats', 'encodeRawHeaders',
  'decoderHeaderMutationRules', 'enableDynamicMetadataIngestion',
];
/** Set to anything, these are refused, with why. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  grpcService: 'Weft calls HTTP authorization services only; use httpService',
  filterEnabled: 'the filter runs for every request; use filterEnabledMetadata to choose requests',
  denyAtDisable: 'the filter runs for every request; use filterEnabledMetadata to choose requests',
  decoderHeaderMutationRules: 'the authorizer\'s header changes are not restricted',
};
/** Set to true, these are refused, with why. */
const UNSUPPORTED_WHEN_TRUE: Readonly<Record<string, string>> = {
  validateMutations: 'the authorizer\'s header changes are not validated',
};
/** Fields that shape only a gRPC CheckRequest, or stats Weft does not keep: checked for type, no effect. */
const GRPC_ONLY_LISTS = ['metadataContextNamespaces', 'typedMetadataContextNamespaces', 'routeMetadataContextNamespaces', 'routeTypedMetadataContextNamespaces'];
const GRPC_ONLY_BOOLS = ['includePeerCertificate', 'includeTlsSession', 'encodeRawHeaders'];
const DEFAULT_STATUS_ON_ERROR = 403;
const UINT32_MAX = 4_294_967_295;
const STATUS_BY_NAME: ReadonlyMap<string, number> = new Map(Object.entries(HTTP_STATUS_CODE_NAMES).map(([code, name]) => [name, Number(code)]));
/** Headers an authorizer never sets on the request or response: the proxy frames messages itself. */
const FRAMING_HEADERS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'host']);

const NONE: HeaderNameTest = () => false;

/**
 * Parses an `ExtAuthz` in HTTP service mode, reporting every problem with its field path, one per
 * line. `grpcService` is refused. Fields that only shape a gRPC CheckRequest
 * (metadataContextNamespaces and kin, includePeerCertificate, includeTlsSession, encodeRawHeaders)
 * are checked and change nothing, as for an HTTP service in Envoy; so do transportApiVersion (V3),
 * bootstrapMetadataLabelsKey and chargeClusterResponseStats.
 */
export function parseExtAuthz(config: Raw): Result<ExtAuthzConfig, string> {
  const lines: string[] = [];
  const problems = new Problems('', lines);
  checkFields(config, FIELDS, 'ExtAuthz', '', problems);
  if (config['@type'] !== undefined && config['@type'] !== EXT_AUTHZ_TYPE) problems.add('@type', `${JSON.stringify(config['@type'])} is not ${EXT_AUTHZ_TYPE}`);
  for (const [field, why] of Object.entries(UNSUPPORTED)) {
    if (config[field] !== undefined) problems.add(field, `is not supported by Weft: ${why}`);
  }
  for (const [field, why] of Object.entries(UNSUPPORTED_WHEN_TRUE)) {
    if (optionalBool(config, field, '', problems)) problems.add(field, `is not supported by Weft: ${why}`);
  }
  for (const field of GRPC_ONLY_LISTS) if (config[field] !== undefined) stringList(config[field], field, problems);
  for (const field of GRPC_ONLY_BOOLS) optionalBool(config, field, '', problems);
  if (config['chargeClusterResponseStats'] !== undefined) bool(config['chargeClusterResponseStats'], 'chargeClusterResponseStats', problems);
  if (config['bootstrapMetadataLabelsKey'] !== undefined) string(config['bootstrapMetadataLabelsKey'], 'bootstrapMetadataLabelsKey', problems);
  const api = config['transportApiVersion'];
  if (api !== undefined && api !== 'V3' && api !== 2) problems.add('transportApiVersion', `${JSON.stringify(api)} is not V3 (the only API version Envoy still takes)`);

  const service = config['httpService'] === undefined ? undefined : message(config['httpService'], 'HttpService', 'httpService', problems);
  if (config['httpService'] === undefined && config['grpcService'] === undefined) problems.add('httpService', 'is required (the HTTP authorization service to call)');
  const http = service === undefined ? undefined : parseHttpService(service, problems);

  const topAllowed = config['allowedHeaders'] === undefined ? undefined : parseNames(config['allowedHeaders'], 'allowedHeaders', problems);
  const disallowed = config['disallowedHeaders'] === undefined ? NONE : parseNames(config['disallowedHeaders'], 'disallowedHeaders', problems);
  const allowedLists = [topAllowed, http?.allowedHeaders].filter((test) => test !== undefined);
  const requestHeaders: HeaderNameTest = (name) => name === 'authorization' || (allowedLists.some((test) => test(name)) && !disallowed(name));

  const statusOnError = parseStatus(config['statusOnError'], problems);
  const withRequestBody = config['withRequestBody'] === undefined ? undefined : parseBufferSettings(config['withRequestBody'], 'withRequestBody', problems);
  const enabledFor = config['filterEnabledMetadata'] === undefined ? undefined : parseMetadataMatcher(config['filterEnabledMetadata'], 'filterEnabledMetadata', problems);
  const ingestMetadata = config['enableDynamicMetadataIngestion'] === undefined || bool(config['enableDynamicMetadataIngestion'], 'enableDynamicMetadataIngestion', problems) === true;
  const statPrefix = config['statPrefix'] === undefined ? '' : string(config['statPrefix'], 'statPrefix', problems) ?? '';
  const failureModeAllow = optionalBool(config, 'failureModeAllow', '', problems);
  const failureModeAllowHeaderAdd = optionalBool(config, 'failureModeAllowHeaderAdd', '', problems);
  const clearRouteCache = optionalBool(config, 'clearRouteCache', '', problems);

  if (problems.count > 0 || http === undefined) return err(problems.text());
  return ok({
    cluster: http.cluster,
    timeoutMs: http.timeoutMs,
    pathPrefix: http.pathPrefix,
    requestHeaders,
    headersToAdd: http.headersToAdd,
    upstreamHeaders: http.upstreamHeaders,
    upstreamHeadersToAppend: http.upstreamHeadersToAppend,
    clientHeaders: http.clientHeaders,
    clientHeadersOnSuccess: http.clientHeadersOnSuccess,
    metadataFromHeaders: ingestMetadata ? http.metadataFromHeaders : NONE,
    failureModeAllow,
    failureModeAllowHeaderAdd,
    statusOnError,
    withRequestBody,
    clearRouteCache,
    statPrefix,
    enabledFor,
  });
}

/** Parses an `ExtAuthzPerRoute`: `disabled: true`, or checkSettings. */
export function parseExtAuthzPerRoute(config: Raw): Result<ExtAuthzPerRoute, string> {
  const lines: string[] = [];
  const problems = new Problems('', lines);
  const { '@type': type, ...rest } = config;
  if (type !== undefined && type !== EXT_AUTHZ_PER_ROUTE_TYPE) problems.add('@type', `${JSON.stringify(type)} is not ${EXT_AUTHZ_PER_ROUTE_TYPE}`);
  const kind = oneofMember(rest, ['disabled', 'checkSettings'] as const, {}, 'ExtAuthzPerRoute', '', problems);
  let disableRequestBodyBuffering = false;
  let withRequestBody: BufferSettings | undefined;
  if (kind === 'disabled' && rest['disabled'] !== true) problems.add('disabled', 'must be true (leave it out to keep the filter on)');
  if (kind === 'checkSettings') {
    const settings = message(rest['checkSettings'], 'CheckSettings', 'checkSettings', problems);
    if (settings !== undefined) {
      checkFields(settings, ['contextExtensions', 'disableRequestBodyBuffering', 'withRequestBody'], 'CheckSettings', 'checkSettings', problems);
      // Context extensions travel in a gRPC CheckRequest only.
      if (settings['contextExtensions'] !== undefined) message(settings['contextExtensions'], 'map of string', 'checkSettings.contextExtensions', problems);
      disableRequestBodyBuffering = optionalBool(settings, 'disableRequestBodyBuffering', 'checkSettings', problems);
      if (settings['withRequestBody'] !== undefined) withRequestBody = parseBufferSettings(settings['withRequestBody'], 'checkSettings.withRequestBody', problems);
    }
  }
  if (problems.count > 0) return err(problems.text());
  return ok(new ExtAuthzPerRoute({ disabled: kind === 'disabled', disableRequestBodyBuffering, withRequestBody }));
}

interface HttpService {
  readonly cluster: string;
  readonly timeoutMs: number;
  readonly pathPrefix: string;
  readonly allowedHeaders: HeaderNameTest | undefined;
  readonly headersToAdd: readonly (readonly [string, string])[];
  readonly upstreamHeaders: HeaderNameTest;
  readonly upstreamHeadersToAppend: HeaderNameTest;
  readonly clientHeaders: HeaderNameTest;
  readonly clientHeadersOnSuccess: HeaderNameTest;
  readonly metadataFromHeaders: HeaderNameTest;
}

function parseHttpService(service: Raw, problems: Problems): HttpService | undefined {
  const at = 'httpService';
  const before = problems.count;
  checkFields(service, ['serverUri', 'pathPrefix', 'authorizationRequest', 'authorizationResponse', 'retryPolicy'], 'HttpService', at, problems);
  if (service['retryPolicy'] !== undefined) problems.add(fieldPath(at, 'retryPolicy'), 'is not supported by Weft: a check is tried once');
  const server = parseServerUri(service['serverUri'], fieldPath(at, 'serverUri'), problems);
  const pathPrefix = service['pathPrefix'] === undefined ? '' : string(service['pathPrefix'], fieldPath(at, 'pathPrefix'), problems) ?? '';
  if (pathPrefix !== '' && (!pathPrefix.startsWith('/') || /[?#]/.test(pathPrefix))) problems.add(fieldPath(at, 'pathPrefix'), `"${pathPrefix}" must start with "/" and hold no "?" or "#"`);

  const rat = fieldPath(at, 'authorizationRequest');
  const request = service['authorizationRequest'] === undefined ? {} : message(service['authorizationRequest'], 'AuthorizationRequest', rat, problems) ?? {};
  checkFields(request, ['allowedHeaders', 'headersToAdd'], 'AuthorizationRequest', rat, problems);
  const allowedHeaders = request['allowedHeaders'] === undefined ? undefined : parseNames(request['allowedHeaders'], fieldPath(rat, 'allowedHeaders'), problems);
  const headersToAdd = request['headersToAdd'] === undefined ? [] : parseHeadersToAdd(request['headersToAdd'], fieldPath(rat, 'headersToAdd'), problems);

  const sat = fieldPath(at, 'authorizationResponse');
  const response = service['authorizationResponse'] === undefined ? {} : message(service['authorizationResponse'], 'AuthorizationResponse', sat, problems) ?? {};
  const names = ['allowedUpstreamHeaders', 'allowedUpstreamHeadersToAppend', 'allowedClientHeaders', 'allowedClientHeadersOnSuccess', 'dynamicMetadataFromHeaders'];
  checkFields(response, names, 'AuthorizationResponse', sat, problems);
  const test = (field: string): HeaderNameTest | undefined => (response[field] === undefined ? undefined : parseNames(response[field], fieldPath(sat, field), problems));
  const client = test('allowedClientHeaders');
  // Envoy: with no list, a denial passes every header of the answer but host; with one, those and its own few.
  const clientHeaders: HeaderNameTest = client === undefined
    ? (name) => name !== 'host'
    : (name) => name === 'content-length' || name === 'www-authenticate' || name === 'location' || client(name);
  const result: HttpService | undefined = server === undefined ? undefined : {
    ...server,
    pathPrefix,
    allowedHeaders,
    headersToAdd,
    upstreamHeaders: test('allowedUpstreamHeaders') ?? NONE,
    upstreamHeadersToAppend: test('allowedUpstreamHeadersToAppend') ?? NONE,
    clientHeaders,
    clientHeadersOnSuccess: test('allowedClientHeadersOnSuccess') ?? NONE,
    metadataFromHeaders: test('dynamicMetadataFromHeaders') ?? NONE,
  };
  return problems.count > before ? undefined : result;
}

/** `serverUri`: the cluster and the timeout are used; the URI must be there, as Envoy requires, and names the service only. */
function parseServerUri(raw: unknown, at: string, problems: Problems): { readonly cluster: string; readonly timeoutMs: number } | undefined {
  if (raw === undefined) {
    problems.add(at, 'is required ({uri, cluster, timeout})');
    return undefined;
  }
  const uri = message(raw, 'HttpUri', at, problems);
  if (uri === undefined) return undefined;
  const before = problems.count;
  checkFields(uri, ['uri', 'cluster', 'timeout'], 'HttpUri', at, problems);
  for (const field of ['uri', 'cluster']) {
    if (uri[field] === undefined || uri[field] === '') problems.add(fieldPath(at, field), 'is required');
    else string(uri[field], fieldPath(at, field), problems);
  }
  let timeoutMs: number | undefined;
  if (uri['timeout'] === undefined) problems.add(fieldPath(at, 'timeout'), 'is required (a duration such as "0.5s")');
  else if (typeof uri['timeout'] !== 'string') problems.add(fieldPath(at, 'timeout'), `${JSON.stringify(uri['timeout'])} is not a duration such as "0.5s"`);
  else timeoutMs = durationMs(uri['timeout'], fieldPath(at, 'timeout'), problems);
  if (problems.count > before || timeoutMs === undefined) return undefined;
  return { cluster: uri['cluster'] as string, timeoutMs };
}

/** A `ListStringMatcher` ({patterns}) over lower-case header names. */
function parseNames(raw: unknown, at: string, problems: Problems): HeaderNameTest {
  const matcher = message(raw, 'ListStringMatcher', at, problems);
  if (matcher === undefined) return NONE;
  checkFields(matcher, ['patterns'], 'ListStringMatcher', at, problems);
  const pat = fieldPath(at, 'patterns');
  const tests = (list(matcher['patterns'], 1, pat, problems) ?? []).map((pattern, i) => parseStringMatcher(pattern, `${pat}[${i}]`, problems));
  const valid = tests.filter((t) => t !== undefined);
  return (name) => valid.some((t) => t(name));
}

/** `headersToAdd`: HeaderValue {key, value} entries, their values taken literally. */
function parseHeadersToAdd(raw: unknown, at: string, problems: Problems): readonly (readonly [string, string])[] {
  const out: (readonly [string, string])[] = [];
  list(raw, 0, at, problems)?.forEach((entry, i) => {
    const eat = `${at}[${i}]`;
    const header = message(entry, 'HeaderValue', eat, problems);
    if (header === undefined) return;
    checkFields(header, ['key', 'value', 'rawValue'], 'HeaderValue', eat, problems);
    const key = string(header['key'] ?? '', fieldPath(eat, 'key'), problems);
    const value = string(header['value'] ?? '', fieldPath(eat, 'value'), problems);
    if (header['rawValue'] !== undefined) problems.add(fieldPath(eat, 'rawValue'), 'is not supported by Weft; use value');
    if (key === undefined || value === undefined) return;
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(key) || FRAMING_HEADERS.has(key.toLowerCase())) problems.add(fieldPath(eat, 'key'), `"${key}" is not a header a check request may carry`);
    else if (/[\r\n\0]/.test(value)) problems.add(fieldPath(eat, 'value'), 'must not hold CR, LF or NUL');
    else out.push([key.toLowerCase(), value]);
  });
  return out;
}

function parseBufferSettings(raw: unknown, at: string, problems: Problems): BufferSettings | undefined {
  const settings = message(raw, 'BufferSettings', at, problems);
  if (settings === undefined) return undefined;
  checkFields(settings, ['maxRequestBytes', 'allowPartialMessage', 'packAsBytes'], 'BufferSettings', at, problems);
  const maxRequestBytes = integer(settings['maxRequestBytes'] ?? 0, 1, UINT32_MAX, fieldPath(at, 'maxRequestBytes'), problems);
  // packAsBytes shapes a gRPC CheckRequest only.
  optionalBool(settings, 'packAsBytes', at, problems);
  const allowPartialMessage = optionalBool(settings, 'allowPartialMessage', at, problems);
  return maxRequestBytes === undefined ? undefined : { maxRequestBytes, allowPartialMessage };
}

/** `statusOnError`: an HttpStatus by StatusCode name (`Forbidden`) or number; 403 when unset. */
function parseStatus(raw: unknown, problems: Problems): number {
  if (raw === undefined) return DEFAULT_STATUS_ON_ERROR;
  const status = message(raw, 'HttpStatus', 'statusOnError', problems);
  if (status === undefined) return DEFAULT_STATUS_ON_ERROR;
  checkFields(status, ['code'], 'HttpStatus', 'statusOnError', problems);
  const code = status['code'];
  const number = typeof code === 'string' ? STATUS_BY_NAME.get(code) ?? (/^\d+$/.test(code) ? Number(code) : undefined) : code;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 200 || number > 599) {
    problems.add('statusOnError.code', `${JSON.stringify(code)} is not an HTTP status from 200 to 599 (a number, or a StatusCode name such as "ServiceUnavailable")`);
    return DEFAULT_STATUS_ON_ERROR;
  }
  return number;
}

function optionalBool(raw: Raw, field: string, at: string, problems: Problems): boolean {
  return raw[field] === undefined ? false : bool(raw[field], fieldPath(at, field), problems) ?? false;
}

function stringList(raw: unknown, at: string, problems: Problems): void {
  list(raw, 0, at, problems)?.forEach((value, i) => string(value, `${at}[${i}]`, problems));
}
