import type { Result, Timers } from '../../../core/index.ts';
import type { HttpExchange, HttpFilter, HttpResponse } from '../../http/exchange.ts';
import type { FilterDeps, HttpFilterFactory } from '../../http/filter-factory.ts';
import { appendHeader, HOP_BY_HOP_HEADERS, type Headers } from '../../http/headers.ts';
import { isGrpcRequest, localReply } from '../../http/local-reply.ts';
import type { Counter, StatsScope } from '../../telemetry/stats.ts';
import {
  EXT_AUTHZ_FILTER, EXT_AUTHZ_TYPE, ExtAuthzPerRoute, parseExtAuthz, parseExtAuthzPerRoute, type BufferSettings, type ExtAuthzConfig, type HeaderNameTest,
} from './ext-authz-config.ts';
import { HttpAuthzClient, type AuthzPools, type CheckBody } from './http-authz-client.ts';
import { bufferRequestBody } from './request-body-buffer.ts';

export interface ExtAuthzFilterOptions {
  /** The proxy's connection pools (UpstreamPools), which carry the check requests. */
  readonly pools: AuthzPools;
  /** For the check timeout. */
  readonly timers: Timers;
}

/** Lists the authorizer's own headers to take off the upstream request (Envoy's x-envoy-auth-headers-to-remove). */
const HEADERS_TO_REMOVE = 'x-envoy-auth-headers-to-remove';
const FAILURE_MODE_ALLOWED_HEADER = 'x-envoy-auth-failure-mode-allowed';

/**
 * `envoy.filters.http.ext_authz` with an HTTP authorization service: each request is checked by
 * the service (see HttpAuthzClient) before it goes on, as Istio's CUSTOM AuthorizationPolicy
 * configures it (`filterEnabledMetadata` then picks the requests the RBAC shadow rules matched).
 *
 * A 200 lets the request go on, with the answer's headers that allowedUpstreamHeaders lists set
 * on it (allowedUpstreamHeadersToAppend: added), those it names in x-envoy-auth-headers-to-remove
 * removed, those dynamicMetadataFromHeaders lists written to metadata namespace
 * `envoy.filters.http.ext_authz`, and those allowedClientHeadersOnSuccess lists added to the
 * response. Any other status below 500 refuses the request with that status, the answer's body and
 * its headers allowedClientHeaders lets through (all but host when unset), flag UAEX, details
 * `ext_authz_denied`. No answer in time, an unknown cluster or a 5xx is an error: refused with
 * statusOnError (403) and no body, flag UAEX, details `ext_authz_error`, unless failureModeAllow
 * lets it go on. With withRequestBody the check carries the body (413 for one over
 * maxRequestBytes unless allowPartialMessage). A route's ExtAuthzPerRoute may disable the filter
 * or change the body settings.
 *
 * Stats, under the connection manager's `http.<stat_prefix>.ext_authz.` (then statPrefix): ok,
 * denied, error, failure_mode_allowed, disabled.
 */
export class ExtAuthzFilterFactory implements HttpFilterFactory<ExtAuthzConfig, ExtAuthzPerRoute> {
  readonly typeUrl = EXT_AUTHZ_TYPE;
  readonly #options: ExtAuthzFilterOptions;

  constructor(options: ExtAuthzFilterOptions) {
    this.#options = options;
  }

  parse(config: Readonly<Record<string, unknown>>): Result<ExtAuthzConfig, string> {
    return parseExtAuthz(config);
  }

  parsePerRoute(config: Readonly<Record<string, unknown>>): Result<ExtAuthzPerRoute, string> {
    return parseExtAuthzPerRoute(config);
  }

