import { err, ok, type Result } from '../../../core/index.ts';
import { Problems } from '../../route/problems.ts';
import { enumValue, parseRbacRuleSets, stringField, type RbacRuleSets } from '../../security/rbac/index.ts';

export const RBAC_NETWORK_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';
/** The filter's name in a filter chain's `filters`. */
export const RBAC_NETWORK_FILTER_NAME = 'envoy.filters.network.rbac';

/** An `envoy.extensions.filters.network.rbac.v3.RBAC`, compiled when LDS brings it. */
export interface RbacNetworkSettings extends RbacRuleSets {
  /** Stats go to `<statPrefix>rbac.*` (joined with a dot unless it ends with one). */
  readonly statPrefix: string;
  /**
   * Envoy checks ONE_TIME_ON_FIRST_BYTE once, on the first byte, and CONTINUOUS on every read;
   * Weft's connection rules cannot change during a connection, so both are checked once, when it is established.
   */
  readonly enforcementType: 'ONE_TIME_ON_FIRST_BYTE' | 'CONTINUOUS';
}

const ENFORCEMENT_TYPES = ['ONE_TIME_ON_FIRST_BYTE', 'CONTINUOUS'] as const;

/** Parses the filter's config; every problem is reported, one per line, with its field. */
export function parseRbacNetworkFilter(config: Readonly<Record<string, unknown>>): Result<RbacNetworkSettings, string> {
  const lines: string[] = [];
  const problems = new Problems('', lines);
  const sets = parseRbacRuleSets(config, RBAC_NETWORK_TYPE, 'network RBAC', ['statPrefix', 'enforcementType', 'delayDeny'], problems);
  const statPrefix = stringField(config, 'statPrefix', problems);
  if (statPrefix === '' && config['statPrefix'] === undefined) problems.add('statPrefix', 'is required (the prefix of the filter\'s stats, e.g. "tcp.")');
  else if (statPrefix === '') problems.add('statPrefix', 'must not be empty');
  const enforcementType = enumValue(config['enforcementType'], ENFORCEMENT_TYPES, 'ONE_TIME_ON_FIRST_BYTE', 'enforcementType', problems);
  if (config['delayDeny'] !== undefined) problems.add('delayDeny', 'is not supported by Weft: a denied connection is closed at once');
  return lines.length > 0 ? err(lines.join('\n')) : ok({ ...sets, statPrefix, enforcementType });
}
