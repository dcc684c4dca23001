import { err, ok, type Result } from '../../../core/index.ts';
import type { RouteMatch } from '../../../xds/envoy/index.ts';
import { durationMs } from '../../route/config-duration.ts';
import { Problems } from '../../route/problems.ts';
import { compileRouteMatch, type CompiledRouteMatch } from '../../route/route-match.ts';
import { bool, checkFields, fieldPath, integer, isObject, list, message, oneofMember, string, type Raw } from '../../security/rbac/raw-json.ts';
import type { RemoteJwksSpec } from './jwks-source.ts';
import { parseJwks, type Jwks } from './jwks.ts';
import { JWT_STATUS_MESSAGES } from './jwt-status.ts';

export const JWT_AUTHN_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
export const JWT_AUTHN_PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig';
/** The filter's name: its dynamic metadata namespace and its key in routes' `typedPerFilterConfig`. */
export const JWT_AUTHN_FILTER = 'envoy.filters.http.jwt_authn';

/** `fromHeaders` entry: the token is the header's value after `valuePrefix` ('' for the whole value). */
export interface JwtHeaderLocation {
  readonly name: string;
  readonly valuePrefix: string;
}

export interface ClaimToHeader {
  readonly headerName: string;
  /** A claim, or a nested one with '.' between the names (`address.country`). */
  readonly claimName: string;
}

export type JwksConfig = { readonly kind: 'local'; readonly jwks: Jwks } | { readonly kind: 'remote'; readonly remote: RemoteJwksSpec };

/** A JwtProvider: who issues tokens, where they are found, and what is done with a good one. */
export interface JwtProvider {
  /** Its key in `providers` (Istio's `origins-<n>`). */
  readonly name: string;
  /** '' accepts tokens of any issuer. */
  readonly issuer: string;
  /** Empty accepts any audience. */
  readonly audiences: readonly string[];
  readonly jwks: JwksConfig;
  /** Where tokens are looked for; all three empty means `Authorization: Bearer <t>`, then `?access_token=<t>`. */
  readonly fromHeaders: readonly JwtHeaderLocation[];
  readonly fromParams: readonly string[];
  readonly fromCookies: readonly string[];
  /** Keep the token in the request; by default it is removed from the header or query parameter it came in. */
  readonly forward: boolean;
  /** '' for none: else the verified payload (base64url) is sent upstream in this header. */
  readonly forwardPayloadHeader: string;
  readonly padForwardPayloadHeader: boolean;
  readonly claimToHeaders: readonly ClaimToHeader[];
  /** '' for none: else the key under which the verified payload goes in the filter's metadata. */
  readonly payloadInMetadata: string;
  readonly headerInMetadata: string;
  /** Claims whose string value is written to metadata as a list of its space-separated words. */
  readonly spaceDelimitedClaims: readonly string[];
  readonly clockSkewSeconds: number;
  /** Match the route again after claimToHeaders added a header. */
  readonly clearRouteCache: boolean;
}

/** A JwtRequirement, the allow entries of a requiresAny folded into flags as Envoy folds them. */
export type JwtRequirement =
  | { readonly kind: 'provider'; readonly provider: string; readonly audiences: readonly string[] | undefined }
  /** Passes when one of `requirements` does; otherwise fails with the most telling of their statuses, unless a flag forgives it. */
  | { readonly kind: 'any'; readonly requirements: readonly JwtRequirement[]; readonly allowMissing: boolean; readonly allowMissingOrFailed: boolean }
  | { readonly kind: 'all'; readonly requirements: readonly JwtRequirement[] }
  /** Every provider's tokens are verified; no token passes, a bad one fails. */
  | { readonly kind: 'allowMissing' }
  /** Every provider's tokens are verified, and the request passes whatever the result. */
  | { readonly kind: 'allowMissingOrFailed' }
  /** An empty JwtRequirement: nothing is verified. */
  | { readonly kind: 'allowAll' };

/** A rule: requests it matches get `requirement` verified; undefined verifies nothing. */
export interface JwtRule {
  readonly match: CompiledRouteMatch;
  readonly requirement: JwtRequirement | undefined;
}

export interface JwtAuthnConfig {
  /** In the config's order, which decides the provider of a token when a requirement names none. */
  readonly providers: ReadonlyMap<string, JwtProvider>;
  /** The first rule matching a request decides; no match verifies nothing. */
  readonly rules: readonly JwtRule[];
  /** Requirements routes name in their PerRouteConfig. */
  readonly requirementMap: ReadonlyMap<string, JwtRequirement>;
  /** CORS preflights (OPTIONS with Origin and Access-Control-Request-Method) pass unverified. */
  readonly bypassCorsPreflight: boolean;
  /** Failures are answered without body or www-authenticate. */
  readonly stripFailureResponse: boolean;
}

