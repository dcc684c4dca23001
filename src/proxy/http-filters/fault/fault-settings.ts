import { closestMatch, err, ok, parseDuration, type Result } from '../../../core/index.ts';
import type { HeaderMatcher } from '../../../xds/envoy/index.ts';
import type { Headers } from '../../http/headers.ts';
import { Problems } from '../../route/problems.ts';
import { compileRouteMatch, type RequestView } from '../../route/route-match.ts';

/** The headers through which a caller controls faults that are configured for header control. */
export const FAULT_HEADERS = {
  delay: 'x-envoy-fault-delay-request',
  delayPercentage: 'x-envoy-fault-delay-request-percentage',
  abort: 'x-envoy-fault-abort-request',
  abortGrpc: 'x-envoy-fault-abort-grpc-request',
  abortPercentage: 'x-envoy-fault-abort-request-percentage',
  throughput: 'x-envoy-fault-throughput-response',
  throughputPercentage: 'x-envoy-fault-throughput-response-percentage',
} as const;

/**
 * A FractionalPercent. For a header-controlled fault, the request may lower the numerator with
 * the fault's percentage header (never raise it), over the same denominator, as Envoy allows.
 */
export class FaultShare {
  readonly numerator: number;
  readonly denominator: number;
  readonly #header: string | undefined;

  constructor(numerator: number, denominator: number, header: string | undefined) {
    this.numerator = numerator;
    this.denominator = denominator;
    this.#header = header;
  }

  /** Whether a draw `random` in [0, 1) falls inside the share for this request. */
  includes(random: number, headers: Headers): boolean {
    let numerator = this.numerator;
    if (this.#header !== undefined) {
      const asked = unsignedHeader(headers, this.#header);
      if (asked !== undefined) numerator = Math.min(asked, numerator);
    }
    return random * this.denominator < numerator;
  }
}

export interface DelayFault {
  /** A fixed delay in milliseconds, or the request's x-envoy-fault-delay-request. */
  readonly source: { readonly kind: 'fixed'; readonly ms: number } | { readonly kind: 'header' };
  readonly share: FaultShare;
}

export interface AbortFault {
  readonly source:
    | { readonly kind: 'http'; readonly status: number }
    | { readonly kind: 'grpc'; readonly status: number }
    | { readonly kind: 'header' };
  readonly share: FaultShare;
}

export interface RateLimitFault {
  /** A fixed limit in KiB/s, or the request's x-envoy-fault-throughput-response. */
  readonly source: { readonly kind: 'fixed'; readonly kbps: number } | { readonly kind: 'header' };
  readonly share: FaultShare;
}

/** An abort as it will be answered: an HTTP status, or 200 with a gRPC status. */
export type AbortStatus = { readonly kind: 'http'; readonly status: number } | { readonly kind: 'grpc'; readonly status: number };

/**
 * An HTTPFault compiled once (when LDS or RDS arrives): which requests it applies to and the
 * faults it may inject. Envoy's runtime keys are accepted and have no effect (Weft has no runtime
 * layer), so the configured values always apply.
 */
export class FaultSettings {
  readonly delay: DelayFault | undefined;
  readonly abort: AbortFault | undefined;
  readonly responseRateLimit: RateLimitFault | undefined;
  /** '' for any cluster. */
  readonly upstreamCluster: string;
  /** undefined when the config lists no header matchers. */
  readonly headersMatch: ((view: RequestView) => boolean) | undefined;
  /** undefined for every downstream node. */
  readonly downstreamNodes: ReadonlySet<string> | undefined;
  /** Infinity when unset. */
  readonly maxActiveFaults: number;
  readonly downstreamClusterStats: boolean;
  /** Nothing to inject: the filter passes requests straight on (Istio's filter-level config). */
  readonly inert: boolean;

  constructor(init: {
    delay: DelayFault | undefined; abort: AbortFault | undefined; responseRateLimit: RateLimitFault | undefined; upstreamCluster: string;
    headersMatch: ((view: RequestView) => boolean) | undefined; downstreamNodes: ReadonlySet<string> | undefined; maxActiveFaults: number;
    downstreamClusterStats: boolean;
  }) {
    this.delay = init.delay;
    this.abort = init.abort;
    this.responseRateLimit = init.responseRateLimit;
    this.upstreamCluster = init.upstreamCluster;
    this.headersMatch = init.headersMatch;
    this.downstreamNodes = init.downstreamNodes;
    this.maxActiveFaults = init.maxActiveFaults;
    this.downstreamClusterStats = init.downstreamClusterStats;
    this.inert = init.delay === undefined && init.abort === undefined && init.responseRateLimit === undefined;
  }

