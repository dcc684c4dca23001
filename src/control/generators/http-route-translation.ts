import { parseDuration } from '../../core/index.ts';
import { resolveGatewayReference } from '../../config/analysis/index.ts';
import type { StringMatch } from '../../config/schema/common.ts';
import type { Destination } from '../../config/kinds/networking/shared.ts';
import type {
  CorsPolicy as IstioCorsPolicy, HTTPDirectResponse, HTTPFaultInjection, HTTPMatchRequest, HTTPRedirect, HTTPRetry, HTTPRoute, HTTPRouteDestination,
  Headers, VirtualServiceSpec,
} from '../../config/kinds/networking/virtual-service.ts';
import type {
  ClusterWeight, CorsPolicy, FractionalPercent, HashPolicy, HeaderMatcher, HeaderMutations, HeaderValueOption, HTTPFault, MetadataMatcher,
  QueryParameterMatcher, RedirectAction, RedirectResponseCode, RequestMirrorPolicy, RetryPolicy, Route, RouteAction, RouteMatch, StringMatcher,
  TypedAny,
} from '../../xds/envoy/index.ts';
import { CORS_POLICY_TYPE, FAULT_TYPE, HTTP_FILTER } from '../../xds/envoy/index.ts';
import { labelsMatch, type Labels, type MeshConfig } from '../model/index.ts';
import type { MeshService } from '../snapshot/mesh-snapshot.ts';
import { outboundClusterName, parseClusterName } from './cluster-name.ts';
import { protoDuration } from './proto-duration.ts';

/**
 * Istio's translation of a VirtualService's HTTP rules into Envoy routes, as istiod does it for
 * sidecars, gateways and proxyless gRPC clients. Pure: everything it needs from the mesh comes
 * through the context.
 */

/** The VirtualService being translated. */
export interface VirtualServiceInput {
  readonly name: string;
  readonly namespace: string;
  readonly spec: VirtualServiceSpec;
}

export interface RouteTranslationContext {
  /** The port the routes serve: the service port of a sidecar's route config, a gateway server's port. */
  readonly listenPort: number;
  /** `mesh` for sidecars; the gateways (`namespace/name`) the routes are built for on a gateway. */
  readonly gatewayNames: ReadonlySet<string>;
  /** The proxy the routes are for: sourceLabels and sourceNamespace select rules by it. */
  readonly proxyLabels: Labels;
  readonly proxyNamespace: string;
  /** An Envoy-shaped proxy, or a proxyless gRPC client, which accepts only part of the route API. */
  readonly client: 'envoy' | 'grpc';
  /** meshConfig.defaultHttpRetryPolicy, used when a rule sets no retries. */
  readonly defaultRetryPolicy: MeshConfig['defaultHttpRetryPolicy'];
  /** A host as written in a resource of `namespace`, made fully qualified. */
  resolveHost(host: string, namespace: string): string;
  /** The registry's service of that hostname, whose ports decide a destination's default port. */
  service(hostname: string): MeshService | undefined;
  /** The consistent-hash policy of the DestinationRule for a destination, when it sets one. */
  hashPolicy(hostname: string, subset: string | undefined, port: number): HashPolicy | undefined;
  /** Per-filter configs that policies of the proxy (LocalRateLimit) put on the routes of one rule, by filter name. */
  policyConfigs?(vs: VirtualServiceInput, rule: HTTPRoute): Readonly<Record<string, TypedAny>> | undefined;
}

/** Istio's retry conditions when a rule sets none. */
export const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

export const PREVIOUS_HOSTS_PREDICATE = 'envoy.retry_host_predicates.previous_hosts';
export const PREVIOUS_PRIORITIES = 'envoy.retry_priorities.previous_priorities';

/** The JWT claims written by the authentication filter, which claim-based header matches read. */
const CLAIMS_METADATA_FILTER = 'istio_authn';
const CLAIMS_METADATA_KEY = 'request.auth.claims';
const CLAIMS_PREFIX = '@request.auth.claims';

/**
 * The routes of every HTTP rule of `vs`, in order: one per match block (or one for a rule without
 * match) that applies to this port and proxy. Stops after a route that matches every request,
 * since nothing after it could be reached.
 */