/** A route's `typedPerFilterConfig['envoy.filters.http.jwt_authn']`: the route's requirement replaces the rules. */
export class JwtPerRouteConfig {
  /** undefined when the route disables the filter. */
  readonly requirementName: string | undefined;

  constructor(requirementName: string | undefined) {
    this.requirementName = requirementName;
  }
}

const FIELDS = ['@type', 'providers', 'rules', 'filterStateRules', 'bypassCorsPreflight', 'requirementMap', 'stripFailureResponse'];
const PROVIDER_FIELDS = [
  'issuer', 'audiences', 'subjects', 'requireExpiration', 'maxLifetime', 'remoteJwks', 'localJwks', 'forward', 'fromHeaders', 'fromParams', 'fromCookies',
  'forwardPayloadHeader', 'padForwardPayloadHeader', 'payloadInMetadata', 'normalizePayloadInMetadata', 'headerInMetadata', 'failedStatusInMetadata',
  'clockSkewSeconds', 'jwtCacheConfig', 'claimToHeaders', 'clearRouteCache',
];
/** Fields of JwtProvider Weft refuses when set, with why. */
const UNSUPPORTED_PROVIDER_FIELDS: Readonly<Record<string, string>> = {
  subjects: 'tokens are not restricted by subject',
  requireExpiration: 'tokens without exp are accepted',
  maxLifetime: 'token lifetimes are not limited',
  failedStatusInMetadata: 'failures are not written to metadata',
};
const REQUIREMENT_KINDS = ['providerName', 'providerAndAudiences', 'requiresAny', 'requiresAll', 'allowMissingOrFailed', 'allowMissing'] as const;
const DEFAULT_CACHE_DURATION_MS = 600_000;
const DEFAULT_CLOCK_SKEW_SECONDS = 60;
const UINT32_MAX = 4_294_967_295;
/** Header names as Envoy's API allows them (its HTTP_HEADER_NAME rule, without pseudo-headers). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a `JwtAuthentication`, reporting every problem with its field path, one per line. A
 * requirement naming a provider that is not configured, or a rule naming a requirement that is
 * not in requirementMap, is refused as Envoy refuses it. A localJwks must hold at least one usable
 * key. `filterStateRules` is refused; `jwtCacheConfig` and remoteJwks' `asyncFetch` and
 * `retryPolicy` are accepted and change nothing (Weft caches no verified tokens, fetches a JWKS
 * when a request needs it, and tries once).
 */
export function parseJwtAuthentication(config: Raw): Result<JwtAuthnConfig, string> {
  const lines: string[] = [];
  const problems = new Problems('', lines);
  checkFields(config, FIELDS, 'JwtAuthentication', '', problems);
  if (config['@type'] !== undefined && config['@type'] !== JWT_AUTHN_TYPE) problems.add('@type', `${JSON.stringify(config['@type'])} is not ${JWT_AUTHN_TYPE}`);
  if (config['filterStateRules'] !== undefined) problems.add('filterStateRules', 'is not supported by Weft: requirements are chosen by rules and routes only');

  const providers = new Map<string, JwtProvider>();
  const rawProviders = config['providers'] === undefined ? {} : message(config['providers'], 'map of JwtProvider', 'providers', problems);
  for (const [name, raw] of Object.entries(rawProviders ?? {})) {
    const provider = parseProvider(name, raw, `providers.${name}`, problems);
    if (provider !== undefined) providers.set(name, provider);
  }
  const known = new Set(Object.keys(rawProviders ?? {}));

  const requirementMap = new Map<string, JwtRequirement>();
  const rawMap = config['requirementMap'] === undefined ? {} : message(config['requirementMap'], 'map of JwtRequirement', 'requirementMap', problems);
  for (const [name, raw] of Object.entries(rawMap ?? {})) {
    const requirement = parseRequirement(raw, known, `requirementMap.${name}`, problems);
    if (requirement !== undefined) requirementMap.set(name, requirement);
  }
  const mapNames = Object.keys(rawMap ?? {});

  const rules: JwtRule[] = [];
  const rawRules = config['rules'] === undefined ? [] : list(config['rules'], 0, 'rules', problems);
  rawRules?.forEach((raw, i) => {
    const rule = parseRule(raw, known, requirementMap, mapNames, `rules[${i}]`, problems);
    if (rule !== undefined) rules.push(rule);
  });

  const bypassCorsPreflight = optionalBool(config, 'bypassCorsPreflight', '', problems);
  const stripFailureResponse = optionalBool(config, 'stripFailureResponse', '', problems);
  if (problems.count > 0) return err(problems.text());
  return ok({ providers, rules, requirementMap, bypassCorsPreflight, stripFailureResponse });
}