  /** The delay for a request whose share was drawn; undefined when none (header control without a usable header, or 0 ms). */
  delayMs(headers: Headers): number | undefined {
    const source = this.delay?.source;
    if (source === undefined) return undefined;
    const ms = source.kind === 'fixed' ? source.ms : unsignedHeader(headers, FAULT_HEADERS.delay, Number.MAX_SAFE_INTEGER);
    return ms !== undefined && ms > 0 ? ms : undefined;
  }

  /**
   * The abort for a request whose share was drawn. Under header control an HTTP status in
   * [200, 600) wins over a gRPC status; neither header (or a bad value) means no abort.
   */
  abortStatus(headers: Headers): AbortStatus | undefined {
    const source = this.abort?.source;
    if (source === undefined) return undefined;
    if (source.kind !== 'header') return source;
    const http = unsignedHeader(headers, FAULT_HEADERS.abort, Number.MAX_SAFE_INTEGER);
    if (http !== undefined) return http >= 200 && http < 600 ? { kind: 'http', status: http } : undefined;
    const grpc = unsignedHeader(headers, FAULT_HEADERS.abortGrpc);
    return grpc !== undefined ? { kind: 'grpc', status: grpc } : undefined;
  }

  /** The response limit in KiB/s for a request whose share was drawn; undefined when none. */
  rateLimitKbps(headers: Headers): number | undefined {
    const source = this.responseRateLimit?.source;
    if (source === undefined) return undefined;
    if (source.kind === 'fixed') return source.kbps;
    const kbps = unsignedHeader(headers, FAULT_HEADERS.throughput, Number.MAX_SAFE_INTEGER);
    return kbps !== undefined && kbps > 0 ? kbps : undefined;
  }
}

const UINT32_MAX = 4_294_967_295;

/**
 * An untrusted header's first value as an unsigned integer (surrounding blanks and a leading `+`
 * allowed, as Envoy's parser allows); undefined when absent, malformed or above `max`.
 */
function unsignedHeader(headers: Headers, name: string, max = UINT32_MAX): number | undefined {
  const raw = headers[name];
  const first = Array.isArray(raw) ? raw[0] : raw;
  if (first === undefined) return undefined;
  const match = /^\s*\+?(\d+)\s*$/.exec(first);
  if (match === null) return undefined;
  const value = Number(match[1]);
  return value <= max ? value : undefined;
}

const FIELDS: readonly string[] = [
  '@type', 'delay', 'abort', 'upstreamCluster', 'headers', 'downstreamNodes', 'maxActiveFaults', 'responseRateLimit',
  'delayPercentRuntime', 'abortPercentRuntime', 'delayDurationRuntime', 'abortHttpStatusRuntime', 'maxActiveFaultsRuntime',
  'responseRateLimitPercentRuntime', 'abortGrpcStatusRuntime', 'disableDownstreamClusterStats',
];
const RUNTIME_FIELDS = [
  'delayPercentRuntime', 'abortPercentRuntime', 'delayDurationRuntime', 'abortHttpStatusRuntime', 'maxActiveFaultsRuntime',
  'responseRateLimitPercentRuntime', 'abortGrpcStatusRuntime',
] as const;
const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

type Raw = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUint32(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= UINT32_MAX;
}

/** Fields of a message other than the known ones are errors, each reported with its path and a likely meant field. */
function unknownFields(raw: Raw, known: readonly string[], message: string, at: string, problems: Problems): void {
  for (const field of Object.keys(raw)) {
    if (known.includes(field)) continue;
    const guess = closestMatch(field, known);
    problems.add(`${at}${field}`, `is not a field of ${message}${guess !== undefined ? `; did you mean ${guess}?` : ''}`);
  }
}

/** The one field of a oneof that is set, or undefined (with the problem recorded) when none or several are. */
function oneOf<K extends string>(raw: Raw, fields: readonly K[], at: string, problems: Problems): K | undefined {
  const set = fields.filter((f) => raw[f] !== undefined);
  if (set.length === 1) return set[0];
  problems.add(at, set.length === 0 ? `needs one of ${fields.join(' or ')}` : `sets ${set.join(' and ')}; only one may be set`);
  return undefined;
}

function emptyMessage(raw: Raw, field: string, at: string, problems: Problems): void {
  const value = raw[field];
  if (!isObject(value)) problems.add(`${at}.${field}`, 'must be an empty object ({})');
  else if (Object.keys(value).length > 0) problems.add(`${at}.${field}.${Object.keys(value)[0]}`, `is not a field; ${field} takes no settings`);
}

/** An unset percentage is 0%: the fault never fires (Envoy's and Istio's reading). */
function parseShare(value: unknown, header: string | undefined, at: string, problems: Problems): FaultShare {
  if (value === undefined) return new FaultShare(0, 100, header);
  if (!isObject(value)) {
    problems.add(at, 'must be a FractionalPercent ({numerator, denominator})');
    return new FaultShare(0, 100, header);
  }
  unknownFields(value, ['numerator', 'denominator'], 'FractionalPercent', `${at}.`, problems);
  const numerator = value['numerator'] ?? 0;
  if (!isUint32(numerator)) problems.add(`${at}.numerator`, 'must be a whole number from 0 to 4294967295');
  const name = value['denominator'] ?? 'HUNDRED';
  const denominator = typeof name === 'string' ? DENOMINATORS[name] : undefined;
  if (denominator === undefined) problems.add(`${at}.denominator`, `${JSON.stringify(name)} is not one of HUNDRED, TEN_THOUSAND, MILLION`);
  return new FaultShare(isUint32(numerator) ? numerator : 0, denominator ?? 100, header);
}

function parseDelay(raw: unknown, problems: Problems): DelayFault | undefined {
  if (!isObject(raw)) {
    problems.add('delay', 'must be a FaultDelay object');
    return undefined;
  }
  unknownFields(raw, ['fixedDelay', 'headerDelay', 'percentage'], 'FaultDelay', 'delay.', problems);
  const kind = oneOf(raw, ['fixedDelay', 'headerDelay'], 'delay', problems);
  let source: DelayFault['source'] | undefined;
  if (kind === 'fixedDelay') {
    const text = raw['fixedDelay'];
    const parsed = typeof text === 'string' ? parseDuration(text) : err(`${JSON.stringify(text)} is not a duration such as "5s"`);
    if (!parsed.ok) problems.add('delay.fixedDelay', parsed.error);
    else if (parsed.value <= 0) problems.add('delay.fixedDelay', 'must be greater than 0s');
    // Envoy reads the delay in whole milliseconds.
    else source = { kind: 'fixed', ms: Math.floor(parsed.value) };
  } else if (kind === 'headerDelay') {
    emptyMessage(raw, 'headerDelay', 'delay', problems);
    source = { kind: 'header' };
  }
  const share = parseShare(raw['percentage'], kind === 'headerDelay' ? FAULT_HEADERS.delayPercentage : undefined, 'delay.percentage', problems);
  return source === undefined ? undefined : { source, share };
}

function parseAbort(raw: unknown, problems: Problems): AbortFault | undefined {
  if (!isObject(raw)) {
    problems.add('abort', 'must be a FaultAbort object');
    return undefined;
  }
  unknownFields(raw, ['httpStatus', 'grpcStatus', 'headerAbort', 'percentage'], 'FaultAbort', 'abort.', problems);
  const kind = oneOf(raw, ['httpStatus', 'grpcStatus', 'headerAbort'], 'abort', problems);
  let source: AbortFault['source'] | undefined;
  if (kind === 'httpStatus') {
    const status = raw['httpStatus'];
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status >= 600) {
      problems.add('abort.httpStatus', `${JSON.stringify(status)} is not an HTTP status from 200 to 599`);
    } else source = { kind: 'http', status };
  } else if (kind === 'grpcStatus') {
    const status = raw['grpcStatus'];
    if (!isUint32(status)) problems.add('abort.grpcStatus', `${JSON.stringify(status)} is not a gRPC status code (a whole number such as 14 for UNAVAILABLE)`);
    else source = { kind: 'grpc', status };
  } else if (kind === 'headerAbort') {
    emptyMessage(raw, 'headerAbort', 'abort', problems);
    source = { kind: 'header' };
  }
  const share = parseShare(raw['percentage'], kind === 'headerAbort' ? FAULT_HEADERS.abortPercentage : undefined, 'abort.percentage', problems);
  return source === undefined ? undefined : { source, share };
}

