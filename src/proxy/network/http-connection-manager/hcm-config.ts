import { err, ok, parseDuration, type Result } from '../../../core/index.ts';
import { ROUTER_TYPE, type RouteConfiguration } from '../../../xds/envoy/index.ts';
import type { HttpFilterFactory, HttpFilterRegistry } from '../../http/filter-factory.ts';
import type { EscapedSlashesAction, PathNormalization } from '../../http/path-normalization.ts';
import { compileRouteConfiguration, type PerFilterConfigParser, type RouteTable } from '../../route/index.ts';

/**
 * The HttpConnectionManager as the proxy runs it: Envoy's JSON config validated once when LDS
 * arrives (an error NACKs the listener), durations in milliseconds, defaults filled in.
 */
export interface HcmConfig {
  readonly statPrefix: string;
  readonly codecType: 'AUTO' | 'HTTP1' | 'HTTP2';
  /** RDS (looked up by name for each request, so an RDS update reaches the next request) or an inline table. */
  readonly routes: { readonly kind: 'rds'; readonly name: string } | { readonly kind: 'static'; readonly table: RouteTable };
  /** In order; the last is the router. */
  readonly httpFilters: readonly ParsedHttpFilter[];
  readonly useRemoteAddress: boolean;
  readonly xffNumTrustedHops: number;
  readonly skipXffAppend: boolean;
  readonly via: string;
  readonly generateRequestId: boolean;
  readonly preserveExternalRequestId: boolean;
  readonly alwaysSetRequestIdInResponse: boolean;
  readonly forwardClientCertDetails: ForwardClientCertDetails;
  /** What APPEND_FORWARD and SANITIZE_SET write of the client's certificate, beside `By` and `Hash`. */
  readonly setCurrentClientCertDetails: ClientCertDetails;
  /** 0 disables it. */
  readonly streamIdleTimeoutMs: number;
  /** 0 disables it. */
  readonly requestTimeoutMs: number;
  /** Connection idle timeout (`commonHttpProtocolOptions.idleTimeout`); 0 disables it. */
  readonly idleTimeoutMs: number;
  readonly maxRequestHeadersBytes: number;
  readonly maxHeadersCount: number;
  readonly serverName: string;
  readonly serverHeaderTransformation: 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
  readonly path: PathNormalization;
  readonly stripPort: 'none' | 'matching' | 'any';
  /** Lower-case Upgrade tokens proxied (`websocket`; `connect` for CONNECT), unless a route's own `upgradeConfigs` say otherwise. */
  readonly upgradeTypes: ReadonlySet<string>;
  readonly acceptHttp10: boolean;
  readonly defaultHostForHttp10: string;
  readonly http2: Http2Settings;
}

export interface ParsedHttpFilter {
  readonly name: string;
  readonly factory: HttpFilterFactory;
  readonly config: unknown;
}

export interface ClientCertDetails {
  readonly subject: boolean;
  readonly cert: boolean;
  readonly dns: boolean;
  readonly uri: boolean;
}

export type ForwardClientCertDetails = 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';

export interface Http2Settings {
  readonly maxConcurrentStreams: number;
  readonly initialStreamWindowSize: number;
  readonly initialConnectionWindowSize: number;
}

const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;
const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;
const DEFAULT_MAX_REQUEST_HEADERS_KB = 60;
const DEFAULT_MAX_HEADERS_COUNT = 100;
/**
 * Envoy advertises 256 MiB HTTP/2 windows and bounds memory with its own buffer watermarks; Node
 * buffers up to the window, so the windows are the backpressure: 1 MiB unless configured.
 */
const DEFAULT_H2_WINDOW = 1_048_576;
const MAX_H2_WINDOW = 2_147_483_647;

type Raw = Readonly<Record<string, unknown>>;

