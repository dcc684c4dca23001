import * as z from 'zod';
import {
  addIssue, ALWAYS, crossField, cidr, duration, hostNameProblem, int32, isIP, labels, percent, portNumber, re2Regex, StringMatch, uint32,
} from '../../schema/common.ts';
import { Messages } from '../../messages.ts';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';
import { Destination, exportTo, gatewayReferences } from './shared.ts';

const HEADER_NAME = /^[-_A-Za-z0-9]+$/;
const JWT_CLAIM_HEADER = /^@request\.auth\.claims(\.[^.\s]+|\[[^\]]+\])+$/;

function headerNameProblem(name: string, allowClaims: boolean): string | undefined {
  if (name === '') return 'header name must not be empty';
  if (allowClaims && name.startsWith('@')) return JWT_CLAIM_HEADER.test(name) ? undefined : `"${name}" is not a JWT claim reference (expected @request.auth.claims.<claim>)`;
  return HEADER_NAME.test(name) ? undefined : `"${name}" is not a valid header name (letters, digits, '-' and '_')`;
}

function stringMatchMap(allowClaims: boolean) {
  return z.record(z.string(), StringMatch).superRefine(crossField((map, ctx) => {
    for (const name of Object.keys(map)) {
      const problem = headerNameProblem(name, allowClaims);
      if (problem !== undefined) addIssue(ctx, [name], problem);
    }
  }), ALWAYS);
}

/** URI, scheme, method and authority matches: an empty prefix or an empty match is refused. */
const RequiredStringMatch = StringMatch.superRefine(crossField((m, ctx) => {
  if (m.exact === undefined && m.prefix === undefined && m.regex === undefined) addIssue(ctx, [], 'one of exact, prefix or regex is required');
  if (m.prefix === '') addIssue(ctx, ['prefix'], 'prefix must not be empty');
  if (m.regex === '') addIssue(ctx, ['regex'], 'regex must not be empty');
}), ALWAYS);

export const HTTPMatchRequest = z
  .strictObject({
    name: z.string().optional(),
    uri: RequiredStringMatch.optional(),
    scheme: RequiredStringMatch.optional(),
    method: RequiredStringMatch.optional(),
    authority: RequiredStringMatch.optional(),
    headers: stringMatchMap(true).optional(),
    port: portNumber.optional(),
    sourceLabels: labels.optional(),
    gateways: gatewayReferences.optional(),
    queryParams: z.record(z.string(), StringMatch).optional(),
    ignoreUriCase: z.boolean().optional(),
    withoutHeaders: stringMatchMap(true).optional(),
    sourceNamespace: z.string().optional(),
    statPrefix: z.string().optional(),
  })
  .superRefine(crossField((m, ctx) => {
    const { name: _name, statPrefix: _statPrefix, ...conditions } = m;
    if (Object.values(conditions).every((v) => v === undefined)) {
      addIssue(ctx, [], 'a match must set at least one condition (uri, headers, method, ...); leave "match" out to match every request');
    }
  }), ALWAYS);
export type HTTPMatchRequest = z.infer<typeof HTTPMatchRequest>;

const headerMap = z.record(z.string(), z.string()).superRefine(crossField((map, ctx) => {
  for (const name of Object.keys(map)) {
    const problem = headerNameProblem(name, false);
    if (problem !== undefined) addIssue(ctx, [name], problem);
  }
}), ALWAYS);

export const HeaderOperations = z.strictObject({
  set: headerMap.optional(),
  add: headerMap.optional(),
  remove: z.array(z.string()).optional(),
});
export type HeaderOperations = z.infer<typeof HeaderOperations>;

export const Headers = z.strictObject({ request: HeaderOperations.optional(), response: HeaderOperations.optional() });
export type Headers = z.infer<typeof Headers>;

export const HTTPRouteDestination = z.strictObject({
  destination: Destination,
  weight: z.number().int().min(0).max(100).optional(),
  headers: Headers.optional(),
});
export type HTTPRouteDestination = z.infer<typeof HTTPRouteDestination>;

export const RouteDestination = z.strictObject({
  destination: Destination,
  weight: z.number().int().min(0).max(100).optional(),
});
export type RouteDestination = z.infer<typeof RouteDestination>;

const REDIRECT_CODES = [301, 302, 303, 307, 308];