function parseRateLimit(raw: unknown, problems: Problems): RateLimitFault | undefined {
  if (!isObject(raw)) {
    problems.add('responseRateLimit', 'must be a FaultRateLimit object');
    return undefined;
  }
  unknownFields(raw, ['fixedLimit', 'headerLimit', 'percentage'], 'FaultRateLimit', 'responseRateLimit.', problems);
  const kind = oneOf(raw, ['fixedLimit', 'headerLimit'], 'responseRateLimit', problems);
  let source: RateLimitFault['source'] | undefined;
  if (kind === 'fixedLimit') {
    const fixed = raw['fixedLimit'];
    if (!isObject(fixed)) problems.add('responseRateLimit.fixedLimit', 'must be an object with limitKbps');
    else {
      unknownFields(fixed, ['limitKbps'], 'FixedLimit', 'responseRateLimit.fixedLimit.', problems);
      // A uint64: proto3 JSON may write it as a decimal string.
      const value = fixed['limitKbps'];
      const kbps = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
      if (typeof kbps !== 'number' || !Number.isSafeInteger(kbps) || kbps < 1) {
        problems.add('responseRateLimit.fixedLimit.limitKbps', `${JSON.stringify(value)} is not a whole number of KiB/s of at least 1`);
      } else source = { kind: 'fixed', kbps };
    }
  } else if (kind === 'headerLimit') {
    emptyMessage(raw, 'headerLimit', 'responseRateLimit', problems);
    source = { kind: 'header' };
  }
  const share = parseShare(raw['percentage'], kind === 'headerLimit' ? FAULT_HEADERS.throughputPercentage : undefined, 'responseRateLimit.percentage', problems);
  return source === undefined ? undefined : { source, share };
}

