import { err, ok, type Result } from '../../../core/index.ts';
import { CORS_TYPE, HTTP_FILTER } from '../../../xds/envoy/index.ts';
import type { HttpExchange, HttpFilter, HttpResponse } from '../../http/exchange.ts';
import type { FilterDeps, HttpFilterFactory } from '../../http/filter-factory.ts';
import { headerValue, type Headers } from '../../http/headers.ts';
import type { Counter } from '../../telemetry/stats.ts';
import { CompiledCorsPolicy, parseCorsPolicy } from './cors-policy.ts';

/** The filter's own config (`envoy.extensions.filters.http.cors.v3.Cors`) has no settings: policies come per route. */
export type CorsConfig = Readonly<Record<string, never>>;

/**
 * `envoy.filters.http.cors`: applies the CORS policy of the request's route (its
 * `typedPerFilterConfig`, under the filter's name `envoy.filters.http.cors`). A preflight (OPTIONS
 * with Origin and Access-Control-Request-Method) from an admitted origin is answered here; from
 * another origin it goes on to the application, unless forwardNotMatchingPreflights is false,
 * which answers it here without Access-Control-Allow-Origin. Other requests from an admitted origin get
 * Access-Control-Allow-Origin (and credentials, exposed headers) on their response; requests from
 * other origins pass untouched.
 */
export class CorsFilterFactory implements HttpFilterFactory<CorsConfig, CompiledCorsPolicy> {
  readonly typeUrl = CORS_TYPE;

  parse(config: Readonly<Record<string, unknown>>): Result<CorsConfig, string> {
    const unknown = Object.keys(config).filter((field) => field !== '@type');
    if (unknown.length > 0) return err(`${unknown.join(', ')}: the Cors filter takes no settings (CORS policies are set per route)`);
    return ok({});
  }

  parsePerRoute(config: Readonly<Record<string, unknown>>): Result<CompiledCorsPolicy, string> {
    return parseCorsPolicy(config);
  }

  create(_config: CorsConfig, deps: FilterDeps): HttpFilter {
    return new CorsFilter(deps.random, deps.httpStats.counter('cors.origin_valid'), deps.httpStats.counter('cors.origin_invalid'));
  }
}

class CorsFilter implements HttpFilter {
  readonly #random: () => number;
  readonly #originValid: Counter;
  readonly #originInvalid: Counter;

  constructor(random: () => number, originValid: Counter, originInvalid: Counter) {
    this.#random = random;
    this.#originValid = originValid;
    this.#originInvalid = originInvalid;
  }

  handle(exchange: HttpExchange, next: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const policy = exchange.route?.perFilterConfig.get(HTTP_FILTER.cors);
    if (!(policy instanceof CompiledCorsPolicy)) return next();
    if (policy.enabledShare < 1 && this.#random() >= policy.enabledShare) return next();
    const request = exchange.request;
    const origin = headerValue(request.headers, 'origin');
    if (origin === undefined || origin === '') return next();
    const allowed = policy.allowsOrigin(origin);
    (allowed ? this.#originValid : this.#originInvalid).inc();

    const requestedMethod = headerValue(request.headers, 'access-control-request-method');
    if (request.method === 'OPTIONS' && requestedMethod !== undefined && requestedMethod !== '') {
      if (!allowed && policy.forwardNotMatchingPreflights) return next();
      exchange.info.responseCodeDetails = 'cors_response';
      return Promise.resolve({ status: 200, headers: preflightHeaders(policy, request.headers, allowed ? origin : undefined, requestedMethod), body: null });
    }
    return allowed ? next().then((response) => withCorsHeaders(response, policy, origin)) : next();
  }
}

function withCorsHeaders(response: HttpResponse, policy: CompiledCorsPolicy, origin: string): HttpResponse {
  const headers = response.headers;
  headers['access-control-allow-origin'] = origin;
  if (policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
  if (policy.exposeHeaders !== '') headers['access-control-expose-headers'] = policy.exposeHeaders;
  return response;
}

/** The preflight answer: `*` in allowMethods/allowHeaders echoes what the browser asked for. */
function preflightHeaders(policy: CompiledCorsPolicy, request: Headers, origin: string | undefined, requestedMethod: string): Headers {
  const headers: Headers = { 'content-length': '0' };
  if (origin !== undefined) headers['access-control-allow-origin'] = origin;
  if (policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
  if (policy.allowMethods !== '') headers['access-control-allow-methods'] = policy.allowMethods === '*' ? requestedMethod : policy.allowMethods;
  if (policy.allowHeaders !== '') {
    headers['access-control-allow-headers'] = policy.allowHeaders === '*' ? (headerValue(request, 'access-control-request-headers') ?? '') : policy.allowHeaders;
  }
  if (policy.maxAge !== '') headers['access-control-max-age'] = policy.maxAge;
  if (policy.allowPrivateNetworkAccess && headerValue(request, 'access-control-request-private-network') === 'true') {
    headers['access-control-allow-private-network'] = 'true';
  }
  return headers;
}