export function translateVirtualService(vs: VirtualServiceInput, ctx: RouteTranslationContext): Route[] {
  const out: Route[] = [];
  for (const rule of vs.spec.http ?? []) {
    const matches: readonly (HTTPMatchRequest | undefined)[] = rule.match === undefined || rule.match.length === 0 ? [undefined] : rule.match;
    for (const match of matches) {
      const route = translateHttpRoute(vs, rule, match, ctx);
      if (route === undefined) continue;
      out.push(route);
      if (isCatchAllRoute(route)) return out;
    }
  }
  return out;
}

/**
 * One Envoy route for one match block of a rule, or undefined when the block does not apply:
 * another port, a source (labels, namespace, gateway) other than this proxy, or a feature the
 * client cannot take.
 */
export function translateHttpRoute(vs: VirtualServiceInput, rule: HTTPRoute, match: HTTPMatchRequest | undefined, ctx: RouteTranslationContext): Route | undefined {
  if (match?.port !== undefined && match.port !== ctx.listenPort) return undefined;
  if (!sourceMatches(match, vs.namespace, ctx)) return undefined;
  const grpc = ctx.client === 'grpc';
  // gRPC clients accept only routes that forward, and requests have no query string to match.
  if (grpc && (rule.redirect !== undefined || rule.directResponse !== undefined)) return undefined;
  const routeMatch = translateRouteMatch(match);
  if (grpc && (routeMatch.queryParameters !== undefined || routeMatch.dynamicMetadata !== undefined)) return undefined;

  const name = match?.name !== undefined && match.name !== '' ? `${rule.name ?? ''}.${match.name}` : rule.name;
  const operations = rule.headers !== undefined && !grpc ? translateHeaderOperations(rule.headers) : undefined;
  let route: Route = {
    ...(name !== undefined && name !== '' ? { name } : {}),
    ...(match?.statPrefix !== undefined && !grpc ? { statPrefix: match.statPrefix } : {}),
    match: routeMatch,
    ...(grpc ? {} : { metadata: configMetadata(vs) }),
    ...headerMutations(operations),
  };

  if (rule.redirect !== undefined) {
    route = { ...route, redirect: translateRedirect(rule.redirect, ctx.listenPort) };
  } else if (rule.directResponse !== undefined) {
    route = { ...route, directResponse: translateDirectResponse(rule.directResponse) };
  } else {
    route = applyDestinations(route, vs, rule, operations?.authority, ctx);
  }

  if (!grpc) {
    route = { ...route, decorator: { operation: routeOperation(route, vs.name, ctx.listenPort) } };
    const perFilter: Record<string, TypedAny> = {};
    const fault = rule.fault !== undefined ? translateFault(rule.fault) : undefined;
    if (fault !== undefined) perFilter[HTTP_FILTER.fault] = fault;
    if (rule.corsPolicy !== undefined) perFilter[HTTP_FILTER.cors] = translateCorsPolicy(rule.corsPolicy);
    Object.assign(perFilter, ctx.policyConfigs?.(vs, rule));
    if (Object.keys(perFilter).length > 0) route = { ...route, typedPerFilterConfig: perFilter };
  }
  return route;
}

/**
 * Istio's source selection, decided when config is built: a match block with gateways applies
 * where one of them is being built; otherwise its sourceLabels must be on the proxy and its
 * sourceNamespace must be the proxy's.
 */
function sourceMatches(match: HTTPMatchRequest | undefined, vsNamespace: string, ctx: RouteTranslationContext): boolean {
  if (match === undefined) return true;
  if (match.gateways !== undefined && match.gateways.length > 0) {
    return match.gateways.some((g) => {
      const gateway = resolveGatewayReference(g, vsNamespace);
      return ctx.gatewayNames.has(gateway === 'mesh' ? 'mesh' : `${gateway.namespace}/${gateway.name}`);
    });
  }
  if (!labelsMatch(match.sourceLabels, ctx.proxyLabels)) return false;
  return match.sourceNamespace === undefined || match.sourceNamespace === '' || match.sourceNamespace === ctx.proxyNamespace;
}

