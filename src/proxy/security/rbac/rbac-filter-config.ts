import type { Problems } from '../../route/problems.ts';
import { compileRbac, type RbacEngine } from './rbac-engine.ts';
import { bool, checkFields, string, type Raw } from './raw-json.ts';

/** The rules of an HTTP or network RBAC filter: each absent when not configured. */
export interface RbacRuleSets {
  /** Enforced: a denial answers 403 (HTTP) or closes the connection (network). */
  readonly rules: RbacEngine | undefined;
  /** Evaluated and counted, never enforced. */
  readonly shadowRules: RbacEngine | undefined;
  readonly shadowRulesStatPrefix: string;
}

const SHARED = ['@type', 'rules', 'matcher', 'shadowRules', 'shadowMatcher', 'shadowRulesStatPrefix', 'trackPerRuleStats'];

/**
 * Reads what the HTTP and network RBAC configs share, reporting problems by field: `@type` (when
 * given) must be `typeUrl`; rules and shadowRules compile; the matcher forms (xDS matcher trees)
 * and per-policy stats are refused. `own` names the message's other fields, which the caller reads.
 */
export function parseRbacRuleSets(config: Raw, typeUrl: string, message: string, own: readonly string[], problems: Problems): RbacRuleSets {
  checkFields(config, [...SHARED, ...own], message, '', problems);
  const type = config['@type'];
  if (type !== undefined && type !== typeUrl) problems.add('@type', `${JSON.stringify(type)} is not ${typeUrl}`);
  for (const field of ['matcher', 'shadowMatcher']) {
    if (config[field] !== undefined) problems.add(field, `is not supported by Weft: use ${field === 'matcher' ? 'rules' : 'shadowRules'} (policies)`);
  }
  if (config['trackPerRuleStats'] !== undefined && bool(config['trackPerRuleStats'], 'trackPerRuleStats', problems) === true) {
    problems.add('trackPerRuleStats', 'is not supported by Weft: it keeps no per-policy stats');
  }
  return {
    rules: config['rules'] === undefined ? undefined : compileRbac(config['rules'], 'rules', problems),
    shadowRules: config['shadowRules'] === undefined ? undefined : compileRbac(config['shadowRules'], 'shadowRules', problems),
    shadowRulesStatPrefix: stringField(config, 'shadowRulesStatPrefix', problems),
  };
}

/** A string field; '' when unset, as proto3 has it. */
export function stringField(config: Raw, field: string, problems: Problems): string {
  return config[field] === undefined ? '' : string(config[field], field, problems) ?? '';
}