export const HTTPRedirect = z
  .strictObject({
    uri: z.string().optional(),
    authority: z.string().optional(),
    port: portNumber.optional(),
    derivePort: z.enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
    scheme: z.string().optional(),
    redirectCode: uint32.optional(),
  })
  .superRefine(crossField((r, ctx) => {
    if (r.uri === undefined && r.authority === undefined && r.port === undefined && r.derivePort === undefined && r.scheme === undefined) {
      addIssue(ctx, [], 'a redirect must set at least one of uri, authority, port, derivePort or scheme');
    }
    if (r.port !== undefined && r.derivePort !== undefined) addIssue(ctx, ['derivePort'], 'only one of port or derivePort may be set');
    if (r.redirectCode !== undefined && !REDIRECT_CODES.includes(r.redirectCode)) {
      addIssue(ctx, ['redirectCode'], `${r.redirectCode} is not a redirect code (expected one of ${REDIRECT_CODES.join(', ')})`);
    }
  }), ALWAYS);
export type HTTPRedirect = z.infer<typeof HTTPRedirect>;

const MAX_DIRECT_RESPONSE_BODY = 1024 * 1024;

export const HTTPDirectResponse = z
  .strictObject({
    status: z.number().int(),
    body: z.strictObject({ string: z.string().optional(), bytes: z.base64().optional() }).optional(),
  })
  .superRefine(crossField((r, ctx) => {
    if (r.status < 200 || r.status > 599) addIssue(ctx, ['status'], `must be an HTTP status 200..599, got ${r.status}`);
    if (r.body?.string !== undefined && r.body.bytes !== undefined) addIssue(ctx, ['body'], 'only one of string or bytes may be set');
    const size = r.body?.string !== undefined ? Buffer.byteLength(r.body.string) : r.body?.bytes !== undefined ? Math.floor((r.body.bytes.length * 3) / 4) : 0;
    if (size > MAX_DIRECT_RESPONSE_BODY) addIssue(ctx, ['body'], `body is ${size} bytes; the limit is 1 MiB`);
  }), ALWAYS);
export type HTTPDirectResponse = z.infer<typeof HTTPDirectResponse>;

export const Delegate = z.strictObject({ name: z.string(), namespace: z.string().optional() });
export type Delegate = z.infer<typeof Delegate>;

export const HTTPRewrite = z
  .strictObject({
    uri: z.string().optional(),
    authority: z.string().optional(),
    uriRegexRewrite: z.strictObject({ match: re2Regex, rewrite: z.string() }).optional(),
  })
  .superRefine(crossField((r, ctx) => {
    if (r.uri === undefined && r.authority === undefined && r.uriRegexRewrite === undefined) addIssue(ctx, [], 'a rewrite must set uri, authority or uriRegexRewrite');
    if (r.uri !== undefined && r.uriRegexRewrite !== undefined) addIssue(ctx, ['uriRegexRewrite'], 'only one of uri or uriRegexRewrite may be set');
  }), ALWAYS);
export type HTTPRewrite = z.infer<typeof HTTPRewrite>;

/** The retry conditions Envoy understands (x-envoy-retry-on and x-envoy-retry-grpc-on). */
export const RETRY_ON_POLICIES = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
];

export const HTTPRetry = z
  .strictObject({
    attempts: int32.min(0).optional(),
    perTryTimeout: duration().optional(),
    retryOn: z.string().optional(),
    retryRemoteLocalities: z.boolean().optional(),
    retryIgnorePreviousHosts: z.boolean().optional(),
    backoff: duration().optional(),
  })
  .superRefine(crossField((r, ctx) => {
    if (r.retryOn === undefined) return;
    for (const token of r.retryOn.split(',').map((t) => t.trim())) {
      if (RETRY_ON_POLICIES.includes(token)) continue;
      if (/^\d+$/.test(token) && Number(token) >= 100 && Number(token) <= 599) continue;
      addIssue(ctx, ['retryOn'], `"${token}" is not a retry condition (expected an HTTP status code or one of ${RETRY_ON_POLICIES.join(', ')})`);
    }
  }), ALWAYS);
export type HTTPRetry = z.infer<typeof HTTPRetry>;

/** Deprecated integer percentage that Istio still accepts beside `percentage`. */
const legacyPercent = z.number().int().min(0).max(100);