/** `/apis/networking.istio.io/v1/namespaces/<ns>/virtual-service/<name>`, which proxy-config shows as the route's source. */
export function configMetadata(vs: { readonly name: string; readonly namespace: string }): { filterMetadata: { istio: { config: string } } } {
  return { filterMetadata: { istio: { config: `/apis/networking.istio.io/v1/namespaces/${vs.namespace}/virtual-service/${vs.name}` } } };
}

/** A match block as Envoy's RouteMatch; no block matches every path. */
export function translateRouteMatch(match: HTTPMatchRequest | undefined): RouteMatch {
  if (match === undefined) return { prefix: '/' };
  const headers: HeaderMatcher[] = [];
  const dynamicMetadata: MetadataMatcher[] = [];
  for (const [name, value] of Object.entries(match.headers ?? {})) {
    const claims = claimPath(name);
    if (claims !== undefined) dynamicMetadata.push(claimMatcher(claims, value));
    else headers.push(translateHeaderMatch(name, value));
  }
  for (const [name, value] of Object.entries(match.withoutHeaders ?? {})) {
    const claims = claimPath(name);
    if (claims !== undefined) {
      dynamicMetadata.push({ ...claimMatcher(claims, value), invert: true });
      continue;
    }
    const matcher = translateHeaderMatch(name, value);
    // A missing header is an empty one, so "without x: exact foo" admits requests lacking x.
    headers.push({ ...matcher, invertMatch: true, ...(matcher.presentMatch === undefined ? { treatMissingHeaderAsEmpty: true } : {}) });
  }
  headers.sort((a, b) => compareText(a.name, b.name));
  if (match.method !== undefined) headers.push(translateHeaderMatch(':method', match.method));
  if (match.authority !== undefined) headers.push(translateHeaderMatch(':authority', match.authority));
  if (match.scheme !== undefined) headers.push(translateHeaderMatch(':scheme', match.scheme));

  const queryParameters: QueryParameterMatcher[] = Object.entries(match.queryParams ?? {}).map(([name, value]) => {
    const matcher = toStringMatcher(value);
    return matcher === undefined ? { name, presentMatch: true } : { name, stringMatch: matcher };
  });

  const uri = match.uri;
  const path: RouteMatch =
    uri?.exact !== undefined ? { path: uri.exact }
      : uri?.prefix !== undefined ? { prefix: uri.prefix }
        : uri?.regex !== undefined ? { safeRegex: { regex: uri.regex } }
          : { prefix: '/' };
  return {
    ...path,
    caseSensitive: match.ignoreUriCase !== true,
    ...(headers.length > 0 ? { headers } : {}),
    ...(queryParameters.length > 0 ? { queryParameters } : {}),
    ...(dynamicMetadata.length > 0 ? { dynamicMetadata } : {}),
  };
}

/** Istio's StringMatch as Envoy's StringMatcher; undefined for a presence test (`{}`). */
export function toStringMatcher(m: StringMatch): StringMatcher | undefined {
  if (m.exact !== undefined) return { exact: m.exact };
  // Envoy refuses an empty prefix; every value starts with it.
  if (m.prefix !== undefined) return m.prefix === '' ? { safeRegex: { regex: '.*' } } : { prefix: m.prefix };
  if (m.regex !== undefined) return { safeRegex: { regex: m.regex } };
  return undefined;
}

function translateHeaderMatch(name: string, value: StringMatch): HeaderMatcher {
  const matcher = toStringMatcher(value);
  return matcher === undefined ? { name, presentMatch: true } : { name, stringMatch: matcher };
}

/** The claim names of `@request.auth.claims.a.b` or `@request.auth.claims[a][b]`; undefined for other headers. */
function claimPath(header: string): string[] | undefined {
  if (!header.startsWith(CLAIMS_PREFIX)) return undefined;
  const rest = header.slice(CLAIMS_PREFIX.length);
  if (rest.startsWith('[')) {
    const names = [...rest.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]!);
    return names.length > 0 ? names : undefined;
  }
  if (rest.startsWith('.') && rest.length > 1) return rest.slice(1).split('.');
  return undefined;
}

