import { err, ok, type Result } from '../../../core/index.ts';
import { Problems } from '../../route/problems.ts';
import { isObject, parseRbacRuleSets, stringField, type RbacRuleSets } from '../../security/rbac/index.ts';

export const RBAC_HTTP_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
export const RBAC_PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute';
/** The name routes key their `typedPerFilterConfig` for this filter by. */
export const RBAC_HTTP_FILTER_NAME = 'envoy.filters.http.rbac';

/** An `envoy.extensions.filters.http.rbac.v3.RBAC`, compiled when LDS (or RDS, for a route's) brings it. */
export interface RbacFilterSettings extends RbacRuleSets {
  /** Prefixes the enforced rules' metadata keys and stats. */
  readonly rulesStatPrefix: string;
}

/** A route's or virtual host's RBACPerRoute: its own settings, or none, which turns the filter off there. */
export class RbacPerRoute {
  readonly settings: RbacFilterSettings | undefined;

  constructor(settings: RbacFilterSettings | undefined) {
    this.settings = settings;
  }
}

type Raw = Readonly<Record<string, unknown>>;

function settings(config: Raw, problems: Problems): RbacFilterSettings {
  const sets = parseRbacRuleSets(config, RBAC_HTTP_TYPE, 'RBAC', ['rulesStatPrefix'], problems);
  return { ...sets, rulesStatPrefix: stringField(config, 'rulesStatPrefix', problems) };
}

/** Parses the filter's own config; every problem is reported, one per line, with its field. */
export function parseRbacFilter(config: Raw): Result<RbacFilterSettings, string> {
  const lines: string[] = [];
  const parsed = settings(config, new Problems('', lines));
  return lines.length > 0 ? err(lines.join('\n')) : ok(parsed);
}

/** Parses an RBACPerRoute: `rbac` replaces the filter's config for the route; without it the filter does nothing there. */
export function parseRbacPerRoute(config: Raw): Result<RbacPerRoute, string> {
  const lines: string[] = [];
  const problems = new Problems('', lines);
  for (const field of Object.keys(config)) {
    if (field !== '@type' && field !== 'rbac') problems.add(field, 'is not a field of RBACPerRoute (rbac)');
  }
  const type = config['@type'];
  if (type !== undefined && type !== RBAC_PER_ROUTE_TYPE) problems.add('@type', `${JSON.stringify(type)} is not ${RBAC_PER_ROUTE_TYPE}`);
  const rbac = config['rbac'];
  let parsed: RbacFilterSettings | undefined;
  if (rbac !== undefined) {
    if (isObject(rbac)) parsed = settings(rbac, problems.withPrefix('rbac.'));
    else problems.add('rbac', 'must be an RBAC object');
  }
  return lines.length > 0 ? err(lines.join('\n')) : ok(new RbacPerRoute(parsed));
}
