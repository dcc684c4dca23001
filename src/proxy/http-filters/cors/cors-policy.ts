import { err, ok, type Result } from '../../../core/index.ts';
import type { CorsPolicy, StringMatcher } from '../../../xds/envoy/index.ts';
import { Problems } from '../../route/problems.ts';
import { compileStringMatcher, fraction } from '../../route/route-match.ts';

const FIELDS: ReadonlySet<string> = new Set([
  '@type', 'allowOriginStringMatch', 'allowMethods', 'allowHeaders', 'exposeHeaders', 'maxAge', 'allowCredentials',
  'allowPrivateNetworkAccess', 'filterEnabled', 'shadowEnabled', 'forwardNotMatchingPreflights',
]);

/**
 * A route's (or virtual host's) CORS policy, compiled when RDS arrives: origin matchers built,
 * header values ready to copy into responses. Unset fields stay undefined, as Envoy tells
 * "unset" from "false" (forwardNotMatchingPreflights defaults to true).
 */
export class CompiledCorsPolicy {
  readonly #origins: readonly ((origin: string) => boolean)[];
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly maxAge: string;
  readonly allowCredentials: boolean;
  readonly allowPrivateNetworkAccess: boolean;
  readonly forwardNotMatchingPreflights: boolean;
  /** Share of requests the policy applies to (filterEnabled, 100% when unset). */
  readonly enabledShare: number;

  constructor(init: {
    origins: readonly ((origin: string) => boolean)[]; allowMethods: string; allowHeaders: string; exposeHeaders: string; maxAge: string;
    allowCredentials: boolean; allowPrivateNetworkAccess: boolean; forwardNotMatchingPreflights: boolean; enabledShare: number;
  }) {
    this.#origins = init.origins;
    this.allowMethods = init.allowMethods;
    this.allowHeaders = init.allowHeaders;
    this.exposeHeaders = init.exposeHeaders;
    this.maxAge = init.maxAge;
    this.allowCredentials = init.allowCredentials;
    this.allowPrivateNetworkAccess = init.allowPrivateNetworkAccess;
    this.forwardNotMatchingPreflights = init.forwardNotMatchingPreflights;
    this.enabledShare = init.enabledShare;
  }

  /** Envoy admits an origin when a matcher matches it, or matches `*` (a match-anything pattern). */
  allowsOrigin(origin: string): boolean {
    for (const matches of this.#origins) {
      if (matches('*') || matches(origin)) return true;
    }
    return false;
  }
}

/** Validates and compiles a `CorsPolicy` from `typedPerFilterConfig`; every problem is reported with its field. */
export function parseCorsPolicy(config: Readonly<Record<string, unknown>>): Result<CompiledCorsPolicy, string> {
  const problems = new Problems('');
  for (const field of Object.keys(config)) {
    if (!FIELDS.has(field)) problems.add(field, 'is not a CorsPolicy field');
  }
  const policy = config as Partial<CorsPolicy>;

  const origins: ((origin: string) => boolean)[] = [];
  const matchers = policy.allowOriginStringMatch;
  if (matchers !== undefined && !Array.isArray(matchers)) problems.add('allowOriginStringMatch', 'must be a list of string matchers');
  else {
    (matchers ?? []).forEach((matcher: StringMatcher, i) => {
      if (typeof matcher !== 'object' || matcher === null) {
        problems.add(`allowOriginStringMatch[${i}]`, 'must be a string matcher (exact, prefix, suffix, contains or safeRegex)');
        return;
      }
      const compiled = compileStringMatcher(matcher, `allowOriginStringMatch[${i}]`, problems);
      if (compiled !== undefined) origins.push(compiled);
    });
  }
  const text = (field: 'allowMethods' | 'allowHeaders' | 'exposeHeaders' | 'maxAge'): string => {
    const value = policy[field];
    if (value === undefined) return '';
    if (typeof value !== 'string') {
      problems.add(field, 'must be a string');
      return '';
    }
    return value;
  };
  const flag = (field: 'allowCredentials' | 'allowPrivateNetworkAccess' | 'forwardNotMatchingPreflights', unset: boolean): boolean => {
    const value = policy[field];
    if (value === undefined) return unset;
    if (typeof value !== 'boolean') {
      problems.add(field, 'must be true or false');
      return unset;
    }
    return value;
  };
  const maxAge = text('maxAge');
  if (maxAge !== '' && !/^\d+$/.test(maxAge)) problems.add('maxAge', `"${maxAge}" is not a number of seconds`);
  const enabled = policy.filterEnabled;
  const enabledShare = enabled === undefined ? 1 : fraction(enabled.defaultValue, 'filterEnabled.defaultValue', problems);

  const compiled = new CompiledCorsPolicy({
    origins,
    allowMethods: text('allowMethods'),
    allowHeaders: text('allowHeaders'),
    exposeHeaders: text('exposeHeaders'),
    maxAge,
    allowCredentials: flag('allowCredentials', false),
    allowPrivateNetworkAccess: flag('allowPrivateNetworkAccess', false),
    forwardNotMatchingPreflights: flag('forwardNotMatchingPreflights', true),
    enabledShare,
  });
  return problems.count > 0 ? err(problems.text()) : ok(compiled);
}