/** A claim may be a string or a list of strings; either form matches. */
function claimMatcher(claims: readonly string[], value: StringMatch): MetadataMatcher {
  const matcher = toStringMatcher(value);
  const path = [CLAIMS_METADATA_KEY, ...claims].map((key) => ({ key }));
  if (matcher === undefined) return { filter: CLAIMS_METADATA_FILTER, path, value: { presentMatch: true } };
  return {
    filter: CLAIMS_METADATA_FILTER,
    path,
    value: { orMatch: { valueMatchers: [{ stringMatch: matcher }, { listMatch: { oneOf: { stringMatch: matcher } } }] } },
  };
}

export interface HeaderOperations extends HeaderMutations {
  /** A `host` or `:authority` header set (or added), which Envoy applies as a host rewrite. */
  readonly authority?: string;
}

/**
 * `headers.request/response` `set` (overwrite) and `add` (append), each sorted by name, and
 * `remove`. Pseudo-headers and Host cannot be changed as headers; a Host value becomes the
 * authority, set winning over add.
 */
export function translateHeaderOperations(headers: Headers): HeaderOperations {
  const request = headers.request;
  const response = headers.response;
  const [requestSet, setAuthority] = headerValues(request?.set, 'OVERWRITE_IF_EXISTS_OR_ADD');
  const [requestAdd, addAuthority] = headerValues(request?.add, 'APPEND_IF_EXISTS_OR_ADD');
  const [responseSet] = headerValues(response?.set, 'OVERWRITE_IF_EXISTS_OR_ADD');
  const [responseAdd] = headerValues(response?.add, 'APPEND_IF_EXISTS_OR_ADD');
  const authority = setAuthority ?? addAuthority;
  return {
    requestHeadersToAdd: [...requestSet, ...requestAdd],
    requestHeadersToRemove: (request?.remove ?? []).filter((h) => !isInternalHeader(h)),
    responseHeadersToAdd: [...responseSet, ...responseAdd],
    responseHeadersToRemove: (response?.remove ?? []).filter((h) => !isInternalHeader(h)),
    ...(authority !== undefined ? { authority } : {}),
  };
}

function headerValues(map: Readonly<Record<string, string>> | undefined, appendAction: HeaderValueOption['appendAction']): [HeaderValueOption[], string | undefined] {
  let authority: string | undefined;
  const out: HeaderValueOption[] = [];
  for (const [key, value] of Object.entries(map ?? {})) {
    if (key.toLowerCase() === ':authority' || key.toLowerCase() === 'host') authority = value;
    if (isInternalHeader(key)) continue;
    out.push({ header: { key, value }, appendAction });
  }
  out.sort((a, b) => compareText(a.header.key, b.header.key));
  return [out, authority];
}

function isInternalHeader(key: string): boolean {
  return key.startsWith(':') || key.toLowerCase() === 'host';
}

/** Only the non-empty lists, as Envoy's JSON leaves empty ones out. */
function headerMutations(operations: HeaderMutations | undefined): HeaderMutations {
  if (operations === undefined) return {};
  return {
    ...(nonEmpty(operations.requestHeadersToAdd) ? { requestHeadersToAdd: operations.requestHeadersToAdd } : {}),
    ...(nonEmpty(operations.requestHeadersToRemove) ? { requestHeadersToRemove: operations.requestHeadersToRemove } : {}),
    ...(nonEmpty(operations.responseHeadersToAdd) ? { responseHeadersToAdd: operations.responseHeadersToAdd } : {}),
    ...(nonEmpty(operations.responseHeadersToRemove) ? { responseHeadersToRemove: operations.responseHeadersToRemove } : {}),
  };
}

function nonEmpty<T>(list: readonly T[] | undefined): list is readonly T[] {
  return list !== undefined && list.length > 0;
}

function mergeMutations(a: HeaderMutations, b: HeaderMutations): HeaderMutations {
  return headerMutations({
    requestHeadersToAdd: [...(a.requestHeadersToAdd ?? []), ...(b.requestHeadersToAdd ?? [])],
    requestHeadersToRemove: [...(a.requestHeadersToRemove ?? []), ...(b.requestHeadersToRemove ?? [])],
    responseHeadersToAdd: [...(a.responseHeadersToAdd ?? []), ...(b.responseHeadersToAdd ?? [])],
    responseHeadersToRemove: [...(a.responseHeadersToRemove ?? []), ...(b.responseHeadersToRemove ?? [])],
  });
}