/** Parses a `PerRouteConfig`: exactly one of `disabled: true` or a non-empty `requirementName`. */
export function parseJwtPerRoute(config: Raw): Result<JwtPerRouteConfig, string> {
  const lines: string[] = [];
  const problems = new Problems('', lines);
  const { '@type': type, ...rest } = config;
  if (type !== undefined && type !== JWT_AUTHN_PER_ROUTE_TYPE) problems.add('@type', `${JSON.stringify(type)} is not ${JWT_AUTHN_PER_ROUTE_TYPE}`);
  const kind = oneofMember(rest, ['disabled', 'requirementName'] as const, {}, 'PerRouteConfig', '', problems);
  let requirementName: string | undefined;
  if (kind === 'disabled' && rest['disabled'] !== true) problems.add('disabled', 'must be true (leave it out to keep the filter on)');
  if (kind === 'requirementName') {
    requirementName = string(rest['requirementName'], 'requirementName', problems);
    if (requirementName === '') problems.add('requirementName', 'must not be empty');
  }
  if (problems.count > 0) return err(problems.text());
  return ok(new JwtPerRouteConfig(requirementName));
}

function parseProvider(name: string, raw: unknown, at: string, problems: Problems): JwtProvider | undefined {
  const provider = message(raw, 'JwtProvider', at, problems);
  if (provider === undefined) return undefined;
  const before = problems.count;
  checkFields(provider, PROVIDER_FIELDS, 'JwtProvider', at, problems);
  for (const [field, why] of Object.entries(UNSUPPORTED_PROVIDER_FIELDS)) {
    if (provider[field] !== undefined && provider[field] !== false) problems.add(fieldPath(at, field), `is not supported by Weft: ${why}`);
  }
  const issuer = optionalString(provider, 'issuer', at, problems);
  const audiences = stringList(provider['audiences'], fieldPath(at, 'audiences'), problems);
  const jwks = parseJwksSource(provider, at, problems);
  const fromHeaders = (optionalList(provider, 'fromHeaders', at, problems) ?? []).map((entry, i) => parseHeaderLocation(entry, `${fieldPath(at, 'fromHeaders')}[${i}]`, problems));
  const fromParams = stringList(provider['fromParams'], fieldPath(at, 'fromParams'), problems);
  const fromCookies = stringList(provider['fromCookies'], fieldPath(at, 'fromCookies'), problems);
  const forwardPayloadHeader = headerName(provider, 'forwardPayloadHeader', at, problems);
  const claimToHeaders = (optionalList(provider, 'claimToHeaders', at, problems) ?? []).map((entry, i) => parseClaimToHeader(entry, `${fieldPath(at, 'claimToHeaders')}[${i}]`, problems));
  const spaceDelimitedClaims = parseNormalize(provider['normalizePayloadInMetadata'], fieldPath(at, 'normalizePayloadInMetadata'), problems);
  const skew = provider['clockSkewSeconds'] === undefined ? 0 : integer(provider['clockSkewSeconds'], 0, UINT32_MAX, fieldPath(at, 'clockSkewSeconds'), problems);
  if (provider['jwtCacheConfig'] !== undefined) message(provider['jwtCacheConfig'], 'JwtCacheConfig', fieldPath(at, 'jwtCacheConfig'), problems);
  const forward = optionalBool(provider, 'forward', at, problems);
  const padForwardPayloadHeader = optionalBool(provider, 'padForwardPayloadHeader', at, problems);
  const payloadInMetadata = optionalString(provider, 'payloadInMetadata', at, problems);
  const headerInMetadata = optionalString(provider, 'headerInMetadata', at, problems);
  const clearRouteCache = optionalBool(provider, 'clearRouteCache', at, problems);
  if (problems.count > before || jwks === undefined) return undefined;
  return {
    name,
    issuer,
    audiences,
    jwks,
    fromHeaders: fromHeaders.filter((h) => h !== undefined),
    fromParams,
    fromCookies,
    forward,
    forwardPayloadHeader,
    padForwardPayloadHeader,
    claimToHeaders: claimToHeaders.filter((c) => c !== undefined),
    payloadInMetadata,
    headerInMetadata,
    spaceDelimitedClaims,
    // Envoy: 0 (or unset) is the default of 60 seconds.
    clockSkewSeconds: skew === undefined || skew === 0 ? DEFAULT_CLOCK_SKEW_SECONDS : skew,
    clearRouteCache,
  };
}

