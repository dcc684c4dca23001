import type { HeaderMatcher, MetadataMatcher, QueryParameterMatcher, RouteMatch, StringMatcher, ValueMatcher } from '../../xds/envoy/index.ts';
import type { RouteRequest } from './route-entry.ts';
import type { Problems } from './problems.ts';
import { compileSafeRegex } from './safe-regex.ts';

/**
 * What route matching reads of one request, computed at most once each: the path without its
 * query string, its lower-case form, the query parameters.
 */
export class RequestView {
  readonly request: RouteRequest;
  #path: string | undefined;
  #lowerPath: string | undefined;
  #query: Map<string, string> | undefined;

  constructor(request: RouteRequest) {
    this.request = request;
  }

  /** The path without query string or fragment, as Envoy's path matchers see it. */
  get path(): string {
    if (this.#path === undefined) this.#path = pathOnly(this.request.path);
    return this.#path;
  }

  get lowerPath(): string {
    if (this.#lowerPath === undefined) this.#lowerPath = this.path.toLowerCase();
    return this.#lowerPath;
  }

  /** A header's value; several values joined with ','. Pseudo-headers come from the request line. */
  header(name: string): string | undefined {
    switch (name) {
      case ':authority':
      case 'host': return this.request.authority;
      case ':path': return this.request.path;
      case ':method': return this.request.method;
      case ':scheme': return this.request.scheme;
    }
    const value = this.request.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  }

  /** The first value of a query parameter, undecoded (`?a` has the value ''), as Envoy matches it. */
  query(name: string): string | undefined {
    if (this.#query === undefined) this.#query = parseQuery(this.request.path);
    return this.#query.get(name);
  }
}

/** The path without `?query` and `#fragment`. */
export function pathOnly(path: string): string {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3f || c === 0x23) return path.slice(0, i);
  }
  return path;
}

function parseQuery(path: string): Map<string, string> {
  const out = new Map<string, string>();
  const start = path.indexOf('?');
  if (start < 0) return out;
  for (const part of path.slice(start + 1).split('&')) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (!out.has(name)) out.set(name, eq < 0 ? '' : part.slice(eq + 1));
  }
  return out;
}

type Test = (view: RequestView, random: number) => boolean;

export interface CompiledRouteMatch {
  readonly matches: (view: RequestView, random: number) => boolean;
  /**
   * What a prefix rewrite replaces: that many leading characters of the path (the prefix or path
   * matched), or the whole path before the query string after a regex match.
   */
  readonly rewriteSpan: number | 'path';
}

/**
 * Compiles a RouteMatch: exactly one of prefix, path, safeRegex (a full match) or
 * pathSeparatedPrefix on the path without its query string (`caseSensitive: false` folds case for
 * all but the regex), or connectMatcher; then the share (`runtimeFraction`), `grpc`, headers,
 * query parameters and dynamic metadata, all of which must match. As in Envoy, a CONNECT has no
 * path, so only connectMatcher matches it, and connectMatcher matches nothing else.
 */