/**
 * The forwarding action: destinations (one cluster, or weighted clusters with their own header
 * changes), rewrites, timeout, retries, mirrors and hash policies.
 */
function applyDestinations(route: Route, vs: VirtualServiceInput, rule: HTTPRoute, headerAuthority: string | undefined, ctx: RouteTranslationContext): Route {
  const grpc = ctx.client === 'grpc';
  let action: RouteAction = timeoutFields(rule.timeout !== undefined ? protoDuration(rule.timeout) : '0s', grpc);
  let authority = headerAuthority;
  if (rule.rewrite !== undefined && !grpc) {
    const { uri, uriRegexRewrite } = rule.rewrite;
    if (uriRegexRewrite !== undefined) action = { ...action, regexRewrite: { pattern: { regex: uriRegexRewrite.match }, substitution: uriRegexRewrite.rewrite } };
    else if (uri !== undefined && uri !== '') action = { ...action, prefixRewrite: uri };
    if (rule.rewrite.authority !== undefined && rule.rewrite.authority !== '') authority = rule.rewrite.authority;
  }
  if (grpc) authority = undefined;

  const mirrors = grpc ? [] : mirrorPolicies(rule, vs.namespace, ctx);
  if (mirrors.length > 0) action = { ...action, requestMirrorPolicies: mirrors };

  // With several destinations, those of weight 0 get no traffic; one left is a plain destination.
  const destinations = rule.route ?? [];
  const weighted = destinations.length > 1 ? destinations.filter((d) => (d.weight ?? 0) > 0) : destinations;
  const hashPolicies: HashPolicy[] = [];
  let mutations: HeaderMutations = route;
  if (weighted.length <= 1) {
    const destination = weighted[0] ?? destinations[0];
    if (destination !== undefined) {
      const target = resolveDestination(destination.destination, vs.namespace, ctx);
      action = { cluster: target.cluster, ...action };
      if (target.hash !== undefined) hashPolicies.push(target.hash);
      if (destination.headers !== undefined && !grpc) {
        const operations = translateHeaderOperations(destination.headers);
        mutations = mergeMutations(route, operations);
        authority ??= operations.authority;
      }
    }
  } else {
    const clusters = weighted.map((d) => {
      const target = resolveDestination(d.destination, vs.namespace, ctx);
      if (target.hash !== undefined) hashPolicies.push(target.hash);
      return clusterWeight(target.cluster, d, grpc);
    });
    action = { weightedClusters: { clusters }, ...action };
  }
  if (authority !== undefined) action = { ...action, hostRewriteLiteral: authority };
  if (hashPolicies.length > 0) action = { ...action, hashPolicy: hashPolicies };
  const retryPolicy = translateRetryPolicy(rule.retries, ctx.defaultRetryPolicy, hashPolicies.length > 0);
  if (retryPolicy !== undefined && !(grpc && !grpcAcceptsRetryPolicy(retryPolicy))) action = { ...action, retryPolicy };

  const { requestHeadersToAdd: _a, requestHeadersToRemove: _b, responseHeadersToAdd: _c, responseHeadersToRemove: _d, ...rest } = route;
  return { ...rest, ...headerMutations(mutations), route: action };
}

function clusterWeight(cluster: string, destination: HTTPRouteDestination, grpc: boolean): ClusterWeight {
  const weight: ClusterWeight = { name: cluster, weight: destination.weight ?? 0 };
  if (destination.headers === undefined || grpc) return weight;
  const operations = translateHeaderOperations(destination.headers);
  return { ...weight, ...headerMutations(operations), ...(operations.authority !== undefined ? { hostRewriteLiteral: operations.authority } : {}) };
}

/**
 * Istio's route timeout: disabled ("0s") unless the rule sets one. Envoy caps the gRPC
 * grpc-timeout header by maxGrpcTimeout; gRPC clients read maxStreamDuration instead.
 */
function timeoutFields(timeout: string, grpc: boolean): RouteAction {
  return grpc ? { timeout, maxStreamDuration: { maxStreamDuration: timeout } } : { timeout, maxGrpcTimeout: timeout };
}