/** Collects every problem with its field path, so that one NACK reports them all. */
class Problems {
  readonly list: string[] = [];
  add(at: string, message: string): void {
    this.list.push(`${at}: ${message}`);
  }
}

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clientCertDetails(raw: Raw, problems: Problems): ClientCertDetails {
  const at = 'setCurrentClientCertDetails';
  const value = raw[at];
  const details = typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Raw : {};
  if (value !== undefined && details !== value) problems.add(at, 'must be an object');
  const fields = ['subject', 'cert', 'chain', 'dns', 'uri'] as const;
  for (const field of Object.keys(details)) if (!(fields as readonly string[]).includes(field)) problems.add(`${at}.${field}`, `unknown field (known: ${fields.join(', ')})`);
  const flag = (field: (typeof fields)[number]): boolean => bool(details, field, false, problems, `${at}.${field}`);
  // The proxy keeps the client's leaf certificate, not the chain it sent.
  if (flag('chain')) problems.add(`${at}.chain`, 'is not supported (cert is)');
  return { subject: flag('subject'), cert: flag('cert'), dns: flag('dns'), uri: flag('uri') };
}

function bool(raw: Raw, field: string, fallback: boolean, problems: Problems, at = field): boolean {
  const value = raw[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    problems.add(at, 'must be true or false');
    return fallback;
  }
  return value;
}

function string(raw: Raw, field: string, fallback: string, problems: Problems, at = field): string {
  const value = raw[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'string') {
    problems.add(at, 'must be a string');
    return fallback;
  }
  return value;
}

function uint(raw: Raw, field: string, fallback: number, range: readonly [number, number], problems: Problems, at = field): number {
  const value = raw[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
    problems.add(at, `must be a whole number from ${range[0]} to ${range[1]}`);
    return fallback;
  }
  return value;
}

function durationMs(raw: Raw, field: string, fallback: number, problems: Problems, at = field): number {
  const value = raw[field];
  if (value === undefined) return fallback;
  const parsed = typeof value === 'string' ? parseDuration(value) : err(`expected a duration such as "10s", not ${JSON.stringify(value)}`);
  if (!parsed.ok) {
    problems.add(at, parsed.error);
    return fallback;
  }
  return Math.floor(parsed.value);
}

function oneOf<T extends string>(raw: Raw, field: string, allowed: readonly T[], fallback: T, problems: Problems, at = field): T {
  const value = raw[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    problems.add(at, `must be one of ${allowed.join(', ')}`);
    return fallback;
  }
  return value as T;
}

function object(raw: Raw, field: string, problems: Problems): Raw {
  const value = raw[field];
  if (value === undefined) return {};
  if (!isObject(value)) {
    problems.add(field, 'must be an object');
    return {};
  }
  return value;
}

/**
 * Validates an HttpConnectionManager (Envoy's JSON form). HTTP filters are looked up by their
 * config's `@type` and parsed by their factories; an unknown one is an error unless `isOptional`.
 * Fields Weft does not act on (tracing, localReplyConfig, requestIdExtension, accessLog, which
 * the telemetry side reads) are accepted and ignored, as an Envoy without those extensions would.
 */