function parseJwksSource(provider: Raw, at: string, problems: Problems): JwksConfig | undefined {
  const local = provider['localJwks'];
  const remote = provider['remoteJwks'];
  if ((local === undefined) === (remote === undefined)) {
    problems.add(at, local === undefined ? 'needs one of localJwks or remoteJwks' : 'sets localJwks and remoteJwks; only one may be set');
    return undefined;
  }
  if (local !== undefined) {
    const lat = fieldPath(at, 'localJwks');
    const source = message(local, 'DataSource', lat, problems);
    if (source === undefined) return undefined;
    const kind = oneofMember(source, ['inlineString', 'inlineBytes'] as const, {
      filename: 'the proxy reads no files for JWKS; inline the JWKS with inlineString',
      environmentVariable: 'the proxy reads no environment for JWKS; inline the JWKS with inlineString',
    }, 'DataSource', lat, problems);
    if (kind === undefined) return undefined;
    const text = string(source[kind], fieldPath(lat, kind), problems);
    if (text === undefined) return undefined;
    const jwks = parseJwks(kind === 'inlineBytes' ? Buffer.from(text, 'base64').toString('utf8') : text);
    if (!jwks.ok) {
      problems.add(fieldPath(lat, kind), JWT_STATUS_MESSAGES[jwks.error]);
      return undefined;
    }
    return { kind: 'local', jwks: jwks.value };
  }
  const rat = fieldPath(at, 'remoteJwks');
  const spec = message(remote, 'RemoteJwks', rat, problems);
  if (spec === undefined) return undefined;
  checkFields(spec, ['httpUri', 'cacheDuration', 'asyncFetch', 'retryPolicy'], 'RemoteJwks', rat, problems);
  const uri = parseHttpUri(spec['httpUri'], fieldPath(rat, 'httpUri'), problems);
  const cacheDurationMs = spec['cacheDuration'] === undefined ? DEFAULT_CACHE_DURATION_MS : duration(spec['cacheDuration'], fieldPath(rat, 'cacheDuration'), problems);
  if (uri === undefined || cacheDurationMs === undefined) return undefined;
  return { kind: 'remote', remote: { ...uri, cacheDurationMs } };
}