/** grpc-js refuses a retry policy with no retries or a zero backoff. */
function grpcAcceptsRetryPolicy(policy: RetryPolicy): boolean {
  if ((policy.numRetries ?? 1) < 1) return false;
  const base = policy.retryBackOff?.baseInterval;
  return base === undefined || base !== '0s';
}

interface ResolvedDestination {
  readonly cluster: string;
  readonly hash?: HashPolicy;
}

function resolveDestination(destination: Destination, vsNamespace: string, ctx: RouteTranslationContext): ResolvedDestination {
  const cluster = destinationCluster(destination, vsNamespace, ctx);
  const parsed = parseClusterName(cluster);
  const hash = parsed !== undefined ? ctx.hashPolicy(parsed.hostname, destination.subset, parsed.port) : undefined;
  return hash !== undefined ? { cluster, hash } : { cluster };
}

/**
 * Istio's cluster for a destination: its port, else the only port of its service, else the port
 * being routed; the subset, if any, names a subset cluster.
 */
export function destinationCluster(destination: Destination, vsNamespace: string, ctx: Pick<RouteTranslationContext, 'listenPort' | 'resolveHost' | 'service'>): string {
  const hostname = ctx.resolveHost(destination.host, vsNamespace);
  const service = ctx.service(hostname);
  const only = service !== undefined && service.ports.length === 1 ? service.ports[0]?.port : undefined;
  const port = destination.port?.number ?? only ?? ctx.listenPort;
  return outboundClusterName(port, destination.subset, hostname);
}

function mirrorPolicies(rule: HTTPRoute, vsNamespace: string, ctx: RouteTranslationContext): RequestMirrorPolicy[] {
  const out: RequestMirrorPolicy[] = [];
  if (rule.mirror !== undefined) {
    const fraction = rule.mirrorPercentage !== undefined ? percentageFraction(rule.mirrorPercentage.value)
      : rule.mirrorPercent !== undefined ? integerFraction(rule.mirrorPercent) : integerFraction(100);
    if (fraction.numerator > 0) out.push(mirrorPolicy(destinationCluster(rule.mirror, vsNamespace, ctx), fraction));
  }
  for (const mirror of rule.mirrors ?? []) {
    const fraction = mirror.percentage !== undefined ? percentageFraction(mirror.percentage.value) : integerFraction(100);
    if (fraction.numerator > 0) out.push(mirrorPolicy(destinationCluster(mirror.destination, vsNamespace, ctx), fraction));
  }
  return out;
}

function mirrorPolicy(cluster: string, fraction: FractionalPercent): RequestMirrorPolicy {
  return { cluster, runtimeFraction: { defaultValue: fraction }, traceSampled: false };
}

/** Istio's Percent (a double 0..100) in millionths, which keeps fractions such as 0.1%. */
export function percentageFraction(value: number): FractionalPercent {
  return { numerator: Math.round(value * 10_000), denominator: 'MILLION' };
}

/** The deprecated integer percent. */
export function integerFraction(percent: number): FractionalPercent {
  return { numerator: percent, denominator: 'HUNDRED' };
}

/**
 * Istio's retry policy: the rule's, else the mesh default; attempts 0 (or unset in a rule's
 * retries) turns retries off. Bare status codes in retryOn become retriable status codes, and
 * previously tried hosts are avoided unless retryIgnorePreviousHosts is false or the
 * destination uses consistent hashing (retries must keep to the same host).
 */