export function parseHcmConfig(raw: Raw, registry: HttpFilterRegistry): Result<HcmConfig, string> {
  const problems = new Problems();

  const statPrefix = string(raw, 'statPrefix', '', problems);
  if (statPrefix === '') problems.add('statPrefix', 'must not be empty');
  const codec = oneOf(raw, 'codecType', ['AUTO', 'HTTP1', 'HTTP2', 'HTTP3'], 'AUTO', problems);
  if (codec === 'HTTP3') problems.add('codecType', 'HTTP3 is not supported; use AUTO, HTTP1 or HTTP2');
  const codecType = codec === 'HTTP3' ? 'AUTO' : codec;

  const httpFilters = parseHttpFilters(raw['httpFilters'], registry, problems);
  const routes = parseRoutes(raw, httpFilters, problems);

  const common = object(raw, 'commonHttpProtocolOptions', problems);
  const http1 = object(raw, 'httpProtocolOptions', problems);
  const http2 = object(raw, 'http2ProtocolOptions', problems);

  const escaped = oneOf(
    raw, 'pathWithEscapedSlashesAction',
    ['IMPLEMENTATION_SPECIFIC_DEFAULT', 'KEEP_UNCHANGED', 'REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'UNESCAPE_AND_FORWARD'], 'KEEP_UNCHANGED', problems,
  );
  const stripMatching = bool(raw, 'stripMatchingHostPort', false, problems);
  const stripAny = bool(raw, 'stripAnyHostPort', false, problems);
  if (stripMatching && stripAny) problems.add('stripAnyHostPort', 'only one of stripMatchingHostPort and stripAnyHostPort can be set');

  const config: HcmConfig = {
    statPrefix,
    codecType,
    routes: routes ?? { kind: 'rds', name: '' },
    httpFilters,
    useRemoteAddress: bool(raw, 'useRemoteAddress', false, problems),
    xffNumTrustedHops: uint(raw, 'xffNumTrustedHops', 0, [0, 4_294_967_295], problems),
    skipXffAppend: bool(raw, 'skipXffAppend', false, problems),
    via: string(raw, 'via', '', problems),
    generateRequestId: bool(raw, 'generateRequestId', true, problems),
    preserveExternalRequestId: bool(raw, 'preserveExternalRequestId', false, problems),
    alwaysSetRequestIdInResponse: bool(raw, 'alwaysSetRequestIdInResponse', false, problems),
    forwardClientCertDetails: oneOf(raw, 'forwardClientCertDetails', ['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'], 'SANITIZE', problems),
    setCurrentClientCertDetails: clientCertDetails(raw, problems),
    streamIdleTimeoutMs: durationMs(raw, 'streamIdleTimeout', DEFAULT_STREAM_IDLE_TIMEOUT_MS, problems),
    requestTimeoutMs: durationMs(raw, 'requestTimeout', 0, problems),
    idleTimeoutMs: durationMs(common, 'idleTimeout', DEFAULT_IDLE_TIMEOUT_MS, problems, 'commonHttpProtocolOptions.idleTimeout'),
    maxRequestHeadersBytes: uint(raw, 'maxRequestHeadersKb', DEFAULT_MAX_REQUEST_HEADERS_KB, [1, 8192], problems) * 1024,
    maxHeadersCount: uint(common, 'maxHeadersCount', DEFAULT_MAX_HEADERS_COUNT, [1, 4_294_967_295], problems, 'commonHttpProtocolOptions.maxHeadersCount'),
    serverName: string(raw, 'serverName', 'envoy', problems) || 'envoy',
    serverHeaderTransformation: oneOf(raw, 'serverHeaderTransformation', ['OVERWRITE', 'APPEND_IF_ABSENT', 'PASS_THROUGH'], 'OVERWRITE', problems),
    path: {
      normalizePath: bool(raw, 'normalizePath', false, problems),
      mergeSlashes: bool(raw, 'mergeSlashes', false, problems),
      escapedSlashes: (escaped === 'IMPLEMENTATION_SPECIFIC_DEFAULT' ? 'KEEP_UNCHANGED' : escaped) satisfies EscapedSlashesAction,
    },
    stripPort: stripAny ? 'any' : stripMatching ? 'matching' : 'none',
    upgradeTypes: parseUpgradeConfigs(raw['upgradeConfigs'], problems),
    acceptHttp10: bool(http1, 'acceptHttp10', false, problems, 'httpProtocolOptions.acceptHttp10'),
    defaultHostForHttp10: string(http1, 'defaultHostForHttp10', '', problems, 'httpProtocolOptions.defaultHostForHttp10'),
    http2: {
      maxConcurrentStreams: uint(http2, 'maxConcurrentStreams', 2_147_483_647, [1, 2_147_483_647], problems, 'http2ProtocolOptions.maxConcurrentStreams'),
      initialStreamWindowSize: uint(http2, 'initialStreamWindowSize', DEFAULT_H2_WINDOW, [65_535, MAX_H2_WINDOW], problems, 'http2ProtocolOptions.initialStreamWindowSize'),
      initialConnectionWindowSize: uint(http2, 'initialConnectionWindowSize', DEFAULT_H2_WINDOW, [65_535, MAX_H2_WINDOW], problems, 'http2ProtocolOptions.initialConnectionWindowSize'),
    },
  };
  if (problems.list.length > 0) return err(`HttpConnectionManager "${statPrefix}": ${problems.list.join('; ')}`);
  return ok(config);
}

function parseHttpFilters(value: unknown, registry: HttpFilterRegistry, problems: Problems): ParsedHttpFilter[] {
  if (value === undefined) {
    problems.add('httpFilters', 'must list the HTTP filters, ending with the router (envoy.filters.http.router)');
    return [];
  }
  if (!Array.isArray(value)) {
    problems.add('httpFilters', 'must be a list');
    return [];
  }
  const filters: ParsedHttpFilter[] = [];
  value.forEach((entry: unknown, i) => {
    const at = `httpFilters[${i}]`;
    if (!isObject(entry)) return problems.add(at, 'must be an object');
    const name = string(entry, 'name', '', problems, `${at}.name`);
    if (name === '') return problems.add(`${at}.name`, 'must not be empty');
    const optional = bool(entry, 'isOptional', false, problems, `${at}.isOptional`);
    // A disabled filter runs only where a route enables it; Weft has no per-route enabling.
    if (bool(entry, 'disabled', false, problems, `${at}.disabled`)) return;
    const typed = entry['typedConfig'];
    if (!isObject(typed) || typeof typed['@type'] !== 'string') return problems.add(`${at}.typedConfig`, `filter "${name}" needs a typedConfig with an @type`);
    const typeUrl = typed['@type'];
    const factory = registry.get(typeUrl);
    if (factory === undefined) {
      if (!optional) problems.add(`${at}.typedConfig`, `filter "${name}" has an unknown type ${typeUrl} (mark it isOptional to skip it)`);
      return;
    }
    const parsed = factory.parse(typed);
    if (!parsed.ok) return problems.add(`${at}.typedConfig`, `filter "${name}": ${parsed.error}`);
    filters.push({ name, factory, config: parsed.value });
  });
  filters.forEach((filter, i) => {
    const terminal = filter.factory.typeUrl === ROUTER_TYPE;
    const last = i === filters.length - 1;
    if (terminal && !last) problems.add('httpFilters', `the router "${filter.name}" must be the last filter`);
    if (!terminal && last) problems.add('httpFilters', `the last filter must be the router (envoy.filters.http.router), not "${filter.name}"`);
  });
  if (filters.length === 0) problems.add('httpFilters', 'must end with the router (envoy.filters.http.router)');
  return filters;
}

function parseRoutes(raw: Raw, filters: readonly ParsedHttpFilter[], problems: Problems): HcmConfig['routes'] | undefined {
  const rds = raw['rds'];
  const inline = raw['routeConfig'];
  if (raw['scopedRoutes'] !== undefined) {
    problems.add('scopedRoutes', 'scoped routes are not supported; use rds or routeConfig');
    return undefined;
  }
  if ((rds === undefined) === (inline === undefined)) {
    problems.add('rds', 'exactly one of rds and routeConfig must be set');
    return undefined;
  }
  if (rds !== undefined) {
    if (!isObject(rds) || typeof rds['routeConfigName'] !== 'string' || rds['routeConfigName'] === '') {
      problems.add('rds.routeConfigName', 'must name the route configuration');
      return undefined;
    }
    return { kind: 'rds', name: rds['routeConfigName'] };
  }
  if (!isObject(inline)) {
    problems.add('routeConfig', 'must be a RouteConfiguration');
    return undefined;
  }
  const parsers = new Map<string, PerFilterConfigParser>();
  for (const filter of filters) {
    const parse = filter.factory.parsePerRoute;
    if (parse !== undefined) parsers.set(filter.name, (config) => parse.call(filter.factory, config));
  }
  const compiled = compileRouteConfiguration(inline as unknown as RouteConfiguration, { perFilterConfigParsers: parsers });
  if (!compiled.ok) {
    problems.add('routeConfig', compiled.error);
    return undefined;
  }
  return { kind: 'static', table: compiled.value };
}

function parseUpgradeConfigs(value: unknown, problems: Problems): ReadonlySet<string> {
  const types = new Set<string>();
  if (value === undefined) return types;
  if (!Array.isArray(value)) {
    problems.add('upgradeConfigs', 'must be a list');
    return types;
  }
  value.forEach((entry: unknown, i) => {
    const at = `upgradeConfigs[${i}]`;
    if (!isObject(entry)) return problems.add(at, 'must be an object');
    const type = string(entry, 'upgradeType', '', problems, `${at}.upgradeType`);
    if (type === '') return problems.add(`${at}.upgradeType`, 'must not be empty');
    if (Array.isArray(entry['filters']) && entry['filters'].length > 0) {
      return problems.add(`${at}.filters`, 'a separate filter chain per upgrade type is not supported; upgrades use the HTTP filters');
    }
    if (bool(entry, 'enabled', true, problems, `${at}.enabled`)) types.add(type.toLowerCase());
  });
  return types;
}
