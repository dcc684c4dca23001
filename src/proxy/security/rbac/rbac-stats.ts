import type { Counter, StatsScope } from '../../telemetry/stats.ts';

/** Envoy's statPrefixJoin: a non-empty prefix is followed by a dot unless it ends with one. */
export function joinStatPrefix(scope: StatsScope, prefix: string): StatsScope {
  const name = prefix.endsWith('.') ? prefix.slice(0, -1) : prefix;
  return name === '' ? scope : scope.scope(name);
}

/**
 * The RBAC filters' counters, named as Envoy names them under the filter's scope:
 * `rbac.<rules prefix>allowed|denied` and `rbac.<shadow prefix>shadow_allowed|shadow_denied`, each
 * prefix joined with a dot (`rbac.istio_dry_run_allow_.shadow_denied`), as Envoy's stats show.
 */
export class RbacStats {
  readonly allowed: Counter;
  readonly denied: Counter;
  readonly shadowAllowed: Counter;
  readonly shadowDenied: Counter;

  constructor(scope: StatsScope, rulesPrefix: string, shadowPrefix: string) {
    const rbac = scope.scope('rbac');
    const rules = joinStatPrefix(rbac, rulesPrefix);
    const shadow = joinStatPrefix(rbac, shadowPrefix);
    this.allowed = rules.counter('allowed');
    this.denied = rules.counter('denied');
    this.shadowAllowed = shadow.counter('shadow_allowed');
    this.shadowDenied = shadow.counter('shadow_denied');
  }
}
