import type { Result } from '../../../core/index.ts';
import type { HttpExchange, HttpFilter, HttpResponse } from '../../http/exchange.ts';
import type { FilterDeps, HttpFilterFactory } from '../../http/filter-factory.ts';
import { isGrpcRequest, localReply } from '../../http/local-reply.ts';
import { rbacConnection, RbacStats, type RbacInput } from '../../security/rbac/index.ts';
import {
  parseRbacFilter, parseRbacPerRoute, RBAC_HTTP_FILTER_NAME, RBAC_HTTP_TYPE, RbacPerRoute, type RbacFilterSettings,
} from './rbac-settings.ts';

/** Where the filter leaves its results, for later filters and the access log (Envoy's namespace). */
export const RBAC_METADATA_NAMESPACE = 'envoy.filters.http.rbac';
/**
 * Weft's own response header on a denial, naming the policy that decided (`none` when none
 * matched): the caller's proxy sees it on the 403 and can log it, which Envoy's
 * %RESPONSE_CODE_DETAILS% only shows on the denying side.
 */
export const RBAC_POLICY_HEADER = 'x-weft-rbac-policy';

/**
 * `envoy.filters.http.rbac`: Envoy's RBAC on each request, before the router.
 *
 * Shadow rules (when configured) are evaluated first and never block: `rbac.<shadow prefix>
 * shadow_allowed|shadow_denied` count them, and dynamic metadata `envoy.filters.http.rbac` gets
 * `<shadow prefix>shadow_engine_result` (`allowed`/`denied`) and, when a policy matched,
 * `<shadow prefix>shadow_effective_policy_id`. Then the enforced rules: `<rules prefix>
 * enforced_engine_result` and `<rules prefix>enforced_effective_policy_id` (when a policy
 * matched) go to the same namespace, and `rbac.<rules prefix>allowed|denied` count. A denied
 * request is answered here: 403 `RBAC: access denied` (gRPC: PERMISSION_DENIED), details
 * `rbac_access_denied_matched_policy[<policy or none>]`, and the `x-weft-rbac-policy` header.
 * A LOG action allows every request and sets `envoy.common` `access_log_hint` to whether a
 * policy matched, as Envoy does. Without rules the filter allows everything, writing nothing.
 *
 * A route's (or virtual host's) `typedPerFilterConfig['envoy.filters.http.rbac']` RBACPerRoute
 * replaces both rule sets for its requests, its non-empty stat prefixes replacing the filter's in
 * the metadata keys; one without `rbac` turns the filter off there. Stats always carry the
 * filter's prefixes and live under the connection manager's `http.<stat_prefix>.` scope.
 */
export class RbacFilterFactory implements HttpFilterFactory<RbacFilterSettings, RbacPerRoute> {
  readonly typeUrl = RBAC_HTTP_TYPE;

  parse(config: Readonly<Record<string, unknown>>): Result<RbacFilterSettings, string> {
    return parseRbacFilter(config);
  }

  parsePerRoute(config: Readonly<Record<string, unknown>>): Result<RbacPerRoute, string> {
    return parseRbacPerRoute(config);
  }

  create(settings: RbacFilterSettings, deps: FilterDeps): HttpFilter {
    return new RbacFilter(settings, new RbacStats(deps.httpStats, settings.rulesStatPrefix, settings.shadowRulesStatPrefix));
  }
}

class RbacFilter implements HttpFilter {
  readonly #settings: RbacFilterSettings;
  readonly #stats: RbacStats;

  constructor(settings: RbacFilterSettings, stats: RbacStats) {
    this.#settings = settings;
    this.#stats = stats;
  }

  handle(exchange: HttpExchange, next: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const own = exchange.route?.perFilterConfig.get(RBAC_HTTP_FILTER_NAME);
    const settings = own instanceof RbacPerRoute ? own.settings : this.#settings;
    if (settings === undefined || (settings.rules === undefined && settings.shadowRules === undefined)) return next();
    const input: RbacInput = { connection: rbacConnection(exchange.downstream), request: { head: exchange.request, metadata: exchange.metadata } };
    const fields: Record<string, unknown> = {};

    if (settings.shadowRules !== undefined) {
      const prefix = settings.shadowRulesStatPrefix !== '' ? settings.shadowRulesStatPrefix : this.#settings.shadowRulesStatPrefix;
      const shadow = settings.shadowRules.evaluate(input);
      (shadow.allowed ? this.#stats.shadowAllowed : this.#stats.shadowDenied).inc();
      if (shadow.matchedPolicy !== undefined) fields[`${prefix}shadow_effective_policy_id`] = shadow.matchedPolicy;
      fields[`${prefix}shadow_engine_result`] = shadow.allowed ? 'allowed' : 'denied';
    }
    const rules = settings.rules;
    if (rules === undefined) {
      addMetadata(exchange, RBAC_METADATA_NAMESPACE, fields);
      return next();
    }

    const prefix = settings.rulesStatPrefix !== '' ? settings.rulesStatPrefix : this.#settings.rulesStatPrefix;
    const decision = rules.evaluate(input);
    if (decision.matchedPolicy !== undefined) fields[`${prefix}enforced_effective_policy_id`] = decision.matchedPolicy;
    fields[`${prefix}enforced_engine_result`] = decision.allowed ? 'allowed' : 'denied';
    addMetadata(exchange, RBAC_METADATA_NAMESPACE, fields);
    if (rules.action === 'LOG') addMetadata(exchange, 'envoy.common', { access_log_hint: decision.matchedPolicy !== undefined });
    if (decision.allowed) {
      this.#stats.allowed.inc();
      return next();
    }
    this.#stats.denied.inc();
    const policy = decision.matchedPolicy ?? 'none';
    return Promise.resolve(localReply(exchange.info, {
      status: 403,
      body: 'RBAC: access denied',
      details: `rbac_access_denied_matched_policy[${policy}]`,
      headers: { [RBAC_POLICY_HEADER]: policy },
      grpc: isGrpcRequest(exchange.request.headers),
    }));
  }
}

/** Merges fields into a metadata namespace, as Envoy's setDynamicMetadata does. */
function addMetadata(exchange: HttpExchange, namespace: string, fields: Record<string, unknown>): void {
  exchange.metadata.set(namespace, { ...exchange.metadata.get(namespace), ...fields });
}