  create(config: ExtAuthzConfig, deps: FilterDeps): HttpFilter {
    return new ExtAuthzFilter(config, new HttpAuthzClient(deps.clusters, this.#options.pools, this.#options.timers), deps.httpStats);
  }
}

class ExtAuthzStats {
  readonly ok: Counter;
  readonly denied: Counter;
  readonly error: Counter;
  readonly failureModeAllowed: Counter;
  readonly disabled: Counter;

  constructor(scope: StatsScope) {
    this.ok = scope.counter('ok');
    this.denied = scope.counter('denied');
    this.error = scope.counter('error');
    this.failureModeAllowed = scope.counter('failure_mode_allowed');
    this.disabled = scope.counter('disabled');
  }
}

class ExtAuthzFilter implements HttpFilter {
  readonly #config: ExtAuthzConfig;
  readonly #client: HttpAuthzClient;
  readonly #stats: ExtAuthzStats;

  constructor(config: ExtAuthzConfig, client: HttpAuthzClient, httpStats: StatsScope) {
    this.#config = config;
    this.#client = client;
    const scope = httpStats.scope('ext_authz');
    this.#stats = new ExtAuthzStats(config.statPrefix === '' ? scope : scope.scope(config.statPrefix));
  }

  async handle(exchange: HttpExchange, next: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const config = this.#config;
    const own = exchange.route?.perFilterConfig.get(EXT_AUTHZ_FILTER);
    const perRoute = own instanceof ExtAuthzPerRoute ? own : undefined;
    if (perRoute?.disabled === true || (config.enabledFor !== undefined && !config.enabledFor(exchange.metadata))) {
      this.#stats.disabled.inc();
      return next();
    }

    let body: CheckBody | undefined;
    const buffering = perRoute?.disableRequestBodyBuffering === true ? undefined : perRoute?.withRequestBody ?? config.withRequestBody;
    if (buffering !== undefined && !exchange.body.readableEnded) {
      const buffered = await readBody(exchange, buffering);
      if (buffered === undefined) {
        return localReply(exchange.info, { status: 413, body: 'Payload Too Large', details: 'request_payload_too_large', grpc: isGrpcRequest(exchange.request.headers) });
      }
      body = buffered;
    }

    const answer = await this.#client.check(config, exchange.request, body, exchange.signal);
    switch (answer.kind) {
      case 'allowed': {
        this.#stats.ok.inc();
        const onSuccess = this.#allow(exchange, answer.headers);
        const response = await next();
        for (const [name, value] of onSuccess) appendAll(response.headers, name, value);
        return response;
      }
      case 'denied': {
        this.#stats.denied.inc();
        const grpc = isGrpcRequest(exchange.request.headers);
        const response = localReply(exchange.info, { status: answer.status, body: answer.body.toString(), flag: 'UAEX', details: 'ext_authz_denied', grpc });
        for (const [name, value] of picked(answer.headers, config.clientHeaders)) {
          // A gRPC client needs the trailers-only answer's own content-type.
          if (!(grpc && name === 'content-type')) response.headers[name] = value;
        }
        return response;
      }
      case 'error': {
        this.#stats.error.inc();
        if (!config.failureModeAllow) {
          return localReply(exchange.info, { status: config.statusOnError, flag: 'UAEX', details: 'ext_authz_error', grpc: isGrpcRequest(exchange.request.headers) });
        }
        this.#stats.failureModeAllowed.inc();
        if (config.failureModeAllowHeaderAdd) exchange.request.headers[FAILURE_MODE_ALLOWED_HEADER] = 'true';
        return next();
      }
    }
  }

  /** Applies an allowing answer to the request; returns the headers for the response. */
  #allow(exchange: HttpExchange, headers: Headers): readonly (readonly [string, string | string[]])[] {
    const config = this.#config;
    const request = exchange.request.headers;
    let changed = false;
    for (const [name, value] of picked(headers, config.upstreamHeaders)) {
      request[name] = value;
      changed = true;
    }
    for (const [name, value] of picked(headers, config.upstreamHeadersToAppend)) {
      appendAll(request, name, value);
      changed = true;
    }
    const remove = headers[HEADERS_TO_REMOVE];
    for (const name of (Array.isArray(remove) ? remove.join(',') : remove ?? '').split(',')) {
      const key = name.trim().toLowerCase();
      if (key === '' || key === 'host' || request[key] === undefined) continue;
      delete request[key];
      changed = true;
    }
    const metadata = Object.fromEntries(picked(headers, config.metadataFromHeaders).map(([name, value]) => [name, Array.isArray(value) ? value.join(',') : value]));
    if (Object.keys(metadata).length > 0) exchange.metadata.set(EXT_AUTHZ_FILTER, { ...exchange.metadata.get(EXT_AUTHZ_FILTER), ...metadata });
    if (changed && config.clearRouteCache) exchange.clearRouteCache();
    return picked(headers, config.clientHeadersOnSuccess);
  }
}

/**
 * The body for the check, the exchange's body replaced by one that replays it; undefined when it
 * is over the limit and no partial body is allowed.
 */
async function readBody(exchange: HttpExchange, settings: BufferSettings): Promise<CheckBody | undefined> {
  const buffered = await bufferRequestBody(exchange.body, settings.maxRequestBytes);
  exchange.body = buffered.replay;
  if (buffered.partial && !settings.allowPartialMessage) return undefined;
  return { bytes: buffered.bytes, partial: buffered.partial };
}

function appendAll(headers: Headers, name: string, value: string | string[]): void {
  for (const one of Array.isArray(value) ? value : [value]) appendHeader(headers, name, one);
}

/** The headers of an answer a list names, without those that frame the message (content-length, hop-by-hop) or name the host. */
function picked(headers: Headers, test: HeaderNameTest): (readonly [string, string | string[]])[] {
  return Object.entries(headers).filter(([name]) => name !== 'content-length' && name !== 'host' && name !== HEADERS_TO_REMOVE && !HOP_BY_HOP_HEADERS.has(name) && test(name));
}
