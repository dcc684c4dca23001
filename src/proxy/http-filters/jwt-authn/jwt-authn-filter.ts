import type { Clock, Result, Timers } from '../../../core/index.ts';
import type { HttpExchange, HttpFilter, HttpResponse, RequestHead } from '../../http/exchange.ts';
import type { FilterDeps, HttpFilterFactory } from '../../http/filter-factory.ts';
import { headerValue } from '../../http/headers.ts';
import { isGrpcRequest, localReply } from '../../http/local-reply.ts';
import { RequestView, type CompiledRouteMatch } from '../../route/route-match.ts';
import type { Counter, StatsScope } from '../../telemetry/stats.ts';
import { InlineJwks, RemoteJwks, type FetchJwks } from './jwks-source.ts';
import {
  JWT_AUTHN_FILTER, JWT_AUTHN_TYPE, JwtPerRouteConfig, parseJwtAuthentication, parseJwtPerRoute, type JwtAuthnConfig, type JwtProvider,
} from './jwt-authn-config.ts';
import { JWT_STATUS_MESSAGES, type JwtStatus } from './jwt-status.ts';
import { JwtVerifiers, VerifyContext, type ProviderRuntime, type Verifier } from './jwt-verifier.ts';

export interface JwtAuthnFilterOptions {
  /** Fetches remote JWKS (`globalThis.fetch`). */
  readonly fetch: FetchJwks;
  /** For remote JWKS fetch timeouts. */
  readonly timers: Timers;
}

/** Envoy's limit on the path in the www-authenticate realm. */
const MAX_REALM_PATH = 256;

/**
 * `envoy.filters.http.jwt_authn`: verifies the JWTs of requests as Envoy does and as Istio's
 * RequestAuthentication configures it (one provider `origins-<n>` per jwtRule, one rule for `/`
 * requiring any of them or allowMissing: no token passes, a bad token is refused).
 *
 * A route's PerRouteConfig replaces the rules: `disabled` verifies nothing, `requirementName`
 * verifies that requirement of requirementMap (403 when the map has no such name). Otherwise the
 * first rule whose match matches decides; none verifies nothing. A request that fails is
 * answered 401 (403 for a disallowed audience) with the reason as the body
 * (`Jwt is missing`, `Jwt verification fails`, ...), `www-authenticate: Bearer
 * realm="<original URL>"` with `, error="invalid_token"` unless the token was missing, and
 * details `jwt_authn_access_denied{<reason with spaces as _>}`. A request that passes goes on
 * with the good tokens' payloads in metadata namespace `envoy.filters.http.jwt_authn` (keyed by
 * their providers' payloadInMetadata), its forwardPayloadHeader and claimToHeaders headers, and
 * without the tokens of providers that do not forward them.
 *
 * Remote JWKS are fetched from their URI with `options.fetch`, kept for cacheDuration (10 minutes
 * by default) by each filter instance, and shared by the requests that wait for a fetch. Stats,
 * under the connection manager's `http.<stat_prefix>.jwt_authn.`: allowed, denied,
 * cors_preflight_bypassed, jwks_fetch_success, jwks_fetch_failed.
 */
export class JwtAuthnFilterFactory implements HttpFilterFactory<JwtAuthnConfig, JwtPerRouteConfig> {
  readonly typeUrl = JWT_AUTHN_TYPE;
  readonly #options: JwtAuthnFilterOptions;

  constructor(options: JwtAuthnFilterOptions) {
    this.#options = options;
  }

  parse(config: Readonly<Record<string, unknown>>): Result<JwtAuthnConfig, string> {
    return parseJwtAuthentication(config);
  }

  parsePerRoute(config: Readonly<Record<string, unknown>>): Result<JwtPerRouteConfig, string> {
    return parseJwtPerRoute(config);
  }

  create(config: JwtAuthnConfig, deps: FilterDeps): HttpFilter {
    return new JwtAuthnFilter(config, deps, this.#options);
  }
}

class JwtAuthnStats {
  readonly allowed: Counter;
  readonly denied: Counter;
  readonly corsPreflightBypassed: Counter;
  readonly jwksFetchSuccess: Counter;
  readonly jwksFetchFailed: Counter;

  constructor(scope: StatsScope) {
    this.allowed = scope.counter('allowed');
    this.denied = scope.counter('denied');
    this.corsPreflightBypassed = scope.counter('cors_preflight_bypassed');
    this.jwksFetchSuccess = scope.counter('jwks_fetch_success');
    this.jwksFetchFailed = scope.counter('jwks_fetch_failed');
  }
}

interface CompiledRule {
  readonly match: CompiledRouteMatch;
  readonly verifier: Verifier | undefined;
}

class JwtAuthnFilter implements HttpFilter {
  readonly #config: JwtAuthnConfig;
  readonly #stats: JwtAuthnStats;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #rules: readonly CompiledRule[];
  readonly #named: ReadonlyMap<string, Verifier>;