export const HTTPFaultInjection = z
  .strictObject({
    delay: z
      .strictObject({
        fixedDelay: duration().optional(),
        exponentialDelay: duration().optional(),
        percentage: percent.optional(),
        percent: legacyPercent.optional(),
      })
      .superRefine(crossField((d, ctx) => {
        if (d.fixedDelay === undefined && d.exponentialDelay === undefined) addIssue(ctx, [], 'a delay must set fixedDelay');
        if (d.fixedDelay !== undefined && d.exponentialDelay !== undefined) addIssue(ctx, [], 'only one of fixedDelay or exponentialDelay may be set');
        if (d.exponentialDelay !== undefined) addIssue(ctx, ['exponentialDelay'], 'exponentialDelay is not supported; use fixedDelay');
        if (d.percentage !== undefined && d.percent !== undefined) addIssue(ctx, ['percent'], 'only one of percentage or the deprecated percent may be set');
      }), ALWAYS)
      .optional(),
    abort: z
      .strictObject({
        httpStatus: z.number().int().optional(),
        grpcStatus: z.string().optional(),
        http2Error: z.string().optional(),
        percentage: percent.optional(),
        percent: legacyPercent.optional(),
      })
      .superRefine(crossField((a, ctx) => {
        const set = (['httpStatus', 'grpcStatus', 'http2Error'] as const).filter((k) => a[k] !== undefined);
        if (set.length === 0) addIssue(ctx, [], 'an abort must set httpStatus or grpcStatus');
        if (set.length > 1) addIssue(ctx, [], `only one of httpStatus, grpcStatus or http2Error may be set, got ${set.join(' and ')}`);
        if (a.httpStatus !== undefined && (a.httpStatus < 200 || a.httpStatus > 599)) addIssue(ctx, ['httpStatus'], `must be an HTTP status 200..599, got ${a.httpStatus}`);
        if (a.http2Error !== undefined) addIssue(ctx, ['http2Error'], 'http2Error is not supported; use httpStatus or grpcStatus');
        if (a.percentage !== undefined && a.percent !== undefined) addIssue(ctx, ['percent'], 'only one of percentage or the deprecated percent may be set');
      }), ALWAYS)
      .optional(),
  })
  .superRefine(crossField((f, ctx) => {
    if (f.delay === undefined && f.abort === undefined) addIssue(ctx, [], 'a fault must set delay or abort');
  }), ALWAYS);
export type HTTPFaultInjection = z.infer<typeof HTTPFaultInjection>;

export const HTTPMirrorPolicy = z.strictObject({ destination: Destination, percentage: percent.optional() });
export type HTTPMirrorPolicy = z.infer<typeof HTTPMirrorPolicy>;

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

export const CorsPolicy = z
  .strictObject({
    allowOrigin: z.array(z.string()).optional(),
    allowOrigins: z.array(StringMatch).optional(),
    allowMethods: z.array(z.string()).optional(),
    allowHeaders: z.array(z.string()).optional(),
    exposeHeaders: z.array(z.string()).optional(),
    maxAge: duration().optional(),
    allowCredentials: z.boolean().optional(),
    unmatchedPreflights: z.enum(['UNSPECIFIED', 'FORWARD', 'IGNORE']).optional(),
  })
  .superRefine(crossField((c, ctx) => {
    c.allowMethods?.forEach((m, i) => {
      if (!HTTP_METHODS.includes(m) && m !== '*') addIssue(ctx, ['allowMethods', i], `"${m}" is not an HTTP method (expected one of ${HTTP_METHODS.join(', ')})`);
    });
    for (const field of ['allowHeaders', 'exposeHeaders'] as const) {
      c[field]?.forEach((h, i) => {
        if (h !== '*' && headerNameProblem(h, false) !== undefined) addIssue(ctx, [field, i], `"${h}" is not a valid header name`);
      });
    }
  }), ALWAYS);
export type CorsPolicy = z.infer<typeof CorsPolicy>;

export const HTTPRoute = z
  .strictObject({
    name: z.string().optional(),
    match: z.array(HTTPMatchRequest).optional(),
    route: z.array(HTTPRouteDestination).optional(),
    redirect: HTTPRedirect.optional(),
    directResponse: HTTPDirectResponse.optional(),
    delegate: Delegate.optional(),
    rewrite: HTTPRewrite.optional(),
    timeout: duration().optional(),
    retries: HTTPRetry.optional(),
    fault: HTTPFaultInjection.optional(),
    mirror: Destination.optional(),
    mirrors: z.array(HTTPMirrorPolicy).optional(),
    mirrorPercentage: percent.optional(),
    mirrorPercent: legacyPercent.optional(),
    corsPolicy: CorsPolicy.optional(),
    headers: Headers.optional(),
  })
  .superRefine(crossField((r, ctx) => {
    const actions = (['route', 'redirect', 'directResponse', 'delegate'] as const).filter((k) => r[k] !== undefined && !(k === 'route' && r.route?.length === 0));
    if (actions.length === 0) addIssue(ctx, [], 'an HTTP rule must set one of route, redirect, directResponse or delegate');
    if (actions.length > 1) addIssue(ctx, [actions[1]!], `${actions.join(' and ')} are mutually exclusive; set only one`);
    if (r.rewrite !== undefined && r.redirect !== undefined) addIssue(ctx, ['rewrite'], 'rewrite cannot be combined with redirect');
    if (r.mirror !== undefined && r.mirrors !== undefined) addIssue(ctx, ['mirrors'], 'only one of mirror or mirrors may be set');
    if (r.mirrorPercentage !== undefined && r.mirrorPercent !== undefined) addIssue(ctx, ['mirrorPercent'], 'only one of mirrorPercentage or the deprecated mirrorPercent may be set');
    checkWeights(r.route, ctx);
  }), ALWAYS);