export function compileRouteMatch(match: RouteMatch | undefined, at: string, problems: Problems): CompiledRouteMatch | undefined {
  if (match === undefined) {
    problems.add(at, 'is required');
    return undefined;
  }
  const specifiers = (['prefix', 'path', 'safeRegex', 'pathSeparatedPrefix', 'connectMatcher'] as const).filter((k) => match[k] !== undefined);
  if (Object.hasOwn(match, 'pathMatchPolicy')) {
    problems.add(`${at}.pathMatchPolicy`, 'is not supported by Weft; use prefix, path, safeRegex, pathSeparatedPrefix or connectMatcher');
    return undefined;
  }
  if (specifiers.length !== 1) {
    problems.add(at, specifiers.length === 0 ? 'needs one of prefix, path, safeRegex, pathSeparatedPrefix or connectMatcher' : `sets ${specifiers.join(' and ')}; only one may be set`);
    return undefined;
  }
  const before = problems.count;
  const sensitive = match.caseSensitive !== false;
  let path: Test | undefined;
  let rewriteSpan: number | 'path' = 'path';
  if (match.prefix !== undefined) {
    const prefix = sensitive ? match.prefix : match.prefix.toLowerCase();
    path = sensitive ? (v) => v.path.startsWith(prefix) : (v) => v.lowerPath.startsWith(prefix);
    rewriteSpan = prefix.length;
  } else if (match.path !== undefined) {
    const exact = sensitive ? match.path : match.path.toLowerCase();
    path = sensitive ? (v) => v.path === exact : (v) => v.lowerPath === exact;
    rewriteSpan = exact.length;
  } else if (match.safeRegex !== undefined) {
    const regex = compileSafeRegex(match.safeRegex.regex ?? '');
    if (!regex.ok) problems.add(`${at}.safeRegex.regex`, regex.error);
    else path = (v) => regex.value.testExact(v.path);
  } else if (match.pathSeparatedPrefix !== undefined) {
    const raw = match.pathSeparatedPrefix;
    if (!/^[^?#]+[^?#/]$/.test(raw)) {
      problems.add(`${at}.pathSeparatedPrefix`, `"${raw}" must be a path without "?" or "#" that does not end with "/" (e.g. "/api")`);
    } else {
      const prefix = sensitive ? raw : raw.toLowerCase();
      path = (v) => {
        const p = sensitive ? v.path : v.lowerPath;
        return p.startsWith(prefix) && (p.length === prefix.length || p.charCodeAt(prefix.length) === 0x2f);
      };
      rewriteSpan = prefix.length;
    }
  } else {
    const connect: unknown = match.connectMatcher;
    if (typeof connect !== 'object' || connect === null || Array.isArray(connect)) problems.add(`${at}.connectMatcher`, 'must be an object ({})');
    path = (v) => v.request.method === 'CONNECT';
  }
  // A CONNECT's path is empty: only a matcher that can match '' needs telling not to (the others
  // stay a single test on the per-request path).
  if (path !== undefined && (match.prefix === '' || match.path === '' || match.safeRegex !== undefined)) {
    const pathTest = path;
    path = (v, random) => v.request.path !== '' && pathTest(v, random);
  }

  const tests: Test[] = [];
  if (match.runtimeFraction !== undefined) {
    const share = fraction(match.runtimeFraction.defaultValue, `${at}.runtimeFraction.defaultValue`, problems);
    tests.push((_v, random) => random < share);
  }
  if (match.grpc !== undefined) tests.push((v) => isGrpc(v.header('content-type')));
  if (path !== undefined) tests.push(path);
  (match.headers ?? []).forEach((h, i) => {
    const test = compileHeaderMatcher(h, `${at}.headers[${i}]`, problems);
    if (test !== undefined) tests.push(test);
  });
  (match.queryParameters ?? []).forEach((q, i) => {
    const test = compileQueryParameterMatcher(q, `${at}.queryParameters[${i}]`, problems);
    if (test !== undefined) tests.push(test);
  });
  (match.dynamicMetadata ?? []).forEach((m, i) => {
    const test = compileMetadataMatcher(m, `${at}.dynamicMetadata[${i}]`, problems);
    if (test !== undefined) tests.push(test);
  });
  if (problems.count > before) return undefined;
  return { matches: all(tests), rewriteSpan };
}

function all(tests: readonly Test[]): Test {
  if (tests.length === 1) return tests[0]!;
  return (view, random) => {
    for (const test of tests) if (!test(view, random)) return false;
    return true;
  };
}

/** Envoy's gRPC request test: content-type application/grpc, possibly with `+proto` or `;...`. */
function isGrpc(contentType: string | undefined): boolean {
  if (contentType === undefined || !contentType.startsWith('application/grpc')) return false;
  const next = contentType.charCodeAt('application/grpc'.length);
  return Number.isNaN(next) || next === 0x2b || next === 0x3b;
}

const DENOMINATORS = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as const;

/** A FractionalPercent as a share in [0, 1]. */
export function fraction(percent: { readonly numerator?: number; readonly denominator?: string } | undefined, at: string, problems: Problems): number {
  const denominator = DENOMINATORS[(percent?.denominator ?? 'HUNDRED') as keyof typeof DENOMINATORS];
  if (denominator === undefined) {
    problems.add(`${at}.denominator`, `"${percent?.denominator}" is not one of HUNDRED, TEN_THOUSAND, MILLION`);
    return 0;
  }
  return Math.min(1, (percent?.numerator ?? 0) / denominator);
}

/**
 * Envoy's header matching: the values of the header joined with ','. A missing header matches
 * only a presence test that expects it absent (or, inverted, present), unless
 * `treatMissingHeaderAsEmpty` makes it ''. No specifier means "present".
 */
export function compileHeaderMatcher(matcher: HeaderMatcher, at: string, problems: Problems): Test | undefined {
  const name = matcher.name ?? '';
  if (name === '') {
    problems.add(`${at}.name`, 'must not be empty');
    return undefined;
  }
  const specifiers = (['exactMatch', 'safeRegexMatch', 'rangeMatch', 'presentMatch', 'prefixMatch', 'suffixMatch', 'containsMatch', 'stringMatch'] as const)
    .filter((k) => matcher[k] !== undefined);
  if (specifiers.length > 1) {
    problems.add(at, `sets ${specifiers.join(' and ')}; only one may be set`);
    return undefined;
  }
  const key = name.toLowerCase();
  const invert = matcher.invertMatch === true;
  const missingAsEmpty = matcher.treatMissingHeaderAsEmpty === true;

  if (specifiers.length === 0 || matcher.presentMatch !== undefined) {
    const wanted = matcher.presentMatch ?? true;
    return (v) => ((v.header(key) !== undefined) === wanted) !== invert;
  }
  let test: ((value: string) => boolean) | undefined;
  if (matcher.exactMatch !== undefined) {
    const exact = matcher.exactMatch;
    // Envoy's deprecated exact match: an empty value stands for any value.
    test = exact === '' ? () => true : (value) => value === exact;
  } else if (matcher.prefixMatch !== undefined) {
    const prefix = nonEmpty(matcher.prefixMatch, `${at}.prefixMatch`, problems);
    test = (value) => value.startsWith(prefix);
  } else if (matcher.suffixMatch !== undefined) {
    const suffix = nonEmpty(matcher.suffixMatch, `${at}.suffixMatch`, problems);
    test = (value) => value.endsWith(suffix);
  } else if (matcher.containsMatch !== undefined) {
    const part = nonEmpty(matcher.containsMatch, `${at}.containsMatch`, problems);
    test = (value) => value.includes(part);
  } else if (matcher.safeRegexMatch !== undefined) {
    const regex = compileSafeRegex(matcher.safeRegexMatch.regex ?? '');
    if (!regex.ok) problems.add(`${at}.safeRegexMatch.regex`, regex.error);
    else test = (value) => regex.value.testExact(value);
  } else if (matcher.rangeMatch !== undefined) {
    test = compileRange(matcher.rangeMatch, `${at}.rangeMatch`, problems);
  } else if (matcher.stringMatch !== undefined) {
    test = compileStringMatcher(matcher.stringMatch, `${at}.stringMatch`, problems);
  }
  if (test === undefined) return undefined;
  const valueTest = test;
  return (v) => {
    const value = v.header(key);
    if (value === undefined && !missingAsEmpty) return false;
    return valueTest(value ?? '') !== invert;
  };
}

function nonEmpty(value: string, at: string, problems: Problems): string {
  if (value === '') problems.add(at, 'must not be empty');
  return value;
}

/** `[start, end)` over a header value that is a whole decimal integer. */
function compileRange(range: NonNullable<HeaderMatcher['rangeMatch']>, at: string, problems: Problems): ((value: string) => boolean) | undefined {
  const start = int64(range.start ?? 0, `${at}.start`, problems);
  const end = int64(range.end ?? 0, `${at}.end`, problems);
  if (start === undefined || end === undefined) return undefined;
  return (value) => {
    if (!/^[+-]?\d+$/.test(value)) return false;
    const n = BigInt(value);
    return n >= start && n < end;
  };
}

function int64(value: number | string, at: string, problems: Problems): bigint | undefined {
  if ((typeof value === 'number' && Number.isInteger(value)) || (typeof value === 'string' && /^-?\d+$/.test(value))) return BigInt(value);
  problems.add(at, `${JSON.stringify(value)} is not an integer`);
  return undefined;
}

/**
 * Envoy's StringMatcher: exactly one of exact, prefix, suffix, contains (none of the last three
 * empty) or safeRegex (a full match); `ignoreCase` folds case except for the regex, where Envoy
 * refuses it.
 */
export function compileStringMatcher(matcher: StringMatcher, at: string, problems: Problems): ((value: string) => boolean) | undefined {
  const specifiers = (['exact', 'prefix', 'suffix', 'contains', 'safeRegex'] as const).filter((k) => matcher[k] !== undefined);
  if (specifiers.length !== 1) {
    problems.add(at, specifiers.length === 0 ? 'needs one of exact, prefix, suffix, contains or safeRegex' : `sets ${specifiers.join(' and ')}; only one may be set`);
    return undefined;
  }
  const fold = matcher.ignoreCase === true;
  if (matcher.safeRegex !== undefined) {
    if (fold) {
      problems.add(`${at}.ignoreCase`, 'has no effect on safeRegex; use (?i) in the regex instead');
      return undefined;
    }
    const regex = compileSafeRegex(matcher.safeRegex.regex ?? '');
    if (!regex.ok) {
      problems.add(`${at}.safeRegex.regex`, regex.error);
      return undefined;
    }
    return (value) => regex.value.testExact(value);
  }
  const kind = specifiers[0] as 'exact' | 'prefix' | 'suffix' | 'contains';
  const raw = matcher[kind]!;
  if (kind !== 'exact' && raw === '') {
    problems.add(`${at}.${kind}`, 'must not be empty');
    return undefined;
  }
  const pattern = fold ? raw.toLowerCase() : raw;
  const norm = fold ? (value: string): string => value.toLowerCase() : (value: string): string => value;
  switch (kind) {
    case 'exact': return (value) => norm(value) === pattern;
    case 'prefix': return (value) => norm(value).startsWith(pattern);
    case 'suffix': return (value) => norm(value).endsWith(pattern);
    case 'contains': return (value) => norm(value).includes(pattern);
  }
}

/** Envoy's query parameter match: the parameter must be there; then its value must match `stringMatch`, if any. */
function compileQueryParameterMatcher(matcher: QueryParameterMatcher, at: string, problems: Problems): Test | undefined {
  const name = matcher.name ?? '';
  if (name === '') {
    problems.add(`${at}.name`, 'must not be empty');
    return undefined;
  }
  if (matcher.stringMatch !== undefined && matcher.presentMatch !== undefined) {
    problems.add(at, 'sets stringMatch and presentMatch; only one may be set');
    return undefined;
  }
  if (matcher.stringMatch === undefined) return (v) => v.query(name) !== undefined;
  const test = compileStringMatcher(matcher.stringMatch, `${at}.stringMatch`, problems);
  if (test === undefined) return undefined;
  return (v) => {
    const value = v.query(name);
    return value !== undefined && test(value);
  };
}

/** A value in the request's dynamic metadata (`filter`, then the `path` of keys) against a ValueMatcher. */
function compileMetadataMatcher(matcher: MetadataMatcher, at: string, problems: Problems): Test | undefined {
  const filter = matcher.filter ?? '';
  if (filter === '') problems.add(`${at}.filter`, 'must not be empty');
  const keys = (matcher.path ?? []).map((segment) => segment.key ?? '');
  if (keys.length === 0) problems.add(`${at}.path`, 'needs at least one key');
  const value = matcher.value === undefined ? undefined : compileValueMatcher(matcher.value, `${at}.value`, problems);
  if (matcher.value === undefined) problems.add(`${at}.value`, 'is required');
  if (value === undefined || filter === '' || keys.length === 0) return undefined;
  const invert = matcher.invert === true;
  return (v) => {
    let current: unknown = v.request.dynamicMetadata?.[filter];
    for (const key of keys) {
      current = current !== null && typeof current === 'object' && !Array.isArray(current) ? (current as Record<string, unknown>)[key] : undefined;
    }
    return value(current) !== invert;
  };
}

function compileValueMatcher(matcher: ValueMatcher, at: string, problems: Problems): ((value: unknown) => boolean) | undefined {
  const specifiers = (['stringMatch', 'presentMatch', 'listMatch', 'orMatch'] as const).filter((k) => matcher[k] !== undefined);
  if (specifiers.length !== 1) {
    problems.add(at, specifiers.length === 0 ? 'needs one of stringMatch, presentMatch, listMatch or orMatch' : `sets ${specifiers.join(' and ')}; only one may be set`);
    return undefined;
  }
  if (matcher.presentMatch !== undefined) {
    const wanted = matcher.presentMatch;
    return (value) => (value !== undefined && value !== null) === wanted;
  }
  if (matcher.stringMatch !== undefined) {
    const test = compileStringMatcher(matcher.stringMatch, `${at}.stringMatch`, problems);
    return test === undefined ? undefined : (value) => typeof value === 'string' && test(value);
  }
  if (matcher.listMatch !== undefined) {
    if (matcher.listMatch.oneOf === undefined) {
      problems.add(`${at}.listMatch.oneOf`, 'is required');
      return undefined;
    }
    const one = compileValueMatcher(matcher.listMatch.oneOf, `${at}.listMatch.oneOf`, problems);
    return one === undefined ? undefined : (value) => Array.isArray(value) && value.some(one);
  }
  const alternatives = (matcher.orMatch?.valueMatchers ?? []).map((m, i) => compileValueMatcher(m, `${at}.orMatch.valueMatchers[${i}]`, problems));
  if (alternatives.length < 2) problems.add(`${at}.orMatch.valueMatchers`, 'needs at least 2 matchers');
  if (alternatives.length < 2 || alternatives.some((a) => a === undefined)) return undefined;
  const tests = alternatives as ((value: unknown) => boolean)[];
  return (value) => tests.some((t) => t(value));
}