  constructor(config: JwtAuthnConfig, deps: FilterDeps, options: JwtAuthnFilterOptions) {
    this.#config = config;
    this.#stats = new JwtAuthnStats(deps.httpStats.scope('jwt_authn'));
    this.#clock = deps.clock;
    this.#random = deps.random;
    const providers = [...config.providers.values()].map((provider) => this.#runtime(provider, options));
    const verifiers = new JwtVerifiers(providers);
    this.#rules = config.rules.map((rule) => ({ match: rule.match, verifier: rule.requirement === undefined ? undefined : verifiers.compile(rule.requirement) }));
    this.#named = new Map([...config.requirementMap].map(([name, requirement]) => [name, verifiers.compile(requirement)]));
  }

  async handle(exchange: HttpExchange, next: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const request = exchange.request;
    if (this.#config.bypassCorsPreflight && isCorsPreflight(request)) {
      this.#stats.corsPreflightBypassed.inc();
      this.#stats.allowed.inc();
      return next();
    }
    const perRoute = exchange.route?.perFilterConfig.get(JWT_AUTHN_FILTER);
    let verifier: Verifier | undefined;
    if (perRoute instanceof JwtPerRouteConfig) {
      if (perRoute.requirementName !== undefined) {
        verifier = this.#named.get(perRoute.requirementName);
        if (verifier === undefined) return this.#wrongRequirement(exchange, perRoute.requirementName);
      }
    } else {
      const view = new RequestView(request);
      const random = this.#random();
      verifier = this.#rules.find((rule) => rule.match.matches(view, random))?.verifier;
    }
    if (verifier === undefined) {
      this.#stats.allowed.inc();
      return next();
    }

    // Taken before verification, which may remove a token from the query string.
    const realm = originalUrl(request);
    const context = new VerifyContext(request, Math.floor(this.#clock.now() / 1000));
    const status = await verifier(context);
    if (status !== 'ok') {
      this.#stats.denied.inc();
      return this.#denied(exchange, status, realm);
    }
    if (Object.keys(context.extracted).length > 0) {
      exchange.metadata.set(JWT_AUTHN_FILTER, { ...exchange.metadata.get(JWT_AUTHN_FILTER), ...context.extracted });
    }
    if (context.clearRouteCache) exchange.clearRouteCache();
    this.#stats.allowed.inc();
    return next();
  }

  #runtime(provider: JwtProvider, options: JwtAuthnFilterOptions): ProviderRuntime {
    const source = provider.jwks;
    if (source.kind === 'local') return { config: provider, jwks: new InlineJwks(source.jwks) };
    return {
      config: provider,
      jwks: new RemoteJwks(source.remote, {
        fetch: options.fetch,
        timers: options.timers,
        clock: this.#clock,
        fetchSuccess: this.#stats.jwksFetchSuccess,
        fetchFailed: this.#stats.jwksFetchFailed,
      }),
    };
  }

  #denied(exchange: HttpExchange, status: JwtStatus, realm: string): HttpResponse {
    const reason = JWT_STATUS_MESSAGES[status];
    const grpc = isGrpcRequest(exchange.request.headers);
    const code = status === 'audienceNotAllowed' ? 403 : 401;
    const details = accessDenied(reason);
    if (this.#config.stripFailureResponse) return localReply(exchange.info, { status: code, details, grpc });
    const challenge = `Bearer realm="${realm}"${status === 'missing' ? '' : ', error="invalid_token"'}`;
    return localReply(exchange.info, { status: code, body: reason, details, headers: { 'www-authenticate': challenge }, grpc });
  }

  #wrongRequirement(exchange: HttpExchange, name: string): HttpResponse {
    this.#stats.denied.inc();
    const reason = `Wrong requirement_name: ${name}. It should be one of [${[...this.#named.keys()].sort().join(',')}]`;
    return localReply(exchange.info, {
      status: 403,
      body: this.#config.stripFailureResponse ? '' : `Failed JWT authentication: ${reason}`,
      details: accessDenied(reason),
      grpc: isGrpcRequest(exchange.request.headers),
    });
  }
}

/** Envoy's response code details for a refusal: no whitespace, so that access logs split cleanly. */
function accessDenied(reason: string): string {
  return `jwt_authn_access_denied{${reason.replace(/\s/g, '_')}}`;
}

function isCorsPreflight(request: RequestHead): boolean {
  const headers = request.headers;
  return request.method === 'OPTIONS' && (headerValue(headers, 'origin') ?? '') !== '' && (headerValue(headers, 'access-control-request-method') ?? '') !== '';
}

/** The URL the client asked for, as Envoy builds the realm: x-forwarded-proto, host, the original path (its first 256 characters). */
function originalUrl(request: RequestHead): string {
  const scheme = headerValue(request.headers, 'x-forwarded-proto') ?? request.scheme;
  const path = headerValue(request.headers, 'x-envoy-original-path') ?? request.path;
  return `${scheme}://${request.authority}${path.slice(0, MAX_REALM_PATH)}`;
}