export type HTTPRoute = z.infer<typeof HTTPRoute>;

/** Istio's rule: with several destinations, the weights must add up to 100. */
function checkWeights(route: readonly { weight?: number | undefined }[] | undefined, ctx: z.core.$RefinementCtx<unknown>): void {
  if (route === undefined || route.length < 2) return;
  if (route.some((d) => d.weight !== undefined && typeof d.weight !== 'number')) return;
  const total = route.reduce((sum, d) => sum + (d.weight ?? 0), 0);
  if (total !== 100) {
    addIssue(ctx, ['route'], `the weights of the destinations add up to ${total}; they must add up to 100 (${route.map((d) => d.weight ?? 0).join(' + ')})`, Messages.RouteWeightsNotSumTo100.code);
  }
}

const L4Match = {
  destinationSubnets: z.array(cidr).optional(),
  port: portNumber.optional(),
  sourceLabels: labels.optional(),
  gateways: gatewayReferences.optional(),
  sourceNamespace: z.string().optional(),
};

export const TLSMatchAttributes = z.strictObject({
  sniHosts: z.array(z.string().check((ctx) => {
    const problem = hostNameProblem(ctx.value);
    if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  })).min(1),
  ...L4Match,
});
export type TLSMatchAttributes = z.infer<typeof TLSMatchAttributes>;

export const L4MatchAttributes = z.strictObject(L4Match);
export type L4MatchAttributes = z.infer<typeof L4MatchAttributes>;

export const TLSRoute = z
  .strictObject({ match: z.array(TLSMatchAttributes).min(1), route: z.array(RouteDestination).min(1) })
  .superRefine(crossField((r, ctx) => checkWeights(r.route, ctx)), ALWAYS);
export type TLSRoute = z.infer<typeof TLSRoute>;

export const TCPRoute = z
  .strictObject({ match: z.array(L4MatchAttributes).optional(), route: z.array(RouteDestination).min(1) })
  .superRefine(crossField((r, ctx) => checkWeights(r.route, ctx)), ALWAYS);
export type TCPRoute = z.infer<typeof TCPRoute>;

export const VirtualServiceSpec = z
  .strictObject({
    hosts: z.array(z.string()).optional(),
    gateways: gatewayReferences.optional(),
    http: z.array(HTTPRoute).optional(),
    tls: z.array(TLSRoute).optional(),
    tcp: z.array(TCPRoute).optional(),
    exportTo: exportTo.optional(),
  })
  .superRefine(crossField((vs, ctx) => {
    const hosts = vs.hosts ?? [];
    const isDelegate = hosts.length === 0;
    const boundToMesh = vs.gateways === undefined || vs.gateways.length === 0 || vs.gateways.includes('mesh');
    if (isDelegate) {
      if (vs.gateways !== undefined && vs.gateways.length > 0) addIssue(ctx, ['hosts'], 'at least one host is required (a delegate VirtualService, which has no hosts, cannot set gateways)');
      if (vs.tcp !== undefined || vs.tls !== undefined) addIssue(ctx, ['hosts'], 'at least one host is required (a delegate VirtualService, which has no hosts, carries only http rules)');
    }
    hosts.forEach((host, i) => {
      if (host === '*' && boundToMesh) {
        addIssue(ctx, ['hosts', i], 'the wildcard host "*" is allowed only for VirtualServices bound to gateways (not to the mesh)');
        return;
      }
      if (isIP(host)) return;
      const problem = hostNameProblem(host.includes('/') ? host.slice(host.indexOf('/') + 1) : host);
      if (host.includes('/')) addIssue(ctx, ['hosts', i], `host "${host}" must not name a namespace (write the host alone; namespaces belong in gateways)`);
      else if (problem !== undefined) addIssue(ctx, ['hosts', i], problem);
    });
    if ((vs.http ?? []).length === 0 && (vs.tls ?? []).length === 0 && (vs.tcp ?? []).length === 0) {
      addIssue(ctx, [], 'at least one http, tls or tcp rule is required');
    }
  }), ALWAYS);
export type VirtualServiceSpec = z.infer<typeof VirtualServiceSpec>;

export const VirtualServiceKind = defineKind({
  kind: 'VirtualService',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(VirtualServiceSpec),
});
export type VirtualService = z.infer<typeof VirtualServiceKind.schema>;