/** Header matchers as routes match them; their problems keep the paths they have here (`headers[0].name`). */
function parseHeaders(raw: unknown, lines: string[]): ((view: RequestView) => boolean) | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.some((m) => !isObject(m))) {
    lines.push('headers: must be a list of header matchers');
    return undefined;
  }
  if (raw.length === 0) return undefined;
  const found: string[] = [];
  // An empty prefix matches every path, leaving only the header matchers to decide.
  const compiled = compileRouteMatch({ prefix: '', headers: raw as HeaderMatcher[] }, '', new Problems('', found));
  for (const line of found) lines.push(line.startsWith('.') ? line.slice(1) : line);
  if (compiled === undefined) return undefined;
  return (view) => compiled.matches(view, 0);
}

/**
 * Validates and compiles an `envoy.extensions.filters.http.fault.v3.HTTPFault`, the filter's own
 * config or a route's `typedPerFilterConfig` entry. Every problem is reported, one per line, with
 * its field. With neither delay, abort nor responseRateLimit the settings inject nothing.
 */
export function parseFaultSettings(config: Raw): Result<FaultSettings, string> {
  const lines: string[] = [];
  const problems = new Problems('', lines);
  unknownFields(config, FIELDS, 'HTTPFault', '', problems);

  const delay = config['delay'] === undefined ? undefined : parseDelay(config['delay'], problems);
  const abort = config['abort'] === undefined ? undefined : parseAbort(config['abort'], problems);
  const responseRateLimit = config['responseRateLimit'] === undefined ? undefined : parseRateLimit(config['responseRateLimit'], problems);

  const cluster = config['upstreamCluster'] ?? '';
  if (typeof cluster !== 'string') problems.add('upstreamCluster', 'must be a cluster name');
  const headersMatch = parseHeaders(config['headers'], lines);

  const nodes = config['downstreamNodes'];
  let downstreamNodes: ReadonlySet<string> | undefined;
  if (nodes !== undefined) {
    if (!Array.isArray(nodes) || nodes.some((n) => typeof n !== 'string')) problems.add('downstreamNodes', 'must be a list of node names');
    else if (nodes.length > 0) downstreamNodes = new Set(nodes as string[]);
  }

  const max = config['maxActiveFaults'];
  if (max !== undefined && !isUint32(max)) problems.add('maxActiveFaults', 'must be a whole number from 0 to 4294967295');
  for (const field of RUNTIME_FIELDS) {
    if (config[field] !== undefined && typeof config[field] !== 'string') problems.add(field, 'must be a runtime key (a string)');
  }
  const disableStats = config['disableDownstreamClusterStats'] ?? false;
  if (typeof disableStats !== 'boolean') problems.add('disableDownstreamClusterStats', 'must be true or false');

  if (problems.count > 0) return err(problems.text());
  return ok(new FaultSettings({
    delay,
    abort,
    responseRateLimit,
    upstreamCluster: cluster as string,
    headersMatch,
    downstreamNodes,
    maxActiveFaults: isUint32(max) ? max : Infinity,
    downstreamClusterStats: disableStats !== true,
  }));
}