export function translateRetryPolicy(retries: HTTPRetry | undefined, meshDefault: MeshConfig['defaultHttpRetryPolicy'], consistentHash: boolean): RetryPolicy | undefined {
  const attempts = retries !== undefined ? (retries.attempts ?? 0) : meshDefault.attempts;
  if (attempts <= 0) return undefined;
  const retryOnText = retries !== undefined ? retries.retryOn : meshDefault.retryOn;
  let retryOn = DEFAULT_RETRY_ON;
  // Istio's default policy retries a 503 (retriable-status-codes) unless retryOn says otherwise.
  let codes: number[] = [503];
  if (retryOnText !== undefined && retryOnText.trim() !== '') {
    const tokens = retryOnText.split(',').map((t) => t.trim()).filter((t) => t !== '');
    codes = tokens.filter(isStatusCode).map(Number);
    retryOn = tokens.filter((t) => !isStatusCode(t)).join(',');
    if (codes.length > 0 && !retryOn.split(',').includes('retriable-status-codes')) retryOn = retryOn === '' ? 'retriable-status-codes' : `${retryOn},retriable-status-codes`;
  }
  const avoidPreviousHosts = retries?.retryIgnorePreviousHosts ?? !consistentHash;
  return {
    retryOn,
    numRetries: attempts,
    ...(retries?.perTryTimeout !== undefined ? { perTryTimeout: protoDuration(retries.perTryTimeout) } : {}),
    ...(retries?.retryRemoteLocalities === true ? { retryPriority: previousPriorities() } : {}),
    ...(avoidPreviousHosts ? { retryHostPredicate: [{ name: PREVIOUS_HOSTS_PREDICATE, typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }] } : {}),
    hostSelectionRetryMaxAttempts: 5,
    ...(codes.length > 0 ? { retriableStatusCodes: codes } : {}),
    ...(retries?.backoff !== undefined ? { retryBackOff: { baseInterval: protoDuration(retries.backoff) } } : {}),
  };
}

/** Retry in other localities' priorities, updating every 2 attempts (Istio's setting). */
function previousPriorities(): NonNullable<RetryPolicy['retryPriority']> {
  return {
    name: PREVIOUS_PRIORITIES,
    typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig', updateFrequency: 2 },
  };
}

function isStatusCode(token: string): boolean {
  return /^\d{3}$/.test(token) && Number(token) >= 100 && Number(token) <= 599;
}

export function translateRedirect(redirect: HTTPRedirect, listenPort: number, isTls = false): RedirectAction {
  let port: number | undefined;
  if (redirect.port !== undefined) port = redirect.port;
  else if (redirect.derivePort === 'FROM_REQUEST_PORT') port = listenPort;
  if (port !== undefined) {
    // A default port is left out of the Location header.
    const scheme = redirect.scheme ?? (isTls ? 'https' : 'http');
    if ((port === 80 && scheme === 'http') || (port === 443 && scheme === 'https')) port = undefined;
  }
  return {
    ...(redirect.scheme !== undefined && redirect.scheme !== '' ? { schemeRedirect: redirect.scheme } : {}),
    ...(redirect.authority !== undefined && redirect.authority !== '' ? { hostRedirect: redirect.authority } : {}),
    ...(port !== undefined ? { portRedirect: port } : {}),
    ...(redirect.uri !== undefined && redirect.uri !== '' ? { pathRedirect: redirect.uri } : {}),
    responseCode: REDIRECT_CODES[redirect.redirectCode ?? 301] ?? 'MOVED_PERMANENTLY',
  };
}

const REDIRECT_CODES: Readonly<Record<number, RedirectResponseCode>> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

export function translateDirectResponse(response: HTTPDirectResponse): NonNullable<Route['directResponse']> {
  const body = response.body?.string !== undefined ? { inlineString: response.body.string }
    : response.body?.bytes !== undefined ? { inlineBytes: response.body.bytes } : undefined;
  return { status: response.status, ...(body !== undefined ? { body } : {}) };
}

/** gRPC status codes by the names Istio's abort.grpcStatus takes. */
const GRPC_STATUS: Readonly<Record<string, number>> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14,
  DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/**
 * Istio's fault: a fixed delay and an abort, each for a share of requests given by `percentage`
 * (or the deprecated integer `percent`); with neither, no request is faulted.
 */
export function translateFault(fault: HTTPFaultInjection): HTTPFault | undefined {
  const delay = fault.delay?.fixedDelay !== undefined
    ? { fixedDelay: protoDuration(fault.delay.fixedDelay), percentage: faultShare(fault.delay) }
    : undefined;
  let abort: HTTPFault['abort'];
  if (fault.abort !== undefined) {
    const grpcStatus = fault.abort.grpcStatus !== undefined ? (GRPC_STATUS[fault.abort.grpcStatus.toUpperCase()] ?? numberOrUndefined(fault.abort.grpcStatus)) : undefined;
    if (fault.abort.httpStatus !== undefined) abort = { httpStatus: fault.abort.httpStatus, percentage: faultShare(fault.abort) };
    else if (grpcStatus !== undefined) abort = { grpcStatus, percentage: faultShare(fault.abort) };
  }
  if (delay === undefined && abort === undefined) return undefined;
  return { '@type': FAULT_TYPE, ...(delay !== undefined ? { delay } : {}), ...(abort !== undefined ? { abort } : {}) };
}