/** An `HttpUri`: an http(s) URI, the cluster Envoy would fetch it through (required, as Envoy requires it), and a timeout. */
function parseHttpUri(raw: unknown, at: string, problems: Problems): Omit<RemoteJwksSpec, 'cacheDurationMs'> | undefined {
  if (raw === undefined) {
    problems.add(at, 'is required ({uri, cluster, timeout})');
    return undefined;
  }
  const httpUri = message(raw, 'HttpUri', at, problems);
  if (httpUri === undefined) return undefined;
  const before = problems.count;
  checkFields(httpUri, ['uri', 'cluster', 'timeout'], 'HttpUri', at, problems);
  const uri = required(httpUri, 'uri', at, problems);
  if (uri !== undefined && !/^https?:\/\/[^/?#]+/.test(uri)) problems.add(fieldPath(at, 'uri'), `"${uri}" is not an http or https URI`);
  const cluster = required(httpUri, 'cluster', at, problems);
  const timeoutMs = httpUri['timeout'] === undefined ? undefined : duration(httpUri['timeout'], fieldPath(at, 'timeout'), problems);
  if (httpUri['timeout'] === undefined) problems.add(fieldPath(at, 'timeout'), 'is required (a duration such as "5s")');
  if (problems.count > before || uri === undefined || cluster === undefined || timeoutMs === undefined) return undefined;
  return { uri, timeoutMs };
}

function parseHeaderLocation(raw: unknown, at: string, problems: Problems): JwtHeaderLocation | undefined {
  const header = message(raw, 'JwtHeader', at, problems);
  if (header === undefined) return undefined;
  checkFields(header, ['name', 'valuePrefix'], 'JwtHeader', at, problems);
  const name = headerName(header, 'name', at, problems);
  if (name === '') problems.add(fieldPath(at, 'name'), 'is required');
  return { name, valuePrefix: optionalString(header, 'valuePrefix', at, problems) };
}

function parseClaimToHeader(raw: unknown, at: string, problems: Problems): ClaimToHeader | undefined {
  const entry = message(raw, 'JwtClaimToHeader', at, problems);
  if (entry === undefined) return undefined;
  checkFields(entry, ['headerName', 'claimName'], 'JwtClaimToHeader', at, problems);
  const header = headerName(entry, 'headerName', at, problems);
  if (header === '') problems.add(fieldPath(at, 'headerName'), 'is required');
  const claimName = required(entry, 'claimName', at, problems);
  return claimName === undefined ? undefined : { headerName: header, claimName };
}

function parseNormalize(raw: unknown, at: string, problems: Problems): readonly string[] {
  if (raw === undefined) return [];
  const normalize = message(raw, 'NormalizePayload', at, problems);
  if (normalize === undefined) return [];
  checkFields(normalize, ['spaceDelimitedClaims'], 'NormalizePayload', at, problems);
  return stringList(normalize['spaceDelimitedClaims'], fieldPath(at, 'spaceDelimitedClaims'), problems);
}

function parseRule(
  raw: unknown, providers: ReadonlySet<string>, requirementMap: ReadonlyMap<string, JwtRequirement>, mapNames: readonly string[], at: string, problems: Problems,
): JwtRule | undefined {
  const rule = message(raw, 'RequirementRule', at, problems);
  if (rule === undefined) return undefined;
  const before = problems.count;
  checkFields(rule, ['match', 'requires', 'requirementName'], 'RequirementRule', at, problems);
  if (rule['requires'] !== undefined && rule['requirementName'] !== undefined) problems.add(at, 'sets requires and requirementName; only one may be set');
  const match = parseMatch(rule['match'], fieldPath(at, 'match'), problems);
  let requirement: JwtRequirement | undefined;
  if (rule['requires'] !== undefined) {
    requirement = parseRequirement(rule['requires'], providers, fieldPath(at, 'requires'), problems);
  } else if (rule['requirementName'] !== undefined) {
    const name = string(rule['requirementName'], fieldPath(at, 'requirementName'), problems);
    if (name !== undefined) {
      requirement = requirementMap.get(name);
      if (!mapNames.includes(name)) problems.add(fieldPath(at, 'requirementName'), `Wrong requirement_name: ${name}. It should be one of [${[...mapNames].sort().join(',')}]`);
    }
  }
  return problems.count > before || match === undefined ? undefined : { match, requirement };
}

/** A RouteMatch, its scalar fields' types checked before the route matcher compiles it. */
function parseMatch(raw: unknown, at: string, problems: Problems): CompiledRouteMatch | undefined {
  if (raw === undefined) {
    problems.add(at, 'is required (a RouteMatch such as {prefix: "/"})');
    return undefined;
  }
  const match = message(raw, 'RouteMatch', at, problems);
  if (match === undefined) return undefined;
  for (const field of ['prefix', 'path', 'pathSeparatedPrefix']) {
    if (match[field] !== undefined && typeof match[field] !== 'string') {
      problems.add(fieldPath(at, field), `${JSON.stringify(match[field])} is not a string`);
      return undefined;
    }
  }
  if (match['headers'] !== undefined && (!Array.isArray(match['headers']) || !match['headers'].every(isObject))) {
    problems.add(fieldPath(at, 'headers'), 'must be a list of HeaderMatcher objects');
    return undefined;
  }
  return compileRouteMatch(match as RouteMatch, at, problems);
}

function parseRequirement(raw: unknown, providers: ReadonlySet<string>, at: string, problems: Problems): JwtRequirement | undefined {
  const requirement = message(raw, 'JwtRequirement', at, problems);
  if (requirement === undefined) return undefined;
  if (Object.keys(requirement).length === 0) return { kind: 'allowAll' };
  const kind = oneofMember(requirement, REQUIREMENT_KINDS, {}, 'JwtRequirement', at, problems);
  if (kind === undefined) return undefined;
  const kat = fieldPath(at, kind);
  const value = requirement[kind];
  switch (kind) {
    case 'providerName': {
      const name = string(value, kat, problems);
      return name === undefined ? undefined : providerRequirement(name, undefined, providers, kat, problems);
    }
    case 'providerAndAudiences': {
      const spec = message(value, 'ProviderWithAudiences', kat, problems);
      if (spec === undefined) return undefined;
      checkFields(spec, ['providerName', 'audiences'], 'ProviderWithAudiences', kat, problems);
      const name = string(spec['providerName'] ?? '', fieldPath(kat, 'providerName'), problems);
      const audiences = stringList(spec['audiences'], fieldPath(kat, 'audiences'), problems);
      return name === undefined ? undefined : providerRequirement(name, audiences, providers, fieldPath(kat, 'providerName'), problems);
    }
    case 'requiresAny':
    case 'requiresAll': {
      const name = kind === 'requiresAny' ? 'JwtRequirementOrList' : 'JwtRequirementAndList';
      const group = message(value, name, kat, problems);
      if (group === undefined) return undefined;
      checkFields(group, ['requirements'], name, kat, problems);
      const rat = fieldPath(kat, 'requirements');
      const parsed = list(group['requirements'], 2, rat, problems)?.map((r, i) => parseRequirement(r, providers, `${rat}[${i}]`, problems));
      if (parsed === undefined || parsed.some((r) => r === undefined)) return undefined;
      const requirements = parsed as JwtRequirement[];
      if (kind === 'requiresAll') return { kind: 'all', requirements };
      return anyOf(requirements);
    }
    case 'allowMissing':
    case 'allowMissingOrFailed': {
      const empty = message(value, 'Empty', kat, problems);
      if (empty !== undefined) checkFields(empty, [], 'Empty', kat, problems);
      return { kind };
    }
  }
}

/** Envoy keeps one allow entry of a requiresAny as a flag (allowMissingOrFailed winning); alone, it is the whole requirement. */
function anyOf(requirements: readonly JwtRequirement[]): JwtRequirement {
  const regular = requirements.filter((r) => r.kind !== 'allowMissing' && r.kind !== 'allowMissingOrFailed');
  const allowMissingOrFailed = requirements.some((r) => r.kind === 'allowMissingOrFailed');
  const allowMissing = requirements.some((r) => r.kind === 'allowMissing');
  if (regular.length === 0) return { kind: allowMissingOrFailed ? 'allowMissingOrFailed' : 'allowMissing' };
  return { kind: 'any', requirements: regular, allowMissing, allowMissingOrFailed };
}

function providerRequirement(
  name: string, audiences: readonly string[] | undefined, providers: ReadonlySet<string>, at: string, problems: Problems,
): JwtRequirement | undefined {
  if (!providers.has(name)) {
    problems.add(at, `Required provider ['${name}'] is not configured.`);
    return undefined;
  }
  return { kind: 'provider', provider: name, audiences: audiences !== undefined && audiences.length > 0 ? audiences : undefined };
}

function duration(raw: unknown, at: string, problems: Problems): number | undefined {
  if (typeof raw !== 'string') {
    problems.add(at, `${JSON.stringify(raw)} is not a duration such as "5s"`);
    return undefined;
  }
  return durationMs(raw, at, problems);
}

function required(raw: Raw, field: string, at: string, problems: Problems): string | undefined {
  const value = raw[field];
  if (value === undefined || value === '') {
    problems.add(fieldPath(at, field), 'is required');
    return undefined;
  }
  return string(value, fieldPath(at, field), problems);
}

function optionalString(raw: Raw, field: string, at: string, problems: Problems): string {
  return raw[field] === undefined ? '' : string(raw[field], fieldPath(at, field), problems) ?? '';
}

function optionalBool(raw: Raw, field: string, at: string, problems: Problems): boolean {
  return raw[field] === undefined ? false : bool(raw[field], fieldPath(at, field), problems) ?? false;
}

function optionalList(raw: Raw, field: string, at: string, problems: Problems): readonly unknown[] | undefined {
  return raw[field] === undefined ? undefined : list(raw[field], 0, fieldPath(at, field), problems);
}

/** A header name, lower-cased as Envoy stores it; '' when unset. */
function headerName(raw: Raw, field: string, at: string, problems: Problems): string {
  const name = optionalString(raw, field, at, problems);
  if (name !== '' && !HEADER_NAME.test(name)) problems.add(fieldPath(at, field), `"${name}" is not a valid header name`);
  return name.toLowerCase();
}

function stringList(raw: unknown, at: string, problems: Problems): readonly string[] {
  if (raw === undefined) return [];
  const values = list(raw, 0, at, problems);
  if (values === undefined) return [];
  const out: string[] = [];
  values.forEach((value, i) => {
    const text = string(value, `${at}[${i}]`, problems);
    if (text !== undefined) out.push(text);
  });
  return out;
}