function faultShare(part: { percentage?: { value: number } | undefined; percent?: number | undefined }): FractionalPercent {
  if (part.percentage !== undefined) return percentageFraction(part.percentage.value);
  return integerFraction(part.percent ?? 0);
}

function numberOrUndefined(text: string): number | undefined {
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

/**
 * Istio's CORS policy, always enabled. The deprecated `allowOrigin` strings are exact origins,
 * `*` standing for any. Preflights from origins the policy does not admit are forwarded to the
 * application unless unmatchedPreflights is IGNORE.
 */
export function translateCorsPolicy(cors: IstioCorsPolicy): CorsPolicy {
  const origins: StringMatcher[] = cors.allowOrigins !== undefined
    ? cors.allowOrigins.map((m) => toStringMatcher(m) ?? { safeRegex: { regex: '.*' } })
    : (cors.allowOrigin ?? []).map((o) => (o === '*' ? { safeRegex: { regex: '.*' } } : { exact: o }));
  const maxAge = cors.maxAge !== undefined ? parseDuration(cors.maxAge) : undefined;
  return {
    '@type': CORS_POLICY_TYPE,
    ...(origins.length > 0 ? { allowOriginStringMatch: origins } : {}),
    ...(nonEmpty(cors.allowMethods) ? { allowMethods: cors.allowMethods.join(',') } : {}),
    ...(nonEmpty(cors.allowHeaders) ? { allowHeaders: cors.allowHeaders.join(',') } : {}),
    ...(nonEmpty(cors.exposeHeaders) ? { exposeHeaders: cors.exposeHeaders.join(',') } : {}),
    ...(maxAge?.ok === true ? { maxAge: String(Math.floor(maxAge.value / 1000)) } : {}),
    ...(cors.allowCredentials !== undefined ? { allowCredentials: cors.allowCredentials } : {}),
    filterEnabled: { defaultValue: { numerator: 100, denominator: 'HUNDRED' } },
    forwardNotMatchingPreflights: cors.unmatchedPreflights !== 'IGNORE',
  };
}

/**
 * The span operation Istio names a route by: `<host>:<port><path>` for a single destination,
 * else `<virtual service>:<port><path>`, the path being the match (`/api*` for a prefix).
 */
export function routeOperation(route: Route, vsName: string, port: number): string {
  const m = route.match;
  const path = m.prefix !== undefined ? `${m.prefix}*` : m.path !== undefined ? m.path : m.safeRegex !== undefined ? m.safeRegex.regex : '/*';
  const parsed = route.route?.cluster !== undefined ? parseClusterName(route.route.cluster) : undefined;
  return parsed !== undefined ? `${parsed.hostname}:${parsed.port}${path}` : `${vsName}:${port}${path}`;
}

/** A route every request matches: prefix `/` and nothing else to test. */
export function isCatchAllRoute(route: Route): boolean {
  const m = route.match;
  return m.prefix === '/' && m.headers === undefined && m.queryParameters === undefined && m.dynamicMetadata === undefined;
}

/**
 * Istio's route for a service that no VirtualService routes: everything to the service port's
 * cluster, with the mesh's default retries and no timeout.
 */
export function defaultOutboundRoute(cluster: string, operation: string, ctx: Pick<RouteTranslationContext, 'client' | 'defaultRetryPolicy'>, hash?: HashPolicy): Route {
  const grpc = ctx.client === 'grpc';
  const retryPolicy = translateRetryPolicy(undefined, ctx.defaultRetryPolicy, hash !== undefined);
  return {
    name: 'default',
    match: { prefix: '/' },
    route: {
      cluster,
      ...timeoutFields('0s', grpc),
      ...(retryPolicy !== undefined ? { retryPolicy } : {}),
      ...(hash !== undefined ? { hashPolicy: [hash] } : {}),
    },
    ...(grpc ? {} : { decorator: { operation } }),
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
